//! The rollup (`livelake rollup --date D [--stream ID]`): recompute `stream_daily` (of day D),
//! `show_summary` and `show_sources` of every show with events on D — whole shows, from the raw
//! tables, late events included, duplicates removed, with `jobs/sql/period.sql` — with the
//! show's minute rows (`show_minute`, the `stream_minute` rules) and retention curve
//! (`show_retention`) that its report reads, and compact
//! the day's raw partitions ([`crate::compact`]). Each table changes in one Delta commit that
//! replaces the partitions it recomputes (rows of other shows in them are kept): a crash leaves
//! every table at its previous or its new content, and a re-run converges.
//!
//! Shows are recomputed in groups of about [`GROUP_EVENTS`] events of the day (a bigger show
//! alone): memory follows the biggest group, not the day. One scan of each raw table first
//! splits the shows' rows by group into temporary Arrow IPC files, so each group reads its own
//! rows rather than the day's files again: time follows the day's events.

mod recompute;
pub(crate) mod replace;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::{PeriodJob, PeriodOutput, PeriodPlans, conform, lake_session, register_lake, run_query, window_start};
use arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, TimestampMillisecondType};
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use chrono::{DateTime, NaiveDate};
use datafusion::datasource::file_format::options::ArrowReadOptions;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use livelake_schemas::Table;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use tracing::{debug, info};

pub use recompute::{Recomputed, recompute, recompute_minutes, recompute_with};

pub(crate) use self::recompute::sql_list;
use self::recompute::{read_schema, select_list};
use self::replace::{replace_partition, split_rows};
use crate::compact::{Compacted, compact_day};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::rules::RuleConfig;
use crate::store::delta::{self, LakeUrl, committed_files, replace_operation};
use crate::store::{failpoint, maintenance_lock, safe_region};
use crate::workdir::WorkDir;

/// What to roll up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRequest {
    /// The UTC day.
    pub date: NaiveDate,
    /// Only this show (right after it ends); otherwise every show with events on the day.
    pub stream: Option<String>,
    /// Also compact the day's raw partitions, into files of about this size at most (bytes);
    /// `None`: no compaction.
    pub compact_target_bytes: Option<u64>,
    /// Then VACUUM every table with this retention (hours); `None`: no VACUUM.
    pub vacuum_retention_hours: Option<u64>,
    /// Recompute shows in groups of at most this many events of the day ([`GROUP_EVENTS`]).
    pub group_events: u64,
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
    /// `show_minute` rows written.
    pub minute_rows: usize,
    /// Partitions compacted.
    pub compacted: Vec<Compacted>,
    /// Files VACUUM deleted.
    pub vacuumed: usize,
}

fn sql_err(e: crate::QueryError) -> Error {
    Error::Config(format!("rollup query: {e}"))
}

/// The UTC date (`YYYY-MM-DD`) of an epoch-ms time.
pub(crate) fn day(ts_ms: i64) -> String {
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

/// Events of the day a group of shows recomputed together may have, at most, unless one show
/// alone has more: a group's events, and what the rollup derives from them, are held in memory
/// together (about 0.75 KB per event measured), so this bounds the rollup's memory whatever the
/// size of the day.
pub const GROUP_EVENTS: u64 = 1_000_000;

/// Shows (sorted by id) with their events on the day → groups of consecutive shows with at most
/// `budget` events each (a show with more is a group of its own).
pub(crate) fn show_groups(counts: &[(String, u64)], budget: u64) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut held = 0;
    for (stream, n) in counts {
        match groups.last_mut() {
            Some(g) if held + n <= budget => g.push(stream.clone()),
            _ => {
                groups.push(vec![stream.clone()]);
                held = 0;
            }
        }
        held += n;
    }
    groups
}

/// Every stream with events on `date` in either raw table, with its number of events there.
async fn stream_counts(ctx: &SessionContext, date: &str) -> Result<Vec<(String, u64)>> {
    let sql = format!(
        "SELECT stream_id, sum(n) AS n FROM (\
         SELECT stream_id, count(*) AS n FROM player_events WHERE date = DATE '{date}' GROUP BY stream_id UNION ALL \
         SELECT stream_id, count(*) AS n FROM commerce_events WHERE date = DATE '{date}' GROUP BY stream_id) \
         GROUP BY stream_id ORDER BY stream_id"
    );
    let (_, batches) = run_query(ctx, &sql).await.map_err(sql_err)?;
    let mut out = Vec::new();
    for b in &batches {
        let ids = utf8_values(b.column(0))?;
        let n = arrow::compute::cast(b.column(1), &DataType::UInt64)?;
        out.extend(ids.into_iter().zip(n.as_primitive::<arrow::datatypes::UInt64Type>().values().iter().copied()));
    }
    Ok(out)
}

