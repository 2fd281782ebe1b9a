//! `livelake run`: consume events (Kafka or an NDJSON file) and keep the Parquet lake up to date.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use livelake_jobs::clock::SystemClock;
use livelake_pipeline::config::Config;
use livelake_pipeline::ops::{Board, Metrics, serve_board, serve_metrics};
use livelake_pipeline::run::run as run_pipeline;
use tokio::sync::watch;
use tracing::info;

use super::common::{runtime_of, wait_for_signal};

/// Arguments of `livelake run`. Flags override the config file and `LIVELAKE__*` variables.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML config file (see README for every setting).
    #[arg(long, short, env = "LIVELAKE_CONFIG")]
    config: Option<PathBuf>,
    /// Lake root directory [default: ./lake].
    #[arg(long)]
    lake: Option<String>,
    /// `kafka`, or `file:PATH.ndjson` (the embedded default: ends when the file is consumed) [default: kafka].
    #[arg(long)]
    source: Option<String>,
    /// Kafka bootstrap servers [default: 127.0.0.1:19092].
    #[arg(long)]
    brokers: Option<String>,
    /// Kafka consumer group id [default: livelake].
    #[arg(long)]
    group_id: Option<String>,
    /// File source: replay at this multiple of the events' pace (1 = real time); 0 = as fast as
    /// possible.
    #[arg(long, value_name = "X")]
    replay_speed: Option<f64>,
    /// Kafka: finish (flush, commit, exit 0) once caught up and quiet this many seconds.
    #[arg(long)]
    until_idle: Option<u64>,
    /// Prometheus endpoint address; `off` disables [default: 127.0.0.1:9464].
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Serve the live board (web page and `/api/live`) on this address, e.g. 127.0.0.1:9465.
    /// With a file source it keeps serving the final state after the file is consumed, until
    /// SIGINT/SIGTERM.
    #[arg(long, value_name = "ADDR")]
    board: Option<String>,
    /// Access token the board requires (`?token=…` or `Authorization: Bearer …`); needed to serve
    /// it on a non-loopback address.
    #[arg(long, env = "LIVELAKE_BOARD_TOKEN", hide_env_values = true)]
    board_token: Option<String>,
}

fn config(a: &Args) -> anyhow::Result<Config> {
    let mut c = Config::load(a.config.as_deref(), std::env::vars())?;
    if let Some(l) = &a.lake {
        c.lake.path = l.clone();
    }
    if let Some(s) = &a.source {
        c.source.kind = s.clone();
    }
    if let Some(b) = &a.brokers {
        c.kafka.brokers = b.clone();
    }
    if let Some(g) = &a.group_id {
        c.kafka.group_id = g.clone();
    }
    if let Some(x) = a.replay_speed {
        c.source.replay_speed = x;
    }
    if let Some(i) = a.until_idle {
        c.source.until_idle_secs = i;
    }
    if let Some(m) = &a.metrics_listen {
        c.metrics.listen = if m == "off" { String::new() } else { m.clone() };
    }
    c.validate()?;
    if let Some(path) = c.source.kind.strip_prefix("file:") {
        anyhow::ensure!(std::path::Path::new(path).is_file(), "--source file:{path}: no such file");
    }
    Ok(c)
}

/// Run `livelake run`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = config(&a)?;
    // `run.threads` = 1 runs the loop, its commits and its decoding on this one thread; n runs
    // the loop here, its commits on n runtime workers and its decoding on n − 1 helpers and the
    // loop itself when they fall behind (see `run::decode_ahead`), pipeline stages on n cores.
    // The loop stays on this thread: a task moving between threads would allocate from one glibc
    // arena after another (the Kafka path's peak RSS doubled).
    let rt = runtime_of(cfg.run.threads())?;
    rt.block_on(async move {
        let metrics = Arc::new(Metrics::default());
        if !cfg.metrics.listen.is_empty() {
            serve_metrics(&cfg.metrics.listen, metrics.clone())
                .await
                .with_context(|| format!("metrics endpoint {}", cfg.metrics.listen))?;
        }
        let board = match &a.board {
            Some(addr) => {
                let board = Board::new(cfg.engine().width_ms, a.board_token.clone().filter(|t| !t.is_empty()));
                let local = serve_board(addr, board.clone()).await.with_context(|| format!("live board {addr}"))?;
                println!("live board: http://{local}/");
                Some(board)
            }
            None => None,
        };
        let (tx, rx) = watch::channel(false);
        let mut stopped = rx.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("signal received: finishing the current batch, then flush and commit");
            let _ = tx.send(true);
        });
        let s = run_pipeline(&cfg, Arc::new(SystemClock), metrics, board.clone(), rx).await?;
        println!(
            "read {} messages ({} replayed to rebuild state); wrote {}; {} commits",
            s.messages,
            s.replayed,
            s.rows.iter().map(|(t, n)| format!("{t}={n}")).collect::<Vec<_>>().join(" "),
            s.commits
        );
        println!("late events: {}, duplicates dropped: {}", s.late, s.duplicates);
        if s.busy_ms > 0 {
            println!(
                "throughput: {} messages in {:.2} s busy = {:.0} events/s",
                s.messages,
                s.busy_ms as f64 / 1000.0,
                s.messages as f64 * 1000.0 / s.busy_ms as f64
            );
        }
        if !s.dead_letters.is_empty() {
            let reasons: Vec<String> = s.dead_letters.iter().map(|(r, n)| format!("{r}={n}")).collect();
            println!("dead letters: {}", reasons.join(" "));
        }
        println!("lake: {}", cfg.lake.path);
        match livelake_jobs::headlines(&cfg.lake.url()?).await {
            Ok(table) => {
                println!("\nheadline figures (all shows in the lake; sessions cleaned of join-spike bots):\n{table}")
            }
            Err(e) => tracing::warn!(error = %e, "could not compute headline figures"),
        }
        println!(
            "\nexample query (the tables are Delta Lake tables: DuckDB, Spark, Trino, delta-rs read them):\n  \
             SELECT window_start, sessions_active, stall_ratio, exits_after_stall, orders, gmv_usd\n  \
             FROM delta_scan('{}/stream_minute')\n  \
             WHERE region = 'EU' ORDER BY stream_id, window_start;",
            cfg.lake.path
        );
        if board.is_some() && !*stopped.borrow() {
            println!("\nthe input ended; the live board keeps showing the final state until SIGINT/SIGTERM");
            let _ = stopped.changed().await;
        }
        Ok(())
    })
}
