//! Kafka plumbing shared by the producer (simulator) and, later, the consumer source: client
//! configuration with pass-through security settings, and a producer that reports deliveries.

mod config;
mod produce;

pub use config::{KafkaConfig, parse_property};
pub use produce::{ProduceReport, Topics, produce_simulation};
