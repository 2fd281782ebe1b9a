//! Kafka plumbing shared by the producer (simulator) and, later, the consumer source: client
//! configuration with pass-through security settings, and a producer that reports deliveries.

mod ceiling;
mod config;
mod produce;

pub use ceiling::{ConsumeRate, drain_rate};
pub use config::{KafkaConfig, parse_property};
pub use produce::{ProduceReport, Topics, produce_simulation};
