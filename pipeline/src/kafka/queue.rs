//! Reading a consumer's messages in batches. librdkafka's per-message poll pays a lock, a wake-up
//! and a clock read for every message, and the Rust binding an allocation: a third of a plain
//! drain's time (BENCHMARKS.md, session 38). Here each assigned partition's queue is forwarded to
//! one queue of ours ([`MessageQueue`]), read with `rd_kafka_consume_batch_queue`: thousands of
//! messages per call, each borrowed until the caller has copied it. The consumer's own queue
//! keeps the group's events (rebalances, errors), which the caller still polls as before.
//!
//! librdkafka's rules this follows:
//! - a partition is routed ([`Router::route`]) before its fetching starts (on the group's
//!   assignment, before the assign call), so none of its messages goes to the consumer's queue
//!   first and out of order with the later ones;
//! - librdkafka drops the forward when it stops a partition's fetch (an unassign, a re-assign
//!   at new positions) and does not restore it, so the routed partitions are routed again before
//!   each read ([`Router::reroute`]); meanwhile their messages wait in the partition's own queue
//!   and are moved, in order, when the forward is set again;
//! - messages made stale by a seek, a pause or a revocation are dropped by librdkafka when read
//!   (their fetch version is outdated), except those already returned in the same batch: the
//!   caller drops those ([`crate::source`]'s resume-point check).
//!
//! The only `unsafe` code of the workspace is in this module.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};

/// A queue of librdkafka's, destroyed with its owner. Null once destroyed.
struct QueuePtr(Option<NonNull<rd::rd_kafka_queue_t>>);

// SAFETY: librdkafka's queues are thread-safe (every operation takes the queue's lock). The
// pointer is used while it is `Some`: by the router under the `Mutex` that holds it, and by
// `MessageQueue::read`, which copies it out and holds the `&mut` that destroying it (`Drop`) needs.
unsafe impl Send for QueuePtr {}

/// The partitions routed to a [`MessageQueue`], and the queue while it lives: the rebalance
/// callbacks (on the consumer's context) route through this.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Mutex<Routes>>,
}

struct Routes {
    queue: QueuePtr,
    /// Routed partitions (topic, partition).
    parts: Vec<(CString, i32)>,
}

impl Router {
    /// Forward `topic`/`partition`'s messages to the queue (from now on; kept in
    /// [`Router::reroute`]'s list). Nothing once the queue is gone.
    pub fn route<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>, topic: &str, partition: i32) {
        let Ok(name) = CString::new(topic) else { return };
        let mut routes = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = routes.queue.0 else { return };
        forward(consumer, Some(queue), &name, partition);
        if !routes.parts.iter().any(|(t, p)| *t == name && *p == partition) {
            routes.parts.push((name, partition));
        }
    }

    /// Stop keeping `topic`/`partition` routed (revoked; its forward is librdkafka's to drop).
    pub fn forget(&self, topic: &str, partition: i32) {
        let mut routes = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        routes.parts.retain(|(t, p)| !(t.as_bytes() == topic.as_bytes() && *p == partition));
    }

    /// Forward every routed partition again (see the module's notes: librdkafka drops a forward
    /// when it stops a partition's fetch). Cheap: a lock and a pointer per partition.
    pub fn reroute<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        let routes = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = routes.queue.0 else { return };
        for (topic, partition) in &routes.parts {
            forward(consumer, Some(queue), topic, *partition);
        }
    }
}

/// Forward the partition's queue to `queue`, or (`None`) forward it nowhere: its messages then
/// stay in it, and librdkafka stops fetching the partition once it holds its limit.
fn forward<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    queue: Option<NonNull<rd::rd_kafka_queue_t>>,
    topic: &CStr,
    partition: i32,
) {
    let rk = consumer.client().native_ptr();
    let to = queue.map_or(std::ptr::null_mut(), NonNull::as_ptr);
    // SAFETY: `rk` is the live consumer's handle (borrowed for this call), `topic` a valid C
    // string, `queue` alive (the caller holds the routes' lock, and the queue is destroyed only
    // under it). The partition's queue handle we get is released right after forwarding; the
    // forward itself holds its own reference to `queue`.
    unsafe {
        let pq = rd::rd_kafka_queue_get_partition(rk, topic.as_ptr(), partition);
        if !pq.is_null() {
            rd::rd_kafka_queue_forward(pq, to);
            rd::rd_kafka_queue_destroy(pq);
        }
    }
}

/// One message of a batch, borrowed from librdkafka until the callback returns.
pub struct Msg<'a> {
    /// Its topic (shared, one per topic).
    pub topic: &'a Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key, if any.
    pub key: Option<&'a [u8]>,
    /// Payload (empty if none).
    pub payload: &'a [u8],
    /// The message's timestamp, if it has one.
    pub timestamp_ms: Option<i64>,
}

/// The queue all routed partitions' messages go to, read in batches. It keeps the consumer
/// alive (librdkafka's queues must go before their client).
pub struct MessageQueue<C: ConsumerContext + 'static> {
    router: Router,
    /// The client, which outlives the queue.
    consumer: Arc<BaseConsumer<C>>,
    buf: Vec<*mut rd::rd_kafka_message_t>,
    /// Topic names by librdkafka's topic handle (checked by name on each use).
    topics: Vec<(*const rd::rd_kafka_topic_t, Arc<str>)>,
}

