//! Where messages come from: a Kafka consumer group, or an NDJSON file (the embedded default).
//! Both hand the engine the same [`SourceMsg`]s; everything after decoding is shared.

mod file;
mod kafka;

pub use file::FileSource;
pub use kafka::{KafkaSource, KafkaSourceConfig};

use crate::engine::PartId;

/// One message as read.
#[derive(Debug, Clone)]
pub struct SourceMsg {
    /// Partition it came from.
    pub part: PartId,
    /// Offset (Kafka) or 1-based line number (file).
    pub offset: i64,
    /// Key (Kafka), if any.
    pub key: Option<Vec<u8>>,
    /// Bytes.
    pub payload: Vec<u8>,
    /// Broker/producer timestamp, if any.
    pub timestamp_ms: Option<i64>,
}

/// A batch of messages, or the end of input.
#[derive(Debug)]
pub enum Poll {
    /// Messages (possibly none if the source was quiet for the poll interval).
    Messages(Vec<SourceMsg>),
    /// No more input will come: every partition is exhausted.
    End,
}
