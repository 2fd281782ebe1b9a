//! Ground truth of a simulated show: what the simulator generated, per stream × region ×
//! minute of event time, computed directly from the generated events (not by the pipeline), so
//! tests can hold the lake against it.

use std::collections::{BTreeMap, BTreeSet};

use livelake_schemas::{Decimal4, Event, EventKind, Payload, rfc3339_ms};
use serde::Serialize;

/// Counts for one stream × region × minute. `_raw` includes fake viewers; the rest excludes them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MinuteTruth {
    /// Stream id.
    pub stream_id: String,
    /// Region.
    pub region: String,
    /// Window start, RFC 3339.
    pub window_start: String,
    /// Window start, epoch ms.
    pub window_start_ms: i64,
    /// Unique valid events by type, fake viewers included.
    pub events_raw: BTreeMap<&'static str, u64>,
    /// Unique valid events by type, fake viewers excluded.
    pub events: BTreeMap<&'static str, u64>,
    /// Of `events_raw`, those delivered minutes late (after their window is final): they belong
    /// in the raw tables but not in `stream_minute`.
    pub late_raw: BTreeMap<&'static str, u64>,
    /// `session_start` of real viewers.
    pub sessions_started: u64,
    /// `session_start` of all viewers.
    pub sessions_started_raw: u64,
    /// Distinct real sessions with a player event.
    pub sessions_active: u64,
    /// Distinct sessions with a player event.
    pub sessions_active_raw: u64,
    /// Real sessions whose end falls in the minute.
    pub exits: u64,
    /// Of `exits`, those with a stall in the 60 s up to the end.
    pub exits_after_stall: u64,
    /// Σ play_ms of real sessions.
    pub play_ms: i64,
    /// Σ stall_ms of real sessions.
    pub stall_ms: i64,
    /// Orders of real sessions.
    pub orders: u64,
    /// Σ quantity of those orders.
    pub units: i64,
    /// Σ amount_usd of those orders.
    pub gmv_usd: String,
    /// Σ like counts of real sessions.
    pub likes: i64,
    /// Distinct real viewers with an order.
    pub buyers: u64,
    /// What `stream_minute` must show for this minute at raw level (fake viewers included):
    /// computed from the events that arrive before the window is final.
    pub window: WindowTruth,
    /// The same without the bots the cleaning can recognise (those whose `session_start` arrives
    /// on time, in the spike minute): what the cleaned columns must show, exits included.
    pub window_clean: WindowTruth,
    #[serde(skip)]
    gmv: Decimal4,
    #[serde(skip)]
    active: BTreeSet<u32>,
    #[serde(skip)]
    active_raw: BTreeSet<u32>,
    #[serde(skip)]
    buyer_set: BTreeSet<String>,
}

/// Window aggregates of on-time events (late deliveries excluded).
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowTruth {
    /// Sessions whose end (METRICS.md: `session_end`, or the last player event before a gap
    /// longer than the 60 s timeout) falls in the window, from on-time events (cleaned only).
    pub exits: u64,
    /// Of `exits`, those with a stall event in the 60 s up to the end.
    pub exits_after_stall: u64,
    /// Mean bitrate of heartbeats that carry one.
    pub bitrate_kbps_avg: Option<f64>,
    /// `startup_ms` of `first_frame` events (for percentile checks).
    #[serde(skip)]
    pub startup_ms: Vec<i64>,
    /// `latency_ms` of heartbeats that carry one.
    #[serde(skip)]
    pub latency_ms: Vec<i64>,
    #[serde(skip)]
    bitrate: (i64, i64),
    /// Distinct sessions with a player event.
    pub sessions_active: u64,
    /// `session_start` events.
    pub sessions_started: u64,
    /// Σ play_ms.
    pub play_ms: i64,
    /// Σ stall_ms.
    pub stall_ms: i64,
    /// `stall_end` events.
    pub stall_count: u64,
    /// Distinct sessions with a `stall_end`.
    pub sessions_stalled: u64,
    /// Fatal `error` events.
    pub fatal_errors: u64,
    /// Event counts by type.
    pub events: BTreeMap<&'static str, u64>,
    /// Σ like counts.
    pub likes: i64,
    /// Σ gift values, USD.
    pub gift_value_usd: String,
    /// Σ order quantities.
    pub units: i64,
    /// Σ order amounts, USD.
    pub gmv_usd: String,
    /// Distinct viewers with an order.
    pub buyers: u64,
    #[serde(skip)]
    gift: Decimal4,
    #[serde(skip)]
    gmv: Decimal4,
    #[serde(skip)]
    active: BTreeSet<String>,
    #[serde(skip)]
    stalled: BTreeSet<String>,
    #[serde(skip)]
    buyer_set: BTreeSet<String>,
}

