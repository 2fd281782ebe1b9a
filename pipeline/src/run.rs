//! `livelake run`: the loop that ties source → engine → lake together, decides when to commit,
//! reports progress to Kafka after the lake commit, and shuts down gracefully.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use arrow::array::RecordBatch;
use livelake_schemas::{Decoder, Table};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::engine::{self, Decoded, Engine, Msg, Outcome, PartId, Pending};
use crate::error::{Result, commit_log};
use crate::kafka::{DeadLetterTopic, LiveTopic};
use crate::ops::{Board, Metrics};
use arrow::array::AsArray;
use arrow::datatypes::Int32Type;
use livelake_jobs::clock::Clock;
use livelake_jobs::store::failpoint;

use crate::sink::{CommitRecord, Lake, SlotCommit};
use crate::source::{FileSource, KafkaClient, KafkaSource, KafkaSourceConfig, Poll, Prefetch, SourceMsg};

/// Batches the fetch thread reads ahead of the engine.
const PREFETCH_BATCHES: usize = 4;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Messages read (excluding replay).
    pub messages: u64,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Commits made.
    pub commits: u64,
    /// Valid events that arrived after their window was final.
    pub late: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Dead letters by reason.
    pub dead_letters: BTreeMap<String, u64>,
    /// Messages replayed to rebuild state.
    pub replayed: u64,
    /// Wall-clock ms from the first message to the end of the final commit, quiet time waiting
    /// for more input excluded (the denominator of the benchmark's events/s).
    pub busy_ms: i64,
}

/// The input: its batches (read on the fetch thread), the Kafka client for progress and lag
/// (none for a file), and the partition a file is.
struct Source {
    batches: Prefetch,
    kafka: Option<KafkaClient>,
    file: Option<PartId>,
}

/// A lake commit running beside the engine: the lake comes back with its record.
type InFlight = tokio::task::JoinHandle<(Lake, Result<Vec<CommitRecord>>)>;

struct Runner<'c> {
    cfg: &'c Config,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    engine: Engine,
    /// The lake, while no commit is running (a running commit holds it).
    lake: Option<Lake>,
    /// The commit running beside the engine, if any: the next one waits for it.
    in_flight: Option<InFlight>,
    dlq: Option<DeadLetterTopic>,
    summary: RunSummary,
    dirty: bool,
    /// `run.threads`: the applying thread and `threads` − 1 decode helpers.
    threads: usize,
}

