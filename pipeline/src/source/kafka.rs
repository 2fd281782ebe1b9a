//! Kafka source: a consumer in a consumer group (auto-commit and auto offset store off). Each
//! change of the group's assignment is handed to the run in order with the messages
//! ([`Poll::Revoke`], [`Poll::Assign`]): the run commits and lets go of revoked partitions before
//! the group moves them, and answers for assigned ones where to read from (the replay point of
//! the slot it took from the lake), where the consumer then starts them (seeking if the group's
//! committed offset disagrees). Progress is reported to the group only after the lake commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, info, warn};

use super::{BatchBytes, Fetch, Handover, Poll, SourceMsg};
use crate::engine::PartId;
use crate::error::{Error, Result};
use crate::kafka::{KafkaConfig, MessageQueue, READ_BATCH, Router, kafka_error};

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

type Expected = Arc<Mutex<HashMap<(String, i32), (i64, u32)>>>;

/// Hands assignment changes to the run and positions newly assigned partitions where the run
/// says, whatever the group's committed offset says (a partition with nothing new would
/// otherwise never be replayed, and one that replays is behind the group's offset).
struct SourceCtx {
    expected: Expected,
    /// The run's channel ([`Fetch::attach`]).
    handover: Mutex<Option<Handover>>,
    /// Last global error logged: a broker outage repeats the same one many times a second.
    last_global_error: Mutex<String>,
    /// Routes assigned partitions to the source's batch queue (set once the queue exists).
    router: OnceLock<Router>,
}

