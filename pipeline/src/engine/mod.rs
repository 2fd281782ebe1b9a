//! The deterministic core of `livelake run`: messages in (from any source) → validated,
//! deduplicated events → raw rows, dead letters and event-time windows → `stream_minute` rows
//! when windows become final. No I/O here; the runner feeds it and the sink persists its output.
//!
//! Determinism is what makes exactly-once recovery work: given the same per-partition message
//! order, the same rows come out. An event is late when its own partition's watermark had passed
//! its window's end + session timeout before it arrived (or its window was already emitted), so
//! the interleaving of partitions does not change which events a window holds.
//!
//! Finality is per stream: a stream's window is final when the watermarks of the partitions of
//! its number have passed it — the topics are co-partitioned, so a stream's events come from
//! partition n of each topic (a stream restored from a commit waits for the partitions of the
//! slot — partition number — it was checkpointed with) — where a partition that is caught up and quiet counts as idle (its
//! watermark moves with the wall clock, or does not hold anything back if it never carried an
//! event). Until the source has said which partitions
//! exist and which still have a backlog, nothing is final; a partition restored from the lake
//! counts as having a backlog until the source reports on it (it may have a replay ahead of it).
//!
//! Exactly once across restarts: a commit records per partition the furthest offset whose
//! effects are in the lake, and a restart replays from an earlier point only to rebuild state.
//! The checkpoint splits by slot ([`Checkpoint::by_slot`]): a slot's partitions, the streams
//! they carry (a stream's slot is the first partition number that carried it) and those
//! streams' session state.
//! While a partition replays, commits keep recording its restored positions (never the replay
//! position), so positions in successive commits never move back.

mod checkpoint;
mod dedup;
mod partition;
mod state;
mod windows;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::array::RecordBatch;
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use livelake_jobs::{WindowInputs, WindowJob};
use livelake_schemas::{CommerceRows, DeadletterRows, Decoder, Event, Family, PlayerRows, Rejection, SourcePos, Table};

pub use checkpoint::{Checkpoint, PartCheckpoint, StreamCheckpoint};
pub use dedup::touch_ahead;
pub use livelake_jobs::rules::StateError;
use livelake_jobs::rules::{Observation, Regions, RuleConfig, StreamSessions};
use livelake_jobs::window_start;
pub use partition::{PartId, PartState, event_key};
pub use windows::Staged;
use windows::{OpenRows, StreamWindows};

use tracing::{info, warn};

use crate::ops::{LiveOut, Metrics};

/// The session snapshot of one stream's state, as a commit writes it (for size measurements).
pub fn encode_sessions(s: &StreamSessions, stream_id: &str, regions: &Regions) -> Vec<u8> {
    state::encode(std::iter::once((stream_id, s)), regions)
}

/// What [`decode`] made of a message: its event, or why it was rejected; and the event's dedup
/// key ([`event_key`]; 0 for a rejected message).
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The event, or why it was rejected.
    pub event: Result<Event<'a>, Rejection>,
    /// Its dedup key.
    pub key: u128,
}

/// Decode one message: its producer/broker timestamp, or `now` (wall clock) where it has none,
/// is the processing clock `bad_timestamp` is judged by. Pure: any thread may run it.
pub fn decode<'a>(decoder: &Decoder, payload: &'a [u8], timestamp_ms: Option<i64>, now: i64) -> Decoded<'a> {
    let event = decoder.decode(payload, timestamp_ms.unwrap_or(now));
    let key = event.as_ref().map_or(0, |e| event_key(&e.stream_id, &e.event_id));
    Decoded { event, key }
}

/// Event-time settings of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Window width (ms).
    pub width_ms: i64,
    /// Allowed lateness (ms): watermark = max event time − this.
    pub lateness_ms: i64,
    /// Session timeout (ms): a window is final when the watermark reaches its end + this.
    pub session_timeout_ms: i64,
    /// Dedup horizon (ms of event time).
    pub dedup_horizon_ms: i64,
    /// Wall-clock time without messages after which a partition counts as idle (ms).
    pub idle_ms: i64,
}

impl EngineConfig {
    /// The parameters of the metric rules (window width, session timeout).
    pub fn rules(&self) -> RuleConfig {
        RuleConfig { width_ms: self.width_ms, session_timeout_ms: self.session_timeout_ms }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            width_ms: 60_000,
            lateness_ms: 30_000,
            session_timeout_ms: 60_000,
            dedup_horizon_ms: 15 * 60_000,
            idle_ms: 30_000,
        }
    }
}

