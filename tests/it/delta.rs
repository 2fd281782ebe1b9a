//! The Delta store of the lake against a real S3-compatible server (s3proxy 4.1.0, started by
//! `make test` through `infra/s3.sh`, reached through the conventional `AWS_*` variables): files
//! and application transactions in one commit, read back through the log; two writers racing to
//! the same table version both land (the commit file is created with `If-None-Match`, the loser
//! retries on top), unless they claim the same application transaction.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{AsArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use datafusion::prelude::SessionContext;
use livelake_jobs::store::delta::{
    Action, DeltaTable, LakeUrl, PartitionRows, append_operation, commit, open_or_create, open_table, provider,
    txn_version, write_files,
};
use livelake_jobs::store::split_by_partition;
use livelake_schemas::Table;

use crate::support::unique;

const T0: i64 = 1_795_780_800_000; // 2026-11-27T12:00:00Z

/// A lake under a fresh prefix of the test bucket. Fails loudly when the S3 server is missing.
pub fn s3_lake(tag: &str) -> LakeUrl {
    let bucket = std::env::var("LIVELAKE_S3_BUCKET").unwrap_or_else(|_| {
        panic!("LIVELAKE_S3_BUCKET is not set: run `make test`, which starts s3proxy with infra/s3.sh")
    });
    LakeUrl::parse(&format!("s3://{bucket}/{}", unique(tag)), HashMap::new()).unwrap()
}

/// Dead-letter rows (small, with a region): (region, received_at, offset).
fn dead_rows(rows: &[(&str, i64, i64)]) -> RecordBatch {
    let n = rows.len();
    let schema = Table::Deadletter.schema();
    let cols: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1)).with_timezone("UTC")),
        Arc::new(StringArray::from(vec!["t"; n])),
        Arc::new(Int32Array::from(vec![0; n])),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        Arc::new(StringArray::from(vec!["bad_json"; n])),
        Arc::new(arrow::array::BinaryArray::from_iter_values(rows.iter().map(|_| b"{".as_slice()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
    ];
    let mut fields: Vec<arrow::datatypes::FieldRef> = schema.fields().iter().cloned().collect();
    fields.push(Arc::new(arrow::datatypes::Field::new("region", arrow::datatypes::DataType::Utf8, false)));
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols).unwrap()
}

fn partitions(batch: &RecordBatch) -> Vec<PartitionRows> {
    let t = Table::Deadletter;
    split_by_partition(t, std::slice::from_ref(batch))
        .unwrap()
        .into_iter()
        .map(|(dir, b)| PartitionRows::new(t, &dir, b))
        .collect()
}

