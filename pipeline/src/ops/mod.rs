//! Operations: Prometheus metrics and their HTTP endpoint, the live board, signals for graceful
//! shutdown.

mod board;
mod http;
mod metrics;

pub use board::{Board, LIVE_SCHEMA, LiveOut, LiveRow, live_rows, serve_board};
pub use http::serve_metrics;
pub use metrics::Metrics;
