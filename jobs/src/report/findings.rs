//! The report's findings, by explicit rules on the figures (each rule's thresholds are named
//! constants, and every finding carries the numbers that triggered it): goals vs actual,
//! anomalies (stall bursts, exit jumps, cleaned fake spikes) with their region and minute, the
//! stall → exit → lost-GMV estimate per region, and 3–5 next-show actions.

use std::collections::BTreeMap;

use super::data::{MinutePoint, ReportData};
use super::followup::{self, Verdict, display};

/// A minute is part of a stall burst when its stall ratio is at least this …
pub const BURST_MIN_RATIO: f64 = 0.03;
/// … and at least this many times the region's ratio over the show …
pub const BURST_FACTOR: f64 = 4.0;
/// … with at least this many sessions watching …
pub const BURST_MIN_SESSIONS: f64 = 10.0;
/// … and many of them stalling at once (a delivery problem, not one viewer's connection): at
/// least this many sessions with a stall …
pub const BURST_MIN_STALLED: f64 = 5.0;
/// … and at least this share of the sessions watching.
pub const BURST_STALLED_SHARE: f64 = 0.3;
/// A minute's exits jump when they reach this many times the region's median minute …
pub const EXIT_JUMP_FACTOR: f64 = 3.0;
/// … and at least this many. The show's last minutes (everyone leaves at the end) do not count.
pub const EXIT_JUMP_MIN: f64 = 5.0;
/// Minutes at the end of the show left out of the exit-jump rule.
pub const EXIT_JUMP_END_MINUTES: i64 = 2;
/// Startup is slow when the p95 exceeds this (ms) …
pub const SLOW_START_P95_MS: f64 = 3000.0;
/// … or fewer first frames than this share come within 1 s (秒开率).
pub const FAST_START_MIN: f64 = 0.5;
/// A figure is "below its baseline" under this share of the baseline median.
pub const BELOW_BASELINE: f64 = 0.8;
/// A fix worked when the metric of the problem is at most this share of what it was: the region's
/// stall ratio after a stall burst, the fake sessions after bought traffic.
pub const FIX_SHARE: f64 = 0.5;

/// Something that went wrong, where and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// `stall_burst`, `exit_jump` or `fake_spike`.
    pub kind: &'static str,
    /// Region.
    pub region: String,
    /// First minute (since the show's first minute).
    pub from_minute: i64,
    /// Last minute.
    pub to_minute: i64,
    /// Window start of the first minute, epoch ms.
    pub start_ms: i64,
    /// What was seen, with its numbers.
    pub detail: String,
}

/// The stall → exit → lost-GMV estimate of one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Region.
    pub region: String,
    /// max(0, Σ over the region's stall-burst minutes, and the minute after each, of
    /// (exits_after_stall − sessions_stalled × exits ÷ sessions_active)): exits after stalls
    /// beyond what each minute's exit rate explains.
    pub excess_exits: f64,
    /// The region's GMV per session (gmv_usd ÷ sessions).
    pub gmv_per_session: f64,
    /// excess_exits × gmv_per_session.
    pub lost_gmv_usd: f64,
    /// METRICS.md's show-level `lost_gmv_usd_est` (usually 0 over a whole show: every session
    /// ends, so the average exit rate is 1).
    pub show_level_usd: Option<f64>,
}

/// A goal and how the show did.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// What.
    pub name: &'static str,
    /// The `show_summary` column (of `ALL`) it is about.
    pub metric: &'static str,
    /// The target.
    pub target: f64,
    /// The actual figure.
    pub actual: Option<f64>,
    /// Met? (None when the actual is unknown.)
    pub met: Option<bool>,
}

/// A next-show action, the numbers behind it, and how the next show's report checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// What to do.
    pub what: String,
    /// Why: the finding and its numbers.
    pub because: String,
    /// The rule that proposed it (`stall_burst`, `missed_goal`, `slow_start`, `low_ctr`,
    /// `fake_traffic`, `best_source`, `peak_exit`, `best_region`, `keep_going`).
    pub rule: String,
    /// The region it is about; `None` for the whole show.
    pub region: Option<String>,
    /// The `show_summary` column (of `region`, or `ALL`) the next show checks it on …
    pub metric: String,
    /// … its value in this show …
    pub value: f64,
    /// … and the level that counts as worked (`None`: at least as good as `value`); see
    /// [`super::followup::worked`].
    pub threshold: Option<f64>,
}

