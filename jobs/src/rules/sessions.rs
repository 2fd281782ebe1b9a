//! The session rules (docs/metrics.md, "Sessions, exits, windows", "Arrival order" and
//! "Cleaning") and the per-stream state they keep: when each view ends, whether it stalled just
//! before (or after an explicit end), and what it did in the 60 s after its `session_start`; per
//! region, the start counts of recent windows (join-spike detection); and the suspects found so
//! far. The spike and suspect rules and the metric columns are SQL in `jobs/sql/`; this module
//! keeps the facts they read. The streaming engine feeds it on-time events as they arrive; the
//! rollup feeds it a show's events in event-time order.
//!
//! Only on-time events (their window not final) update this state, and every decision is made
//! either from the event's own partition (its watermark before the event) or when a window
//! becomes final, so a replay of the same per-partition order decides the same way; and events
//! that could be overtaken by an on-time event of a gap are held back (see
//! [`StreamSessions::observe`]), so any on-time arrival order decides the same way:
//! - A session (a "view") ends at its `session_end`, or at its last player event `L` when its
//!   next player event is later than `L + timeout`, or the partition's watermark reached
//!   `L + timeout` before it came, or the window holding `L` becomes final. A later
//!   player event within the timeout of the end belongs to the ended view; one after it starts a
//!   new view of the same `session_id` (counted again when it ends).
//! - The 60 s after a start count only events that were ahead of their partition's watermark when
//!   they arrived ("fresh"): when the start's window is final, the watermark of every partition
//!   that carries the stream has passed start + 60 s, so no fresh event of that range can still
//!   come and the probe is complete.

use std::collections::{BTreeMap, HashSet, VecDeque};

use crate::{ExitRow, FastMap, HistoryRow, ProbeRow};
use livelake_schemas::{Event, EventKind, Family, Payload};

use super::codec::{Reader, StateError, Writer};

const NONE: i64 = i64::MIN;
/// "Within 60 s of its start" and "in the 60 s up to its end" (METRICS.md).
const PROBE_MS: i64 = 60_000;
/// Windows of start counts kept per region for the median of the 10 before a window.
const HISTORY_WINDOWS: i64 = 10;

const ENDED: u8 = 1;
const PROBED: u8 = 2;
const INTERACTED: u8 = 4;

/// Regions interned to small numbers (a handful per deployment).
#[derive(Debug, Default)]
pub struct Regions {
    names: Vec<Box<str>>,
    ids: FastMap<Box<str>, u16>,
}

impl Regions {
    /// The number of `name`, interning it.
    pub fn id(&mut self, name: &str) -> u16 {
        // Called per event: while there are a handful, comparing the names in turn is cheaper
        // than hashing the name.
        const SCAN: usize = 8;
        if self.names.len() <= SCAN {
            if let Some(i) = self.names.iter().position(|n| **n == *name) {
                return i as u16;
            }
        } else if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = u16::try_from(self.names.len()).unwrap_or(u16::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The name of region `id`.
    pub fn name(&self, id: u16) -> &str {
        self.names.get(id as usize).map_or("UNKNOWN", |n| n)
    }
}

/// A fresh event's contribution to a start probe, kept until the session's start is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Contribution {
    ts: i64,
    watch_ms: u32,
    interaction: bool,
}

/// One session's state (~48 bytes plus its id in the map).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    /// `session_start` time of the current view, or NONE.
    start_ts: i64,
    /// Latest player event time of the current view, or NONE before any.
    last_ts: i64,
    /// End of the view when ENDED.
    end_ts: i64,
    /// Latest `stall_start`/`stall_end` time of the current view, or NONE.
    last_stall_ts: i64,
    /// Watch time (ms) in the 60 s after the start, from fresh events.
    watch_ms: u32,
    /// Region of the latest player event (an exit counts there).
    region: u16,
    /// Region of the `session_start`.
    start_region: u16,
    flags: u8,
    /// Fresh contributions that arrived before the start was known. Boxed: 8 bytes instead of 24
    /// in every session, and most sessions never need it.
    #[allow(clippy::box_collection)]
    early: Option<Box<Vec<Contribution>>>,
}

