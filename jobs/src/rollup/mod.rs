//! The rollup (`livelake rollup --date D [--stream ID]`): recompute `stream_daily` (of day D),
//! `show_summary` and `show_sources` of every show with events on D — whole shows, from the raw
//! tables, late events included, duplicates removed, with `jobs/sql/period.sql` — and compact
//! the day's raw partitions, all in one maintenance job: every replaced directory is swapped in
//! atomically after the commit point, so a crash leaves the previous results readable and the
//! next job finishes or discards this one.

mod recompute;
mod replace;

use std::collections::BTreeSet;
use std::path::Path;

use crate::{PeriodInputs, conform, lake_session, period_metrics, register_lake, run_query};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimestampMillisecondType};
use chrono::{DateTime, NaiveDate};
use datafusion::prelude::SessionContext;
use livelake_schemas::Table;
use tracing::info;

pub use recompute::{Recomputed, recompute, recompute_minutes};

use self::recompute::sql_list;
use self::replace::{split_rows, stage_partition};
use crate::compact::{Compacted, compact_partition, day_partitions, subdirs};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::rules::RuleConfig;
use crate::store::{Maintenance, failpoint, safe_region, unfinished_files};

/// What to roll up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRequest {
    /// The UTC day.
    pub date: NaiveDate,
    /// Only this show (right after it ends); otherwise every show with events on the day.
    pub stream: Option<String>,
    /// Also compact the day's raw partitions.
    pub compact: bool,
}

/// What a rollup did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupReport {
    /// Shows recomputed.
    pub streams: Vec<String>,
    /// `stream_daily` rows of the day written (all shows of the partitions).
    pub daily_rows: usize,
    /// `show_summary` rows written.
    pub show_rows: usize,
    /// `show_sources` rows written.
    pub source_rows: usize,
    /// Partitions compacted.
    pub compacted: Vec<Compacted>,
}

fn sql_err(e: crate::QueryError) -> Error {
    Error::Config(format!("rollup query: {e}"))
}

fn day(ts_ms: i64) -> String {
    DateTime::from_timestamp_millis(ts_ms).unwrap_or_default().format("%Y-%m-%d").to_string()
}

/// The values of a string column (utf8 or DataFusion's string views), NULL as "".
pub(crate) fn utf8_values(col: &dyn Array) -> Result<Vec<String>> {
    let col = arrow::compute::cast(col, &DataType::Utf8)?;
    let col = col.as_string::<i32>();
    Ok((0..col.len()).map(|i| if col.is_valid(i) { col.value(i).to_string() } else { String::new() }).collect())
}

/// The values of utf8 column `name` of `b`.
pub(crate) fn utf8_column(b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    let col = b.column_by_name(name).ok_or_else(|| Error::Config(format!("no column {name}")))?;
    utf8_values(col)
}

/// Distinct values of the first column of `sql`'s result.
async fn strings(ctx: &SessionContext, sql: &str) -> Result<Vec<String>> {
    let (_, batches) = run_query(ctx, sql).await.map_err(sql_err)?;
    let mut out = BTreeSet::new();
    for b in &batches {
        out.extend(utf8_values(b.column(0))?);
    }
    Ok(out.into_iter().collect())
}

