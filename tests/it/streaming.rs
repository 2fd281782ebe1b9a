//! `livelake run` end to end: simulated show → (NDJSON file | real Kafka) → lake, held against
//! the simulator's ground truth; crash recovery at every commit phase; hostile input; a broker
//! bounce mid-run.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use livelake_pipeline::kafka::{KafkaConfig, Pace, Topics, produce_simulation};
use livelake_pipeline::simulate::{SimConfig, Simulation, simulate};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::lake::{assert_all_files_complete, count_rows, rows, snapshot};
use crate::support::{bootstrap, create_topics, kafka_exclusive, kafka_shared, livelake_bin, ndjson, unique};
use crate::truth_check::assert_lake_matches_truth;

fn small_show(seed: u64, shows: usize) -> Simulation {
    let cfg = SimConfig { viewers: 500, duration_min: 30, shows, ..SimConfig::new(seed) }
        .with_default_pitches()
        .fit_incidents();
    simulate(&cfg)
}

fn write_ndjson(sim: &Simulation, path: &Path) {
    std::fs::write(path, ndjson(sim)).unwrap();
}

/// Topics and group of one Kafka test.
struct KafkaRun {
    player: String,
    commerce: String,
    dead: String,
}

impl KafkaRun {
    async fn new(tag: &str) -> KafkaRun {
        KafkaRun::with_partitions(tag, 3).await
    }

    async fn with_partitions(tag: &str, partitions: i32) -> KafkaRun {
        let r = KafkaRun {
            player: unique(&format!("{tag}-player")),
            commerce: unique(&format!("{tag}-commerce")),
            dead: unique(&format!("{tag}-dead")),
        };
        create_topics(&[&r.player, &r.commerce, &r.dead], partitions).await;
        r
    }

    fn topics(&self) -> Topics {
        Topics { player: self.player.clone(), commerce: self.commerce.clone() }
    }

    async fn produce(&self, sim: std::sync::Arc<Simulation>) {
        let topics = self.topics();
        let report = tokio::task::spawn_blocking(move || {
            produce_simulation(&KafkaConfig::new(bootstrap()), &topics, &sim, Pace::Flat, |_, _| {}).unwrap()
        })
        .await
        .unwrap();
        assert_eq!(report.delivered, report.sent);
    }

    /// `livelake run` against these topics, finishing once caught up and idle.
    fn command(&self, lake: impl AsRef<std::ffi::OsStr>, group: &str, extra_env: &[(&str, &str)]) -> Command {
        self.command_idle(lake, group, extra_env, 3)
    }

    fn command_idle(
        &self,
        lake: impl AsRef<std::ffi::OsStr>,
        group: &str,
        extra_env: &[(&str, &str)],
        idle: u32,
    ) -> Command {
        let mut c = Command::new(livelake_bin());
        c.args(["run", "--source", "kafka", "--brokers", &bootstrap(), "--group-id", group])
            .args(["--until-idle", &idle.to_string()])
            .arg("--lake")
            .arg(lake)
            .env("LIVELAKE__KAFKA__PLAYER_TOPIC", &self.player)
            .env("LIVELAKE__KAFKA__COMMERCE_TOPIC", &self.commerce)
            .env("LIVELAKE__KAFKA__DEADLETTER_TOPIC", &self.dead)
            .env("RUST_LOG", "warn");
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.env("LIVELAKE__METRICS__LISTEN", "");
        c
    }
}

/// Run a command to completion off the async runtime's threads.
async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap()
}

fn ok(out: Output, what: &str) -> Output {
    assert!(out.status.success(), "{what} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn file_source_lake_matches_truth() {
    let dir = tempfile::tempdir().unwrap();
    let sim = small_show(31, 2);
    let nd = dir.path().join("show.ndjson");
    write_ndjson(&sim, &nd);
    let lake = dir.path().join("lake");
    let out = Command::new(livelake_bin())
        .args(["run", "--metrics-listen", "off", "--source"])
        .arg(format!("file:{}", nd.display()))
        .arg("--lake")
        .arg(&lake)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    ok(out, "run --source file");
    assert_lake_matches_truth(&lake, &sim.truth);
    assert_all_files_complete(&lake);
    // A second run over the same file finds everything committed and adds nothing.
    let before = snapshot(&lake);
    let out = Command::new(livelake_bin())
        .args(["run", "--metrics-listen", "off", "--source"])
        .arg(format!("file:{}", nd.display()))
        .arg("--lake")
        .arg(&lake)
        .output()
        .unwrap();
    ok(out, "second run");
    assert_eq!(snapshot(&lake), before);
}

/// Decoding on 1 or 4 threads, with a commit running beside the engine after every megabyte of
/// input: the same lake.
#[test]
fn decode_threads_and_background_commits_do_not_change_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let sim = small_show(61, 3);
    let events = dir.path().join("events.ndjson");
    write_ndjson(&sim, &events);
    let mut lakes = Vec::new();
    for threads in ["1", "4"] {
        let d = dir.path().join(format!("threads-{threads}"));
        std::fs::create_dir_all(&d).unwrap();
        let env = [("LIVELAKE__RUN__THREADS", threads), ("LIVELAKE__SINK__ROLL_MB", "1")];
        lakes.push(crate::support::run_into_lake_with(&events, &d, &env));
    }
    let versions = std::fs::read_dir(lakes[1].join("player_events/_delta_log")).unwrap().count();
    assert!(versions > 3, "several commits, each overlapping processing: {versions}");
    let one = snapshot(&lakes[0]);
    assert!(one["player_events"].len() > 10_000, "a real show");
    assert_eq!(one, snapshot(&lakes[1]), "1 thread vs 4");
}

