//! `livelake tables [NAME]`: the lake's tables, their Delta version and last commit, their
//! columns, and files and rows per partition (from the Delta log). The interactive `\d` /
//! `\d NAME` print the same.

use std::fmt::Write;

use anyhow::bail;
use arrow::datatypes::{DataType, TimeUnit};
use livelake_jobs::store::delta::LakeUrl;
use livelake_jobs::{TableInfo, describe};
use livelake_schemas::Table;

/// Arguments of `livelake tables`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One table to describe in full (columns, every partition); all tables when omitted.
    name: Option<String>,
    /// One line per table (rows, files, partition columns) instead of columns and partitions.
    #[arg(long)]
    brief: bool,
    /// The lake: a directory, `file://…` or `s3://bucket/prefix`.
    #[arg(long, env = "LIVELAKE__LAKE__PATH", default_value = "lake")]
    lake: String,
}

/// Run `livelake tables`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let lake = super::common::lake_arg(&a.lake)?;
    print!("{}", super::common::runtime()?.block_on(render(&lake, a.name.as_deref(), !a.brief))?);
    Ok(())
}

/// A short SQL-ish name of a column type.
fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 => "utf8".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Boolean => "bool".into(),
        DataType::Binary => "binary".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(TimeUnit::Millisecond, Some(tz)) => format!("timestamp(ms, {tz})"),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        other => other.to_string(),
    }
}

fn one_table(info: &TableInfo, full: bool, out: &mut String) {
    let t = info.table;
    let parts: Vec<&str> = t.partitioning().iter().map(|l| l.name()).collect();
    let version = match (info.version, info.last_commit_ms) {
        (Some(v), Some(ms)) => format!(
            "; version {v}, last commit {}",
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default()
        ),
        (Some(v), None) => format!("; version {v}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{} — {} rows in {} file{}; partitioned by {}{version}",
        t.name(),
        info.rows(),
        info.files(),
        if info.files() == 1 { "" } else { "s" },
        if parts.is_empty() { "nothing".to_string() } else { parts.join(", ") }
    );
    if !full {
        return;
    }
    let _ = writeln!(out, "  columns:");
    for f in info.schema.fields() {
        let partition = parts.contains(&f.name().as_str());
        let _ = writeln!(
            out,
            "    {:<24} {}{}{}",
            f.name(),
            type_name(f.data_type()),
            if f.is_nullable() { "" } else { " not null" },
            if partition { " (partition)" } else { "" }
        );
    }
    if info.partitions.is_empty() {
        let _ = writeln!(out, "  no files yet");
        return;
    }
    let _ = writeln!(out, "  partitions:");
    for p in &info.partitions {
        let name = if p.partition.is_empty() { "(none)" } else { &p.partition };
        let files = if p.files == 1 { "file " } else { "files" };
        let _ = writeln!(out, "    {:<40} {:>4} {files} {:>10} rows", name, p.files, p.rows);
    }
}

/// The text of `livelake tables [NAME]` for the lake: one table always in full, all tables in
/// full or `brief`ly.
pub async fn render(lake: &LakeUrl, name: Option<&str>, full: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    match name {
        Some(n) => {
            let Some(t) = Table::from_name(n) else {
                let known: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
                bail!("unknown table {n} (the lake has: {})", known.join(", "));
            };
            one_table(&describe(lake, t).await?, true, &mut out);
        }
        None => {
            for t in Table::ALL {
                one_table(&describe(lake, t).await?, full, &mut out);
            }
        }
    }
    Ok(out)
}
