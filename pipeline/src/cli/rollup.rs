//! `livelake rollup` (one day, or one show right after it ends) and `livelake schedule` (the
//! nightly loop that runs it).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use livelake_jobs::rollup::{RollupReport, RollupRequest, rollup};
use livelake_jobs::schedule::{CronSchedule, Retry, Timer, run_schedule};
use livelake_pipeline::config::Config;
use tokio::sync::watch;
use tracing::info;

use super::common::{runtime, wait_for_signal};

/// Arguments of `livelake rollup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The UTC day to roll up (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    date: NaiveDate,
    /// Only this show (e.g. right after it ends); default: every show with events on the day.
    #[arg(long)]
    stream: Option<String>,
    /// Skip compacting the day's raw partitions (and the VACUUM after it).
    #[arg(long)]
    no_compact: bool,
}

/// Arguments of `livelake compact`.
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    #[command(flatten)]
    common: Common,
    /// The UTC day whose partitions to compact (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    date: NaiveDate,
}

/// Arguments of `livelake schedule`.
#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// TOML config file (`[rollup]`: schedule, timezone, retries; see README).
    #[arg(long, short, env = "LIVELAKE_CONFIG")]
    config: Option<PathBuf>,
    /// Lake root directory [default: ./lake].
    #[arg(long)]
    lake: Option<String>,
}

impl Common {
    fn config(&self) -> anyhow::Result<Config> {
        let mut c = Config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(l) = &self.lake {
            c.lake.path = l.clone();
        }
        super::common::check_lake(&c.lake.url()?)?;
        Ok(c)
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a date (want YYYY-MM-DD)"))
}

fn summary(r: &RollupReport) -> String {
    let files: usize = r.compacted.iter().map(|c| c.files_before).sum();
    format!(
        "{} show(s): stream_daily {} rows, show_summary {} rows, show_sources {} rows, show_minute {} rows; compacted {} partition(s), {} files → {}; vacuumed {} file(s)",
        r.streams.len(),
        r.daily_rows,
        r.show_rows,
        r.source_rows,
        r.minute_rows,
        r.compacted.len(),
        files,
        r.compacted.iter().map(|c| c.files_after).sum::<usize>(),
        r.vacuumed
    )
}

/// Run `livelake rollup`.
pub fn run(a: Args) -> anyhow::Result<()> {
    super::common::few_malloc_arenas()?;
    let cfg = a.common.config()?;
    let _spill = livelake_jobs::set_memory_limit(cfg.rollup.memory_mb)?;
    let vacuum = (cfg.rollup.vacuum && !a.no_compact).then_some(cfg.rollup.vacuum_retention_hours);
    let compact_target_bytes = (!a.no_compact).then_some(cfg.rollup.compact_target_mb << 20);
    let req = RollupRequest {
        date: a.date,
        stream: a.stream,
        compact_target_bytes,
        vacuum_retention_hours: vacuum,
        group_events: cfg.rollup.group_events,
    };
    let report = runtime()?.block_on(rollup(&cfg.lake.url()?, &req, cfg.engine().rules()))?;
    println!("rollup {}: {}", a.date, summary(&report));
    Ok(())
}

/// Run `livelake compact`.
pub fn compact(a: CompactArgs) -> anyhow::Result<()> {
    super::common::few_malloc_arenas()?;
    let cfg = a.common.config()?;
    let _spill = livelake_jobs::set_memory_limit(cfg.rollup.memory_mb)?;
    let target = cfg.rollup.compact_target_mb << 20;
    let done = runtime()?.block_on(livelake_jobs::compact::compact(&cfg.lake.url()?, a.date, target))?;
    let (before, after): (usize, usize) = done.iter().fold((0, 0), |(b, f), c| (b + c.files_before, f + c.files_after));
    println!("compact {}: {} partition(s), {before} files → {after}", a.date, done.len());
    Ok(())
}

/// The system clock; sleeps end early when a signal asks the loop to stop.
struct SystemTimer(watch::Receiver<bool>);

impl Timer for SystemTimer {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, d: Duration) -> bool {
        let mut stop = self.0.clone();
        if *stop.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = stop.changed() => false,
        }
    }
}

/// Run `livelake schedule` until SIGINT/SIGTERM.
pub fn schedule(a: ScheduleArgs) -> anyhow::Result<()> {
    super::common::few_malloc_arenas()?;
    let cfg = a.common.config()?;
    let _spill = livelake_jobs::set_memory_limit(cfg.rollup.memory_mb)?;
    let r = &cfg.rollup;
    let schedule = CronSchedule::parse(&r.schedule, &r.timezone).map_err(anyhow::Error::msg)?;
    let retry = Retry {
        retries: r.retries,
        base: Duration::from_secs(r.retry_base_secs),
        max: Duration::from_secs(r.retry_max_secs),
    };
    let lake = cfg.lake.url()?;
    runtime()?.block_on(async {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("signal received: stopping after the current run");
            let _ = tx.send(true);
        });
        info!(schedule = %r.schedule, timezone = %r.timezone, lake = %cfg.lake.path, "scheduler started");
        let timer = SystemTimer(rx);
        run_schedule(&schedule, retry, &timer, None, |date| {
            let vacuum_retention_hours = r.vacuum.then_some(r.vacuum_retention_hours);
            let compact_target_bytes = r.compact.then_some(r.compact_target_mb << 20);
            let req = RollupRequest {
                date,
                stream: None,
                compact_target_bytes,
                vacuum_retention_hours,
                group_events: r.group_events,
            };
            let (lake, rules) = (lake.clone(), cfg.engine().rules());
            async move { rollup(&lake, &req, rules).await.map(|rep| summary(&rep)).map_err(|e| e.to_string()) }
        })
        .await;
    });
    info!("scheduler stopped");
    Ok(())
}
