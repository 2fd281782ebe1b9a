//! Hold a lake against the simulator's ground truth: raw row counts per region × minute × type,
//! dead letters per reason, and every `stream_minute` column the window job computes, per
//! region × minute, against the simulator's own tally of on-time events.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Decimal128Type, Float64Type, Int64Type, TimestampMillisecondType};
use livelake_pipeline::simulate::Truth;
use livelake_schemas::Decimal4;

use crate::lake::{count_rows, read_table};

pub fn i64_at(b: &RecordBatch, col: &str, i: usize) -> i64 {
    b.column_by_name(col).unwrap_or_else(|| panic!("no {col}")).as_primitive::<Int64Type>().value(i)
}

pub fn f64_at(b: &RecordBatch, col: &str, i: usize) -> Option<f64> {
    let a = b.column_by_name(col).unwrap().as_primitive::<Float64Type>();
    (!a.is_null(i)).then(|| a.value(i))
}

pub fn dec_at(b: &RecordBatch, col: &str, i: usize) -> Decimal4 {
    Decimal4(b.column_by_name(col).unwrap().as_primitive::<Decimal128Type>().value(i))
}

/// Rows per (region, minute start, type) of a raw table.
fn raw_counts(lake: &Path, table: &str) -> BTreeMap<(String, i64, String), u64> {
    let mut out = BTreeMap::new();
    for f in read_table(lake, table) {
        let region = f.partition["region"].clone();
        for b in &f.batches {
            let ts = b.column_by_name("ts").unwrap().as_primitive::<TimestampMillisecondType>();
            let ty = b.column_by_name("type").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                let minute = ts.value(i).div_euclid(60_000) * 60_000;
                *out.entry((region.clone(), minute, ty.value(i).to_string())).or_default() += 1;
            }
        }
    }
    out
}

/// Assert that `x` is a `q`-quantile of `sorted` within 1% rank error (METRICS.md): it lies
/// between the values at ranks (q − 0.01)·(n − 1) and (q + 0.01)·(n − 1).
pub fn assert_within_rank_error(x: f64, q: f64, sorted: &[i64], what: &str) {
    let n = sorted.len();
    let last = (n - 1) as f64;
    let lo = sorted[((q - 0.01).max(0.0) * last).floor() as usize] as f64;
    let hi = sorted[((q + 0.01).min(1.0) * last).ceil() as usize] as f64;
    let slack = 1e-6 * x.abs().max(1.0); // percentile_cont's float rounding
    assert!(x >= lo - slack && x <= hi + slack, "{what}: {x} is not within 1% rank of q={q} ({lo}..{hi}, n={n})");
}