/// Everything the rules found.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Goals vs actual (empty without a `shows` row with targets).
    pub goals: Vec<Goal>,
    /// Anomalies, by minute.
    pub anomalies: Vec<Anomaly>,
    /// Estimates by region.
    pub estimates: Vec<Estimate>,
    /// 3–5 actions.
    pub actions: Vec<Action>,
    /// The seller's previous show's actions, judged on this show (empty without one).
    pub followup: Vec<Verdict>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn by_region(minutes: &[MinutePoint]) -> BTreeMap<&str, Vec<&MinutePoint>> {
    let mut out: BTreeMap<&str, Vec<&MinutePoint>> = BTreeMap::new();
    for m in minutes {
        out.entry(m.region.as_str()).or_default().push(m);
    }
    out
}

/// Runs of consecutive minutes (sorted input) that satisfy `hit`.
fn runs<'a>(minutes: &[&'a MinutePoint], hit: impl Fn(&MinutePoint) -> bool) -> Vec<Vec<&'a MinutePoint>> {
    let mut out: Vec<Vec<&MinutePoint>> = Vec::new();
    for m in minutes.iter().copied().filter(|m| hit(m)) {
        match out.last_mut() {
            Some(run) if run.last().is_some_and(|l| m.minute == l.minute + 1) => run.push(m),
            _ => out.push(vec![m]),
        }
    }
    out
}

