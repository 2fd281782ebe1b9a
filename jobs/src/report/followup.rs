//! The closed loop (data → insight → action → verification). Each report stores its 3–5 actions
//! in the lake table `show_actions`, each with the `show_summary` metric it is checked on, the
//! metric's value in that show and the level that counts as "worked". The next report of the same
//! seller (the `shows` table's `seller_id`) reads the actions of the seller's latest earlier show
//! and says, per action, the metric then and now and whether it worked; the ones that did not are
//! carried forward into its own actions. The rules are in `docs/metrics.md` ("The closed loop").

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{Float64Type, TimestampMillisecondType};
use livelake_schemas::Table;

use super::data::ReportData;
use super::findings::Action;
use crate::error::Result;
use crate::rollup::replace::replace_partition;
use crate::rollup::{day, job_info};
use crate::store::delta::{self, LakeUrl, committed_files, read_files, replace_operation};

/// Metrics where less is better (an action on them worked when the metric went down).
pub fn lower_is_better(metric: &str) -> bool {
    matches!(
        metric,
        "stall_ratio"
            | "stalled_session_pct"
            | "startup_ms_p50"
            | "startup_ms_p95"
            | "latency_ms_p50"
            | "latency_ms_p95"
            | "latency_ms_p99"
            | "ebvs_pct"
            | "failure_pct"
            | "suspect_sessions"
            | "exits"
            | "exits_after_stall"
            | "lost_gmv_usd_est"
    )
}

/// Whether an action on `metric` worked: with a `threshold`, the metric `now` is on its good side
/// (≤ it when less is better, else ≥ it); without one, `now` is at least as good as `then`.
/// Unknown (`None`) when the metric has no value in the later show (e.g. no viewers in that
/// region).
pub fn worked(metric: &str, then: f64, threshold: Option<f64>, now: Option<f64>) -> Option<bool> {
    let now = now?;
    let bar = threshold.unwrap_or(then);
    Some(if lower_is_better(metric) { now <= bar } else { now >= bar })
}

/// A metric value as the report shows it: ratios as percentages, money in USD, milliseconds.
pub fn display(metric: &str, v: f64) -> String {
    if metric.ends_with("_ratio") || metric.ends_with("_pct") || matches!(metric, "ctr" | "click_to_order") {
        format!("{:.2}%", v * 100.0)
    } else if metric.ends_with("_usd") || metric.ends_with("_usd_est") {
        format!("${v:.2}")
    } else if metric.contains("_ms") {
        format!("{v:.0} ms")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// An action an earlier report proposed, as `show_actions` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PastAction {
    /// The earlier show.
    pub stream_id: String,
    /// Stable within that show: rank, rule, region and metric.
    pub action_id: String,
    /// The rule that proposed it.
    pub rule: String,
    /// The region it is about; `None` for the whole show (`ALL`).
    pub region: Option<String>,
    /// The `show_summary` column it is checked on.
    pub metric: String,
    /// The metric in the earlier show.
    pub value: f64,
    /// The level that counts as worked (`None`: at least as good as `value`).
    pub threshold: Option<f64>,
    /// What to do.
    pub text: String,
    /// The earlier show's first event, epoch ms.
    pub show_start_ms: i64,
}

impl PastAction {
    /// The `show_summary` region the metric is read from.
    pub fn summary_region(&self) -> &str {
        self.region.as_deref().unwrap_or("ALL")
    }
}

/// How an earlier show's action did in this show.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The action.
    pub past: PastAction,
    /// The metric in this show.
    pub now: Option<f64>,
    /// See [`worked`].
    pub worked: Option<bool>,
}

/// Judge the previous show's actions (`data.previous`) on this show's figures.
pub fn judge(data: &ReportData) -> Vec<Verdict> {
    data.previous
        .iter()
        .map(|p| {
            let now = data.fig(p.summary_region(), &p.metric);
            Verdict { past: p.clone(), now, worked: worked(&p.metric, p.value, p.threshold, now) }
        })
        .collect()
}

