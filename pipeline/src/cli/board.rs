//! `livelake board --listen ADDR`: the live board fed by the live topic (`livelake.live.v1`),
//! which every `livelake run` with `kafka.live_topic` set publishes to — any number of boards,
//! apart from the workers.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use livelake_pipeline::config::Config;
use livelake_pipeline::kafka::LiveReader;
use livelake_pipeline::ops::{Board, serve_board};
use tracing::info;

use super::common::{runtime, wait_for_signal};

/// Arguments of `livelake board`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address of the board's web page and `/api/live`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9465")]
    listen: String,
    /// The live topic [default: `kafka.live_topic`, else livelake.live.v1].
    #[arg(long)]
    topic: Option<String>,
    /// Kafka bootstrap servers [default: 127.0.0.1:19092].
    #[arg(long)]
    brokers: Option<String>,
    /// Access token the board requires (needed on a non-loopback address).
    #[arg(long, env = "LIVELAKE_BOARD_TOKEN", hide_env_values = true)]
    board_token: Option<String>,
    /// TOML config file (Kafka client settings, window width; see README).
    #[arg(long, short, env = "LIVELAKE_CONFIG")]
    config: Option<PathBuf>,
}

/// Run `livelake board`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let mut cfg = Config::load(a.config.as_deref(), std::env::vars())?;
    if let Some(b) = &a.brokers {
        cfg.kafka.brokers = b.clone();
    }
    let topic = a.topic.clone().unwrap_or_else(|| {
        if cfg.kafka.live_topic.is_empty() {
            livelake_schemas::topics::LIVE.to_string()
        } else {
            cfg.kafka.live_topic.clone()
        }
    });
    let reader = LiveReader::new(&cfg.kafka.client(), &topic)?;
    runtime()?.block_on(async move {
        let board = Board::new(cfg.engine().width_ms, a.board_token.clone().filter(|t| !t.is_empty()));
        let local = serve_board(&a.listen, board.clone()).await.with_context(|| format!("live board {}", a.listen))?;
        println!("live board: http://{local}/ (from the topic {topic} at {})", cfg.kafka.brokers);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (board, stop) = (board.clone(), stop.clone());
            tokio::task::spawn_blocking(move || reader.feed(&board, &stop))
        };
        wait_for_signal().await;
        info!("signal received: stopping the board");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.await.context("the live-topic reader")?;
        Ok(())
    })
}
