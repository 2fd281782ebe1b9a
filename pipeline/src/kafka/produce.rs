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

use super::{KafkaConfig, kafka_error};
use crate::error::Result;
use crate::simulate::{Line, Simulation};

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

/// How fast to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as the broker takes them (backfill, tests).
    Flat,
    /// Each line at its `arrival_ms` (wall clock, epoch ms), as a live show would send it.
    Live,
}

/// Produce every line of `sim` in delivery order, calling `sent` with each line and the wall time
/// it was handed to the producer. Blocking; call from a blocking thread.
pub fn produce_simulation(
    cfg: &KafkaConfig,
    topics: &Topics,
    sim: &Simulation,
    pace: Pace,
    mut sent_at: impl FnMut(&Line, i64),
) -> Result<ProduceReport> {
    let now_ms = || chrono::Utc::now().timestamp_millis();
    let counts = Arc::new(Counts::default());
    let mut cc = cfg.client_config();
    cc.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", if pace == Pace::Live { "5" } else { "20" })
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "120000");
    let producer: BaseProducer<Ctx> =
        cc.create_with_context(Ctx(counts.clone())).map_err(kafka_error("creating the producer"))?;
    let mut sent = 0u64;
    for line in &sim.lines {
        if pace == Pace::Live {
            let wait = line.arrival_ms - now_ms();
            if wait > 0 {
                std::thread::sleep(Duration::from_millis(wait as u64));
            }
        }
        let topic = topics.of(line.family);
        let key = sim.streams[line.stream as usize].as_bytes();
        let mut record = BaseRecord::to(topic).key(key).payload(&line.bytes[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(kafka_error(format!("producing to {topic}"))(e)),
            }
        }
        sent_at(line, now_ms());
        sent += 1;
        if pace == Pace::Live || sent.is_multiple_of(1000) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120)).map_err(kafka_error("flushing the producer"))?;
    let report = ProduceReport {
        sent,
        delivered: counts.delivered.load(Ordering::Relaxed),
        failed: counts.failed.load(Ordering::Relaxed),
    };
    info!(sent = report.sent, delivered = report.delivered, failed = report.failed, "produced simulated show");
    Ok(report)
}
