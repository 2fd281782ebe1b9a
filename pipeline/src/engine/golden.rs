//! Golden tests of the window SQL: each folder of `jobs/golden/` holds hand-written events
//! (`events.ndjson`) and the `stream_minute` rows worked out by hand (`stream_minute.csv`, with
//! the reasoning in its README). The events run through the engine twice — windows closed all at
//! once at the end, and closed one by one as the watermark passes them — and both times the
//! columns the CSV names must match (floats to 1e-9 relative, percentiles to 1e-6, decimals
//! exactly, `NULL` for NULL).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::util::display::array_value_to_string;
use livelake_schemas::{Decimal4, Decoder};

use super::*;

const WALL: i64 = 1_795_780_800_000;

async fn run_case(dir: &Path, incremental: bool) -> Vec<RecordBatch> {
    let mut e = Engine::new(EngineConfig::default(), Decoder::default(), Arc::new(Metrics::default()));
    e.set_ready();
    let part = PartId { topic: Arc::from("golden"), partition: 0 };
    let text = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
    for (i, line) in text.lines().enumerate() {
        let out =
            e.process(Msg { part: &part, offset: i as i64 + 1, payload: line.as_bytes(), timestamp_ms: None }, WALL);
        assert!(!matches!(out, Outcome::Rejected(_)), "{}: line {} rejected: {out:?}", dir.display(), i + 1);
        if incremental {
            e.finalize(WALL).await.unwrap();
        }
    }
    e.exhaust(&part);
    e.finalize(WALL).await.unwrap();
    e.take_pending().minute
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
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("events.ndjson").exists() {
            continue;
        }
        cases += 1;
        let expected = std::fs::read_to_string(dir.join("stream_minute.csv")).unwrap();
        let mut lines = expected.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let want: Vec<BTreeMap<&str, &str>> =
            lines.map(|l| header.iter().copied().zip(l.split(',')).collect()).collect();
        for incremental in [false, true] {
            let how = if incremental { "closed one by one" } else { "closed at the end" };
            let batches = run_case(&dir, incremental).await;
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
    assert!(cases >= 3, "golden cases found under {}", root.display());
}