impl Runner<'_> {
    fn handle(&mut self, msgs: &[SourceMsg]) {
        let now = self.clock.now_ms();
        // Per-topic input counts, bumped once per batch (the metrics map takes a lock).
        let mut per_topic: Vec<(&str, u64)> = Vec::new();
        for m in msgs {
            match per_topic.iter_mut().find(|(t, _)| *t == &*m.part.topic) {
                Some((_, n)) => *n += 1,
                None => per_topic.push((&m.part.topic, 1)),
            }
        }
        for (t, n) in per_topic {
            self.metrics.event_in(t, n);
        }
        let decoder = self.engine.decoder().clone();
        decode_ahead(&decoder, msgs, now, self.threads, |chunk, decoded| self.apply_chunk(chunk, decoded, now));
    }

    /// Apply decoded messages in turn, loading the dedup slots of the next few while applying
    /// the ones before them ([`Engine::touch`]).
    fn apply_chunk(&mut self, msgs: &[SourceMsg], decoded: Vec<Decoded<'_>>, now: i64) {
        let keys: Vec<(&PartId, u128)> = msgs.iter().zip(&decoded).map(|(m, d)| (&m.part, d.key)).collect();
        // By reference: a decoded event is a few hundred bytes, and moving each one out of the
        // vector and into the engine copied it (≈ 2 % of the CPU in `memmove`).
        for (i, (m, d)) in msgs.iter().zip(&decoded).enumerate() {
            self.engine.touch(keys[engine::touch_ahead(i, keys.len())].iter().copied());
            self.apply(m, d, now);
        }
    }

    /// Apply one decoded message to the engine and account for what became of it.
    fn apply(&mut self, m: &SourceMsg, decoded: &Decoded<'_>, now: i64) {
        let outcome = self.engine.apply(
            Msg { part: &m.part, offset: m.offset, payload: &m.payload, timestamp_ms: m.timestamp_ms },
            decoded,
            now,
        );
        match &outcome {
            Outcome::Skipped => return,
            Outcome::Replayed => self.summary.replayed += 1,
            Outcome::Rejected(r) => {
                self.summary.messages += 1;
                let reason = r.reason.to_string();
                if let Some(d) = &mut self.dlq {
                    d.send(&m.payload, m.key.as_deref(), &reason);
                }
                *self.summary.dead_letters.entry(reason).or_default() += 1;
            }
            Outcome::Accepted { late } => {
                self.summary.messages += 1;
                self.summary.late += *late as u64;
            }
            Outcome::Duplicate => {
                self.summary.messages += 1;
                self.summary.duplicates += 1;
            }
        }
        self.dirty = true;
    }

    fn should_commit(&self, now: i64) -> bool {
        let p = self.engine.pending();
        if p.rows() == 0 {
            return false;
        }
        let s = &self.cfg.sink;
        let age = p.since_wall.map_or(0, |t| now - t);
        let minute_age = p.minute_since.map_or(-1, |t| now - t);
        age >= (s.roll_secs * 1000) as i64
            || p.bytes as u64 >= s.roll_mb * 1024 * 1024
            || minute_age >= (s.window_flush_secs * 1000) as i64
    }

    /// Start a commit of the pending output and the engine's checkpoint as of now, after the
    /// previous commit has finished (commits stay in sequence; at most one runs while the engine
    /// goes on with the next messages: Parquet encoding and object-store writes overlap
    /// processing, and memory holds at most one commit's rows besides the pending ones).
    async fn commit(&mut self, kafka: Option<&KafkaClient>) -> Result<()> {
        self.engine.settle().await?;
        if !self.dirty && self.engine.pending().rows() == 0 {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let pending = self.engine.take_pending();
        let checkpoint = self.engine.checkpoint();
        if let Some(d) = &mut self.dlq {
            d.drain().await;
        }
        self.finish_commit(kafka).await?;
        let mut lake = self.lake.take().expect("the lake is back once its commit has finished");
        // Finishing the Arrow arrays and splitting them by slot is the commit's work too: the
        // engine goes on with the next messages meanwhile.
        self.in_flight = Some(tokio::spawn(async move {
            let recs = match slot_commits(pending, checkpoint) {
                Ok(slots) => lake.commit(slots, now).await,
                Err(e) => Err(e),
            };
            (lake, recs)
        }));
        self.dirty = false;
        Ok(())
    }

    /// Wait for the running commit, if any, and account for it; then report the positions it
    /// made durable to the consumer group.
    async fn finish_commit(&mut self, kafka: Option<&KafkaClient>) -> Result<()> {
        let Some(task) = self.in_flight.take() else { return Ok(()) };
        let (lake, recs) = task.await.expect("the commit task does not panic");
        self.lake = Some(lake);
        let recs = recs?;
        let files = recs.iter().flat_map(|r| &r.files);
        for f in files.clone() {
            *self.summary.rows.entry(f.table.clone()).or_default() += f.rows;
            self.metrics.event_out(&f.table, f.rows);
            self.metrics.rows_written.inc_by(f.rows);
        }
        self.metrics.files_written.inc_by(files.clone().count() as u64);
        self.metrics.commits.inc();
        if let Some(rec) = recs.first() {
            self.metrics.last_commit_seconds.set(rec.created_at_ms as f64 / 1000.0);
        }
        self.summary.commits += 1;
        info!(
            slots = ?recs.iter().map(|r| (r.slot.unwrap_or_default(), r.seq)).collect::<Vec<_>>(),
            files = files.clone().count(),
            rows = files.map(|f| f.rows).sum::<u64>(),
            replaying = self.engine.replaying(),
            "lake commit"
        );
        if let Some(k) = kafka {
            // The group learns what the lake holds (monitoring; the commit log stays the truth).
            let held: Vec<(PartId, i64)> =
                recs.iter().flat_map(|r| &r.checkpoint.partitions).map(|p| (p.part.clone(), p.next_offset)).collect();
            k.commit(&held);
            failpoint::hit("after_kafka_commit");
        }
        Ok(())
    }

    /// The group takes `parts` away: commit everything now (what the lake holds of their slots is
    /// then all this run did with them) and stop processing their slots, keeping their state in
    /// case the next assignment gives them back.
    async fn hand_back(&mut self, parts: &[PartId], kafka: Option<&KafkaClient>) -> Result<()> {
        self.commit(kafka).await?;
        self.finish_commit(kafka).await?;
        let slots: BTreeSet<i32> = parts.iter().map(|p| p.partition).collect();
        for slot in &slots {
            self.engine.park(*slot);
        }
        info!(slots = ?slots, "partitions revoked: committed, slots let go");
        Ok(())
    }

    /// The group gives this run `parts`: take their slots (a slot of the previous assignment that
    /// nobody committed since is kept as it is; any other is restored from the lake) and let go
    /// of the slots it did not give back. Returns where to read each partition from.
    async fn take_assigned(&mut self, parts: &[PartId], kafka: Option<&KafkaClient>) -> Result<Vec<(PartId, i64)>> {
        self.engine.settle().await?;
        self.finish_commit(kafka).await?;
        let now = self.clock.now_ms();
        let slots: BTreeSet<i32> = parts.iter().map(|p| p.partition).collect();
        let mut lake = self.lake.take().expect("no commit is running");
        let taken = self.take_slots(&mut lake, &slots, now).await;
        self.lake = Some(lake);
        taken?;
        let k = &self.cfg.kafka;
        self.engine.exhaust_unread(|p| *p.topic == k.player_topic || *p.topic == k.commerce_topic);
        let from: Vec<(PartId, i64)> =
            parts.iter().filter_map(|p| self.engine.position(p).map(|o| (p.clone(), o))).collect();
        info!(slots = ?slots, positioned = from.len(), replaying = self.engine.replaying(), "partitions assigned");
        Ok(from)
    }

    async fn take_slots(&mut self, lake: &mut Lake, slots: &BTreeSet<i32>, now: i64) -> Result<()> {
        for slot in self.engine.parked() {
            if !slots.contains(&slot) {
                self.engine.drop_slot(slot)?;
                lake.release(slot);
            }
        }
        for &slot in slots {
            if self.engine.parked().contains(&slot) {
                let checkpoint = self.engine.checkpoint().by_slot().remove(&slot).unwrap_or_default();
                if lake.reclaim(slot, checkpoint, now).await? {
                    self.engine.hold(slot);
                    continue;
                }
                info!(slot, "another run committed the slot meanwhile: restoring it from the lake");
                self.engine.drop_slot(slot)?;
            } else if self.engine.holds(slot) {
                continue;
            }
            take_slot(lake, &mut self.engine, slot, now).await?;
        }
        Ok(())
    }

    /// [`Runner::finish_commit`] if the running commit has already finished (no waiting).
    async fn finish_commit_if_done(&mut self, kafka: Option<&KafkaClient>) -> Result<()> {
        if self.in_flight.as_ref().is_some_and(|t| t.is_finished()) {
            self.finish_commit(kafka).await?;
        }
        Ok(())
    }
}