fn text_column(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = b.column_by_name(name).expect("show_actions column");
    let col = col.as_string::<i32>();
    (0..col.len()).map(|i| col.is_valid(i).then(|| col.value(i).to_string())).collect()
}

fn float_column(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let col = b.column_by_name(name).expect("show_actions column").as_primitive::<Float64Type>();
    (0..col.len()).map(|i| col.is_valid(i).then(|| col.value(i))).collect()
}

/// The actions of `seller`'s latest show that started before `before_ms` (not `stream` itself),
/// in the order that report gave them; empty when there is none.
pub async fn previous_actions(lake: &LakeUrl, stream: &str, seller: &str, before_ms: i64) -> Result<Vec<PastAction>> {
    let t = Table::ShowActions;
    let Some(dt) = delta::open_table(lake, t).await? else { return Ok(Vec::new()) };
    let mut all = Vec::new();
    for b in read_files(&dt, &committed_files(&dt, t)?).await? {
        let (streams, sellers, ids) =
            (text_column(&b, "stream_id"), text_column(&b, "seller_id"), text_column(&b, "action_id"));
        let (rules, regions, metrics, texts) =
            (text_column(&b, "rule"), text_column(&b, "region"), text_column(&b, "metric"), text_column(&b, "text"));
        let (values, thresholds) = (float_column(&b, "value"), float_column(&b, "threshold"));
        let starts = b.column_by_name("show_start").expect("show_start").as_primitive::<TimestampMillisecondType>();
        for i in 0..b.num_rows() {
            let start = starts.value(i);
            if sellers[i].as_deref() != Some(seller) || streams[i].as_deref() == Some(stream) || start >= before_ms {
                continue;
            }
            all.push(PastAction {
                stream_id: streams[i].clone().unwrap_or_default(),
                action_id: ids[i].clone().unwrap_or_default(),
                rule: rules[i].clone().unwrap_or_default(),
                region: regions[i].clone(),
                metric: metrics[i].clone().unwrap_or_default(),
                value: values[i].unwrap_or(f64::NAN),
                threshold: thresholds[i],
                text: texts[i].clone().unwrap_or_default(),
                show_start_ms: start,
            });
        }
    }
    let Some(latest) = all.iter().map(|a| (a.show_start_ms, a.stream_id.clone())).max() else { return Ok(all) };
    all.retain(|a| (a.show_start_ms, &a.stream_id) == (latest.0, &latest.1));
    all.sort_by(|a, b| a.action_id.cmp(&b.action_id));
    Ok(all)
}

/// The `action_id` of the `rank`-th action (1-based): stable as long as the report finds the same.
pub fn action_id(rank: usize, a: &Action) -> String {
    format!("{rank}:{}/{}/{}", a.rule, a.region.as_deref().unwrap_or("ALL"), a.metric)
}

