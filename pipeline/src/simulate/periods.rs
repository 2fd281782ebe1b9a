//! Ground truth of the nightly rollup tables (`stream_daily`, `show_summary`, `show_sources`),
//! computed in plain imperative Rust straight from the simulator's valid events, independently of
//! any SQL: the second computation the rollup is held against. Bots (the fake-spike sessions) are
//! the suspect sessions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use livelake_schemas::{Decimal4, Decoder, Event, EventKind, Family, Payload, rfc3339_ms};

use self::TruthValue::{Float, Int, Money};
use super::{LineClass, Simulation};

/// A value of one truth column.
#[derive(Debug, Clone, PartialEq)]
pub enum TruthValue {
    /// An `Int64` column.
    Int(i64),
    /// A `Float64` column; `None` is NULL.
    Float(Option<f64>),
    /// A `decimal128(18,4)` money column; `None` is NULL.
    Money(Option<Decimal4>),
}

type Row = BTreeMap<&'static str, TruthValue>;

/// The expected rows of the rollup tables.
#[derive(Debug, Clone, Default)]
pub struct PeriodTruths {
    /// stream_daily: (stream_id, region, "YYYY-MM-DD") -> column name -> value. region is a real region (no ALL rows in daily).
    pub daily: BTreeMap<(String, String, String), BTreeMap<&'static str, TruthValue>>,
    /// show_summary: (stream_id, region or "ALL") -> columns (also "show_start"/"show_end" as Int epoch ms).
    pub show: BTreeMap<(String, String), BTreeMap<&'static str, TruthValue>>,
    /// show_sources: (stream_id, source) -> columns.
    pub sources: BTreeMap<(String, String), BTreeMap<&'static str, TruthValue>>,
}

type Ev = Event<'static>;

/// A bot session of the simulator's fake-viewer spike: `{stream_id}-b{nnnnn}`.
fn is_bot(e: &Ev) -> bool {
    e.session_id.strip_prefix(&*e.stream_id).is_some_and(|rest| rest.starts_with("-b"))
}

fn is_player(e: &Ev) -> bool {
    e.kind().family() == Family::Player
}

fn date(ts_ms: i64) -> String {
    rfc3339_ms(ts_ms)[..10].to_string()
}

/// `n ÷ d`, NULL when `d` is 0.
fn ratio(n: f64, d: f64) -> Option<f64> {
    (d != 0.0).then(|| n / d)
}

/// A derived money value rounded half away from zero to 4 decimals.
fn money(x: Option<f64>) -> Option<Decimal4> {
    x.map(|v| Decimal4((v * 1e4).round() as i128))
}

/// Exact percentile with linear interpolation at position (n − 1)·q (numpy default,
/// `percentile_cont`); `values` sorted.
fn percentile(values: &[i64], q: f64) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let pos = last as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(values[lo] as f64 + (values[hi] - values[lo]) as f64 * (pos - lo as f64))
}

fn mean(values: &[f64]) -> Option<f64> {
    ratio(values.iter().sum(), values.len() as f64)
}

/// A real session's end: its (latest) `session_end`, else its last player event; and whether
/// it had a `stall_start`/`stall_end` in the 60 s up to that end or after it (within the 60 s
/// session timeout, docs/metrics.md).
fn session_ends(events: &[Ev]) -> HashMap<&str, (&Ev, bool)> {
    let mut by_session: HashMap<&str, Vec<&Ev>> = HashMap::new();
    for e in events.iter().filter(|e| is_player(e) && !is_bot(e)) {
        by_session.entry(&e.session_id).or_default().push(e);
    }
    by_session
        .into_iter()
        .map(|(sid, evs)| {
            let ends = evs.iter().filter(|e| e.kind() == EventKind::SessionEnd).max_by_key(|e| e.ts_ms);
            let end = *ends.or_else(|| evs.iter().max_by_key(|e| e.ts_ms)).expect("a session has events");
            let stalled = evs.iter().any(|e| {
                matches!(e.kind(), EventKind::StallStart | EventKind::StallEnd)
                    && e.ts_ms >= end.ts_ms - 60_000
                    && e.ts_ms <= end.ts_ms + 60_000
            });
            (sid, (end, stalled))
        })
        .collect()
}

