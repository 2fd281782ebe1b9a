//! Per source-partition state: the next offset to process, event-time progress (watermark),
//! wall-clock activity (idleness), and the dedup memory of the events it carried.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::dedup::{Ids, touch_ahead};

/// A source partition: Kafka topic + partition, or `file:<path>` + 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartId {
    /// Topic (or `file:<path>`).
    pub topic: Arc<str>,
    /// Partition number.
    pub partition: i32,
}

impl std::fmt::Display for PartId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.topic, self.partition)
    }
}

/// One accepted event remembered for dedup and replay, in offset order.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Its key ([`event_key`]), as two halves (no 16-byte alignment: 40 bytes, not 48).
    key: [u64; 2],
    offset: i64,
    ts: i64,
    /// The partition's max event time before this event: where a replay from here starts.
    max_ts_before: i64,
}

/// State of one source partition.
#[derive(Debug)]
pub struct PartState {
    /// Next offset to process.
    pub next_offset: i64,
    /// Max event time seen (ms); `i64::MIN` before any event.
    pub max_ts: i64,
    /// Wall-clock time of the last message (for idleness).
    pub last_seen_wall: i64,
    /// The source said this partition is exhausted (end of file): its watermark is +∞.
    pub exhausted: bool,
    /// The source said this partition still has messages to read: it never counts as idle.
    pub backlog: bool,
    /// `next_offset` is a real position: the partition came from a checkpoint or delivered a
    /// message. A partition the source only announced (assigned, nothing read yet) has none, and
    /// no commit may record one for it.
    pub positioned: bool,
    seen: VecDeque<Seen>,
    ids: Ids,
}

impl Seen {
    fn key(&self) -> u128 {
        ((self.key[0] as u128) << 64) | self.key[1] as u128
    }
}

impl PartState {
    /// Fresh state starting at `next_offset` with event-time progress `max_ts`.
    pub fn new(next_offset: i64, max_ts: i64, now_wall: i64) -> Self {
        PartState {
            next_offset,
            max_ts,
            last_seen_wall: now_wall,
            exhausted: false,
            backlog: false,
            positioned: true,
            seen: VecDeque::new(),
            ids: Ids::default(),
        }
    }

    /// A partition the source announced before reading from it: no position, no event time.
    pub fn unpositioned(now_wall: i64) -> Self {
        PartState { positioned: false, ..PartState::new(0, i64::MIN, now_wall) }
    }

    /// Event-time watermark: max event time − allowed lateness.
    pub fn watermark(&self, lateness_ms: i64) -> i64 {
        if self.exhausted {
            return i64::MAX;
        }
        self.max_ts.saturating_sub(lateness_ms)
    }

    /// Watermark for window finality. An idle partition (no backlog, no message for `idle_ms`)
    /// advances with wall-clock time since its last message; one that never carried an event
    /// holds nothing back. Nor does one the source reported caught up before it delivered any
    /// message (an empty partition), without waiting `idle_ms`: while a backlog of the others is
    /// read at the broker's pace, waiting would hold every window (tens of seconds of input)
    /// open for nothing.
    pub fn finality_watermark(&self, lateness_ms: i64, idle_ms: i64, now_wall: i64) -> i64 {
        let wm = self.watermark(lateness_ms);
        if wm == i64::MAX || self.backlog {
            return wm;
        }
        if !self.positioned {
            return i64::MAX;
        }
        let idle_for = now_wall - self.last_seen_wall;
        if idle_for < idle_ms {
            return wm;
        }
        if self.max_ts == i64::MIN { i64::MAX } else { wm.saturating_add(idle_for) }
    }

    /// Dedup: true if `id` (hash of stream + event_id) was seen within `horizon_ms` of event time
    /// before the partition's current progress. Otherwise remembers it and returns false.
    pub fn is_repeat(&mut self, id: u128, ts: i64, offset: i64, horizon_ms: i64) -> bool {
        let alive_from = self.max_ts.saturating_sub(horizon_ms);
        if self.ids.get(id).is_some_and(|seen| seen >= alive_from) {
            return true;
        }
        self.ids.insert(id, ts, offset);
        self.seen.push_back(Seen { key: [(id >> 64) as u64, id as u64], offset, ts, max_ts_before: self.max_ts });
        false
    }

