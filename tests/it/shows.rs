//! `livelake shows import/list`: a plan validated row by row, upserted by `stream_id`, the table
//! replaced in one Delta commit — and a kill before that commit leaves the previous table, whole.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::livelake_bin;

fn shows(lake: &Path, args: &[&str], failpoint: Option<&str>) -> Output {
    let mut c = Command::new(livelake_bin());
    c.arg("shows").args(args).arg("--lake").arg(lake);
    if let Some(f) = failpoint {
        c.env("LIVELAKE_FAILPOINT", f);
    }
    c.output().unwrap()
}

fn plan(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

/// stream_id → title, read by `livelake sql`.
fn titles(lake: &Path) -> Vec<String> {
    titles_as_of(lake, &[])
}

/// [`titles`] with more arguments for `livelake sql` (`--as-of …`).
fn titles_as_of(lake: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new(livelake_bin())
        .args(["sql", "--format", "csv"])
        .args(args)
        .arg("--lake")
        .arg(lake)
        .arg("SELECT stream_id, title FROM shows ORDER BY stream_id")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().skip(1).map(str::to_string).collect()
}

#[test]
fn import_upserts_and_survives_a_kill_at_any_step() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let header = "stream_id,seller_id,title,category,planned_start,target_gmv_usd,target_viewers,max_stall_ratio\n";
    let a = plan(
        dir.path(),
        "a.csv",
        &format!(
            "{header}s1,seller-1,Opening,beauty,2026-11-27T12:00:00Z,5000,3000,0.02\ns2,seller-1,Second,beauty,,,,\n"
        ),
    );
    let out = shows(&lake, &["import", &a], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "shows: 2 new, 0 updated, 2 in the table\n");
    assert_eq!(titles(&lake), ["s1,Opening", "s2,Second"]);

    // Killed after writing its file, before its Delta commit: readers see the previous table; the
    // file is in no log. The next import starts from the previous table.
    let b = plan(dir.path(), "b.csv", "stream_id,title\ns2,Second (new time)\ns3,Third\n");
    let out = shows(&lake, &["import", &b], Some("shows_before_commit"));
    assert!(!out.status.success(), "the failpoint kills the import");
    assert_eq!(titles(&lake), ["s1,Opening", "s2,Second"]);
    assert!(shows(&lake, &["import", &b], None).status.success());
    let c = plan(dir.path(), "c.csv", "stream_id,title\ns4,Fourth\n");
    assert!(shows(&lake, &["import", &c], None).status.success());
    assert_eq!(titles(&lake), ["s1,Opening", "s2,Second (new time)", "s3,Third", "s4,Fourth"]);
    let before_d = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let d = plan(dir.path(), "d.csv", "stream_id,title\ns1,Opening (final)\n");
    assert!(shows(&lake, &["import", &d], None).status.success());
    // Time travel: the table at its first import (version 1), and as it was before the last.
    assert_eq!(titles_as_of(&lake, &["--as-of", "1"]), ["s1,Opening", "s2,Second"]);
    assert_eq!(
        titles_as_of(&lake, &["--as-of", &before_d]),
        ["s1,Opening", "s2,Second (new time)", "s3,Third", "s4,Fourth"]
    );
    assert_eq!(titles_as_of(&lake, &["--as-of", "2020-01-01T00:00:00Z"]), Vec::<String>::new(), "no table yet");
    assert_eq!(titles(&lake), ["s1,Opening (final)", "s2,Second (new time)", "s3,Third", "s4,Fourth"]);
    let files = crate::lake::committed_files(&lake, "shows");
    assert_eq!(files.len(), 1, "one file in the table: {files:?}");

    let list = shows(&lake, &["list", "--format", "csv"], None);
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(text.starts_with("stream_id,seller_id,title,category,planned_start"), "{text}");
    assert!(
        text.contains("s1,seller-1,Opening (final),beauty,2026-11-27T12:00:00Z,5000.0000,3000,0.02"),
        "columns a plan does not name are kept: {text}"
    );
}

#[test]
fn a_bad_plan_names_every_problem_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let bad = plan(dir.path(), "bad.csv", "stream_id,planned_start,max_stall_ratio\ns1,next week,0.5\ns2,,2\n");
    let out = shows(&lake, &["import", &bad], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.csv line 2: planned_start \"next week\" is not an RFC 3339 time"), "{stderr}");
    assert!(stderr.contains("bad.csv line 3: max_stall_ratio \"2\" is not a fraction between 0 and 1"), "{stderr}");
    assert!(stderr.contains("livelake: error: 2 problem(s) in"), "{stderr}");
    assert!(!lake.join("shows").exists(), "nothing imported");
}
