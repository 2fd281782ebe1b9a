//! The per-period job of the nightly rollup: whole shows' events (late ones included, duplicates
//! removed), their views' ends and the suspect sessions → `stream_daily`, `show_summary` and
//! `show_sources` rows by `jobs/sql/period.sql`.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, BooleanArray, Date32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMillisecondType};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::prelude::{SessionConfig, SessionContext};
use livelake_schemas::{Table, ts_type};

use crate::keys::{Keys, SESSION_KEY, VIEWER_KEY};
use crate::lake::session;
use crate::query::run_plan;
use crate::window::{
    Slot, SlotRead, SlotTable, batch, field, keyed_schema, put, register, strings, suspects_batch, times,
    viewed_columns,
};
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

/// The tables of the job's inputs ([`PeriodInputs`]): the passes and the retention query read
/// them, the three tables' queries only the passes' tables.
const INPUTS: [&str; 4] = ["player", "commerce", "exits", "suspects"];

/// The keys of sessions and viewers ([`crate::keys`]) the passes read of both event tables.
const KEYS: &[&str] = &[SESSION_KEY, VIEWER_KEY];

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

/// `day`, the UTC date of an event's `ts`, computed once here rather than in every pass (SQL's
/// cast of a timestamp with a time zone to a date converts each value through the zone's rules).
const DAY: &str = "day";

/// The UTC date (days since 1970-01-01) of epoch milliseconds `ms`.
fn utc_day(ms: i64) -> i32 {
    ms.div_euclid(86_400_000) as i32
}

/// The schema of event rows of `schema` as the passes read them: [`keyed_schema`] (string views,
/// `session_key`, `viewer_key`: [`KEYS`]), and `day`.
fn keyed_schema_of(schema: &SchemaRef) -> SchemaRef {
    with_columns(keyed_schema(schema, KEYS), &[(DAY, DataType::Date32)])
}

/// The columns of a batch of event rows as the passes read them ([`keyed_schema_of`]) but for
/// the session keys, which are made apart (on another thread) and put in place by
/// [`with_sessions`].
struct Unkeyed {
    /// Its columns as [`viewed_columns`] gives them (some as string views).
    viewed: Vec<ArrayRef>,
    /// The viewer keys.
    viewers: ArrayRef,
    /// `day`.
    day: ArrayRef,
}

/// [`Unkeyed`] columns of event rows `b` (with non-null `stream_id`, `session_id`, `viewer_id`,
/// `ts`), the viewer keys made in `viewers`.
fn keyed_viewers(b: &RecordBatch, viewers: &mut Keys) -> Result<Unkeyed> {
    let ts = b.column_by_name("ts").expect("an event column").as_primitive::<TimestampMillisecondType>();
    let day: Date32Array = ts.unary(utc_day);
    Ok(Unkeyed { viewed: viewed_columns(JOB, b)?, viewers: viewers.of_events(b, "viewer_id"), day: Arc::new(day) })
}

/// The rows the passes read: columns `c` of `b` with the session keys `sessions`, in
/// [`keyed_schema_of`]'s order (the keys as in [`KEYS`], then `day`).
fn with_sessions(b: &RecordBatch, c: Unkeyed, sessions: ArrayRef) -> Result<RecordBatch> {
    let mut cols = c.viewed;
    cols.extend([sessions, c.viewers, c.day]);
    RecordBatch::try_new(keyed_schema_of(&b.schema()), cols)
        .map_err(|e| Error::Schema { job: JOB, detail: e.to_string() })
}

/// The views' ends, with their session keys `keys`.
fn exits_batch(rows: &[ExitRow], keys: ArrayRef) -> Result<RecordBatch> {
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
            keys,
            Arc::new(rows.iter().map(|r| Some(utc_day(r.end_ts))).collect::<Date32Array>()),
        ],
    )
}

