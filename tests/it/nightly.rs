//! `livelake rollup`: a simulated day with late events and duplicates, across midnight, rolled
//! up and held against the simulator's own per-period figures; re-runs; kills mid-run;
//! compaction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use livelake_pipeline::simulate::{PeriodTruths, SimConfig, Simulation, TruthValue, period_truth, simulate};
use livelake_schemas::Decimal4;

use crate::lake::{committed_files, rows, snapshot};
use crate::support::{livelake_bin, ndjson, run_into_lake_with};

/// 2026-11-27T23:35:00Z: the shows run past midnight, so they have two UTC days.
const START_MS: i64 = 1_795_822_500_000;

fn night_show(seed: u64) -> Simulation {
    let cfg = SimConfig {
        viewers: 600,
        duration_min: 50,
        shows: 2,
        start_ms: START_MS,
        late_share: 0.01,
        duplicate_share: 0.02,
        ..SimConfig::new(seed)
    }
    .with_default_pitches()
    .fit_incidents();
    simulate(&cfg)
}

/// The show in a lake written with small commits (many files per partition).
fn lake_of(sim: &Simulation, dir: &Path) -> PathBuf {
    let events = dir.join("show.ndjson");
    std::fs::write(&events, ndjson(sim)).unwrap();
    run_into_lake_with(&events, dir, &[("LIVELAKE__SINK__ROLL_MB", "1")])
}

fn rollup(lake: &Path, args: &[&str], failpoint: Option<&str>) -> Output {
    let env: Vec<(&str, &str)> = failpoint.map(|f| ("LIVELAKE_FAILPOINT", f)).into_iter().collect();
    rollup_with(lake, args, &env)
}

fn rollup_with(lake: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = std::process::Command::new(livelake_bin());
    c.arg("rollup").arg("--lake").arg(lake).args(args).envs(env.iter().copied());
    c.output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "rollup failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Compare one lake value (display text) with the truth.
fn matches(text: &str, want: &TruthValue, col: &str) -> bool {
    // Derived money columns are rounded from a float (aov, gpm, the lost-GMV estimate).
    let derived = matches!(col, "aov_usd" | "gpm_usd" | "lost_gmv_usd_est");
    match want {
        TruthValue::Int(v) => text.parse::<i64>().ok() == Some(*v),
        TruthValue::Float(None) | TruthValue::Money(None) => text == "NULL",
        TruthValue::Float(Some(v)) => {
            // percentile_cont rounds to ~1e-7 relative (see stream_minute.sql); the rest is exact.
            let rel = if col.contains("_ms_p") { 1e-6 } else { 1e-9 };
            text.parse::<f64>().is_ok_and(|x| (x - v).abs() <= rel * v.abs().max(1.0))
        }
        TruthValue::Money(Some(v)) => {
            Decimal4::parse(text).is_ok_and(|x| if derived { (x.0 - v.0).abs() <= 1 } else { x == *v })
        }
    }
}

fn ms_of(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
}

/// Every row of `table` against the truth rows keyed by `key`; every truth row present.
fn check_table(
    lake: &Path,
    table: &str,
    key: impl Fn(&BTreeMap<String, String>) -> Vec<String>,
    truth: &BTreeMap<Vec<String>, &BTreeMap<&'static str, TruthValue>>,
) {
    let got: BTreeMap<Vec<String>, BTreeMap<String, String>> =
        rows(lake, table, &[]).into_iter().map(|r| (key(&r), r)).collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), truth.keys().collect::<Vec<_>>(), "{table}: the same rows");
    let mut checked = 0;
    for (k, want) in truth {
        let row = &got[k];
        for (col, v) in *want {
            let text = &row[*col];
            let good = match (*col, v) {
                ("show_start" | "show_end", TruthValue::Int(ms)) => ms_of(text) == *ms,
                _ => matches(text, v, col),
            };
            assert!(good, "{table} {k:?} {col}: lake {text}, truth {v:?}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{table}: {checked} values checked");
}

pub(crate) fn check_against_truth(lake: &Path, t: &PeriodTruths) {
    let daily = t.daily.iter().map(|((s, r, d), v)| (vec![s.clone(), r.clone(), d.clone()], v)).collect();
    check_table(lake, "stream_daily", |r| vec![r["stream_id"].clone(), r["region"].clone(), r["date"].clone()], &daily);
    let show = t.show.iter().map(|((s, r), v)| (vec![s.clone(), r.clone()], v)).collect();
    check_table(lake, "show_summary", |r| vec![r["stream_id"].clone(), r["region"].clone()], &show);
    let sources = t.sources.iter().map(|((s, src), v)| (vec![s.clone(), src.clone()], v)).collect();
    check_table(lake, "show_sources", |r| vec![r["stream_id"].clone(), r["source"].clone()], &sources);
}

/// Partition directory → content of its committed files, for the rollup tables.
fn rollup_files(lake: &Path) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut out: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for t in ["stream_daily", "show_summary", "show_sources", "show_minute", "show_retention"] {
        for p in committed_files(lake, t) {
            let dir = p.parent().unwrap().strip_prefix(lake).unwrap().display().to_string();
            out.entry(dir).or_default().push(std::fs::read(&p).unwrap());
        }
    }
    out
}

