//! Kafka plumbing besides the consumer source: client configuration with pass-through security
//! settings, the simulator's producer, the dead-letter producer, the live-topic producer, the
//! consume-rate ceiling, batch reads of a consumer ([`MessageQueue`]). Client errors leave as
//! [`crate::error::KafkaFailure`].

mod ceiling;
mod config;
mod deadletter;
mod live;
mod produce;
mod queue;

pub use ceiling::{ConsumeRate, drain_rate};
pub use config::{KafkaConfig, parse_property};
pub use deadletter::DeadLetterTopic;
pub use live::{LiveReader, LiveTopic};
pub use produce::{Pace, ProduceReport, Topics, produce_simulation};
pub use queue::{MessageQueue, Msg, Router};

use crate::error::{Error, KafkaFailure};

/// Messages per batch read of a [`MessageQueue`] (the run's source and the ceiling's drain).
pub const READ_BATCH: usize = 4096;

/// Wrap a Kafka client error with what was being done (topic, partition, …).
pub(crate) fn kafka_error(context: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
    let context = context.into();
    move |e| Error::Kafka { context, source: KafkaFailure::new(e) }
}
