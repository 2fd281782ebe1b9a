//! The live topic (`livelake.live.v1`): each worker publishes the live figures of its streams —
//! provisional rows of the minutes still open, then each minute's final row — keyed by stream,
//! region and minute, so a compacted topic keeps the last (final) row of each; any number of
//! `livelake board` processes consume it. Best effort: the lake is the record, a lost live message
//! only delays the board until the next one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tracing::warn;

use super::{KafkaConfig, kafka_error};
use crate::error::Result;
use crate::ops::{Board, LIVE_SCHEMA, LiveOut, LiveRow, live_rows};

/// A producer of live rows to one topic.
pub struct LiveTopic {
    producer: FutureProducer,
    topic: String,
}

impl LiveTopic {
    /// A producer to `topic`.
    pub fn new(client: &KafkaConfig, topic: &str) -> Result<Self> {
        let producer: FutureProducer = client
            .client_config()
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000")
            .create()
            .map_err(kafka_error(format!("creating the live-topic producer for {topic}")))?;
        Ok(LiveTopic { producer, topic: topic.to_string() })
    }
}

impl LiveOut for LiveTopic {
    fn publish(&self, batches: &[arrow::array::RecordBatch], provisional: bool, _now_ms: i64) {
        for row in live_rows(batches, provisional) {
            let key = row.key();
            let payload = match serde_json::to_vec(&row) {
                Ok(p) => p,
                Err(e) => {
                    warn!(topic = %self.topic, key, error = %e, "live row not encoded");
                    continue;
                }
            };
            // The delivery is not awaited: the next row of the minute supersedes this one.
            if let Err((e, _)) = self.producer.send_result(FutureRecord::to(&self.topic).key(&key).payload(&payload)) {
                warn!(topic = %self.topic, key, error = %e, "live row not produced");
            }
        }
    }
}

/// A board's reader of the live topic: a consumer group of its own, never committed, from the
/// earliest message, so every board sees the whole (compacted) topic.
pub struct LiveReader {
    consumer: BaseConsumer,
    topic: String,
}

impl LiveReader {
    /// Subscribe to `topic`.
    pub fn new(client: &KafkaConfig, topic: &str) -> Result<Self> {
        let group = format!("livelake-board-{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis());
        let consumer: BaseConsumer = client
            .client_config()
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .map_err(kafka_error(format!("creating the consumer of the live topic {topic}")))?;
        consumer.subscribe(&[topic]).map_err(kafka_error(format!("subscribing to the live topic {topic}")))?;
        Ok(LiveReader { consumer, topic: topic.to_string() })
    }

    /// Feed `board` with the topic's rows until `stop` (blocking). A message that is not a live
    /// row is skipped with a warning naming its partition and offset.
    pub fn feed(&self, board: &Board, stop: &AtomicBool) {
        let topic = self.topic.as_str();
        while !stop.load(Ordering::Relaxed) {
            let Some(res) = self.consumer.poll(Duration::from_millis(200)) else { continue };
            let m = match res {
                Ok(m) => m,
                Err(e) => {
                    warn!(topic, error = %e, "reading the live topic");
                    continue;
                }
            };
            let problem = match m.payload().map(serde_json::from_slice::<LiveRow>) {
                Some(Ok(row)) if row.schema == LIVE_SCHEMA => {
                    board.publish_rows(vec![row], chrono::Utc::now().timestamp_millis());
                    continue;
                }
                Some(Ok(row)) => format!("schema {:?}, not {LIVE_SCHEMA}", row.schema),
                Some(Err(e)) => e.to_string(),
                None => "no payload".to_string(),
            };
            warn!(topic, partition = m.partition(), offset = m.offset(), problem, "not a live row: skipped");
        }
    }
}
