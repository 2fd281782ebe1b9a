//! What the report reads: the show's figures, minute rows, retention curve and cleaned fake
//! sessions — from the rollup's tables when the show is rolled up and no event arrived since,
//! else recomputed from the raw tables with the rollup's definitions (late events included) —
//! the `shows` row with its targets, the baselines of earlier rolled-up shows, and the actions
//! the report of the seller's previous show proposed.

use crate::store::delta::LakeUrl;
use std::collections::BTreeMap;

use crate::{PeriodJob, baselines, lake_session, register_lake, run_query};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMillisecondType};
use datafusion::prelude::SessionContext;
use livelake_schemas::STREAM_MINUTE_METRICS;
use tracing::{debug, info};

use crate::error::{Error, Result};
use crate::rollup::{recompute, sql_list, utf8_column};
use crate::rules::RuleConfig;
use crate::shows::{ShowRow, read_shows};

use super::followup::{PastAction, previous_actions};

/// Numeric columns of one row, by name (money as f64 for display; NULL as None).
pub type Figures = BTreeMap<String, Option<f64>>;

/// One stream × region × minute of the show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinutePoint {
    /// Region.
    pub region: String,
    /// Minutes since the show's first minute (0-based).
    pub minute: i64,
    /// Window start, epoch ms.
    pub start_ms: i64,
    /// The `stream_minute` figures.
    pub figures: Figures,
}

impl MinutePoint {
    /// A figure, 0 when NULL or absent.
    pub fn get(&self, name: &str) -> f64 {
        self.figures.get(name).copied().flatten().unwrap_or(0.0)
    }
}

/// Everything the report shows.
#[derive(Debug, Clone, Default)]
pub struct ReportData {
    /// The show.
    pub stream_id: String,
    /// Its `shows` row (targets, seller, category), when the user imported one.
    pub show: Option<ShowRow>,
    /// First and last event, epoch ms.
    pub show_start_ms: i64,
    /// Last event, epoch ms.
    pub show_end_ms: i64,
    /// `show_summary` figures by region, and `ALL`.
    pub summary: BTreeMap<String, Figures>,
    /// `show_sources` figures by source.
    pub sources: BTreeMap<String, Figures>,
    /// Baseline medians by name (`seller_previous_5`, `same_category_30d`), with `shows`.
    pub baselines: BTreeMap<String, Figures>,
    /// Minute rows, by region then minute.
    pub minutes: Vec<MinutePoint>,
    /// Retention curve by region (and `ALL`): (minutes since start, share still watching).
    pub retention: BTreeMap<String, Vec<(i64, f64)>>,
    /// Suspect (fake) sessions cleaned, by (region, minute of their start).
    pub fake_starts: BTreeMap<(String, i64), u64>,
    /// The actions the report of the seller's previous show proposed (`show_actions`).
    pub previous: Vec<PastAction>,
    /// The figures are the rollup's rows of the show (`show_summary`, `show_sources`,
    /// `show_minute`, `show_retention`); otherwise recomputed from the raw tables.
    pub from_rollup: bool,
}

impl ReportData {
    /// A figure of the summary of `region` (or `ALL`).
    pub fn fig(&self, region: &str, name: &str) -> Option<f64> {
        self.summary.get(region).and_then(|f| f.get(name).copied().flatten())
    }

    /// The show's regions (not `ALL`), sorted.
    pub fn regions(&self) -> Vec<String> {
        self.summary.keys().filter(|r| *r != "ALL").cloned().collect()
    }

    /// The show's length in whole minutes (at least 1).
    pub fn minutes_long(&self) -> i64 {
        self.minutes.iter().map(|m| m.minute + 1).max().unwrap_or(1)
    }
}

/// Every numeric column of row `i`, as f64.
fn figures(b: &RecordBatch, i: usize) -> Result<Figures> {
    let mut out = Figures::new();
    for (f, col) in b.schema().fields().iter().zip(b.columns()) {
        let numeric = f.data_type().is_numeric() || matches!(f.data_type(), DataType::Decimal128(..));
        if !numeric {
            continue;
        }
        let col = cast(col, &DataType::Float64)?;
        let col = col.as_primitive::<Float64Type>();
        out.insert(f.name().clone(), col.is_valid(i).then(|| col.value(i)));
    }
    Ok(out)
}

fn times(b: &RecordBatch, name: &str) -> Vec<i64> {
    let col = b.column_by_name(name).expect("timestamp column").as_primitive::<TimestampMillisecondType>();
    col.values().to_vec()
}

/// The rows a report is made of, as the rollup writes them: `show_summary`, `show_sources`,
/// `show_retention` and `show_minute` (with `region`) rows of the show.
struct ShowRows {
    show: Vec<RecordBatch>,
    sources: Vec<RecordBatch>,
    retention: Vec<RecordBatch>,
    minute: Vec<RecordBatch>,
}

/// The show recomputed from the raw tables (late events included, duplicates removed).
async fn from_raw(ctx: &SessionContext, lake: &LakeUrl, stream: &str, cfg: RuleConfig) -> Result<ShowRows> {
    let r = recompute(ctx, &[stream.to_string()], cfg).await?;
    if r.keyed.is_empty() {
        return Err(Error::Config(format!("no events of stream {stream:?} in the lake at {lake}")));
    }
    let job = PeriodJob::keyed(r.keyed, &r.exits, &r.suspects)?;
    let out = job.tables().await?;
    Ok(ShowRows { show: out.show, sources: out.sources, retention: out.retention, minute: r.minute })
}

/// `sql`'s rows.
async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(run_query(ctx, sql).await.map_err(|e| Error::Config(format!("report query: {e}")))?.1)
}

