//! Open event-time windows: which windows of each stream are not final yet (and the source
//! offsets a restart must replay to rebuild them), how far each stream's windows have been
//! emitted, and the rows they hold.
//!
//! Each event is appended to Arrow once. The raw rows on their way to the lake are staged per
//! table ([`Staged`]) with two flags per row: written (not a replay) and on time (buffered for
//! its window). When the staged rows are sealed into a batch, the lake's commit gets the written
//! rows and [`OpenRows`] keeps the same batch (shared, not copied) with a mask of its on-time
//! rows until their windows are final.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{AsArray, BooleanArray, BooleanBufferBuilder, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::TimestampMillisecondType;
use arrow::error::ArrowError;
use livelake_jobs::FastMap;
use livelake_jobs::rules::StreamSessions;
use livelake_jobs::{window_projection, with_windows};
use livelake_schemas::{CommerceRows, Event, PlayerRows, SourcePos, Table, batch_schema};

use super::partition::PartId;

/// One stream's open windows.
pub struct StreamWindows {
    /// Windows ending at or before this (ms) have been emitted; later events for them are late.
    pub emitted_until: i64,
    /// Latest event time of the stream seen (ms): a stream quiet for long is forgotten.
    pub last_event_ts: i64,
    /// Window start → per-partition smallest buffered offset (for replay after a restart); a
    /// window holds events of a few partitions, so a list is the cheapest map.
    open: BTreeMap<i64, Vec<(PartId, i64)>>,
    /// Per-session state of the stream.
    pub sessions: StreamSessions,
    /// The partition numbers its events came from (the topics are co-partitioned: partition n
    /// of each topic); empty until an event arrives, e.g. right after a restart.
    partitions: Vec<i32>,
}

impl StreamWindows {
    /// A stream with nothing emitted yet.
    pub fn new(emitted_until: i64) -> Self {
        StreamWindows {
            emitted_until,
            last_event_ts: i64::MIN,
            open: BTreeMap::new(),
            sessions: StreamSessions::default(),
            partitions: Vec::new(),
        }
    }

    /// Note that an event of the stream came from partition number `n`.
    pub fn carried_by(&mut self, n: i32) {
        if !self.partitions.contains(&n) {
            self.partitions.push(n);
        }
    }

    /// The partition numbers its events came from (see [`StreamWindows::carried_by`]).
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// The stream's slot: the first partition number that carried it (or that it was restored
    /// with); its state is checkpointed with that slot's partitions.
    pub fn slot(&self) -> Option<i32> {
        self.partitions.first().copied()
    }

    /// Note an on-time event of window `window_start` from `part` at `pos` (its row is buffered
    /// in [`OpenRows`]).
    pub fn add(&mut self, window_start: i64, part: &PartId, pos: SourcePos) {
        let parts = self.open.entry(window_start).or_default();
        let same = |p: &PartId| p.partition == part.partition && (Arc::ptr_eq(&p.topic, &part.topic) || p == part);
        match parts.iter_mut().find(|(p, _)| same(p)) {
            Some((_, min)) => *min = (*min).min(pos.offset),
            None => parts.push((part.clone(), pos.offset)),
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

    /// Mark every window that ends at or before `until` emitted; true when one of them holds
    /// events (their rows are the ones [`OpenRows::take_before`] `until` returns).
    pub fn take_final(&mut self, until: i64, width_ms: i64) -> bool {
        self.emitted_until = self.emitted_until.max(until);
        if self.open.keys().next().is_none_or(|first| first.saturating_add(width_ms) > until) {
            return false;
        }
        self.open = self.open.split_off(&until);
        true
    }
}

/// A builder of one raw table's rows.
pub trait Rows {
    /// The table.
    const TABLE: Table;
    /// Append an event of the builder's family (false, and nothing appended, for the other).
    fn append(&mut self, e: &Event<'_>, ingested_at_ms: i64, pos: SourcePos) -> bool;
    /// The rows appended so far as a batch; the builder starts again empty.
    fn finish(&mut self) -> Result<RecordBatch, ArrowError>;
}

impl Rows for PlayerRows {
    const TABLE: Table = Table::PlayerEvents;
    fn append(&mut self, e: &Event<'_>, ingested_at_ms: i64, pos: SourcePos) -> bool {
        PlayerRows::append(self, e, ingested_at_ms, pos)
    }
    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        PlayerRows::finish(self)
    }
}

impl Rows for CommerceRows {
    const TABLE: Table = Table::CommerceEvents;
    fn append(&mut self, e: &Event<'_>, ingested_at_ms: i64, pos: SourcePos) -> bool {
        CommerceRows::append(self, e, ingested_at_ms, pos)
    }
    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        CommerceRows::finish(self)
    }
}

/// Rows of one raw table staged for the next lake commit and, the on-time ones, for their
/// windows.
pub struct Staged<R> {
    rows: R,
    /// Per row of `rows`: to be written (false for a replayed event, which the lake has).
    write: BooleanBufferBuilder,
    /// Per row of `rows`: on time, so its window needs it.
    open: BooleanBufferBuilder,
    /// Rows of `rows` to be written.
    writes: usize,
    /// Rows of `rows` on time.
    opens: usize,
    /// Rows to be written, sealed already.
    sealed: Vec<RecordBatch>,
    sealed_rows: usize,
}

impl<R: Rows> Staged<R> {
    /// Staging around an empty builder.
    pub fn new(rows: R) -> Self {
        Staged {
            rows,
            write: BooleanBufferBuilder::new(1024),
            open: BooleanBufferBuilder::new(1024),
            writes: 0,
            opens: 0,
            sealed: Vec::new(),
            sealed_rows: 0,
        }
    }