/// Event-time alignment of the Kafka partitions: windows close at the pace of the slowest
/// partition, so a partition read far ahead of it (a backlog read at the broker's pace, where
/// fetching by bytes moves the sparse commerce partitions through event time many times faster
/// than the player partitions) would hold its rows in open windows meanwhile. Such a partition
/// is paused until the others catch up (`source.max_skew_secs`).
struct Alignment {
    max_skew_ms: i64,
    paused: Vec<PartId>,
    /// Largest event-time spread seen between partitions with a backlog (ms), and the number of
    /// pauses (debug log at the end).
    max_spread_ms: i64,
    pauses: u64,
}

impl Alignment {
    fn new(max_skew_secs: u64) -> Self {
        Alignment { max_skew_ms: (max_skew_secs * 1000) as i64, paused: Vec::new(), max_spread_ms: 0, pauses: 0 }
    }

    /// Pause the partitions that ran ahead, resume those the others caught up with.
    fn update(&mut self, engine: &Engine, kafka: &KafkaClient) {
        let (ahead, spread) = engine.ahead_of_slowest(self.max_skew_ms, &self.paused);
        self.max_spread_ms = self.max_spread_ms.max(spread);
        if self.max_skew_ms <= 0 || ahead == self.paused {
            return;
        }
        let pause: Vec<PartId> = ahead.iter().filter(|p| !self.paused.contains(p)).cloned().collect();
        let resume: Vec<PartId> = self.paused.iter().filter(|p| !ahead.contains(p)).cloned().collect();
        if !pause.is_empty() {
            debug!(partitions = ?pause.iter().map(ToString::to_string).collect::<Vec<_>>(), spread_s = spread / 1000, "pausing partitions ahead in event time");
            kafka.pause(&pause, true);
            self.pauses += pause.len() as u64;
        }
        if !resume.is_empty() {
            debug!(partitions = ?resume.iter().map(ToString::to_string).collect::<Vec<_>>(), "resuming partitions");
            kafka.pause(&resume, false);
        }
        self.paused = ahead;
    }