/// The suspect sessions, with their session keys `keys`.
fn keyed_suspects(rows: &[Suspect], keys: ArrayRef) -> Result<RecordBatch> {
    let b = suspects_batch(rows)?;
    let mut cols = b.columns().to_vec();
    cols.push(keys);
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

/// A query of the period job, parsed and optimized: its name (for errors and logs), the context
/// it is planned and run in, its plan, and its physical plan when that is made once.
struct Planned {
    name: &'static str,
    ctx: SessionContext,
    plan: LogicalPlan,
    once: Option<Arc<dyn ExecutionPlan>>,
}

impl Planned {
    /// Parse and optimize `sql` in `ctx`; the physical plan is made for each run.
    async fn new(name: &'static str, ctx: &SessionContext, sql: &str) -> Result<Planned> {
        let df_err = |source| Error::DataFusion { job: name, source };
        let plan = ctx.sql(sql).await.map_err(df_err)?.into_optimized_plan().map_err(df_err)?;
        Ok(Planned { name, ctx: ctx.clone(), plan, once: None })
    }

    /// Parse, optimize and plan `sql` in `ctx` once, for every run: its tables' slots are read as
    /// each run starts ([`SlotRead::Running`]).
    async fn once(name: &'static str, ctx: &SessionContext, sql: &str) -> Result<Planned> {
        let mut planned = Planned::new(name, ctx, sql).await?;
        planned.once = Some(planned.physical().await?);
        Ok(planned)
    }

    /// The physical plan over the rows in the slots now. The passes' are made for each run, as
    /// DataFusion picks each join's sides from its inputs' row counts (the passes planned once,
    /// without row counts, ran 2–4× longer). The tables' queries read only the passes' small
    /// tables and are planned once (their planning took ≈ 80 ms of each run): a fresh copy of
    /// that plan (operators keep state of a run).
    async fn physical(&self) -> Result<Arc<dyn ExecutionPlan>> {
        let df_err = |source| Error::DataFusion { job: self.name, source };
        if let Some(plan) = &self.once {
            return reset_plan_states(plan.clone()).map_err(df_err);
        }
        let (t0, state) = (std::time::Instant::now(), self.ctx.state());
        let plan = state.query_planner().create_physical_plan(&self.plan, &state).await;
        tracing::debug!(ms = t0.elapsed().as_millis(), query = self.name, "query planned");
        plan.map_err(df_err)
    }

    /// Plan over the rows in the slots now, then run on a task of its own.
    async fn spawn(&self) -> Result<Query<'_>> {
        let (plan, task_ctx, name) = (self.physical().await?, self.ctx.task_ctx(), self.name);
        let task = tokio::spawn(run_plan(name, plan, task_ctx));
        Ok(Query { planned: self, task })
    }

    /// Plan over the rows in the slots now, then run here.
    async fn run(&self) -> Result<Vec<RecordBatch>> {
        run_plan(self.name, self.physical().await?, self.ctx.task_ctx()).await
    }
}

