//! Recomputing whole shows from the raw tables — the rollup's first step. Every event of the chosen streams,
//! late ones included and duplicates removed, goes through the same session rules as the
//! streaming job (`crate::rules`, every event fresh, in event-time order) and the same SQL
//! (`crate::WindowJob`): one definition of every metric for both paths.

use crate::store::delta::LakeUrl;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use crate::rules::{Observation, Regions, RuleConfig, StreamSessions};
use crate::window::batch_fields;
use crate::{
    ExitRow, KeyedEvents, Suspect, WindowInputs, WindowJob, conform, lake_session, register_lake, run_query,
    window_columns, window_projection, with_windows,
};
use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::compute::interleave_record_batch;
use arrow::datatypes::{Int32Type, Int64Type, Schema, SchemaRef, TimestampMillisecondType};
use datafusion::prelude::SessionContext;
use livelake_schemas::{EventKind, Table};
use std::sync::Arc;

use crate::error::{Error, Result};

/// `ids` as a SQL list of string literals.
pub(crate) fn sql_list(ids: &[String]) -> String {
    ids.iter().map(|s| format!("'{}'", s.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}

/// Rows per batch of [`events`]' output (DataFusion's default batch size).
const OUT_ROWS: usize = 8192;

/// The columns of `table` the recompute reads: the [`window_columns`] and what tells copies of an
/// event apart (`event_id`, `ingested_at`, `src_partition`, `src_offset`), in file order.
pub(crate) fn read_schema(table: Table) -> SchemaRef {
    const COPIES: [&str; 4] = ["event_id", "ingested_at", "src_partition", "src_offset"];
    let mut keep = window_columns(table);
    keep.extend(COPIES);
    Arc::new(Schema::new(batch_fields(table, &keep)))
}

/// `SELECT` of `schema`'s columns.
pub(crate) fn select_list(schema: &SchemaRef) -> String {
    schema.fields().iter().map(|f| format!("\"{}\"", f.name())).collect::<Vec<_>>().join(", ")
}

/// The raw events of `streams` in `table`, deduplicated by (stream, event_id) — the first
/// ingested wins — sorted by stream and time: their [`window_columns`] with window columns.
async fn events(ctx: &SessionContext, table: Table, streams: &[String], width_ms: i64) -> Result<Vec<RecordBatch>> {
    let sql_err = |e: crate::QueryError| Error::Config(format!("rollup query: {e}"));
    let target = read_schema(table);
    let sql =
        format!("SELECT {} FROM {} WHERE stream_id IN ({})", select_list(&target), table.name(), sql_list(streams));
    let (_, batches) = run_query(ctx, &sql).await.map_err(sql_err)?;
    let batches: Vec<RecordBatch> =
        batches.iter().filter(|b| b.num_rows() > 0).map(|b| conform("rollup", b, &target)).collect::<Result<_>>()?;
    let order = first_copies_by_time(&batches);
    // Only the columns the jobs read are gathered.
    let batches: Vec<RecordBatch> =
        batches.iter().map(|b| window_projection(b, table)).collect::<std::result::Result<_, _>>()?;
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    let chunks: Vec<&[(usize, usize)]> = order.chunks(OUT_ROWS).collect();
    let gather = |part: &[&[(usize, usize)]]| -> Result<Vec<RecordBatch>> {
        part.iter().map(|rows| Ok(with_windows(&interleave_record_batch(&refs, rows)?, width_ms, table)?)).collect()
    };
    // The gathers copy every column of every row: on all cores, each a contiguous share of the
    // chunks (the output keeps the order).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks.len());
    if threads <= 1 {
        return gather(&chunks);
    }
    let share = chunks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = chunks.chunks(share).map(|part| scope.spawn(move || gather(part))).collect();
        let mut out = Vec::with_capacity(chunks.len());
        for part in parts {
            out.extend(part.join().expect("a gather thread does not panic")?);
        }
        Ok(out)
    })
}

