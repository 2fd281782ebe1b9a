//! What the report reads: the show recomputed from the raw tables (late events included, the
//! same definitions as the rollup), its minute rows, retention curve and cleaned fake sessions,
//! the `shows` row with its targets, the baselines of earlier rolled-up shows, and the actions
//! the report of the seller's previous show proposed.

use crate::store::delta::LakeUrl;
use std::collections::{BTreeMap, BTreeSet};

use crate::{PeriodInputs, PeriodJob, baselines, lake_session, register_lake};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, TimestampMillisecondType};

use crate::error::{Error, Result};
use crate::rollup::{recompute, utf8_column};
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

/// Gather the report's data for `stream` from the lake at `lake`.
pub async fn gather(lake: &LakeUrl, stream: &str, cfg: RuleConfig) -> Result<ReportData> {
    let ctx = lake_session();
    register_lake(&ctx, lake).await?;
    let streams = [stream.to_string()];
    let r = recompute(&ctx, &streams, cfg).await?;
    if r.player.iter().chain(&r.commerce).all(|b| b.num_rows() == 0) {
        return Err(Error::Config(format!("no events of stream {stream:?} in the lake at {lake}")));
    }
    let mut data = ReportData { stream_id: stream.to_string(), ..Default::default() };

    // Fake sessions cleaned, by the region and window of their session_start.
    let suspects: BTreeSet<&str> = r.suspects.iter().map(|s| s.1.as_str()).collect();
    let mut fake_starts: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for b in &r.player {
        let (ty, session, region) = (utf8_column(b, "type")?, utf8_column(b, "session_id")?, utf8_column(b, "region")?);
        let window = times(b, "window_start");
        for i in 0..b.num_rows() {
            if ty[i] == "session_start" && suspects.contains(session[i].as_str()) {
                *fake_starts.entry((region[i].clone(), window[i])).or_default() += 1;
            }
        }
    }

    let job = PeriodJob::new(PeriodInputs {
        player: r.player,
        commerce: r.commerce,
        exits: r.exits,
        suspects: r.suspects.clone(),
    })?;
    let out = job.tables().await?;
    for b in &out.show {
        let (regions, starts, ends) = (utf8_column(b, "region")?, times(b, "show_start"), times(b, "show_end"));
        for (i, region) in regions.into_iter().enumerate() {
            data.show_start_ms = starts[i];
            data.show_end_ms = ends[i];
            data.summary.insert(region, figures(b, i)?);
        }
    }
    for b in &out.sources {
        for (i, source) in utf8_column(b, "source")?.into_iter().enumerate() {
            data.sources.insert(source, figures(b, i)?);
        }
    }
    for b in &job.retention().await? {
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
            data.minutes.push(MinutePoint { region, minute: minute_of(starts[i]), start_ms: starts[i], figures });
        }
    }
    data.minutes.sort_by(|a, b| (&a.region, a.minute).cmp(&(&b.region, b.minute)));
    data.fake_starts = fake_starts.into_iter().map(|((region, ms), n)| ((region, minute_of(ms)), n)).collect();

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
