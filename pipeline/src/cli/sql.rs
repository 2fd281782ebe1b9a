//! `livelake sql`: ad hoc SQL over the lake — one query (argument or `-f FILE`), or an
//! interactive prompt with history and multi-line input (a statement ends with `;`).
//! Read-only; every table of LAKE.md is registered with typed partition columns.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use datafusion::prelude::SessionContext;
use livelake_jobs::{lake_session, register_lake_as_of, run_query};
use rustyline::error::ReadlineError;

use super::common::{Format, lake_arg, runtime, write};
use livelake_jobs::store::delta::{AsOf, LakeUrl};

/// Arguments of `livelake sql`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The query; without it (and without --file) an interactive prompt starts.
    query: Option<String>,
    /// Read the query from a file (e.g. docs/queries/funnel_by_region.sql).
    #[arg(short, long, conflicts_with = "query")]
    file: Option<PathBuf>,
    /// The lake directory.
    #[arg(long, env = "LIVELAKE__LAKE__PATH", default_value = "lake")]
    lake: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the result to this file instead of stdout (required for parquet).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Time travel: every table as it was at an RFC 3339 time ("what did the lake say at
    /// 14:00?"), or at a table version (each table's own version number).
    #[arg(long, value_name = "VERSION|TIMESTAMP")]
    as_of: Option<String>,
}

/// Run `livelake sql`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let lake = lake_arg(&a.lake)?;
    let as_of = a.as_of.as_deref().map(AsOf::parse).transpose()?.unwrap_or_default();
    if a.format == Format::Parquet && a.output.is_none() {
        bail!("--format parquet needs --output FILE");
    }
    let query = match (&a.query, &a.file) {
        (Some(q), _) => Some(q.clone()),
        (None, Some(f)) => Some(std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?),
        (None, None) => None,
    };
    runtime()?.block_on(async {
        let ctx = lake_session();
        register_lake_as_of(&ctx, &lake, as_of).await?;
        match query {
            Some(q) => one(&ctx, &q, a.format, a.output.as_deref()).await,
            None => interactive(&ctx, &a, &lake).await,
        }
    })
}

async fn one(ctx: &SessionContext, sql: &str, format: Format, out: Option<&Path>) -> anyhow::Result<()> {
    let (schema, batches) = run_query(ctx, sql).await?;
    write(&schema, &batches, format, out)
}

const HELP: &str = "\
Statements end with `;` and may span lines. Tables: \\d. Columns and partitions: \\d TABLE.
\\q (or Ctrl-D) quits; Ctrl-C clears the statement being typed. History: ~/.livelake_history.";

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".livelake_history"))
}

/// A meta command (`\d`, `\d TABLE`, `\q`, `\?`); returns false to quit.
async fn meta(cmd: &str, lake: &LakeUrl) -> bool {
    let mut words = cmd.split_whitespace();
    match (words.next(), words.next()) {
        (Some("\\q"), _) => return false,
        (Some("\\d"), name) => match super::tables::render(lake, name, name.is_some()).await {
            Ok(text) => print!("{text}"),
            Err(e) => eprintln!("error: {e:#}"),
        },
        (Some("\\?" | "\\h"), _) => println!("{HELP}"),
        _ => eprintln!("error: unknown command {cmd} (\\? for help)"),
    }
    true
}

async fn interactive(ctx: &SessionContext, a: &Args, lake: &LakeUrl) -> anyhow::Result<()> {
    let mut rl = rustyline::DefaultEditor::new().context("starting the line editor")?;
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    eprintln!("livelake sql — lake {lake} (\\? for help, \\q to quit)");
    let mut statement = String::new();
    loop {
        let prompt = if statement.is_empty() { "livelake> " } else { "       -> " };
        let line = match rl.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                statement.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading input"),
        };
        let trimmed = line.trim();
        if statement.is_empty() && trimmed.starts_with('\\') {
            let _ = rl.add_history_entry(trimmed);
            if !meta(trimmed, lake).await {
                break;
            }
            continue;
        }
        if statement.is_empty() && (trimmed.is_empty() || trimmed == "quit" || trimmed == "exit") {
            if trimmed.is_empty() {
                continue;
            }
            break;
        }
        statement.push_str(&line);
        statement.push('\n');
        if trimmed.ends_with(';') {
            let _ = rl.add_history_entry(statement.trim());
            if let Err(e) = one(ctx, &statement, a.format, a.output.as_deref()).await {
                eprintln!("error: {e:#}");
            }
            statement.clear();
        }
    }
    if !statement.trim().is_empty()
        && let Err(e) = one(ctx, &statement, a.format, a.output.as_deref()).await
    {
        eprintln!("error: {e:#}");
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    Ok(())
}
