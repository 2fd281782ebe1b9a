//! Kafka source: a consumer in a consumer group (auto-commit and auto offset store off). It
//! starts each partition where the lake's commit log says (seeking if the group's committed
//! offset disagrees) and reports progress to the group only after the lake commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{info, warn};

use super::SourceMsg;
use crate::engine::PartId;
use crate::error::{Error, Result};
use crate::kafka::KafkaConfig;

/// Settings of the Kafka source.
#[derive(Debug, Clone)]
pub struct KafkaSourceConfig {
    /// Brokers and pass-through client properties (security, …).
    pub kafka: KafkaConfig,
    /// Consumer group id.
    pub group_id: String,
    /// Topics to consume (player and commerce).
    pub topics: Vec<String>,
}

/// The consumer and where each partition must start.
pub struct KafkaSource {
    consumer: Arc<BaseConsumer>,
    expected: HashMap<(String, i32), (i64, u32)>,
    topic_ids: HashMap<String, Arc<str>>,
}

fn kerr(context: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
    let context = context.into();
    move |source| Error::Kafka { context, source }
}

impl KafkaSource {
    /// Create the consumer, tell the group where the lake resumes, and subscribe.
    pub fn open(cfg: &KafkaSourceConfig, resume: &[(PartId, i64)]) -> Result<KafkaSource> {
        let mut cc = cfg.kafka.client_config();
        cc.set("group.id", &cfg.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100");
        let consumer: BaseConsumer = cc.create().map_err(kerr("creating consumer"))?;
        let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
        let mut expected = HashMap::new();
        let mut tpl = TopicPartitionList::new();
        for (part, offset) in resume {
            if cfg.topics.iter().any(|t| **t == *part.topic) {
                expected.insert((part.topic.to_string(), part.partition), (*offset, 0));
                let _ = tpl.add_partition_offset(&part.topic, part.partition, Offset::Offset(*offset));
            }
        }
        if tpl.count() > 0 {
            // Progress reporting only: the lake's commit log is the truth, seeks below enforce it.
            if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
                warn!(error = %e, "could not pre-commit resume offsets; will seek instead");
            }
        }
        consumer.subscribe(&topics).map_err(kerr(format!("subscribing to {topics:?}")))?;
        info!(group = %cfg.group_id, topics = ?cfg.topics, brokers = %cfg.kafka.brokers, "kafka source subscribed");
        let topic_ids = cfg.topics.iter().map(|t| (t.clone(), Arc::<str>::from(t.as_str()))).collect();
        Ok(KafkaSource { consumer: Arc::new(consumer), expected, topic_ids })
    }

    /// Up to `max` messages, waiting at most `wait` for the first. Blocking: call from a
    /// blocking thread (see [`KafkaSource::poll_async`]).
    fn poll_blocking(&mut self, max: usize, wait: Duration) -> Result<Vec<SourceMsg>> {
        let mut out = Vec::with_capacity(max.min(8192));
        let mut timeout = wait;
        while out.len() < max {
            let Some(res) = self.consumer.poll(timeout) else { break };
            timeout = Duration::ZERO;
            let m = match res {
                Ok(m) => m,
                Err(e) => {
                    // Broker down, rebalance hiccups: librdkafka retries; we log and go on.
                    warn!(error = %e, "kafka consumer error");
                    break;
                }
            };
            let key = (m.topic().to_string(), m.partition());
            if let Some((want, tries)) = self.expected.get_mut(&key) {
                if m.offset() == *want || *tries >= 3 {
                    if m.offset() > *want {
                        warn!(
                            topic = m.topic(),
                            partition = m.partition(),
                            want = *want,
                            got = m.offset(),
                            "offsets missing from the topic (retention?)"
                        );
                    }
                    self.expected.remove(&key);
                } else {
                    *tries += 1;
                    let want = *want;
                    info!(
                        topic = m.topic(),
                        partition = m.partition(),
                        from = m.offset(),
                        to = want,
                        "seeking to the lake's resume point"
                    );
                    self.consumer
                        .seek(m.topic(), m.partition(), Offset::Offset(want), Duration::from_secs(10))
                        .map_err(kerr(format!("seeking {}/{} to {want}", m.topic(), m.partition())))?;
                    continue;
                }
            }
            let topic = self.topic_ids.entry(m.topic().to_string()).or_insert_with(|| Arc::from(m.topic())).clone();
            out.push(SourceMsg {
                part: PartId { topic, partition: m.partition() },
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().unwrap_or_default().to_vec(),
                timestamp_ms: m.timestamp().to_millis(),
            });
        }
        Ok(out)
    }

    /// Async wrapper of the blocking poll.
    pub async fn poll_async(mut self, max: usize, wait: Duration) -> (KafkaSource, Result<Vec<SourceMsg>>) {
        tokio::task::spawn_blocking(move || {
            let r = self.poll_blocking(max, wait);
            (self, r)
        })
        .await
        .expect("kafka poll thread")
    }

    /// Report progress to the group: `next` is the next offset to read per partition.
    pub fn commit(&self, next: &[(PartId, i64)]) {
        let mut tpl = TopicPartitionList::new();
        for (p, o) in next {
            if self.topic_ids.contains_key(&*p.topic) {
                let _ = tpl.add_partition_offset(&p.topic, p.partition, Offset::Offset(*o));
            }
        }
        if tpl.count() == 0 {
            return;
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
            warn!(error = %e, "offset commit to the group failed (the lake's commit log is authoritative)");
        }
    }

    /// Messages behind the high watermark per assigned partition, given the next offsets to
    /// process. `None` when there is no assignment or a partition cannot be asked (broker away).
    /// Blocking (one request per partition).
    pub fn lag(&self, next: &[(PartId, i64)]) -> Option<Vec<(PartId, i64)>> {
        let mut out = Vec::new();
        let assigned = self.consumer.assignment().ok().filter(|a| a.count() > 0)?;
        for e in assigned.elements() {
            let (_, high) = self.consumer.fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(2)).ok()?;
            let pos =
                next.iter().find(|(p, _)| *p.topic == *e.topic() && p.partition == e.partition()).map(|(_, o)| *o);
            let topic = self.topic_ids.get(e.topic()).cloned().unwrap_or_else(|| Arc::from(e.topic()));
            out.push((PartId { topic, partition: e.partition() }, high - pos.unwrap_or(0)));
        }
        Some(out)
    }
}