    /// Say again which partitions are paused and which are not: a partition revoked and
    /// assigned again meanwhile must not stay paused (or unpaused) by mistake.
    fn refresh(&self, engine: &Engine, kafka: &KafkaClient) {
        if self.max_skew_ms <= 0 {
            return;
        }
        let others: Vec<PartId> =
            engine.next_offsets().into_iter().map(|(p, _)| p).filter(|p| !self.paused.contains(p)).collect();
        kafka.pause(&others, false);
        kafka.pause(&self.paused, true);
    }
}

/// Take `slot` from the lake and restore the engine's state of it from the slot's latest commit.
async fn take_slot(lake: &mut Lake, engine: &mut Engine, slot: i32, now: i64) -> Result<()> {
    if let Some(rec) = lake.take(slot, now).await? {
        engine
            .restore(&rec.checkpoint, now)
            .map_err(|e| commit_log(lake.record_path(rec.slot, rec.seq), e.to_string()))?;
        info!(slot, seq = rec.seq, replaying = engine.replaying(), "resuming the slot after the lake's latest commit");
    }
    engine.hold(slot);
    Ok(())
}

/// Messages decoded as one piece of work.
const DECODE_CHUNK: usize = 256;

/// Decode `msgs` (`now` as the processing clock of a message without a timestamp) and hand them
/// to `apply` chunk by chunk, in the source's order. With `threads` > 1, `threads` − 1 helpers
/// decode the chunks ahead of the calling thread, which applies them in order and, when the next
/// chunk is not decoded yet, decodes the next one nobody has taken rather than wait (it waits
/// only for a chunk a helper is in the middle of: the loop is the pipeline's critical path, and
/// on a busy machine a helper is often off its core). Decoding is pure, so what `apply` sees is
/// the same for any number of threads.
fn decode_ahead<'m>(
    decoder: &Arc<Decoder>,
    msgs: &'m [SourceMsg],
    now: i64,
    threads: usize,
    mut apply: impl FnMut(&'m [SourceMsg], Vec<Decoded<'m>>),
) {
    let decode = |chunk: &'m [SourceMsg]| -> Vec<Decoded<'m>> {
        chunk.iter().map(|m| engine::decode(decoder, &m.payload, m.timestamp_ms, now)).collect()
    };
    let helpers = threads.saturating_sub(1);
    if helpers == 0 || msgs.len() < 2 * DECODE_CHUNK {
        for chunk in msgs.chunks(DECODE_CHUNK) {
            apply(chunk, decode(chunk));
        }
        return;
    }
    let chunks: Vec<&'m [SourceMsg]> = msgs.chunks(DECODE_CHUNK).collect();
    let work = Chunks::new(chunks.len());
    std::thread::scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|| {
                let _failed = work.on_panic();
                while let Some(j) = work.claim() {
                    work.put(j, decode(chunks[j]));
                }
            });
        }
        for (i, chunk) in chunks.iter().enumerate() {
            let decoded = loop {
                if let Some(d) = work.take(i) {
                    break d;
                }
                match work.claim() {
                    // Chunks are claimed in order and the ones before `i` are applied: the
                    // next one nobody has taken is `i` itself or one after it.
                    Some(j) if j == i => break decode(chunk),
                    Some(j) => work.put(j, decode(chunks[j])),
                    None => break work.wait(i),
                }
            };
            apply(chunk, decoded);
        }
    });
}

/// The chunks of one batch on their way from the decoding threads to the applying one: which is
/// the next to decode, and those decoded and not applied yet.
struct Chunks<T> {
    next: AtomicUsize,
    count: usize,
    done: Mutex<Done<T>>,
    filled: Condvar,
}

