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
//!
//! The files the lake writes take most of their statistics from their own Parquet footer
//! ([`FileStats::from_footer`]): the writer computes every column chunk's null count and exact
//! min/max anyway (string statistics are not truncated: `parquet.rs`), so they are not computed
//! a second time. Only the columns whose footer bounds differ from ours are counted here as they
//! are written ([`computed_here`]): floats (Parquet skips NaN, where we give no bounds) and
//! decimals wider than 18 digits (stored as fixed-length bytes).

use std::fmt::Write as _;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{max, max_boolean, max_string, min, min_boolean, min_string};
use arrow::datatypes::{
    DataType, Decimal128Type, Float64Type, Int32Type, Int64Type, Schema, TimeUnit, TimestampMillisecondType,
};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;

/// The `stats` JSON of a file holding `batch`.
pub fn file_stats(batch: &RecordBatch) -> String {
    let mut s = FileStats::default();
    s.add(batch);
    s.json()
}

/// The statistics of a file written batch by batch: [`FileStats::add`] each batch, then
/// [`FileStats::json`] — the same JSON as [`file_stats`] of all the rows at once.
#[derive(Debug, Default)]
pub struct FileStats {
    rows: usize,
    /// Per column: name, null count (`None`: unknown), bounds (`None`: none yet; `Some(None)`:
    /// none possible).
    columns: Vec<(String, Option<usize>, Option<Option<Bounds>>)>,
}

impl FileStats {
    /// Count `batch`'s rows in (same columns as every earlier batch).
    pub fn add(&mut self, batch: &RecordBatch) {
        if self.columns.is_empty() {
            self.columns = batch.schema().fields().iter().map(|f| (f.name().clone(), Some(0), None)).collect();
        }
        self.rows += batch.num_rows();
        for ((_, nulls, bounds), col) in self.columns.iter_mut().zip(batch.columns()) {
            *nulls = nulls.map(|n| n + col.null_count());
            if col.null_count() == col.len() {
                continue;
            }
            *bounds = Bounds::fold(bounds.take(), Bounds::of(col));
        }
    }

    /// The statistics of a Parquet file of `schema` (flat: one leaf column per field) from its
    /// footer `meta`, with the columns [`computed_here`] taken from `here` (the [`FileStats`] of
    /// those columns of the file's rows, added as they were written). The same as
    /// [`FileStats::add`] of all the rows; a column whose footer has no statistics gets none.
    pub fn from_footer(schema: &Schema, meta: &ParquetMetaData, here: &FileStats) -> FileStats {
        let rows = meta.file_metadata().num_rows().max(0) as usize;
        let columns = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(j, field)| {
                let name = field.name();
                if computed_here(field.data_type()) {
                    let own = here.columns.iter().find(|(n, ..)| n == name);
                    return own.cloned().unwrap_or_else(|| (name.clone(), Some(0), None));
                }
                let mut nulls = 0;
                let mut bounds = None;
                for rg in meta.row_groups() {
                    let chunk = rg.columns().get(j).filter(|c| c.column_path().string() == *name);
                    let stats = chunk.and_then(|c| c.statistics());
                    let Some((stats, chunk_nulls)) = stats.and_then(|s| Some((s, s.null_count_opt()?))) else {
                        return (name.clone(), None, Some(None));
                    };
                    nulls += chunk_nulls as usize;
                    if chunk_nulls as i64 == rg.num_rows() {
                        continue;
                    }
                    bounds = Bounds::fold(bounds, Bounds::of_footer(field.data_type(), stats));
                }
                (name.clone(), Some(nulls), bounds)
            })
            .collect();
        FileStats { rows, columns }
    }

    /// The `stats` JSON.
    pub fn json(&self) -> String {
        let mut mins = Vec::new();
        let mut maxs = Vec::new();
        let mut nulls = Vec::new();
        for (name, n, bounds) in &self.columns {
            let name = serde_json::to_string(name).expect("a string serialises");
            if let Some(n) = n {
                nulls.push(format!("{name}:{n}"));
            }
            if let Some((lo, hi)) = bounds.as_ref().and_then(|b| b.as_ref()).and_then(Bounds::json) {
                mins.push(format!("{name}:{lo}"));
                maxs.push(format!("{name}:{hi}"));
            }
        }
        let mut out = String::new();
        write!(
            out,
            r#"{{"numRecords":{},"minValues":{{{}}},"maxValues":{{{}}},"nullCount":{{{}}}}}"#,
            self.rows,
            mins.join(","),
            maxs.join(","),
            nulls.join(",")
        )
        .expect("writing to a String");
        out
    }
}