/// The first ingested copy of each event of `batches` (conformed raw rows) — the least
/// (`ingested_at`, `src_partition`, `src_offset`) per (`stream_id`, `event_id`) — as (batch, row)
/// in (`stream_id`, `ts`, `event_id`) order. Two sorts of small fixed-size keys: copies of an
/// event meet under the hash of its id (ids are compared only where hashes are equal), then the
/// kept rows are ordered by time (ids are compared only where times are equal).
fn first_copies_by_time(batches: &[RecordBatch]) -> Vec<(usize, usize)> {
    let hasher = ahash::RandomState::with_seeds(7, 11, 13, 17);
    first_copies_by_time_hashed(batches, |id| hasher.hash_one(id))
}

/// [`first_copies_by_time`] with the hash of event ids given (a test makes every id collide).
fn first_copies_by_time_hashed(batches: &[RecordBatch], hash: impl Fn(&str) -> u64) -> Vec<(usize, usize)> {
    struct Cols<'a> {
        stream: &'a StringArray,
        event: &'a StringArray,
        ts: &'a [i64],
        ingested: &'a [i64],
        partition: &'a [i32],
        offset: &'a [i64],
    }
    let cols: Vec<Cols> = batches
        .iter()
        .map(|b| {
            let c = |n: &str| b.column_by_name(n).expect("conformed raw column");
            Cols {
                stream: c("stream_id").as_string::<i32>(),
                event: c("event_id").as_string::<i32>(),
                ts: c("ts").as_primitive::<TimestampMillisecondType>().values(),
                ingested: c("ingested_at").as_primitive::<TimestampMillisecondType>().values(),
                partition: c("src_partition").as_primitive::<Int32Type>().values(),
                offset: c("src_offset").as_primitive::<Int64Type>().values(),
            }
        })
        .collect();
    // Streams by rank (their sorted order): a batch holds few, in runs.
    let names: BTreeSet<&str> = cols.iter().flat_map(|c| c.stream.iter().flatten()).collect();
    let names: Vec<&str> = names.into_iter().collect();
    let rank = |s: &str| names.binary_search(&s).expect("a stream of the batches") as u32;
    let event = |(b, r): (u32, u32)| cols[b as usize].event.value(r as usize);
    let ingested = |(b, r): (u32, u32)| {
        let c = &cols[b as usize];
        (c.ingested[r as usize], c.partition[r as usize], c.offset[r as usize])
    };
    // (stream rank, hash of the event id, batch, row)
    let mut keys: Vec<(u32, u64, u32, u32)> = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for (b, c) in cols.iter().enumerate() {
        let mut last: Option<(&str, u32)> = None;
        for r in 0..c.ts.len() {
            let s = c.stream.value(r);
            let k = match last {
                Some((l, k)) if l == s => k,
                _ => rank(s),
            };
            last = Some((s, k));
            keys.push((k, hash(c.event.value(r)), b as u32, r as u32));
        }
    }
    let keys = sorted_on_all_cores(keys, Ord::cmp);
    // (stream rank, ts, batch, row) of the first copy of each event.
    let mut kept: Vec<(u32, i64, u32, u32)> = Vec::with_capacity(keys.len());
    let mut run: Vec<(u32, u32)> = Vec::new();
    for same in keys.chunk_by(|x, y| x.0 == y.0 && x.1 == y.1) {
        run.clear();
        for &(_, _, b, r) in same {
            // Almost always alone; otherwise a copy of an event seen in this run, or another event.
            match run.iter_mut().find(|k| event(**k) == event((b, r))) {
                Some(k) if ingested((b, r)) < ingested(*k) => *k = (b, r),
                Some(_) => {}
                None => run.push((b, r)),
            }
        }
        kept.extend(run.iter().map(|&(b, r)| (same[0].0, cols[b as usize].ts[r as usize], b, r)));
    }
    drop(keys);
    // (stream_id, event_id) is unique among the kept rows: the order is total.
    let kept = sorted_on_all_cores(kept, |x, y| {
        (x.0, x.1).cmp(&(y.0, y.1)).then_with(|| event((x.2, x.3)).cmp(event((y.2, y.3))))
    });
    kept.into_iter().map(|(_, _, b, r)| (b as usize, r as usize)).collect()
}