impl WindowTruth {
    fn add(&mut self, e: &Event<'_>) {
        let kind = e.kind();
        *self.events.entry(kind.as_str()).or_default() += 1;
        if kind.family() == livelake_schemas::Family::Player {
            self.active.insert(e.session_id.to_string());
        }
        match &e.payload {
            Payload::SessionStart => self.sessions_started += 1,
            Payload::FirstFrame { startup_ms } => self.startup_ms.push(*startup_ms),
            Payload::Heartbeat { play_ms, latency_ms, bitrate_kbps, .. } => {
                self.play_ms += play_ms;
                self.latency_ms.extend(latency_ms);
                if let Some(b) = bitrate_kbps {
                    self.bitrate = (self.bitrate.0 + b, self.bitrate.1 + 1);
                }
            }
            Payload::StallEnd { stall_ms } => {
                self.stall_ms += stall_ms;
                self.stall_count += 1;
                self.stalled.insert(e.session_id.to_string());
            }
            Payload::Error { fatal: true, .. } => self.fatal_errors += 1,
            Payload::Like { count } => self.likes += count,
            Payload::Gift { value_usd, .. } => self.gift.0 += value_usd.0,
            Payload::Order { quantity, amount_usd, .. } => {
                self.units += quantity;
                self.gmv.0 += amount_usd.0;
                self.buyer_set.insert(e.viewer_id.to_string());
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        self.sessions_active = self.active.len() as u64;
        self.sessions_stalled = self.stalled.len() as u64;
        self.bitrate_kbps_avg = (self.bitrate.1 > 0).then(|| self.bitrate.0 as f64 / self.bitrate.1 as f64);
        self.startup_ms.sort_unstable();
        self.latency_ms.sort_unstable();
        self.buyers = self.buyer_set.len() as u64;
        self.gift_value_usd = self.gift.to_string();
        self.gmv_usd = self.gmv.to_string();
    }
}

/// Totals over the whole simulation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Lines (messages) emitted, all kinds.
    pub lines: u64,
    /// Unique valid player events.
    pub player_events: u64,
    /// Unique valid commerce events.
    pub commerce_events: u64,
    /// Re-sent copies of valid player events (same `event_id`).
    pub duplicate_player: u64,
    /// Re-sent copies of valid commerce events.
    pub duplicate_commerce: u64,
    /// Malformed lines by expected reason code.
    pub malformed: BTreeMap<String, u64>,
    /// Malformed lines sent with the player events.
    pub malformed_player: u64,
    /// Malformed lines sent with the commerce events.
    pub malformed_commerce: u64,
    /// Events delivered minutes after their event time (beyond lateness + session timeout).
    pub delayed_late: u64,
    /// Events delivered a few seconds out of order.
    pub delayed_reordered: u64,
    /// Real viewer sessions.
    pub sessions: u64,
    /// Fake (bot) sessions.
    pub fake_sessions: u64,
    /// Orders of real sessions.
    pub orders: u64,
    /// GMV of real sessions, USD.
    pub gmv_usd: String,
    #[serde(skip)]
    gmv: Decimal4,
}

/// An incident the simulator injected, for reports and tests to find.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// `fake_spike` or `stall_burst`.
    pub kind: &'static str,
    /// Stream id.
    pub stream_id: String,
    /// Region.
    pub region: String,
    /// First affected minute (RFC 3339).
    pub start: String,
    /// Number of minutes.
    pub minutes: i64,
    /// Bot sessions (spike) or stall multiplier (burst).
    pub size: f64,
}

/// The ground truth of one simulation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    /// Seed used.
    pub seed: u64,
    /// Stream ids simulated.
    pub streams: Vec<String>,
    /// Whole-run totals.
    pub totals: Totals,
    /// Injected incidents.
    pub incidents: Vec<Incident>,
    /// Per stream × region × minute counts, sorted.
    pub minutes: Vec<MinuteTruth>,
    #[serde(skip)]
    by_key: BTreeMap<(String, String, i64), MinuteTruth>,
}

impl Truth {
    /// An empty truth for a run with `seed`.
    pub fn new(seed: u64) -> Self {
        Truth { seed, ..Default::default() }
    }

    fn cell(&mut self, e: &Event<'_>, ts: i64) -> &mut MinuteTruth {
        let minute = ts.div_euclid(60_000) * 60_000;
        let key = (e.stream_id.to_string(), e.region.to_string(), minute);
        self.by_key.entry(key).or_insert_with(|| MinuteTruth {
            stream_id: e.stream_id.to_string(),
            region: e.region.to_string(),
            window_start: rfc3339_ms(minute),
            window_start_ms: minute,
            ..Default::default()
        })
    }