impl Session {
    fn new() -> Self {
        Session {
            start_ts: NONE,
            last_ts: NONE,
            end_ts: NONE,
            last_stall_ts: NONE,
            watch_ms: 0,
            region: 0,
            start_region: 0,
            flags: 0,
            early: None,
        }
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn open(&self) -> bool {
        self.last_ts != NONE && !self.has(ENDED)
    }

    /// Player events after this start a new view: the timeout after the open view's last event
    /// or after the ended view's end. None before any player event.
    fn view_boundary(&self, timeout_ms: i64) -> Option<i64> {
        if self.has(ENDED) {
            Some(self.end_ts.saturating_add(timeout_ms))
        } else if self.last_ts != NONE {
            Some(self.last_ts.saturating_add(timeout_ms))
        } else {
            None
        }
    }

    /// The exit rule: a `stall_start`/`stall_end` of the view in the 60 s up to its end, or
    /// after an explicit `session_end` (still part of the view, i.e. within the session timeout
    /// of the end: the player stalled as it ended). Decided the same whichever of the stall and
    /// the `session_end` arrives first (`observe` applies the same rule to a stall arriving
    /// after the end).
    fn stalled_before(&self, end: i64) -> bool {
        self.last_stall_ts != NONE && self.last_stall_ts >= end - PROBE_MS
    }

    /// Add a fresh contribution to the start probe (or keep it until the start is known).
    fn contribute(&mut self, c: Contribution) {
        if self.start_ts != NONE && !self.has(PROBED) {
            if c.ts >= self.start_ts && c.ts <= self.start_ts + PROBE_MS {
                self.watch_ms = self.watch_ms.saturating_add(c.watch_ms);
                if c.interaction {
                    self.flags |= INTERACTED;
                }
            }
        } else if self.start_ts == NONE || self.has(ENDED) {
            // No start yet, or the view is over and a new one may start: keep it.
            self.early.get_or_insert_with(Default::default).push(c);
        }
    }

    fn set_start(&mut self, ts: i64, region: u16) {
        self.start_ts = ts;
        self.start_region = region;
        if let Some(early) = self.early.take() {
            for c in *early {
                self.contribute(c);
            }
        }
    }
}

/// An exit decided but not yet in a final window.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingExit {
    session_id: Box<str>,
    end_ts: i64,
    region: u16,
    after_stall: bool,
}

/// The start probe of session `id` (the suspect rule's input).
fn probe_row(stream_id: &str, regions: &Regions, id: &str, s: &Session) -> ProbeRow {
    ProbeRow {
        stream_id: stream_id.to_string(),
        region: regions.name(s.start_region).to_string(),
        session_id: id.to_string(),
        start_ts: s.start_ts,
        watch_ms: s.watch_ms as i64,
        interacted: s.has(INTERACTED),
    }
}

/// The exit row of a decided exit.
fn exit_row(stream_id: &str, regions: &Regions, x: &PendingExit) -> ExitRow {
    ExitRow {
        stream_id: stream_id.to_string(),
        region: regions.name(x.region).to_string(),
        session_id: x.session_id.to_string(),
        end_ts: x.end_ts,
        after_stall: x.after_stall,
    }
}

/// Start counts of recent windows in one region of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RegionHistory {
    /// First window with an event of the stream in this region.
    first_window: i64,
    /// (window_start, sessions_started_raw) of the last windows, oldest first.
    recent: VecDeque<(i64, i64)>,
}

/// An event of a session held back until no on-time event can come before it (its fields as in
/// [`Observation`]; `fresh` as decided when it arrived).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    ts: i64,
    kind: EventKind,
    watch_ms: i64,
    region: u16,
    fresh: bool,
}

/// What one event tells the session state.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'e> {
    /// Its session.
    pub session_id: &'e str,
    /// Its type.
    pub kind: EventKind,
    /// Its event time (ms).
    pub ts: i64,
    /// Watch time it reports: `play_ms` of a heartbeat, `stall_ms` of a stall_end, else 0.
    pub watch_ms: i64,
    /// Its region, interned.
    pub region: u16,
    /// Its partition's watermark before it arrived (`ts − 1` when events come in time order,
    /// as in a rollup over the raw tables).
    pub watermark: i64,
}

impl<'e> Observation<'e> {
    /// The observation of a decoded event.
    pub fn of(e: &'e Event<'e>, region: u16, watermark: i64) -> Self {
        let watch_ms = match &e.payload {
            Payload::Heartbeat { play_ms, .. } => *play_ms,
            Payload::StallEnd { stall_ms } => *stall_ms,
            _ => 0,
        };
        Observation { session_id: &e.session_id, kind: e.kind(), ts: e.ts_ms, watch_ms, region, watermark }
    }
}