/// `v` sorted by `cmp`, a total order (no two elements equal): each core sorts a contiguous
/// share, then the shares are merged.
fn sorted_on_all_cores<T: Copy + Send>(mut v: Vec<T>, cmp: impl Fn(&T, &T) -> Ordering + Sync) -> Vec<T> {
    const SHARE_MIN: usize = 1 << 16;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(v.len() / SHARE_MIN).max(1);
    let share = v.len().div_ceil(threads);
    if threads <= 1 {
        v.sort_unstable_by(&cmp);
        return v;
    }
    std::thread::scope(|scope| {
        for part in v.chunks_mut(share) {
            let cmp = &cmp;
            scope.spawn(move || part.sort_unstable_by(cmp));
        }
    });
    // Sorted runs merged pairwise until one is left.
    let shares: Vec<&[T]> = v.chunks(share).collect();
    let mut runs: Vec<Vec<T>> = shares
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => merged(a, b, &cmp),
            [a] => a.to_vec(),
            _ => unreachable!("chunks of two"),
        })
        .collect();
    drop(v);
    while runs.len() > 1 {
        let mut next = Vec::with_capacity(runs.len().div_ceil(2));
        let mut it = runs.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => merged(&a, &b, &cmp),
                None => a,
            });
        }
        runs = next;
    }
    runs.pop().unwrap_or_default()
}