/// [`Chunks`] decoded and not applied yet, and whether a helper panicked.
struct Done<T> {
    ready: Vec<Option<T>>,
    helper_panicked: bool,
}

impl<T> Chunks<T> {
    fn new(count: usize) -> Self {
        let done = Mutex::new(Done { ready: (0..count).map(|_| None).collect(), helper_panicked: false });
        Chunks { next: 0.into(), count, done, filled: Condvar::new() }
    }

    /// The next chunk nobody has taken to decode, if any is left.
    fn claim(&self) -> Option<usize> {
        let j = self.next.fetch_add(1, Ordering::Relaxed);
        (j < self.count).then_some(j)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Done<T>> {
        self.done.lock().expect("no decoding thread panics holding the lock")
    }

    fn put(&self, j: usize, decoded: T) {
        self.lock().ready[j] = Some(decoded);
        self.filled.notify_all();
    }

    fn take(&self, i: usize) -> Option<T> {
        self.lock().ready[i].take()
    }

    /// Wait for chunk `i`, which a helper has claimed.
    fn wait(&self, i: usize) -> T {
        let mut done = self.lock();
        loop {
            if let Some(d) = done.ready[i].take() {
                return d;
            }
            assert!(!done.helper_panicked, "a decode thread panicked");
            done = self.filled.wait(done).expect("no decoding thread panics holding the lock");
        }
    }

    /// A guard that, if its thread panics, wakes the applying thread to fail instead of waiting
    /// for a chunk that will not come.
    fn on_panic(&self) -> impl Drop + '_ {
        struct Guard<'a, T>(&'a Chunks<T>);
        impl<T> Drop for Guard<'_, T> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    if let Ok(mut done) = self.0.done.lock() {
                        done.helper_panicked = true;
                    }
                    self.0.filled.notify_all();
                }
            }
        }
        Guard(self)
    }
}

/// What a commit writes per slot: the pending rows split by the slot of their source partition
/// (`stream_minute` rows come split by their stream's slot), each with the slot's share of
/// `checkpoint`.
fn slot_commits(mut p: Pending, checkpoint: engine::Checkpoint) -> Result<Vec<SlotCommit>> {
    // (slot, table, rows): the raw tables by the slot of each row's source partition.
    let mut rows: Vec<(i32, Table, RecordBatch)> = Vec::new();
    // The staged batches as they are (the lake's commit gathers each partition's rows from
    // them), each split by slot.
    let mut by_source = |table: Table, batches: Vec<RecordBatch>| -> Result<()> {
        for batch in batches {
            let sources = batch
                .column_by_name("src_partition")
                .and_then(|c| c.as_primitive_opt::<Int32Type>())
                .expect("a raw table has src_partition");
            rows.extend(engine::split_by_slot(&batch, sources.values())?.into_iter().map(|(slot, b)| (slot, table, b)));
        }
        Ok(())
    };
    if !p.player.is_empty() {
        by_source(Table::PlayerEvents, p.player.finish_batches()?)?;
    }
    if !p.commerce.is_empty() {
        by_source(Table::CommerceEvents, p.commerce.finish_batches()?)?;
    }
    if !p.dead.is_empty() {
        by_source(Table::Deadletter, vec![p.dead.finish()?])?;
    }
    rows.extend(p.minute.into_iter().map(|(slot, b)| (slot, Table::StreamMinute, b)));
    let mut slots: BTreeMap<i32, SlotCommit> = checkpoint
        .by_slot()
        .into_iter()
        .map(|(slot, checkpoint)| (slot, SlotCommit { slot, checkpoint, ..SlotCommit::default() }))
        .collect();
    for (slot, table, batch) in rows {
        slots.entry(slot).or_insert_with(|| SlotCommit { slot, ..SlotCommit::default() }).batches.push((table, batch));
    }
    Ok(slots.into_values().collect())
}

/// What the broker said about the consumer's partitions ([`LagQuery`]).
struct Answer {
    /// Messages behind the high watermark per assigned partition ([`KafkaClient::lag`]).
    lag: Option<Vec<(PartId, i64)>>,
    /// Partitions of the topics not assigned to this run ([`KafkaClient::unassigned`]).
    unassigned: Option<Vec<PartId>>,
}

