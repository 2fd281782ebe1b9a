//! Produce a simulated show to Kafka, keyed by `stream_id`, each line to its family's topic,
//! with idempotent delivery and a count of what the broker acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use livelake_schemas::Family;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use tracing::{info, warn};

use super::KafkaConfig;
use crate::simulate::Simulation;

/// Topic names for the two event families.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Player events topic.
    pub player: String,
    /// Commerce events topic.
    pub commerce: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            player: livelake_schemas::topics::PLAYER.to_string(),
            commerce: livelake_schemas::topics::COMMERCE.to_string(),
        }
    }
}

impl Topics {
    /// The topic of a family.
    pub fn of(&self, family: Family) -> &str {
        match family {
            Family::Player => &self.player,
            Family::Commerce => &self.commerce,
        }
    }
}

/// What the broker acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProduceReport {
    /// Messages handed to the producer.
    pub sent: u64,
    /// Messages the broker acknowledged.
    pub delivered: u64,
    /// Messages that failed for good.
    pub failed: u64,
}

#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    failed: AtomicU64,
}

struct Ctx(Arc<Counts>);

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.delivered.fetch_add(1, Ordering::Relaxed),
            Err((e, m)) => {
                use rdkafka::Message;
                warn!(topic = m.topic(), partition = m.partition(), error = %e, "delivery failed");
                self.0.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// Produce every line of `sim` in delivery order. Blocking; call from a blocking thread.
pub fn produce_simulation(cfg: &KafkaConfig, topics: &Topics, sim: &Simulation) -> Result<ProduceReport, KafkaError> {
    let counts = Arc::new(Counts::default());
    let mut cc = cfg.client_config();
    cc.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "120000");
    let producer: BaseProducer<Ctx> = cc.create_with_context(Ctx(counts.clone()))?;
    let mut sent = 0u64;
    for line in &sim.lines {
        let key = sim.streams[line.stream as usize].as_bytes();
        let mut record = BaseRecord::to(topics.of(line.family)).key(key).payload(&line.bytes[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(e),
            }
        }
        sent += 1;
        if sent.is_multiple_of(1000) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let report = ProduceReport {
        sent,
        delivered: counts.delivered.load(Ordering::Relaxed),
        failed: counts.failed.load(Ordering::Relaxed),
    };
    info!(sent = report.sent, delivered = report.delivered, failed = report.failed, "produced simulated show");
    Ok(report)
}