    /// Stage an event's row: `write` it to the lake, keep it for its window while `open`.
    pub fn append(&mut self, e: &Event<'_>, ingested_at_ms: i64, pos: SourcePos, write: bool, open: bool) {
        debug_assert!(write || open, "a row goes somewhere");
        if self.rows.append(e, ingested_at_ms, pos) {
            self.write.append(write);
            self.open.append(open);
            self.writes += write as usize;
            self.opens += open as usize;
        }
    }

    /// Rows to be written.
    pub fn len(&self) -> usize {
        self.sealed_rows + self.writes
    }

    /// True when no row is to be written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seal the staged rows into a batch: the rows to be written join the sealed ones; returned
    /// are the batch and the mask of its on-time rows, when it has any.
    pub fn seal(&mut self) -> Result<Option<(RecordBatch, BooleanBuffer)>, ArrowError> {
        let (writes, opens) = (std::mem::take(&mut self.writes), std::mem::take(&mut self.opens));
        let (write, open) = (self.write.finish(), self.open.finish());
        if write.is_empty() {
            return Ok(None);
        }
        let batch = self.rows.finish()?;
        if writes == batch.num_rows() {
            self.sealed.push(batch.clone());
        } else if writes > 0 {
            self.sealed.push(filter_record_batch(&batch, &BooleanArray::new(write, None))?);
        }
        self.sealed_rows += writes;
        Ok((opens > 0).then_some((batch, open)))
    }

    /// The rows to be written, in the batches they were sealed in (call after the on-time rows
    /// were [`Staged::seal`]ed into their windows: rows still staged are written, but no window
    /// gets them).
    pub fn finish_batches(&mut self) -> Result<Vec<RecordBatch>, ArrowError> {
        self.seal()?;
        self.sealed_rows = 0;
        Ok(std::mem::take(&mut self.sealed))
    }

    /// [`Staged::finish_batches`] as one batch.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let sealed = self.finish_batches()?;
        match sealed.len() {
            1 => Ok(sealed.into_iter().next().expect("one batch")),
            _ => concat_batches(&batch_schema(R::TABLE), &sealed),
        }
    }
}

/// The buffered rows of one raw table's open windows: sealed batches (shared with the lake's
/// commit) and the mask of the rows in each that are on time and not emitted yet.
pub struct OpenRows {
    table: Table,
    batches: Vec<Buffered>,
}

/// A sealed batch in [`OpenRows`]: its rows' streams as small codes, worked out once when it is
/// buffered (a batch is looked at again at every closing while it holds open rows: a code per row
/// then, no string compare or map lookup).
struct Buffered {
    batch: RecordBatch,
    /// Its rows still buffered.
    open: BooleanBuffer,
    /// The distinct streams of its rows.
    streams: Vec<String>,
    /// Per row, its stream's index in `streams`.
    codes: Vec<u32>,
}

impl OpenRows {
    /// Nothing buffered.
    pub fn new(table: Table) -> Self {
        OpenRows { table, batches: Vec::new() }
    }

    /// Buffer the rows of `batch` that `open` marks.
    pub fn push(&mut self, batch: RecordBatch, open: BooleanBuffer) {
        let ids = batch.column_by_name("stream_id").expect("stream_id column").as_string::<i32>();
        let mut streams: Vec<String> = Vec::new();
        // Looked up by hash: a platform's hundreds of concurrent shows interleave in a batch.
        let mut code_of: FastMap<&str, u32> = FastMap::default();
        let mut last: Option<(&str, u32)> = None;
        let codes = ids
            .iter()
            .map(|id| {
                let id = id.unwrap_or_default();
                match last {
                    // Rows of one stream often come together.
                    Some((s, c)) if s == id => c,
                    _ => {
                        let c = *code_of.entry(id).or_insert_with(|| {
                            streams.push(id.to_string());
                            (streams.len() - 1) as u32
                        });
                        last = Some((id, c));
                        c
                    }
                }
            })
            .collect();
        self.batches.push(Buffered { batch, open, streams, codes });
    }