/// The same topics read with 1 thread and no pauses, and with 4 threads while partitions that
/// run ahead in event time are paused (a skew of 1 s: many pauses and resumes): the same lake,
/// every table, and the truth of the show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_threads_and_partition_pauses_do_not_change_the_lake() {
    let _shared = kafka_shared().await;
    let k = KafkaRun::new("align").await;
    let sim = std::sync::Arc::new(small_show(62, 3));
    k.produce(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut lakes = Vec::new();
    for (threads, skew) in [("1", "0"), ("4", "1")] {
        let lake = dir.path().join(format!("t{threads}-skew{skew}"));
        let env = [
            ("LIVELAKE__RUN__THREADS", threads),
            ("LIVELAKE__SOURCE__MAX_SKEW_SECS", skew),
            ("LIVELAKE__SINK__ROLL_MB", "1"),
            ("RUST_LOG", "warn,livelake_pipeline::run=debug"),
        ];
        let out = ok(output(k.command(&lake, &unique("align-group"), &env)).await, "run --source kafka");
        let log = String::from_utf8_lossy(&out.stderr);
        let paused = log.contains("pausing partitions ahead in event time");
        assert_eq!(paused, skew != "0", "pauses only with a skew limit:\n{log}");
        lakes.push(lake);
    }
    let one = snapshot(&lakes[0]);
    assert!(one["player_events"].len() > 10_000, "a real show");
    assert_eq!(one, snapshot(&lakes[1]), "1 thread without pauses vs 4 threads with them");
    assert_lake_matches_truth(&lakes[1], &sim.truth);
}

