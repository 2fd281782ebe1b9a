//! Per-file statistics as the Delta log records them in each `add` action (docs/lake.md, "Delta
//! Lake"): the row count, and for every column of the file its null count and, where it has a
//! non-null value, its minimum and maximum. Engines skip files with them (a filter on
//! `stream_id` or a time range reads only the files that can hold matching rows), and some
//! readers need every column's min/max to trust them at all.
//!
//! Values are written as the Delta protocol spells them: strings as JSON strings, integers and
//! decimals as JSON numbers written exactly (a decimal's digits, never through a float),
//! timestamps as ISO 8601 UTC with milliseconds. A float column that holds NaN gets no min/max
//! (no order holds for it), which readers treat as "may hold anything".

use std::fmt::Write as _;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{max, max_boolean, max_string, min, min_boolean, min_string};
use arrow::datatypes::{
    DataType, Decimal128Type, Float64Type, Int32Type, Int64Type, TimeUnit, TimestampMillisecondType,
};

/// The `stats` JSON of a file holding `batch`.
pub fn file_stats(batch: &RecordBatch) -> String {
    let mut mins = Vec::new();
    let mut maxs = Vec::new();
    let mut nulls = Vec::new();
    for (field, col) in batch.schema().fields().iter().zip(batch.columns()) {
        let name = serde_json::to_string(field.name()).expect("a string serialises");
        nulls.push(format!("{name}:{}", col.null_count()));
        if let Some((lo, hi)) = min_max(col) {
            mins.push(format!("{name}:{lo}"));
            maxs.push(format!("{name}:{hi}"));
        }
    }
    let mut out = String::new();
    write!(
        out,
        r#"{{"numRecords":{},"minValues":{{{}}},"maxValues":{{{}}},"nullCount":{{{}}}}}"#,
        batch.num_rows(),
        mins.join(","),
        maxs.join(","),
        nulls.join(",")
    )
    .expect("writing to a String");
    out
}

/// The column's minimum and maximum as JSON values; `None` when it has no non-null value or no
/// order (NaN), or its type has no statistics here.
fn min_max(col: &ArrayRef) -> Option<(String, String)> {
    if col.null_count() == col.len() {
        return None;
    }
    let json_str = |s: &str| serde_json::to_string(s).expect("a string serialises");
    Some(match col.data_type() {
        DataType::Utf8 => {
            let a = col.as_string::<i32>();
            (json_str(min_string(a)?), json_str(max_string(a)?))
        }
        DataType::Boolean => {
            let a = col.as_boolean();
            (min_boolean(a)?.to_string(), max_boolean(a)?.to_string())
        }
        DataType::Int32 => {
            let a = col.as_primitive::<Int32Type>();
            (min(a)?.to_string(), max(a)?.to_string())
        }
        DataType::Int64 => {
            let a = col.as_primitive::<Int64Type>();
            (min(a)?.to_string(), max(a)?.to_string())
        }
        DataType::Float64 => {
            let a = col.as_primitive::<Float64Type>();
            if a.iter().flatten().any(f64::is_nan) {
                return None;
            }
            let (lo, hi) = (min(a)?, max(a)?);
            // serde_json refuses infinities: no statistics then.
            (serde_json::to_string(&lo).ok()?, serde_json::to_string(&hi).ok()?)
        }
        DataType::Decimal128(_, scale) => {
            let a = col.as_primitive::<Decimal128Type>();
            (decimal(min(a)?, *scale), decimal(max(a)?, *scale))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let a = col.as_primitive::<TimestampMillisecondType>();
            (json_str(&timestamp(min(a)?)?), json_str(&timestamp(max(a)?)?))
        }
        _ => return None,
    })
}

/// The decimal of unscaled value `v` with `scale` digits after the point, exactly (`-12.5000`).
fn decimal(v: i128, scale: i8) -> String {
    if scale <= 0 {
        return (v * 10i128.pow(u32::from(scale.unsigned_abs()))).to_string();
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

/// Milliseconds since the epoch as `2026-11-27T15:04:05.123Z`.
fn timestamp(ms: i64) -> Option<String> {
    Some(chrono::DateTime::from_timestamp_millis(ms)?.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, Decimal128Array, Float64Array, Int32Array, StringArray, TimestampMillisecondArray,
    };
    use arrow::datatypes::{Field, Schema};
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn every_column_gets_its_null_count_and_exact_bounds() {
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("n", DataType::Int32, true),
            Field::new("f", DataType::Float64, true),
            Field::new("d", DataType::Decimal128(18, 4), true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
            Field::new("b", DataType::Boolean, true),
            Field::new("none", DataType::Utf8, true),
            Field::new("nan", DataType::Float64, true),
        ]);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("b\"q"), None, Some("a")])),
            Arc::new(Int32Array::from(vec![Some(7), Some(-3), None])),
            Arc::new(Float64Array::from(vec![Some(0.1), Some(2.5), Some(-0.25)])),
            Arc::new(
                Decimal128Array::from(vec![Some(-5), Some(123_456), Some(10_000_000_000_000_001)])
                    .with_precision_and_scale(18, 4)
                    .unwrap(),
            ),
            Arc::new(
                TimestampMillisecondArray::from(vec![1_795_264_800_123, 1_795_264_800_000, 1_795_264_860_001])
                    .with_timezone("UTC"),
            ),
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(true)])),
            Arc::new(StringArray::from(vec![None::<&str>, None, None])),
            Arc::new(Float64Array::from(vec![Some(1.0), Some(f64::NAN), None])),
        ];
        let batch = RecordBatch::try_new(Arc::new(schema), cols).unwrap();
        let stats: Value = serde_json::from_str(&file_stats(&batch)).unwrap();
        assert_eq!(stats["numRecords"], 3);
        assert_eq!(stats["nullCount"], json!({"s": 1, "n": 1, "f": 0, "d": 0, "t": 0, "b": 1, "none": 3, "nan": 1}));
        assert_eq!(
            stats["minValues"],
            json!({"s": "a", "n": -3, "f": -0.25, "d": -0.0005, "t": "2026-11-21T12:40:00.000Z", "b": true})
        );
        assert_eq!(stats["maxValues"]["s"], "b\"q");
        assert_eq!(stats["maxValues"]["n"], 7);
        assert_eq!(stats["maxValues"]["f"], 2.5);
        assert_eq!(stats["maxValues"]["t"], "2026-11-21T12:41:00.001Z");
        assert_eq!(stats["maxValues"]["b"], true);
        // Exact digits, never through a float (this one has more digits than an f64 holds).
        assert!(file_stats(&batch).contains(r#""d":1000000000000.0001"#), "{}", file_stats(&batch));
        assert!(file_stats(&batch).contains(r#""d":-0.0005"#));
        assert!(stats["maxValues"].get("none").is_none() && stats["maxValues"].get("nan").is_none());
    }

    #[test]
    fn decimals_are_written_with_their_scale() {
        assert_eq!(decimal(125_000, 4), "12.5000");
        assert_eq!(decimal(-1, 4), "-0.0001");
        assert_eq!(decimal(0, 2), "0.00");
        assert_eq!(decimal(42, 0), "42");
        assert_eq!(decimal(42, -2), "4200");
    }
}