    /// Record every event of one session (sorted by time) and the session's exit.
    pub fn record_session(&mut self, session_no: u32, events: &[Event<'_>], fake: bool) {
        if fake {
            self.totals.fake_sessions += 1;
        } else {
            self.totals.sessions += 1;
        }
        for e in events {
            let kind = e.kind();
            match kind.family() {
                livelake_schemas::Family::Player => self.totals.player_events += 1,
                livelake_schemas::Family::Commerce => self.totals.commerce_events += 1,
            }
            if !fake && let Payload::Order { amount_usd, .. } = &e.payload {
                self.totals.orders += 1;
                self.totals.gmv.0 += amount_usd.0;
            }
            let c = self.cell(e, e.ts_ms);
            *c.events_raw.entry(kind.as_str()).or_default() += 1;
            if kind == EventKind::SessionStart {
                c.sessions_started_raw += 1;
            }
            if kind.family() == livelake_schemas::Family::Player {
                c.active_raw.insert(session_no);
            }
            if fake {
                continue;
            }
            *c.events.entry(kind.as_str()).or_default() += 1;
            match &e.payload {
                Payload::SessionStart => c.sessions_started += 1,
                Payload::Heartbeat { play_ms, .. } => c.play_ms += play_ms,
                Payload::StallEnd { stall_ms } => c.stall_ms += stall_ms,
                Payload::Like { count } => c.likes += count,
                Payload::Order { quantity, amount_usd, .. } => {
                    c.orders += 1;
                    c.units += quantity;
                    c.gmv.0 += amount_usd.0;
                    c.buyer_set.insert(e.viewer_id.to_string());
                }
                _ => {}
            }
            if kind.family() == livelake_schemas::Family::Player {
                c.active.insert(session_no);
            }
        }
        // The session ends at its session_end, else at its last player event.
        let players: Vec<&Event<'_>> =
            events.iter().filter(|e| e.kind().family() == livelake_schemas::Family::Player).collect();
        let Some(last) = players.iter().rev().find(|e| e.kind() == EventKind::SessionEnd).or(players.last()) else {
            return;
        };
        if fake {
            return;
        }
        let end = last.ts_ms;
        // In the 60 s up to the end, or after it within the timeout (docs/metrics.md).
        let after_stall = players.iter().any(|e| {
            matches!(e.kind(), EventKind::StallStart | EventKind::StallEnd)
                && e.ts_ms >= end - 60_000
                && e.ts_ms <= end + 60_000
        });
        let c = self.cell(last, end);
        c.exits += 1;
        if after_stall {
            c.exits_after_stall += 1;
        }
    }

    /// Count an event delivered with a delay class; `recognised_bot` when it belongs to a bot
    /// the cleaning can recognise.
    pub fn record_delay(&mut self, e: &Event<'_>, late: bool, reordered: bool, recognised_bot: bool) {
        self.totals.delayed_late += late as u64;
        self.totals.delayed_reordered += reordered as u64;
        let c = self.cell(e, e.ts_ms);
        if late {
            *c.late_raw.entry(e.kind().as_str()).or_default() += 1;
        } else {
            c.window.add(e);
            if !recognised_bot {
                c.window_clean.add(e);
            }
        }
    }

    /// Count the exits of one session from its on-time player events (any order), as METRICS.md
    /// defines them: a view ends at its `session_end`, or at its last player event when the next
    /// one is more than the 60 s timeout later (or none follows); a player event more than the
    /// timeout after an ended view starts a new view; events within it belong to the ended view.
    pub fn record_exits(&mut self, on_time_player: &[&Event<'_>]) {
        const TIMEOUT: i64 = 60_000;
        let mut events: Vec<&Event<'_>> = on_time_player.to_vec();
        events.sort_by_key(|e| e.ts_ms);
        let stalls: Vec<i64> = events
            .iter()
            .filter(|e| matches!(e.kind(), EventKind::StallStart | EventKind::StallEnd))
            .map(|e| e.ts_ms)
            .collect();
        let mut ends: Vec<&Event<'_>> = Vec::new();
        let mut last: Option<&Event<'_>> = None; // latest event of the open view
        let mut ended: Option<i64> = None; // end of the view that ended last
        for e in events {
            if let Some(end) = ended {
                if e.ts_ms <= end + TIMEOUT {
                    continue; // belongs to the ended view
                }
                ended = None;
            }
            if let Some(l) = last
                && e.ts_ms > l.ts_ms + TIMEOUT
            {
                ends.push(l); // the gap ended the open view; `e` begins a new one
            }
            last = Some(e);
            if e.kind() == EventKind::SessionEnd {
                ends.push(e);
                ended = Some(e.ts_ms);
                last = None;
            }
        }
        ends.extend(last);
        for end in ends {
            // In the 60 s up to the end, or after it while part of the ended view.
            let after_stall = stalls.iter().any(|t| *t >= end.ts_ms - 60_000 && *t <= end.ts_ms + TIMEOUT);
            let c = &mut self.cell(end, end.ts_ms).window_clean;
            c.exits += 1;
            c.exits_after_stall += after_stall as u64;
        }
    }

    /// Add an injected incident.
    pub fn add_incident(&mut self, incident: Incident) {
        self.incidents.push(incident);
    }

    /// Fill the serialisable fields from the accumulators.
    pub fn finish(&mut self) {
        self.totals.gmv_usd = self.totals.gmv.to_string();
        self.minutes = std::mem::take(&mut self.by_key)
            .into_values()
            .map(|mut m| {
                m.sessions_active = m.active.len() as u64;
                m.sessions_active_raw = m.active_raw.len() as u64;
                m.buyers = m.buyer_set.len() as u64;
                m.gmv_usd = m.gmv.to_string();
                m.window.finish();
                m.window_clean.finish();
                m
            })
            .collect();
    }
}
