//! The session rules of docs/metrics.md as plain functions over events: when a view ends (an
//! exit), whether it stalled just before, what it did in the 60 s after its start (the probe of
//! the start-up and bounce metrics), and the start counts the join-spike rule reads. The SQL in
//! `jobs/sql/` turns these facts into metric columns.
//!
//! Both paths call these rules: the streaming engine holds one [`StreamSessions`] per stream and
//! feeds it on-time events with their partition's watermark; the rollup feeds every event of a
//! show, in event-time order, as fresh.

mod codec;
mod sessions;

pub use codec::{Reader, StateError, Writer};
pub use sessions::{Closed, Observation, Regions, StreamSessions};

/// The parameters of the windowed rules: window width and session timeout (docs/metrics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleConfig {
    /// Window width (ms).
    pub width_ms: i64,
    /// A view ends when no player event follows its last one within this (ms).
    pub session_timeout_ms: i64,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig { width_ms: 60_000, session_timeout_ms: 60_000 }
    }
}