/// The broker queries of the loop (lag, unassigned partitions: a request per partition and per
/// topic, which take from milliseconds to a few hundred when the broker is busy), on tokio's
/// blocking pool beside the loop, which picks the answer up once it is there. An answer about
/// offsets the engine has since moved past only overstates a backlog: windows stay open a
/// little longer, never close early.
struct LagQuery(tokio::task::JoinHandle<Answer>);

impl LagQuery {
    /// Ask, given the next offsets to process.
    fn start(k: &KafkaClient, next: Vec<(PartId, i64)>) -> Self {
        let k = k.clone();
        LagQuery(tokio::task::spawn_blocking(move || {
            let asked = std::time::Instant::now();
            let answer = Answer { lag: k.lag(&next), unassigned: k.unassigned() };
            debug!(ms = asked.elapsed().as_millis() as u64, "consumer lag fetched");
            answer
        }))
    }

    /// The answer of the query in `q`, once it has come (the query is then done).
    async fn answered(q: &mut Option<LagQuery>) -> Option<Answer> {
        if !q.as_ref().is_some_and(|q| q.0.is_finished()) {
            return None;
        }
        let LagQuery(task) = q.take()?;
        Some(task.await.expect("a broker query does not panic"))
    }
}

/// How often the live board gets provisional figures of the open windows (ms).
const PROVISIONAL_EVERY_MS: i64 = 1_000;

