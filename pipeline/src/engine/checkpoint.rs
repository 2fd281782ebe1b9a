//! What the engine needs to resume exactly where a commit left off.
//!
//! The state is kept per *slot*: partition number n of every topic (the topics are
//! co-partitioned, so a stream's events all come from one number). A slot's checkpoint holds its
//! partitions' positions, the streams its partitions carry and their session state; the lake
//! keeps a chain of commit records per slot, so a slot's state can move to another worker.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::partition::PartId;

/// Per-partition progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartCheckpoint {
    /// The partition.
    #[serde(flatten)]
    pub part: PartId,
    /// Next offset whose output is not in the lake yet.
    pub next_offset: i64,
    /// Max event time at `next_offset`.
    pub max_ts: i64,
    /// First offset to re-read to rebuild dedup memory and open windows.
    pub replay_from: i64,
    /// Max event time before `replay_from`.
    pub replay_max_ts: i64,
}

/// Per-stream progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamCheckpoint {
    /// The stream.
    pub stream_id: String,
    /// Windows ending at or before this were emitted.
    pub emitted_until: i64,
    /// Latest event time of the stream (absent in records of earlier releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_ts: Option<i64>,
    /// The slot (partition number) whose partitions carry the stream (absent in records of
    /// earlier releases: [`Checkpoint::by_slot`] gives such a stream the lowest slot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<i32>,
}

/// The engine's restart state, stored in each commit record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Partitions.
    pub partitions: Vec<PartCheckpoint>,
    /// Streams.
    pub streams: Vec<StreamCheckpoint>,
    /// Session state of the streams per slot (`state::encode`): stored in its own object beside
    /// the commit record, not in the record's JSON.
    #[serde(skip)]
    pub sessions: BTreeMap<i32, Vec<u8>>,
}

impl Checkpoint {
    /// The partition positions alone (no streams, no session state).
    pub fn positions(&self) -> Checkpoint {
        Checkpoint { partitions: self.partitions.clone(), ..Checkpoint::default() }
    }

    /// The checkpoint split by slot: each slot's partitions, streams and session state. A stream
    /// without a slot (a record of an earlier release) goes to the lowest slot, with it.
    pub fn by_slot(&self) -> BTreeMap<i32, Checkpoint> {
        let mut out: BTreeMap<i32, Checkpoint> = BTreeMap::new();
        for p in &self.partitions {
            out.entry(p.part.partition).or_default().partitions.push(p.clone());
        }
        for (slot, bytes) in &self.sessions {
            out.entry(*slot).or_default().sessions.insert(*slot, bytes.clone());
        }
        let lowest = self.streams.iter().filter_map(|s| s.slot).chain(out.keys().copied()).min().unwrap_or(0);
        for s in &self.streams {
            let slot = s.slot.unwrap_or(lowest);
            out.entry(slot).or_default().streams.push(StreamCheckpoint { slot: Some(slot), ..s.clone() });
        }
        out
    }

    /// Why `self` cannot follow `prev` in the commit log, if it cannot: a partition's position
    /// (`next_offset`, `replay_from`) moved backwards, or a partition `prev` held is missing. A
    /// restart from such a record would write the offsets in between a second time.
    pub fn backwards_from(&self, prev: &Checkpoint) -> Option<String> {
        for before in &prev.partitions {
            let Some(now) = self.partitions.iter().find(|p| p.part == before.part) else {
                return Some(format!("partition {} (next offset {}) is missing", before.part, before.next_offset));
            };
            if now.next_offset < before.next_offset {
                return Some(format!(
                    "partition {} moves its next offset back from {} to {}",
                    before.part, before.next_offset, now.next_offset
                ));
            }
            if now.replay_from < before.replay_from {
                return Some(format!(
                    "partition {} moves its replay point back from {} to {}",
                    before.part, before.replay_from, now.replay_from
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_checkpoint_splits_by_slot_and_an_old_records_streams_go_to_the_lowest() {
        let part = |topic: &str, partition| PartCheckpoint {
            part: PartId { topic: Arc::from(topic), partition },
            next_offset: 10,
            max_ts: 0,
            replay_from: 5,
            replay_max_ts: 0,
        };
        let stream = |id: &str, slot| StreamCheckpoint {
            stream_id: id.into(),
            emitted_until: 60_000,
            last_event_ts: Some(90_000),
            slot,
        };
        let cp = Checkpoint {
            partitions: vec![part("p", 1), part("c", 1), part("p", 3), part("c", 3)],
            streams: vec![stream("a", Some(3)), stream("b", Some(1))],
            sessions: BTreeMap::from([(1, vec![1]), (3, vec![3])]),
        };
        let slots = cp.by_slot();
        assert_eq!(slots.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(slots[&3].partitions, vec![part("p", 3), part("c", 3)]);
        assert_eq!(slots[&3].streams, vec![stream("a", Some(3))]);
        assert_eq!(slots[&3].sessions, BTreeMap::from([(3, vec![3])]));
        assert_eq!(slots[&1].streams, vec![stream("b", Some(1))]);
        // A record of an earlier release: streams without a slot, one session object.
        let old = Checkpoint {
            streams: vec![stream("a", None), stream("b", None)],
            sessions: BTreeMap::from([(1, vec![7])]),
            ..cp
        };
        let slots = old.by_slot();
        assert_eq!(slots[&1].streams, vec![stream("a", Some(1)), stream("b", Some(1))]);
        assert_eq!(slots[&1].sessions, BTreeMap::from([(1, vec![7])]));
        assert!(slots[&3].streams.is_empty() && slots[&3].sessions.is_empty());
    }

    fn cp(parts: &[(i32, i64, i64)]) -> Checkpoint {
        Checkpoint {
            partitions: parts
                .iter()
                .map(|&(partition, next_offset, replay_from)| PartCheckpoint {
                    part: PartId { topic: Arc::from("t"), partition },
                    next_offset,
                    max_ts: 0,
                    replay_from,
                    replay_max_ts: 0,
                })
                .collect(),
            ..Checkpoint::default()
        }
    }

    #[test]
    fn positions_may_only_move_forward() {
        let prev = cp(&[(0, 100, 40), (1, 7, 7)]);
        assert_eq!(cp(&[(0, 100, 40), (1, 7, 7)]).backwards_from(&prev), None);
        assert_eq!(cp(&[(0, 150, 90), (1, 9, 8), (2, 3, 0)]).backwards_from(&prev), None, "a new partition is fine");
        assert_eq!(
            cp(&[(0, 3, 3), (1, 7, 7)]).backwards_from(&prev).unwrap(),
            "partition t/0 moves its next offset back from 100 to 3"
        );
        assert_eq!(
            cp(&[(0, 120, 20), (1, 7, 7)]).backwards_from(&prev).unwrap(),
            "partition t/0 moves its replay point back from 40 to 20"
        );
        assert_eq!(cp(&[(0, 100, 40)]).backwards_from(&prev).unwrap(), "partition t/1 (next offset 7) is missing");
    }
}
