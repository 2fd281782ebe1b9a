//! `livelake shows import plan.csv` and `livelake shows list`: the `shows` dimension (seller,
//! title, category, planned start, targets) that reports compare against.

use std::path::PathBuf;

use anyhow::{Context, bail};
use livelake_jobs::shows::{parse_plan, upsert};
use livelake_jobs::{lake_session, register_lake, run_query};

use super::common::{Format, lake_arg, runtime, write};
use livelake_jobs::store::delta::LakeUrl;

/// Arguments of `livelake shows`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ShowsCommand,
    /// The lake directory.
    #[arg(long, global = true, env = "LIVELAKE__LAKE__PATH", default_value = "lake")]
    lake: String,
}

#[derive(Debug, clap::Subcommand)]
enum ShowsCommand {
    /// Validate a plan (CSV: stream_id, seller_id, title, category, planned_start,
    /// target_gmv_usd, target_viewers, max_stall_ratio; only stream_id required) and upsert its
    /// rows by stream_id: known shows get the columns the plan names, keeping the others.
    Import {
        /// The CSV file.
        plan: PathBuf,
    },
    /// Print the shows, by planned start.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Run `livelake shows`.
pub fn run(a: Args) -> anyhow::Result<()> {
    match a.command {
        ShowsCommand::Import { plan } => {
            let text = std::fs::read_to_string(&plan).with_context(|| format!("reading {}", plan.display()))?;
            let parsed = match parse_plan(&text, &plan.display().to_string()) {
                Ok(p) => p,
                Err(problems) => {
                    for p in &problems {
                        eprintln!("{p}");
                    }
                    bail!("{} problem(s) in {}; nothing imported", problems.len(), plan.display());
                }
            };
            let lake = LakeUrl::parse(&a.lake, Default::default())?;
            let done = runtime()?.block_on(upsert(&lake, parsed))?;
            println!("shows: {} new, {} updated, {} in the table", done.inserted, done.updated, done.total);
            Ok(())
        }
        ShowsCommand::List { format } => {
            let lake = lake_arg(&a.lake)?;
            runtime()?.block_on(async {
                let ctx = lake_session();
                register_lake(&ctx, &lake).await?;
                let (schema, batches) =
                    run_query(&ctx, "SELECT * FROM shows ORDER BY planned_start NULLS LAST, stream_id").await?;
                write(&schema, &batches, format, None)
            })
        }
    }
}
