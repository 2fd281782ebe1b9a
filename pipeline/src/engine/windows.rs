//! Open event-time windows per stream: the buffered events of windows that are not final yet,
//! and how far each stream's windows have been emitted.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::TimestampMillisecondType;
use arrow::error::ArrowError;
use livelake_jobs::rules::StreamSessions;
use livelake_jobs::with_windows;
use livelake_schemas::{CommerceRows, Event, Family, PlayerRows, SourcePos, Table};

use super::partition::PartId;

/// Events of windows that just became final: (player batches, commerce batches).
pub type FinalEvents = (Vec<RecordBatch>, Vec<RecordBatch>);

/// One stream's open windows.
pub struct StreamWindows {
    /// Windows ending at or before this (ms) have been emitted; later events for them are late.
    pub emitted_until: i64,
    /// Latest event time of the stream seen (ms): a stream quiet for long is forgotten.
    pub last_event_ts: i64,
    /// Window start → per-partition smallest buffered offset (for replay after a restart); a
    /// window holds events of a few partitions, so a list is the cheapest map.
    open: BTreeMap<i64, Vec<(PartId, i64)>>,
    player: PlayerRows,
    commerce: CommerceRows,
    player_batches: Vec<RecordBatch>,
    commerce_batches: Vec<RecordBatch>,
    /// Per-session state of the stream.
    pub sessions: StreamSessions,
}

impl StreamWindows {
    /// A stream with nothing emitted yet.
    pub fn new(emitted_until: i64) -> Self {
        StreamWindows {
            emitted_until,
            last_event_ts: i64::MIN,
            open: BTreeMap::new(),
            player: PlayerRows::with_capacity(256),
            commerce: CommerceRows::with_capacity(256),
            player_batches: Vec::new(),
            commerce_batches: Vec::new(),
            sessions: StreamSessions::default(),
        }
    }

    /// Buffer an on-time event of window `window_start`.
    pub fn add(&mut self, e: &Event<'_>, window_start: i64, part: &PartId, pos: SourcePos, ingested_at: i64) {
        let parts = self.open.entry(window_start).or_default();
        let same = |p: &PartId| p.partition == part.partition && (Arc::ptr_eq(&p.topic, &part.topic) || p == part);
        match parts.iter_mut().find(|(p, _)| same(p)) {
            Some((_, min)) => *min = (*min).min(pos.offset),
            None => parts.push((part.clone(), pos.offset)),
        }
        match e.kind().family() {
            Family::Player => self.player.append(e, ingested_at, pos),
            Family::Commerce => self.commerce.append(e, ingested_at, pos),
        };
        if self.player.len() >= 8192 {
            self.seal_player();
        }
        if self.commerce.len() >= 8192 {
            self.seal_commerce();
        }
    }

    fn seal_player(&mut self) {
        if !self.player.is_empty() {
            self.player_batches.push(self.player.finish().expect("player rows match their schema"));
        }
    }

    fn seal_commerce(&mut self) {
        if !self.commerce.is_empty() {
            self.commerce_batches.push(self.commerce.finish().expect("commerce rows match their schema"));
        }
    }

    /// Smallest buffered offset per partition (what a restart must replay).
    pub fn min_offsets(&self, into: &mut HashMap<PartId, i64>) {
        for parts in self.open.values() {
            for (p, o) in parts {
                let e = into.entry(p.clone()).or_insert(*o);
                *e = (*e).min(*o);
            }
        }
    }

    /// True when windows are buffered.
    pub fn has_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Take the events of every window that ends at or before `until` (player, commerce
    /// batches with `window_start`/`window_end` columns) and mark them emitted.
    pub fn take_final(&mut self, until: i64, width_ms: i64) -> Result<Option<FinalEvents>, ArrowError> {
        self.emitted_until = self.emitted_until.max(until);
        if self.open.keys().next().is_none_or(|first| first + width_ms > until) {
            return Ok(None);
        }
        self.seal_player();
        self.seal_commerce();
        // Events with ts < until belong to final windows; windows starting at or after it stay.
        let p = split(&mut self.player_batches, until, width_ms, Table::PlayerEvents)?;
        let c = split(&mut self.commerce_batches, until, width_ms, Table::CommerceEvents)?;
        self.open = self.open.split_off(&until);
        Ok(Some((p, c)))
    }
}

/// Split buffered batches at event time `cut`: return the rows before it (with window columns),
/// keep the rest.
fn split(
    batches: &mut Vec<RecordBatch>,
    cut: i64,
    width_ms: i64,
    table: Table,
) -> Result<Vec<RecordBatch>, ArrowError> {
    let mut out = Vec::new();
    let mut keep = Vec::new();
    for b in batches.drain(..) {
        let ts = b.column_by_name("ts").expect("ts column").as_primitive::<TimestampMillisecondType>();
        let before: arrow::array::BooleanArray = ts.iter().map(|t| Some(t.unwrap_or(i64::MIN) < cut)).collect();
        let n_before = before.true_count();
        if n_before == b.num_rows() {
            out.push(with_windows(&b, width_ms, table)?);
        } else if n_before == 0 {
            keep.push(b);
        } else {
            out.push(with_windows(&filter_record_batch(&b, &before)?, width_ms, table)?);
            let after = arrow::compute::not(&before)?;
            keep.push(filter_record_batch(&b, &after)?);
        }
    }
    *batches = keep;
    Ok(out)
}