/// Stall bursts: runs of minutes whose stall ratio is ≥ max(BURST_MIN_RATIO, BURST_FACTOR × the
/// region's show ratio), with ≥ BURST_MIN_SESSIONS sessions watching of which ≥
/// max(BURST_MIN_STALLED, BURST_STALLED_SHARE × watching) stalled.
pub fn stall_bursts(data: &ReportData) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (region, minutes) in by_region(&data.minutes) {
        let base = data.fig(region, "stall_ratio").unwrap_or(0.0);
        let threshold = BURST_MIN_RATIO.max(BURST_FACTOR * base);
        let hit = |m: &MinutePoint| {
            let watching = m.get("sessions_active");
            watching >= BURST_MIN_SESSIONS
                && m.get("sessions_stalled") >= BURST_MIN_STALLED.max(BURST_STALLED_SHARE * watching)
                && m.figures.get("stall_ratio").copied().flatten().is_some_and(|r| r >= threshold)
        };
        for run in runs(&minutes, hit) {
            let peak = run.iter().map(|m| m.get("stall_ratio")).fold(0.0, f64::max);
            let exits: f64 = run.iter().map(|m| m.get("exits_after_stall")).sum();
            out.push(Anomaly {
                kind: "stall_burst",
                region: region.to_string(),
                from_minute: run[0].minute,
                to_minute: run[run.len() - 1].minute,
                start_ms: run[0].start_ms,
                detail: format!(
                    "stall ratio peaked at {} (region over the show: {}; threshold {}), {exits:.0} exits after stalls",
                    pct(peak),
                    pct(base),
                    pct(threshold)
                ),
            });
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// Exit jumps: runs of minutes with exits ≥ max(EXIT_JUMP_MIN, EXIT_JUMP_FACTOR × the region's
/// median minute), each said to follow a stall burst when one overlaps or ends a minute before;
/// the show's last EXIT_JUMP_END_MINUTES minutes are left out.
pub fn exit_jumps(data: &ReportData, bursts: &[Anomaly]) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let last = data.minutes_long() - EXIT_JUMP_END_MINUTES;
    for (region, minutes) in by_region(&data.minutes) {
        let typical = median(minutes.iter().map(|m| m.get("exits")).collect());
        let threshold = EXIT_JUMP_MIN.max(EXIT_JUMP_FACTOR * typical);
        for run in runs(&minutes, |m| m.minute < last && m.get("exits") >= threshold) {
            let (from, to) = (run[0].minute, run[run.len() - 1].minute);
            let exits: f64 = run.iter().map(|m| m.get("exits")).sum();
            let after_stall: f64 = run.iter().map(|m| m.get("exits_after_stall")).sum();
            let stalled = bursts.iter().any(|b| b.region == region && b.from_minute <= to && b.to_minute + 1 >= from);
            out.push(Anomaly {
                kind: "exit_jump",
                region: region.to_string(),
                from_minute: from,
                to_minute: to,
                start_ms: run[0].start_ms,
                detail: format!(
                    "{exits:.0} exits ({after_stall:.0} after a stall) vs a typical {typical:.1} per minute{}",
                    if stalled { "; during a stall burst" } else { "" }
                ),
            });
        }
    }
    out
}

/// Cleaned fake-viewer spikes: minutes where suspect sessions started.
pub fn fake_spikes(data: &ReportData) -> Vec<Anomaly> {
    let first_minute = data.show_start_ms.div_euclid(60_000) * 60_000;
    data.fake_starts
        .iter()
        .map(|((region, minute), n)| Anomaly {
            kind: "fake_spike",
            region: region.clone(),
            from_minute: *minute,
            to_minute: *minute,
            start_ms: data
                .minutes
                .iter()
                .find(|m| m.region == *region && m.minute == *minute)
                .map_or(first_minute + minute * 60_000, |m| m.start_ms),
            detail: format!("{n} fake sessions (join spike, < 10 s watched, no interaction) cleaned from every metric"),
        })
        .collect()
}

/// The stall → exit → lost-GMV estimate per region (see [`Estimate`]), over the region's stall
/// bursts and the minute after each: where stalls were a delivery problem, not one viewer's.
pub fn estimates(data: &ReportData, bursts: &[Anomaly]) -> Vec<Estimate> {
    by_region(&data.minutes)
        .into_iter()
        .map(|(region, minutes)| {
            let in_burst = |m: &MinutePoint| {
                bursts.iter().any(|b| b.region == region && m.minute >= b.from_minute && m.minute <= b.to_minute + 1)
            };
            let excess_exits: f64 = minutes
                .iter()
                .filter(|m| m.get("sessions_active") > 0.0 && in_burst(m))
                .map(|m| {
                    m.get("exits_after_stall") - m.get("sessions_stalled") * m.get("exits") / m.get("sessions_active")
                })
                .sum::<f64>();
            let excess_exits = if excess_exits > 0.0 { excess_exits } else { 0.0 }; // never −0
            let sessions = data.fig(region, "sessions").unwrap_or(0.0);
            let gmv_per_session =
                if sessions > 0.0 { data.fig(region, "gmv_usd").unwrap_or(0.0) / sessions } else { 0.0 };
            Estimate {
                region: region.to_string(),
                excess_exits,
                gmv_per_session,
                lost_gmv_usd: excess_exits * gmv_per_session,
                show_level_usd: data.fig(region, "lost_gmv_usd_est"),
            }
        })
        .collect()
}

/// Targets of the `shows` row against the show.
pub fn goals(data: &ReportData) -> Vec<Goal> {
    let Some(show) = &data.show else { return Vec::new() };
    let mut out = Vec::new();
    let mut goal = |name, metric, target: Option<f64>| {
        if let Some(target) = target {
            let actual = data.fig("ALL", metric);
            let met = actual.map(|a| if followup::lower_is_better(metric) { a <= target } else { a >= target });
            out.push(Goal { name, metric, target, actual, met });
        }
    };
    goal("GMV (USD)", "gmv_usd", show.target_gmv_usd.map(|d| d.0 as f64 / 1e4));
    goal("viewers", "viewers", show.target_viewers.map(|v| v as f64));
    goal("stall ratio (at most)", "stall_ratio", show.max_stall_ratio);
    out
}

/// Slow video start, per region.
fn startup_actions(data: &ReportData) -> Vec<Action> {
    let mut out = Vec::new();
    for region in data.regions() {
        let (p95, fast) = (data.fig(&region, "startup_ms_p95"), data.fig(&region, "fast_start_pct"));
        let slow_p95 = p95.filter(|p| *p > SLOW_START_P95_MS);
        let few_fast = fast.filter(|f| *f < FAST_START_MIN);
        if slow_p95.is_some() || few_fast.is_some() {
            let (metric, value, threshold) = match slow_p95 {
                Some(p) => ("startup_ms_p95", p, SLOW_START_P95_MS),
                None => ("fast_start_pct", few_fast.unwrap_or(0.0), FAST_START_MIN),
            };
            out.push(Action {
                rule: "slow_start".into(),
                region: Some(region.clone()),
                metric: metric.into(),
                value,
                threshold: Some(threshold),
                what: format!(
                    "Speed up video start in {region}: check the edge/CDN and first-GOP settings for that region"
                ),
                because: format!(
                    "startup p95 {:.0} ms (limit {SLOW_START_P95_MS:.0}), fast-start rate (≤ 1 s) {} (want ≥ {})",
                    p95.unwrap_or(0.0),
                    pct(fast.unwrap_or(0.0)),
                    pct(FAST_START_MIN)
                ),
            });
        }
    }
    out
}

/// 3–5 actions by rule, most urgent first: stall bursts (with their estimate), missed goals,
/// slow starts, a funnel below its baseline, cleaned fake traffic; then what worked best.
pub fn actions(data: &ReportData, f: &Findings) -> Vec<Action> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for b in f.anomalies.iter().filter(|a| a.kind == "stall_burst") {
        if !seen.insert(b.region.as_str()) {
            continue; // one delivery action per region: its first burst
        }
        let est = f.estimates.iter().find(|e| e.region == b.region);
        let ratio = data.fig(&b.region, "stall_ratio").unwrap_or(0.0);
        out.push(Action {
            rule: "stall_burst".into(),
            region: Some(b.region.clone()),
            metric: "stall_ratio".into(),
            value: ratio,
            threshold: Some(ratio * FIX_SHARE),
            what: format!(
                "Fix delivery in {} before the next show (CDN/ingest around minute {}–{}); keep a backup CDN ready to switch",
                b.region, b.from_minute, b.to_minute
            ),
            because: format!(
                "stall burst at minute {}–{} in {}: {}; estimated {:.1} excess exits ≈ ${:.2} GMV lost (estimate)",
                b.from_minute,
                b.to_minute,
                b.region,
                b.detail,
                est.map_or(0.0, |e| e.excess_exits),
                est.map_or(0.0, |e| e.lost_gmv_usd)
            ),
        });
    }
    for g in f.goals.iter().filter(|g| g.met == Some(false)) {
        out.push(Action {
            rule: "missed_goal".into(),
            region: None,
            metric: g.metric.into(),
            value: g.actual.unwrap_or(0.0),
            threshold: Some(g.target),
            what: format!("Close the gap on {}: plan pitches and traffic for it explicitly", g.name),
            because: format!("{} was {:.2} against a target of {:.2}", g.name, g.actual.unwrap_or(0.0), g.target),
        });
    }
    out.extend(startup_actions(data));
    for (baseline, figs) in &data.baselines {
        let n = figs.get("shows").copied().flatten().unwrap_or(0.0);
        let (Some(base), Some(ctr)) = (figs.get("ctr").copied().flatten(), data.fig("ALL", "ctr")) else { continue };
        if n > 0.0 && ctr < BELOW_BASELINE * base {
            out.push(Action {
                rule: "low_ctr".into(),
                region: None,
                metric: "ctr".into(),
                value: ctr,
                threshold: Some(BELOW_BASELINE * base),
                what: "Pitch products earlier and pin the product card while pitching".to_string(),
                because: format!("CTR {} vs {} median {} of {n:.0} show(s)", pct(ctr), baseline, pct(base)),
            });
            break;
        }
    }
    let fakes: u64 = data.fake_starts.values().sum();
    if fakes > 0 {
        let ((region, minute), n) = data.fake_starts.iter().max_by_key(|(_, n)| **n).expect("some");
        let suspects = data.fig("ALL", "suspect_sessions").unwrap_or(fakes as f64);
        out.push(Action {
            rule: "fake_traffic".into(),
            region: None,
            metric: "suspect_sessions".into(),
            value: suspects,
            threshold: Some(suspects * FIX_SHARE),
            what: "Audit bought or bot traffic: ask the traffic source for a refund and block it next time".to_string(),
            because: format!(
                "{fakes} fake sessions cleaned; the largest spike {n} in {region} at minute {minute} (viewer counts exclude them)"
            ),
        });
    }
    carry_forward(&mut out, &f.followup);
    // What worked: the source that earned most per thousand sessions.
    let best = data
        .sources
        .iter()
        .filter_map(|(s, f)| Some((s, f.get("gpm_usd").copied().flatten()?, f.get("sessions").copied().flatten()?)))
        .filter(|(_, _, n)| *n >= 10.0)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((source, gpm, sessions)) = best {
        out.push(Action {
            rule: "best_source".into(),
            region: None,
            metric: "gpm_usd".into(),
            value: data.fig("ALL", "gpm_usd").unwrap_or(0.0),
            threshold: None,
            what: format!("Put more of next show's promotion into `{source}` traffic"),
            because: format!(
                "`{source}` earned ${gpm:.2} GMV per 1,000 sessions over {sessions:.0} sessions, the best source"
            ),
        });
    }
    // Observations that always apply, until there are three actions.
    for a in [peak_exit_minute(data), best_region(data), Some(keep_going(data))].into_iter().flatten() {
        if out.len() >= 3 {
            break;
        }
        out.push(a);
    }
    out.truncate(5);
    out
}

