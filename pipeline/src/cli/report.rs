//! `livelake report --stream ID`: the show's retrospective page (HTML + Markdown).

use std::path::PathBuf;

use anyhow::Context;
use livelake_jobs::report::report;
use livelake_pipeline::config::Config;

use super::common::{check_lake, runtime};

/// Arguments of `livelake report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The show (stream_id).
    #[arg(long)]
    stream: String,
    /// Lake root directory [default: ./lake].
    #[arg(long)]
    lake: Option<String>,
    /// Where to write `<stream>.html`, `<stream>.md` and `charts/`.
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// TOML config file (window width and session timeout; see README).
    #[arg(long, short, env = "LIVELAKE_CONFIG")]
    config: Option<PathBuf>,
    /// Recompute the show from the raw tables even when the rollup's tables hold it.
    #[arg(long)]
    from_raw: bool,
}

/// Run `livelake report`.
pub fn run(a: Args) -> anyhow::Result<()> {
    super::common::few_malloc_arenas()?;
    let mut cfg = Config::load(a.config.as_deref(), std::env::vars())?;
    if let Some(l) = &a.lake {
        cfg.lake.path = l.clone();
    }
    let lake = cfg.lake.url()?;
    check_lake(&lake)?;
    let _spill = livelake_jobs::set_memory_limit(cfg.rollup.memory_mb)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let rules = cfg.engine().rules();
    let (files, findings) = runtime()?.block_on(report(&lake, &a.stream, &a.out, rules, !a.from_raw))?;
    println!(
        "report: {} and {} ({} charts; figures {})",
        files.html.display(),
        files.markdown.display(),
        files.charts.len(),
        if files.from_rollup { "from the rollup's tables" } else { "recomputed from the raw tables" }
    );
    for an in &findings.anomalies {
        println!("  {} in {} at minute {}–{}: {}", an.kind, an.region, an.from_minute, an.to_minute, an.detail);
    }
    for v in &findings.followup {
        let verdict = match v.worked {
            Some(true) => "worked",
            Some(false) => "did not work",
            None => "no data",
        };
        println!("  last show's action {} ({}): {verdict}", v.past.action_id, v.past.text);
    }
    for (i, act) in findings.actions.iter().enumerate() {
        println!("  action {}: {}", i + 1, act.what);
    }
    Ok(())
}