/// Whether a column of type `t` has its bounds computed from its values as the file is written,
/// rather than read from the Parquet footer ([`FileStats::from_footer`]).
pub fn computed_here(t: &DataType) -> bool {
    matches!(t, DataType::Float64) || matches!(t, DataType::Decimal128(p, _) if *p > 18)
}

/// A column's minimum and maximum, typed.
#[derive(Debug, Clone, PartialEq)]
enum Bounds {
    Str(String, String),
    Bool(bool, bool),
    Int(i64, i64),
    Float(f64, f64),
    Decimal(i128, i128, i8),
    Time(i64, i64),
}

impl Bounds {
    /// The bounds of the non-null values of `col`; `None` when there are none, when there is no
    /// order (NaN), or when its type has no statistics here.
    fn of(col: &ArrayRef) -> Option<Bounds> {
        Some(match col.data_type() {
            DataType::Utf8 => {
                let a = col.as_string::<i32>();
                Bounds::Str(min_string(a)?.to_string(), max_string(a)?.to_string())
            }
            DataType::Boolean => {
                let a = col.as_boolean();
                Bounds::Bool(min_boolean(a)?, max_boolean(a)?)
            }
            DataType::Int32 => {
                let a = col.as_primitive::<Int32Type>();
                Bounds::Int(min(a)?.into(), max(a)?.into())
            }
            DataType::Int64 => {
                let a = col.as_primitive::<Int64Type>();
                Bounds::Int(min(a)?, max(a)?)
            }
            DataType::Float64 => {
                let a = col.as_primitive::<Float64Type>();
                if a.iter().flatten().any(f64::is_nan) {
                    return None;
                }
                // −0 and +0 compare equal, and either may come out of `min`/`max`: a bound of
                // zero is written 0.0 whichever the rows (or the batches) hold.
                let zero_is_plus = |v: f64| if v == 0.0 { 0.0 } else { v };
                Bounds::Float(zero_is_plus(min(a)?), zero_is_plus(max(a)?))
            }
            DataType::Decimal128(_, scale) => {
                let a = col.as_primitive::<Decimal128Type>();
                Bounds::Decimal(min(a)?, max(a)?, *scale)
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let a = col.as_primitive::<TimestampMillisecondType>();
                Bounds::Time(min(a)?, max(a)?)
            }
            _ => return None,
        })
    }

    /// The bounds in a column chunk's Parquet statistics `s` of a column of type `t`, the same
    /// as [`Bounds::of`] its values; `None` when they are not exact or the type is not one read
    /// from the footer.
    fn of_footer(t: &DataType, s: &Statistics) -> Option<Bounds> {
        if !(s.min_is_exact() && s.max_is_exact()) {
            return None;
        }
        Some(match (t, s) {
            (DataType::Utf8, Statistics::ByteArray(v)) => {
                let text = |b: &parquet::data_type::ByteArray| std::str::from_utf8(b.data()).ok().map(str::to_string);
                Bounds::Str(text(v.min_opt()?)?, text(v.max_opt()?)?)
            }
            (DataType::Boolean, Statistics::Boolean(v)) => Bounds::Bool(*v.min_opt()?, *v.max_opt()?),
            (DataType::Int32, Statistics::Int32(v)) => Bounds::Int((*v.min_opt()?).into(), (*v.max_opt()?).into()),
            (DataType::Int64, Statistics::Int64(v)) => Bounds::Int(*v.min_opt()?, *v.max_opt()?),
            (DataType::Timestamp(TimeUnit::Millisecond, _), Statistics::Int64(v)) => {
                Bounds::Time(*v.min_opt()?, *v.max_opt()?)
            }
            (DataType::Decimal128(_, scale), Statistics::Int32(v)) => {
                Bounds::Decimal((*v.min_opt()?).into(), (*v.max_opt()?).into(), *scale)
            }
            (DataType::Decimal128(_, scale), Statistics::Int64(v)) => {
                Bounds::Decimal((*v.min_opt()?).into(), (*v.max_opt()?).into(), *scale)
            }
            _ => return None,
        })
    }

