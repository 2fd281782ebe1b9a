//! The Delta store on local disk: tables created on first use, files + txn in one commit, txn
//! versions read back, uncommitted files invisible, partition pruning through the log. (The same
//! against a real S3-compatible server is in the end-to-end tests, `tests/it/delta.rs`.)

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use datafusion::prelude::SessionContext;
use livelake_schemas::Table;

use super::*;
use crate::store::split_by_partition;

const T0: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

/// `stream_minute`-shaped rows are wide; `deadletter` rows are small and have a region: use them.
fn dead_rows(rows: &[(&str, i64, i64)]) -> RecordBatch {
    let n = rows.len();
    let schema = Table::Deadletter.schema();
    let mut cols: Vec<arrow::array::ArrayRef> = Vec::new();
    for f in schema.fields() {
        cols.push(match f.name().as_str() {
            "received_at" => {
                Arc::new(TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC"))
            }
            "topic" => Arc::new(StringArray::from(vec!["t"; n])),
            "src_partition" => Arc::new(arrow::array::Int32Array::from(vec![0; n])),
            "src_offset" => Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            "reason" => Arc::new(StringArray::from(vec!["bad_json"; n])),
            "payload" => Arc::new(arrow::array::BinaryArray::from_iter_values(rows.iter().map(|_| b"{".as_slice()))),
            other => panic!("unexpected column {other}"),
        });
    }
    let mut fields: Vec<arrow::datatypes::FieldRef> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(arrow::datatypes::Field::new("region", arrow::datatypes::DataType::Utf8, false)));
    cols.push(Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))));
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols).unwrap()
}

fn partitions(table: Table, batch: &RecordBatch) -> Vec<PartitionRows> {
    split_by_partition(table, std::slice::from_ref(batch))
        .unwrap()
        .into_iter()
        .map(|(dir, b)| PartitionRows::new(table, &dir, b))
        .collect()
}

#[test]
fn rows_split_into_their_region_hour_partitions_each_sorted() {
    // Rows in a scrambled order over three regions and three hours (a region never seen as a
    // path lands in INVALID), with ties on the receive time.
    let regions = ["SEA", "EU", "../x", "NA"];
    let rows: Vec<(&str, i64, i64)> = (0..500i64)
        .map(|i| {
            let k = (i * 7919) % 500;
            (regions[(k % 4) as usize], T0 + (k % 3) * 3_600_000 + (k % 11) * 1_000, 1_000 - i)
        })
        .collect();
    // The rows in one batch, and the same rows in batches of uneven sizes (an empty one too),
    // as a commit gets them staged.
    let whole = split_by_partition(Table::Deadletter, &[dead_rows(&rows)]).unwrap();
    let pieces: Vec<RecordBatch> = [0, 1, 1, 37, 200, 500].windows(2).map(|w| dead_rows(&rows[w[0]..w[1]])).collect();
    let parts = split_by_partition(Table::Deadletter, &pieces).unwrap();
    assert_eq!(parts, whole, "one batch or several: the same partitions");
    // The expectation, computed apart: rows grouped by (region, hour) in that order, each group
    // sorted by (received_at, src_offset).
    type Group<'a> = ((&'a str, i64), Vec<(i64, i64)>);
    let mut expected: Vec<Group> = Vec::new();
    let mut sorted = rows.clone();
    sorted.sort_by_key(|r| (r.0, r.1.div_euclid(3_600_000), r.1, r.2));
    for (region, ts, offset) in sorted {
        let key = (region, ts.div_euclid(3_600_000));
        match expected.last_mut() {
            Some((k, v)) if *k == key => v.push((ts, offset)),
            _ => expected.push((key, vec![(ts, offset)])),
        }
    }
    assert_eq!(parts.len(), expected.len());
    for ((dir, b), ((region, hour), want)) in parts.iter().zip(&expected) {
        assert_eq!(*dir, crate::store::partition_dir(Table::Deadletter, region, hour * 3_600_000));
        assert_eq!(b.schema(), Table::Deadletter.schema(), "file columns only");
        let ts = b.column_by_name("received_at").unwrap().as_primitive::<arrow::datatypes::TimestampMillisecondType>();
        let off = b.column_by_name("src_offset").unwrap().as_primitive::<arrow::datatypes::Int64Type>();
        let got: Vec<(i64, i64)> = (0..b.num_rows()).map(|i| (ts.value(i), off.value(i))).collect();
        assert_eq!(&got, want, "{}", dir.display());
    }
    assert!(split_by_partition(Table::Deadletter, &[dead_rows(&[])]).unwrap().is_empty());
}