/// Store the report's `actions` of the show `data` in `show_actions`, replacing the show's rows
/// of an earlier report (in one Delta commit, under the show's first day, and under any other day
/// where an earlier report put them). Returns the rows written.
pub async fn store(lake: &LakeUrl, data: &ReportData, actions: &[Action], now_ms: i64) -> Result<usize> {
    let t = Table::ShowActions;
    let mut dt = delta::open_or_create(lake, t).await?;
    let files = committed_files(&dt, t)?;
    let home = format!("date={}", day(data.show_start_ms));
    let mut dirs = BTreeSet::from([home.clone()]);
    for f in &files {
        if dirs.contains(f.dir()) {
            continue;
        }
        for b in read_files(&dt, std::slice::from_ref(f)).await? {
            if text_column(&b, "stream_id").iter().any(|s| s.as_deref() == Some(data.stream_id.as_str())) {
                dirs.insert(f.dir().to_string());
            }
        }
    }
    let seller = data.show.as_ref().and_then(|s| s.seller_id.clone());
    let n = actions.len();
    let strings = |f: &dyn Fn(usize, &Action) -> Option<String>| -> ArrayRef {
        Arc::new(actions.iter().enumerate().map(|(i, a)| f(i, a)).collect::<StringArray>())
    };
    let times = |ms: i64| -> ArrayRef { Arc::new(TimestampMillisecondArray::from(vec![ms; n]).with_timezone("UTC")) };
    let batch = RecordBatch::try_new(
        t.schema(),
        vec![
            strings(&|_, _| Some(data.stream_id.clone())),
            strings(&|_, _| seller.clone()),
            strings(&|i, a| Some(action_id(i + 1, a))),
            strings(&|_, a| Some(a.rule.clone())),
            strings(&|_, a| a.region.clone()),
            strings(&|_, a| Some(a.metric.clone())),
            Arc::new(actions.iter().map(|a| a.value).collect::<Float64Array>()),
            Arc::new(actions.iter().map(|a| a.threshold).collect::<Float64Array>()),
            strings(&|_, a| Some(a.what.clone())),
            times(now_ms),
            strings(&|_, a| Some(a.because.clone())),
            times(data.show_start_ms),
        ],
    )?;
    let streams = BTreeSet::from([data.stream_id.clone()]);
    let name = format!("report-{now_ms:013}.parquet");
    let mut commit = Vec::new();
    for dir in &dirs {
        let rows = if *dir == home { vec![batch.clone()] } else { Vec::new() };
        let (mut a, _) = replace_partition(&dt, t, &files, dir, &streams, rows, &name, now_ms).await?;
        commit.append(&mut a);
    }
    let days: Vec<String> = dirs.iter().map(|d| format!("'{}'", d.trim_start_matches("date="))).collect();
    let predicate = format!("date IN ({})", days.join(", "));
    delta::commit(&mut dt, t, commit, &[], replace_operation(t, predicate), job_info("report")).await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_worked_when_its_metric_reached_the_level() {
        // Less is better, with a threshold: at or below it.
        assert_eq!(worked("stall_ratio", 0.02, Some(0.01), Some(0.009)), Some(true));
        assert_eq!(worked("stall_ratio", 0.02, Some(0.01), Some(0.01)), Some(true));
        assert_eq!(worked("stall_ratio", 0.02, Some(0.01), Some(0.015)), Some(false), "better, not enough");
        assert_eq!(worked("startup_ms_p95", 3400.0, Some(3000.0), Some(2901.0)), Some(true));
        // More is better, with a threshold (a target): at or above it.
        assert_eq!(worked("gmv_usd", 800.0, Some(1000.0), Some(999.99)), Some(false));
        assert_eq!(worked("gmv_usd", 800.0, Some(1000.0), Some(1000.0)), Some(true));
        // Without one: at least as good as then, in the metric's direction.
        assert_eq!(worked("gpm_usd", 50.0, None, Some(49.0)), Some(false));
        assert_eq!(worked("gpm_usd", 50.0, None, Some(50.0)), Some(true));
        assert_eq!(worked("suspect_sessions", 40.0, None, Some(12.0)), Some(true));
        assert_eq!(worked("suspect_sessions", 40.0, None, Some(41.0)), Some(false));
        // Nothing to judge on.
        assert_eq!(worked("stall_ratio", 0.02, Some(0.01), None), None);
    }

    #[test]
    fn values_show_in_the_metric_unit() {
        assert_eq!(display("stall_ratio", 0.0123), "1.23%");
        assert_eq!(display("ctr", 0.5), "50.00%");
        assert_eq!(display("gmv_usd", 12.346), "$12.35");
        assert_eq!(display("startup_ms_p95", 2958.4), "2958 ms");
        assert_eq!(display("suspect_sessions", 40.0), "40");
        assert_eq!(display("avg_watch_seconds", 61.26), "61.3");
    }
}