/// The previous show's actions that did not work: one the rules proposed again (same rule and
/// region) says so; the others are proposed again, checked next time against the same level
/// (or, without one, against the value they had when first proposed).
fn carry_forward(out: &mut Vec<Action>, followup: &[Verdict]) {
    for v in followup.iter().filter(|v| v.worked == Some(false)) {
        let p = &v.past;
        let now = v.now.unwrap_or(p.value);
        let wanted = p.threshold.unwrap_or(p.value);
        let note = format!(
            "last show's action on this did not work ({} {} → {}, wanted {}{})",
            p.metric,
            display(&p.metric, p.value),
            display(&p.metric, now),
            if followup::lower_is_better(&p.metric) { "≤ " } else { "≥ " },
            display(&p.metric, wanted)
        );
        match out.iter_mut().find(|a| a.rule == p.rule && a.region == p.region) {
            Some(a) => a.because.push_str(&format!("; {note}")),
            None => out.push(Action {
                what: p.text.clone(),
                because: note,
                rule: p.rule.clone(),
                region: p.region.clone(),
                metric: p.metric.clone(),
                value: now,
                threshold: Some(wanted),
            }),
        }
    }
}

/// The minute the most viewers left (all regions).
fn peak_exit_minute(data: &ReportData) -> Option<Action> {
    let mut per_minute: BTreeMap<i64, f64> = BTreeMap::new();
    for m in &data.minutes {
        *per_minute.entry(m.minute).or_default() += m.get("exits");
    }
    let typical = median(per_minute.values().copied().collect());
    let (minute, exits) = per_minute.into_iter().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
    Some(Action {
        rule: "peak_exit".into(),
        region: None,
        metric: "avg_watch_seconds".into(),
        value: data.fig("ALL", "avg_watch_seconds").unwrap_or(0.0),
        threshold: None,
        what: format!("Rework the segment around minute {minute}: shorten it or move the next pitch ahead of it"),
        because: format!("the most viewers left then: {exits:.0} exits vs a typical {typical:.1} per minute"),
    })
}