/// A stream × region × window start (epoch ms).
type WindowKey = (String, String, i64);

/// `stream_minute` rows (with `region`) plus their `raw_events` from `raw`. Raw rows in a window
/// without a row (copies of an event kept in another window) are not counted anywhere: a report
/// then finds fewer rows than the raw tables hold and recomputes the show.
fn with_raw_events(minute: &[RecordBatch], raw: &HashMap<WindowKey, i64>) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::with_capacity(minute.len());
    for b in minute.iter().filter(|b| b.num_rows() > 0) {
        let (streams, regions) = (utf8_column(b, "stream_id")?, utf8_column(b, "region")?);
        let starts = b.column_by_name("window_start").expect("window_start");
        let starts = starts.as_primitive::<TimestampMillisecondType>().values();
        let n: Int64Array = (0..b.num_rows())
            .map(|i| Some(raw.get(&(streams[i].clone(), regions[i].clone(), starts[i])).copied().unwrap_or(0)))
            .collect();
        let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("raw_events", DataType::Int64, false));
        let mut cols = b.columns().to_vec();
        cols.push(Arc::new(n));
        out.push(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?);
    }
    Ok(out)
}

/// Days of more events than this many groups' (`group_events`) have the split's temporary files
/// LZ4-compressed: a third of the bytes, so a big day's files stay in the page cache rather than
/// stalling the scan while the kernel writes them out (20 M events: 3.3 GB uncompressed). A
/// smaller day's files stay there uncompressed, and compressing them cost more than it saved
/// (2 M events: the split 650 → 545 ms).
const COMPRESSED_SPLIT_GROUPS: u64 = 4;