    /// A column's bounds so far (`None`: none yet; `Some(None)`: none possible) with those of
    /// more of its rows that hold a non-null value (`None`: they have no bounds).
    fn fold(acc: Option<Option<Bounds>>, more: Option<Bounds>) -> Option<Option<Bounds>> {
        match (acc, more) {
            (None, b) => Some(b),
            (Some(Some(a)), Some(b)) => Some(Some(a.merge(b))),
            _ => Some(None),
        }
    }

    /// The bounds of both (of one column: the same variant).
    fn merge(self, other: Bounds) -> Bounds {
        use Bounds::*;
        match (self, other) {
            (Str(a, b), Str(c, d)) => Str(a.min(c), b.max(d)),
            (Bool(a, b), Bool(c, d)) => Bool(a.min(c), b.max(d)),
            (Int(a, b), Int(c, d)) => Int(a.min(c), b.max(d)),
            (Float(a, b), Float(c, d)) => Float(a.min(c), b.max(d)),
            (Decimal(a, b, s), Decimal(c, d, _)) => Decimal(a.min(c), b.max(d), s),
            (Time(a, b), Time(c, d)) => Time(a.min(c), b.max(d)),
            (a, _) => a,
        }
    }

    /// As JSON values; `None` when one has no JSON form (an infinite float, a time out of range).
    fn json(&self) -> Option<(String, String)> {
        let json_str = |s: &str| serde_json::to_string(s).expect("a string serialises");
        Some(match self {
            Bounds::Str(lo, hi) => (json_str(lo), json_str(hi)),
            Bounds::Bool(lo, hi) => (lo.to_string(), hi.to_string()),
            Bounds::Int(lo, hi) => (lo.to_string(), hi.to_string()),
            // JSON has no infinities (serde_json would write `null`): no statistics then.
            Bounds::Float(lo, hi) if !(lo.is_finite() && hi.is_finite()) => return None,
            Bounds::Float(lo, hi) => (serde_json::to_string(lo).ok()?, serde_json::to_string(hi).ok()?),
            Bounds::Decimal(lo, hi, scale) => (decimal(*lo, *scale), decimal(*hi, *scale)),
            Bounds::Time(lo, hi) => (json_str(&timestamp(*lo)?), json_str(&timestamp(*hi)?)),
        })
    }
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
        BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray, TimestampMillisecondArray,
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
    fn stats_of_batches_equal_stats_of_their_rows_at_once() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("nan", DataType::Float64, true),
        ]));
        let batch = |s: Vec<Option<&str>>, n: Vec<Option<i64>>, f: Vec<Option<f64>>| {
            let cols: Vec<ArrayRef> =
                vec![Arc::new(StringArray::from(s)), Arc::new(Int64Array::from(n)), Arc::new(Float64Array::from(f))];
            RecordBatch::try_new(schema.clone(), cols).unwrap()
        };
        let a = batch(vec![Some("m"), None], vec![None, None], vec![Some(1.0), None]);
        let b = batch(vec![Some("z"), Some("a")], vec![Some(5), Some(-2)], vec![Some(f64::NAN), Some(0.5)]);
        let mut s = FileStats::default();
        s.add(&a);
        s.add(&b);
        let all = arrow::compute::concat_batches(&schema, [&a, &b]).unwrap();
        assert_eq!(s.json(), file_stats(&all));
        let v: Value = serde_json::from_str(&s.json()).unwrap();
        assert_eq!((v["minValues"]["s"].clone(), v["maxValues"]["n"].clone()), (json!("a"), json!(5)));
        assert!(v["minValues"].get("nan").is_none(), "a NaN in a later batch: no bounds");
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