/// The session state of one stream.
#[derive(Debug, Default)]
pub struct StreamSessions {
    sessions: FastMap<Box<str>, Session>,
    /// Events held back per session, in event-time order (see [`StreamSessions::observe`]).
    held: FastMap<Box<str>, Vec<Held>>,
    exits: Vec<PendingExit>,
    suspects: HashSet<Box<str>>,
    history: BTreeMap<u16, RegionHistory>,
}

/// The session facts of the windows that just became final.
#[derive(Debug, Default)]
pub struct Closed {
    /// Sessions ending in them.
    pub exits: Vec<ExitRow>,
    /// Sessions starting in them.
    pub probes: Vec<ProbeRow>,
}

impl StreamSessions {
    /// Update the state with an on-time event (see the module docs).
    ///
    /// Arrival order: an event that would start a new view — a player event more than the timeout
    /// after the current view's last event (or after its explicit end) — is held back while an
    /// event of the gap can still arrive on time (the partition's watermark has not passed the
    /// end of the timeout), and so is every later event of that session. A held event is
    /// applied, in event-time order, once the watermark passes the timeout, or an event that
    /// arrives meanwhile bridges the gap, or its window is closed. So the views of a session,
    /// and every fact taken from them, come out as if the events had arrived in event-time order.
    pub fn observe(&mut self, o: Observation<'_>, timeout_ms: i64) {
        if self.held.is_empty() {
            // The common case: nothing of this stream is held back.
            self.apply(o, timeout_ms, true);
            return;
        }
        let player = o.kind.family() == Family::Player;
        if player {
            // The watermark moved: release what no on-time event can precede any more.
            self.release(o.session_id, o.watermark, timeout_ms);
        }
        if self.held.get(o.session_id).and_then(|q| q.first()).is_some_and(|h| o.ts >= h.ts) {
            self.hold(&o);
            return;
        }
        if self.apply(o, timeout_ms, true) && player {
            // It may have bridged a gap.
            self.release(o.session_id, o.watermark, timeout_ms);
        }
    }

    /// Queue `o` behind the session's held events, in event-time order.
    fn hold(&mut self, o: &Observation<'_>) {
        let h = Held { ts: o.ts, kind: o.kind, watch_ms: o.watch_ms, region: o.region, fresh: o.ts > o.watermark };
        let q = self.held.entry(o.session_id.into()).or_default();
        let at = q.partition_point(|x| x.ts <= h.ts);
        q.insert(at, h);
    }

    /// Apply the held events of `session_id` that may go now: each in turn, while it is not
    /// across a gap or the watermark has passed the gap's timeout.
    fn release(&mut self, session_id: &str, watermark: i64, timeout_ms: i64) {
        let Some(mut q) = self.held.remove(session_id) else { return };
        let mut n = 0;
        for h in &q {
            let boundary = self.sessions.get(session_id).and_then(|s| s.view_boundary(timeout_ms));
            if h.kind.family() == Family::Player && boundary.is_some_and(|b| h.ts > b && watermark < b) {
                break;
            }
            let watermark = if h.fresh { i64::MIN } else { i64::MAX };
            let o =
                Observation { session_id, kind: h.kind, ts: h.ts, watch_ms: h.watch_ms, region: h.region, watermark };
            self.apply(o, timeout_ms, false);
            n += 1;
        }
        q.drain(..n);
        if !q.is_empty() {
            self.held.insert(session_id.into(), q);
        }
    }

