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