/// Every raw row of `table` of the shows of `groups` (all dates), in one scan, written to one
/// Arrow IPC file per group in `dir` (`None` for a group without rows there; LZ4-compressed when
/// `compress`), and counted into `raw` per stream × region × window of `width_ms`
/// (`show_minute.raw_events`: copies and suspects included).
async fn split_by_group(
    ctx: &SessionContext,
    table: Table,
    groups: &[Vec<String>],
    dir: &Path,
    compress: bool,
    width_ms: i64,
    raw: &mut HashMap<WindowKey, i64>,
) -> Result<Vec<Option<PathBuf>>> {
    let df_err = |source| Error::DataFusion { job: "rollup", source };
    let all: Vec<String> = groups.iter().flatten().cloned().collect();
    // Each stream's group and its index in `all`, found with one lookup per row.
    let group_of: crate::FastMap<&str, (usize, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, streams)| streams.iter().map(move |s| (s.as_str(), g)))
        .enumerate()
        .map(|(i, (s, g))| (s, (g, i)))
        .collect();
    // The columns the recompute reads, no others.
    let sql = format!(
        "SELECT {} FROM {} WHERE stream_id IN ({})",
        select_list(&read_schema(table)),
        table.name(),
        sql_list(&all)
    );
    let mut stream = ctx.sql(&sql).await.map_err(df_err)?.execute_stream().await.map_err(df_err)?;
    let mut files: Vec<Option<(PathBuf, FileWriter<BufWriter<std::fs::File>>)>> =
        (0..groups.len()).map(|_| None).collect();
    // Counted under (index into `all`, index into `regions`, window start): no key is built
    // per row.
    let mut regions: Vec<String> = Vec::new();
    let mut counts: crate::FastMap<(usize, usize, i64), i64> = Default::default();
    // The key being counted and its rows so far (added to `counts` when the key changes).
    let mut counting: Option<((usize, usize, i64), i64)> = None;
    let ipc = |e: arrow::error::ArrowError| Error::Config(format!("rollup temporary file: {e}"));
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(df_err)?;
        let ids = arrow::compute::cast(batch.column_by_name("stream_id").expect("stream_id"), &DataType::Utf8)?;
        let ids = ids.as_string::<i32>();
        let region = arrow::compute::cast(batch.column_by_name("region").expect("region"), &DataType::Utf8)?;
        let region = region.as_string::<i32>();
        let ts = arrow::compute::cast(batch.column_by_name("ts").expect("ts"), &DataType::Int64)?;
        let ts = ts.as_primitive::<Int64Type>();
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); groups.len()];
        // A batch is mostly one file's rows (one region, sorted by stream): a row's stream and
        // region are looked up only when they differ from the row before's.
        let mut stream: Option<(&str, Option<(usize, usize)>)> = None;
        let mut last_region: Option<(&str, usize)> = None;
        for i in 0..batch.num_rows() {
            let id = ids.value(i);
            let found = match stream {
                Some((s, found)) if s == id => found,
                _ => {
                    let found = group_of.get(id).copied();
                    stream = Some((id, found));
                    found
                }
            };
            let Some((g, s)) = found else { continue };
            rows[g].push(i as u32);
            let name = region.value(i);
            let r = match last_region {
                Some((n, r)) if n == name => r,
                _ => {
                    let r = match regions.iter().position(|r| r == name) {
                        Some(r) => r,
                        None => {
                            regions.push(name.to_string());
                            regions.len() - 1
                        }
                    };
                    last_region = Some((name, r));
                    r
                }
            };
            // Rows sorted by time too: a window's rows mostly follow one another.
            let key = (s, r, window_start(ts.value(i), width_ms));
            match &mut counting {
                Some((k, n)) if *k == key => *n += 1,
                _ => {
                    if let Some((k, n)) = counting.replace((key, 1)) {
                        *counts.entry(k).or_default() += n;
                    }
                }
            }
        }
        for (g, rows) in rows.into_iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            // A file's rows are sorted by stream: a group's rows of a batch are mostly one run,
            // written as a slice of the batch (no copy).
            let (first, last) = (rows[0] as usize, rows[rows.len() - 1] as usize);
            let part = if last - first + 1 == rows.len() {
                batch.slice(first, rows.len())
            } else {
                arrow::compute::take_record_batch(&batch, &arrow::array::UInt32Array::from(rows))?
            };
            if files[g].is_none() {
                let tmp = dir.join(format!("{}-{g}.arrow", table.name()));
                let file = std::fs::File::create(&tmp).map_err(crate::io("creating", &tmp))?;
                let codec = compress.then_some(arrow::ipc::CompressionType::LZ4_FRAME);
                let options = IpcWriteOptions::default().try_with_compression(codec).map_err(ipc)?;
                let writer =
                    FileWriter::try_new_with_options(BufWriter::new(file), &batch.schema(), options).map_err(ipc)?;
                files[g] = Some((tmp, writer));
            }
            let (_, writer) = files[g].as_mut().expect("just opened");
            writer.write(&part).map_err(ipc)?;
        }
    }
    if let Some((k, n)) = counting {
        *counts.entry(k).or_default() += n;
    }
    for ((s, r, w), n) in counts {
        *raw.entry((all[s].clone(), regions[r].clone(), w)).or_default() += n;
    }
    files
        .into_iter()
        .map(|f| {
            f.map(|(tmp, mut writer)| {
                writer.finish().map_err(ipc)?;
                Ok(tmp)
            })
            .transpose()
        })
        .collect()
}

/// Register a group's raw rows of `table` (from [`split_by_group`]) in `ctx` under the table's
/// name, so the recompute's SQL reads them (streamed from the file) as it would the lake's table.
async fn register_group_rows(ctx: &SessionContext, table: Table, file: Option<&PathBuf>) -> Result<()> {
    let df_err = |source| Error::DataFusion { job: "rollup", source };
    match file.and_then(|f| f.to_str()) {
        Some(path) => ctx.register_arrow(table.name(), path, ArrowReadOptions::default()).await.map_err(df_err)?,
        None => {
            let empty = datafusion::datasource::MemTable::try_new(crate::sql_schema(table), vec![vec![]]);
            ctx.register_table(table.name(), Arc::new(empty.map_err(df_err)?)).map_err(df_err)?;
        }
    }
    Ok(())
}