    /// Apply `o` to its session; with `may_hold`, hold it instead (and return false) when it
    /// would start a new view while an on-time event of the gap can still come.
    fn apply(&mut self, o: Observation<'_>, timeout_ms: i64, may_hold: bool) -> bool {
        let ts = o.ts;
        let fresh = ts > o.watermark;
        let s = match self.sessions.get_mut(o.session_id) {
            Some(s) => s,
            None => self.sessions.entry(o.session_id.into()).or_insert_with(Session::new),
        };
        let kind = o.kind;
        if kind.family() == Family::Player {
            if may_hold && s.view_boundary(timeout_ms).is_some_and(|b| ts > b && o.watermark < b) {
                self.hold(&o);
                return false;
            }
            let deadline = s.last_ts.saturating_add(timeout_ms);
            if s.open() && (ts > deadline || deadline <= o.watermark) {
                // No player event followed within the timeout: this one comes after it, or the
                // partition's watermark passed it first.
                let after_stall = s.stalled_before(s.last_ts);
                s.flags |= ENDED;
                s.end_ts = s.last_ts;
                self.exits.push(PendingExit {
                    session_id: o.session_id.into(),
                    end_ts: s.end_ts,
                    region: s.region,
                    after_stall,
                });
            }
            if s.has(ENDED) && ts > s.end_ts.saturating_add(timeout_ms) {
                // A new view of the same session id: only early contributions carry over.
                let early = s.early.take();
                *s = Session::new();
                s.early = early;
            }
            let stall = matches!(kind, EventKind::StallStart | EventKind::StallEnd);
            if s.has(ENDED) {
                // Part of the ended view (within the timeout of its end), arriving after the end:
                // its start (for the probe), or a stall in the 60 s up to the end or after it (for
                // the exit; see `stalled_before`).
                if kind == EventKind::SessionStart && s.start_ts == NONE {
                    s.set_start(ts, o.region);
                }
                if stall && ts >= s.end_ts - PROBE_MS {
                    let end = s.end_ts;
                    if let Some(x) = self.exits.iter_mut().find(|x| *x.session_id == *o.session_id && x.end_ts == end) {
                        x.after_stall = true;
                    }
                }
            } else {
                if kind == EventKind::SessionStart && s.start_ts == NONE {
                    s.set_start(ts, o.region);
                }
                if ts >= s.last_ts {
                    s.last_ts = ts;
                    s.region = o.region;
                }
                if stall {
                    s.last_stall_ts = s.last_stall_ts.max(ts);
                }
                if kind == EventKind::SessionEnd {
                    s.flags |= ENDED;
                    s.end_ts = ts;
                    s.region = o.region;
                    self.exits.push(PendingExit {
                        session_id: o.session_id.into(),
                        end_ts: ts,
                        region: o.region,
                        after_stall: s.stalled_before(ts),
                    });
                }
            }
        }
        if fresh {
            let interaction = kind.family() == Family::Commerce;
            if o.watch_ms > 0 || interaction {
                let watch_ms = u32::try_from(o.watch_ms).unwrap_or(u32::MAX);
                s.contribute(Contribution { ts, watch_ms, interaction });
            }
        }
        true
    }

    /// Windows before `until` became final: end the sessions whose last event is in them (the
    /// timeout has passed), and hand over the exits and start probes of those windows. Forgets
    /// what can no longer matter.
    pub fn close(&mut self, stream_id: &str, until: i64, timeout_ms: i64, regions: &Regions) -> Closed {
        let mut out = Closed::default();
        // Every partition's watermark has passed `until + timeout`: no on-time event before that
        // can come any more.
        let held: Vec<Box<str>> = self.held.keys().cloned().collect();
        for id in held {
            self.release(&id, until.saturating_add(timeout_ms), timeout_ms);
        }
        let holding = &self.held;
        self.sessions.retain(|id, s| {
            if s.start_ts != NONE && s.start_ts < until && !s.has(PROBED) {
                out.probes.push(probe_row(stream_id, regions, id, s));
                s.flags |= PROBED;
            }
            if s.open() && s.last_ts < until {
                s.flags |= ENDED;
                s.end_ts = s.last_ts;
                self.exits.push(PendingExit {
                    session_id: id.clone(),
                    end_ts: s.end_ts,
                    region: s.region,
                    after_stall: s.stalled_before(s.end_ts),
                });
            }
            // An early contribution before `until` cannot belong to a start still to come (that
            // start would be in a final window, hence late).
            if let Some(early) = &mut s.early {
                early.retain(|c| c.ts >= until);
                if early.is_empty() {
                    s.early = None;
                }
            }
            // Keep what a later on-time event could still need.
            let view_done = s.last_ts == NONE || (s.has(ENDED) && s.end_ts.saturating_add(timeout_ms) < until);
            let probe_done = s.start_ts == NONE || s.has(PROBED);
            !(view_done && probe_done && s.early.is_none() && !s.open()) || holding.contains_key(id)
        });
        self.exits.retain(|x| {
            if x.end_ts >= until {
                return true;
            }
            out.exits.push(exit_row(stream_id, regions, x));
            false
        });
        out
    }