/// Whether the rollup's tables hold `stream` as the raw tables have it now: its `show_summary`
/// rows exist, and the raw rows its `show_minute` rows counted are all the raw rows of the show
/// (an event ingested after the rollup, or a rollup that predates `show_minute`, means no).
async fn rolled_up(ctx: &SessionContext, stream: &str) -> Result<bool> {
    let id = sql_list(&[stream.to_string()]);
    let sql = format!(
        "SELECT (SELECT count(*) FROM show_summary WHERE stream_id = {id} AND region = 'ALL') AS shows, \
         (SELECT CAST(coalesce(sum(raw_events), 0) AS BIGINT) FROM show_minute WHERE stream_id = {id}) AS counted, \
         (SELECT count(*) FROM player_events WHERE stream_id = {id}) \
         + (SELECT count(*) FROM commerce_events WHERE stream_id = {id}) AS raw"
    );
    let b = rows(ctx, &sql).await?;
    let value = |i: usize| -> Result<i64> {
        let col = cast(b[0].column(i), &DataType::Int64)?;
        Ok(col.as_primitive::<Int64Type>().value(0))
    };
    let (shows, counted, raw) = (value(0)?, value(1)?, value(2)?);
    debug!(stream, shows, counted, raw, "rolled up?");
    Ok(shows > 0 && raw > 0 && counted == raw)
}

/// The show as its rollup wrote it.
async fn from_rollup(ctx: &SessionContext, stream: &str) -> Result<ShowRows> {
    let id = sql_list(&[stream.to_string()]);
    let metrics = STREAM_MINUTE_METRICS.join(", ");
    Ok(ShowRows {
        show: rows(ctx, &format!("SELECT * FROM show_summary WHERE stream_id = {id}")).await?,
        sources: rows(ctx, &format!("SELECT * FROM show_sources WHERE stream_id = {id}")).await?,
        retention: rows(
            ctx,
            &format!(
                "SELECT region, minute, retained FROM show_retention WHERE stream_id = {id} ORDER BY region, minute"
            ),
        )
        .await?,
        minute: rows(
            ctx,
            &format!(
                "SELECT stream_id, region, window_start, window_end, {metrics} FROM show_minute WHERE stream_id = {id}"
            ),
        )
        .await?,
    })
}

/// Gather the report's data for `stream` from the lake at `lake`: from the rollup's tables
/// when they hold the show as the raw tables have it, else recomputed from the raw tables.
pub async fn gather(lake: &LakeUrl, stream: &str, cfg: RuleConfig) -> Result<ReportData> {
    gather_from(lake, stream, cfg, true).await
}

/// [`gather`]; with `use_rollup` false the show is always recomputed from the raw tables.
pub async fn gather_from(lake: &LakeUrl, stream: &str, cfg: RuleConfig, use_rollup: bool) -> Result<ReportData> {
    let ctx = lake_session();
    register_lake(&ctx, lake).await?;
    let mut data = ReportData { stream_id: stream.to_string(), ..Default::default() };
    data.from_rollup = use_rollup && rolled_up(&ctx, stream).await?;
    info!(stream, from_rollup = data.from_rollup, "report figures");
    let r = match data.from_rollup {
        true => from_rollup(&ctx, stream).await?,
        false => from_raw(&ctx, lake, stream, cfg).await?,
    };

    for b in &r.show {
        let (regions, starts, ends) = (utf8_column(b, "region")?, times(b, "show_start"), times(b, "show_end"));
        for (i, region) in regions.into_iter().enumerate() {
            data.show_start_ms = starts[i];
            data.show_end_ms = ends[i];
            data.summary.insert(region, figures(b, i)?);
        }
    }
    for b in &r.sources {
        for (i, source) in utf8_column(b, "source")?.into_iter().enumerate() {
            data.sources.insert(source, figures(b, i)?);
        }
    }
    for b in &r.retention {
        let (regions, figs) =
            (utf8_column(b, "region")?, (0..b.num_rows()).map(|i| figures(b, i)).collect::<Result<Vec<_>>>()?);
        for (region, f) in regions.into_iter().zip(figs) {
            let point = (f["minute"].unwrap_or(0.0) as i64, f["retained"].unwrap_or(0.0));
            data.retention.entry(region).or_default().push(point);
        }
    }

    let first_minute = data.show_start_ms.div_euclid(cfg.width_ms) * cfg.width_ms;
    let minute_of = |ms: i64| (ms - first_minute).div_euclid(cfg.width_ms);
    for b in &r.minute {
        let (regions, starts) = (utf8_column(b, "region")?, times(b, "window_start"));
        for (i, region) in regions.into_iter().enumerate() {
            let figures = figures(b, i)?;
            let point = MinutePoint { region, minute: minute_of(starts[i]), start_ms: starts[i], figures };
            // Suspect sessions that started in the minute: session starts with and without them.
            let fake = point.get("sessions_started_raw") - point.get("sessions_started");
            if fake > 0.0 {
                data.fake_starts.insert((point.region.clone(), point.minute), fake as u64);
            }
            data.minutes.push(point);
        }
    }
    data.minutes.sort_by(|a, b| (&a.region, a.minute).cmp(&(&b.region, b.minute)));

    data.show = read_shows(lake).await?.remove(stream);
    let (seller, category) = match &data.show {
        Some(s) => (s.seller_id.as_deref(), s.category.as_deref()),
        None => (None, None),
    };
    if let Some(seller) = seller {
        data.previous = previous_actions(lake, stream, seller, data.show_start_ms).await?;
    }
    for b in baselines(&ctx, stream, seller, category, data.show_start_ms).await? {
        for (i, name) in utf8_column(&b, "baseline")?.into_iter().enumerate() {
            data.baselines.insert(name, figures(&b, i)?);
        }
    }
    Ok(data)
}