/// Roll up `req` in the lake `lake` (see the module docs).
pub async fn rollup(lake: &LakeUrl, req: &RollupRequest, cfg: RuleConfig) -> Result<RollupReport> {
    let _job = maintenance_lock(lake)?;
    let ctx = lake_session();
    register_lake(&ctx, lake).await?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let date = req.date.format("%Y-%m-%d").to_string();
    // Every show with events on the day, and how many events it has there.
    let counts: Vec<(String, u64)> = match &req.stream {
        Some(s) => vec![(s.clone(), 0)],
        None => stream_counts(&ctx, &date).await?,
    };
    let streams: Vec<String> = counts.iter().map(|(s, _)| s.clone()).collect();
    info!(%date, shows = streams.len(), "rollup starting");
    let mut report = RollupReport { streams: streams.clone(), ..Default::default() };
    if !streams.is_empty() {
        let set: BTreeSet<String> = streams.iter().cloned().collect();
        let groups = show_groups(&counts, req.group_events.max(1));
        let mut progress = Progress::new("rollup", groups.len() as u64 + 5);
        // Group by group of whole shows: only one group's events are held at a time.
        let mut out = PeriodOutput::default();
        let (mut minute, mut retention) = (Vec::new(), Vec::new());
        // One scan of each raw table splits the shows' rows by group into temporary files:
        // each group then reads its own rows, not the day's files again.
        // In the OS temp directory (TMPDIR), deleted when the rollup ends or fails (or by the
        // next rollup, when it was killed).
        let tmp = WorkDir::new(&std::env::temp_dir(), "rollup")?;
        // Planned once, run for each group; planned meanwhile.
        let planning =
            tokio::spawn(async { Ok::<_, Error>((crate::WindowJob::new().await?, PeriodPlans::new().await?)) });
        let t0 = std::time::Instant::now();
        let mut raw = HashMap::new();
        let day_events: u64 = counts.iter().map(|(_, n)| n).sum();
        let compress = day_events > COMPRESSED_SPLIT_GROUPS.saturating_mul(req.group_events);
        let (dir, w) = (tmp.path(), cfg.width_ms);
        let player = split_by_group(&ctx, Table::PlayerEvents, &groups, dir, compress, w, &mut raw).await?;
        let commerce = split_by_group(&ctx, Table::CommerceEvents, &groups, dir, compress, w, &mut raw).await?;
        debug!(ms = t0.elapsed().as_millis(), "rollup: raw rows split by group");
        let (window_job, mut period) =
            planning.await.map_err(|e| Error::Config(format!("rollup: planning the jobs failed: {e}")))??;
        for (i, group) in groups.iter().enumerate() {
            let t0 = std::time::Instant::now();
            // The group's raw rows are dropped with their session once recomputed.
            let r = {
                let gctx = lake_session();
                for (table, files) in [(Table::PlayerEvents, &player), (Table::CommerceEvents, &commerce)] {
                    register_group_rows(&gctx, table, files[i].as_ref()).await?;
                }
                recompute_with(&gctx, group, cfg, &window_job).await?
            };
            // Read: deleted now, so the kernel need not write them out (the directory goes at the end).
            for file in [&player[i], &commerce[i]].into_iter().flatten() {
                if let Err(e) = std::fs::remove_file(file) {
                    debug!(file = %file.display(), error = %e, "rollup: a temporary file stays until the end");
                }
            }
            debug!(ms = t0.elapsed().as_millis(), "rollup: group recomputed");
            minute.extend(with_raw_events(&r.minute, &raw)?);
            let job = PeriodJob::keyed(r.keyed, &r.exits, &r.suspects)?;
            let o = job.tables_with(&mut period).await?;
            debug!(ms = t0.elapsed().as_millis(), "rollup: group period tables");
            retention.extend(o.retention);
            out.daily.extend(o.daily);
            out.show.extend(o.show);
            out.sources.extend(o.sources);
            progress.inc(&format!("{} show(s)", group.len()));
        }
        let name = format!("rollup-{now_ms:013}.parquet");

        // stream_daily: the day's partition of every region it has (had) rows in.
        let daily = split_rows(&out.daily, |b| {
            let (dates, regions) = (utf8_column(b, "date")?, utf8_column(b, "region")?);
            Ok(dates.iter().zip(regions).map(|(d, r)| format!("{d}|{r}")).collect())
        })?;
        let t = Table::StreamDaily;
        let mut dt = delta::open_or_create(lake, t).await?;
        let files = committed_files(&dt, t)?;
        let mut regions: BTreeSet<String> = files
            .iter()
            .filter(|f| f.values.get("date").and_then(|v| v.as_deref()) == Some(date.as_str()))
            .filter_map(|f| f.values.get("region").cloned().flatten())
            .collect();
        regions.extend(daily.keys().filter_map(|k| k.strip_prefix(&format!("{date}|")).map(String::from)));
        let mut actions = Vec::new();
        for region in &regions {
            let rows = daily.get(&format!("{date}|{region}")).cloned().unwrap_or_default();
            let rows = conformed(&rows, t)?;
            let dir = format!("region={}/date={date}", safe_region(region));
            let (mut a, n) = replace_partition(&dt, t, &files, &dir, &set, rows, &name, now_ms).await?;
            actions.append(&mut a);
            report.daily_rows += n;
        }
        let predicate = format!("date = '{date}'");
        failpoint::hit("rollup_before_commit");
        delta::commit(&mut dt, t, actions, &[], replace_operation(t, predicate), job_info("rollup")).await?;
        failpoint::hit("rollup_between_tables");
        progress.inc("stream_daily");

        // show_summary, show_sources, show_minute, show_retention: partitioned by the show's
        // first day.
        let mut first_day: BTreeMap<String, String> = BTreeMap::new();
        for b in &out.show {
            let starts = b.column_by_name("show_start").expect("show_start");
            let starts = starts.as_primitive::<TimestampMillisecondType>().values();
            for (stream, ms) in utf8_column(b, "stream_id")?.into_iter().zip(starts.iter()) {
                first_day.insert(stream, day(*ms));
            }
        }
        let tables = [
            (Table::ShowSummary, &out.show),
            (Table::ShowSources, &out.sources),
            (Table::ShowMinute, &minute),
            (Table::ShowRetention, &retention),
        ];
        for (table, rows) in tables {
            let by_day = split_rows(rows, |b| {
                let streams = utf8_column(b, "stream_id")?;
                Ok(streams.iter().map(|s| first_day.get(s).cloned().unwrap_or_else(|| date.clone())).collect())
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
            let mut dt = delta::open_or_create(lake, table).await?;
            let files = committed_files(&dt, table)?;
            let mut actions = Vec::new();
            for d in &days {
                let rows = conformed(by_day.get(d).map(Vec::as_slice).unwrap_or_default(), table)?;
                let dir = format!("date={d}");
                let (mut a, n) = replace_partition(&dt, table, &files, &dir, &set, rows, &name, now_ms).await?;
                actions.append(&mut a);
                match table {
                    Table::ShowSummary => report.show_rows += n,
                    Table::ShowSources => report.source_rows += n,
                    Table::ShowMinute => report.minute_rows += n,
                    _ => {}
                }
            }
            let predicate =
                format!("date IN ({})", days.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(", "));
            delta::commit(&mut dt, table, actions, &[], replace_operation(table, predicate), job_info("rollup"))
                .await?;
            progress.inc(table.name());
        }
        progress.finish();
    }

    if let Some(target) = req.compact_target_bytes {
        report.compacted = compact_day(lake, req.date, target, now_ms).await?;
    }
    if let Some(hours) = req.vacuum_retention_hours {
        for table in Table::ALL {
            report.vacuumed += delta::vacuum(lake, table, hours).await?;
        }
    }
    info!(
        %date,
        shows = report.streams.len(),
        daily_rows = report.daily_rows,
        show_rows = report.show_rows,
        source_rows = report.source_rows,
        minute_rows = report.minute_rows,
        compacted = report.compacted.len(),
        vacuumed = report.vacuumed,
        "rollup committed"
    );
    Ok(report)
}

/// The commitInfo entry naming the livelake job that made a commit.
pub(crate) fn job_info(job: &str) -> HashMap<String, serde_json::Value> {
    HashMap::from([("livelake.job".to_string(), serde_json::json!(job))])
}

/// The file columns of `table` from the period job's rows.
fn conformed(rows: &[RecordBatch], table: Table) -> Result<Vec<RecordBatch>> {
    let schema = table.schema();
    rows.iter().map(|b| conform("rollup", b, &schema)).collect()
}

#[cfg(test)]
mod tests {
    use super::show_groups;

    fn counts(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn shows_are_grouped_up_to_the_budget_and_a_big_show_is_alone() {
        let c = counts(&[("a", 400), ("b", 500), ("c", 200), ("d", 2_000), ("e", 100), ("f", 0)]);
        let g = show_groups(&c, 1_000);
        assert_eq!(g, vec![vec!["a", "b"], vec!["c"], vec!["d"], vec!["e", "f"]]);
        assert_eq!(show_groups(&c, 10_000), vec![vec!["a", "b", "c", "d", "e", "f"]]);
        assert!(show_groups(&[], 1_000).is_empty());
    }
}
