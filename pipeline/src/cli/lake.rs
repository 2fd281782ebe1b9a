//! `livelake lake convert`: a lake of an earlier livelake (its own commit log) becomes Delta
//! tables in place (see `livelake_pipeline::sink::convert`).

use std::path::PathBuf;

use livelake_pipeline::sink::convert;

use super::common::runtime;

/// Arguments of `livelake lake`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LakeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum LakeCommand {
    /// Convert a lake written by livelake before Delta Lake (`_livelake/log/`) into Delta
    /// tables in place, keeping the source positions: `livelake run` then resumes where it
    /// stopped, without loss or duplicates.
    Convert {
        /// The lake directory.
        #[arg(long, env = "LIVELAKE__LAKE__PATH", default_value = "lake")]
        lake: PathBuf,
    },
}

/// Run `livelake lake`.
pub fn run(a: Args) -> anyhow::Result<()> {
    match a.command {
        LakeCommand::Convert { lake } => {
            super::common::check_lake(&livelake_jobs::store::delta::LakeUrl::parse(
                &lake.to_string_lossy(),
                Default::default(),
            )?)?;
            let now = chrono::Utc::now().timestamp_millis();
            let done = runtime()?.block_on(convert(&lake, now))?;
            let tables: Vec<String> = done.tables.iter().map(|(t, n)| format!("{t} ({n} files)")).collect();
            match done.seq {
                Some(seq) => {
                    println!("converted {}: {}; positions of commit {seq} kept", lake.display(), tables.join(", "))
                }
                None => println!("converted {}: {}", lake.display(), tables.join(", ")),
            }
            Ok(())
        }
    }
}