/// Two sorted runs merged into one.
fn merged<T: Copy>(a: &[T], b: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if cmp(&b[j], &a[i]) == Ordering::Less {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Feed events (sorted by stream, time) to per-stream session state; every event is fresh.
fn observe(
    batches: &[RecordBatch],
    states: &mut BTreeMap<String, StreamSessions>,
    regions: &mut Regions,
    timeout_ms: i64,
) {
    for b in batches {
        let col = |n: &str| b.column_by_name(n).expect("raw column").clone();
        let (stream, session, region, ty) = (col("stream_id"), col("session_id"), col("region"), col("type"));
        let (stream, session, region, ty) =
            (stream.as_string::<i32>(), session.as_string::<i32>(), region.as_string::<i32>(), ty.as_string::<i32>());
        let ts = col("ts");
        let ts = ts.as_primitive::<TimestampMillisecondType>();
        let watch = |name: &str| b.column_by_name(name).map(|c| c.as_primitive::<Int64Type>().clone());
        let (play, stall) = (watch("play_ms"), watch("stall_ms"));
        for i in 0..b.num_rows() {
            let Some(kind) = EventKind::parse(ty.value(i)) else { continue };
            let watch_ms = match kind {
                EventKind::Heartbeat => play.as_ref().filter(|a| a.is_valid(i)).map_or(0, |a| a.value(i)),
                EventKind::StallEnd => stall.as_ref().filter(|a| a.is_valid(i)).map_or(0, |a| a.value(i)),
                _ => 0,
            };
            let state = match states.get_mut(stream.value(i)) {
                Some(s) => s,
                None => states.entry(stream.value(i).to_string()).or_default(),
            };
            let o = Observation {
                session_id: session.value(i),
                kind,
                ts: ts.value(i),
                watch_ms,
                region: regions.id(region.value(i)),
                // Sorted by time: every earlier event of the stream has been seen.
                watermark: ts.value(i) - 1,
            };
            state.observe(o, timeout_ms);
        }
    }
}

/// Whole shows recomputed from the raw tables.
#[derive(Debug)]
pub struct Recomputed {
    /// `stream_minute` rows (with `region`) of every window of the streams.
    pub minute: Vec<RecordBatch>,
    /// The suspect sessions.
    pub suspects: Vec<Suspect>,
    /// The deduplicated player and commerce events (with `region` and window columns), keyed
    /// for the period job.
    pub keyed: KeyedEvents,
    /// Every view's end.
    pub exits: Vec<ExitRow>,
}

/// Recompute `stream_minute` (and the suspects) of `streams` from the lake's raw tables.
pub async fn recompute_minutes(lake: &LakeUrl, streams: &[String], cfg: RuleConfig) -> Result<Recomputed> {
    let ctx = lake_session();
    register_lake(&ctx, lake).await?;
    recompute(&ctx, streams, cfg).await
}

/// Recompute `stream_minute` of `streams` from the `player_events` and `commerce_events` tables
/// registered in `ctx` (the lake's, or any with their columns).
pub async fn recompute(ctx: &SessionContext, streams: &[String], cfg: RuleConfig) -> Result<Recomputed> {
    recompute_with(ctx, streams, cfg, &WindowJob::new().await?).await
}

/// [`recompute`] with a window job planned already (the rollup plans one for all its groups).
pub async fn recompute_with(
    ctx: &SessionContext,
    streams: &[String],
    cfg: RuleConfig,
    window_job: &WindowJob,
) -> Result<Recomputed> {
    let t0 = std::time::Instant::now();
    // The commerce events on a task of their own: their reading overlaps the player events'
    // dedup, whose hashing and merges run on one thread.
    let commerce = {
        let (ctx, streams) = (ctx.clone(), streams.to_vec());
        tokio::spawn(async move { events(&ctx, Table::CommerceEvents, &streams, cfg.width_ms).await })
    };
    let player = match events(ctx, Table::PlayerEvents, streams, cfg.width_ms).await {
        Ok(rows) => rows,
        Err(e) => {
            commerce.abort();
            return Err(e);
        }
    };
    let commerce =
        commerce.await.map_err(|e| Error::Config(format!("rollup: reading the commerce events failed: {e}")))??;
    tracing::debug!(ms = t0.elapsed().as_millis(), "recompute: events read, deduplicated, sorted");
    // The events keyed for both jobs (on two threads) while the session rules run here.
    let (keyed, (mut states, regions)) = std::thread::scope(|scope| {
        let keyed = scope.spawn(|| KeyedEvents::new(&player, &commerce));
        let mut states = BTreeMap::new();
        let mut regions = Regions::default();
        // Player events first, in time order (views end on gaps); commerce events only add to
        // the probes, whose early contributions wait for the start either way.
        observe(&player, &mut states, &mut regions, cfg.session_timeout_ms);
        observe(&commerce, &mut states, &mut regions, cfg.session_timeout_ms);
        (keyed.join().expect("keying events does not panic"), (states, regions))
    });
    let keyed = keyed?;
    // Their string columns the jobs read as views are copies now: the originals go.
    drop((player, commerce));
    let mut inputs = WindowInputs {
        width_ms: cfg.width_ms,
        player: keyed.player.clone(),
        commerce: keyed.commerce.clone(),
        ..Default::default()
    };
    for (id, s) in &mut states {
        let closed = s.close(id, i64::MAX, cfg.session_timeout_ms, &regions);
        inputs.exits.extend(closed.exits);
        inputs.probes.extend(closed.probes);
    }
    let exits = inputs.exits.clone();
    tracing::debug!(ms = t0.elapsed().as_millis(), "recompute: session rules, events keyed");
    let out = window_job.run_keyed(inputs).await?;
    tracing::debug!(ms = t0.elapsed().as_millis(), "recompute: window metrics");
    Ok(Recomputed { minute: out.minute, suspects: out.new_suspects, keyed, exits })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, Int64Array, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, TimeUnit};

    /// A row: stream, event id, ts, ingested_at, src_partition, src_offset.
    type Row = (&'static str, &'static str, i64, i64, i32, i64);

    fn raw(rows: &[Row]) -> RecordBatch {
        let ts = || DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        let schema = Schema::new(vec![
            Field::new("stream_id", DataType::Utf8, false),
            Field::new("event_id", DataType::Utf8, false),
            Field::new("ts", ts(), false),
            Field::new("ingested_at", ts(), false),
            Field::new("src_partition", DataType::Int32, false),
            Field::new("src_offset", DataType::Int64, false),
        ]);
        let time = |v: Vec<i64>| Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC")) as ArrayRef;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            time(rows.iter().map(|r| r.2).collect()),
            time(rows.iter().map(|r| r.3).collect()),
            Arc::new(Int32Array::from(rows.iter().map(|r| r.4).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.5).collect::<Vec<_>>())),
        ];
        RecordBatch::try_new(Arc::new(schema), cols).unwrap()
    }

    /// The expectation written out plainly: per (stream, event), the least (ingested_at,
    /// partition, offset); then sorted by (stream, ts, event).
    fn expected(batches: &[&[Row]]) -> Vec<Row> {
        let mut first: BTreeMap<(&str, &str), Row> = BTreeMap::new();
        for r in batches.iter().flat_map(|b| b.iter()) {
            let e = first.entry((r.0, r.1)).or_insert(*r);
            if (r.3, r.4, r.5) < (e.3, e.4, e.5) {
                *e = *r;
            }
        }
        let mut v: Vec<Row> = first.into_values().collect();
        v.sort_by(|a, b| (a.0, a.2, a.1).cmp(&(b.0, b.2, b.1)));
        v
    }

    #[test]
    fn a_sort_on_all_cores_equals_a_sort_on_one() {
        for n in [0, 1, 5, 1 << 16, (1 << 17) + 1, 300_007] {
            // Distinct pairs (the second is i times an odd number: one-to-one modulo 2^32), many
            // equal first parts.
            let v: Vec<(u32, u32)> =
                (0..n as u32).map(|i| (i.wrapping_mul(2_654_435_761) % 97, i.wrapping_mul(2_246_822_519))).collect();
            let mut want = v.clone();
            want.sort_unstable();
            assert_eq!(sorted_on_all_cores(v.clone(), Ord::cmp), want, "{n} elements");
            let mut want = v.clone();
            want.sort_unstable_by(|a, b| b.cmp(a));
            assert_eq!(sorted_on_all_cores(v, |a, b| b.cmp(a)), want, "{n} elements, descending");
        }
    }

    #[test]
    fn the_first_ingested_copy_of_each_event_is_kept_in_time_order_even_when_every_hash_collides() {
        let a: &[Row] = &[
            ("s2", "e1", 5_000, 100, 0, 7),
            ("s1", "e2", 3_000, 100, 1, 1),
            ("s1", "e1", 4_000, 300, 0, 9), // a copy ingested later (batch b has the first)
            ("s1", "e3", 3_000, 100, 1, 2), // same time as e2: ordered by id
            ("s1", "e4", 1_000, 200, 1, 5),
            ("s1", "e4", 1_000, 200, 0, 5), // same ingestion time: the lower partition wins
        ];
        let b: &[Row] = &[
            ("s1", "e1", 2_000, 200, 2, 4), // the first copy, with another time than its copy
            ("s2", "e1", 5_000, 100, 0, 3), // the same id in another stream is another event
            ("s1", "e5", 9_000, 50, 3, 1),
            ("s2", "e2", 1_000, 60, 0, 8),
            ("s1", "e2", 3_000, 100, 1, 0), // the lower offset wins
        ];
        let batches = [raw(a), raw(b)];
        let want = expected(&[a, b]);
        let rows = |order: Vec<(usize, usize)>| -> Vec<Row> {
            let all = [a, b];
            order.into_iter().map(|(bi, r)| all[bi][r]).collect()
        };
        assert_eq!(rows(first_copies_by_time(&batches)), want);
        assert_eq!(rows(first_copies_by_time_hashed(&batches, |_| 42)), want);
        assert_eq!(rows(first_copies_by_time_hashed(&batches, |id| id.len() as u64)), want);
        assert_eq!(want.len(), 7);
        assert!(first_copies_by_time(&[]).is_empty());
    }
}
