//! The livelake stream: sources (Kafka, NDJSON file), the deterministic engine (decode, dedup,
//! watermarks, windows, holding session state while calling the rules of `livelake_jobs`), the
//! lake sink with its commit log, the run loop, operations (health, metrics), the show simulator,
//! and the `livelake` binary's CLI. Every metric definition and batch job is in `livelake_jobs`.
//!
//! Data flows one way: `livelake_schemas` (contract) → `livelake_jobs` (rules, SQL, batch jobs)
//! → this crate (source → engine → sink). Kafka client types stay inside [`source`] and
//! [`kafka`].
#![warn(missing_docs)]

pub mod config;
pub mod engine;
mod error;
pub mod kafka;
pub mod ops;
pub mod run;
pub mod simulate;
pub mod sink;
pub mod source;

pub use error::{Error, KafkaFailure, Result};
