//! The per-period job of the nightly rollup: whole shows' events (late ones included, duplicates
//! removed), their views' ends and the suspect sessions → `stream_daily`, `show_summary` and
//! `show_sources` rows by `jobs/sql/period.sql`.

use std::sync::Arc;

use std::collections::HashMap;

use arrow::array::{ArrayRef, AsArray, BooleanArray, Date32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMillisecondType};
use datafusion::prelude::{SessionConfig, SessionContext};
use livelake_schemas::{Table, ts_type};

use crate::lake::session;
use crate::window::{batch, field, register, strings, suspects_batch, times};
use crate::{Error, ExitRow, Result, Suspect, conform, window_input_schema};

/// The SQL of the per-period tables, over the passes below.
pub const PERIOD_SQL: &str = include_str!("../sql/period.sql");
/// The passes over the events that `PERIOD_SQL` reads, in order: (table name, SQL). Each later
/// pass may read the earlier ones' tables.
pub const PERIOD_PASSES: [(&str, &str); 5] = [
    ("sessions", include_str!("../sql/period_sessions.sql")),
    ("facts", include_str!("../sql/period_facts.sql")),
    ("minutes", include_str!("../sql/period_minutes.sql")),
    ("vals", include_str!("../sql/period_values.sql")),
    ("funnel_events", include_str!("../sql/period_funnel.sql")),
];
/// The SQL of the retention curve.
pub const RETENTION_SQL: &str = include_str!("../sql/retention.sql");

const JOB: &str = "period";

/// Everything the period job reads: whole shows.
#[derive(Debug, Default)]
pub struct PeriodInputs {
    /// Player events ([`window_input_schema`]), deduplicated.
    pub player: Vec<RecordBatch>,
    /// Commerce events ([`window_input_schema`]), deduplicated.
    pub commerce: Vec<RecordBatch>,
    /// Every view's end.
    pub exits: Vec<ExitRow>,
    /// The suspect sessions.
    pub suspects: Vec<Suspect>,
}

/// Rows of one table, each with its slice and period: `stream_daily` rows carry `region` and
/// `date` (utf8 `YYYY-MM-DD`); `show_summary` rows carry `region` (a region or `ALL`);
/// `show_sources` rows carry `source`. All rows carry `stream_id`, `show_start` and `show_end`.
#[derive(Debug, Default)]
pub struct PeriodOutput {
    /// `stream_daily` columns + `region`, `date`.
    pub daily: Vec<RecordBatch>,
    /// `show_summary` columns.
    pub show: Vec<RecordBatch>,
    /// `show_sources` columns + `show_start`.
    pub sources: Vec<RecordBatch>,
    /// The retention curve: stream_id, region (or `ALL`), minute since a session's start,
    /// retained (share of sessions still watching).
    pub retention: Vec<RecordBatch>,
}

/// Dense integer keys of (stream, id) pairs, numbered as first seen: the passes group and join
/// sessions and viewers on these rather than on their string ids (same groups, cheaper).
#[derive(Default)]
struct Keys {
    by_stream: HashMap<String, HashMap<String, i64, ahash::RandomState>, ahash::RandomState>,
    next: i64,
}

impl Keys {
    /// The keys of one stream's ids.
    fn of(&mut self, stream: &str) -> StreamKeys<'_> {
        if !self.by_stream.contains_key(stream) {
            self.by_stream.insert(stream.to_string(), HashMap::default());
        }
        StreamKeys { ids: self.by_stream.get_mut(stream).expect("just added"), next: &mut self.next }
    }
}

/// [`Keys`] of one stream.
struct StreamKeys<'a> {
    ids: &'a mut HashMap<String, i64, ahash::RandomState>,
    next: &'a mut i64,
}

impl StreamKeys<'_> {
    fn key(&mut self, id: &str) -> i64 {
        if let Some(k) = self.ids.get(id) {
            return *k;
        }
        let k = *self.next;
        *self.next += 1;
        self.ids.insert(id.to_string(), k);
        k
    }
}

/// The sessions' and the viewers' keys.
#[derive(Default)]
struct Keyring {
    sessions: Keys,
    viewers: Keys,
}