/// The period job's SQL — [`PERIOD_PASSES`], [`RETENTION_SQL`] and [`PERIOD_SQL`] for each kind
/// of table — parsed and optimized once for many runs (the rollup's groups of shows): a run
/// ([`PeriodJob::tables`]) puts its rows in the tables' slots and makes the physical plans of the
/// passes and the retention query; those of the three tables are made once too.
pub struct PeriodPlans {
    /// The rows of every table the queries read (the inputs, then each pass's table), by name.
    slots: Vec<(&'static str, Slot)>,
    /// [`PERIOD_PASSES`] on every core (they only count and sum integers).
    passes: Vec<Planned>,
    /// The retention curve (one partition).
    retention: Planned,
    /// `PERIOD_SQL` of the daily, show and sources tables, each with its `scope`.`kind` (one
    /// partition: sums and means of floats add up in one fixed order, so a re-run gives
    /// bit-identical files; the three run side by side instead).
    tables: [Planned; 3],
}

impl PeriodPlans {
    /// Parse and optimize the job's SQL.
    pub async fn new() -> Result<PeriodPlans> {
        let df_err = |source| Error::DataFusion { job: JOB, source };
        let no_keys = || arrow::array::new_empty_array(&DataType::Int64);
        let inputs = INPUTS.into_iter().zip([
            keyed_schema_of(&window_input_schema(Table::PlayerEvents)),
            keyed_schema_of(&window_input_schema(Table::CommerceEvents)),
            exits_batch(&[], no_keys())?.schema(),
            keyed_suspects(&[], no_keys())?.schema(),
        ]);
        let wide = session(SessionConfig::new());
        let one = || {
            let mut config = SessionConfig::new().with_target_partitions(1);
            // The tables' plans run again for each run: they must not carry filters derived from
            // an earlier run's rows.
            config.options_mut().optimizer.enable_dynamic_filter_pushdown = false;
            session(config)
        };
        let (retention_ctx, kinds) = (one(), [("daily", one()), ("show", one()), ("sources", one())]);
        for (kind, ctx) in &kinds {
            let scope = batch(vec![field("kind", DataType::Utf8)], vec![Arc::new(StringArray::from(vec![*kind]))])?;
            register(ctx, "scope", scope.schema(), vec![scope])?;
        }
        // The tables' queries are planned once: their slots are read as each run starts.
        let contexts: Vec<(&SessionContext, SlotRead)> =
            [(&wide, SlotRead::Planning), (&retention_ctx, SlotRead::Planning)]
                .into_iter()
                .chain(kinds.iter().map(|(_, ctx)| (ctx, SlotRead::Running)))
                .collect();
        let mut slots = Vec::new();
        let mut add = |name: &'static str, schema: SchemaRef| -> Result<()> {
            let slot = Slot::default();
            for (ctx, read) in &contexts {
                let table = SlotTable { schema: schema.clone(), slot: slot.clone(), read: *read };
                ctx.register_table(name, Arc::new(table)).map_err(df_err)?;
            }
            slots.push((name, slot));
            Ok(())
        };
        for (name, schema) in inputs {
            add(name, schema)?;
        }
        let retention = Planned::new("retention", &retention_ctx, RETENTION_SQL).await?;
        let mut passes = Vec::new();
        for (name, sql) in PERIOD_PASSES {
            let pass = Planned::new(name, &wide, sql).await?;
            // The table's schema as its runs' rows have it: the physical plan's.
            add(name, pass.physical().await?.schema())?;
            passes.push(pass);
        }
        let mut tables = Vec::new();
        for (kind, ctx) in &kinds {
            tables.push(Planned::once(kind, ctx, PERIOD_SQL).await?);
        }
        let tables = <[Planned; 3]>::try_from(tables).map_err(|_| Error::Config("three period tables".into()))?;
        Ok(PeriodPlans { slots, passes, retention, tables })
    }

    /// Put `rows` in table `name`'s slot.
    fn put(&self, name: &str, rows: Vec<RecordBatch>) {
        let (_, slot) = self.slots.iter().find(|(n, _)| *n == name).expect("a table of the period job");
        put(slot, rows);
    }

    /// Empty every slot (the rows go once the plans made over them are done).
    fn clear(&self) {
        for (_, slot) in &self.slots {
            put(slot, Vec::new());
        }
    }
}

/// Event rows keyed once for the rollup's two jobs: the player and the commerce events as the
/// period job's passes read them ([`keyed_schema_of`]: string views, session and viewer keys,
/// `day`), and the session keys made so far, to key the views' ends and the suspects with. The
/// window job reads the same rows ([`crate::WindowJob`] takes the columns it reads of them), so
/// a group of shows is keyed once, not once per job.
pub struct KeyedEvents {
    pub(crate) player: Vec<RecordBatch>,
    pub(crate) commerce: Vec<RecordBatch>,
    sessions: Keys,
}