/// Run the pipeline until the input ends (file, or Kafka with `until_idle_secs`) or `shutdown`
/// turns true; flushes and commits before returning.
pub async fn run(
    cfg: &Config,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    board: Option<Arc<Board>>,
    shutdown: watch::Receiver<bool>,
) -> Result<RunSummary> {
    let now = clock.now_ms();
    let mut lake = Lake::open(&cfg.lake.url()?, now).await?;
    let mut engine = Engine::new(cfg.engine(), cfg.reference.decoder()?, metrics.clone());
    if let Some(b) = &board {
        engine.add_live(b.clone());
    }
    let (max, poll_wait) = (cfg.source.batch_max, Duration::from_millis(cfg.source.poll_ms));
    let mut source = if let Some(path) = cfg.source.kind.strip_prefix("file:") {
        let path = PathBuf::from(path);
        let part = FileSource::part_id(&path)?;
        take_slot(&mut lake, &mut engine, part.partition, now).await?;
        let from = engine.position(&part).unwrap_or(1);
        engine.exhaust_unread(|p| *p == part);
        info!(file = %path.display(), from_line = from, "reading NDJSON");
        engine.set_ready();
        let file = FileSource::open(&path, from)?.with_replay_speed(cfg.source.replay_speed);
        let batches = Prefetch::spawn(file, max, poll_wait, PREFETCH_BATCHES)?;
        Source { batches, kafka: None, file: Some(part) }
    } else {
        let k = &cfg.kafka;
        // The slots come with the group's assignments (Poll::Assign).
        engine.hold_assigned_only();
        let sc = KafkaSourceConfig {
            kafka: k.client(),
            group_id: k.group_id.clone(),
            topics: vec![k.player_topic.clone(), k.commerce_topic.clone()],
        };
        if !k.live_topic.is_empty() {
            engine.add_live(Arc::new(LiveTopic::new(&k.client(), &k.live_topic)?));
        }
        let consumer = KafkaSource::open(&sc)?;
        let kafka = Some(consumer.client());
        Source { batches: Prefetch::spawn(consumer, max, poll_wait, PREFETCH_BATCHES)?, kafka, file: None }
    };
    let dlq = match (&source.kafka, cfg.kafka.deadletter_topic.is_empty()) {
        (Some(_), false) => Some(DeadLetterTopic::new(&cfg.kafka.client(), &cfg.kafka.deadletter_topic)?),
        _ => None,
    };
    let mut r = Runner {
        cfg,
        clock: clock.clone(),
        metrics: metrics.clone(),
        engine,
        lake: Some(lake),
        in_flight: None,
        dlq,
        summary: RunSummary::default(),
        dirty: false,
        threads: cfg.run.threads(),
    };
    let mut last_message_at = clock.now_ms();
    let mut first_message_at: Option<i64> = None;
    let mut last_real_message_at = 0i64;
    let mut last_lag_at = 0i64;
    let mut lag_query: Option<LagQuery> = None;
    // Partitions of the topics not assigned to this run, while it waits for them to finish.
    let mut waiting_for_assignment: Option<usize> = None;
    let mut last_provisional_at = 0i64;
    let mut ended = false;
    let mut align = Alignment::new(cfg.source.max_skew_secs);
    // Where the loop's time goes (debug log at the end): waiting for messages; processing (lag
    // checks and window SQL included); commits (the final one excluded).
    let (mut t_poll, mut t_process, mut t_commit) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    while !*shutdown.borrow() {
        let t0 = std::time::Instant::now();
        let batch = source.batches.next(poll_wait).await?;
        let msgs = match batch {
            Poll::Messages(m) => m,
            Poll::End => {
                if let Some(part) = &source.file {
                    r.engine.exhaust(part);
                }
                ended = true;
                Vec::new()
            }
            Poll::Revoke { parts, done } => {
                r.hand_back(&parts, source.kafka.as_ref()).await?;
                drop(done);
                continue;
            }
            Poll::Assign { parts, positions } => {
                let from = r.take_assigned(&parts, source.kafka.as_ref()).await?;
                let _ = positions.send(from);
                continue;
            }
        };
        let now = clock.now_ms();
        let t1 = std::time::Instant::now();
        t_poll += t1 - t0;
        if !msgs.is_empty() {
            last_message_at = now;
            first_message_at.get_or_insert(now);
            r.handle(&msgs);
            last_real_message_at = clock.now_ms();
            if let Some(k) = &source.kafka {
                align.update(&r.engine, k);
            }
        }
        if let Some(k) = &source.kafka {
            let until_idle_ms = (cfg.source.until_idle_secs * 1000) as i64;
            if lag_query.is_none() && now - last_lag_at >= 2_000 {
                last_lag_at = now;
                lag_query = Some(LagQuery::start(k, r.engine.next_offsets()));
            }
            if let Some(answer) = LagQuery::answered(&mut lag_query).await {
                let Answer { lag, unassigned } = answer;
                if let Some(lag) = &lag {
                    for (p, l) in lag {
                        metrics.set_lag(&p.topic, p.partition, *l);
                        metrics.set_assigned(&p.topic, p.partition, true);
                        r.engine.set_backlog(p, *l > 0, now);
                    }
                }
                // A partition of the topics that another member of the group holds (a crashed
                // run's, until its session times out) or that the group has not assigned yet is
                // unread: it holds the windows as a partition with a backlog does, or they would
                // close without its streams' events.
                for p in unassigned.iter().flatten() {
                    metrics.set_assigned(&p.topic, p.partition, false);
                    metrics.set_lag(&p.topic, p.partition, 0);
                    r.engine.set_backlog(p, true, now);
                }
                if lag.is_some() && unassigned.is_some() {
                    r.engine.set_ready();
                }
                // The backlogs just changed: a partition paused ahead of one that has now caught
                // up resumes here (no message may arrive to do it: the others may be idle).
                align.update(&r.engine, k);
                align.refresh(&r.engine, k);
                // "Quiet" counts from the last moment we were not provably caught up: a message,
                // an unreachable broker, no assignment yet, lag, or a partition of the topics not
                // assigned to this run (finishing would close its streams' windows without it).
                let unassigned = unassigned.map(|u| u.len());
                if lag.is_some() && unassigned.is_some_and(|n| n > 0) && waiting_for_assignment != unassigned {
                    info!(
                        unassigned = ?unassigned,
                        "partitions of the topics are not assigned to this run: windows stay open; waiting for the group to assign the others"
                    );
                }
                waiting_for_assignment = unassigned.filter(|n| *n > 0);
                let caught_up = unassigned == Some(0) && lag.as_ref().is_some_and(|l| l.iter().all(|(_, n)| *n <= 0));
                if !caught_up {
                    last_message_at = now;
                }
                if until_idle_ms > 0 && msgs.is_empty() && now - last_message_at >= until_idle_ms {
                    info!(idle_secs = (now - last_message_at) / 1000, "caught up and idle: finishing");
                    r.engine.exhaust_all();
                    ended = true;
                }
            }
        }
        if ended || r.threads == 1 {
            // Every window that the end of input makes final closes now; and with one thread
            // nothing would run the window job beside the loop.
            r.engine.finalize(now).await?;
        } else {
            // The window job runs beside the next messages; what reads its results settles it.
            r.engine.close_windows(now).await?;
        }
        if r.engine.has_live() && now - last_provisional_at >= PROVISIONAL_EVERY_MS {
            last_provisional_at = now;
            // The live figures of the minutes still open; the lake never sees them.
            if let Err(e) = r.engine.publish_provisional(now).await {
                warn!(error = %e, "provisional figures for the live board failed");
            }
        }
        let t2 = std::time::Instant::now();
        t_process += t2 - t1;
        let kafka = source.kafka.as_ref();
        if ended {
            let before = clock.now_ms();
            r.commit(kafka).await?;
            r.finish_commit(kafka).await?;
            let flush = clock.now_ms() - before;
            if let Some(first) = first_message_at {
                r.summary.busy_ms = (last_real_message_at - first).max(0) + flush;
            }
            if let Some(b) = &board {
                b.set_ended();
            }
            break;
        }
        r.finish_commit_if_done(kafka).await?;
        if r.should_commit(now) {
            r.commit(kafka).await?;
        }
        t_commit += t2.elapsed();
    }
    debug!(
        max_spread_s = align.max_spread_ms as f64 / 1000.0,
        pauses = align.pauses,
        poll_s = t_poll.as_secs_f64(),
        process_s = t_process.as_secs_f64(),
        commit_s = t_commit.as_secs_f64(),
        "time in the loop"
    );
    if !ended {
        info!("shutting down: flushing and committing");
        let now = clock.now_ms();
        r.engine.finalize(now).await?;
        let kafka = source.kafka.as_ref();
        r.commit(kafka).await?;
    }
    r.finish_commit(source.kafka.as_ref()).await?;
    Ok(r.summary)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn decoding_on_threads_keeps_the_order_and_the_results() {
        let decoder = Decoder::default();
        let part = PartId { topic: Arc::from("t"), partition: 0 };
        let msgs: Vec<SourceMsg> = (0..2_000)
            .map(|i| {
                let payload = if i % 97 == 0 {
                    b"{not json".to_vec()
                } else {
                    format!(
                        r#"{{"v":1,"event_id":"e{i}","type":"heartbeat","ts":{},"stream_id":"s","session_id":"x{i}","country":"DE","play_ms":{i}}}"#,
                        1_795_264_800_000i64 + i
                    )
                    .into_bytes()
                };
                SourceMsg { part: part.clone(), offset: i, key: None, payload: payload.into(), timestamp_ms: None }
            })
            .collect();
        let decoder = Arc::new(decoder);
        let run = |threads: usize| {
            let mut seen = Vec::new();
            decode_ahead(&decoder, &msgs, 1_795_264_900_000, threads, |chunk, decoded| {
                assert_eq!(chunk.len(), decoded.len());
                seen.extend(chunk.iter().zip(decoded).map(|(m, d)| (m.offset, format!("{d:?}"))));
            });
            seen
        };
        let one = run(1);
        assert_eq!(one.len(), msgs.len());
        assert!(one.iter().filter(|(_, d)| d.contains("event: Err")).count() >= 20);
        assert!(one.iter().enumerate().all(|(i, (o, _))| *o == i as i64), "in the source's order");
        for threads in [2, 3, 4, 7] {
            assert_eq!(one, run(threads), "{threads} threads");
        }
    }

    #[test]
    fn a_chunk_is_claimed_once_and_a_helper_that_panics_wakes_the_waiting_thread() {
        let work = Chunks::<u32>::new(3);
        assert_eq!([work.claim(), work.claim(), work.claim(), work.claim()], [Some(0), Some(1), Some(2), None]);
        work.put(1, 11);
        assert_eq!(work.take(0), None);
        assert_eq!(work.take(1), Some(11));
        assert_eq!(work.take(1), None, "taken once");
        let waited = std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(50));
                work.put(2, 22);
            });
            work.wait(2)
        });
        assert_eq!(waited, 22);
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    let _failed = work.on_panic();
                    std::thread::sleep(Duration::from_millis(50));
                    panic!("decoding failed");
                });
                work.wait(0)
            })
        }));
        assert!(failed.is_err(), "the waiting thread fails instead of waiting for ever");
    }
}