async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let b = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    b[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_and_txns_commit_together_and_only_committed_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeUrl::parse(dir.path().join("lake").to_str().unwrap(), HashMap::new()).unwrap();
    let t = Table::Deadletter;
    assert!(open_table(&lake, t).await.unwrap().is_none(), "no table before the first commit");
    let mut dt = open_or_create(&lake, t).await.unwrap();
    assert_eq!(dt.version(), Some(0));
    assert!(dir.path().join("lake/deadletter/_delta_log/00000000000000000000.json").exists());

    // Commit 1: three rows in two partitions (EU 12:xx, SEA 13:xx), with two txns.
    let rows = dead_rows(&[("EU", T0 + 5, 1), ("EU", T0 + 9, 2), ("SEA", T0 + 3_600_000, 3)]);
    let adds = write_files(&dt, partitions(t, &rows), |i| format!("part-1-{i}.parquet"), T0).await.unwrap();
    assert_eq!(adds.len(), 2);
    let eu = adds.iter().find(|a| a.path.starts_with("region=EU/")).unwrap();
    assert_eq!(eu.path, "region=EU/date=2026-11-27/hour=12/part-1-0.parquet");
    assert_eq!(eu.partition_values["hour"].as_deref(), Some("12"));
    assert_eq!(eu.partition_values["date"].as_deref(), Some("2026-11-27"));
    let stats: serde_json::Value = serde_json::from_str(eu.stats.as_deref().unwrap()).unwrap();
    assert_eq!(stats["numRecords"], 2);
    let txns = [("livelake/topic-a/0".to_string(), 3), ("livelake/topic-a/1".to_string(), 0)];
    let info = HashMap::from([("livelake.seq".to_string(), serde_json::json!(1))]);
    let v = commit(&mut dt, t, adds.into_iter().map(Action::Add).collect(), &txns, append_operation(t), info)
        .await
        .unwrap();
    assert_eq!(v, 1);

    // A file written but never committed (a crash between the two) is not part of the table.
    let stray = dead_rows(&[("EU", T0 + 7, 99)]);
    write_files(&dt, partitions(t, &stray), |_| "part-stray.parquet".to_string(), T0).await.unwrap();
    assert!(dir.path().join("lake/deadletter/region=EU/date=2026-11-27/hour=12/part-stray.parquet").exists());

    // Read back from a fresh load: txns, files, rows.
    let dt2 = open_table(&lake, t).await.unwrap().unwrap();
    assert_eq!(dt2.version(), Some(1));
    assert_eq!(txn_version(&dt2, t, "livelake/topic-a/0").await.unwrap(), Some(3));
    assert_eq!(txn_version(&dt2, t, "livelake/topic-a/1").await.unwrap(), Some(0));
    assert_eq!(txn_version(&dt2, t, "livelake/topic-b/0").await.unwrap(), None);
    assert_eq!(dt2.snapshot().unwrap().log_data().num_files(), 2);
    let ctx = SessionContext::new();
    ctx.register_table("deadletter", provider(&dt2, t, &ctx).unwrap()).unwrap();
    assert_eq!(count(&ctx, "select count(*) from deadletter").await, 3, "the stray file is not read");
    assert_eq!(count(&ctx, "select count(*) from deadletter where region = 'EU' and hour = 12").await, 2);
    assert_eq!(count(&ctx, "select count(*) from deadletter where date = date '2026-11-27'").await, 3);
    assert_eq!(count(&ctx, "select sum(src_offset) from deadletter where region = 'SEA'").await, 3);

    // Commit 2 moves the txn on; the table history keeps both.
    let more = dead_rows(&[("EU", T0 + 11, 4)]);
    let adds = write_files(&dt, partitions(t, &more), |i| format!("part-2-{i}.parquet"), T0).await.unwrap();
    let txns = [("livelake/topic-a/0".to_string(), 5)];
    commit(&mut dt, t, adds.into_iter().map(Action::Add).collect(), &txns, append_operation(t), HashMap::new())
        .await
        .unwrap();
    let dt3 = open_table(&lake, t).await.unwrap().unwrap();
    assert_eq!(txn_version(&dt3, t, "livelake/topic-a/0").await.unwrap(), Some(5));
    assert_eq!(txn_version(&dt3, t, "livelake/topic-a/1").await.unwrap(), Some(0), "untouched txns stay");
    let ctx = SessionContext::new();
    ctx.register_table("deadletter", provider(&dt3, t, &ctx).unwrap()).unwrap();
    assert_eq!(count(&ctx, "select count(*) from deadletter").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_has_a_delta_schema_with_typed_partitions() {
    for t in Table::ALL {
        let s = delta_schema(t).unwrap();
        for l in t.partitioning() {
            assert!(s.field(l.name()).is_some(), "{}: {}", t.name(), l.name());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = LakeUrl::parse(dir.path().to_str().unwrap(), HashMap::new()).unwrap();
    let dt = open_or_create(&lake, Table::StreamMinute).await.unwrap();
    let ctx = SessionContext::new();
    let p = provider(&dt, Table::StreamMinute, &ctx).unwrap();
    assert_eq!(p.schema(), crate::sql_schema(Table::StreamMinute), "SQL sees the lake schema");
    ctx.register_table("m", p).unwrap();
    assert_eq!(count(&ctx, "select count(*) from m where hour = 3").await, 0, "an empty table reads");
}

#[test]
fn lake_urls_are_paths_file_or_s3_and_nothing_else() {
    let l = LakeUrl::parse("/tmp/x/lake", HashMap::new()).unwrap();
    assert_eq!(l.root().as_str(), "file:///tmp/x/lake/");
    assert_eq!(l.table_url(Table::PlayerEvents).as_str(), "file:///tmp/x/lake/player_events/");
    assert_eq!(l.local_dir().unwrap(), std::path::PathBuf::from("/tmp/x/lake"));
    let s = LakeUrl::parse("s3://bucket/some/prefix", HashMap::new()).unwrap();
    assert_eq!(s.table_url(Table::Shows).as_str(), "s3://bucket/some/prefix/shows/");
    assert!(s.local_dir().is_none());
    for bad in ["http://x/y", "s3:///nobucket", "gs://b/p"] {
        let e = LakeUrl::parse(bad, HashMap::new()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("config: --lake {bad}: ")), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

/// Rows of every column type the lake has, from a seed: strings short and long (past Parquet's
/// default truncation at 64 bytes, differing only after it, multi-byte), integers, timestamps,
/// decimals narrow and wide, booleans, floats with NaN, ±0 and infinities, nulls, a column of
/// nulls only.
fn stats_rows(seed: u64, n: usize) -> RecordBatch {
    use arrow::array::{ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let long = "x".repeat(70);
    let strings: Vec<String> = vec![
        String::new(),
        "a".into(),
        "show-1".into(),
        format!("{long}b"),
        format!("{long}a"),
        "é".repeat(40),
        "ß".into(),
    ];
    let floats = [0.5, -0.0, 0.0, 2.25, f64::NAN, f64::INFINITY, -1e300];
    let (mut s, mut i32s, mut i64s, mut ts, mut d9, mut d18, mut d38, mut b, mut f, mut none) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let r = next();
        let null = |k: u32| (r >> k).is_multiple_of(5);
        s.push((!null(1)).then(|| strings[(r >> 8) as usize % strings.len()].clone()));
        i32s.push((!null(4)).then_some((r >> 16) as i32));
        i64s.push((!null(7)).then_some((r >> 3) as i64 % 1_000 - 500));
        ts.push(T0 + (r >> 20) as i64 % 7_200_000);
        d9.push((!null(10)).then_some(i128::from((r >> 24) as i32 % 10_000_000)));
        d18.push((!null(13)).then_some(i128::from((r >> 5) as i64 % 100_000_000_000_000_000)));
        d38.push((!null(16)).then_some(i128::from(r) * 1_000_000_000_007 * if r % 3 == 0 { -1 } else { 1 }));
        b.push((!null(19)).then_some(r % 7 < 3));
        // NaN only now and then, so that some files have float bounds.
        f.push((!null(22)).then_some(floats[(r >> 40) as usize % floats.len()]).filter(|v| !v.is_nan() || r % 9 == 0));
        none.push(None::<&str>);
    }
    let decimal = |v: Vec<Option<i128>>, p: u8| -> ArrayRef {
        Arc::new(Decimal128Array::from(v).with_precision_and_scale(p, 4).unwrap())
    };
    let ts_type = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    let fields = vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("i32", DataType::Int32, true),
        Field::new("i64", DataType::Int64, true),
        Field::new("ts", ts_type, false),
        Field::new("d9", DataType::Decimal128(9, 4), true),
        Field::new("d18", DataType::Decimal128(18, 4), true),
        Field::new("d38", DataType::Decimal128(38, 4), true),
        Field::new("b", DataType::Boolean, true),
        Field::new("f", DataType::Float64, true),
        Field::new("none", DataType::Utf8, true),
    ];
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(s)),
        Arc::new(Int32Array::from(i32s)),
        Arc::new(Int64Array::from(i64s)),
        Arc::new(TimestampMillisecondArray::from(ts).with_timezone("UTC")),
        decimal(d9, 9),
        decimal(d18, 18),
        decimal(d38, 38),
        Arc::new(BooleanArray::from(b)),
        Arc::new(Float64Array::from(f)),
        Arc::new(StringArray::from(none)),
    ];
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The `add` statistics a written file gets (most columns read from its Parquet footer) are
    /// the statistics of its rows computed from the values (`file_stats`), whatever the rows,
    /// the row groups and the batches they were written in; and the file holds the rows.
    #[test]
    fn file_statistics_from_the_footer_equal_those_of_the_rows(
        seed in proptest::prelude::any::<u64>(),
        n in 0usize..400,
        group in 1usize..150,
        cuts in proptest::collection::vec(0usize..400, 0..4),
    ) {
        let rows = stats_rows(seed, n);
        let props = super::super::writer_properties().into_builder().set_max_row_group_row_count(Some(group)).build();
        let mut w = FileWriter::new("", "f.parquet", HashMap::new(), rows.schema(), props).unwrap();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(n)).chain([0, n]).collect();
        cuts.sort_unstable();
        for pair in cuts.windows(2) {
            w.write(&rows.slice(pair[0], pair[1] - pair[0])).unwrap();
        }
        let (bytes, stats) = w.encode().unwrap();
        proptest::prop_assert_eq!(&stats, &crate::store::file_stats(&rows));
        let back: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        let back = arrow::compute::concat_batches(&rows.schema(), &back).unwrap();
        proptest::prop_assert_eq!(back, rows);
    }
}
