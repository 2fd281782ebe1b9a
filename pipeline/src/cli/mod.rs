//! Subcommands of the `livelake` binary; the plumbing they share is in `common` (runtime, lake
//! check, signals, output) and here (logging, exit codes).

mod board;
mod ceiling;
mod common;
mod lake;
mod report;
mod rollup;
mod run;
mod shows;
mod simulate;
mod sql;
mod tables;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// livelake — post-show data review for cross-border livestreams.
///
/// Reads player QoE, engagement and sales-funnel events per region and minute, and keeps a
/// Parquet lake (Hive layout) that DuckDB, Spark and pyarrow read unchanged.
#[derive(Debug, Parser)]
#[command(name = "livelake", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume events (Kafka, or an NDJSON file) and keep the Parquet lake up to date.
    Run(run::Args),
    /// The live board fed by the live topic (what `livelake run` workers publish).
    Board(board::Args),
    /// Measure how fast a consumer that only reads drains topics (the benchmark's ceiling).
    ConsumeRate(ceiling::Args),
    /// Simulate a cross-border show and write it as NDJSON or produce it to Kafka.
    Simulate(simulate::Args),
    /// Check NDJSON events against the contract and count accepted types and rejection reasons.
    Validate(validate::Args),
    /// Ad hoc SQL over the lake (read-only): one query, or an interactive prompt.
    Sql(sql::Args),
    /// The lake's tables: columns, and files and rows per partition.
    Tables(tables::Args),
    /// The shows dimension: import a plan (upsert by stream_id), list it.
    Shows(shows::Args),
    /// Recompute stream_daily, show_summary, show_sources, show_minute and show_retention of a day
    /// (or one show) from the raw tables, late events included, and compact the day's files;
    /// replaces earlier results atomically.
    Rollup(rollup::Args),
    /// Compact a day's raw partitions alone (what `rollup` does after its tables unless
    /// --no-compact): streamed, verified, one Delta commit per table.
    Compact(rollup::CompactArgs),
    /// The retrospective of one show: an HTML page and a Markdown file with charts, anomalies
    /// and next-show actions.
    Report(report::Args),
    /// Run the rollup nightly on the `[rollup]` schedule (cron + time zone), with retries.
    Schedule(rollup::ScheduleArgs),
    /// Lake administration: convert a lake of an earlier livelake into Delta tables.
    Lake(lake::Args),
}

/// Run the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Board(a) => board::run(a),
        Command::ConsumeRate(a) => ceiling::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Sql(a) => sql::run(a),
        Command::Tables(a) => tables::run(a),
        Command::Shows(a) => shows::run(a),
        Command::Rollup(a) => rollup::run(a),
        Command::Compact(a) => rollup::compact(a),
        Command::Report(a) => report::run(a),
        Command::Schedule(a) => rollup::schedule(a),
        Command::Lake(a) => lake::run(a),
    }
}

/// Logs go to stderr; stdout stays clean for data.
pub fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    // Our crates at the chosen level; the libraries (Delta Lake, object store, Kafka client) at
    // warn unless asked through RUST_LOG.
    let default = match verbose {
        0 => "warn,livelake=info,livelake_pipeline=info,livelake_jobs=info",
        1 => "warn,livelake=debug,livelake_pipeline=debug,livelake_jobs=debug",
        _ => "info,livelake=trace,livelake_pipeline=trace,livelake_jobs=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

/// Help and version print in full; argument errors print their first line only, exit 2.
pub fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            eprintln!("livelake: error: {first} (see --help)");
            ExitCode::from(2)
        }
    }
}