async fn total(lake: &LakeUrl) -> (i64, i64) {
    let t = Table::Deadletter;
    let dt = open_table(lake, t).await.unwrap().expect("a table");
    let ctx = SessionContext::new();
    ctx.register_table("d", provider(&dt, t, &ctx).unwrap()).unwrap();
    let b = ctx.sql("select count(*), sum(src_offset) from d").await.unwrap().collect().await.unwrap();
    let n = b[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0);
    let s = b[0].column(1).as_primitive::<arrow::datatypes::Int64Type>().value(0);
    (n, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_commits_on_s3_carry_files_and_txns_and_racing_writers_both_land() {
    let t = Table::Deadletter;
    let lake = s3_lake("delta-store");
    assert!(open_table(&lake, t).await.unwrap().is_none());
    let mut dt = open_or_create(&lake, t).await.unwrap();
    let rows = dead_rows(&[("EU", T0 + 5, 1), ("SEA", T0 + 3_600_000, 2)]);
    let adds = write_files(&dt, partitions(&rows), |i| format!("part-1-{i}.parquet"), T0).await.unwrap();
    let actions = adds.into_iter().map(Action::Add).collect();
    commit(&mut dt, t, actions, &[("app/p0".into(), 2)], append_operation(t), HashMap::new()).await.unwrap();
    let again = open_table(&lake, t).await.unwrap().unwrap();
    assert_eq!(txn_version(&again, t, "app/p0").await.unwrap(), Some(2));
    assert_eq!(total(&lake).await, (2, 3));

    // Two writers loaded at the same version commit at once: both land, one on top of the other.
    let (a, b) = (open_table(&lake, t).await.unwrap().unwrap(), open_table(&lake, t).await.unwrap().unwrap());
    let (va, vb) =
        tokio::join!(append(a, ("EU", T0 + 6, 10), "a", "app/p1", 1), append(b, ("EU", T0 + 7, 20), "b", "app/p2", 1));
    let mut versions = vec![va.unwrap(), vb.unwrap()];
    versions.sort();
    assert_eq!(versions, vec![2, 3], "one commit retried on top of the other");
    assert_eq!(total(&lake).await, (4, 33));

    // Two writers claiming the same application transaction: only one lands.
    let (a, b) = (open_table(&lake, t).await.unwrap().unwrap(), open_table(&lake, t).await.unwrap().unwrap());
    let (ra, rb) = tokio::join!(
        append(a, ("EU", T0 + 8, 100), "c", "app/p0", 3),
        append(b, ("EU", T0 + 9, 200), "d", "app/p0", 3)
    );
    assert!(ra.is_ok() != rb.is_ok(), "exactly one lands: {ra:?} / {rb:?}");
    let err = ra.err().or(rb.err()).unwrap().to_string();
    assert!(err.contains("delta table deadletter: committing"), "{err}");
    let (n, sum) = total(&lake).await;
    assert_eq!(n, 5);
    assert!(sum == 133 || sum == 233, "{sum}");
}

/// Append one dead-letter row as file `name` with txn (`app`, `version`); the new table version.
async fn append(
    mut dt: DeltaTable,
    row: (&str, i64, i64),
    name: &str,
    app: &str,
    version: i64,
) -> livelake_jobs::Result<u64> {
    let t = Table::Deadletter;
    let adds = write_files(&dt, partitions(&dead_rows(&[row])), |_| format!("{name}.parquet"), T0).await?;
    let actions = adds.into_iter().map(Action::Add).collect();
    commit(&mut dt, t, actions, &[(app.to_string(), version)], append_operation(t), HashMap::new()).await
}

/// The lake's commit protocol between two runs on one S3 lake: a run that takes a slot over
/// (completes its latest commit and claims it) fences the run that held it before, which can
/// never commit it again — its rows never reach a table — nor keep it across a rebalance, while
/// the slots nobody took stay its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_a_slot_to_another_can_no_longer_commit_it() {
    use livelake_pipeline::engine::{Checkpoint, PartCheckpoint, PartId};
    use livelake_pipeline::sink::{Lake, SlotCommit, slot_app};
    let lake = s3_lake("fence");
    let slot = |slot: i32, row: (&str, i64, i64), next_offset: i64| SlotCommit {
        slot,
        batches: vec![(Table::Deadletter, dead_rows(&[row]))],
        checkpoint: Checkpoint {
            partitions: vec![PartCheckpoint {
                part: PartId { topic: Arc::from("t"), partition: slot },
                next_offset,
                max_ts: T0,
                replay_from: next_offset,
                replay_max_ts: T0,
            }],
            ..Checkpoint::default()
        },
    };
    let mut a = Lake::open(&lake, T0).await.unwrap();
    assert!(a.take(0, T0).await.unwrap().is_none(), "a new lake");
    let recs = a.commit(vec![slot(0, ("EU", T0, 1), 2)], T0).await.unwrap();
    assert_eq!((recs[0].slot, recs[0].seq), (Some(0), 1));

    // B takes slot 0 over: it resumes from A's commit, claimed as B's record 2.
    let mut b = Lake::open(&lake, T0 + 1).await.unwrap();
    let held = b.take(0, T0 + 1).await.unwrap().expect("A's commit");
    assert_eq!((held.slot, held.seq), (Some(0), 2));
    assert_eq!(held.checkpoint.partitions[0].next_offset, 2);

    // A goes on as if it still held slot 0: refused in one line, its rows never committed.
    let err = a.commit(vec![slot(0, ("EU", T0 + 1, 10), 11)], T0 + 2).await.unwrap_err().to_string();
    assert!(err.contains("this run has lost it"), "{err}");
    assert!(!err.contains('\n'), "{err}");
    // Nor can A keep slot 0 when the group gives it back: it must take it again.
    assert!(!a.reclaim(0, held.checkpoint.clone(), T0 + 2).await.unwrap());
    // A slot nobody else holds is still A's.
    assert!(a.take(1, T0 + 2).await.unwrap().is_none());
    a.commit(vec![slot(1, ("SEA", T0 + 1, 1000), 1001)], T0 + 2).await.unwrap();
    let recs = b.commit(vec![slot(0, ("EU", T0 + 2, 100), 101)], T0 + 3).await.unwrap();
    assert_eq!(recs[0].seq, 3);
    // B keeps slot 0 across a rebalance that gives it back: no other run committed it.
    assert!(b.reclaim(0, recs[0].checkpoint.clone(), T0 + 3).await.unwrap());
    assert_eq!(total(&lake).await, (3, 1 + 1000 + 100), "A's first row, A's slot-1 row, B's row");
    let dt = open_table(&lake, Table::Deadletter).await.unwrap().unwrap();
    assert_eq!(txn_version(&dt, Table::Deadletter, &slot_app(0)).await.unwrap(), Some(3));
    assert_eq!(txn_version(&dt, Table::Deadletter, &slot_app(1)).await.unwrap(), Some(1));
    assert_eq!(txn_version(&dt, Table::Deadletter, "livelake/t/0").await.unwrap(), Some(101));

    // A run opening the lake now resumes both slots where their last commits left them.
    let mut c = Lake::open(&lake, T0 + 4).await.unwrap();
    assert_eq!(c.slots().await.unwrap(), vec![0, 1]);
    let mut at = Vec::new();
    for s in [0, 1] {
        let r = c.take(s, T0 + 4).await.unwrap().unwrap();
        at.push((r.seq, r.checkpoint.partitions[0].next_offset));
    }
    assert_eq!(at, vec![(5, 101), (2, 1001)]);
}
