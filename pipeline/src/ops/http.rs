//! The HTTP endpoint of `livelake run` (axum): `/metrics` (OpenMetrics text) and `/healthz`.

use std::sync::Arc;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use tokio::net::TcpListener;
use tracing::{info, warn};

use super::Metrics;

/// The content type of the OpenMetrics text format.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Bind `addr` and serve until the runtime stops. Returns the bound address.
pub async fn serve_metrics(addr: &str, metrics: Arc<Metrics>) -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    info!(%local, "metrics endpoint listening");
    let app = Router::new()
        .route("/metrics", get(move || async move { ([(CONTENT_TYPE, OPENMETRICS)], metrics.render()) }))
        .route("/healthz", get(|| async { "ok\n" }));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(%local, error = %e, "metrics endpoint stopped");
        }
    });
    Ok(local)
}