/// The region that earned most per session.
fn best_region(data: &ReportData) -> Option<Action> {
    let (region, gpm) = data
        .regions()
        .into_iter()
        .filter(|r| data.fig(r, "sessions").unwrap_or(0.0) >= 10.0)
        .filter_map(|r| Some((r.clone(), data.fig(&r, "gpm_usd")?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Action {
        rule: "best_region".into(),
        region: Some(region.clone()),
        metric: "gpm_usd".into(),
        value: gpm,
        threshold: None,
        what: format!("Time the next show for {region}'s evening and localize its pitches"),
        because: format!(
            "{region} earned ${gpm:.2} GMV per 1,000 sessions vs ${:.2} for the whole show",
            data.fig("ALL", "gpm_usd").unwrap_or(0.0)
        ),
    })
}

fn keep_going(data: &ReportData) -> Action {
    let (ratio, ctr) = (data.fig("ALL", "stall_ratio").unwrap_or(0.0), data.fig("ALL", "ctr").unwrap_or(0.0));
    Action {
        rule: "keep_going".into(),
        region: None,
        metric: "stall_ratio".into(),
        value: ratio,
        threshold: None,
        what: "Keep the stream setup and the pitch order: no rule found a problem".to_string(),
        because: format!("stall ratio {} and CTR {} over the show", pct(ratio), pct(ctr)),
    }
}

/// Run every rule.
pub fn find(data: &ReportData) -> Findings {
    let bursts = stall_bursts(data);
    let mut f = Findings {
        goals: goals(data),
        estimates: estimates(data, &bursts),
        followup: followup::judge(data),
        ..Default::default()
    };
    let jumps = exit_jumps(data, &bursts);
    f.anomalies = bursts.into_iter().chain(jumps).chain(fake_spikes(data)).collect();
    f.anomalies.sort_by(|a, b| (a.from_minute, &a.region, a.kind).cmp(&(b.from_minute, &b.region, b.kind)));
    f.actions = actions(data, &f);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::data::Figures;
    use crate::report::followup::PastAction;

    fn minute(region: &str, minute: i64, active: f64, ratio: f64, exits: f64, after: f64, stalled: f64) -> MinutePoint {
        let figures: Figures = [
            ("sessions_active", active),
            ("stall_ratio", ratio),
            ("exits", exits),
            ("exits_after_stall", after),
            ("sessions_stalled", stalled),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Some(v)))
        .collect();
        MinutePoint { region: region.into(), minute, start_ms: minute * 60_000, figures }
    }

    fn show(minutes: Vec<MinutePoint>) -> ReportData {
        let mut data = ReportData { stream_id: "s".into(), minutes, ..Default::default() };
        for region in ["EU", "NA"] {
            let figs: Figures = [("stall_ratio", 0.005), ("sessions", 100.0), ("gmv_usd", 500.0)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), Some(v)))
                .collect();
            data.summary.insert(region.into(), figs);
        }
        data
    }

    #[test]
    fn a_stall_burst_is_found_with_its_region_minutes_and_estimate() {
        let mut minutes = Vec::new();
        for m in 0..20 {
            let burst = (8..=10).contains(&m);
            minutes.push(minute(
                "EU",
                m,
                30.0,
                if burst { 0.08 } else { 0.004 },
                if burst { 6.0 } else { 1.0 },
                if burst { 5.0 } else { 0.0 },
                if burst { 12.0 } else { 1.0 },
            ));
            // NA: a single stalled minute with too few viewers is not a burst.
            minutes.push(minute(
                "NA",
                m,
                if m == 5 { 3.0 } else { 20.0 },
                if m == 5 { 0.5 } else { 0.004 },
                1.0,
                0.0,
                0.0,
            ));
        }
        let data = show(minutes);
        let f = find(&data);
        let bursts: Vec<_> = f.anomalies.iter().filter(|a| a.kind == "stall_burst").collect();
        assert_eq!(bursts.len(), 1, "{bursts:?}");
        assert_eq!((bursts[0].region.as_str(), bursts[0].from_minute, bursts[0].to_minute), ("EU", 8, 10));
        let jumps: Vec<_> = f.anomalies.iter().filter(|a| a.kind == "exit_jump").collect();
        assert_eq!(jumps.len(), 1);
        assert!(jumps[0].detail.contains("during a stall burst"), "{}", jumps[0].detail);
        // Burst minutes 8–10: 5 − 12 × 6 / 30 = 2.6 each; the minute after: 0 − 1 × 1 / 30.
        // EU's GMV per session is 500 / 100 = 5.
        let excess = 3.0 * 2.6 - 1.0 / 30.0;
        let eu = f.estimates.iter().find(|e| e.region == "EU").unwrap();
        assert!((eu.excess_exits - excess).abs() < 1e-9, "{}", eu.excess_exits);
        assert!((eu.lost_gmv_usd - excess * 5.0).abs() < 1e-9);
        assert!((3..=5).contains(&f.actions.len()));
        assert!(f.actions[0].because.contains("minute 8–10 in EU"), "{}", f.actions[0].because);
        assert_eq!(
            (f.actions[0].rule.as_str(), f.actions[0].region.as_deref(), f.actions[0].metric.as_str()),
            ("stall_burst", Some("EU"), "stall_ratio")
        );
        assert_eq!((f.actions[0].value, f.actions[0].threshold), (0.005, Some(0.005 * FIX_SHARE)));
    }

    fn past(rule: &str, region: Option<&str>, metric: &str, value: f64, threshold: Option<f64>) -> PastAction {
        PastAction {
            stream_id: "before".into(),
            action_id: format!("{rule}/{region:?}"),
            rule: rule.into(),
            region: region.map(String::from),
            metric: metric.into(),
            value,
            threshold,
            text: format!("do {rule}"),
            show_start_ms: 0,
        }
    }

    #[test]
    fn the_last_shows_actions_are_judged_and_the_failed_ones_carried_forward() {
        // A quiet show: EU and NA at a 0.5 % stall ratio, CTR 3 %, no burst.
        let mut data = show(Vec::new());
        data.summary.insert("ALL".into(), [("ctr".to_string(), Some(0.03))].into_iter().collect());
        data.previous = vec![
            past("stall_burst", Some("EU"), "stall_ratio", 0.02, Some(0.01)),
            past("stall_burst", Some("NA"), "stall_ratio", 0.004, Some(0.002)),
            past("low_ctr", None, "ctr", 0.02, Some(0.05)),
            past("slow_start", Some("EU"), "startup_ms_p95", 3400.0, Some(3000.0)),
        ];
        let f = find(&data);
        let verdicts: Vec<_> = f.followup.iter().map(|v| (v.now, v.worked)).collect();
        assert_eq!(
            verdicts,
            [(Some(0.005), Some(true)), (Some(0.005), Some(false)), (Some(0.03), Some(false)), (None, None)]
        );
        let carried: Vec<_> = f.actions.iter().filter(|a| a.because.contains("did not work")).collect();
        assert_eq!(carried.len(), 2, "{:?}", f.actions);
        assert_eq!((carried[0].what.as_str(), carried[0].region.as_deref()), ("do stall_burst", Some("NA")));
        assert_eq!((carried[0].value, carried[0].threshold), (0.005, Some(0.002)), "checked against the same level");
        assert!(carried[0].because.contains("stall_ratio 0.40% → 0.50%, wanted ≤ 0.20%"), "{}", carried[0].because);
        assert_eq!((carried[1].rule.as_str(), carried[1].threshold), ("low_ctr", Some(0.05)));
        assert!(carried[1].because.contains("ctr 2.00% → 3.00%, wanted ≥ 5.00%"), "{}", carried[1].because);

        // The rules propose the same again (an EU burst): that action says the last one failed.
        let mut minutes = Vec::new();
        for m in 0..20 {
            let burst = (8..=10).contains(&m);
            let ratio = if burst { 0.08 } else { 0.004 };
            minutes.push(minute("EU", m, 30.0, ratio, 1.0, 0.0, if burst { 12.0 } else { 1.0 }));
        }
        let mut data = show(minutes);
        data.previous = vec![past("stall_burst", Some("EU"), "stall_ratio", 0.02, Some(0.001))];
        let f = find(&data);
        let eu: Vec<_> = f.actions.iter().filter(|a| a.rule == "stall_burst").collect();
        assert_eq!(eu.len(), 1, "{:?}", f.actions);
        assert!(eu[0].because.contains("minute 8–10 in EU"), "{}", eu[0].because);
        assert!(eu[0].because.contains("last show's action on this did not work"), "{}", eu[0].because);
    }
}
