//! What the engine needs to resume exactly where a commit left off.

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
}

/// The engine's restart state, stored in each commit record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Partitions.
    pub partitions: Vec<PartCheckpoint>,
    /// Streams.
    pub streams: Vec<StreamCheckpoint>,
    /// Session state of every stream (`state::encode`): stored in its own file beside the commit
    /// record, not in the record's JSON.
    #[serde(skip)]
    pub sessions: Vec<u8>,
}

impl Checkpoint {
    /// The partition positions alone (no streams, no session state).
    pub fn positions(&self) -> Checkpoint {
        Checkpoint { partitions: self.partitions.clone(), ..Checkpoint::default() }
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
