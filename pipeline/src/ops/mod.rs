//! Operations: Prometheus metrics and their HTTP endpoint, signals for graceful shutdown.

mod http;
mod metrics;

pub use http::serve_metrics;
pub use metrics::Metrics;