#[test]
fn the_rollup_equals_the_simulators_truth_and_a_rerun_gives_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let sim = night_show(61);
    assert!(sim.truth.totals.delayed_late > 50, "late events to fold in");
    assert!(sim.truth.totals.duplicate_player + sim.truth.totals.duplicate_commerce > 100, "duplicates to remove");
    let lake = lake_of(&sim, dir.path());
    let truth = period_truth(&sim);
    assert_eq!(truth.daily.keys().map(|k| k.2.as_str()).collect::<std::collections::BTreeSet<_>>().len(), 2);

    let out = ok(rollup(&lake, &["--date", "2026-11-27"], None));
    assert!(out.contains("2 show(s)"), "{out}");
    ok(rollup(&lake, &["--date", "2026-11-28"], None));
    check_against_truth(&lake, &truth);

    let first = rollup_files(&lake);
    // The re-run recomputes each show in a group of its own (the first run: both together),
    // with its plans' memory limited to 64 MiB (the first: 1 GiB), and its day is many groups'
    // events: its temporary files are LZ4-compressed (the first run's are not).
    let alone = [("LIVELAKE__ROLLUP__GROUP_EVENTS", "1"), ("LIVELAKE__ROLLUP__MEMORY_MB", "64")];
    ok(rollup_with(&lake, &["--date", "2026-11-27"], &alone));
    ok(rollup_with(&lake, &["--date", "2026-11-28"], &alone));
    assert_eq!(rollup_files(&lake), first, "a re-run, show by show in 64 MiB, writes the same content");
}

#[test]
fn a_killed_rollup_leaves_the_previous_results_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = night_show(62);
    let lake = lake_of(&sim, dir.path());
    let truth = period_truth(&sim);
    let one = sim.streams[0].clone();

    // The previous results: one show only.
    ok(rollup(&lake, &["--date", "2026-11-28", "--stream", &one, "--no-compact"], None));
    let before = rollup_files(&lake);
    let shows_before: Vec<String> =
        rows(&lake, "show_summary", &[]).into_iter().map(|r| r["stream_id"].clone()).collect();
    assert!(shows_before.iter().all(|s| *s == one) && !shows_before.is_empty());

    // The rollups' temporary directories, where this test can see them: their rows split by
    // group (`livelake-rollup-*`) and their plans' spill files (`livelake-spill-*`).
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let env = [("TMPDIR", tmp.to_str().unwrap())];
    let work_dirs = || -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    fn kinds(names: &[String]) -> Vec<&str> {
        let kind = |n: &'_ str| ["rollup", "spill"].into_iter().find(|k| n.starts_with(&format!("livelake-{k}-")));
        names.iter().map(|n| kind(n).unwrap_or(n)).collect()
    }
    let killed_at =
        |failpoint: &str| rollup_with(&lake, &["--date", "2026-11-28"], &[env[0], ("LIVELAKE_FAILPOINT", failpoint)]);

    // Killed before its first commit: nothing changed (its files are in no log).
    let out = killed_at("rollup_before_commit");
    assert!(!out.status.success(), "the failpoint kills the rollup");
    assert_eq!(rollup_files(&lake), before, "the previous results, untouched");
    let left = work_dirs();
    assert_eq!(kinds(&left), ["rollup", "spill"], "the killed rollup left its temporary directories: {left:?}");
    let datafusion = std::fs::read_dir(tmp.join(&left[1])).unwrap().flatten().any(|e| e.path().is_dir());
    assert!(datafusion, "DataFusion's own spill directory is inside the killed rollup's");

    // Killed between the commits of two tables: every partition is whole (old or new), and the
    // next job converges. Each rollup first removes what the killed ones left.
    let out = killed_at("rollup_between_tables");
    assert!(!out.status.success(), "the failpoint kills the rollup");
    for (partition, files) in rollup_files(&lake) {
        assert_eq!(files.len(), 1, "{partition}: one complete file");
    }
    let now = work_dirs();
    assert!(
        kinds(&now) == ["rollup", "spill"] && now != left,
        "the first killed rollup's were removed: {left:?} → {now:?}"
    );
    ok(rollup_with(&lake, &["--date", "2026-11-27"], &env));
    ok(rollup_with(&lake, &["--date", "2026-11-28"], &env));
    assert_eq!(work_dirs(), Vec::<String>::new(), "no temporary directory is left");
    check_against_truth(&lake, &truth);
}