    /// The session facts of the windows still open, as far as they are known, without changing
    /// anything (provisional figures of the live board): the exits decided so far (explicit
    /// ends; a session that went quiet is only known to have left once its window closes) and
    /// the starts not yet handed over.
    pub fn provisional(&self, stream_id: &str, regions: &Regions) -> Closed {
        let mut out = Closed::default();
        for (id, s) in &self.sessions {
            if s.start_ts != NONE && !s.has(PROBED) {
                out.probes.push(probe_row(stream_id, regions, id, s));
            }
        }
        out.exits.extend(self.exits.iter().map(|x| exit_row(stream_id, regions, x)));
        out
    }

    /// Start counts of earlier windows for the spike rule: the last 10 windows before `from`
    /// per region, and the region's first window.
    pub fn history_rows(&self, stream_id: &str, regions: &Regions) -> Vec<HistoryRow> {
        let mut rows = Vec::new();
        for (region, h) in &self.history {
            let row = |window_start, n| HistoryRow {
                stream_id: stream_id.to_string(),
                region: regions.name(*region).to_string(),
                window_start,
                sessions_started_raw: n,
            };
            if h.recent.front().is_none_or(|(ws, _)| *ws > h.first_window) {
                rows.push(row(h.first_window, 0));
            }
            rows.extend(h.recent.iter().map(|(ws, n)| row(*ws, *n)));
        }
        rows
    }

    /// Record a final window's `sessions_started_raw` (from its `stream_minute` row); keep the
    /// last 10 windows before `until`.
    pub fn record_window(&mut self, region: u16, window_start: i64, started: i64, until: i64, width_ms: i64) {
        let h = self
            .history
            .entry(region)
            .or_insert_with(|| RegionHistory { first_window: window_start, ..Default::default() });
        h.first_window = h.first_window.min(window_start);
        let pos = h.recent.iter().position(|(ws, _)| *ws > window_start).unwrap_or(h.recent.len());
        h.recent.insert(pos, (window_start, started));
        let keep_from = until - HISTORY_WINDOWS * width_ms;
        while h.recent.front().is_some_and(|(ws, _)| *ws < keep_from) {
            h.recent.pop_front();
        }
    }

    /// Mark a session suspect (its later events are excluded too).
    pub fn add_suspect(&mut self, session_id: &str) {
        self.suspects.insert(session_id.into());
    }

    /// The suspects found so far.
    pub fn suspects(&self) -> impl Iterator<Item = &str> {
        self.suspects.iter().map(|s| &**s)
    }