/// Assert the lake holds exactly what the simulator generated.
pub fn assert_lake_matches_truth(lake: &Path, truth: &Truth) {
    let t = &truth.totals;
    assert_eq!(count_rows(lake, "player_events"), t.player_events, "player_events rows");
    assert_eq!(count_rows(lake, "commerce_events"), t.commerce_events, "commerce_events rows");

    // Dead letters: one per malformed message, with the reason the simulator meant.
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for f in read_table(lake, "deadletter") {
        for b in &f.batches {
            let r = b.column_by_name("reason").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                *reasons.entry(r.value(i).to_string()).or_default() += 1;
            }
        }
    }
    assert_eq!(reasons, t.malformed, "dead letters by reason");

    // Raw rows per region × minute × type, late deliveries included.
    let mut want: BTreeMap<(String, i64, String), u64> = BTreeMap::new();
    for m in &truth.minutes {
        for (ty, n) in &m.events_raw {
            *want.entry((m.region.clone(), m.window_start_ms, ty.to_string())).or_default() += *n;
        }
    }
    let mut got = raw_counts(lake, "player_events");
    got.extend(raw_counts(lake, "commerce_events"));
    assert_eq!(got.len(), want.len(), "raw region × minute × type cells");
    for (k, n) in &want {
        assert_eq!(got.get(k), Some(n), "raw rows at {k:?}");
    }

    // stream_minute: one row per (stream, region, window) with an on-time event.
    let mut seen = 0;
    let by_key: BTreeMap<(String, String, i64), &livelake_pipeline::simulate::MinuteTruth> = truth
        .minutes
        .iter()
        .filter(|m| !m.window.events.is_empty())
        .map(|m| ((m.stream_id.clone(), m.region.clone(), m.window_start_ms), m))
        .collect();
    for f in read_table(lake, "stream_minute") {
        let region = f.partition["region"].clone();
        for b in &f.batches {
            let ws = b.column_by_name("window_start").unwrap().as_primitive::<TimestampMillisecondType>();
            let we = b.column_by_name("window_end").unwrap().as_primitive::<TimestampMillisecondType>();
            let sid = b.column_by_name("stream_id").unwrap().as_string::<i32>();
            for i in 0..b.num_rows() {
                seen += 1;
                let key = (sid.value(i).to_string(), region.clone(), ws.value(i));
                let m = by_key.get(&key).unwrap_or_else(|| panic!("stream_minute row without on-time events: {key:?}"));
                let raw = &m.window;
                let w = &m.window_clean;
                let at = format!("{key:?}");
                assert_eq!(we.value(i) - ws.value(i), 60_000, "{at}");
                let ev = |ty: &str| w.events.get(ty).copied().unwrap_or(0) as i64;
                for (col, want) in [
                    ("sessions_active_raw", raw.sessions_active),
                    ("sessions_started_raw", raw.sessions_started),
                    ("sessions_active", w.sessions_active),
                    ("sessions_started", w.sessions_started),
                    ("exits", w.exits),
                    ("exits_after_stall", w.exits_after_stall),
                    ("stall_count", w.stall_count),
                    ("sessions_stalled", w.sessions_stalled),
                    ("fatal_errors", w.fatal_errors),
                    ("buyers", w.buyers),
                ] {
                    assert_eq!(i64_at(b, col, i), want as i64, "{at} {col}");
                }
                for (col, ty) in [
                    ("comments", "comment"),
                    ("gifts", "gift"),
                    ("shares", "share"),
                    ("follows", "follow"),
                    ("product_clicks", "product_click"),
                    ("add_to_carts", "add_to_cart"),
                    ("orders", "order"),
                ] {
                    assert_eq!(i64_at(b, col, i), ev(ty), "{at} {col}");
                }
                assert_eq!(i64_at(b, "likes", i), w.likes, "{at} likes");
                assert_eq!(i64_at(b, "units", i), w.units, "{at} units");
                assert_eq!(dec_at(b, "gmv_usd", i), Decimal4::parse(&w.gmv_usd).unwrap(), "{at} gmv_usd");
                assert_eq!(
                    dec_at(b, "gift_value_usd", i),
                    Decimal4::parse(&w.gift_value_usd).unwrap(),
                    "{at} gifts usd"
                );
                let play = w.play_ms as f64 / 1000.0;
                let stall = w.stall_ms as f64 / 1000.0;
                assert!((f64_at(b, "play_seconds", i).unwrap() - play).abs() < 1e-6, "{at} play_seconds");
                assert!((f64_at(b, "stall_seconds", i).unwrap() - stall).abs() < 1e-6, "{at} stall_seconds");
                let watch = play + stall;
                let ratio = (watch > 0.0).then(|| stall / watch);
                let per_minute = (watch > 0.0).then(|| w.stall_count as f64 / (watch / 60.0));
                for (col, want) in [
                    ("stall_ratio", ratio),
                    ("stalls_per_minute", per_minute),
                    ("bitrate_kbps_avg", w.bitrate_kbps_avg),
                ] {
                    match (f64_at(b, col, i), want) {
                        (Some(g), Some(x)) => {
                            assert!((g - x).abs() <= 1e-9 * x.abs().max(1.0), "{at} {col}: {g} vs {x}")
                        }
                        (g, x) => assert_eq!(g, x, "{at} {col}: NULL exactly when the denominator is empty"),
                    }
                }
                for (col, q, values) in [
                    ("startup_ms_p50", 0.5, &w.startup_ms),
                    ("startup_ms_p95", 0.95, &w.startup_ms),
                    ("latency_ms_p50", 0.5, &w.latency_ms),
                    ("latency_ms_p95", 0.95, &w.latency_ms),
                    ("latency_ms_p99", 0.99, &w.latency_ms),
                ] {
                    let got = f64_at(b, col, i);
                    assert_eq!(got.is_some(), !values.is_empty(), "{at} {col}: NULL exactly when there are no values");
                    if let Some(x) = got {
                        assert_within_rank_error(x, q, values, &format!("{at} {col}"));
                    }
                }
            }
        }
    }
    assert_eq!(seen, by_key.len(), "one stream_minute row per window with on-time events");
}