/// One message from a source.
#[derive(Debug, Clone, Copy)]
pub struct Msg<'a> {
    /// Source partition.
    pub part: &'a PartId,
    /// Offset (Kafka offset, or line number of a file).
    pub offset: i64,
    /// Message bytes.
    pub payload: &'a [u8],
    /// Producer/broker timestamp, used as the processing clock for `bad_timestamp`.
    pub timestamp_ms: Option<i64>,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Already processed before (offset below the partition's next offset).
    Skipped,
    /// Re-processed only to rebuild state after a restart; nothing written again.
    Replayed,
    /// A valid, new event; `late` when its window was already final.
    Accepted {
        /// The event arrived after its window was final.
        late: bool,
    },
    /// A repeated `event_id` within the dedup horizon: dropped.
    Duplicate,
    /// Rejected with a reason: goes to the dead-letter topic and table.
    Rejected(Rejection),
}

/// Rows waiting to be written by the next commit.
pub struct Pending {
    /// `player_events` rows.
    pub player: Staged<PlayerRows>,
    /// `commerce_events` rows.
    pub commerce: Staged<CommerceRows>,
    /// `deadletter` rows.
    pub dead: DeadletterRows,
    /// `stream_minute` rows (with `region`), per slot of their streams.
    pub minute: Vec<(i32, RecordBatch)>,
    /// Wall-clock time the oldest pending row arrived.
    pub since_wall: Option<i64>,
    /// Wall-clock time the oldest pending `stream_minute` row was computed.
    pub minute_since: Option<i64>,
    /// Rough in-memory size of the pending rows.
    pub bytes: usize,
}

impl Pending {
    fn new() -> Self {
        Pending {
            player: Staged::new(PlayerRows::with_capacity(4096)),
            commerce: Staged::new(CommerceRows::with_capacity(4096)),
            dead: DeadletterRows::with_capacity(64),
            minute: Vec::new(),
            since_wall: None,
            minute_since: None,
            bytes: 0,
        }
    }

    /// Rows pending in all tables.
    pub fn rows(&self) -> usize {
        self.player.len()
            + self.commerce.len()
            + self.dead.len()
            + self.minute.iter().map(|(_, b)| b.num_rows()).sum::<usize>()
    }
}

/// A window job running beside the engine, with what applying its results needs: each closed
/// stream's new finality point, and the wall-clock time the windows closed at.
struct Closing {
    job: tokio::task::JoinHandle<Result<livelake_jobs::WindowOutput, livelake_jobs::Error>>,
    untils: HashMap<String, i64>,
    now: i64,
}

/// The engine. See the module docs.
pub struct Engine {
    cfg: EngineConfig,
    decoder: Arc<Decoder>,
    parts: BTreeMap<PartId, PartState>,
    /// Partitions still replaying after a restart, as the restored checkpoint recorded them:
    /// their messages below `next_offset` rebuild state only, and until a partition has read up
    /// to there, a commit records these positions, not its replay position (the lake already
    /// holds everything below them).
    replaying: HashMap<PartId, PartCheckpoint>,
    streams: BTreeMap<String, StreamWindows>,
    /// The on-time rows of open windows, all streams together.
    open_player: OpenRows,
    open_commerce: OpenRows,
    regions: Regions,
    pending: Pending,
    metrics: Arc<Metrics>,
    /// Where live figures go (the board, the live topic): each window's row as it closes, and
    /// provisional rows of the open ones ([`Engine::publish_provisional`]).
    live: Vec<Arc<dyn LiveOut>>,
    /// The window job, planned at the first window that closes.
    window_job: Option<Arc<WindowJob>>,
    /// The window job running beside the engine ([`Engine::close_windows`]), if any.
    closing: Option<Closing>,
    /// The source has told us its partitions: finality may proceed.
    ready: bool,
    /// The slots this engine processes (`None`: every slot, as with a file); messages of any
    /// other slot are skipped. A consumer-group member holds the slots of its assignment.
    held: Option<BTreeSet<i32>>,
    /// Slots whose partitions were revoked after a commit: their state is kept, their messages
    /// skipped, until the next assignment says whether they come back.
    parked: BTreeSet<i32>,
}

impl Engine {
    /// A fresh engine.
    pub fn new(cfg: EngineConfig, decoder: Decoder, metrics: Arc<Metrics>) -> Self {
        Engine {
            cfg,
            decoder: Arc::new(decoder),
            parts: BTreeMap::new(),
            replaying: HashMap::new(),
            streams: BTreeMap::new(),
            open_player: OpenRows::new(Table::PlayerEvents),
            open_commerce: OpenRows::new(Table::CommerceEvents),
            regions: Regions::default(),
            pending: Pending::new(),
            metrics,
            live: Vec::new(),
            window_job: None,
            closing: None,
            ready: false,
            held: None,
            parked: BTreeSet::new(),
        }
    }