    /// Sessions with state.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session has state.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.exits.is_empty() && self.held.is_empty()
    }

    /// True when there is anything to snapshot (sessions, pending exits, suspects, start counts).
    pub fn has_state(&self) -> bool {
        !self.is_empty() || !self.suspects.is_empty() || !self.history.is_empty()
    }

    /// Heap bytes held (an estimate from capacities: map slots, ids, early contributions).
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(Box<str>, Session)>() + 1;
        let ids: usize = self.sessions.keys().map(|k| alloc_size(k.len())).sum();
        let early: usize = self
            .sessions
            .values()
            .filter_map(|s| s.early.as_ref())
            .map(|e| 24 + alloc_size(e.capacity() * std::mem::size_of::<Contribution>()))
            .sum();
        let exits: usize = self.exits.iter().map(|x| alloc_size(x.session_id.len())).sum::<usize>()
            + self.exits.capacity() * std::mem::size_of::<PendingExit>();
        let suspects: usize = self.suspects.iter().map(|s| alloc_size(s.len()) + 17).sum();
        let held: usize = self
            .held
            .iter()
            .map(|(k, q)| {
                std::mem::size_of::<(Box<str>, Vec<Held>)>()
                    + 1
                    + alloc_size(k.len())
                    + alloc_size(q.capacity() * std::mem::size_of::<Held>())
            })
            .sum();
        self.sessions.capacity() * slot + ids + early + exits + suspects + held
    }

    /// Serialise into `w` (the engine snapshots it with each commit).
    pub fn encode(&self, w: &mut Writer, regions: &Regions) {
        w.u64(self.sessions.len() as u64);
        let mut ids: Vec<&Box<str>> = self.sessions.keys().collect();
        ids.sort_unstable();
        for id in ids {
            let s = &self.sessions[id];
            w.str(id);
            for v in [s.start_ts, s.last_ts, s.end_ts, s.last_stall_ts] {
                w.i64(v);
            }
            w.u64(s.watch_ms as u64);
            w.str(regions.name(s.region));
            w.str(regions.name(s.start_region));
            w.u8(s.flags);
            let early = s.early.as_deref().map_or(&[][..], |e| &e[..]);
            w.u64(early.len() as u64);
            for c in early {
                w.i64(c.ts);
                w.u64(c.watch_ms as u64);
                w.u8(c.interaction as u8);
            }
        }
        w.u64(self.exits.len() as u64);
        for x in &self.exits {
            w.str(&x.session_id);
            w.i64(x.end_ts);
            w.str(regions.name(x.region));
            w.u8(x.after_stall as u8);
        }
        let mut suspects: Vec<&Box<str>> = self.suspects.iter().collect();
        suspects.sort_unstable();
        w.u64(suspects.len() as u64);
        for s in suspects {
            w.str(s);
        }
        w.u64(self.history.len() as u64);
        for (region, h) in &self.history {
            w.str(regions.name(*region));
            w.i64(h.first_window);
            w.u64(h.recent.len() as u64);
            for (ws, n) in &h.recent {
                w.i64(*ws);
                w.i64(*n);
            }
        }
        let mut held: Vec<(&Box<str>, &Vec<Held>)> = self.held.iter().collect();
        held.sort_unstable_by_key(|(id, _)| *id);
        w.u64(held.len() as u64);
        for (id, q) in held {
            w.str(id);
            w.u64(q.len() as u64);
            for h in q {
                w.i64(h.ts);
                w.str(h.kind.as_str());
                w.i64(h.watch_ms);
                w.str(regions.name(h.region));
                w.u8(h.fresh as u8);
            }
        }
    }

    /// Read what [`StreamSessions::encode`] wrote.
    /// `with_held`: the snapshot has held events (format 2 on; format 1 had none).
    pub fn decode(r: &mut Reader<'_>, regions: &mut Regions, with_held: bool) -> Result<Self, StateError> {
        let mut out = StreamSessions::default();
        let n = r.len()?;
        out.sessions.reserve(n);
        for _ in 0..n {
            let id: Box<str> = r.str()?.into();
            let mut s = Session::new();
            s.start_ts = r.i64()?;
            s.last_ts = r.i64()?;
            s.end_ts = r.i64()?;
            s.last_stall_ts = r.i64()?;
            s.watch_ms = u32::try_from(r.u64()?).map_err(|_| StateError::Corrupt("watch_ms"))?;
            s.region = regions.id(r.str()?);
            s.start_region = regions.id(r.str()?);
            s.flags = r.u8()?;
            let k = r.len()?;
            if k > 0 {
                let mut early = Vec::with_capacity(k);
                for _ in 0..k {
                    let ts = r.i64()?;
                    let watch_ms = u32::try_from(r.u64()?).map_err(|_| StateError::Corrupt("watch_ms"))?;
                    early.push(Contribution { ts, watch_ms, interaction: r.u8()? != 0 });
                }
                s.early = Some(Box::new(early));
            }
            out.sessions.insert(id, s);
        }
        for _ in 0..r.len()? {
            let session_id = r.str()?.into();
            let end_ts = r.i64()?;
            let region = regions.id(r.str()?);
            out.exits.push(PendingExit { session_id, end_ts, region, after_stall: r.u8()? != 0 });
        }
        for _ in 0..r.len()? {
            out.suspects.insert(r.str()?.into());
        }
        for _ in 0..r.len()? {
            let region = regions.id(r.str()?);
            let first_window = r.i64()?;
            let mut recent = VecDeque::new();
            for _ in 0..r.len()? {
                recent.push_back((r.i64()?, r.i64()?));
            }
            out.history.insert(region, RegionHistory { first_window, recent });
        }
        if with_held {
            for _ in 0..r.len()? {
                let id: Box<str> = r.str()?.into();
                let mut q = Vec::new();
                for _ in 0..r.len()? {
                    let ts = r.i64()?;
                    let kind = EventKind::parse(r.str()?).ok_or(StateError::Corrupt("event type"))?;
                    let watch_ms = r.i64()?;
                    let region = regions.id(r.str()?);
                    q.push(Held { ts, kind, watch_ms, region, fresh: r.u8()? != 0 });
                }
                out.held.insert(id, q);
            }
        }
        Ok(out)
    }
}

/// Bytes malloc hands out for a request of `n` (16-byte granules, at least 16).
fn alloc_size(n: usize) -> usize {
    if n == 0 { 0 } else { n.div_ceil(16).max(1) * 16 }
}