/// The key names the passes read: `session_key` of (`stream_id`, `session_id`) and `viewer_key`
/// of (`stream_id`, `viewer_id`); and `day`, the UTC date of an event's `ts` (computed once here
/// rather than in every pass: SQL's cast of a timestamp with a time zone to a date converts each
/// value through the zone's rules).
const SESSION_KEY: &str = "session_key";
const VIEWER_KEY: &str = "viewer_key";
const DAY: &str = "day";

/// The UTC date (days since 1970-01-01) of epoch milliseconds `ms`.
fn utc_day(ms: i64) -> i32 {
    ms.div_euclid(86_400_000) as i32
}

impl Keyring {
    /// `rows` (with non-null `stream_id`, `session_id`, `viewer_id`, `ts`) with `session_key`,
    /// `viewer_key` and `day`.
    fn keyed(&mut self, schema: &SchemaRef, rows: Vec<RecordBatch>) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let schema = with_columns(
            schema.clone(),
            &[(SESSION_KEY, DataType::Int64), (VIEWER_KEY, DataType::Int64), (DAY, DataType::Date32)],
        );
        let rows = rows
            .into_iter()
            .map(|b| {
                let col = |n: &str| b.column_by_name(n).expect("an event column").as_string::<i32>();
                let (stream, session, viewer) = (col("stream_id"), col("session_id"), col("viewer_id"));
                let (mut sk, mut vk) = (Vec::with_capacity(b.num_rows()), Vec::with_capacity(b.num_rows()));
                // Rows come in runs of one stream: its keys are looked up once per run.
                let mut start = 0;
                while start < b.num_rows() {
                    let s = stream.value(start);
                    let end = (start..b.num_rows()).find(|&i| stream.value(i) != s).unwrap_or(b.num_rows());
                    let (mut sessions, mut viewers) = (self.sessions.of(s), self.viewers.of(s));
                    for i in start..end {
                        sk.push(sessions.key(session.value(i)));
                        vk.push(viewers.key(viewer.value(i)));
                    }
                    start = end;
                }
                let ts = b.column_by_name("ts").expect("an event column").as_primitive::<TimestampMillisecondType>();
                let day: Date32Array = ts.unary(utc_day);
                let mut cols = b.columns().to_vec();
                cols.push(Arc::new(Int64Array::from(sk)) as ArrayRef);
                cols.push(Arc::new(Int64Array::from(vk)) as ArrayRef);
                cols.push(Arc::new(day) as ArrayRef);
                RecordBatch::try_new(schema.clone(), cols)
                    .map_err(|e| Error::Schema { job: JOB, detail: e.to_string() })
            })
            .collect::<Result<_>>()?;
        Ok((schema, rows))
    }

    /// The session keys of (stream, session) pairs.
    fn session_keys<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> ArrayRef {
        Arc::new(pairs.map(|(stream, session)| self.sessions.of(stream).key(session)).collect::<Int64Array>())
    }
}

fn exits_batch(rows: &[ExitRow], keys: &mut Keyring) -> Result<RecordBatch> {
    batch(
        vec![
            field("stream_id", DataType::Utf8),
            field("region", DataType::Utf8),
            field("session_id", DataType::Utf8),
            field("end_ts", ts_type()),
            field("after_stall", DataType::Boolean),
            field(SESSION_KEY, DataType::Int64),
            field(DAY, DataType::Date32),
        ],
        vec![
            strings(rows.iter().map(|r| r.stream_id.as_str())),
            strings(rows.iter().map(|r| r.region.as_str())),
            strings(rows.iter().map(|r| r.session_id.as_str())),
            times(rows.iter().map(|r| r.end_ts)),
            Arc::new(rows.iter().map(|r| Some(r.after_stall)).collect::<BooleanArray>()),
            keys.session_keys(rows.iter().map(|r| (r.stream_id.as_str(), r.session_id.as_str()))),
            Arc::new(rows.iter().map(|r| Some(utc_day(r.end_ts))).collect::<Date32Array>()),
        ],
    )
}

fn keyed_suspects(rows: &[Suspect], keys: &mut Keyring) -> Result<RecordBatch> {
    let b = suspects_batch(rows)?;
    let mut cols = b.columns().to_vec();
    cols.push(keys.session_keys(rows.iter().map(|r| (r.0.as_str(), r.1.as_str()))));
    RecordBatch::try_new(with_columns(b.schema(), &[(SESSION_KEY, DataType::Int64)]), cols)
        .map_err(|e| Error::Schema { job: JOB, detail: e.to_string() })
}