    /// A copy of every buffered row, with `window_start`/`window_end` columns (the buffer keeps
    /// them).
    pub fn copy_all(&self, width_ms: i64) -> Result<Vec<RecordBatch>, ArrowError> {
        let mut out = Vec::new();
        for b in &self.batches {
            out.extend(windowed(self.table, &b.batch, b.open.clone(), width_ms)?);
        }
        Ok(out)
    }

    /// Take the buffered rows of each stream with event time before its `until` (the rows of
    /// its windows that end at or before it; a stream `until` does not name keeps its rows), with
    /// `window_start`/`window_end` columns.
    pub fn take_before(&mut self, until: &HashMap<String, i64>, width_ms: i64) -> Result<Vec<RecordBatch>, ArrowError> {
        let mut out = Vec::new();
        let mut keep = Vec::with_capacity(self.batches.len());
        for mut b in self.batches.drain(..) {
            let cut: Vec<i64> = b.streams.iter().map(|s| until.get(s).copied().unwrap_or(i64::MIN)).collect();
            if cut.iter().all(|&c| c == i64::MIN) {
                keep.push(b);
                continue;
            }
            let ts = b.batch.column_by_name("ts").expect("ts column").as_primitive::<TimestampMillisecondType>();
            let ts = ts.values();
            let before = BooleanBuffer::collect_bool(b.batch.num_rows(), |i| ts[i] < cut[b.codes[i] as usize]);
            out.extend(windowed(self.table, &b.batch, &before & &b.open, width_ms)?);
            b.open = &b.open & &!&before;
            if b.open.count_set_bits() > 0 {
                keep.push(b);
            }
        }
        self.batches = keep;
        Ok(out)
    }
}

/// The rows of `b` (of `table`) that `mask` marks, with `window_start`/`window_end` columns;
/// `None` when it marks none.
fn windowed(
    table: Table,
    b: &RecordBatch,
    mask: BooleanBuffer,
    width_ms: i64,
) -> Result<Option<RecordBatch>, ArrowError> {
    let n = mask.count_set_bits();
    if n == 0 {
        return Ok(None);
    }
    // Only the columns the window job reads are filtered.
    let b = window_projection(b, table)?;
    let rows = if n == b.num_rows() { b } else { filter_record_batch(&b, &BooleanArray::new(mask, None))? };
    with_windows(&rows, width_ms, table).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use livelake_schemas::Decoder;

    fn event(id: u32, ts: i64) -> Vec<u8> {
        format!(r#"{{"v":1,"event_id":"e{id}","type":"heartbeat","ts":{ts},"stream_id":"s","session_id":"x","country":"DE","play_ms":1}}"#)
            .into_bytes()
    }

    #[test]
    fn rows_are_written_and_buffered_by_their_flags() {
        let d = Decoder::default();
        let mut staged = Staged::new(PlayerRows::with_capacity(8));
        let mut open = OpenRows::new(Table::PlayerEvents);
        // (ts, write, open): a late row (written only), replayed rows (window only), both.
        let rows = [(10_000, true, false), (20_000, false, true), (70_000, true, true), (130_000, true, true)];
        for (i, (ts, write, on_time)) in rows.iter().enumerate() {
            let payload = event(i as u32, *ts + 1_795_264_800_000);
            let e = d.decode(&payload, 1_795_264_800_000 + 200_000).unwrap();
            staged.append(&e, 7, SourcePos { partition: 0, offset: i as i64 }, *write, *on_time);
        }
        assert_eq!(staged.len(), 3);
        let (batch, mask) = staged.seal().unwrap().unwrap();
        assert_eq!((batch.num_rows(), mask.count_set_bits()), (4, 3));
        open.push(batch, mask);
        let until = |ms: i64| HashMap::from([("s".to_string(), ms)]);
        assert!(open.take_before(&HashMap::new(), 60_000).unwrap().is_empty(), "a stream not named keeps its rows");
        let taken = open.take_before(&until(1_795_264_800_000 + 120_000), 60_000).unwrap();
        let times: Vec<i64> = taken
            .iter()
            .flat_map(|b| b.column_by_name("ts").unwrap().as_primitive::<TimestampMillisecondType>().values().to_vec())
            .map(|ts| ts - 1_795_264_800_000)
            .collect();
        assert_eq!(times, vec![20_000, 70_000], "the on-time rows before the cut, replayed or not");
        assert_eq!(open.take_before(&until(i64::MAX), 60_000).unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        let written = staged.finish().unwrap();
        let offsets = written.column_by_name("src_offset").unwrap().as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(offsets.values().to_vec(), vec![0, 2, 3], "replayed rows are not written again");
        assert!(staged.is_empty());
        assert_eq!(staged.finish().unwrap().num_rows(), 0);
    }
}