/// Roll up `req` in the lake at `lake` (see the module docs).
pub async fn rollup(lake: &Path, req: &RollupRequest, cfg: RuleConfig) -> Result<RollupReport> {
    let mut job = Maintenance::open(lake)?;
    let ctx = lake_session();
    register_lake(&ctx, lake).await?;
    let date = req.date.format("%Y-%m-%d").to_string();
    let streams = match &req.stream {
        Some(s) => vec![s.clone()],
        None => {
            strings(
                &ctx,
                &format!(
                    "SELECT DISTINCT stream_id FROM player_events WHERE date = DATE '{date}' UNION \
                     SELECT DISTINCT stream_id FROM commerce_events WHERE date = DATE '{date}'"
                ),
            )
            .await?
        }
    };
    info!(%date, shows = streams.len(), "rollup starting");
    let mut report = RollupReport { streams: streams.clone(), ..Default::default() };
    let mut targets: Vec<String> = Vec::new();
    if !streams.is_empty() {
        let set: BTreeSet<String> = streams.iter().cloned().collect();
        let mut progress = Progress::new("rollup", 5);
        let r = recompute::recompute(&ctx, &streams, cfg).await?;
        progress.inc("sessions");
        let out = period_metrics(PeriodInputs {
            player: r.player,
            commerce: r.commerce,
            exits: r.exits,
            suspects: r.suspects,
        })
        .await?;
        progress.inc("metrics");

        // stream_daily: the day's partition of every region it has (had) rows in.
        let daily = split_rows(&out.daily, |b| {
            let (dates, regions) = (utf8_column(b, "date")?, utf8_column(b, "region")?);
            Ok(dates.iter().zip(regions).map(|(d, r)| format!("{d}|{r}")).collect())
        })?;
        let mut regions: BTreeSet<String> = subdirs(&lake.join(Table::StreamDaily.name()))?
            .into_iter()
            .filter_map(|r| r.strip_prefix("region=").map(String::from))
            .filter(|r| lake.join(format!("{}/region={r}/date={date}", Table::StreamDaily.name())).is_dir())
            .collect();
        regions.extend(daily.keys().filter_map(|k| k.strip_prefix(&format!("{date}|")).map(String::from)));
        for region in &regions {
            let rows = daily.get(&format!("{date}|{region}")).cloned().unwrap_or_default();
            let rows = conformed(&rows, Table::StreamDaily)?;
            let rel = format!("{}/region={}/date={date}", Table::StreamDaily.name(), safe_region(region));
            report.daily_rows += stage_partition(&mut job, lake, Table::StreamDaily, &rel, &set, rows)?;
            targets.push(rel);
        }
        progress.inc("stream_daily");

        // show_summary / show_sources: partitioned by the show's first day.
        for (table, rows) in [(Table::ShowSummary, &out.show), (Table::ShowSources, &out.sources)] {
            let by_day = split_rows(rows, |b| {
                let starts = b.column_by_name("show_start").expect("show_start");
                Ok(starts.as_primitive::<TimestampMillisecondType>().values().iter().map(|ms| day(*ms)).collect())
            })?;
            // Earlier results of these shows may sit under another day (a late event moved the start).
            let mut days: BTreeSet<String> = strings(
                &ctx,
                &format!(
                    "SELECT DISTINCT CAST(date AS VARCHAR) FROM {} WHERE stream_id IN ({})",
                    table.name(),
                    sql_list(&streams)
                ),
            )
            .await?
            .into_iter()
            .collect();
            days.extend(by_day.keys().cloned());
            for d in days {
                let rows = conformed(by_day.get(&d).map(Vec::as_slice).unwrap_or_default(), table)?;
                let rel = format!("{}/date={d}", table.name());
                let n = stage_partition(&mut job, lake, table, &rel, &set, rows)?;
                match table {
                    Table::ShowSummary => report.show_rows += n,
                    _ => report.source_rows += n,
                }
                targets.push(rel);
            }
            progress.inc(table.name());
        }
        progress.finish();
    }

    if req.compact {
        let unfinished = unfinished_files(lake)?;
        let parts = day_partitions(lake, req.date)?;
        let mut progress = Progress::new("compaction", parts.len() as u64);
        for (table, rel) in parts {
            if let Some(c) = compact_partition(&mut job, lake, table, &rel, &unfinished)? {
                targets.push(rel.clone());
                report.compacted.push(c);
            }
            progress.inc(&rel);
        }
        progress.finish();
    }
    failpoint::hit("rollup_before_commit");
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    job.commit(&refs)?;
    info!(
        %date,
        shows = report.streams.len(),
        daily_rows = report.daily_rows,
        show_rows = report.show_rows,
        source_rows = report.source_rows,
        compacted = report.compacted.len(),
        "rollup committed"
    );
    Ok(report)
}

/// The file columns of `table` from the period job's rows.
fn conformed(rows: &[RecordBatch], table: Table) -> Result<Vec<RecordBatch>> {
    let schema = table.schema();
    rows.iter().map(|b| conform("rollup", b, &schema)).collect()
}
