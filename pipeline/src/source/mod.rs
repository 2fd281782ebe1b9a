//! Where messages come from: a Kafka consumer group, or an NDJSON file (the embedded default).
//! Both hand the engine the same [`SourceMsg`]s; everything after decoding is shared. Either is
//! read on its own thread ([`Prefetch`]), a few batches ahead of the engine, so waiting for the
//! broker or the disk overlaps processing.

mod file;
mod kafka;

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
pub use file::FileSource;
pub use kafka::{KafkaClient, KafkaSource, KafkaSourceConfig};

use crate::engine::PartId;
use crate::error::Result;

/// One message as read. Its key and payload are slices of its batch's one buffer
/// ([`BatchBytes`]): no allocation per message.
#[derive(Debug, Clone)]
pub struct SourceMsg {
    /// Partition it came from.
    pub part: PartId,
    /// Offset (Kafka) or 1-based line number (file).
    pub offset: i64,
    /// Key (Kafka), if any.
    pub key: Option<Bytes>,
    /// Bytes.
    pub payload: Bytes,
    /// Broker/producer timestamp, if any.
    pub timestamp_ms: Option<i64>,
}

/// The messages of a batch as they are read: their bytes are appended to one buffer, which the
/// messages share once the batch is complete ([`BatchBytes::finish`]).
#[derive(Default)]
pub(crate) struct BatchBytes {
    /// The bytes read so far (a source may append to it directly, then [`BatchBytes::push`]).
    pub bytes: Vec<u8>,
    msgs: Vec<Read>,
}

/// A message of a [`BatchBytes`]: partition, offset, key and payload ranges, timestamp.
type Read = (PartId, i64, Option<Range<usize>>, Range<usize>, Option<i64>);

impl BatchBytes {
    /// Room for `n` messages of a few hundred bytes.
    pub fn with_capacity(n: usize) -> Self {
        BatchBytes { bytes: Vec::with_capacity(n * 320), msgs: Vec::with_capacity(n) }
    }

    /// Messages so far.
    pub fn len(&self) -> usize {
        self.msgs.len()
    }

    /// Append `key` and `payload` and add the message.
    pub fn copy(&mut self, part: PartId, offset: i64, key: Option<&[u8]>, payload: &[u8], timestamp_ms: Option<i64>) {
        let key = key.map(|k| self.append(k));
        let payload = self.append(payload);
        self.msgs.push((part, offset, key, payload, timestamp_ms));
    }

    fn append(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        start..self.bytes.len()
    }

    /// Add a message (no key, no timestamp) whose payload is `payload` of [`BatchBytes::bytes`].
    pub fn push(&mut self, part: PartId, offset: i64, payload: Range<usize>) {
        self.msgs.push((part, offset, None, payload, None));
    }

    /// The messages, each sharing the batch's buffer.
    pub fn finish(self) -> Vec<SourceMsg> {
        let bytes = Bytes::from(self.bytes);
        self.msgs
            .into_iter()
            .map(|(part, offset, key, payload, timestamp_ms)| SourceMsg {
                part,
                offset,
                key: key.map(|k| bytes.slice(k)),
                payload: bytes.slice(payload),
                timestamp_ms,
            })
            .collect()
    }
}

/// A batch of messages, the end of input, or a change of the consumer group's assignment (in
/// the source's order: what was read before it comes before it).
#[derive(Debug)]
pub enum Poll {
    /// Messages (possibly none if the source was quiet for the poll interval).
    Messages(Vec<SourceMsg>),
    /// No more input will come: every partition is exhausted.
    End,
    /// The group takes these partitions away: the run commits what it holds and stops
    /// processing their slots, then drops `done`; the source waits for that before it lets go.
    Revoke {
        /// The partitions.
        parts: Vec<PartId>,
        /// Dropped (or sent to) when the run is done with them.
        done: std::sync::mpsc::SyncSender<()>,
    },
    /// The group gives these partitions to this run: the run takes their slots and answers where
    /// to read each partition from (a partition left out starts at the group's offset).
    Assign {
        /// The partitions.
        parts: Vec<PartId>,
        /// Where to read from.
        positions: std::sync::mpsc::SyncSender<Vec<(PartId, i64)>>,
    },
}