impl SourceCtx {
    fn handover(&self) -> Option<Handover> {
        self.handover.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn parts_of(tpl: &TopicPartitionList) -> Vec<PartId> {
    tpl.elements().iter().map(|e| PartId { topic: Arc::from(e.topic()), partition: e.partition() }).collect()
}

impl ClientContext for SourceCtx {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        let text = format!("{error}: {reason}");
        let mut last = self.last_global_error.lock().unwrap_or_else(|e| e.into_inner());
        if *last != text {
            warn!(error = %text, "kafka client error (retrying)");
            *last = text;
        }
    }
}

impl ConsumerContext for SourceCtx {
    /// Before the group takes partitions away: the run commits what it holds and lets go of them
    /// (this thread waits for it; nothing is read meanwhile).
    ///
    /// Before the group gives partitions: route them to the batch queue before their fetching
    /// starts ([`MessageQueue`]).
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Some(router) = self.router.get() {
            match rebalance {
                Rebalance::Assign(tpl) => {
                    tpl.elements().iter().for_each(|e| router.route(consumer, e.topic(), e.partition()))
                }
                Rebalance::Revoke(tpl) => tpl.elements().iter().for_each(|e| router.forget(e.topic(), e.partition())),
                Rebalance::Error(_) => {}
            }
        }
        let Rebalance::Revoke(tpl) = rebalance else { return };
        let (Some(to), parts) = (self.handover(), parts_of(tpl)) else { return };
        if parts.is_empty() {
            return;
        }
        info!(partitions = parts.len(), "partitions revoked: handing them back");
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        if to.blocking_send(Ok(Poll::Revoke { parts, done })).is_ok() {
            let _ = wait.recv();
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else { return };
        let Some(to) = self.handover() else { return };
        let (positions, answer) = std::sync::mpsc::sync_channel(1);
        if to.blocking_send(Ok(Poll::Assign { parts: parts_of(tpl), positions })).is_err() {
            return;
        }
        let Ok(from) = answer.recv() else { return };
        let mut expected = self.expected.lock().unwrap_or_else(|e| e.into_inner());
        let mut positioned = TopicPartitionList::new();
        let mut any = false;
        for e in tpl.elements() {
            let key = (e.topic().to_string(), e.partition());
            let offset = match from.iter().find(|(p, _)| *p.topic == *e.topic() && p.partition == e.partition()) {
                Some((_, o)) => {
                    any = true;
                    expected.insert(key, (*o, 0));
                    Offset::Offset(*o)
                }
                None => {
                    expected.remove(&key);
                    e.offset()
                }
            };
            let _ = positioned.add_partition_offset(e.topic(), e.partition(), offset);
        }
        if any {
            match consumer.assign(&positioned) {
                Ok(()) => info!(partitions = positioned.count(), "assigned at the lake's resume points"),
                Err(e) => warn!(error = %e, "could not position the assignment; will seek on first message"),
            }
        }
    }
}

/// The consumer and where each partition must start.
pub struct KafkaSource {
    /// The assigned partitions' messages, read in batches.
    queue: MessageQueue<SourceCtx>,
    consumer: Arc<BaseConsumer<SourceCtx>>,
    expected: Expected,
    topic_ids: HashMap<String, Arc<str>>,
    last_error: Option<String>,
}

/// The topics must be co-partitioned: a stream's player and commerce events share a partition
/// number (both keyed by `stream_id` with the default partitioner), which holds only when the
/// topics have as many partitions. Topics the broker does not know (yet) are not compared, nor are
/// any when the broker cannot be asked (the run waits for it as it always does).
fn check_copartitioned(consumer: &BaseConsumer<SourceCtx>, topics: &[String]) -> Result<()> {
    let mut counts = Vec::new();
    for t in topics {
        match consumer.fetch_metadata(Some(t), Duration::from_secs(10)) {
            Ok(md) => {
                if let Some(mt) = md.topics().iter().find(|x| x.name() == t)
                    && mt.error().is_none()
                    && !mt.partitions().is_empty()
                {
                    counts.push((t.as_str(), mt.partitions().len()));
                }
            }
            Err(e) => {
                warn!(topic = %t, error = %e, "cannot read the topic's partition count: co-partitioning not checked");
                return Ok(());
            }
        }
    }
    if let Some(((a, n), (b, m))) = counts.first().zip(counts.iter().find(|(_, m)| *m != counts[0].1)) {
        return Err(Error::Config(format!(
            "topics {a} ({n} partitions) and {b} ({m} partitions) are not co-partitioned: give them the same partition \
             count (a stream's player and commerce events must share a partition number; README, \"Kafka for development\")"
        )));
    }
    Ok(())
}

impl KafkaSource {
    /// Create the consumer and subscribe. Where each assigned partition starts is the run's
    /// answer to [`Poll::Assign`].
    pub fn open(cfg: &KafkaSourceConfig) -> Result<KafkaSource> {
        let mut cc = cfg.kafka.fast_consumer_config();
        cc.set("group.id", &cfg.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100")
            // Partition p of every topic to one member: a stream's player and commerce events
            // (co-partitioned, see check_copartitioned) stay together.
            .set("partition.assignment.strategy", "range")
            // A crashed worker's partitions move on within 10 s, not the 45 s default.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "3000");
        let expected: Expected = Arc::new(Mutex::new(HashMap::new()));
        let ctx = SourceCtx {
            expected: expected.clone(),
            handover: Mutex::new(None),
            last_global_error: Mutex::new(String::new()),
            router: OnceLock::new(),
        };
        let consumer: BaseConsumer<SourceCtx> =
            cc.create_with_context(ctx).map_err(kafka_error("creating consumer"))?;
        check_copartitioned(&consumer, &cfg.topics)?;
        let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(kafka_error(format!("subscribing to {topics:?}")))?;
        info!(group = %cfg.group_id, topics = ?cfg.topics, brokers = %cfg.kafka.brokers, "kafka source subscribed");
        let topic_ids = cfg.topics.iter().map(|t| (t.clone(), Arc::<str>::from(t.as_str()))).collect();
        let consumer = Arc::new(consumer);
        let queue = MessageQueue::new(consumer.clone(), READ_BATCH);
        let _ = consumer.context().router.set(queue.router());
        Ok(KafkaSource { queue, consumer, expected, topic_ids, last_error: None })
    }

    /// Up to `max` messages, waiting at most `wait` for the first. Blocking (the fetch thread
    /// of [`super::Prefetch`] calls it).
    ///
    /// The consumer's own queue is served first: the group's events (a rebalance routes its
    /// partitions to the batch queue before they are fetched) and any message fetched before
    /// its partition was routed (those came first). Then the batch queue ([`MessageQueue`]).
    fn poll_blocking(&mut self, max: usize, wait: Duration) -> Result<Vec<SourceMsg>> {
        let mut out = BatchBytes::with_capacity(max.min(8192));
        let deadline = Instant::now() + wait;
        let router = self.queue.router();
        let mut failure = None;
        let mut check = Check { consumer: &self.consumer, expected: &self.expected, seeked: Vec::new() };
        loop {
            while out.len() < max && failure.is_none() {
                match self.consumer.poll(Duration::ZERO) {
                    None => break,
                    Some(Ok(m)) => {
                        let topic = match self.topic_ids.get(m.topic()) {
                            Some(t) => t.clone(),
                            None => self
                                .topic_ids
                                .entry(m.topic().to_string())
                                .or_insert_with(|| Arc::from(m.topic()))
                                .clone(),
                        };
                        let ts = m.timestamp().to_millis();
                        // One at a time: librdkafka drops what a seek made stale before handing it.
                        check.seeked.clear();
                        check.take(
                            &topic,
                            m.partition(),
                            m.offset(),
                            m.key(),
                            m.payload().unwrap_or_default(),
                            ts,
                            &mut out,
                        )?;
                    }
                    Some(Err(e)) => failure = Some(e),
                }
            }
            if failure.is_some() || out.len() >= max {
                break;
            }
            router.reroute(&self.consumer);
            let timeout = if out.len() > 0 {
                Duration::ZERO
            } else {
                deadline.saturating_duration_since(Instant::now()).min(QUEUE_WAIT)
            };
            let mut seek_failed = None;
            check.seeked.clear();
            let read = self.queue.read(timeout, max - out.len(), |m| match m {
                Ok(m) if seek_failed.is_none() => {
                    let (key, payload) = (m.key, m.payload);
                    if let Err(e) = check.take(m.topic, m.partition, m.offset, key, payload, m.timestamp_ms, &mut out) {
                        seek_failed = Some(e);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            });
            if let Some(e) = seek_failed {
                return Err(e);
            }
            if failure.is_some() || (read == 0 && (out.len() > 0 || Instant::now() >= deadline)) {
                break;
            }
        }
        match failure {
            // Broker down, fetch errors: librdkafka retries; we log once per kind.
            Some(e) => {
                let text = e.to_string();
                if self.last_error.as_deref() != Some(text.as_str()) {
                    warn!(error = %text, "kafka consumer error (librdkafka keeps retrying)");
                    self.last_error = Some(text);
                }
            }
            None if out.len() > 0 && self.last_error.take().is_some() => {
                info!("kafka consumer recovered");
                self.consumer.context().last_global_error.lock().unwrap_or_else(|e| e.into_inner()).clear();
            }
            None => {}
        }
        Ok(out.finish())
    }

    /// The side of the consumer the run loop uses while this source is read on the fetch thread:
    /// progress reports, lag, assignment.
    pub fn client(&self) -> KafkaClient {
        KafkaClient { consumer: self.consumer.clone(), topic_ids: self.topic_ids.clone() }
    }
}

/// How long one read of the batch queue waits before the consumer's own queue is served again
/// (a rebalance waits at most this long).
const QUEUE_WAIT: Duration = Duration::from_millis(100);

/// The resume-point check of the messages of one read: a newly assigned partition's first
/// message must be at the lake's resume point, or the consumer seeks there.
struct Check<'a> {
    consumer: &'a BaseConsumer<SourceCtx>,
    expected: &'a Expected,
    /// Partitions sought during the current read: their later messages of the same batch were
    /// fetched before the seek and are dropped (librdkafka drops those it still holds). Cleared
    /// before each read.
    seeked: Vec<(Arc<str>, i32)>,
}

impl Check<'_> {
    /// Add the message to `out`, unless it is not where its partition must resume (then seek).
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        topic: &Arc<str>,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        payload: &[u8],
        timestamp_ms: Option<i64>,
        out: &mut BatchBytes,
    ) -> Result<()> {
        if !self.seeked.is_empty() && self.seeked.iter().any(|(t, p)| *p == partition && **t == **topic) {
            return Ok(());
        }
        let mut expected = self.expected.lock().unwrap_or_else(|e| e.into_inner());
        // Resume points are few and short-lived: no key is built while there are none.
        let key_of = if expected.is_empty() { None } else { Some((topic.to_string(), partition)) };
        if let Some(k) = key_of
            && let Some((want, tries)) = expected.get_mut(&k)
        {
            if offset == *want || *tries >= 3 {
                if offset > *want {
                    warn!(
                        topic = &**topic,
                        partition,
                        want = *want,
                        got = offset,
                        "offsets missing from the topic (retention?)"
                    );
                }
                expected.remove(&k);
            } else {
                *tries += 1;
                let want = *want;
                drop(expected);
                info!(topic = &**topic, partition, from = offset, to = want, "seeking to the lake's resume point");
                self.consumer
                    .seek(topic, partition, Offset::Offset(want), Duration::from_secs(10))
                    .map_err(kafka_error(format!("seeking {topic}/{partition} to {want}")))?;
                self.seeked.push((topic.clone(), partition));
                return Ok(());
            }
        }
        out.copy(PartId { topic: topic.clone(), partition }, offset, key, payload, timestamp_ms);
        Ok(())
    }
}

impl Fetch for KafkaSource {
    fn fetch(&mut self, max: usize, wait: Duration) -> Result<Poll> {
        Ok(Poll::Messages(self.poll_blocking(max, wait)?))
    }