/// `base`'s columns, then `extra` (name, type), as the schema a table's rows are conformed to.
fn with_columns(base: SchemaRef, extra: &[(&str, DataType)]) -> SchemaRef {
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(extra.iter().map(|(n, t)| Field::new(*n, t.clone(), false)));
    Arc::new(Schema::new(fields))
}

/// Rename the SQL's `slice` / `period` to the table's names and conform to `target`.
fn shape(out: &[RecordBatch], slice_as: &str, period_as: &str, target: &SchemaRef) -> Result<Vec<RecordBatch>> {
    out.iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| {
            let fields: Vec<Field> = b
                .schema()
                .fields()
                .iter()
                .map(|f| match f.name().as_str() {
                    "slice" => f.as_ref().clone().with_name(slice_as),
                    "period" => f.as_ref().clone().with_name(period_as),
                    _ => f.as_ref().clone(),
                })
                .collect();
            let renamed = RecordBatch::try_new(Arc::new(Schema::new(fields)), b.columns().to_vec())
                .map_err(|e| Error::Schema { job: JOB, detail: e.to_string() })?;
            conform(JOB, &renamed, target)
        })
        .collect()
}

/// A table the period job's queries read: name, schema, rows.
type Input = (&'static str, SchemaRef, Vec<RecordBatch>);

/// The period job's inputs, registered for its queries.
pub struct PeriodJob {
    /// Every table the queries read: the inputs, then the passes' tables once they ran.
    tables: Vec<Input>,
}

impl PeriodJob {
    /// Take the inputs.
    pub fn new(inputs: PeriodInputs) -> Result<PeriodJob> {
        let mut keys = Keyring::default();
        let (player_schema, player) = keys.keyed(&window_input_schema(Table::PlayerEvents), inputs.player)?;
        let (commerce_schema, commerce) = keys.keyed(&window_input_schema(Table::CommerceEvents), inputs.commerce)?;
        let exits = exits_batch(&inputs.exits, &mut keys)?;
        let suspects = keyed_suspects(&inputs.suspects, &mut keys)?;
        let tables = vec![
            ("player", player_schema, player),
            ("commerce", commerce_schema, commerce),
            ("exits", exits.schema(), vec![exits]),
            ("suspects", suspects.schema(), vec![suspects]),
        ];
        Ok(PeriodJob { tables })
    }

    /// A context holding every table so far (the rows are shared, not copied).
    fn context(&self, config: SessionConfig) -> Result<SessionContext> {
        let ctx = session(config);
        for (name, schema, rows) in &self.tables {
            register(&ctx, name, schema.clone(), rows.clone())?;
        }
        Ok(ctx)
    }

    /// Run `sql` on a task of its own, in a context of one partition holding every table so far
    /// (and `scope`.`kind` = `kind`, if given). One partition: sums and means of floats add up
    /// in one fixed order, so a re-run gives bit-identical files; the queries of the job run side
    /// by side instead.
    fn spawn(&self, job: &'static str, sql: &'static str, kind: Option<&'static str>) -> Result<Query> {
        let ctx = self.context(SessionConfig::new().with_target_partitions(1))?;
        if let Some(kind) = kind {
            let scope = batch(vec![field("kind", DataType::Utf8)], vec![Arc::new(StringArray::from(vec![kind]))])?;
            register(&ctx, "scope", scope.schema(), vec![scope])?;
        }
        let task = tokio::spawn(async move {
            let t0 = std::time::Instant::now();
            let df_err = |source| Error::DataFusion { job, source };
            let rows = ctx.sql(sql).await.map_err(df_err)?.collect().await.map_err(df_err)?;
            tracing::debug!(ms = t0.elapsed().as_millis(), query = kind.unwrap_or(job), "period: query ran");
            Ok(rows)
        });
        Ok(Query { job, sql, kind, task })
    }

    /// Wait for `queries`, in order. The queries share one memory pool (`rollup.memory_mb`): one
    /// whose non-spilling operator found it full only because the others held it runs again,
    /// alone, once they are done; any other failure fails the job.
    async fn settle(&self, queries: Vec<Query>) -> Result<Vec<Vec<RecordBatch>>> {
        let mut rows = Vec::with_capacity(queries.len());
        let mut again = Vec::new();
        for (i, query) in queries.into_iter().enumerate() {
            let (job, sql, kind) = (query.job, query.sql, query.kind);
            match joined(query.task).await {
                Ok(done) => rows.push(done),
                Err(e) if e.is_memory_exhausted() => {
                    tracing::warn!(query = kind.unwrap_or(job), error = %e, "period: out of memory beside the other queries; running it again alone");
                    rows.push(Vec::new());
                    again.push((i, job, sql, kind));
                }
                Err(e) => return Err(e),
            }
        }
        for (i, job, sql, kind) in again {
            rows[i] = joined(self.spawn(job, sql, kind)?.task).await?;
        }
        Ok(rows)
    }

    /// Run [`PERIOD_PASSES`] (on every core: they only count and sum integers) and add the
    /// tables not added yet.
    async fn passes(&mut self) -> Result<()> {
        let wide = self.context(SessionConfig::new())?;
        for (name, sql) in PERIOD_PASSES {
            if self.tables.iter().any(|(added, ..)| *added == name) {
                continue;
            }
            let t0 = std::time::Instant::now();
            let df_err = |source| Error::DataFusion { job: name, source };
            let plan = wide.sql(sql).await.map_err(df_err)?.create_physical_plan().await.map_err(df_err)?;
            let schema = plan.schema();
            let rows = datafusion::physical_plan::collect(plan, wide.task_ctx()).await.map_err(df_err)?;
            register(&wide, name, schema.clone(), rows.clone())?;
            let n: usize = rows.iter().map(RecordBatch::num_rows).sum();
            tracing::debug!(ms = t0.elapsed().as_millis(), pass = name, rows = n, "period: pass ran");
            self.tables.push((name, schema, rows));
        }
        Ok(())
    }

    /// The three rollup tables' rows and the retention curve (`jobs/sql/retention.sql`). The
    /// retention query runs beside the passes, the three tables' queries beside each other.
    pub async fn tables(mut self) -> Result<PeriodOutput> {
        let mut queries = vec![self.spawn("retention", RETENTION_SQL, None)?];
        let mut rows = Vec::new();
        if let Err(e) = self.passes().await {
            if !e.is_memory_exhausted() {
                return Err(e);
            }
            tracing::warn!(error = %e, "period: the passes ran out of memory beside the retention query; running them alone");
            rows = self.settle(std::mem::take(&mut queries)).await?;
            self.passes().await?;
        }
        for kind in ["daily", "show", "sources"] {
            queries.push(self.spawn(JOB, PERIOD_SQL, Some(kind))?);
        }
        rows.extend(self.settle(queries).await?);
        let [retention, daily, show, sources] = <[Vec<RecordBatch>; 4]>::try_from(rows).expect("four queries");
        Ok(PeriodOutput {
            daily: shape(
                &daily,
                "region",
                "date",
                &with_columns(Table::StreamDaily.schema(), &[("region", DataType::Utf8), ("date", DataType::Utf8)]),
            )?,
            show: shape(&show, "region", "period", &Table::ShowSummary.schema())?,
            sources: shape(
                &sources,
                "source",
                "period",
                &with_columns(Table::ShowSources.schema(), &[("show_start", ts_type())]),
            )?,
            retention,
        })
    }
}

/// A query of the period job on its task, and what it runs (to run it again).
struct Query {
    job: &'static str,
    sql: &'static str,
    kind: Option<&'static str>,
    task: tokio::task::JoinHandle<Result<Vec<RecordBatch>>>,
}

/// The rows of a query's task.
async fn joined(task: tokio::task::JoinHandle<Result<Vec<RecordBatch>>>) -> Result<Vec<RecordBatch>> {
    task.await.map_err(|e| Error::Config(format!("{JOB}: a query's task failed: {e}")))?
}

/// Run the period job over whole shows: the three rollup tables' rows and the retention curve.
pub async fn period_metrics(inputs: PeriodInputs) -> Result<PeriodOutput> {
    PeriodJob::new(inputs)?.tables().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Decimal128Type, Float64Type, Int64Type};

    /// Rows (NDJSON) of one table, in the window job's input schema: region EU, one window.
    fn rows(table: Table, lines: &[&str]) -> Vec<RecordBatch> {
        let schema = window_input_schema(table);
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "{{{l}, \"event_id\": \"e{i}\", \"stream_id\": \"s\", \"ingested_at\": 0, \"src_partition\": 0, \
                     \"src_offset\": {i}, \"region\": \"EU\", \"window_start\": 0, \"window_end\": 60000}}\n"
                )
            })
            .collect();
        let reader = arrow::json::ReaderBuilder::new(schema).build(text.as_bytes()).unwrap();
        reader.collect::<std::result::Result<_, _>>().unwrap()
    }

    fn exit(session: &str, end_ts: i64, after_stall: bool) -> ExitRow {
        ExitRow { stream_id: "s".into(), region: "EU".into(), session_id: session.into(), end_ts, after_stall }
    }

    /// A hand-built show whose answers are worked out by hand below.
    async fn hand_built() -> PeriodOutput {
        period_metrics(hand_built_inputs()).await.unwrap()
    }

    /// The events of [`hand_built`].
    fn hand_built_inputs() -> PeriodInputs {
        let player = rows(
            Table::PlayerEvents,
            &[
                // A (session a): first frame, 9 s played, a 1 s stall.
                r#""type": "first_frame", "ts": 1000, "session_id": "a", "viewer_id": "A", "startup_ms": 500"#,
                r#""type": "heartbeat", "ts": 4000, "session_id": "a", "viewer_id": "A", "play_ms": 9000"#,
                r#""type": "stall_end", "ts": 4500, "session_id": "a", "viewer_id": "A", "stall_ms": 1000"#,
                r#""type": "first_frame", "ts": 1000, "session_id": "b", "viewer_id": "B", "startup_ms": 3000"#,
                r#""type": "first_frame", "ts": 1000, "session_id": "c", "viewer_id": "C", "startup_ms": 1000"#,
            ],
        );
        let commerce = rows(
            Table::CommerceEvents,
            &[
                // A: cart before the click → clicked, not carted.
                r#""type": "add_to_cart", "ts": 2000, "session_id": "a", "viewer_id": "A""#,
                r#""type": "product_click", "ts": 3000, "session_id": "a", "viewer_id": "A""#,
                // B: a click before the first frame, a buy-now order, then click → cart → order.
                r#""type": "product_click", "ts": 500, "session_id": "b", "viewer_id": "B""#,
                r#""type": "order", "ts": 1500, "session_id": "b", "viewer_id": "B", "quantity": 1, "amount_usd": "10.0000""#,
                r#""type": "product_click", "ts": 4000, "session_id": "b", "viewer_id": "B""#,
                r#""type": "add_to_cart", "ts": 5000, "session_id": "b", "viewer_id": "B""#,
                r#""type": "order", "ts": 6000, "session_id": "b", "viewer_id": "B", "quantity": 2, "amount_usd": "20.0000""#,
                // C: click → cart, but the order came before the cart.
                r#""type": "product_click", "ts": 2000, "session_id": "c", "viewer_id": "C""#,
                r#""type": "order", "ts": 2500, "session_id": "c", "viewer_id": "C", "quantity": 1, "amount_usd": "5.0000""#,
                r#""type": "add_to_cart", "ts": 3000, "session_id": "c", "viewer_id": "C""#,
                // D never saw a frame.
                r#""type": "product_click", "ts": 1000, "session_id": "d", "viewer_id": "D""#,
            ],
        );
        let exits = vec![exit("a", 4500, true), exit("b", 1000, false)];
        PeriodInputs { player, commerce, exits, suspects: vec![] }
    }

    /// A query that failed with this error, as its task would report it.
    fn failed(source: datafusion::error::DataFusionError) -> Query {
        let task = tokio::spawn(async move { Err(Error::DataFusion { job: "count", source }) });
        Query { job: "count", sql: "SELECT count(*) AS n FROM commerce", kind: None, task }
    }

    #[tokio::test]
    async fn a_query_that_ran_out_of_memory_beside_others_runs_again_alone_and_other_failures_fail() {
        use datafusion::error::DataFusionError;
        let job = PeriodJob::new(hand_built_inputs()).unwrap();
        let exhausted = || DataFusionError::ResourcesExhausted("greedy pool full".into());
        // Wrapped the way a plan's error reaches us from a spawned stream: still found.
        let wrapped =
            DataFusionError::Context("collect".into(), Box::new(DataFusionError::Shared(Arc::new(exhausted()))));
        let ran = job.spawn("count", "SELECT count(*) AS n FROM player", None).unwrap();
        let rows = job.settle(vec![failed(exhausted()), ran, failed(wrapped)]).await.unwrap();
        let counts: Vec<i64> = rows.iter().map(|r| int(&r[0], "n", 0)).collect();
        assert_eq!(counts, [11, 5, 11], "11 commerce events (re-run), 5 player events, in the queries' order");

        let other = failed(DataFusionError::Execution("a column is missing".into()));
        let err = job.settle(vec![failed(exhausted()), other]).await.unwrap_err();
        assert!(!err.is_memory_exhausted() && err.to_string().contains("a column is missing"), "{err}");
    }

    fn int(b: &RecordBatch, col: &str, i: usize) -> i64 {
        b.column_by_name(col).unwrap().as_primitive::<Int64Type>().value(i)
    }

    fn float(b: &RecordBatch, col: &str, i: usize) -> Option<f64> {
        let a = b.column_by_name(col).unwrap().as_primitive::<Float64Type>();
        a.is_valid(i).then(|| a.value(i))
    }

    fn money(b: &RecordBatch, col: &str, i: usize) -> i128 {
        b.column_by_name(col).unwrap().as_primitive::<Decimal128Type>().value(i)
    }

    #[tokio::test]
    async fn ordered_funnel_smoothness_and_the_stall_exit_estimate_by_hand() {
        let out = hand_built().await;
        let show = &out.show[0];
        assert_eq!(show.num_rows(), 2, "EU and ALL");
        for i in 0..2 {
            assert_eq!(int(show, "sessions", i), 3, "a, b, c played; d only clicked");
            assert_eq!(int(show, "funnel_viewers", i), 3);
            assert_eq!(int(show, "funnel_clicked", i), 3);
            assert_eq!(int(show, "funnel_carted", i), 2, "B and C; A carted before clicking");
            assert_eq!(int(show, "funnel_ordered", i), 1, "B; C ordered before carting");
            assert_eq!(int(show, "orders", i), 3);
            assert_eq!(money(show, "gmv_usd", i), 350_000);
            assert_eq!(float(show, "click_to_order", i), Some(1.0 / 3.0));
            // Session a: c = 1 stall, p = 1 s / 10 s; b and c have no watch time, no score.
            let smooth = (100.0 / (1.0f64 + 0.25).sqrt() + 100.0 * (-1.0f64).exp()) / 2.0;
            assert!((float(show, "smoothness_score", i).unwrap() - smooth).abs() < 1e-9);
            // Startup score: mean of 100·8/(8 + s) over 0.5 s, 3 s and 1 s; two of three start ≤ 1 s.
            let startup = [0.5, 3.0, 1.0].iter().map(|s| 800.0 / (8.0 + s)).sum::<f64>() / 3.0;
            assert!((float(show, "startup_score", i).unwrap() - startup).abs() < 1e-9);
            assert_eq!(float(show, "fast_start_pct", i), Some(2.0 / 3.0));
            // Exits 2, after a stall 1, stalled sessions 1 of 3: 1 − 1 × 2 / 3 beyond the rate.
            assert!((float(show, "stall_exit_excess", i).unwrap() - 1.0 / 3.0).abs() < 1e-12);
            assert_eq!(money(show, "lost_gmv_usd_est", i), 38_889, "(1/3) × 35 / 3 = 3.8889");
            assert_eq!(money(show, "gpm_usd", i), 116_666_667, "35 / 3 × 1000");
            // A watched 10 s, capped at the show's 5.5 s (0.5 s … 6 s); B and C 0.
            assert!((float(show, "avg_watch_seconds", i).unwrap() - 5.5 / 3.0).abs() < 1e-12);
        }
    }
}
