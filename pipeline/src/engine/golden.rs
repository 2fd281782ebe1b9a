//! Golden tests of the metric rules: each folder of `jobs/golden/` holds hand-written events
//! (`events.ndjson`, and optionally the same events in other on-time arrival orders,
//! `events.<order>.ndjson`) and the `stream_minute` rows worked out by hand (`stream_minute.csv`,
//! with the reasoning in its README). Every events file runs through the streaming engine twice —
//! windows closed all at once at the end, and closed one by one as the watermark passes them —
//! and through the rollup's recomputation from the raw rows; each time the columns the CSV names
//! must match (floats to 1e-9 relative, percentiles to 1e-6, decimals exactly, `NULL` for NULL).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::util::display::array_value_to_string;
use livelake_schemas::{Decimal4, Decoder};

use super::*;

const WALL: i64 = 1_795_780_800_000;

/// How a case's rows are computed.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// Streaming, windows closed at the end.
    AtEnd,
    /// Streaming, windows closed as soon as they are final.
    OneByOne,
    /// The rollup's recomputation from the raw rows the stream wrote.
    Rollup,
}

async fn run_case(events: &Path, how: Route) -> Vec<RecordBatch> {
    let cfg = EngineConfig::default();
    let mut e = Engine::new(cfg, Decoder::default(), Arc::new(Metrics::default()));
    e.set_ready();
    let part = PartId { topic: Arc::from("golden"), partition: 0 };
    let text = std::fs::read_to_string(events).unwrap();
    for (i, line) in text.lines().enumerate() {
        let out =
            e.process(Msg { part: &part, offset: i as i64 + 1, payload: line.as_bytes(), timestamp_ms: None }, WALL);
        assert!(!matches!(out, Outcome::Rejected(_)), "{}: line {} rejected: {out:?}", events.display(), i + 1);
        if matches!(how, Route::OneByOne) {
            e.finalize(WALL).await.unwrap();
        }
    }
    e.exhaust(&part);
    e.finalize(WALL).await.unwrap();
    let mut pending = e.take_pending();
    if !matches!(how, Route::Rollup) {
        return pending.minute.into_iter().map(|(_, b)| b).collect();
    }
    let ctx = datafusion::prelude::SessionContext::new();
    let mut streams = std::collections::BTreeSet::new();
    for (name, batch) in
        [("player_events", pending.player.finish().unwrap()), ("commerce_events", pending.commerce.finish().unwrap())]
    {
        let ids = batch.column_by_name("stream_id").unwrap().as_string::<i32>();
        streams.extend(ids.iter().flatten().map(str::to_string));
        let table = datafusion::datasource::MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table(name, Arc::new(table)).unwrap();
    }
    let streams: Vec<String> = streams.into_iter().collect();
    livelake_jobs::rollup::recompute(&ctx, &streams, cfg.rules()).await.unwrap().minute
}

fn cell(b: &RecordBatch, col: &str, i: usize) -> String {
    let c = b.column_by_name(col).unwrap_or_else(|| panic!("no column {col}"));
    if c.is_null(i) { "NULL".into() } else { array_value_to_string(c, i).unwrap() }
}

fn same(col: &str, want: &str, got: &str) -> bool {
    if want == "NULL" || got == "NULL" {
        return want == got;
    }
    if let (Ok(a), Ok(b)) = (want.parse::<f64>(), got.parse::<f64>()) {
        if col.ends_with("_usd") {
            return Decimal4::parse(want) == Decimal4::parse(got);
        }
        // DataFusion's percentile_cont interpolates with ~1e-7 relative error (3950 → 3949.9995).
        let tolerance = if col.contains("_ms_p") { 1e-6 } else { 1e-9 };
        return (a - b).abs() <= tolerance * a.abs().max(1.0);
    }
    want == got
}

#[tokio::test]
async fn golden_cases_match_their_hand_worked_rows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobs/golden");
    let mut cases = 0;
    let mut orders = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("events.ndjson").exists() {
            continue;
        }
        cases += 1;
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name().unwrap().to_string_lossy().starts_with("events.") && p.extension().unwrap() == "ndjson"
            })
            .collect();
        files.sort();
        orders += files.len() - 1;
        let expected = std::fs::read_to_string(dir.join("stream_minute.csv")).unwrap();
        let mut lines = expected.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let want: Vec<BTreeMap<&str, &str>> =
            lines.map(|l| header.iter().copied().zip(l.split(',')).collect()).collect();
        for (file, path) in files.iter().flat_map(|f| [Route::AtEnd, Route::OneByOne, Route::Rollup].map(|p| (f, p))) {
            let how = format!("{}, {path:?}", file.file_name().unwrap().to_string_lossy());
            let batches = run_case(file, path).await;
            let mut got: Vec<BTreeMap<&str, String>> = Vec::new();
            for b in &batches {
                for i in 0..b.num_rows() {
                    got.push(header.iter().map(|c| (*c, cell(b, c, i))).collect());
                }
            }
            got.sort_by(|a, b| {
                (&a["stream_id"], &a["region"], &a["window_start"]).cmp(&(
                    &b["stream_id"],
                    &b["region"],
                    &b["window_start"],
                ))
            });
            assert_eq!(got.len(), want.len(), "{} ({how}): rows", dir.display());
            for (g, w) in got.iter().zip(&want) {
                for col in &header {
                    assert!(
                        same(col, w[col], &g[col]),
                        "{} ({how}) {} {} {} {col}: want {} got {}",
                        dir.display(),
                        w["stream_id"],
                        w["region"],
                        w["window_start"],
                        w[col],
                        g[col]
                    );
                }
            }
        }
    }
    assert!(cases >= 4, "golden cases found under {}", root.display());
    assert!(orders >= 1, "a golden case in a second arrival order");
}