    fn attach(&mut self, to: Option<Handover>) {
        *self.consumer.context().handover.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

/// The consumer's group and broker side, shared with the thread that polls it (librdkafka
/// allows any thread to commit or ask for watermarks while one polls).
#[derive(Clone)]
pub struct KafkaClient {
    consumer: Arc<BaseConsumer<SourceCtx>>,
    topic_ids: HashMap<String, Arc<str>>,
}

impl KafkaClient {
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

    /// Stop fetching `parts` (`pause`) or fetch them again. Messages of a paused partition that
    /// were fetched already may still arrive; a partition not assigned (any more) is skipped.
    pub fn pause(&self, parts: &[PartId], pause: bool) {
        let mut tpl = TopicPartitionList::new();
        for p in parts {
            tpl.add_partition(&p.topic, p.partition);
        }
        if tpl.count() == 0 {
            return;
        }
        let done = if pause { self.consumer.pause(&tpl) } else { self.consumer.resume(&tpl) };
        if let Err(e) = done {
            debug!(error = %e, pause, "pausing/resuming partitions (assignment changed?)");
        }
    }

    /// The partitions of the consumed topics not assigned to this consumer (another member of
    /// the group holds them, or the group has not assigned them yet). `None` when the broker
    /// cannot be asked. Blocking (a metadata request per topic).
    pub fn unassigned(&self) -> Option<Vec<PartId>> {
        let assigned = self.consumer.assignment().ok()?;
        let mut missing = Vec::new();
        for (topic, id) in &self.topic_ids {
            let md = self.consumer.fetch_metadata(Some(topic), Duration::from_secs(2)).ok()?;
            let t = md.topics().iter().find(|t| t.name() == topic)?;
            missing.extend(
                t.partitions()
                    .iter()
                    .filter(|p| assigned.find_partition(topic, p.id()).is_none())
                    .map(|p| PartId { topic: id.clone(), partition: p.id() }),
            );
        }
        Some(missing)
    }

    /// Messages behind the high watermark per assigned partition, given the next offsets to
    /// process (a partition the engine has not seen counts from the group's committed offset,
    /// else from the low watermark). `None` when there is no assignment or a partition cannot
    /// be asked (broker away). Blocking (a request per partition).
    pub fn lag(&self, next: &[(PartId, i64)]) -> Option<Vec<(PartId, i64)>> {
        let mut out = Vec::new();
        let assigned = self.consumer.assignment().ok().filter(|a| a.count() > 0)?;
        let mut committed: Option<TopicPartitionList> = None;
        for e in assigned.elements() {
            let (low, high) = self.consumer.fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(2)).ok()?;
            let known =
                next.iter().find(|(p, _)| *p.topic == *e.topic() && p.partition == e.partition()).map(|(_, o)| *o);
            let pos = match known {
                Some(o) => o,
                None => {
                    if committed.is_none() {
                        committed = self.consumer.committed(Duration::from_secs(2)).ok();
                    }
                    let c = committed
                        .as_ref()
                        .and_then(|c| c.find_partition(e.topic(), e.partition()))
                        .and_then(|x| x.offset().to_raw());
                    c.filter(|o| *o >= 0).unwrap_or(low)
                }
            };
            let topic = self.topic_ids.get(e.topic()).cloned().unwrap_or_else(|| Arc::from(e.topic()));
            out.push((PartId { topic, partition: e.partition() }, high - pos));
        }
        Some(out)
    }
}
