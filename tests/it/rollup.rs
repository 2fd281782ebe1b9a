//! Recomputing `stream_minute` from the raw tables (the rollup's first step) with the streaming
//! job's own definitions: without late events it reproduces the streaming rows exactly; with
//! late events it equals the simulator's tally of every event.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, RecordBatch};
use livelake_jobs::rollup::recompute_minutes;
use livelake_jobs::rules::RuleConfig;
use livelake_pipeline::simulate::{SimConfig, Simulation, simulate};
use livelake_schemas::Decimal4;

use crate::lake::{render_row, rows};
use crate::support::{lake_url, ndjson, run_into_lake};
use crate::truth_check::{dec_at, f64_at, i64_at};

fn show_into_lake(sim: &Simulation, dir: &Path) -> std::path::PathBuf {
    let events = dir.join("show.ndjson");
    std::fs::write(&events, ndjson(sim)).unwrap();
    run_into_lake(&events, dir)
}

fn key(r: &BTreeMap<String, String>) -> (String, String, String) {
    (r["stream_id"].clone(), r["region"].clone(), r["window_start"].clone())
}

fn rendered(batches: &[RecordBatch]) -> BTreeMap<(String, String, String), BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let row = render_row(b, i, &[]);
            out.insert(key(&row), row);
        }
    }
    out
}

fn close(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => a == b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_late_events_the_recompute_equals_the_streaming_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig { viewers: 500, duration_min: 30, late_share: 0.0, ..SimConfig::new(41) }
        .with_default_pitches()
        .fit_incidents();
    let sim = simulate(&cfg);
    let lake = show_into_lake(&sim, dir.path());
    let streamed: BTreeMap<_, _> = rows(&lake, "stream_minute", &[])
        .into_iter()
        .map(|mut r| {
            r.retain(|c, _| c != "date" && c != "hour"); // partition columns of the files
            (key(&r), r)
        })
        .collect();
    let again = recompute_minutes(&lake_url(&lake), &sim.streams, RuleConfig::default()).await.unwrap();
    assert_eq!(again.suspects.len(), 400, "every bot of the spike");
    let again = rendered(&again.minute);
    assert_eq!(again.keys().collect::<Vec<_>>(), streamed.keys().collect::<Vec<_>>(), "the same windows");
    for (k, want) in &streamed {
        for (col, v) in want {
            assert!(close(v, &again[k][col]), "{k:?} {col}: streamed {v}, recomputed {}", again[k][col]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_late_events_the_recompute_equals_the_simulators_tally_of_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig { viewers: 500, duration_min: 30, late_share: 0.01, ..SimConfig::new(43) }
        .with_default_pitches()
        .fit_incidents();
    let sim = simulate(&cfg);
    assert!(sim.truth.totals.delayed_late > 50, "late events to fold in");
    let lake = show_into_lake(&sim, dir.path());
    let again = recompute_minutes(&lake_url(&lake), &sim.streams, RuleConfig::default()).await.unwrap();
    let truth: BTreeMap<(String, String, i64), _> =
        sim.truth.minutes.iter().map(|m| ((m.stream_id.clone(), m.region.clone(), m.window_start_ms), m)).collect();
    let mut seen = 0;
    for b in &again.minute {
        let ws = b
            .column_by_name("window_start")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::TimestampMillisecondArray>()
            .unwrap()
            .clone();
        let sid = b
            .column_by_name("stream_id")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap()
            .clone();
        let reg =
            b.column_by_name("region").unwrap().as_any().downcast_ref::<arrow::array::StringArray>().unwrap().clone();
        for i in 0..b.num_rows() {
            seen += 1;
            let k = (sid.value(i).to_string(), reg.value(i).to_string(), ws.value(i));
            let m = truth[&k];
            let ev = |t: &str| m.events.get(t).copied().unwrap_or(0) as i64;
            for (col, want) in [
                ("sessions_active", m.sessions_active as i64),
                ("sessions_active_raw", m.sessions_active_raw as i64),
                ("sessions_started", m.sessions_started as i64),
                ("sessions_started_raw", m.sessions_started_raw as i64),
                ("exits", m.exits as i64),
                ("exits_after_stall", m.exits_after_stall as i64),
                ("orders", m.orders as i64),
                ("units", m.units),
                ("likes", m.likes),
                ("buyers", m.buyers as i64),
                ("comments", ev("comment")),
                ("product_clicks", ev("product_click")),
                ("stall_count", ev("stall_end")),
            ] {
                assert_eq!(i64_at(b, col, i), want, "{k:?} {col}");
            }
            assert_eq!(dec_at(b, "gmv_usd", i), Decimal4::parse(&m.gmv_usd).unwrap(), "{k:?} gmv_usd");
            assert!((f64_at(b, "play_seconds", i).unwrap() - m.play_ms as f64 / 1000.0).abs() < 1e-6, "{k:?} play");
            assert!((f64_at(b, "stall_seconds", i).unwrap() - m.stall_ms as f64 / 1000.0).abs() < 1e-6, "{k:?} stall");
        }
    }
    assert_eq!(seen, truth.len(), "a row for every stream × region × minute with an event");
}