    /// Load where [`PartState::is_repeat`] will look `id` up (a hint, see [`Ids::touch`]).
    pub fn touch(&self, id: u128) {
        self.ids.touch(id);
    }

    /// Forget events that can no longer match (older than the horizon), but keep everything
    /// from `keep_from_offset` on (open windows still need it for replay).
    pub fn evict(&mut self, horizon_ms: i64, keep_from_offset: i64) {
        let alive_from = self.max_ts.saturating_sub(horizon_ms);
        let gone = self.seen.iter().take_while(|s| s.ts < alive_from && s.offset < keep_from_offset).count();
        // Their slots are all over the table: loaded a few ahead of each removal.
        for (i, s) in self.seen.iter().take(gone).enumerate() {
            self.seen.range(touch_ahead(i, gone)).for_each(|s| self.ids.touch(s.key()));
            self.ids.remove(s.key(), s.offset);
        }
        self.seen.drain(..gone);
    }

    /// Where a restart must replay from to rebuild this partition's dedup memory and open
    /// windows: (offset, max event time before it). `None` when nothing needs replaying.
    pub fn replay_point(&self) -> Option<(i64, i64)> {
        self.seen.front().map(|s| (s.offset, s.max_ts_before))
    }

    /// Remembered events (for state-size reporting).
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

/// 128-bit hash of (stream_id, event_id) for dedup (collisions are negligible at this width).
pub fn event_key(stream_id: &str, event_id: &str) -> u128 {
    // Two independent FNV-1a-64 lanes with different offsets; stable across runs and releases.
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for byte in stream_id.bytes().chain([0xff]).chain(event_id.bytes()) {
        a = (a ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
    }
    ((a as u128) << 64) | b as u128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_horizon_are_caught() {
        let mut p = PartState::new(0, i64::MIN, 0);
        let id = event_key("s", "e1");
        assert!(!p.is_repeat(id, 1_000, 0, 900_000));
        p.max_ts = 1_000;
        assert!(p.is_repeat(id, 1_000, 5, 900_000));
        p.max_ts = 1_000 + 900_000 + 1;
        assert!(!p.is_repeat(id, 1_000, 9, 900_000), "beyond the horizon it is new again");
        assert_ne!(event_key("s", "e1"), event_key("s", "e2"));
        assert_ne!(event_key("s1", "e"), event_key("s", "1e"));
    }

    #[test]
    fn eviction_keeps_replay_point_for_open_windows() {
        let mut p = PartState::new(0, i64::MIN, 0);
        for (o, ts) in [(0, 0), (1, 100_000), (2, 200_000)] {
            assert!(!p.is_repeat(event_key("s", &o.to_string()), ts, o, 50_000));
            p.max_ts = ts;
        }
        p.evict(50_000, 1);
        assert_eq!(p.replay_point(), Some((1, 0)));
        p.evict(50_000, i64::MAX);
        assert_eq!(p.replay_point(), Some((2, 100_000)));
    }

    #[test]
    fn idle_partitions_advance_with_wall_clock() {
        let mut p = PartState::new(0, 10_000, 0);
        assert_eq!(p.finality_watermark(3_000, 5_000, 1_000), 7_000);
        assert_eq!(p.finality_watermark(3_000, 5_000, 6_000), 13_000);
        p.exhausted = true;
        assert_eq!(p.finality_watermark(3_000, 5_000, 0), i64::MAX);
        let mut empty = PartState::unpositioned(0);
        empty.backlog = true;
        assert_eq!(empty.finality_watermark(3_000, 5_000, 1_000), i64::MIN, "announced with a backlog: it holds all");
        empty.backlog = false;
        assert_eq!(empty.finality_watermark(3_000, 5_000, 1_000), i64::MAX, "announced caught up: it holds nothing");
    }
}