impl KeyedEvents {
    /// Key `player` and `commerce` rows ([`window_input_schema`] of each table). The session
    /// keys are made on a thread of their own, the other columns here: the two kinds of keys are
    /// numbered apart (making a group's columns on one thread took ≈ 0.17 s).
    pub fn new(player: &[RecordBatch], commerce: &[RecordBatch]) -> Result<KeyedEvents> {
        let t0 = std::time::Instant::now();
        let events = [player, commerce];
        let ((sessions, session_keys), columns) = std::thread::scope(|scope| {
            let sessions = scope.spawn(|| {
                let mut keys = Keys::default();
                let events: Vec<Vec<ArrayRef>> =
                    events.iter().map(|rows| rows.iter().map(|b| keys.of_events(b, "session_id")).collect()).collect();
                (keys, events)
            });
            let mut viewers = Keys::default();
            let columns = events
                .iter()
                .map(|rows| rows.iter().map(|b| keyed_viewers(b, &mut viewers)).collect::<Result<Vec<_>>>())
                .collect::<Result<Vec<_>>>();
            (sessions.join().expect("keying sessions does not panic"), columns)
        });
        let mut keyed = Vec::new();
        for ((rows, keys), columns) in events.into_iter().zip(session_keys).zip(columns?) {
            let rows = rows.iter().zip(columns).zip(keys).map(|((b, c), k)| with_sessions(b, c, k));
            keyed.push(rows.collect::<Result<Vec<_>>>()?);
        }
        let [player, commerce] = <[Vec<RecordBatch>; 2]>::try_from(keyed).expect("two event tables");
        tracing::debug!(ms = t0.elapsed().as_millis(), "period: events keyed");
        Ok(KeyedEvents { player, commerce, sessions })
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.player.iter().chain(&self.commerce).all(|b| b.num_rows() == 0)
    }
}

impl std::fmt::Debug for KeyedEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rows = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
        f.debug_struct("KeyedEvents")
            .field("player_rows", &rows(&self.player))
            .field("commerce_rows", &rows(&self.commerce))
            .finish_non_exhaustive()
    }
}

/// The period job's inputs, keyed for its queries.
pub struct PeriodJob {
    /// (table name, rows) of the inputs.
    inputs: Vec<(&'static str, Vec<RecordBatch>)>,
}

impl PeriodJob {
    /// Take the inputs.
    pub fn new(inputs: PeriodInputs) -> Result<PeriodJob> {
        let PeriodInputs { player, commerce, exits, suspects } = inputs;
        Self::keyed(KeyedEvents::new(&player, &commerce)?, &exits, &suspects)
    }

    /// Take the inputs, the events keyed already: the views' ends and the suspects are keyed with
    /// the events' session keys.
    pub fn keyed(events: KeyedEvents, exits: &[ExitRow], suspects: &[Suspect]) -> Result<PeriodJob> {
        let KeyedEvents { player, commerce, mut sessions } = events;
        let exit_keys = sessions.of_pairs(exits.iter().map(|r| (r.stream_id.as_str(), r.session_id.as_str())));
        let suspect_keys = sessions.of_pairs(suspects.iter().map(|r| (r.0.as_str(), r.1.as_str())));
        let exits = exits_batch(exits, exit_keys)?;
        let suspects = keyed_suspects(suspects, suspect_keys)?;
        let inputs = INPUTS.into_iter().zip([player, commerce, vec![exits], vec![suspects]]).collect();
        Ok(PeriodJob { inputs })
    }

    /// The three rollup tables' rows and the retention curve, with the job's SQL planned here.
    pub async fn tables(self) -> Result<PeriodOutput> {
        self.tables_with(&mut PeriodPlans::new().await?).await
    }