/// A partition paused for running ahead in event time resumes once the partitions it waited for
/// are caught up, even though no message arrives any more: a 6-minute show on partition 0 of both
/// topics and a 30-minute show on partition 1 — the 30-minute show's partitions run ahead of the
/// finished ones (a skew of 5 s) and must not wait for them forever. The lake equals a run without
/// pauses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_paused_ahead_resume_when_the_slowest_has_finished() {
    let _shared = kafka_shared().await;
    let k = KafkaRun::with_partitions("ahead", 2).await;
    let show = |seed: u64, minutes: i64, viewers: usize| {
        let cfg =
            SimConfig { viewers, duration_min: minutes, ..SimConfig::new(seed) }.with_default_pitches().fit_incidents();
        simulate(&cfg)
    };
    // A small local queue, so that sending waits for room every run (as it did on a slow CI box).
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("queue.buffering.max.messages", "10000")
        .create()
        .unwrap();
    for (partition, sim) in [(0, show(81, 6, 300)), (1, show(82, 30, 3000))] {
        for line in &sim.lines {
            let topic = k.topics().of(line.family).to_string();
            let mut record = BaseRecord::to(&topic).partition(partition).key(&sim.streams[0]).payload(&line.bytes[..]);
            while let Err((e, r)) = producer.send(record) {
                assert!(matches!(e, KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)), "{e}");
                record = r;
                producer.poll(Duration::from_millis(50));
            }
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut lakes = Vec::new();
    for skew in ["0", "5"] {
        let lake = dir.path().join(format!("skew{skew}"));
        let env = [("LIVELAKE__SOURCE__MAX_SKEW_SECS", skew), ("RUST_LOG", "warn,livelake_pipeline::run=debug")];
        let mut child = k
            .command(&lake, &unique("ahead-group"), &env)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let stalled = child.try_wait().unwrap().is_none();
        if stalled {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(!stalled, "skew {skew}: the run never caught up (partitions left paused):\n{log}");
        assert!(out.status.success(), "skew {skew}: {log}");
        assert_eq!(log.contains("pausing partitions ahead in event time"), skew != "0", "{log}");
        lakes.push(lake);
    }
    let without = snapshot(&lakes[0]);
    assert!(without["player_events"].len() > 3_000, "two real shows");
    assert_eq!(without, snapshot(&lakes[1]), "the lake without pauses vs with them");
}

#[test]
fn a_commit_log_whose_positions_go_back_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let nd = dir.path().join("show.ndjson");
    write_ndjson(&small_show(36, 1), &nd);
    let lake = crate::support::run_into_lake_with(&nd, dir.path(), &[("LIVELAKE__SINK__ROLL_MB", "1")]);
    let records = crate::support::commit_records(&lake);
    assert!(records.len() >= 2, "the run made {} commits", records.len());
    // What a livelake with the replay-commit bug wrote: the latest record puts the file's
    // position back to line 3, behind the previous record's.
    let read = |p: &PathBuf| -> serde_json::Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let held = read(&records[records.len() - 2])["checkpoint"]["partitions"][0]["next_offset"].as_i64().unwrap();
    let latest = records.last().unwrap();
    let mut rec = read(latest);
    let part = &mut rec["checkpoint"]["partitions"][0];
    part["next_offset"] = 3.into();
    part["replay_from"] = 3.into();
    std::fs::write(latest, serde_json::to_vec(&rec).unwrap()).unwrap();
    let before = snapshot(&lake);
    let out = Command::new(livelake_bin())
        .args(["run", "--metrics-listen", "off", "--lake"])
        .arg(&lake)
        .arg("--source")
        .arg(format!("file:{}", nd.display()))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "refused");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("livelake: error: commit log "), "{err}");
    let seq: u64 = latest.file_stem().unwrap().to_string_lossy().parse().unwrap();
    assert!(lines[0].contains(&format!("commit {seq} goes back from commit {}", seq - 1)), "{err}");
    assert!(lines[0].contains(&format!("moves its next offset back from {held} to 3")), "{err}");
    assert_eq!(snapshot(&lake), before, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_lake_matches_truth_and_dead_letters_reach_the_topic() {
    let _shared = kafka_shared().await;
    let k = KafkaRun::new("e2e").await;
    let sim = std::sync::Arc::new(small_show(32, 3));
    k.produce(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let group = unique("e2e-group");
    // First a long-running pipeline: scrape /metrics, then SIGTERM it after its first commit; it
    // must flush, commit and exit 0. The second run picks up from there and finishes.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = k.command_idle(&lake, &group, &[("LIVELAKE__SINK__ROLL_MB", "1")], 0);
    c.args(["--metrics-listen", &format!("127.0.0.1:{port}")]);
    c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::support::commit_records(&lake).is_empty() {
        assert!(Instant::now() < deadline, "no commit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The commit record is on disk before the run accounts for the commit, and the lag gauge
    // first appears with the first lag query (every 2 s): scrape until every series is there.
    let names = [
        "livelake_events_in_total{topic=",
        "livelake_commits_total",
        "livelake_consumer_lag{",
        "livelake_dead_lettered_total",
    ];
    loop {
        let metrics = crate::support::http_get(port, "/metrics");
        let missing = names.iter().find(|n| !metrics.contains(*n));
        let counted = !metrics.contains("livelake_commits_total 0\n");
        if missing.is_none() && counted {
            break;
        }
        assert!(Instant::now() < deadline, "/metrics lacks {missing:?} (commit counted: {counted}):\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(crate::support::http_get(port, "/healthz"), "ok\n");
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "SIGTERM ends the run cleanly: {status}");
    let out = output(k.command(&lake, &group, &[])).await;
    ok(out, "run --source kafka");
    assert_lake_matches_truth(&lake, &sim.truth);

    // Dead letters went to the topic too, with their reason header.
    let malformed: u64 = sim.truth.totals.malformed.values().sum();
    let reasons = crate::support::consume_headers(&k.dead, malformed as usize, "livelake.reason").await;
    let mut by_reason = std::collections::BTreeMap::new();
    for r in reasons {
        *by_reason.entry(r).or_insert(0u64) += 1;
    }
    assert_eq!(by_reason, sim.truth.totals.malformed);
}

/// Crash points of the commit protocol (see sink/lake.rs) and the hit to die at.
const CRASHES: &[&str] =
    &["stage_mid_write:3", "after_stage:2", "after_log:3", "mid_publish:2", "after_publish:4", "after_kafka_commit:2"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_commit_phase_loses_and_duplicates_nothing() {
    sigkill_at_every_commit_phase(false).await;
}

/// The same against a lake on the S3-compatible server: commits by conditional writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_commit_phase_on_s3_loses_and_duplicates_nothing() {
    sigkill_at_every_commit_phase(true).await;
}

/// Where a test lake lives: its `--lake` argument and the folder its files can be read from
/// (the same on local disk; the S3 server's backing folder on S3).
fn test_lake(dir: &Path, name: &str, on_s3: bool) -> (String, PathBuf) {
    if on_s3 {
        let l = crate::support::s3_lake(name);
        (l.url, l.files)
    } else {
        let p = dir.join(name);
        (p.display().to_string(), p)
    }
}

async fn sigkill_at_every_commit_phase(on_s3: bool) {
    let _shared = kafka_shared().await;
    let k = KafkaRun::new("crash").await;
    let sim = std::sync::Arc::new(small_show(33, 2));
    k.produce(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // Small commits, so the run has many commit phases to die in.
    let env = [("LIVELAKE__SINK__ROLL_MB", "1"), ("LIVELAKE__SOURCE__BATCH_MAX", "2000")];
    let (reference, reference_files) = test_lake(dir.path(), "reference", on_s3);
    let out = output(k.command(&reference, &unique("crash-ref"), &env)).await;
    ok(out, "uninterrupted run");
    let want = snapshot(&reference_files);
    assert_lake_matches_truth(&reference_files, &sim.truth);
    let commits = crate::support::commit_records(&reference_files).len();
    assert!(commits >= 5, "the reference run made {commits} commits");

    let mut cases: Vec<(String, Option<String>)> =
        CRASHES.iter().map(|c| (c.to_string(), Some(c.to_string()))).collect();
    cases.push(("external SIGKILL after 1.5 s".into(), None));
    for (name, failpoint) in cases {
        let (lake, files) = test_lake(dir.path(), &name.replace([':', ' ', '.'], "_"), on_s3);
        let group = unique("crash");
        let mut env: Vec<(&str, &str)> = env.to_vec();
        if let Some(fp) = &failpoint {
            env.push(("LIVELAKE_FAILPOINT", fp));
        }
        let mut c = k.command(&lake, &group, &env);
        let status = tokio::task::spawn_blocking(move || {
            let mut child = c.spawn().unwrap();
            if failpoint.is_none() {
                std::thread::sleep(Duration::from_millis(1500));
                let _ = Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
            }
            child.wait().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(status.signal(), Some(9), "{name}: the run was SIGKILLed ({status})");
        let out = output(k.command(&lake, &group, &[("LIVELAKE__SINK__ROLL_MB", "1")])).await;
        ok(out, &format!("recovery after {name}"));
        assert_all_files_complete(&files);
        let got = snapshot(&files);
        for (table, rows) in &want {
            assert_eq!(got[table].len(), rows.len(), "{name}: {table} row count");
            assert!(got[table] == *rows, "{name}: {table} content differs from the uninterrupted run");
        }
    }
}

fn hostile_messages() -> Vec<(Vec<u8>, Option<&'static str>)> {
    let ev = |extra: &str| {
        format!(
            r#"{{"event_id":"h-{}","type":"heartbeat","ts":1795780800000,"stream_id":"hostile","session_id":"s1","region":"EU","play_ms":1000{extra}}}"#,
            extra.len()
        )
    };
    let dup = r#"{"event_id":"dup-1","type":"like","ts":1795780801000,"stream_id":"hostile","session_id":"s1","region":"EU"}"#;
    vec![
        (br#"{"event_id":"t1","type":"heart"#.to_vec(), Some("invalid_json")),
        (ev("").replace("1000", "\"1000\"").into_bytes(), Some("wrong_type:play_ms")),
        (ev("").replace("1000", "NaN").into_bytes(), Some("invalid_json")),
        (ev("").replace("1000", "Infinity").into_bytes(), Some("invalid_json")),
        (ev("").replace("\"play_ms\":1000", "\"play_ms\":1e999").into_bytes(), Some("wrong_type:play_ms")),
        (ev(&format!(r#","cdn":"{}""#, "x".repeat(70_000))).into_bytes(), Some("too_large")),
        (ev(&format!(r#","platform":"{}""#, "p".repeat(5_000))).into_bytes(), Some("out_of_range:platform")),
        (ev("").replace("1795780800000", "\"9999-12-31T23:59:59Z\"").into_bytes(), Some("bad_timestamp")),
        (ev("").replace("1795780800000", "946684799000").into_bytes(), Some("bad_timestamp")),
        (ev("").replace("\"EU\"", "\"../../etc\"").into_bytes(), Some("bad_region")),
        (ev("").replace("\"EU\"", "\"EU/../../x\"").into_bytes(), Some("bad_region")),
        (Vec::new(), Some("invalid_json")),
        (b"\xff\xfe{\"a\":1}".to_vec(), Some("invalid_utf8")),
        (b"[]".to_vec(), Some("not_object")),
        (b"null".to_vec(), Some("not_object")),
        (dup.as_bytes().to_vec(), None),
        (dup.as_bytes().to_vec(), None),
        (ev("").into_bytes(), None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_dead_lettered_with_reasons_and_stays_inside_the_lake() {
    hostile_input(false).await;
}

/// The same into a lake on the S3-compatible server: region values never become keys outside
/// the lake's prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_on_s3_stays_inside_the_lake() {
    hostile_input(true).await;
}

async fn hostile_input(on_s3: bool) {
    let _shared = kafka_shared().await;
    let k = KafkaRun::new("hostile").await;
    let msgs = hostile_messages();
    {
        let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().unwrap();
        for (payload, _) in &msgs {
            producer.send(BaseRecord::to(&k.player).key("hostile").payload(&payload[..])).unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (lake_arg, lake) = test_lake(dir.path(), "lake", on_s3);
    let out = output(k.command(&lake_arg, &unique("hostile"), &[])).await;
    ok(out, "run on hostile input");
    let mut want: Vec<String> = msgs.iter().filter_map(|(_, r)| r.map(String::from)).collect();
    want.sort();
    let dead = rows(&lake, "deadletter", &["received_at", "payload"]);
    let mut got: Vec<String> = dead.iter().map(|r| r["reason"].clone()).collect();
    got.sort();
    assert_eq!(got, want);
    assert!(dead.iter().all(|r| r["region"] == "UNKNOWN" || r["region"] == "EU"), "partition values are safe");
    // The duplicate was stored once; the valid heartbeat once.
    assert_eq!(count_rows(&lake, "commerce_events"), 1);
    assert_eq!(count_rows(&lake, "player_events"), 1);
    // Nothing outside the lake root.
    if !on_s3 {
        let entries: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(entries, vec!["lake".to_string()]);
    }
    let mut tables: Vec<String> =
        std::fs::read_dir(&lake).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    tables.sort();
    assert_eq!(tables, ["_livelake", "commerce_events", "deadletter", "player_events", "stream_minute"]);
    assert_all_files_complete(&lake);
}

/// `--until-idle` finishes only once every partition of the topics is assigned to the run and
/// caught up. Here another member of the run's consumer group holds some partitions (as a
/// crashed run's member does until its session times out): the run reads its share, waits, and
/// takes the rest when that member leaves; a window closes meanwhile only with all its events
/// (a stream's windows wait for the partitions of its number, which the other member may hold),
/// and the lake equals an uninterrupted run's. (Finishing on its share alone closed every window
/// without the other partitions' events; so did reading it, once its partitions were caught up.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_idle_waits_for_partitions_another_group_member_holds() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let _shared = kafka_shared().await;
    let k = KafkaRun::new("share").await;
    let sim = std::sync::Arc::new(small_show(34, 3));
    k.produce(sim.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    ok(output(k.command(&reference, &unique("share-ref"), &[])).await, "uninterrupted run");
    let want = snapshot(&reference);

    // The other member: joins the group first (all six partitions), never commits, keeps polling
    // so that it takes part in the rebalance when the run joins, and leaves when told to.
    let group = unique("share");
    let holder: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "10000")
        .create()
        .unwrap();
    holder.subscribe(&[&k.player, &k.commerce]).unwrap();
    let leave = std::sync::Arc::new(AtomicBool::new(false));
    let held = std::sync::Arc::new(AtomicUsize::new(0));
    let holding = {
        let (leave, held) = (leave.clone(), held.clone());
        std::thread::spawn(move || {
            while !leave.load(Ordering::Relaxed) {
                let _ = holder.poll(Duration::from_millis(100));
                held.store(holder.assignment().map(|a| a.count()).unwrap_or(0), Ordering::Relaxed);
            }
            holder.unsubscribe();
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while held.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "the other member got no partitions");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lake = dir.path().join("lake");
    let env = [("RUST_LOG", "livelake_pipeline=info"), ("NO_COLOR", "1"), ("LIVELAKE__SINK__ROLL_SECS", "1")];
    let mut c = k.command(&lake, &group, &env);
    let log = dir.path().join("run.log");
    c.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
    let mut child = c.spawn().unwrap();
    // Long past `--until-idle 3` on its own share: the run must still be waiting.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let finished_early = child.try_wait().unwrap();
    let shared_with_run = held.load(Ordering::Relaxed);
    // It commits its share every second; the windows of streams on partitions it does not hold
    // stay open, so every row it committed meanwhile is already the uninterrupted run's.
    let meanwhile =
        if lake.join("stream_minute").exists() { snapshot(&lake)["stream_minute"].clone() } else { Vec::new() };
    leave.store(true, Ordering::Relaxed);
    holding.join().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let err = std::fs::read_to_string(&log).unwrap();
    assert!((1..6).contains(&shared_with_run), "the other member held some of the 6 partitions: {shared_with_run}");
    assert!(
        finished_early.is_none(),
        "the run finished while another member held partitions: {finished_early:?}\n{err}"
    );
    assert!(status.success(), "run failed: {status}\n{err}");
    assert!(err.contains("waiting for the group to assign the others"), "{err}");
    let wrong: Vec<&String> = meanwhile.iter().filter(|r| !want["stream_minute"].contains(r)).collect();
    assert!(wrong.is_empty(), "windows closed without the other member's partitions: {wrong:?}\n{err}");
    let got = snapshot(&lake);
    for (table, rows) in &want {
        assert_eq!(got[table].len(), rows.len(), "{table} row count");
        assert!(got[table] == *rows, "{table} content differs from the uninterrupted run");
    }
}

/// `livelake run` appending to a day while `livelake rollup` compacts that day and rolls it up:
/// both succeed (a compaction's removes are `dataChange: false`, so the append does not conflict,
/// and the files it adds meanwhile stay); the streaming tables then equal the simulator's truth,
/// and a rollup after the show equals the truth of the rollup tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_rollup_on_the_same_day_both_succeed() {
    let _shared = kafka_shared().await;
    let k = KafkaRun::new("concurrent").await;
    let cfg = SimConfig { viewers: 400, duration_min: 30, shows: 2, ..SimConfig::new(37) }
        .with_default_pitches()
        .fit_incidents();
    let sim = simulate(&cfg);
    let parts: Vec<std::sync::Arc<Simulation>> = sim
        .lines
        .chunks(sim.lines.len().div_ceil(4))
        .map(|lines| {
            let streams = sim.streams.clone();
            std::sync::Arc::new(Simulation { streams, lines: lines.to_vec(), truth: Default::default() })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let mut parts = parts.into_iter();
    k.produce(parts.next().unwrap()).await;
    // Commits every second; finishes once caught up and quiet for 15 s (after the last part;
    // a rollup of a loaded machine, between two parts, took more than 8 s).
    let env = [("LIVELAKE__SINK__ROLL_SECS", "1"), ("LIVELAKE__SOURCE__BATCH_MAX", "2000")];
    let mut c = k.command_idle(&lake, &unique("concurrent"), &env, 15);
    let log = dir.path().join("run.log");
    c.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
    let run_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::support::commit_records(&lake).is_empty() {
        assert!(Instant::now() < deadline, "no commits");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut rollups = 0;
    for part in parts {
        // A rollup with compaction of the day while the run appends to it.
        let rollup = {
            let lake = lake.clone();
            tokio::task::spawn_blocking(move || {
                Command::new(livelake_bin())
                    .args(["rollup", "--date", "2026-11-27", "--lake"])
                    .arg(&lake)
                    .env("RUST_LOG", "warn")
                    .output()
                    .unwrap()
            })
        };
        k.produce(part).await;
        let out = rollup.await.unwrap();
        assert!(out.status.success(), "rollup beside the run: {}", String::from_utf8_lossy(&out.stderr));
        assert!(child.try_wait().unwrap().is_none(), "the run goes on:\n{}", run_log());
        rollups += 1;
    }
    assert_eq!(rollups, 3);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "the run: {status}\n{}", run_log());
    assert_lake_matches_truth(&lake, &sim.truth);
    let out =
        Command::new(livelake_bin()).args(["rollup", "--date", "2026-11-27", "--lake"]).arg(&lake).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    crate::nightly::check_against_truth(&lake, &livelake_pipeline::simulate::period_truth(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_bounce_mid_run_loses_nothing() {
    broker_bounce(false).await;
}

/// The same with the lake on the S3-compatible server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_bounce_mid_run_on_s3_loses_nothing() {
    broker_bounce(true).await;
}

async fn broker_bounce(on_s3: bool) {
    let _exclusive = kafka_exclusive().await;
    let k = KafkaRun::new("bounce").await;
    let sim = small_show(34, 1);
    let half = sim.lines.len() / 2;
    let first =
        Simulation { streams: sim.streams.clone(), lines: sim.lines[..half].to_vec(), truth: Default::default() };
    let second =
        Simulation { streams: sim.streams.clone(), lines: sim.lines[half..].to_vec(), truth: Default::default() };
    k.produce(std::sync::Arc::new(first)).await;
    let dir = tempfile::tempdir().unwrap();
    let (lake_arg, lake) = test_lake(dir.path(), "lake", on_s3);
    let mut c = k.command_idle(&lake_arg, &unique("bounce"), &[("LIVELAKE__SINK__ROLL_SECS", "1")], 10);
    let log = std::fs::File::create(dir.path().join("run.log")).unwrap();
    c.stdout(std::process::Stdio::piped()).stderr(log);
    let child = c.spawn().unwrap();
    // Wait until the pipeline has committed something, then take the broker away for 20 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::support::commit_records(&lake).is_empty() {
        assert!(Instant::now() < deadline, "no commit before the bounce");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    crate::support::broker("down");
    tokio::time::sleep(Duration::from_secs(20)).await;
    crate::support::broker("up");
    k.produce(std::sync::Arc::new(second)).await;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(
        out.status.success(),
        "run across the bounce: {}\n{}",
        out.status,
        std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default()
    );
    let checked = std::panic::catch_unwind(|| assert_lake_matches_truth(&lake, &sim.truth));
    if let Err(e) = checked {
        eprintln!("run log:\n{}", std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default());
        std::panic::resume_unwind(e);
    }
}

/// What the log of one `livelake run` says about replay (RUST_LOG=info).
#[derive(Debug, Default, Clone, Copy)]
struct ReplayLog {
    /// The consumer was assigned its partitions.
    assigned: bool,
    /// Partitions the run had to replay when it resumed from the lake.
    to_replay: usize,
    /// Partitions that finished their replay.
    done: usize,
    /// Lake commits made while some partition was still replaying.
    commits_while_replaying: usize,
}

impl ReplayLog {
    fn read(path: &Path) -> ReplayLog {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let field = |line: &str, name: &str| -> usize {
            line.split_whitespace().find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok()).unwrap_or(0)
        };
        let mut log = ReplayLog::default();
        for line in text.lines() {
            if line.contains("partitions assigned") {
                // The partitions still replaying after this assignment (slots taken from the lake).
                log.to_replay = field(line, "replaying");
                log.done = 0;
            } else if line.contains("assigned at the lake's resume points") {
                log.assigned = true;
            } else if line.contains("replay done") || line.contains("replay ended early") {
                log.done += 1;
            } else if line.contains("lake commit") && field(line, "replaying") > 0 {
                log.commits_while_replaying += 1;
            }
        }
        log
    }

    fn replaying(&self) -> bool {
        self.done < self.to_replay
    }
}

/// When a crash test kills `livelake run`.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// After a random delay.
    Random(Duration),
    /// This long after the consumer was assigned its partitions: mostly mid-replay.
    IntoReplay(Duration),
    /// This long after a commit made while partitions replay (or the end of the replay).
    AfterReplayCommit(Duration),
}

impl KillAt {
    /// The `i`-th kill's moment: the three kinds in turn (the first run has nothing to replay),
    /// each after a seeded random delay. Past the planned kills (`extra`) only the kinds still
    /// missing (`hit`: two kills mid-replay, one after a commit made while partitions replay) are
    /// picked — how often those moments come depends on the machine's load.
    fn pick(rng: &mut livelake_pipeline::simulate::Rng, i: usize, extra: bool, hit: (bool, bool)) -> KillAt {
        let ms = |rng: &mut livelake_pipeline::simulate::Rng, lo, hi| Duration::from_millis(rng.range(lo, hi) as u64);
        let (hit_replay, hit_commit) = hit;
        let kind = match (extra, hit_replay, hit_commit) {
            (true, false, _) => 1,
            (true, true, false) => 2,
            _ => i % 3,
        };
        match kind {
            0 => KillAt::Random(ms(rng, 300, 3_000)),
            // An extra kill lands right after the assignment: its replay has begun, not ended.
            1 if extra => KillAt::IntoReplay(ms(rng, 0, 50)),
            1 => KillAt::IntoReplay(ms(rng, 0, 600)),
            _ => KillAt::AfterReplayCommit(ms(rng, 0, 150)),
        }
    }

    /// Wait for the moment (reading the run's log), at most 30 s.
    fn wait(self, log: &Path) {
        let started = Instant::now();
        let until = |done: &dyn Fn(&ReplayLog) -> bool| {
            while started.elapsed() < Duration::from_secs(30) && !done(&ReplayLog::read(log)) {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        match self {
            KillAt::Random(d) => std::thread::sleep(d),
            KillAt::IntoReplay(d) => {
                until(&|l| l.assigned);
                std::thread::sleep(d);
            }
            KillAt::AfterReplayCommit(d) => {
                until(&|l| l.commits_while_replaying > 0 || (l.assigned && !l.replaying()));
                std::thread::sleep(d);
            }
        }
    }
}

/// Partitions with messages in the lake's latest commit records (one per slot).
fn busy_partitions(lake: &Path) -> usize {
    let latest = crate::support::latest_records(lake);
    assert!(!latest.is_empty(), "a commit record");
    latest
        .iter()
        .map(|r| {
            let rec: serde_json::Value = serde_json::from_slice(&std::fs::read(r).unwrap()).unwrap();
            rec["checkpoint"]["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["next_offset"].as_i64() > Some(0))
                .count()
        })
        .sum()
}

/// The crash test the hard way: a show of six streams on 3 partitions per topic (four, one and
/// one), a commit every MiB or second, then `livelake run` SIGKILLed at least twelve times in a
/// row at seeded random moments — after random delays, into the replay, and right after commits
/// made while partitions replay (more kills of the missing kinds, up to 20, until at least two
/// landed mid-replay and one came after such a commit) — and a final run. Every table equals an
/// uninterrupted run's, and no event is stored twice. `LIVELAKE_CRASH_SEED=N` replays a sequence
/// (the seed is printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sigkills_at_random_moments_equal_an_uninterrupted_run() {
    repeated_sigkills(false).await;
}

/// The same against a lake on the S3-compatible server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sigkills_on_s3_equal_an_uninterrupted_run() {
    repeated_sigkills(true).await;
}

async fn repeated_sigkills(on_s3: bool) {
    const KILLS: usize = 12;
    // The show is produced in this many parts, one before each run: the kills past `KILLS` find
    // new messages too (a run with none to commit cannot commit while replaying).
    const PARTS: usize = 16;
    const MAX_KILLS: usize = 20;
    let _shared = kafka_shared().await;
    let seed: u64 = std::env::var("LIVELAKE_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 % 1_000_000
    });
    println!("repeated_sigkills: LIVELAKE_CRASH_SEED={seed}");
    let mut rng = livelake_pipeline::simulate::Rng::new(seed);
    let k = KafkaRun::new("storm").await;
    // Seed 30: the six stream ids hash four to partition 0 and one each to partitions 1 and 2, so
    // partition 0 replays longest while the others deliver new rows.
    let cfg = SimConfig { viewers: 1000, duration_min: 30, shows: 6, ..SimConfig::new(30) }
        .with_default_pitches()
        .fit_incidents();
    let sim = simulate(&cfg);
    // The show goes on while the runs crash: a part of it is produced before each run (the rest
    // after the last kill), so every restart finds new messages on every partition.
    let chunk = sim.lines.len().div_ceil(PARTS);
    let parts: Vec<std::sync::Arc<Simulation>> = sim
        .lines
        .chunks(chunk)
        .map(|lines| {
            let streams = sim.streams.clone();
            std::sync::Arc::new(Simulation { streams, lines: lines.to_vec(), truth: Default::default() })
        })
        .collect();
    let mut unproduced = parts.into_iter();
    let dir = tempfile::tempdir().unwrap();
    // A dedup horizon longer than the show: every restart replays all it has read so far, so
    // replays are long, and the partitions that finish first commit new rows meanwhile.
    let env = [
        ("LIVELAKE__SINK__ROLL_MB", "1"),
        ("LIVELAKE__SINK__ROLL_SECS", "1"),
        ("LIVELAKE__WINDOWS__DEDUP_HORIZON_SECS", "3600"),
        ("LIVELAKE__SOURCE__BATCH_MAX", "2000"),
        ("RUST_LOG", "livelake_pipeline=info"),
        ("NO_COLOR", "1"),
    ];
    let (lake, lake_files) = test_lake(dir.path(), "crash", on_s3);
    let mut group = unique("storm");
    let (mut during_replay, mut commits_while_replaying) = (0, 0);
    for i in 0..MAX_KILLS {
        if i >= KILLS && during_replay >= 2 && commits_while_replaying >= 1 {
            break;
        }
        if let Some(part) = unproduced.next() {
            k.produce(part).await;
        }
        // Mostly a new consumer group (assigned at once); now and then the same group, whose dead
        // member must time out first, as after a real crash.
        if rng.chance(0.75) {
            group = unique("storm");
        }
        let at = KillAt::pick(&mut rng, i, i >= KILLS, (during_replay >= 2, commits_while_replaying >= 1));
        let log_path = dir.path().join(format!("kill-{i}.log"));
        let mut c = k.command_idle(&lake, &group, &env, 0);
        c.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log_path).unwrap());
        let log = log_path.clone();
        let status = tokio::task::spawn_blocking(move || {
            let mut child = c.spawn().unwrap();
            at.wait(&log);
            let _ = Command::new("kill").args(["-KILL", &child.id().to_string()]).status();
            child.wait().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(status.signal(), Some(9), "kill {i}: the run was SIGKILLed ({status})");
        let log = ReplayLog::read(&log_path);
        during_replay += usize::from(log.replaying());
        commits_while_replaying += log.commits_while_replaying;
        println!("repeated_sigkills: kill {i} {at:?}: {log:?}");
    }
    for part in unproduced {
        k.produce(part).await;
    }
    ok(output(k.command(&lake, &group, &env)).await, "final run");
    assert_all_files_complete(&lake_files);
    let got = snapshot(&lake_files);
    // The uninterrupted run reads the same messages in the same per-partition order.
    let (reference, reference_files) = test_lake(dir.path(), "reference", on_s3);
    ok(output(k.command(&reference, &unique("storm-ref"), &env)).await, "uninterrupted run");
    assert_eq!(busy_partitions(&reference_files), 6, "every partition of both topics carries events");
    let want = snapshot(&reference_files);
    for (table, rows) in &want {
        assert_eq!(got[table].len(), rows.len(), "seed {seed}: {table} row count");
        assert!(got[table] == *rows, "seed {seed}: {table} differs from the uninterrupted run");
    }
    for table in ["player_events", "commerce_events"] {
        let ids: Vec<String> = rows(&lake_files, table, &[]).into_iter().map(|r| r["event_id"].clone()).collect();
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(ids.len(), distinct.len(), "seed {seed}: {table} count(*) = count(distinct event_id)");
    }
    // The test is only worth its time if it hit the dangerous moments.
    assert!(during_replay >= 2, "seed {seed}: only {during_replay} kills landed during a replay");
    assert!(commits_while_replaying >= 1, "seed {seed}: no commit was made while a partition replayed");
}

/// Topics that are not co-partitioned (a stream's player and commerce events would not share a
/// partition number) are refused at start with one line that says what to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_with_different_partition_counts_are_refused_in_one_line() {
    let _shared = kafka_shared().await;
    let (player, commerce) = (unique("mismatch-player"), unique("mismatch-commerce"));
    create_topics(&[&player], 3).await;
    create_topics(&[&commerce], 2).await;
    let dir = tempfile::tempdir().unwrap();
    let out = output({
        let mut c = Command::new(livelake_bin());
        c.args(["run", "--source", "kafka", "--brokers", &bootstrap(), "--group-id", &unique("mismatch")])
            .args(["--until-idle", "3", "--metrics-listen", "off", "--lake"])
            .arg(dir.path().join("lake"))
            .env("LIVELAKE__KAFKA__PLAYER_TOPIC", &player)
            .env("LIVELAKE__KAFKA__COMMERCE_TOPIC", &commerce)
            .env("LIVELAKE__KAFKA__DEADLETTER_TOPIC", "")
            .env("RUST_LOG", "error");
        c
    })
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("topics {player} (3 partitions) and {commerce} (2 partitions) are not co-partitioned")),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Scale-out the hard way: workers of one consumer group share one lake while a show of eight
/// streams on 6-partition topics is produced in parts — one worker, then three, one of them
/// SIGKILLed mid-show and replaced later, then one stopped (three → two) — and the lake they
/// leave equals one uninterrupted single-worker run of the same messages in every table (no
/// window emitted twice or lost, no event stored twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_of_one_group_share_a_lake_through_kills_and_scaling() {
    workers_share_a_lake(false).await;
}

/// The same against a lake on the S3-compatible server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_of_one_group_share_a_lake_on_s3() {
    workers_share_a_lake(true).await;
}

async fn workers_share_a_lake(on_s3: bool) {
    let _shared = kafka_shared().await;
    let k = KafkaRun::with_partitions("scale", 6).await;
    let cfg = SimConfig { viewers: 600, duration_min: 30, shows: 8, ..SimConfig::new(41) }
        .with_default_pitches()
        .fit_incidents();
    let sim = simulate(&cfg);
    let parts: Vec<std::sync::Arc<Simulation>> = sim
        .lines
        .chunks(sim.lines.len().div_ceil(4))
        .map(|lines| {
            std::sync::Arc::new(Simulation {
                streams: sim.streams.clone(),
                lines: lines.to_vec(),
                truth: Default::default(),
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // The workers' logs (kept where LIVELAKE_TEST_LOGS says, for a look after a failure).
    let logs = std::env::var("LIVELAKE_TEST_LOGS").map(PathBuf::from).unwrap_or_else(|_| dir.path().to_path_buf());
    let log_of = |name: &str| logs.join(format!("{}-{name}.log", if on_s3 { "s3" } else { "local" }));
    let log_tails = || {
        ["w1", "w2", "w3", "w4"]
            .iter()
            .map(|w| {
                let log = std::fs::read_to_string(log_of(w)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().skip(log.lines().count().saturating_sub(12)).collect();
                format!("--- {w}, last lines:\n{}", tail.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (lake, lake_files) = test_lake(dir.path(), "shared", on_s3);
    let group = unique("scale");
    // A caught-up partition quiet for 15 s (longer than a part takes to arrive) counts as idle: its
    // watermark moves on with the wall clock, so the workers close the show's last windows
    // themselves (in about two minutes).
    let env = [
        ("LIVELAKE__SINK__ROLL_SECS", "1"),
        ("LIVELAKE__SOURCE__BATCH_MAX", "2000"),
        ("LIVELAKE__WINDOWS__IDLE_SECS", "15"),
        ("RUST_LOG", "livelake_pipeline=info"),
        ("NO_COLOR", "1"),
    ];
    let start = |name: &str| {
        let mut c = k.command_idle(&lake, &group, &env, 0);
        c.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(log_of(name)).unwrap());
        c.spawn().unwrap()
    };
    let commits = |n: usize| {
        let files = lake_files.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while crate::support::commit_records(&files).len() < n {
                assert!(Instant::now() < deadline, "fewer than {n} commit records");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    // The show has begun when the first worker starts (a partition that is caught up before it
    // ever delivered holds no window back).
    let mut parts = parts.into_iter();
    k.produce(parts.next().unwrap()).await;
    let mut w1 = start("w1");
    commits(3).await;
    // 1 → 3.
    let mut w2 = start("w2");
    let mut w3 = start("w3");
    k.produce(parts.next().unwrap()).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let before = crate::support::commit_records(&lake_files).len();
    // One of them dies mid-show; its partitions move on once its session times out (10 s).
    Command::new("kill").args(["-KILL", &w2.id().to_string()]).status().unwrap();
    let _ = w2.wait();
    k.produce(parts.next().unwrap()).await;
    commits(before + 6).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    // A replacement, then 3 → 2: one stops cleanly, handing its partitions back.
    let mut w4 = start("w4");
    tokio::time::sleep(Duration::from_secs(6)).await;
    Command::new("kill").args(["-TERM", &w3.id().to_string()]).status().unwrap();
    let status = tokio::task::spawn_blocking(move || w3.wait().unwrap()).await.unwrap();
    assert!(status.success(), "w3 stops cleanly on SIGTERM: {status}");
    for part in parts {
        k.produce(part).await;
    }

    // The uninterrupted single-worker run of the same messages.
    let (reference, reference_files) = test_lake(dir.path(), "reference", on_s3);
    ok(output(k.command(&reference, &unique("scale-ref"), &env)).await, "uninterrupted run");
    assert!(busy_partitions(&reference_files) >= 8, "most partitions of both topics carry events");
    let want = snapshot(&reference_files);
    assert_lake_matches_truth(&reference_files, &sim.truth);
    // The two workers left finish the show: every window closes once the partitions are quiet.
    // On a loaded machine they catch up slowly, so the wait ends only when the lake has stopped
    // changing for longer than the idle watermark takes to close the next window (or after 10
    // minutes in all).
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut got = snapshot(&lake_files);
    let mut changed = Instant::now();
    while got != want && Instant::now() < deadline && changed.elapsed() < Duration::from_secs(150) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = snapshot(&lake_files);
        if now != got {
            changed = Instant::now();
            got = now;
        }
    }
    for w in [&mut w1, &mut w4] {
        Command::new("kill").args(["-TERM", &w.id().to_string()]).status().unwrap();
    }
    for (name, w) in [("w1", w1), ("w4", w4)] {
        let status = tokio::task::spawn_blocking(move || {
            let mut w = w;
            w.wait().unwrap()
        })
        .await
        .unwrap();
        let log = std::fs::read_to_string(log_of(name)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().skip(log.lines().count().saturating_sub(30)).collect();
        assert!(status.success(), "{name} stops cleanly on SIGTERM: {status}\n{}", tail.join("\n"));
    }
    let got = snapshot(&lake_files);
    for (table, rows) in &want {
        let only = |a: &Vec<String>, b: &Vec<String>| -> Vec<String> {
            a.iter().filter(|r| !b.contains(r)).take(4).cloned().collect()
        };
        assert!(
            got[table] == *rows,
            "{table} differs from the uninterrupted single-worker run ({} rows, want {}):\nonly here: {:#?}\nonly in the \
             single-worker run: {:#?}\n{}",
            got[table].len(),
            rows.len(),
            only(&got[table], rows),
            only(rows, &got[table]),
            log_tails()
        );
    }
    for table in ["player_events", "commerce_events"] {
        let ids: Vec<String> = rows(&lake_files, table, &[]).into_iter().map(|r| r["event_id"].clone()).collect();
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        assert_eq!(ids.len(), distinct.len(), "{table}: count(*) = count(distinct event_id)");
    }
    // The hand-overs happened: revocations handed back, slots taken from the lake by the workers
    // that joined (the replacement among them), slots kept across rebalances.
    let said = |w: &str, what: &str| std::fs::read_to_string(log_of(w)).unwrap_or_default().matches(what).count();
    for w in ["w1", "w2", "w3", "w4"] {
        println!(
            "{w}: {} revocations, {} assignments, {} slots taken, {} dropped, {} commits",
            said(w, "partitions revoked: committed"),
            said(w, "partitions assigned"),
            said(w, "slot taken"),
            said(w, "slot dropped"),
            said(w, "lake commit"),
        );
    }
    assert!(said("w1", "partitions revoked: committed") >= 2, "w1 handed partitions back as workers joined");
    assert!(said("w3", "slot taken") >= 1 && said("w4", "slot taken") >= 1, "the workers that joined took slots");
}
