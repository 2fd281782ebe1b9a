//! The livelake pipeline: sources (Kafka, NDJSON file), the deterministic engine (decode,
//! dedup, watermarks, windows), the Parquet lake sink with its commit log, the show simulator,
//! and the operations around them. The `livelake` binary (src/main.rs) drives it.
//!
//! Data flows one way: `livelake_schemas` (contract) → source → engine → `livelake_jobs` (SQL)
//! → sink.
#![warn(missing_docs)]

pub mod clock;
pub mod compact;
pub mod config;
pub mod engine;
mod error;
pub mod kafka;
pub mod ops;
pub mod progress;
pub mod report;
pub mod rollup;
pub mod run;
pub mod schedule;
pub mod shows;
pub mod simulate;
pub mod sink;
pub mod source;

pub use error::{Error, Result};