/// Where a source hands [`Poll`]s to the run (the prefetch channel).
pub type Handover = tokio::sync::mpsc::Sender<Result<Poll>>;

/// A source that [`Prefetch`] reads on its own thread.
pub trait Fetch: Send + 'static {
    /// Up to `max` messages, waiting at most `wait` for the first (none if nothing came), or
    /// [`Poll::End`] when no more will come.
    fn fetch(&mut self, max: usize, wait: Duration) -> Result<Poll>;

    /// The channel the fetched batches go to, for a source that also hands over assignment
    /// changes in order with them (Kafka); none once the fetch thread has stopped (the consumer's
    /// closing revokes its partitions with nobody left to hand them to).
    fn attach(&mut self, _to: Option<Handover>) {}
}

/// A source read on a thread of its own (`livelake-fetch`), at most `depth` batches ahead of
/// the engine (the bounded channel is the backpressure: memory stays bounded however fast the
/// broker delivers). The order of messages is the source's order.
pub struct Prefetch {
    rx: tokio::sync::mpsc::Receiver<Result<Poll>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Prefetch {
    /// Start reading `source` in batches of at most `max` messages, each fetch waiting at most
    /// `wait` (how quickly the thread notices that it should stop).
    pub fn spawn(mut source: impl Fetch, max: usize, wait: Duration, depth: usize) -> Result<Prefetch> {
        let (tx, rx) = tokio::sync::mpsc::channel(depth.max(1));
        source.attach(Some(tx.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("livelake-fetch".into())
            .spawn(move || {
                // Where the thread's time goes (debug log at the end): fetching, and waiting for
                // the engine to take a batch (the channel full).
                let (mut fetching, mut blocked, mut messages) = (Duration::ZERO, Duration::ZERO, 0usize);
                while !stopped.load(Ordering::Relaxed) {
                    let t0 = std::time::Instant::now();
                    let batch = source.fetch(max, wait);
                    let t1 = std::time::Instant::now();
                    fetching += t1 - t0;
                    let last = !matches!(batch, Ok(Poll::Messages(_)));
                    match &batch {
                        Ok(Poll::Messages(m)) if m.is_empty() => continue,
                        Ok(Poll::Messages(m)) => messages += m.len(),
                        _ => {}
                    }
                    // The receiver is gone: the run is over.
                    let sent = tx.blocking_send(batch);
                    blocked += t1.elapsed();
                    if sent.is_err() || last {
                        break;
                    }
                }
                source.attach(None);
                tracing::debug!(
                    fetching_s = fetching.as_secs_f64(),
                    blocked_s = blocked.as_secs_f64(),
                    messages,
                    "fetch thread"
                );
            })
            .map_err(crate::error::io("starting the fetch thread", std::path::Path::new("livelake-fetch")))?;
        Ok(Prefetch { rx, stop, thread: Some(thread) })
    }

    /// The next batch (at once when one is there), waiting at most `wait`: no messages when none
    /// came in time; after the source's end (or an error, delivered once) always [`Poll::End`].
    pub async fn next(&mut self, wait: Duration) -> Result<Poll> {
        match tokio::time::timeout(wait, self.rx.recv()).await {
            Ok(Some(batch)) => batch,
            Ok(None) => Ok(Poll::End),
            Err(_) => Ok(Poll::Messages(Vec::new())),
        }
    }
}

impl Drop for Prefetch {
    /// Stop the thread (within one fetch's wait) and wait for it: the source (a Kafka consumer
    /// leaving its group) is closed before the run returns.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.close();
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