/// Every `PERIOD_METRICS` column over the events of `stream` for which `in_p` holds. `cap_s` is
/// the show's duration in seconds; `ends` the real sessions' ends.
fn period(events: &[Ev], in_p: impl Fn(&Ev) -> bool, cap_s: f64, ends: &HashMap<&str, (&Ev, bool)>) -> Row {
    let mut raw: BTreeSet<&str> = BTreeSet::new();
    let mut suspects: BTreeSet<&str> = BTreeSet::new();
    let mut minutes: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
    let mut watch_ms: HashMap<&str, i64> = HashMap::new(); // per viewer; keys = viewers
    let mut per_session: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new(); // play, stall, stalls
    let (mut play, mut stall, mut stall_count) = (0i64, 0i64, 0i64);
    let (mut started, mut framed, mut fatal, mut stalled) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let (mut startup, mut latency, mut startup_scores) = (Vec::new(), Vec::new(), Vec::new());
    let (mut comments, mut likes, mut gifts, mut shares, mut follows) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let (mut clicks, mut carts, mut orders, mut units) = (0i64, 0i64, 0i64, 0i64);
    let (mut gift_usd, mut gmv) = (Decimal4::ZERO, Decimal4::ZERO);
    let (mut engaged, mut buyers) = (BTreeSet::new(), BTreeSet::new());
    // Per viewer: times of first_frame, product_click, add_to_cart, order.
    let mut funnel: HashMap<&str, [Vec<i64>; 4]> = HashMap::new();

    for e in events.iter().filter(|e| in_p(e)) {
        let (sid, vid) = (&*e.session_id, &*e.viewer_id);
        let active = minutes.entry(e.ts_ms.div_euclid(60_000)).or_default();
        if is_player(e) {
            raw.insert(sid);
            if is_bot(e) {
                suspects.insert(sid);
                continue;
            }
            active.insert(sid);
            watch_ms.entry(vid).or_default();
            per_session.entry(sid).or_default();
        } else if is_bot(e) {
            continue;
        }
        let mut step = |i: usize| funnel.entry(vid).or_default()[i].push(e.ts_ms);
        match &e.payload {
            Payload::SessionStart => {
                started.insert(sid);
            }
            Payload::FirstFrame { startup_ms } => {
                framed.insert(sid);
                startup.push(*startup_ms);
                startup_scores.push(100.0 * 8.0 / (8.0 + *startup_ms as f64 / 1000.0));
                step(0);
            }
            Payload::Heartbeat { play_ms, latency_ms, .. } => {
                play += play_ms;
                *watch_ms.entry(vid).or_default() += play_ms;
                per_session.entry(sid).or_default().0 += play_ms;
                latency.extend(latency_ms);
            }
            Payload::StallEnd { stall_ms } => {
                stall += stall_ms;
                stall_count += 1;
                *watch_ms.entry(vid).or_default() += stall_ms;
                let s = per_session.entry(sid).or_default();
                s.1 += stall_ms;
                s.2 += 1;
                stalled.insert(sid);
            }
            Payload::Error { fatal: true, .. } => {
                fatal.insert(sid);
            }
            Payload::Comment { .. } => comments += 1,
            Payload::Like { count } => likes += count,
            Payload::Gift { value_usd, .. } => {
                gifts += 1;
                gift_usd.0 += value_usd.0;
            }
            Payload::Share => shares += 1,
            Payload::Follow => follows += 1,
            Payload::ProductClick { .. } => {
                clicks += 1;
                step(1);
            }
            Payload::AddToCart { .. } => {
                carts += 1;
                step(2);
            }
            Payload::Order { quantity, amount_usd, .. } => {
                orders += 1;
                units += quantity;
                gmv.0 += amount_usd.0;
                buyers.insert(vid);
                step(3);
            }
            _ => {}
        }
        if matches!(
            e.kind(),
            EventKind::Comment | EventKind::Like | EventKind::Gift | EventKind::Share | EventKind::Follow
        ) {
            engaged.insert(vid);
        }
    }

    let sessions = per_session.len() as f64;
    let viewers = watch_ms.len() as f64;
    let active: Vec<usize> = minutes.values().map(BTreeSet::len).collect();
    let (play_s, stall_s) = (play as f64 / 1000.0, stall as f64 / 1000.0);
    let capped: f64 = watch_ms.values().map(|ms| (*ms as f64 / 1000.0).min(cap_s)).sum();
    startup.sort_unstable();
    latency.sort_unstable();
    let fast = startup.iter().filter(|ms| **ms <= 1000).count() as f64;
    let ebvs = started.iter().filter(|s| !framed.contains(*s) && !fatal.contains(*s)).count() as f64;
    let (mut exits, mut exits_after_stall) = (0i64, 0i64);
    for (_, after_stall) in ends.values().filter(|(end, _)| in_p(end)) {
        exits += 1;
        exits_after_stall += *after_stall as i64;
    }
    let (mut f_viewers, mut f_clicked, mut f_carted, mut f_ordered) = (0i64, 0i64, 0i64, 0i64);
    for [ff, cl, ca, or] in funnel.values() {
        let first_at = |ts: &[i64], from: i64| ts.iter().copied().filter(|t| *t >= from).min();
        let Some(f) = ff.iter().copied().min() else { continue };
        f_viewers += 1;
        let Some(c) = first_at(cl, f) else { continue };
        f_clicked += 1;
        let Some(a) = first_at(ca, c) else { continue };
        f_carted += 1;
        f_ordered += first_at(or, a).is_some() as i64;
    }
    let smooth: Vec<f64> = framed
        .iter()
        .filter_map(|s| {
            let (p, st, c) = per_session.get(s).copied().unwrap_or_default();
            let share = ratio(st as f64, (p + st) as f64)?;
            Some((100.0 / (1.0 + (c as f64 / 2.0).powi(2)).sqrt() + 100.0 * (-10.0 * share).exp()) / 2.0)
        })
        .collect();
    let gmv_f = gmv.to_f64();
    let n_stalled = stalled.len() as f64;
    let excess = (sessions > 0.0).then(|| (exits_after_stall as f64 - n_stalled * exits as f64 / sessions).max(0.0));

    let cols: [(&'static str, TruthValue); 50] = [
        ("sessions", Int(per_session.len() as i64)),
        ("sessions_raw", Int(raw.len() as i64)),
        ("suspect_sessions", Int(suspects.len() as i64)),
        ("viewers", Int(watch_ms.len() as i64)),
        ("peak_concurrent", Int(active.iter().max().copied().unwrap_or(0) as i64)),
        ("avg_concurrent", Float(ratio(active.iter().sum::<usize>() as f64, active.len() as f64))),
        ("watch_seconds", Float(Some(play_s + stall_s))),
        ("play_seconds", Float(Some(play_s))),
        ("stall_seconds", Float(Some(stall_s))),
        ("stall_count", Int(stall_count)),
        ("stall_ratio", Float(ratio(stall_s, play_s + stall_s))),
        ("stalls_per_minute", Float(ratio(stall_count as f64, (play_s + stall_s) / 60.0))),
        ("avg_watch_seconds", Float(ratio(capped, viewers))),
        ("stalled_session_pct", Float(ratio(n_stalled, framed.len() as f64))),
        ("startup_ms_p50", Float(percentile(&startup, 0.50))),
        ("startup_ms_p95", Float(percentile(&startup, 0.95))),
        ("fast_start_pct", Float(ratio(fast, startup.len() as f64))),
        ("ebvs_pct", Float(ratio(ebvs, started.len() as f64))),
        ("failure_pct", Float(ratio(fatal.len() as f64, sessions))),
        ("latency_ms_p50", Float(percentile(&latency, 0.50))),
        ("latency_ms_p95", Float(percentile(&latency, 0.95))),
        ("latency_ms_p99", Float(percentile(&latency, 0.99))),
        ("exits", Int(exits)),
        ("exits_after_stall", Int(exits_after_stall)),
        ("comments", Int(comments)),
        ("likes", Int(likes)),
        ("gifts", Int(gifts)),
        ("gift_value_usd", Money(Some(gift_usd))),
        ("shares", Int(shares)),
        ("follows", Int(follows)),
        ("engaged_viewers", Int(engaged.len() as i64)),
        ("funnel_viewers", Int(f_viewers)),
        ("funnel_clicked", Int(f_clicked)),
        ("funnel_carted", Int(f_carted)),
        ("funnel_ordered", Int(f_ordered)),
        ("product_clicks", Int(clicks)),
        ("add_to_carts", Int(carts)),
        ("orders", Int(orders)),
        ("units", Int(units)),
        ("gmv_usd", Money(Some(gmv))),
        ("buyers", Int(buyers.len() as i64)),
        ("aov_usd", Money(money(ratio(gmv_f, orders as f64)))),
        ("ctr", Float(ratio(f_clicked as f64, f_viewers as f64))),
        ("click_to_order", Float(ratio(f_ordered as f64, f_clicked as f64))),
        ("gpm_usd", Money(money(ratio(gmv_f, sessions).map(|g| g * 1000.0)))),
        ("sessions_stalled", Int(stalled.len() as i64)),
        ("stall_exit_excess", Float(excess)),
        ("lost_gmv_usd_est", Money(money(excess.map(|x| x * gmv_f / sessions)))),
        ("smoothness_score", Float(mean(&smooth))),
        ("startup_score", Float(mean(&startup_scores))),
    ];
    cols.into_iter().collect()
}

/// The expected `stream_daily`, `show_summary` and `show_sources` rows of `sim`, from its valid
/// (first-delivery) events.
pub fn period_truth(sim: &Simulation) -> PeriodTruths {
    let decoder = Decoder::default();
    let mut by_stream: BTreeMap<String, Vec<Ev>> = BTreeMap::new();
    for line in sim.lines.iter().filter(|l| l.class == LineClass::Valid) {
        let e = decoder.decode(&line.bytes, i64::MAX).expect("a valid line decodes").into_owned();
        by_stream.entry(e.stream_id.to_string()).or_default().push(e);
    }
    let mut out = PeriodTruths::default();
    for (stream, events) in &by_stream {
        let start = events.iter().map(|e| e.ts_ms).min().unwrap_or(0);
        let end = events.iter().map(|e| e.ts_ms).max().unwrap_or(0);
        let cap_s = (end - start) as f64 / 1000.0;
        let ends = session_ends(events);

        let days: BTreeSet<(String, String)> = events.iter().map(|e| (e.region.to_string(), date(e.ts_ms))).collect();
        for (region, day) in days {
            let row = period(events, |e| *e.region == *region && date(e.ts_ms) == day, cap_s, &ends);
            out.daily.insert((stream.clone(), region, day), row);
        }
        let regions: BTreeSet<&str> = events.iter().map(|e| &*e.region).collect();
        for region in regions.into_iter().chain(["ALL"]) {
            let mut row = period(events, |e| region == "ALL" || *e.region == *region, cap_s, &ends);
            row.insert("show_start", Int(start));
            row.insert("show_end", Int(end));
            out.show.insert((stream.clone(), region.to_string()), row);
        }

        let mut source_of: HashMap<&str, &str> = HashMap::new();
        for e in events.iter().filter(|e| e.kind() == EventKind::SessionStart) {
            source_of.entry(&e.session_id).or_insert_with(|| e.source.as_deref().unwrap_or("unknown"));
        }
        let src = |e: &Ev| source_of.get(&*e.session_id).copied().unwrap_or("unknown");
        let sources: BTreeSet<&str> = events.iter().filter(|e| is_player(e) && !is_bot(e)).map(src).collect();
        for source in sources {
            let row = period(events, |e| !is_bot(e) && src(e) == source, cap_s, &ends);
            let row = livelake_schemas::SOURCE_METRICS.iter().map(|m| (*m, row[m].clone())).collect();
            out.sources.insert((stream.clone(), source.to_string()), row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use livelake_schemas::{PERIOD_METRICS, SOURCE_METRICS};

    use super::super::{SimConfig, simulate};
    use super::*;

    fn sim() -> Simulation {
        simulate(
            &SimConfig { viewers: 200, duration_min: 20, ..SimConfig::new(5) }.with_default_pitches().fit_incidents(),
        )
    }

    #[test]
    fn every_column_is_filled() {
        let t = period_truth(&sim());
        assert!(!t.daily.is_empty() && !t.show.is_empty() && !t.sources.is_empty());
        for row in t.daily.values().chain(t.show.values()) {
            assert!(PERIOD_METRICS.iter().all(|m| row.contains_key(m)), "{row:?}");
        }
        assert!(t.show.values().all(|r| r.contains_key("show_start") && r.contains_key("show_end")));
        for row in t.sources.values() {
            assert_eq!(row.len(), SOURCE_METRICS.len());
            assert!(SOURCE_METRICS.iter().all(|m| row.contains_key(m)), "{row:?}");
        }
        assert!(t.daily.keys().all(|k| k.1 != "ALL"));
    }

    #[test]
    fn totals_agree_with_the_simulator_truth() {
        let sim = sim();
        let t = period_truth(&sim);
        let totals = &sim.truth.totals;
        let gmv = Money(Some(Decimal4::parse(&totals.gmv_usd).unwrap()));
        let stream = sim.streams[0].clone();
        let all = &t.show[&(stream.clone(), "ALL".to_string())];
        assert_eq!(all["orders"], Int(totals.orders as i64));
        assert!(totals.orders > 0);
        assert_eq!(all["gmv_usd"], gmv);
        assert_eq!(all["sessions"], Int(totals.sessions as i64));
        assert_eq!(all["exits"], Int(totals.sessions as i64), "every real session exits once");
        assert_eq!(all["suspect_sessions"], Int(totals.fake_sessions as i64));
        let sum = |rows: &mut dyn Iterator<Item = &Row>, col: &str| {
            rows.map(|r| match r[col] {
                Int(n) => n,
                _ => panic!("{col} is not Int"),
            })
            .sum::<i64>()
        };
        assert_eq!(sum(&mut t.daily.values(), "orders"), totals.orders as i64);
        assert_eq!(sum(&mut t.sources.values(), "orders"), totals.orders as i64);
        assert_eq!(sum(&mut t.sources.values(), "sessions"), totals.sessions as i64);
        let regional = t.show.iter().filter(|(k, _)| k.1 != "ALL").map(|(_, r)| r);
        assert_eq!(sum(&mut regional.clone(), "exits"), totals.sessions as i64);
        // Play time matches the per-minute truth.
        let play_ms: i64 = sim.truth.minutes.iter().map(|m| m.play_ms).sum();
        assert_eq!(all["play_seconds"], Float(Some(play_ms as f64 / 1000.0)));
        let Float(Some(ratio)) = all["stall_ratio"] else { panic!("stall_ratio") };
        assert!(ratio > 0.0 && ratio < 0.5);
    }
}