    /// Process only the slots given to [`Engine::hold`] from now on (a member of a consumer
    /// group: the slots come and go with its assignment).
    pub fn hold_assigned_only(&mut self) {
        self.held.get_or_insert_with(BTreeSet::new);
    }

    /// Process the messages of `slot` (restored or new).
    pub fn hold(&mut self, slot: i32) {
        self.parked.remove(&slot);
        if let Some(h) = &mut self.held {
            h.insert(slot);
        }
    }

    /// Whether the messages of `slot` are processed.
    pub fn holds(&self, slot: i32) -> bool {
        self.held.as_ref().is_none_or(|h| h.contains(&slot))
    }

    /// Stop processing `slot` but keep its state (its partitions were revoked right after a
    /// commit; the next assignment may give them back).
    pub fn park(&mut self, slot: i32) {
        if let Some(h) = &mut self.held
            && h.remove(&slot)
        {
            self.parked.insert(slot);
        }
    }

    /// The slots parked by [`Engine::park`].
    pub fn parked(&self) -> Vec<i32> {
        self.parked.iter().copied().collect()
    }

    /// Forget everything of `slot`: its partitions, its streams with their open windows'
    /// rows and session state (another worker holds the slot now). Call when a commit has taken
    /// the slot's pending rows.
    pub fn drop_slot(&mut self, slot: i32) -> Result<(), crate::Error> {
        self.assert_settled("dropping a slot");
        self.parked.remove(&slot);
        if let Some(h) = &mut self.held {
            h.remove(&slot);
        }
        let gone: HashMap<String, i64> = self
            .streams
            .iter()
            .filter(|(_, sw)| sw.slot() == Some(slot))
            .map(|(id, _)| (id.clone(), i64::MAX))
            .collect();
        self.streams.retain(|id, _| !gone.contains_key(id));
        self.seal_staged()?;
        self.open_player.take_before(&gone, self.cfg.width_ms)?;
        self.open_commerce.take_before(&gone, self.cfg.width_ms)?;
        self.pending.minute.retain(|(s, _)| *s != slot);
        self.parts.retain(|id, _| id.partition != slot);
        self.replaying.retain(|id, _| id.partition != slot);
        info!(slot, streams = gone.len(), "slot dropped: another worker holds it");
        Ok(())
    }

    /// The next offset to read of `part`, when it has a position.
    pub fn position(&self, part: &PartId) -> Option<i64> {
        self.parts.get(part).filter(|p| p.positioned).map(|p| p.next_offset)
    }

    /// Send each window's `stream_minute` row as it closes, and provisional rows of the open
    /// ones, to `out` too.
    pub fn add_live(&mut self, out: Arc<dyn LiveOut>) {
        self.live.push(out);
    }

    /// Whether anything takes live figures.
    pub fn has_live(&self) -> bool {
        !self.live.is_empty()
    }

    /// Publish provisional rows of the open windows ([`Engine::provisional`]) to the live outputs.
    pub async fn publish_provisional(&mut self, now: i64) -> Result<(), crate::Error> {
        if self.live.is_empty() {
            return Ok(());
        }
        let rows = self.provisional().await?;
        for out in &self.live {
            out.publish(&rows, true, now);
        }
        Ok(())
    }

    /// The source knows its partitions (all registered, backlogs reported): windows may close.
    pub fn set_ready(&mut self) {
        self.ready = true;
    }

    /// Register a source partition (assigned but maybe silent) and whether it still has a
    /// backlog to read. A partition with a backlog never counts as idle.
    pub fn set_backlog(&mut self, part: &PartId, backlog: bool, now: i64) {
        let p = self.parts.entry(part.clone()).or_insert_with(|| PartState::unpositioned(now));
        p.backlog = backlog;
    }

    /// The settings.
    pub fn config(&self) -> EngineConfig {
        self.cfg
    }

    /// Process one message at wall-clock time `now`.
    pub fn process(&mut self, m: Msg<'_>, now: i64) -> Outcome {
        let decoded = decode(&self.decoder, m.payload, m.timestamp_ms, now);
        self.apply(m, &decoded, now)
    }

    /// The decoder of the engine's schema and reference data ([`Engine::apply`] takes what it
    /// made of a message; decoding is pure, so any thread may run it).
    pub fn decoder(&self) -> &Arc<Decoder> {
        &self.decoder
    }

