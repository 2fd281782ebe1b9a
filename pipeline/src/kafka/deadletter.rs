//! The dead-letter topic: every rejected message, produced unchanged (payload and key) with its
//! rejection reason in the `livelake-reason` header (docs/events.md). Deliveries are awaited
//! before each lake commit, so a commit never runs ahead of its dead letters.

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tracing::warn;

use super::{KafkaConfig, kafka_error};
use crate::error::Result;

/// A producer to the dead-letter topic with its deliveries in flight.
pub struct DeadLetterTopic {
    producer: FutureProducer,
    topic: String,
    inflight: Vec<DeliveryFuture>,
}

impl std::fmt::Debug for DeadLetterTopic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetterTopic").field("topic", &self.topic).field("inflight", &self.inflight.len()).finish()
    }
}

impl DeadLetterTopic {
    /// An idempotent producer to `topic`.
    pub fn new(client: &KafkaConfig, topic: &str) -> Result<Self> {
        let producer: FutureProducer = client
            .client_config()
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", "120000")
            .create()
            .map_err(kafka_error(format!("creating the dead-letter producer for {topic}")))?;
        Ok(DeadLetterTopic { producer, topic: topic.to_string(), inflight: Vec::new() })
    }

    /// Send one rejected message (its delivery is awaited by [`DeadLetterTopic::drain`]).
    pub fn send(&mut self, payload: &[u8], key: Option<&[u8]>, reason: &str) {
        let headers =
            OwnedHeaders::new().insert(Header { key: livelake_schemas::topics::REASON_HEADER, value: Some(reason) });
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).payload(payload).headers(headers);
        if let Some(k) = key {
            rec = rec.key(k);
        }
        match self.producer.send_result(rec) {
            Ok(f) => self.inflight.push(f),
            Err((e, _)) => warn!(topic = %self.topic, error = %e, "dead-letter produce failed"),
        }
    }

    /// Wait for every delivery in flight (failures are logged; the rows are in the lake's
    /// `deadletter` table either way).
    pub async fn drain(&mut self) {
        for f in self.inflight.drain(..) {
            match f.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => warn!(topic = %self.topic, error = %e, "dead letter not delivered"),
                Err(_) => warn!(topic = %self.topic, "dead-letter delivery cancelled"),
            }
        }
    }
}
