//! The livelake pipeline: the show simulator, Kafka plumbing and the `livelake` command line.
//! Data flows one way: `livelake_schemas` (contract) → this crate (sources, simulation) → CLI.
#![warn(missing_docs)]

pub mod kafka;
pub mod simulate;
