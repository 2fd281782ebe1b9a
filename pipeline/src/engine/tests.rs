//! Engine behaviour on hand-built sequences (windows, lateness, dedup, idleness) and the
//! restart property: checkpoint at any commit, restore, replay → the same rows as one run.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use arrow::util::display::array_value_to_string;
use livelake_schemas::{Decoder, Family};

use super::*;
use crate::simulate::{SimConfig, simulate};

const T0: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z, a minute boundary
/// Wall clock of the tests: the show is live.
const W: i64 = T0;

fn part(name: &str) -> PartId {
    PartId { topic: Arc::from(name), partition: 0 }
}

fn engine() -> Engine {
    let mut e = Engine::new(EngineConfig::default(), Decoder::default(), Arc::new(Metrics::default()));
    e.set_ready();
    e
}

fn ev(id: &str, ty: &str, ts: i64, extra: &str) -> Vec<u8> {
    format!(r#"{{"event_id":"{id}","type":"{ty}","ts":{ts},"stream_id":"s1","session_id":"a","region":"EU"{extra}}}"#)
        .into_bytes()
}

fn feed(e: &mut Engine, p: &PartId, offset: i64, payload: &[u8], now: i64) -> Outcome {
    e.process(Msg { part: p, offset, payload, timestamp_ms: None }, now)
}

#[tokio::test]
async fn window_closes_at_watermark_plus_timeout_and_later_events_are_late() {
    let mut e = engine();
    let p = part("player");
    assert_eq!(feed(&mut e, &p, 0, &ev("1", "session_start", T0, ""), W), Outcome::Accepted { late: false });
    feed(&mut e, &p, 1, &ev("2", "heartbeat", T0 + 30_000, r#","play_ms":9000"#), W);
    feed(&mut e, &p, 2, &ev("3", "stall_end", T0 + 40_000, r#","stall_ms":1000"#), W);
    // Watermark = 149 s − 30 s = 119 s < window end 60 s + timeout 60 s: not final yet.
    feed(&mut e, &p, 3, &ev("4", "heartbeat", T0 + 149_000, r#","play_ms":10000"#), W);
    assert_eq!(e.finalize(W).await.unwrap(), 0);
    // 150 s: watermark 120 s reaches 60 s + 60 s: the first window is final.
    feed(&mut e, &p, 4, &ev("5", "heartbeat", T0 + 150_000, r#","play_ms":10000"#), W);
    assert_eq!(e.finalize(W).await.unwrap(), 1);
    // An event of the first window now is late: stored raw, not in the window.
    assert_eq!(feed(&mut e, &p, 5, &ev("6", "comment", T0 + 10_000, ""), W), Outcome::Accepted { late: true });
    let mut pending = e.take_pending();
    assert_eq!(pending.player.len(), 5);
    assert_eq!(pending.commerce.len(), 1, "late events still go to the raw table");
    let m = &pending.minute[0].1;
    assert_eq!(m.num_rows(), 1);
    let get = |c: &str| m.column_by_name(c).unwrap().as_primitive::<Int64Type>().value(0);
    let getf = |c: &str| m.column_by_name(c).unwrap().as_primitive::<Float64Type>().value(0);
    assert_eq!(get("sessions_started_raw"), 1);
    assert_eq!(get("sessions_active_raw"), 1);
    assert_eq!(get("stall_count"), 1);
    assert_eq!(get("comments"), 0, "the late comment is not in the window");
    assert_eq!(getf("play_seconds"), 9.0);
    assert_eq!(getf("stall_seconds"), 1.0);
    assert_eq!(getf("stall_ratio"), 0.1);
    assert_eq!(getf("stalls_per_minute"), 6.0);
    assert!(pending.commerce.finish().is_ok());
}

#[tokio::test]
async fn empty_denominators_are_null() {
    let mut e = engine();
    let p = part("player");
    feed(&mut e, &p, 0, &ev("1", "session_start", T0, ""), W);
    e.exhaust(&p);
    assert_eq!(e.finalize(W).await.unwrap(), 1);
    let m = &e.take_pending().minute[0].1;
    for c in ["stall_ratio", "stalls_per_minute", "startup_ms_p50", "latency_ms_p99", "bitrate_kbps_avg"] {
        assert!(m.column_by_name(c).unwrap().is_null(0), "{c} is NULL without a denominator");
    }
}

#[test]
fn repeats_are_dropped_within_the_horizon_only() {
    let mut e = engine();
    let p = part("commerce");
    let like = ev("dup", "like", T0, "");
    assert_eq!(feed(&mut e, &p, 0, &like, W), Outcome::Accepted { late: false });
    assert_eq!(feed(&mut e, &p, 1, &like, W), Outcome::Duplicate);
    assert_eq!(feed(&mut e, &p, 1, &like, W), Outcome::Skipped, "an offset is processed once");
    feed(&mut e, &p, 2, &ev("later", "like", T0 + 16 * 60_000, ""), W);
    assert_eq!(feed(&mut e, &p, 3, &like, W), Outcome::Accepted { late: true }, "beyond 15 min it is new (and late)");
    assert!(matches!(feed(&mut e, &p, 4, b"{oops", W), Outcome::Rejected(_)));
    assert_eq!(e.pending().dead.len(), 1);
}

#[tokio::test]
async fn idle_partition_lets_windows_close_with_wall_clock() {
    let mut e = engine();
    let p = part("player");
    feed(&mut e, &p, 0, &ev("1", "session_start", T0, ""), W + 1_000);
    assert_eq!(e.finalize(W + 1_000).await.unwrap(), 0);
    // 30 s idle: the watermark starts moving with the wall clock (max ts − 30 s + idle time).
    assert_eq!(e.finalize(W + 31_000 + 119_000).await.unwrap(), 0);
    assert_eq!(e.finalize(W + 31_000 + 120_000).await.unwrap(), 1);
}

#[tokio::test]
async fn nothing_closes_before_the_source_knows_its_partitions_or_while_one_has_a_backlog() {
    let mut e = Engine::new(EngineConfig::default(), Decoder::default(), Arc::new(Metrics::default()));
    let (p, c) = (part("player"), part("commerce"));
    feed(&mut e, &p, 0, &ev("1", "session_start", T0, ""), W);
    feed(&mut e, &p, 1, &ev("2", "heartbeat", T0 + 200_000, r#","play_ms":10000"#), W);
    assert_eq!(e.finalize(W).await.unwrap(), 0, "not ready");
    e.set_backlog(&c, true, W);
    e.set_ready();
    assert_eq!(e.finalize(W + 600_000).await.unwrap(), 0, "the silent commerce partition has a backlog");
    e.set_backlog(&c, false, W);
    // 12:00 is final by the player partition's own watermark, with no wait for the commerce one.
    assert_eq!(e.finalize(W).await.unwrap(), 1, "caught up and never delivered: it holds nothing back, at once");
    assert_eq!(e.finalize(W + 600_000).await.unwrap(), 1, "12:03 once the player partition is idle too");
}

#[tokio::test]
async fn a_caught_up_partition_that_delivered_holds_windows_until_it_is_idle() {
    let mut e = engine();
    let (p, c) = (part("player"), part("commerce"));
    e.set_backlog(&p, true, W);
    e.set_backlog(&c, false, W);
    e.set_ready();
    feed(&mut e, &p, 0, &ev("1", "session_start", T0, ""), W);
    feed(&mut e, &p, 1, &ev("2", "heartbeat", T0 + 200_000, r#","play_ms":10000"#), W);
    // The commerce partition delivered a message (malformed: no event time) and is caught up.
    assert!(matches!(feed(&mut e, &c, 0, b"{oops", W), Outcome::Rejected(_)));
    assert_eq!(e.finalize(W + 29_000).await.unwrap(), 0, "it may still deliver: not idle yet");
    assert_eq!(
        e.finalize(W + 30_000).await.unwrap(),
        1,
        "idle: it holds nothing back (12:00; the player partition has a backlog)"
    );
}

#[tokio::test]
async fn a_stream_waits_for_every_partition_that_carries_it() {
    let mut e = engine();
    let (p, c) = (part("player"), part("commerce"));
    feed(&mut e, &p, 0, &ev("1", "session_start", T0, ""), W);
    feed(&mut e, &c, 0, &ev("2", "like", T0 + 1_000, ""), W);
    feed(&mut e, &p, 1, &ev("3", "heartbeat", T0 + 200_000, r#","play_ms":10000"#), W);
    assert_eq!(e.finalize(W).await.unwrap(), 0, "the commerce partition holds the window open");
    feed(&mut e, &c, 1, &ev("4", "like", T0 + 200_000, ""), W);
    assert_eq!(e.finalize(W).await.unwrap(), 1);
}

/// Finality per stream: the topics are co-partitioned, so a stream's windows wait for partition
/// n of each topic it came from, not for a lagging partition that carries other streams.
#[tokio::test]
async fn a_stream_waits_only_for_the_partitions_of_its_number() {
    let mut e = engine();
    let at = |topic: &str, n: i32| PartId { topic: Arc::from(topic), partition: n };
    let (p0, c0, p1) = (at("player", 0), at("commerce", 0), at("player", 1));
    let line = |stream: &str, id: &str, ty: &str, ts: i64| {
        format!(
            r#"{{"event_id":"{id}","type":"{ty}","ts":{ts},"stream_id":"{stream}","session_id":"x","region":"EU"}}"#
        )
        .into_bytes()
    };
    feed(&mut e, &p0, 0, &line("a", "1", "session_start", T0), W);
    feed(&mut e, &c0, 0, &line("a", "2", "like", T0 + 1_000), W);
    feed(&mut e, &p1, 0, &line("b", "3", "session_start", T0), W);
    // Partition 1 still has a backlog: b's windows wait; a's (partition 0) do not.
    e.set_backlog(&p1, true, W);
    feed(&mut e, &p0, 1, &line("a", "4", "session_end", T0 + 200_000), W);
    feed(&mut e, &c0, 1, &line("a", "5", "like", T0 + 200_000), W);
    assert_eq!(e.finalize(W).await.unwrap(), 1, "a's first window closes");
    let first = e.take_pending().minute;
    assert_eq!(first[0].1.column_by_name("stream_id").unwrap().as_string::<i32>().value(0), "a");
    feed(&mut e, &p1, 1, &line("b", "6", "session_end", T0 + 200_000), W);
    e.set_backlog(&p1, false, W);
    assert_eq!(e.finalize(W).await.unwrap(), 1, "then b's, once its partition caught up");
    let second = e.take_pending().minute;
    assert_eq!(second[0].1.column_by_name("stream_id").unwrap().as_string::<i32>().value(0), "b");
}

#[test]
fn commits_record_what_the_lake_holds_for_replaying_announced_and_silent_partitions() {
    let (p, c) = (part("player"), part("commerce"));
    let hb = |i: i64| ev(&format!("h{i}"), "heartbeat", T0 + i * 1_000, r#","play_ms":1000"#);
    let mut e = engine();
    for o in 0..3 {
        feed(&mut e, &p, o, &hb(o), W);
    }
    let held = e.checkpoint();
    let at = |cp: &Checkpoint, id: &PartId| {
        cp.partitions.iter().find(|x| x.part == *id).map(|x| (x.next_offset, x.replay_from))
    };
    assert_eq!(at(&held, &p), Some((3, 0)), "the open window needs offsets 0.. replayed");

    // A restart: the player partition replays 0..3; the commerce partition is assigned but silent.
    let mut e = engine();
    e.restore(&held, W).unwrap();
    e.set_backlog(&c, true, W);
    assert_eq!(e.next_offsets(), vec![(p.clone(), 0)], "read from the replay point; no position invented for commerce");
    assert_eq!(e.replaying(), 1);
    assert_eq!(e.checkpoint().partitions, held.partitions, "nothing read yet: the positions as restored");
    assert_eq!(feed(&mut e, &p, 0, &hb(0), W), Outcome::Replayed);
    assert_eq!(
        e.checkpoint().partitions,
        held.partitions,
        "mid-replay: the positions as restored, not the replay position"
    );
    // New rows of another partition commit while the player partition still replays.
    let like = ev("l1", "like", T0 + 2_500, "");
    assert_eq!(feed(&mut e, &c, 40, &like, W), Outcome::Accepted { late: false });
    let mid = e.checkpoint();
    assert_eq!(at(&mid, &p), Some((3, 0)));
    assert_eq!(at(&mid, &c), Some((41, 40)), "commerce is positioned by the first message it delivered");
    for o in 1..3 {
        assert_eq!(feed(&mut e, &p, o, &hb(o), W), Outcome::Replayed);
    }
    assert_eq!(e.replaying(), 0, "replay done at the lake's position");
    assert_eq!(feed(&mut e, &p, 3, &hb(3), W), Outcome::Accepted { late: false });
    let after = e.checkpoint();
    assert_eq!(at(&after, &p), Some((4, 0)));
    assert_eq!(after.backwards_from(&mid), None);
    assert_eq!(mid.backwards_from(&held), None);

    // A later run reads another input (another file): the player partition, restored with a
    // replay ahead of it, is never read again. Its commits keep what the lake holds.
    let mut e = engine();
    e.restore(&after, W).unwrap();
    e.exhaust_unread(|id| *id == c);
    assert_eq!(e.replaying(), 1, "the commerce partition replays; the player partition, not read, does not count");
    assert_eq!(feed(&mut e, &c, 40, &like, W), Outcome::Replayed);
    assert_eq!(feed(&mut e, &c, 41, &ev("l2", "like", T0 + 3_000, ""), W), Outcome::Accepted { late: false });
    let other = e.checkpoint();
    assert_eq!(at(&other, &p), Some((4, 0)), "the player partition keeps its position");
    assert_eq!(other.backwards_from(&after), None);
}

#[tokio::test]
async fn a_restored_partition_the_source_has_not_reported_never_counts_as_idle() {
    let (p, c) = (part("player"), part("commerce"));
    let mut e = engine();
    feed(&mut e, &p, 0, &ev("1", "session_start", T0, ""), W);
    feed(&mut e, &c, 0, &ev("2", "like", T0 + 1_000, ""), W);
    let held = e.checkpoint();
    // After a restart only the commerce partition is assigned and delivers; the player partition
    // (replay ahead of it) stays unassigned for ten minutes of wall clock.
    let mut e = engine();
    e.restore(&held, W).unwrap();
    e.set_backlog(&c, false, W);
    feed(&mut e, &c, 0, &ev("2", "like", T0 + 1_000, ""), W);
    feed(&mut e, &c, 1, &ev("3", "like", T0 + 300_000, ""), W);
    assert_eq!(e.finalize(W + 600_000).await.unwrap(), 0, "the unreported player partition holds the windows");
    // A partition the source can never deliver again (another topic) does not.
    e.exhaust_unread(|id| *id == c);
    assert_eq!(e.finalize(W + 600_000).await.unwrap(), 2, "12:00 and 12:05, the quiet commerce partition being idle");
}

/// Run a whole simulated show through engines, committing every `every` messages; if `crash_at`
/// is set, throw the engine away after that commit and continue from its checkpoint. With
/// `overlap`, windows close as the runner closes them (the window job runs beside the next
/// messages, and a closing while it runs waits for a later one), else each closing is awaited.
/// Returns all committed rows as sorted text (wall-clock columns dropped).
async fn run_show(
    msgs: &[(PartId, i64, Vec<u8>)],
    every: usize,
    crash_at: Option<usize>,
    overlap: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut e = engine();
    let mut commits = 0;
    let mut restart_from: Option<Checkpoint> = None;
    let mut start = 0;
    loop {
        if let Some(cp) = restart_from.take() {
            e = engine();
            e.restore(&cp, W).unwrap();
            start = 0; // feed everything again: the engine skips and replays as needed
        }
        let mut crashed = false;
        for (i, (p, offset, payload)) in msgs.iter().enumerate().skip(start) {
            e.process(Msg { part: p, offset: *offset, payload, timestamp_ms: None }, W);
            if i % 700 == 699 {
                if overlap {
                    e.close_windows(W).await.unwrap();
                } else {
                    e.finalize(W).await.unwrap();
                }
            }
            if i % every == every - 1 {
                e.settle().await.unwrap();
                let pending = e.take_pending();
                let cp = e.checkpoint();
                out.extend(render(pending));
                commits += 1;
                if crash_at == Some(commits) {
                    restart_from = Some(cp);
                    crashed = true;
                    break;
                }
            }
        }
        if !crashed {
            break;
        }
    }
    let parts: std::collections::BTreeSet<PartId> = msgs.iter().map(|m| m.0.clone()).collect();
    for p in &parts {
        e.exhaust(p);
    }
    e.finalize(W).await.unwrap();
    out.extend(render(e.take_pending()));
    out.sort();
    out
}

fn render(mut p: Pending) -> Vec<String> {
    let mut batches: Vec<(&str, RecordBatch)> = Vec::new();
    batches.push(("player", p.player.finish().unwrap()));
    batches.push(("commerce", p.commerce.finish().unwrap()));
    batches.push(("dead", p.dead.finish().unwrap()));
    for (_, m) in p.minute {
        batches.push(("minute", m));
    }
    let mut rows = Vec::new();
    for (name, b) in batches {
        for i in 0..b.num_rows() {
            let mut row = name.to_string();
            for (j, f) in b.schema().fields().iter().enumerate() {
                if f.name() == "ingested_at" || f.name() == "received_at" {
                    continue;
                }
                let c = b.column(j);
                row.push('|');
                row.push_str(&if c.is_null(i) { "∅".into() } else { array_value_to_string(c, i).unwrap() });
            }
            rows.push(row);
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_from_any_checkpoint_gives_the_same_rows() {
    let cfg = SimConfig { viewers: 200, duration_min: 25, ..SimConfig::new(99) }.with_default_pitches().fit_incidents();
    let sim = simulate(&cfg);
    let (pp, cp) = (part("player"), part("commerce"));
    let mut next = [0i64, 0];
    let msgs: Vec<(PartId, i64, Vec<u8>)> = sim
        .lines
        .iter()
        .map(|l| {
            let (p, i) = if l.family == Family::Player { (pp.clone(), 0) } else { (cp.clone(), 1) };
            next[i] += 1;
            (p, next[i] - 1, l.bytes.clone())
        })
        .collect();
    let every = msgs.len() / 7;
    let reference = run_show(&msgs, every, None, false).await;
    assert!(reference.iter().any(|r| r.starts_with("minute|")));
    for (crash_at, overlap) in [(None, true), (Some(1), false), (Some(3), false), (Some(3), true), (Some(6), false)] {
        let got = run_show(&msgs, every, crash_at, overlap).await;
        let run = format!("crash after commit {crash_at:?}, window job beside the messages: {overlap}");
        assert_eq!(got.len(), reference.len(), "{run}: row count");
        let missing: Vec<_> = reference.iter().filter(|r| !got.contains(r)).take(3).collect();
        let extra: Vec<_> = got.iter().filter(|r| !reference.contains(r)).take(3).collect();
        assert!(got == reference, "{run}: rows differ\nmissing {missing:#?}\nextra {extra:#?}");
    }
}

/// A show of three streams, each stream's messages on partition `stream % 3` of its family's
/// topic (Kafka keys by `stream_id`); per partition the messages in delivery order.
fn partitioned_show(seed: u64) -> BTreeMap<PartId, Vec<Vec<u8>>> {
    let cfg = SimConfig { viewers: 120, duration_min: 20, shows: 3, ..SimConfig::new(seed) }
        .with_default_pitches()
        .fit_incidents();
    let mut parts: BTreeMap<PartId, Vec<Vec<u8>>> = BTreeMap::new();
    for l in simulate(&cfg).lines {
        let topic = if l.family == Family::Player { "player" } else { "commerce" };
        let p = PartId { topic: Arc::from(topic), partition: i32::from(l.stream % 3) };
        parts.entry(p).or_default().push(l.bytes);
    }
    parts
}

/// An engine as `livelake run` sets it up: every assigned partition announced with a backlog.
fn engine_of(parts: &BTreeMap<PartId, Vec<Vec<u8>>>) -> Engine {
    let mut e = engine();
    for p in parts.keys() {
        e.set_backlog(p, true, W);
    }
    e
}

/// What a lake receives: the committed rows, and the checkpoint of its latest commit.
#[derive(Default)]
struct TestLake {
    rows: Vec<String>,
    last: Option<Checkpoint>,
    commits: usize,
    commits_while_replaying: usize,
}

impl TestLake {
    /// Commit as the runner does (pending rows, then the checkpoint), holding every commit to
    /// the rule that no partition's position moves back from the previous commit's.
    fn commit(&mut self, e: &mut Engine) {
        let pending = e.take_pending();
        let cp = e.checkpoint();
        if let Some(prev) = &self.last
            && let Some(why) = cp.backwards_from(prev)
        {
            panic!("commit {}: {why}\nbefore {:?}\nafter {:?}", self.commits + 1, prev.partitions, cp.partitions);
        }
        self.rows.extend(render(pending));
        self.commits += 1;
        self.commits_while_replaying += usize::from(e.replaying() > 0);
        self.last = Some(cp);
    }
}

/// The uninterrupted run: partitions read round-robin in fixed slices, commits every 3,000
/// messages.
async fn uninterrupted(parts: &BTreeMap<PartId, Vec<Vec<u8>>>) -> Vec<String> {
    let mut e = engine_of(parts);
    let mut lake = TestLake::default();
    let longest = parts.values().map(Vec::len).max().unwrap_or(0);
    let mut fed = 0;
    for start in (0..longest).step_by(500) {
        for (p, msgs) in parts {
            for (o, payload) in msgs.iter().enumerate().skip(start).take(500) {
                e.process(Msg { part: p, offset: o as i64, payload, timestamp_ms: None }, W);
                fed += 1;
                if fed % 3_000 == 0 {
                    e.finalize(W).await.unwrap();
                    lake.commit(&mut e);
                }
            }
        }
    }
    e.exhaust_all();
    e.finalize(W).await.unwrap();
    lake.commit(&mut e);
    lake.rows.sort();
    lake.rows
}

/// The same messages read in a random interleaving of random slices per partition (each
/// partition's own order kept, as Kafka delivers), with window closes and commits at random
/// moments and `crashes` crashes at random moments: the engine is thrown away with whatever it
/// had not committed and a new one continues from the latest commit, reading each partition
/// again from the replay point it gives (so crashes also hit mid-replay).
async fn crashing(parts: &BTreeMap<PartId, Vec<Vec<u8>>>, seed: u64, crashes: usize) -> TestLake {
    let mut rng = crate::simulate::Rng::new(seed);
    let mut lake = TestLake::default();
    let mut crashes_left = crashes;
    'restart: loop {
        let mut e = engine_of(parts);
        let mut read: BTreeMap<&PartId, i64> = parts.keys().map(|p| (p, 0)).collect();
        if let Some(cp) = &lake.last {
            e.restore(cp, W).unwrap();
            for (p, o) in e.next_offsets() {
                *read.get_mut(&p).expect("a partition of the show") = o;
            }
        }
        loop {
            let open: Vec<&PartId> = parts.keys().filter(|p| read[p] < parts[*p].len() as i64).collect();
            let Some(&p) = open.get(rng.index(open.len().max(1))) else { break };
            let n = rng.range(1, 600);
            let from = read[p];
            let to = (from + n).min(parts[p].len() as i64);
            for o in from..to {
                e.process(Msg { part: p, offset: o, payload: &parts[p][o as usize], timestamp_ms: None }, W);
            }
            *read.get_mut(p).unwrap() = to;
            if rng.chance(0.3) {
                e.finalize(W).await.unwrap();
            }
            if rng.chance(0.35) {
                lake.commit(&mut e);
            }
            if crashes_left > 0 && rng.chance(0.06) {
                crashes_left -= 1;
                continue 'restart;
            }
        }
        e.exhaust_all();
        e.finalize(W).await.unwrap();
        lake.commit(&mut e);
        break;
    }
    lake.rows.sort();
    lake
}

/// Repeated crashes, some while partitions replay and others commit new rows: the rows in the
/// lake equal an uninterrupted run's, and a partition's positions in successive commits never
/// move back (checked at every commit by [`TestLake::commit`]), for any interleaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_crashes_in_any_interleaving_never_move_positions_back_or_write_twice() {
    use proptest::test_runner::{Config, TestRunner};
    let parts = partitioned_show(7);
    assert_eq!(parts.len(), 6, "three partitions of each topic carry events");
    let reference = uninterrupted(&parts).await;
    let handle = tokio::runtime::Handle::current();
    let during_replay = std::cell::Cell::new(0);
    let mut runner = TestRunner::new(Config { cases: 8, failure_persistence: None, ..Config::default() });
    runner
        .run(&proptest::num::u64::ANY, |seed| {
            let lake = tokio::task::block_in_place(|| handle.block_on(crashing(&parts, seed, 12)));
            during_replay.set(during_replay.get() + lake.commits_while_replaying);
            proptest::prop_assert_eq!(lake.rows.len(), reference.len(), "seed {}: row count", seed);
            let extra: Vec<_> = lake.rows.iter().filter(|r| reference.binary_search(r).is_err()).take(3).collect();
            proptest::prop_assert!(lake.rows == reference, "seed {}: rows differ, e.g. {:#?}", seed, extra);
            Ok(())
        })
        .unwrap();
    assert!(during_replay.get() > 0, "no commit happened while a partition replayed: the test missed its point");
}

/// Valid events of a simulated show (first deliveries only), plus sessions built to sit on the
/// edges of the session rules, as (ts, bytes): stalls a few ms after a `session_end`, gaps just
/// under and over the session timeout, player events after an explicit end, ends without a
/// `session_end`.
fn on_time_show(seed: u64) -> Vec<(i64, Vec<u8>)> {
    let cfg =
        SimConfig { viewers: 150, duration_min: 20, ..SimConfig::new(seed) }.with_default_pitches().fit_incidents();
    let sim = simulate(&cfg);
    let decoder = Decoder::default();
    let mut out: Vec<(i64, Vec<u8>)> = sim
        .lines
        .into_iter()
        .filter(|l| matches!(l.class, crate::simulate::LineClass::Valid))
        .map(|l| (decoder.decode(&l.bytes, W).expect("a valid line decodes").ts_ms, l.bytes))
        .collect();
    let mut rng = crate::simulate::Rng::new(seed ^ 0x5eed);
    let stream = &sim.streams[0];
    for n in 0..60 {
        let sid = format!("edge-{n}");
        let region = ["EU", "NA", "SEA"][rng.index(3)];
        let mut t = cfg.start_ms + rng.range(0, 15 * 60_000);
        let mut k = 0;
        let mut push = |t: i64, ty: &str, extra: &str| {
            k += 1;
            let line = format!(
                r#"{{"event_id":"{sid}-{k}","type":"{ty}","ts":{t},"stream_id":"{stream}","session_id":"{sid}","viewer_id":"{sid}","region":"{region}"{extra}}}"#
            );
            out.push((t, line.into_bytes()));
        };
        push(t, "session_start", "");
        for _ in 0..rng.range(1, 6) {
            // Gaps of 10 s, or near the 60 s timeout on either side.
            t += if rng.chance(0.5) { 10_000 } else { rng.range(45_000, 75_000) };
            match rng.index(4) {
                0 => push(t, "stall_start", ""),
                1 => push(t, "stall_end", r#","stall_ms":1500"#),
                _ => push(t, "heartbeat", r#","play_ms":10000"#),
            }
        }
        if rng.chance(0.7) {
            let end = t + rng.range(100, 3_000);
            push(end, "session_end", "");
            // The player reports a stall (or a last heartbeat) just after its end.
            if rng.chance(0.6) {
                push(end + rng.range(1, 2_000), "stall_start", "");
            } else if rng.chance(0.5) {
                push(end + rng.range(1, 20_000), "heartbeat", r#","play_ms":1000"#);
            }
        }
    }
    out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    out
}

/// `stream_minute` rows of one partition carrying `events` in the given arrival order, windows
/// closed every 250 messages and at the end.
async fn minute_rows(events: &[&(i64, Vec<u8>)]) -> Vec<String> {
    let p = part("show");
    let mut e = engine();
    let mut rows = Vec::new();
    for (i, (_, payload)) in events.iter().enumerate() {
        let out = e.process(Msg { part: &p, offset: i as i64, payload, timestamp_ms: None }, W);
        assert!(matches!(out, Outcome::Accepted { late: false }), "message {i} not accepted on time: {out:?}");
        if i % 250 == 249 {
            e.finalize(W).await.unwrap();
            rows.extend(render(e.take_pending()).into_iter().filter(|r| r.starts_with("minute|")));
        }
    }
    e.exhaust(&p);
    e.finalize(W).await.unwrap();
    rows.extend(render(e.take_pending()).into_iter().filter(|r| r.starts_with("minute|")));
    rows.sort();
    rows
}

/// Arrival order never changes an event-time result: every event of a show is delivered at most
/// the allowed lateness behind the newest (so each is ahead of the watermark when it arrives),
/// in a random order; every `stream_minute` row equals the one of delivery in event-time order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordering_on_time_events_never_changes_a_stream_minute_row() {
    use proptest::test_runner::{Config, TestRunner};
    let lateness = EngineConfig::default().lateness_ms;
    let show = on_time_show(11);
    let in_order: Vec<&(i64, Vec<u8>)> = show.iter().collect();
    let reference = minute_rows(&in_order).await;
    assert!(reference.len() > 100, "the show has minute rows");
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
    runner
        .run(&proptest::num::u64::ANY, |seed| {
            // Delivered at ts + a delay below the lateness: an event arrives at most
            // `lateness − 1` ms after any event newer than it, hence ahead of the watermark.
            let mut rng = crate::simulate::Rng::new(seed);
            let mut order: Vec<(i64, usize)> =
                show.iter().enumerate().map(|(i, (ts, _))| (ts + rng.range(0, lateness - 1), i)).collect();
            order.sort();
            let shuffled: Vec<&(i64, Vec<u8>)> = order.iter().map(|(_, i)| &show[*i]).collect();
            let got = tokio::task::block_in_place(|| handle.block_on(minute_rows(&shuffled)));
            let missing: Vec<_> = reference.iter().filter(|r| got.binary_search(r).is_err()).take(3).collect();
            let extra: Vec<_> = got.iter().filter(|r| reference.binary_search(r).is_err()).take(3).collect();
            proptest::prop_assert!(
                got == reference,
                "seed {}: rows differ\nwant {:#?}\ngot {:#?}",
                seed,
                missing,
                extra
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn partitions_far_ahead_of_the_slowest_backlog_are_named_for_a_pause() {
    let mut e = engine();
    let (slow, fast, faster, idle) = (part("slow"), part("fast"), part("faster"), part("idle"));
    for p in [&slow, &fast, &faster, &idle] {
        e.set_backlog(p, true, W);
    }
    // `idle` delivered nothing yet: it is not the slowest.
    feed(&mut e, &slow, 0, &ev("1", "heartbeat", T0, r#","play_ms":1"#), W);
    feed(&mut e, &fast, 0, &ev("2", "heartbeat", T0 + 100_000, r#","play_ms":1"#), W);
    feed(&mut e, &faster, 0, &ev("3", "heartbeat", T0 + 130_000, r#","play_ms":1"#), W);
    let (ahead, spread) = e.ahead_of_slowest(120_000, &[]);
    assert_eq!((ahead, spread), (vec![faster.clone()], 130_000));
    // Once paused, it stays paused until within half the skew; `fast` is now past half but was
    // never paused.
    feed(&mut e, &slow, 1, &ev("4", "heartbeat", T0 + 20_000, r#","play_ms":1"#), W);
    assert_eq!(e.ahead_of_slowest(120_000, std::slice::from_ref(&faster)).0, vec![faster.clone()]);
    feed(&mut e, &slow, 2, &ev("5", "heartbeat", T0 + 75_000, r#","play_ms":1"#), W);
    assert!(e.ahead_of_slowest(120_000, std::slice::from_ref(&faster)).0.is_empty());
    // A partition caught up (no backlog) holds nothing back: `fast` is then the slowest.
    e.set_backlog(&slow, false, W);
    assert!(e.ahead_of_slowest(20_000, &[]).0.contains(&faster));
    assert!(!e.ahead_of_slowest(20_000, &[]).0.contains(&slow), "behind is never ahead");
    assert!(e.ahead_of_slowest(0, &[]).0.is_empty(), "0 never pauses");
    e.exhaust(&faster);
    assert!(e.ahead_of_slowest(20_000, &[]).0.is_empty());
}

/// Row `i` of a `stream_minute` batch: (stream, region, window start) and the values of `cols`.
fn minute_key_and(b: &RecordBatch, i: usize, cols: &[&str]) -> ((String, String, String), Vec<String>) {
    let text = |c: &str| {
        let col = b.column_by_name(c).unwrap_or_else(|| panic!("column {c}"));
        if col.is_null(i) { "∅".to_string() } else { array_value_to_string(col, i).unwrap() }
    };
    ((text("stream_id"), text("region"), text("window_start")), cols.iter().map(|c| text(c)).collect())
}

/// The live board's provisional rows: the figures of the windows still open, from what has
/// arrived, without changing the engine's state. Mid-show (events in event-time order), every
/// open window whose events have all arrived has provisional event figures equal to its final
/// row's; and the final rows equal those of a run that never asked for provisional ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisional_rows_count_what_arrived_and_change_nothing() {
    const COUNTED: [&str; 13] = [
        "sessions_active_raw",
        "sessions_started_raw",
        "play_seconds",
        "stall_seconds",
        "stall_count",
        "startup_ms_p95",
        "latency_ms_p95",
        "comments",
        "likes",
        "product_clicks",
        "add_to_carts",
        "orders",
        "gmv_usd",
    ];
    let show = on_time_show(11);
    let events: Vec<&(i64, Vec<u8>)> = show.iter().collect();
    let want = minute_rows(&events).await;

    let p = part("show");
    let mut e = engine();
    let mut rows = Vec::new();
    let mut finals: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    let mut complete: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    let keep_final = |pending: Pending, rows: &mut Vec<String>, finals: &mut BTreeMap<_, _>| {
        for (_, b) in &pending.minute {
            for i in 0..b.num_rows() {
                let (k, v) = minute_key_and(b, i, &COUNTED);
                finals.insert(k, v);
            }
        }
        rows.extend(render(pending).into_iter().filter(|r| r.starts_with("minute|")));
    };
    for (i, (ts, payload)) in events.iter().enumerate() {
        e.process(Msg { part: &p, offset: i as i64, payload, timestamp_ms: None }, W);
        if i % 250 == 249 {
            e.finalize(W).await.unwrap();
            keep_final(e.take_pending(), &mut rows, &mut finals);
            for b in e.provisional().await.unwrap() {
                let ends = b.column_by_name("window_end").unwrap().as_primitive::<TimestampMillisecondType>().clone();
                for r in 0..b.num_rows() {
                    let (k, v) = minute_key_and(&b, r, &COUNTED);
                    assert!(!finals.contains_key(&k), "a provisional row of a closed window: {k:?}");
                    if ends.value(r) <= *ts {
                        complete.insert(k, v);
                    }
                }
            }
        }
    }
    e.exhaust(&p);
    e.finalize(W).await.unwrap();
    keep_final(e.take_pending(), &mut rows, &mut finals);
    rows.sort();
    assert_eq!(rows, want, "asking for provisional rows changes no final row");
    assert!(complete.len() >= 5, "{} complete open windows seen", complete.len());
    for (k, v) in &complete {
        assert_eq!(v, &finals[k], "{k:?}: provisional {COUNTED:?} vs final");
    }
}

/// A member of a consumer group: it processes only the slots it holds; a parked slot keeps its
/// state without taking messages; a dropped slot leaves nothing behind — no partition, stream,
/// open window row or session in the next checkpoint, and no window of it ever closes here.
#[tokio::test]
async fn a_group_member_processes_held_slots_only_and_forgets_a_dropped_one() {
    let slot = |n: i32| PartId { topic: Arc::from("player"), partition: n };
    let (p0, p1) = (slot(0), slot(1));
    let on = |stream: &str, id: &str, ts: i64| {
        format!(r#"{{"event_id":"{id}","type":"heartbeat","ts":{ts},"stream_id":"{stream}","session_id":"a","region":"EU","play_ms":1000}}"#)
            .into_bytes()
    };
    let mut e = engine();
    e.hold_assigned_only();
    assert_eq!(feed(&mut e, &p0, 0, &on("a", "1", T0), W), Outcome::Skipped, "no slot held yet");
    e.hold(0);
    e.hold(1);
    assert_eq!(feed(&mut e, &p0, 0, &on("a", "1", T0), W), Outcome::Accepted { late: false });
    assert_eq!(feed(&mut e, &p1, 0, &on("b", "2", T0), W), Outcome::Accepted { late: false });
    let cp = e.checkpoint();
    let slots = cp.by_slot();
    assert_eq!(slots.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(slots[&1].streams.iter().map(|s| s.stream_id.as_str()).collect::<Vec<_>>(), vec!["b"]);
    assert!(slots[&1].sessions.contains_key(&1) && !slots[&1].sessions.contains_key(&0));
    e.take_pending();

    // Revoked: slot 1 is parked — its messages are skipped, its windows stay open, its state kept.
    e.park(1);
    assert_eq!(e.parked(), vec![1]);
    assert_eq!(feed(&mut e, &p1, 1, &on("b", "3", T0 + 1_000), W), Outcome::Skipped);
    e.exhaust(&p1);
    assert_eq!(e.finalize(W).await.unwrap(), 0, "no window of a parked slot closes");
    assert_eq!(e.checkpoint().by_slot()[&1], slots[&1], "a parked slot's state does not change");
    e.set_backlog(&p1, false, W);
    e.parts.get_mut(&p1).unwrap().exhausted = false;
    // Given back: processed again from where it stopped.
    e.hold(1);
    assert_eq!(feed(&mut e, &p1, 1, &on("b", "3", T0 + 1_000), W), Outcome::Accepted { late: false });
    e.take_pending();

    // Taken by another worker: dropped.
    e.park(1);
    e.drop_slot(1).unwrap();
    assert!(e.parked().is_empty());
    assert_eq!(feed(&mut e, &p1, 2, &on("b", "4", T0 + 2_000), W), Outcome::Skipped);
    let after = e.checkpoint().by_slot();
    assert_eq!(after.keys().copied().collect::<Vec<_>>(), vec![0], "nothing of slot 1 is checkpointed");
    // Every window closes (the input ends): only stream a's rows come out.
    e.exhaust_all();
    assert!(e.finalize(W).await.unwrap() > 0);
    let pending = e.take_pending();
    let streams: Vec<String> = pending
        .minute
        .iter()
        .flat_map(|(_, b)| {
            let s = b.column_by_name("stream_id").unwrap().as_string::<i32>();
            (0..b.num_rows()).map(|i| s.value(i).to_string()).collect::<Vec<_>>()
        })
        .collect();
    assert!(!streams.is_empty() && streams.iter().all(|s| s == "a"), "{streams:?}");
    assert!(pending.minute.iter().all(|(slot, _)| *slot == 0));
}