    /// The three rollup tables' rows and the retention curve (`jobs/sql/retention.sql`), with
    /// `plans` (one run at a time: the rows are put in its slots). The retention query runs
    /// beside the passes, the three tables' queries beside each other.
    pub async fn tables_with(self, plans: &mut PeriodPlans) -> Result<PeriodOutput> {
        for (name, rows) in self.inputs {
            plans.put(name, rows);
        }
        let out = run(plans).await;
        plans.clear();
        out
    }
}

/// Run the passes and the queries over the rows in `plans`' slots. The first pass (`sessions`)
/// runs beside the retention query; the other passes read only the inputs and its table, and run
/// side by side; then the three tables' queries.
async fn run(plans: &PeriodPlans) -> Result<PeriodOutput> {
    let mut queries = vec![plans.retention.spawn().await?];
    let mut retention = None;
    let (first, rest) = plans.passes.split_first().expect("the period job has passes");
    let rows = match first.run().await {
        Ok(rows) => rows,
        Err(e) if e.is_memory_exhausted() => {
            tracing::warn!(error = %e, "period: a pass ran out of memory beside the retention query; running it alone");
            retention = settle(std::mem::take(&mut queries)).await?.pop();
            first.run().await?
        }
        Err(e) => return Err(e),
    };
    plans.put(first.name, rows);
    let waiting = queries.len();
    for pass in rest {
        queries.push(pass.spawn().await?);
    }
    // A query that ran out of memory beside the others runs again alone once they are done.
    let mut rows = settle(queries).await?;
    for (pass, rows) in rest.iter().zip(rows.split_off(waiting)) {
        plans.put(pass.name, rows);
    }
    let retention = rows.pop().or(retention).expect("the retention query ran");
    // The events go now: the tables' queries read only the passes' small tables.
    for name in INPUTS {
        plans.put(name, Vec::new());
    }
    let mut queries = Vec::new();
    for table in &plans.tables {
        queries.push(table.spawn().await?);
    }
    let [daily, show, sources] = <[Vec<RecordBatch>; 3]>::try_from(settle(queries).await?).expect("three queries");
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

/// Wait for `queries`, in order. The queries share one memory pool (`rollup.memory_mb`): one
/// whose non-spilling operator found it full only because the others held it runs again, alone,
/// once they are done; any other failure fails the job.
async fn settle(queries: Vec<Query<'_>>) -> Result<Vec<Vec<RecordBatch>>> {
    let mut rows = Vec::with_capacity(queries.len());
    let mut again = Vec::new();
    for (i, query) in queries.into_iter().enumerate() {
        match joined(query.task).await {
            Ok(done) => rows.push(done),
            Err(e) if e.is_memory_exhausted() => {
                let name = query.planned.name;
                tracing::warn!(query = name, error = %e, "period: out of memory beside the other queries; running it again alone");
                rows.push(Vec::new());
                again.push((i, query.planned));
            }
            Err(e) => return Err(e),
        }
    }
    for (i, planned) in again {
        rows[i] = joined(planned.spawn().await?.task).await?;
    }
    Ok(rows)
}

/// A query of the period job on its task, and what it runs (to run it again).
struct Query<'a> {
    planned: &'a Planned,
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
        rows_in(table, "EU", lines)
    }

