//! Upgrade path: a lake written by livelake before Delta Lake (its own commit log) is refused
//! with one line naming `livelake lake convert`; converted, a resumed run loses and doubles
//! nothing. The fixture `tests/fixtures/lake_v1` is such a lake: the earlier release's
//! `livelake run` over a simulated show (`simulate --seed 7 --viewers 300 --minutes 20 --spike 0`)
//! from `/tmp/fixture/src/show.ndjson`, killed right after its third commit (open windows,
//! session state, replay positions).

use std::path::Path;
use std::process::Command;

use crate::lake::snapshot;
use crate::support::livelake_bin;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn run(lake: &Path, events: &Path) -> std::process::Output {
    Command::new(livelake_bin())
        .args(["run", "--metrics-listen", "off", "--lake"])
        .arg(lake)
        .arg("--source")
        .arg(format!("file:{}", events.display()))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn a_lake_of_the_earlier_layout_is_refused_then_converted_and_resumes_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let events = src.join("show.ndjson");
    let out = Command::new(livelake_bin())
        .args(["simulate", "--seed", "7", "--viewers", "300", "--minutes", "20", "--spike", "0", "-o"])
        .arg(&events)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The fixture, its source file's path set to this test's copy of the show.
    let lake = dir.path().join("lake");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lake_v1"), &lake);
    for e in std::fs::read_dir(lake.join("_livelake/log")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap().replace("/tmp/fixture/src", &src.display().to_string());
        std::fs::write(&p, text).unwrap();
    }

    let refused = run(&lake, &events);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(err.lines().filter(|l| !l.trim().is_empty()).count(), 1, "one line: {err}");
    assert!(err.contains("livelake lake convert --lake"), "{err}");

    let out = Command::new(livelake_bin()).args(["lake", "convert", "--lake"]).arg(&lake).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("positions of commit 3 kept"), "{said}");
    assert!(!lake.join("_livelake/log").exists());

    let resumed = run(&lake, &events);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let reference = dir.path().join("reference");
    let clean = run(&reference, &events);
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
    let (mut got, want) = (snapshot(&lake), snapshot(&reference));
    // Dead letters name their source (the file's path): the fixture's run read it elsewhere.
    for row in got.get_mut("deadletter").unwrap().iter_mut() {
        *row = row.replace("/tmp/fixture/src", &src.display().to_string());
    }
    got.get_mut("deadletter").unwrap().sort();
    for (table, rows) in &want {
        assert!(!rows.is_empty(), "{table}: rows");
        assert_eq!(got[table].len(), rows.len(), "{table}: row count");
        assert!(got[table] == *rows, "{table}: content differs from an uninterrupted run");
    }
}
