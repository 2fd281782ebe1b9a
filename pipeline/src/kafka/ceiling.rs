//! The raw consume ceiling: how fast a consumer that only reads can drain topics. The benchmark
//! puts `livelake run`'s throughput beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaConfig, MessageQueue, READ_BATCH, kafka_error};
use crate::error::Result;

/// What a read-only drain measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsumeRate {
    /// Messages read.
    pub messages: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Seconds from the first to the last message.
    pub seconds: f64,
}

impl ConsumeRate {
    /// Messages per second.
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.messages as f64 / self.seconds } else { 0.0 }
    }
}

/// Read every message currently in `topics` (all partitions, from the start) and time it.
/// Blocking.
pub fn drain_rate(cfg: &KafkaConfig, topics: &[String]) -> Result<ConsumeRate> {
    let mut cc = cfg.fast_consumer_config();
    cc.set("group.id", format!("livelake-ceiling-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = cc.create().map_err(kafka_error("creating consumer"))?;
    let mut tpl = TopicPartitionList::new();
    let mut total = 0i64;
    for t in topics {
        let md = consumer
            .fetch_metadata(Some(t), Duration::from_secs(10))
            .map_err(kafka_error(format!("metadata of {t}")))?;
        for topic in md.topics() {
            for p in topic.partitions() {
                let (low, high) = consumer
                    .fetch_watermarks(t, p.id(), Duration::from_secs(10))
                    .map_err(kafka_error(format!("watermarks of {t}/{}", p.id())))?;
                total += high - low;
                tpl.add_partition_offset(t, p.id(), Offset::Beginning)
                    .map_err(kafka_error(format!("assigning {t}")))?;
            }
        }
    }
    // Read in batches, as `livelake run` does (the fastest way we know to read a topic).
    let consumer = Arc::new(consumer);
    let mut queue = MessageQueue::new(consumer.clone(), READ_BATCH);
    for e in tpl.elements() {
        queue.router().route(&consumer, e.topic(), e.partition());
    }
    consumer.assign(&tpl).map_err(kafka_error("assigning"))?;
    let mut rate = ConsumeRate { messages: 0, bytes: 0, seconds: 0.0 };
    let mut first: Option<Instant> = None;
    let mut failed = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    while (rate.messages as i64) < total && Instant::now() < deadline && failed.is_none() {
        // The consumer's own queue: errors (none expected).
        if let Some(Err(e)) = consumer.poll(Duration::ZERO) {
            failed = Some(e);
        }
        queue.read(Duration::from_millis(100), READ_BATCH, |m| match m {
            Ok(m) => {
                first.get_or_insert_with(Instant::now);
                rate.messages += 1;
                rate.bytes += m.payload.len() as u64;
            }
            Err(e) => failed = Some(e),
        });
    }
    if let Some(e) = failed {
        return Err(kafka_error("draining")(e));
    }
    rate.seconds = first.map_or(0.0, |f| f.elapsed().as_secs_f64());
    Ok(rate)
}