    /// [`rows`] in `region`.
    fn rows_in(table: Table, region: &str, lines: &[&str]) -> Vec<RecordBatch> {
        let schema = window_input_schema(table);
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "{{{l}, \"event_id\": \"e{i}\", \"stream_id\": \"s\", \"ingested_at\": 0, \"src_partition\": 0, \
                     \"src_offset\": {i}, \"region\": \"{region}\", \"window_start\": 0, \"window_end\": 60000}}\n"
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

    #[tokio::test]
    async fn the_retention_curve_by_hand() {
        // Whole minutes watched, first player event → last view's end: EU a 2 (0 → 150 s, two
        // views), b 1 (60 → 120 s); NA c 0 (0 → 30 s). Left out: the suspect x, and d, whose
        // view never ended.
        let heartbeat = |ts: i64, session: &str| {
            format!(r#""type": "heartbeat", "ts": {ts}, "session_id": "{session}", "viewer_id": "{session}""#)
        };
        let eu: Vec<String> = [(0, "a"), (90_000, "a"), (60_000, "b"), (0, "x"), (0, "d")]
            .iter()
            .map(|(t, s)| heartbeat(*t, s))
            .collect();
        let na = [heartbeat(0, "c")];
        let mut player = rows_in(Table::PlayerEvents, "EU", &eu.iter().map(String::as_str).collect::<Vec<_>>());
        player.extend(rows_in(Table::PlayerEvents, "NA", &na.iter().map(String::as_str).collect::<Vec<_>>()));
        let na_exit = |end_ts| ExitRow { region: "NA".into(), ..exit("c", end_ts, false) };
        let exits = vec![
            exit("a", 100_000, false),
            exit("a", 150_000, false),
            exit("b", 120_000, true),
            exit("x", 600_000, false),
            na_exit(10_000),
            na_exit(30_000),
        ];
        let suspects = vec![("s".to_string(), "x".to_string())];
        let out = period_metrics(PeriodInputs { player, commerce: vec![], exits, suspects }).await.unwrap();
        let mut got = Vec::new();
        for b in &out.retention {
            let text = |c: &str| arrow::compute::cast(b.column_by_name(c).unwrap(), &DataType::Utf8).unwrap();
            let minute = arrow::compute::cast(b.column_by_name("minute").unwrap(), &DataType::Int64).unwrap();
            let region = text("region");
            for i in 0..b.num_rows() {
                got.push((
                    region.as_string::<i32>().value(i).to_string(),
                    minute.as_primitive::<Int64Type>().value(i),
                    float(b, "retained", i).unwrap(),
                ));
            }
        }
        // Per slice, minutes 0 to the longest watch + 1: the share of its sessions that watched at
        // least that many whole minutes.
        let want: Vec<(String, i64, f64)> =
            [("ALL", vec![1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0]), ("EU", vec![1.0, 1.0, 0.5, 0.0]), ("NA", vec![1.0, 0.0])]
                .into_iter()
                .flat_map(|(r, shares)| shares.into_iter().enumerate().map(move |(k, v)| (r.to_string(), k as i64, v)))
                .collect();
        assert_eq!(got, want);
    }

    /// A query of `planned` that failed with this error, as its task would report it.
    fn failed(planned: &Planned, source: datafusion::error::DataFusionError) -> Query<'_> {
        let task = tokio::spawn(async move { Err(Error::DataFusion { job: "count", source }) });
        Query { planned, task }
    }

    #[test]
    fn the_passes_after_the_first_read_no_other_pass() {
        // They run side by side ([`run`]): none may read a table another of them writes.
        let (first, rest) = PERIOD_PASSES.split_first().unwrap();
        assert_eq!(first.0, "sessions");
        for (name, sql) in rest {
            let words: Vec<String> =
                sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(str::to_ascii_lowercase).collect();
            for (i, _) in words.iter().enumerate().filter(|(_, w)| *w == "from" || *w == "join") {
                let read = words[i + 1..].iter().find(|w| !w.is_empty()).unwrap();
                let other = rest.iter().any(|(n, _)| n == read);
                assert!(!other, "pass {name} reads {read}, which a pass beside it writes");
            }
        }
    }

    #[tokio::test]
    async fn a_query_that_ran_out_of_memory_beside_others_runs_again_alone_and_other_failures_fail() {
        use datafusion::error::DataFusionError;
        let plans = PeriodPlans::new().await.unwrap();
        for (name, rows) in PeriodJob::new(hand_built_inputs()).unwrap().inputs {
            plans.put(name, rows);
        }
        let ctx = &plans.retention.ctx;
        let commerce = Planned::new("count", ctx, "SELECT count(*) AS n FROM commerce").await.unwrap();
        let player = Planned::new("count", ctx, "SELECT count(*) AS n FROM player").await.unwrap();
        let exhausted = || DataFusionError::ResourcesExhausted("greedy pool full".into());
        // Wrapped the way a plan's error reaches us from a spawned stream: still found.
        let wrapped =
            DataFusionError::Context("collect".into(), Box::new(DataFusionError::Shared(Arc::new(exhausted()))));
        let queries = vec![failed(&commerce, exhausted()), player.spawn().await.unwrap(), failed(&commerce, wrapped)];
        let rows = settle(queries).await.unwrap();
        let counts: Vec<i64> = rows.iter().map(|r| int(&r[0], "n", 0)).collect();
        assert_eq!(counts, [11, 5, 11], "11 commerce events (re-run), 5 player events, in the queries' order");

        let other = failed(&player, DataFusionError::Execution("a column is missing".into()));
        let err = settle(vec![failed(&commerce, exhausted()), other]).await.unwrap_err();
        assert!(!err.is_memory_exhausted() && err.to_string().contains("a column is missing"), "{err}");
    }

    #[tokio::test]
    async fn plans_made_once_give_each_run_its_own_rows() {
        // The hand-built show, then nothing, then the show again, with one set of plans: each
        // run sees only its own rows.
        let mut plans = PeriodPlans::new().await.unwrap();
        let first = PeriodJob::new(hand_built_inputs()).unwrap().tables_with(&mut plans).await.unwrap();
        let empty = PeriodJob::new(PeriodInputs::default()).unwrap().tables_with(&mut plans).await.unwrap();
        let again = PeriodJob::new(hand_built_inputs()).unwrap().tables_with(&mut plans).await.unwrap();
        let fresh = hand_built().await;
        let rows = |o: &PeriodOutput| {
            [&o.daily, &o.show, &o.sources, &o.retention].map(|t| t.iter().map(RecordBatch::num_rows).sum::<usize>())
        };
        assert_eq!(rows(&empty), [0; 4]);
        assert!(rows(&fresh).iter().all(|n| *n > 0), "{:?}", rows(&fresh));
        for out in [&first, &again] {
            for (a, b) in [
                (&out.daily, &fresh.daily),
                (&out.show, &fresh.show),
                (&out.sources, &fresh.sources),
                (&out.retention, &fresh.retention),
            ] {
                assert_eq!(
                    arrow::compute::concat_batches(&b[0].schema(), b).unwrap(),
                    arrow::compute::concat_batches(&b[0].schema(), a).unwrap()
                );
            }
        }
    }

    #[tokio::test]
    async fn the_window_job_over_events_keyed_once_gives_the_rows_of_its_own_keys() {
        // The rollup keys a group's events once for both jobs ([`KeyedEvents`], with columns the
        // window job does not read); the stream's window job keys each run's events itself.
        let PeriodInputs { player, commerce, exits, .. } = hand_built_inputs();
        let inputs = |player, commerce| crate::WindowInputs {
            width_ms: 60_000,
            player,
            commerce,
            exits: exits.clone(),
            ..Default::default()
        };
        let job = crate::WindowJob::new().await.unwrap();
        let own = job.run(inputs(player.clone(), commerce.clone())).await.unwrap();
        let keyed = KeyedEvents::new(&player, &commerce).unwrap();
        assert!(!keyed.is_empty() && KeyedEvents::new(&[], &[]).unwrap().is_empty());
        let once = job.run_keyed(inputs(keyed.player.clone(), keyed.commerce.clone())).await.unwrap();
        let all = |b: &[RecordBatch]| arrow::compute::concat_batches(&b[0].schema(), b).unwrap();
        let (own, once) = (all(&own.minute), all(&once.minute));
        assert_eq!(own, once);
        // One minute of the hand-built show: sessions a, b, c watched; B and C ordered 3 times.
        let count = |col: &str| {
            let c = arrow::compute::cast(once.column_by_name(col).unwrap(), &DataType::Int64).unwrap();
            c.as_primitive::<Int64Type>().values().to_vec()
        };
        assert_eq!(once.num_rows(), 1);
        assert_eq!([count("sessions_active_raw"), count("orders"), count("buyers")], [[3], [3], [2]]);
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