/// Committed Parquet files per partition directory of `table` for `date`.
fn files_per_partition(lake: &Path, table: &str, date: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for p in committed_files(lake, table) {
        let dir = p.parent().unwrap().strip_prefix(lake).unwrap().display().to_string();
        if dir.contains(&format!("date={date}")) {
            *out.entry(dir).or_default() += 1;
        }
    }
    out
}

#[test]
fn compaction_merges_the_days_files_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let sim = night_show(63);
    let lake = lake_of(&sim, dir.path());
    let rows_before = snapshot(&lake);
    let before = files_per_partition(&lake, "player_events", "2026-11-28");
    assert!(before.values().any(|n| *n >= 3), "small commits left several files per partition: {before:?}");
    let other_day = files_per_partition(&lake, "player_events", "2026-11-27");

    let out = ok(rollup(&lake, &["--date", "2026-11-28"], None));
    assert!(out.contains("compacted"), "{out}");
    let after = files_per_partition(&lake, "player_events", "2026-11-28");
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    assert!(after.values().all(|n| *n == 1), "one file per partition: {after:?}");
    assert_eq!(files_per_partition(&lake, "player_events", "2026-11-27"), other_day, "other days untouched");
    for t in ["commerce_events", "stream_minute"] {
        assert!(files_per_partition(&lake, t, "2026-11-28").values().all(|n| *n == 1), "{t}");
    }
    assert_eq!(snapshot(&lake), rows_before, "every row of every table kept, none doubled");

    // The merged-away files stay on disk for time travel until VACUUM's retention has passed
    // (a week by default); with a retention of 0 hours the next rollup's VACUUM deletes them.
    let on_disk = || {
        let mut n = 0;
        let mut stack = vec![lake.join("player_events")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() && !p.ends_with("_delta_log") {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet")
                    && p.to_string_lossy().contains("date=2026-11-28")
                {
                    n += 1;
                }
            }
        }
        n
    };
    let committed: usize = files_per_partition(&lake, "player_events", "2026-11-28").values().sum();
    assert!(on_disk() > committed, "merged-away files kept for time travel");
    let mut c = std::process::Command::new(livelake_bin());
    c.args(["rollup", "--date", "2026-11-28", "--lake"])
        .arg(&lake)
        .env("LIVELAKE__ROLLUP__VACUUM_RETENTION_HOURS", "0");
    let out = ok(c.output().unwrap());
    assert!(out.contains("vacuumed"), "{out}");
    assert_eq!(on_disk(), committed, "VACUUM deleted the files no version needs");
    assert_eq!(snapshot(&lake), rows_before, "and no row");

    // The other day's compaction alone (`livelake compact`), its sort in 32 MiB; its spill
    // directory goes with it.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut c = std::process::Command::new(livelake_bin());
    c.args(["compact", "--date", "2026-11-27", "--lake"])
        .arg(&lake)
        .env("LIVELAKE__ROLLUP__MEMORY_MB", "32")
        .env("TMPDIR", &tmp);
    let out = ok(c.output().unwrap());
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "no spill file or directory is left");
    assert!(out.starts_with("compact 2026-11-27: "), "{out}");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "no spill file or directory is left");
    let merged = files_per_partition(&lake, "player_events", "2026-11-27");
    assert_eq!(merged.keys().collect::<Vec<_>>(), other_day.keys().collect::<Vec<_>>());
    assert!(merged.values().all(|n| *n == 1), "one file per partition: {merged:?}");
    assert_eq!(snapshot(&lake), rows_before, "every row kept");
}
