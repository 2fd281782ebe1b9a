//! The `livelake` binary as a user meets it: help, one-line errors, simulate → validate.

use std::process::Command;

use crate::support::livelake_bin;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(livelake_bin()).args(args).env("RUST_LOG", "warn").output().expect("run livelake");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_subcommands() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["simulate", "validate"] {
        assert!(out.contains(sub), "{out}");
        let (code, out, _) = run(&[sub, "--help"]);
        assert_eq!(code, 0, "{sub} --help");
        assert!(out.contains("Usage: livelake "), "{out}");
    }
}

#[test]
fn bad_arguments_get_one_line_and_no_panic() {
    for args in [
        vec!["simulate", "--viewers", "lots"],
        vec!["simulate", "--minutes", "5"],
        vec!["simulate", "--start", "yesterday", "--out", "/dev/null"],
        vec!["simulate", "--burst-region", "MARS", "--out", "/dev/null"],
        vec!["simulate", "--late-share", "2", "--out", "/dev/null"],
        vec!["simulate", "--mean-stay-minutes", "0", "--out", "/dev/null"],
        vec!["simulate", "--ts-rfc3339-share", "NaN", "--out", "/dev/null"],
        vec!["validate", "/no/such/file.ndjson"],
        vec!["frobnicate"],
    ] {
        let (code, out, err) = run(&args);
        assert_ne!(code, 0, "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, got {err:?}");
        assert!(lines[0].starts_with("livelake: error: "), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}");
    }
}

#[test]
fn simulate_then_validate_agree_with_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("show.ndjson");
    let truth = dir.path().join("truth.json");
    let (code, _, err) = run(&[
        "simulate",
        "--seed",
        "9",
        "--viewers",
        "300",
        "--minutes",
        "20",
        "--out",
        nd.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    let totals = &t["totals"];
    let n = |k: &str| totals[k].as_u64().unwrap();
    let lines = std::fs::read(&nd).unwrap().split(|b| *b == b'\n').filter(|l| !l.is_empty()).count() as u64;
    assert_eq!(lines, n("lines"));

    let (code, out, err) = run(&["validate", nd.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let accepted = n("player_events") + n("commerce_events") + n("duplicate_player") + n("duplicate_commerce");
    let malformed: u64 = totals["malformed"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert!(out.starts_with(&format!("{lines} lines: {accepted} accepted, {malformed} rejected")), "{out}");
    // Same seed, same bytes.
    let nd2 = dir.path().join("again.ndjson");
    let (code, _, _) =
        run(&["simulate", "--seed", "9", "--viewers", "300", "--minutes", "20", "-o", nd2.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read(&nd).unwrap(), std::fs::read(&nd2).unwrap());
}