// SAFETY: the message pointers in `buf` are only set and used within `read` (destroyed before it
// returns); the topic handles are only compared, never dereferenced without a live message that
// holds them. librdkafka allows any thread to read a queue.
unsafe impl<C: ConsumerContext + 'static> Send for MessageQueue<C> {}

impl<C: ConsumerContext + 'static> MessageQueue<C> {
    /// A new, empty queue of `consumer`'s, read at most `batch` messages per call.
    pub fn new(consumer: Arc<BaseConsumer<C>>, batch: usize) -> Self {
        // SAFETY: the handle is the live consumer's; the queue is destroyed in `drop`, before the
        // consumer (which this holds) can be.
        let queue = NonNull::new(unsafe { rd::rd_kafka_queue_new(consumer.client().native_ptr()) });
        let routes = Routes { queue: QueuePtr(queue), parts: Vec::new() };
        MessageQueue {
            router: Router { inner: Arc::new(Mutex::new(routes)) },
            consumer,
            buf: vec![std::ptr::null_mut(); batch.max(1)],
            topics: Vec::new(),
        }
    }

    /// Routes partitions to this queue.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Read up to `max` messages (at most the batch size), waiting up to `timeout` for the first,
    /// and hand each to `each` in order; returns how many were read (errors included). A
    /// message that carries an error (a fetch error of a partition) goes to `each` as `Err`.
    pub fn read(&mut self, timeout: Duration, max: usize, mut each: impl FnMut(Result<Msg<'_>, KafkaError>)) -> usize {
        let routes = self.router.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = routes.queue.0 else { return 0 };
        drop(routes);
        let n = max.min(self.buf.len());
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `queue` stays alive (only `drop` destroys it, and `drop` needs `&mut self`,
        // which this call holds); `buf` has room for `n` pointers.
        let got = unsafe { rd::rd_kafka_consume_batch_queue(queue.as_ptr(), ms, self.buf.as_mut_ptr(), n) };
        let got = usize::try_from(got).unwrap_or(0);
        for i in 0..got {
            let m = self.buf[i];
            // SAFETY: librdkafka returned `got` valid messages; each is read here and destroyed
            // right after, and nothing borrowed from it outlives `each`.
            unsafe {
                let msg = &*m;
                if msg.err == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                    let topic = topic_of(&mut self.topics, msg.rkt);
                    let bytes = |p: *mut std::ffi::c_void, len: usize| {
                        if p.is_null() { None } else { Some(std::slice::from_raw_parts(p as *const u8, len)) }
                    };
                    let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
                    let ts = rd::rd_kafka_message_timestamp(m, &mut kind);
                    each(Ok(Msg {
                        topic: &topic,
                        partition: msg.partition,
                        offset: msg.offset,
                        key: bytes(msg.key, msg.key_len),
                        payload: bytes(msg.payload, msg.len).unwrap_or_default(),
                        timestamp_ms: (ts >= 0
                            && kind != rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
                            .then_some(ts),
                    }));
                } else {
                    each(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::from(msg.err))));
                }
                rd::rd_kafka_message_destroy(m);
            }
        }
        got
    }
}

/// The name of topic handle `rkt` (cached by handle; the name is compared on each use, so a
/// handle reused for another topic is not mistaken).
///
/// # Safety
/// `rkt` must be the topic of a live message.
unsafe fn topic_of(
    cache: &mut Vec<(*const rd::rd_kafka_topic_t, Arc<str>)>,
    rkt: *const rd::rd_kafka_topic_t,
) -> Arc<str> {
    // SAFETY: the caller's message holds the topic handle; its name is a valid C string.
    let name = unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(rkt)) }.to_bytes();
    if let Some((_, t)) = cache.iter().find(|(p, t)| *p == rkt && t.as_bytes() == name) {
        return t.clone();
    }
    let t: Arc<str> = Arc::from(String::from_utf8_lossy(name).as_ref());
    cache.retain(|(p, _)| *p != rkt);
    cache.push((rkt, t.clone()));
    t
}

impl<C: ConsumerContext + 'static> Drop for MessageQueue<C> {
    /// Destroy the queue (what it still holds is dropped), before the consumer can go; the
    /// router routes nothing after this.
    ///
    /// The routed partitions are unrouted first: forwarded to a destroyed queue, their messages
    /// would be thrown away as fast as librdkafka fetches them, while the consumer lives on
    /// (the run's final commit); unrouted, they wait in the partition's queue, which fills and
    /// stops the fetching.
    fn drop(&mut self) {
        let mut routes = self.router.inner.lock().unwrap_or_else(|e| e.into_inner());
        for (topic, partition) in &routes.parts {
            forward(&self.consumer, None, topic, *partition);
        }
        if let Some(queue) = routes.queue.0.take() {
            // SAFETY: the queue was made by `rd_kafka_queue_new` and is destroyed once (taken
            // out under the lock every user holds).
            unsafe { rd::rd_kafka_queue_destroy(queue.as_ptr()) };
        }
        routes.parts.clear();
    }
}
