//! Recomputing whole shows from the raw tables — the rollup's first step. Every event of the chosen streams,
//! late ones included and duplicates removed, goes through the same session rules as the
//! streaming job (`crate::rules`, every event fresh, in event-time order) and the same SQL
//! (`crate::window_metrics`): one definition of every metric for both paths.

use crate::store::delta::LakeUrl;
use std::collections::BTreeMap;

use crate::rules::{Observation, Regions, RuleConfig, StreamSessions};
use crate::{
    ExitRow, Suspect, WindowInputs, conform, lake_session, register_lake, run_query, window_metrics, with_windows,
};
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use datafusion::prelude::SessionContext;
use datafusion::prelude::col;
use livelake_schemas::{EventKind, Table, batch_schema};

use crate::error::{Error, Result};

/// `ids` as a SQL list of string literals.
pub(crate) fn sql_list(ids: &[String]) -> String {
    ids.iter().map(|s| format!("'{}'", s.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}

/// The raw events of `streams` in `table`, deduplicated by (stream, event_id) — the first
/// ingested wins — sorted by stream and time, with window columns.
async fn events(ctx: &SessionContext, table: Table, streams: &[String], width_ms: i64) -> Result<Vec<RecordBatch>> {
    let sql_err = |e: crate::QueryError| Error::Config(format!("rollup query: {e}"));
    let df_err = |source| Error::DataFusion { job: "rollup", source };
    // Copies of an event sit next to each other, the first ingested first.
    let sql = format!(
        "SELECT * FROM {} WHERE stream_id IN ({}) ORDER BY stream_id, event_id, ingested_at, src_partition, src_offset",
        table.name(),
        sql_list(streams)
    );
    let (_, batches) = run_query(ctx, &sql).await.map_err(sql_err)?;
    let target = batch_schema(table);
    let mut first = Vec::with_capacity(batches.len());
    let mut last: Option<(String, String)> = None;
    for b in batches.iter().filter(|b| b.num_rows() > 0) {
        let b = conform("rollup", b, &target)?;
        let (stream, event) = (b.column_by_name("stream_id"), b.column_by_name("event_id"));
        let (Some(stream), Some(event)) = (stream, event) else {
            return Err(Error::Config(format!("{}: no stream_id or event_id column", table.name())));
        };
        let (s, e) = (stream.as_string::<i32>(), event.as_string::<i32>());
        let copy = |i: usize| match i {
            0 => last.as_ref().is_some_and(|(ls, le)| ls == s.value(0) && le == e.value(0)),
            _ => s.value(i) == s.value(i - 1) && e.value(i) == e.value(i - 1),
        };
        let keep: BooleanArray = (0..b.num_rows()).map(|i| Some(!copy(i))).collect();
        let n = b.num_rows() - 1;
        last = Some((s.value(n).to_string(), e.value(n).to_string()));
        first.push(filter_record_batch(&b, &keep)?);
    }
    if first.is_empty() {
        return Ok(first);
    }
    let by_time = ctx
        .read_batches(first)
        .and_then(|df| {
            df.sort(vec![
                col("stream_id").sort(true, true),
                col("ts").sort(true, true),
                col("event_id").sort(true, true),
            ])
        })
        .map_err(df_err)?;
    let sorted = by_time.collect().await.map_err(df_err)?;
    sorted.iter().filter(|b| b.num_rows() > 0).map(|b| Ok(with_windows(b, width_ms, table)?)).collect()
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
    /// Deduplicated player events, with `region` and window columns.
    pub player: Vec<RecordBatch>,
    /// Deduplicated commerce events, likewise.
    pub commerce: Vec<RecordBatch>,
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
    let player = events(ctx, Table::PlayerEvents, streams, cfg.width_ms).await?;
    let commerce = events(ctx, Table::CommerceEvents, streams, cfg.width_ms).await?;
    let mut states = BTreeMap::new();
    let mut regions = Regions::default();
    // Player events first, in time order (views end on gaps); commerce events only add to the
    // probes, whose early contributions wait for the start either way.
    observe(&player, &mut states, &mut regions, cfg.session_timeout_ms);
    observe(&commerce, &mut states, &mut regions, cfg.session_timeout_ms);
    let mut inputs = WindowInputs {
        width_ms: cfg.width_ms,
        player: player.clone(),
        commerce: commerce.clone(),
        ..Default::default()
    };
    for (id, s) in &mut states {
        let closed = s.close(id, i64::MAX, cfg.session_timeout_ms, &regions);
        inputs.exits.extend(closed.exits);
        inputs.probes.extend(closed.probes);
    }
    let exits = inputs.exits.clone();
    let out = window_metrics(inputs).await?;
    Ok(Recomputed { minute: out.minute, suspects: out.new_suspects, player, commerce, exits })
}