    /// Load where the dedup lookups of these messages (partition, [`Decoded::key`]) will look:
    /// a hint, a few messages ahead of [`Engine::apply`], that lets their cache misses overlap
    /// instead of following one another.
    pub fn touch<'p>(&self, keys: impl IntoIterator<Item = (&'p PartId, u128)>) {
        let mut last: Option<(&PartId, &PartState)> = None;
        for (part, key) in keys {
            let st = match last {
                Some((p, st)) if p == part => st,
                _ => match self.parts.get(part) {
                    Some(st) => {
                        last = Some((part, st));
                        st
                    }
                    None => continue,
                },
            };
            st.touch(key);
        }
    }

    /// Process one message at wall-clock time `now`, already [`decode`]d with the engine's
    /// [`Engine::decoder`].
    pub fn apply<'a>(&mut self, m: Msg<'a>, decoded: &Decoded<'a>, now: i64) -> Outcome {
        if !self.holds(m.part.partition) {
            return Outcome::Skipped;
        }
        let st = match self.parts.get_mut(m.part) {
            Some(st) => st,
            None => self.parts.entry(m.part.clone()).or_insert_with(|| PartState::new(m.offset, i64::MIN, now)),
        };
        if m.offset < st.next_offset {
            return Outcome::Skipped;
        }
        let replay = match self.replaying.get(m.part) {
            Some(r) if m.offset < r.next_offset => {
                if m.offset + 1 >= r.next_offset {
                    info!(partition = %m.part, offset = m.offset, "replay done: state rebuilt up to the lake's position");
                    self.replaying.remove(m.part);
                }
                true
            }
            Some(r) => {
                // The rest of the replay is gone from the topic (retention): the state is rebuilt
                // from what was there.
                warn!(
                    partition = %m.part,
                    offset = m.offset,
                    lake_next_offset = r.next_offset,
                    "replay ended early: offsets below the lake's position are missing from the topic"
                );
                self.replaying.remove(m.part);
                false
            }
            None => false,
        };
        st.next_offset = m.offset + 1;
        st.positioned = true;
        st.last_seen_wall = now;
        let pos = SourcePos { partition: m.part.partition, offset: m.offset };
        if replay {
            self.metrics.replayed.inc();
        }
        let event = match &decoded.event {
            Ok(e) => e,
            Err(rejection) => {
                if replay {
                    return Outcome::Replayed;
                }
                let reason = rejection.reason.to_string();
                self.metrics.dead_letter(&reason);
                self.pending.dead.append(now, &m.part.topic, pos, &reason, m.payload, rejection.region.as_deref());
                self.touch_pending(now, m.payload.len());
                return Outcome::Rejected(rejection.clone());
            }
        };
        if st.is_repeat(decoded.key, event.ts_ms, m.offset, self.cfg.dedup_horizon_ms) {
            if replay {
                return Outcome::Replayed;
            }
            self.metrics.duplicates.inc();
            return Outcome::Duplicate;
        }
        let max_before = st.max_ts;
        st.max_ts = st.max_ts.max(event.ts_ms);
        let ws = window_start(event.ts_ms, self.cfg.width_ms);
        let window_end = ws + self.cfg.width_ms;
        let sw = match self.streams.get_mut(&*event.stream_id) {
            Some(sw) => sw,
            None => self.streams.entry(event.stream_id.to_string()).or_insert_with(|| StreamWindows::new(i64::MIN)),
        };
        sw.last_event_ts = sw.last_event_ts.max(event.ts_ms);
        sw.carried_by(m.part.partition);
        let own_watermark = max_before.saturating_sub(self.cfg.lateness_ms);
        let late =
            window_end.saturating_add(self.cfg.session_timeout_ms) <= own_watermark || window_end <= sw.emitted_until;
        if !late {
            sw.add(ws, m.part, pos);
            if !replay {
                // A replay rebuilds windows only: the session state came with the checkpoint.
                let region = self.regions.id(&event.region);
                let o = Observation::of(event, region, own_watermark);
                sw.sessions.observe(o, self.cfg.session_timeout_ms);
            }
        }
        // One row per event: written unless replayed, buffered for its window while on time.
        if !(replay && late) {
            let (write, open) = (!replay, !late);
            match event.kind().family() {
                Family::Player => self.pending.player.append(event, now, pos, write, open),
                Family::Commerce => self.pending.commerce.append(event, now, pos, write, open),
            };
        }
        if replay {
            return Outcome::Replayed;
        }
        if late {
            self.metrics.late_events.inc();
        }
        self.touch_pending(now, m.payload.len());
        Outcome::Accepted { late }
    }

    fn touch_pending(&mut self, now: i64, bytes: usize) {
        self.pending.since_wall.get_or_insert(now);
        self.pending.bytes += bytes;
    }

    /// Mark a partition exhausted (end of a file): its watermark becomes +∞.
    pub fn exhaust(&mut self, part: &PartId) {
        if let Some(p) = self.parts.get_mut(part) {
            p.exhausted = true;
        }
    }

    /// Mark exhausted every known partition that `read` says the source does not read (a topic
    /// no longer consumed, another file): they can never deliver again, so they must not hold
    /// windows open.
    ///
    /// A restored partition among them keeps its restored positions in every commit: it is never
    /// read, so its replay never reaches them (recording its replay position instead would move
    /// the lake's position back, and a later run of that input would write rows twice).
    pub fn exhaust_unread(&mut self, read: impl Fn(&PartId) -> bool) {
        for (id, p) in self.parts.iter_mut() {
            if !read(id) {
                p.exhausted = true;
            }
        }
    }

    /// Mark every known partition exhausted (the input has ended).
    pub fn exhaust_all(&mut self) {
        for p in self.parts.values_mut() {
            p.exhausted = true;
        }
    }

    /// Run the window job for every window that is final at wall-clock `now`; the rows join the
    /// pending output. Returns the number of `stream_minute` rows produced (by this call, and by
    /// a job [`Engine::close_windows`] left running).
    pub async fn finalize(&mut self, now: i64) -> Result<usize, crate::Error> {
        let before = self.settle().await?;
        self.close_windows(now).await?;
        Ok(before + self.settle().await?)
    }

    /// Start the window job for every window that is final at wall-clock `now`: the engine
    /// takes the next messages while it runs. While the job started before is still running,
    /// nothing happens (the windows close at a later call, together with those final by then);
    /// once it has finished, it is settled first.
    ///
    /// A job's results are applied by [`Engine::settle`], which everything that reads them calls
    /// first (the next closing, the provisional rows), and which must come before taking the
    /// pending output, a checkpoint, dropping or restoring a slot (those assert it). Nothing that
    /// applying a message reads depends on them (the suspects and the start counts of final
    /// windows are read when windows close), and which windows close together does not change
    /// their rows, so the results are the same as with the job awaited at once.
    pub async fn close_windows(&mut self, now: i64) -> Result<(), crate::Error> {
        if self.closing.as_ref().is_some_and(|c| !c.job.is_finished()) {
            return Ok(());
        }
        self.settle().await?;
        let cfg = self.cfg;
        if !self.ready || self.parts.is_empty() {
            return Ok(());
        }
        // Finality per stream: the topics are co-partitioned, so a stream's events come from
        // partition n of each topic, and its windows wait for those partitions only (the
        // minimum over every partition for a stream whose partitions are not known yet).
        let mut all = i64::MAX;
        let mut by_number: HashMap<i32, i64> = HashMap::new();
        for (id, p) in &self.parts {
            let w = p.finality_watermark(cfg.lateness_ms, cfg.idle_ms, now);
            all = all.min(w);
            let n = by_number.entry(id.partition).or_insert(i64::MAX);
            *n = (*n).min(w);
        }
        let until_of = |sw: &StreamWindows| {
            let wm = sw.partitions().iter().map(|n| by_number.get(n).copied().unwrap_or(all)).min().unwrap_or(all);
            match wm {
                i64::MIN => i64::MIN,
                i64::MAX => i64::MAX,
                wm => window_start(wm.saturating_sub(cfg.session_timeout_ms), cfg.width_ms),
            }
        };
        let mut untils: HashMap<String, i64> = HashMap::new();
        let mut inputs = WindowInputs { width_ms: cfg.width_ms, ..Default::default() };
        let mut any = false;
        // A parked slot is frozen: its windows close with whoever holds it next (closing them here
        // would publish final rows that a slot handed to another run never commits).
        let held = self.held.clone();
        for (id, sw) in self.streams.iter_mut() {
            if let (Some(held), Some(slot)) = (&held, sw.slot())
                && !held.contains(&slot)
            {
                continue;
            }
            let until = until_of(sw);
            if until <= sw.emitted_until {
                continue;
            }
            let has_events = sw.take_final(until, cfg.width_ms);
            let closed = sw.sessions.close(id, until, cfg.session_timeout_ms, &self.regions);
            if !has_events {
                debug_assert!(closed.exits.is_empty(), "an exit always comes with its window's events");
                continue;
            }
            any = true;
            untils.insert(id.clone(), until);
            inputs.exits.extend(closed.exits);
            inputs.probes.extend(closed.probes);
            inputs.history.extend(sw.sessions.history_rows(id, &self.regions));
            inputs.suspects.extend(sw.sessions.suspects().map(|s| (id.clone(), s.to_string())));
        }
        if !any {
            return Ok(());
        }
        // The final windows' rows: a stream's buffered rows before its `until` are exactly those
        // of its windows that just became final (an earlier window of a stream already emitted
        // past `until` would have made them late).
        self.seal_staged()?;
        inputs.player = self.open_player.take_before(&untils, cfg.width_ms)?;
        inputs.commerce = self.open_commerce.take_before(&untils, cfg.width_ms)?;
        let job = self.window_job().await?;
        self.closing = Some(Closing { job: tokio::spawn(async move { job.run(inputs).await }), untils, now });
        Ok(())
    }

    /// Wait for the window job [`Engine::close_windows`] started, if any, and apply its results:
    /// the new suspects and each final window's start count join the session state, the rows
    /// join the pending output and go to the live outputs. Returns the number of rows.
    pub async fn settle(&mut self) -> Result<usize, crate::Error> {
        let Some(Closing { job, untils, now }) = self.closing.take() else { return Ok(0) };
        let cfg = self.cfg;
        let out = job.await.expect("the window job does not panic")?;
        self.metrics.suspects.inc_by(out.new_suspects.len() as u64);
        for (stream, session) in &out.new_suspects {
            if let Some(sw) = self.streams.get_mut(stream) {
                sw.sessions.add_suspect(session);
            }
        }
        // Each final window's start count feeds the spike rule of the windows after it.
        for b in &out.minute {
            let col = |name: &str| b.column_by_name(name).expect("stream_minute column");
            let streams = col("stream_id").as_string::<i32>();
            let regions = col("region").as_string::<i32>();
            let starts = col("window_start").as_primitive::<TimestampMillisecondType>();
            let started = col("sessions_started_raw").as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                if let (Some(sw), Some(until)) = (self.streams.get_mut(streams.value(i)), untils.get(streams.value(i)))
                {
                    let region = self.regions.id(regions.value(i));
                    sw.sessions.record_window(region, starts.value(i), started.value(i), *until, cfg.width_ms);
                }
            }
        }
        let n: usize = out.minute.iter().map(|b| b.num_rows()).sum();
        self.metrics.windows_closed.inc_by(n as u64);
        for live in &self.live {
            live.publish(&out.minute, false, now);
        }
        for b in out.minute {
            let streams = b.column_by_name("stream_id").expect("stream_minute column").as_string::<i32>();
            let slots: Vec<i32> = streams
                .iter()
                .map(|s| self.streams.get(s.unwrap_or_default()).and_then(StreamWindows::slot).unwrap_or(0))
                .collect();
            self.pending.minute.extend(split_by_slot(&b, &slots)?);
        }
        self.pending.since_wall.get_or_insert(now);
        self.pending.minute_since.get_or_insert(now);
        Ok(n)
    }

    /// Provisional `stream_minute` rows of the windows still open, from what has arrived so far
    /// (the live board): the same window SQL as the final rows, over copies of the open windows'
    /// rows and the session facts known so far ([`StreamSessions::provisional`]); nothing of the
    /// engine's state changes but settling a running window job and sealing the staged rows.
    pub async fn provisional(&mut self) -> Result<Vec<RecordBatch>, crate::Error> {
        self.settle().await?;
        self.seal_staged()?;
        let width_ms = self.cfg.width_ms;
        let mut inputs = WindowInputs { width_ms, ..Default::default() };
        for (id, sw) in &self.streams {
            if !sw.has_open() {
                continue;
            }
            let known = sw.sessions.provisional(id, &self.regions);
            inputs.exits.extend(known.exits);
            inputs.probes.extend(known.probes);
            inputs.history.extend(sw.sessions.history_rows(id, &self.regions));
            inputs.suspects.extend(sw.sessions.suspects().map(|s| (id.clone(), s.to_string())));
        }
        inputs.player = self.open_player.copy_all(width_ms)?;
        inputs.commerce = self.open_commerce.copy_all(width_ms)?;
        if inputs.player.is_empty() && inputs.commerce.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.window_job().await?.run(inputs).await?.minute)
    }

    /// The window job, planned once.
    async fn window_job(&mut self) -> Result<Arc<WindowJob>, crate::Error> {
        if self.window_job.is_none() {
            self.window_job = Some(Arc::new(WindowJob::with_partitions(1).await?));
        }
        Ok(self.window_job.clone().expect("planned above"))
    }

    /// Panics when a window job is still running: its results must be settled first
    /// ([`Engine::settle`]).
    fn assert_settled(&self, what: &str) {
        assert!(self.closing.is_none(), "{what} with a window job still running: settle it first");
    }

    /// The pending output (to be written by the next commit).
    pub fn pending(&self) -> &Pending {
        &self.pending
    }

    /// Take the pending output, leaving it empty.
    pub fn take_pending(&mut self) -> Pending {
        self.assert_settled("taking the pending output");
        self.seal_staged().expect("staged rows match their schema");
        std::mem::replace(&mut self.pending, Pending::new())
    }

    /// Seal the staged raw rows: their on-time rows join the open windows' buffers.
    fn seal_staged(&mut self) -> Result<(), arrow::error::ArrowError> {
        if let Some((batch, open)) = self.pending.player.seal()? {
            self.open_player.push(batch, open);
        }
        if let Some((batch, open)) = self.pending.commerce.seal()? {
            self.open_commerce.push(batch, open);
        }
        Ok(())
    }

    /// The state a restart needs, as of now (call right after taking the pending output that
    /// the same commit persists).
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.assert_settled("a checkpoint");
        let mut open_min: HashMap<PartId, i64> = HashMap::new();
        for sw in self.streams.values() {
            sw.min_offsets(&mut open_min);
        }
        let horizon = self.cfg.dedup_horizon_ms;
        let newest = self.parts.values().map(|p| p.max_ts).max().unwrap_or(i64::MIN);
        // Streams quiet for 6 hours of event time with nothing open are forgotten. (Not "nothing
        // emitted and nothing open": right after a restart a stream's windows are not rebuilt
        // yet, and its session state must survive the commits made meanwhile.)
        let quiet_before = newest.saturating_sub(6 * 3_600_000);
        self.streams.retain(|_, sw| sw.has_open() || sw.emitted_until.max(sw.last_event_ts) >= quiet_before);
        // A commit records, per partition, the furthest offset whose effects are in the lake: a
        // partition still replaying keeps the positions it was restored with (its replay position
        // is behind them), and one without a position yet is left out.
        let partitions = self
            .parts
            .iter_mut()
            .filter(|(_, p)| p.positioned)
            .map(|(id, p)| {
                p.evict(horizon, open_min.get(id).copied().unwrap_or(i64::MAX));
                if let Some(restored) = self.replaying.get(id) {
                    return restored.clone();
                }
                let (replay_from, replay_max_ts) = p.replay_point().unwrap_or((p.next_offset, p.max_ts));
                PartCheckpoint {
                    part: id.clone(),
                    next_offset: p.next_offset,
                    max_ts: p.max_ts,
                    replay_from: replay_from.min(p.next_offset),
                    replay_max_ts,
                }
            })
            .collect();
        let streams = self
            .streams
            .iter()
            .map(|(s, sw)| StreamCheckpoint {
                stream_id: s.clone(),
                emitted_until: sw.emitted_until,
                last_event_ts: Some(sw.last_event_ts),
                slot: Some(sw.slot().unwrap_or(0)),
            })
            .collect();
        let mut by_slot: BTreeMap<i32, Vec<(&str, &StreamSessions)>> = BTreeMap::new();
        for (id, sw) in &self.streams {
            by_slot.entry(sw.slot().unwrap_or(0)).or_default().push((id.as_str(), &sw.sessions));
        }
        let sessions = by_slot
            .into_iter()
            .map(|(slot, streams)| (slot, state::encode(streams.into_iter(), &self.regions)))
            .collect();
        let (tracked, bytes) = self.session_state();
        self.metrics.sessions_tracked.set(tracked as i64);
        self.metrics.session_state_bytes.set(bytes as i64);
        Checkpoint { partitions, streams, sessions }
    }

    /// Start from a checkpoint (the whole engine's, or one slot's: restoring adds to what the
    /// engine holds): partitions resume at their replay point; messages below their
    /// `next_offset` rebuild dedup memory and open windows without being written again; the
    /// session state is the checkpoint's. A stream waits for the partitions of its slot.
    pub fn restore(&mut self, cp: &Checkpoint, now: i64) -> Result<(), StateError> {
        self.assert_settled("restoring");
        for p in &cp.partitions {
            // Whether it has more to read is unknown until the source reports it (assigned): until
            // then it never counts as idle, above all while it has a replay ahead of it.
            let mut st = PartState::new(p.replay_from, p.replay_max_ts, now);
            st.backlog = true;
            self.parts.insert(p.part.clone(), st);
            if p.replay_from < p.next_offset {
                self.replaying.insert(p.part.clone(), p.clone());
            }
        }
        // A stream's latest event time, where a record of an earlier release lacks it: the
        // newest event time of the checkpoint (recent, so it is not forgotten at once).
        let newest = cp.partitions.iter().map(|p| p.max_ts).max().unwrap_or(i64::MIN);
        let stream = |emitted_until: i64, last_event_ts: Option<i64>, slot: Option<i32>| {
            let mut sw = StreamWindows::new(emitted_until);
            sw.last_event_ts = last_event_ts.unwrap_or(newest);
            if let Some(n) = slot {
                sw.carried_by(n);
            }
            sw
        };
        for s in &cp.streams {
            self.streams.insert(s.stream_id.clone(), stream(s.emitted_until, s.last_event_ts, s.slot));
        }
        for (slot, bytes) in &cp.sessions {
            for (id, sessions) in state::decode(bytes, &mut self.regions)? {
                self.streams.entry(id).or_insert_with(|| stream(i64::MIN, None, Some(*slot))).sessions = sessions;
            }
        }
        Ok(())
    }

    /// Next offset to read per partition that has a position: right after [`Engine::restore`]
    /// the replay point each partition must be read from. (What the lake holds is the
    /// checkpoint's `next_offset`, which is ahead of this while a partition replays.)
    pub fn next_offsets(&self) -> Vec<(PartId, i64)> {
        self.parts.iter().filter(|(_, p)| p.positioned).map(|(id, p)| (id.clone(), p.next_offset)).collect()
    }

    /// Partitions still replaying messages the lake already holds (partitions no longer read
    /// left out).
    pub fn replaying(&self) -> usize {
        self.replaying.keys().filter(|id| self.parts.get(*id).is_none_or(|p| !p.exhausted)).count()
    }

    /// The partitions whose event time runs too far ahead of the slowest partition that still
    /// has a backlog (and has delivered an event): more than `max_skew_ms` ahead, or, for one in
    /// `paused` (paused for this before), more than half that. The slowest is never among them,
    /// so pausing them cannot stall the input. Returned with the spread of event time (ms)
    /// between the partitions with a backlog.
    pub fn ahead_of_slowest(&self, max_skew_ms: i64, paused: &[PartId]) -> (Vec<PartId>, i64) {
        let behind = |p: &PartState| p.positioned && p.backlog && !p.exhausted && p.max_ts != i64::MIN;
        let (floor, top) = self
            .parts
            .values()
            .filter(|p| behind(p))
            .fold((i64::MAX, i64::MIN), |(lo, hi), p| (lo.min(p.max_ts), hi.max(p.max_ts)));
        if floor == i64::MAX || max_skew_ms <= 0 {
            return (Vec::new(), 0);
        }
        let ahead = self
            .parts
            .iter()
            .filter(|(id, p)| {
                let allowed = if paused.contains(id) { max_skew_ms / 2 } else { max_skew_ms };
                !p.exhausted && p.max_ts != i64::MIN && p.max_ts - floor > allowed
            })
            .map(|(id, _)| id.clone())
            .collect();
        (ahead, top - floor)
    }

    /// Events remembered for dedup/replay across partitions (state-size reporting).
    pub fn remembered_events(&self) -> usize {
        self.parts.values().map(|p| p.remembered()).sum()
    }

    /// Number of streams with state.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Sessions with state, and the heap bytes that state holds (state-size reporting).
    pub fn session_state(&self) -> (usize, usize) {
        self.streams.values().fold((0, 0), |(n, b), sw| (n + sw.sessions.len(), b + sw.sessions.heap_bytes()))
    }
}

/// Split `batch` by the slot of each row (`slots`, one per row), in slot order; a batch of one
/// slot is returned whole.
pub fn split_by_slot(batch: &RecordBatch, slots: &[i32]) -> Result<Vec<(i32, RecordBatch)>, arrow::error::ArrowError> {
    let mut distinct = slots.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() <= 1 {
        return Ok(distinct.into_iter().map(|s| (s, batch.clone())).collect());
    }
    distinct
        .into_iter()
        .map(|slot| {
            let mask: arrow::array::BooleanArray = slots.iter().map(|s| Some(*s == slot)).collect();
            Ok((slot, arrow::compute::filter_record_batch(batch, &mask)?))
        })
        .collect()
}

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;
