//! The per-window job: events of final windows, plus the session facts the streaming engine
//! keeps (exits, start probes, earlier windows' start counts, known suspects) → suspect sessions
//! by `jobs/sql/window_starts.sql` and `jobs/sql/suspects.sql`, then `stream_minute` rows by
//! `jobs/sql/stream_minute.sql`.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow::datatypes::TimestampMillisecondType;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{MemTable, TableType};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::memory::{LazyBatchGenerator, LazyMemoryExec};
use datafusion::prelude::{SessionConfig, SessionContext};
use livelake_schemas::{Table, batch_schema, ts_type};
use parking_lot::RwLock;
use std::sync::Mutex;

use crate::keys::{Keyring, SESSION_KEY, VIEWER_KEY};
use crate::query::run_plan;
use crate::{Error, Result, conform};

/// The SQL of `stream_minute`.
pub const STREAM_MINUTE_SQL: &str = include_str!("../sql/stream_minute.sql");
/// The SQL that counts session starts per window, the input `numbered` of [`SUSPECTS_SQL`].
pub const WINDOW_STARTS_SQL: &str = include_str!("../sql/window_starts.sql");
/// The SQL that finds suspect sessions (join spikes, METRICS.md).
pub const SUSPECTS_SQL: &str = include_str!("../sql/suspects.sql");

const JOB: &str = "stream_minute";

/// The columns of `table`'s rows (with `region`) that the metric SQL (`jobs/sql/*.sql`) and the
/// session rules ([`crate::rules`]) read: the window job's and the period job's event inputs hold
/// these only, so no job copies a column nobody reads (ids of events and products, provenance,
/// device details). A query that names another column fails to plan ("No field named …"): add
/// it here.
pub fn window_columns(table: Table) -> Vec<&'static str> {
    const BOTH: [&str; 7] = ["type", "ts", "stream_id", "session_id", "viewer_id", "source", "region"];
    let own: &[&str] = match table {
        Table::PlayerEvents => &["startup_ms", "play_ms", "stall_ms", "bitrate_kbps", "latency_ms", "fatal"],
        Table::CommerceEvents => &["quantity", "like_count", "amount_usd"],
        _ => &[],
    };
    BOTH.iter().chain(own).copied().collect()
}

/// Schema of the window job's event inputs: the raw table's batch schema (with `region`) cut to
/// [`window_columns`], in file order, plus `window_start` and `window_end`.
pub fn window_input_schema(table: Table) -> SchemaRef {
    let mut fields = batch_fields(table, &window_columns(table));
    fields.push(Field::new("window_start", ts_type(), false));
    fields.push(Field::new("window_end", ts_type(), false));
    Arc::new(Schema::new(fields))
}

/// The fields of `table`'s batch schema (with `region`) named in `keep`, in file order.
pub(crate) fn batch_fields(table: Table, keep: &[&str]) -> Vec<Field> {
    batch_schema(table)
        .fields()
        .iter()
        .filter(|f| keep.contains(&f.name().as_str()))
        .map(|f| f.as_ref().clone())
        .collect()
}

/// `b`'s [`window_columns`] (rows of `table` with at least those columns), shared, not copied.
pub fn window_projection(b: &RecordBatch, table: Table) -> std::result::Result<RecordBatch, ArrowError> {
    let schema = b.schema();
    let keep = window_columns(table);
    let indices: Vec<usize> =
        (0..schema.fields().len()).filter(|&i| keep.contains(&schema.field(i).name().as_str())).collect();
    if indices.len() != keep.len() {
        return Err(ArrowError::SchemaError(format!("{} rows lack a window column of {keep:?}", table.name())));
    }
    b.project(&indices)
}

/// [`window_projection`] of `b`, plus `window_start` and `window_end` (tumbling windows of
/// `width_ms` on `ts`).
pub fn with_windows(b: &RecordBatch, width_ms: i64, table: Table) -> std::result::Result<RecordBatch, ArrowError> {
    let b = window_projection(b, table)?;
    let ts = b.column_by_name("ts").expect("ts column").as_primitive::<TimestampMillisecondType>();
    let starts: TimestampMillisecondArray = ts
        .iter()
        .map(|t| t.map(|t| t.div_euclid(width_ms) * width_ms))
        .collect::<TimestampMillisecondArray>()
        .with_timezone("UTC");
    let ends: TimestampMillisecondArray =
        starts.iter().map(|s| s.map(|s| s + width_ms)).collect::<TimestampMillisecondArray>().with_timezone("UTC");
    let mut cols: Vec<Arc<dyn Array>> = b.columns().to_vec();
    cols.push(Arc::new(starts));
    cols.push(Arc::new(ends));
    RecordBatch::try_new(window_input_schema(table), cols)
}

/// The event columns the jobs' SQL groups, joins and filters on most: the window and period jobs
/// read them as string views (`Utf8View`), so grouping and comparing them compares inline
/// 12-byte prefixes rather than whole strings (the same rows; less CPU in both jobs: BENCHMARKS.md,
/// "String views in the jobs' SQL"). The jobs' event inputs are `Utf8` everywhere else.
const VIEWED: [&str; 4] = ["stream_id", "region", "type", "source"];

/// The keys ([`crate::keys`]) the window job's SQL reads of each event table: the player events'
/// sessions (distinct sessions), the commerce events' viewers (buyers). Only these are made:
/// each costs a hash lookup per event, and the stream keys every minute's rows afresh.
const PLAYER_KEYS: &[&str] = &[SESSION_KEY];
const COMMERCE_KEYS: &[&str] = &[VIEWER_KEY];

/// `schema` (of event rows) as the jobs' SQL reads it: the [`VIEWED`] columns as string views,
/// then `keys` (of [`SESSION_KEY`] and [`VIEWER_KEY`]).
pub(crate) fn keyed_schema(schema: &SchemaRef, keys: &[&str]) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone();
            if VIEWED.contains(&f.name().as_str()) { f.with_data_type(DataType::Utf8View) } else { f }
        })
        .collect();
    fields.extend(keys.iter().map(|k| Field::new(*k, DataType::Int64, false)));
    Arc::new(Schema::new(fields))
}

/// The columns of event rows `b` as [`keyed_schema`] has them before the keys: the [`VIEWED`]
/// ones cast to string views (the others shared, not copied).
pub(crate) fn viewed_columns(job: &'static str, b: &RecordBatch) -> Result<Vec<ArrayRef>> {
    b.schema()
        .fields()
        .iter()
        .zip(b.columns())
        .map(|(f, c)| {
            if VIEWED.contains(&f.name().as_str()) && c.data_type() == &DataType::Utf8 {
                arrow::compute::cast(c, &DataType::Utf8View).map_err(|e| Error::Schema { job, detail: e.to_string() })
            } else {
                Ok(c.clone())
            }
        })
        .collect()
}

/// Event rows `b` as [`keyed_schema`] of their schema with `keys` (made in `keyring`).
fn keyed(b: &RecordBatch, keyring: &mut Keyring, keys: &[&str]) -> Result<RecordBatch> {
    let mut cols = viewed_columns(JOB, b)?;
    cols.extend(keys.iter().map(|k| keyring.of_events(b, k)));
    RecordBatch::try_new(keyed_schema(&b.schema(), keys), cols)
        .map_err(|e| Error::Schema { job: JOB, detail: e.to_string() })
}

/// Start of the window holding `ts`.
pub fn window_start(ts: i64, width_ms: i64) -> i64 {
    ts.div_euclid(width_ms) * width_ms
}

/// Output schema: `stream_minute`'s file schema plus the `region` partition column.
fn output_schema() -> SchemaRef {
    let base = Table::StreamMinute.schema();
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("region", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// A session's end (explicit `session_end`, or its last player event once the session timeout
/// passed without another): the `exits` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRow {
    /// Stream.
    pub stream_id: String,
    /// Region of the event that ends the session.
    pub region: String,
    /// Session.
    pub session_id: String,
    /// Event time of the end (ms).
    pub end_ts: i64,
    /// A `stall_start` or `stall_end` in the 60 s up to the end.
    pub after_stall: bool,
}

/// What a session did in the 60 s after its `session_start`: the `probes` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRow {
    /// Stream.
    pub stream_id: String,
    /// Region of the `session_start`.
    pub region: String,
    /// Session.
    pub session_id: String,
    /// Event time of the `session_start` (ms).
    pub start_ts: i64,
    /// Σ play_ms + Σ stall_ms of its player events with ts in [start, start + 60 s].
    pub watch_ms: i64,
    /// A commerce/interaction event with ts in [start, start + 60 s].
    pub interacted: bool,
}

/// `sessions_started_raw` of an earlier window: the `history` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// Stream.
    pub stream_id: String,
    /// Region.
    pub region: String,
    /// Window start (ms).
    pub window_start: i64,
    /// `session_start` events in it.
    pub sessions_started_raw: i64,
}

/// A suspect session: (stream_id, session_id).
pub type Suspect = (String, String);

/// Everything the window job reads.
#[derive(Debug, Default)]
pub struct WindowInputs {
    /// Window width (ms), to place exits, probes and history rows in their windows.
    pub width_ms: i64,
    /// Player events of the windows ([`window_input_schema`]).
    pub player: Vec<RecordBatch>,
    /// Commerce events of the windows ([`window_input_schema`]).
    pub commerce: Vec<RecordBatch>,
    /// Sessions ending in the windows.
    pub exits: Vec<ExitRow>,
    /// Sessions starting in the windows.
    pub probes: Vec<ProbeRow>,
    /// Start counts of earlier windows.
    pub history: Vec<HistoryRow>,
    /// Suspects found before (their later events are excluded too).
    pub suspects: Vec<Suspect>,
}

/// What the window job produced.
#[derive(Debug)]
pub struct WindowOutput {
    /// `stream_minute` rows (with a trailing `region` column).
    pub minute: Vec<RecordBatch>,
    /// Suspects found among this run's probes.
    pub new_suspects: Vec<Suspect>,
}

pub(crate) fn strings<'a>(v: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

pub(crate) fn times(v: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(v).with_timezone("UTC"))
}

pub(crate) fn field(name: &str, t: DataType) -> Field {
    Field::new(name, t, false)
}

fn start_of(ts: i64, width: i64) -> i64 {
    ts.div_euclid(width) * width
}

pub(crate) fn batch(fields: Vec<Field>, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| Error::Schema { job: JOB, detail: e.to_string() })
}

/// The columns every session-fact input starts with: stream_id, region, session_id and the
/// window holding `ts`.
fn session_columns<'a>(
    rows: impl Iterator<Item = (&'a str, &'a str, &'a str, i64)> + Clone,
    w: i64,
) -> (Vec<Field>, Vec<ArrayRef>) {
    let fields = vec![
        field("stream_id", DataType::Utf8),
        field("region", DataType::Utf8),
        field("session_id", DataType::Utf8),
        field("window_start", ts_type()),
        field("window_end", ts_type()),
    ];
    let cols = vec![
        strings(rows.clone().map(|r| r.0)),
        strings(rows.clone().map(|r| r.1)),
        strings(rows.clone().map(|r| r.2)),
        times(rows.clone().map(|r| start_of(r.3, w))),
        times(rows.map(|r| start_of(r.3, w) + w)),
    ];
    (fields, cols)
}

fn exits_batch(rows: &[ExitRow], w: i64) -> Result<RecordBatch> {
    let keys = rows.iter().map(|r| (r.stream_id.as_str(), r.region.as_str(), r.session_id.as_str(), r.end_ts));
    let (mut fields, mut cols) = session_columns(keys, w);
    fields.push(field("after_stall", DataType::Boolean));
    cols.push(Arc::new(rows.iter().map(|r| Some(r.after_stall)).collect::<BooleanArray>()));
    batch(fields, cols)
}

fn probes_batch(rows: &[ProbeRow], w: i64) -> Result<RecordBatch> {
    let keys = rows.iter().map(|r| (r.stream_id.as_str(), r.region.as_str(), r.session_id.as_str(), r.start_ts));
    let (mut fields, mut cols) = session_columns(keys, w);
    fields.push(field("watch_ms", DataType::Int64));
    fields.push(field("interacted", DataType::Boolean));
    cols.push(Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.watch_ms))));
    cols.push(Arc::new(rows.iter().map(|r| Some(r.interacted)).collect::<BooleanArray>()));
    batch(fields, cols)
}

fn history_batch(rows: &[HistoryRow], w: i64) -> Result<RecordBatch> {
    let fields = vec![
        field("stream_id", DataType::Utf8),
        field("region", DataType::Utf8),
        field("window_start", ts_type()),
        field("window_end", ts_type()),
        field("sessions_started_raw", DataType::Int64),
    ];
    batch(
        fields,
        vec![
            strings(rows.iter().map(|r| r.stream_id.as_str())),
            strings(rows.iter().map(|r| r.region.as_str())),
            times(rows.iter().map(|r| r.window_start)),
            times(rows.iter().map(|r| r.window_start + w)),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.sessions_started_raw))),
        ],
    )
}

pub(crate) fn suspects_batch(rows: &[Suspect]) -> Result<RecordBatch> {
    batch(
        vec![field("stream_id", DataType::Utf8), field("session_id", DataType::Utf8)],
        vec![strings(rows.iter().map(|r| r.0.as_str())), strings(rows.iter().map(|r| r.1.as_str()))],
    )
}

pub(crate) fn register(ctx: &SessionContext, name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<()> {
    let df_err = |source| Error::DataFusion { job: JOB, source };
    let t = MemTable::try_new(schema, vec![batches]).map_err(df_err)?;
    ctx.register_table(name, Arc::new(t)).map_err(df_err)?;
    Ok(())
}

/// The window job, planned once: its two queries become physical plans over tables whose rows
/// are put in place for each run ([`WindowJob::run`]), so a run only executes them. (Parsing,
/// optimizing and planning the SQL cost more than running it over a minute's rows, and windows
/// close every minute of event time.)
pub struct WindowJob {
    ctx: SessionContext,
    slots: Slots,
    starts: Arc<dyn ExecutionPlan>,
    suspects: Arc<dyn ExecutionPlan>,
    minute: Arc<dyn ExecutionPlan>,
}

/// The rows of the job's input tables during a run.
#[derive(Default)]
struct Slots {
    player: Slot,
    commerce: Slot,
    history: Slot,
    probes: Slot,
    exits: Slot,
    suspects: Slot,
    /// The result of [`WINDOW_STARTS_SQL`] during the run.
    numbered: Slot,
}

/// Rows a table's plans read, put in place for each run.
pub(crate) type Slot = Arc<Mutex<Vec<RecordBatch>>>;

impl WindowJob {
    /// Plan the job's queries to run on all cores (a batch job's input: many rows at once).
    pub async fn new() -> Result<WindowJob> {
        Self::with_partitions(SessionConfig::new().target_partitions()).await
    }

    /// Plan the job's queries to run in `partitions` partitions. The stream's closings run with
    /// one: a minute's rows are few, so the repartitioning and the second aggregation stage of
    /// more partitions cost more than they gain, and the job runs beside the applying thread.
    pub async fn with_partitions(partitions: usize) -> Result<WindowJob> {
        let df_err = |source| Error::DataFusion { job: JOB, source };
        let mut config = SessionConfig::new().with_target_partitions(partitions.max(1));
        // A plan that is run again must not carry filters derived from an earlier run's rows.
        config.options_mut().optimizer.enable_dynamic_filter_pushdown = false;
        // Every join's build side is small (the suspects; `p`'s and `c`'s rows per window): it is
        // collected whole, and the events probe it as they come, not hash-repartitioned first
        // (the job's inputs have no statistics for DataFusion to choose this from).
        config.options_mut().optimizer.repartition_joins = false;
        let ctx = crate::lake::session(config);
        let slots = Slots::default();
        let tables: [(&str, SchemaRef, &Slot); 6] = [
            ("player", keyed_schema(&window_input_schema(Table::PlayerEvents), PLAYER_KEYS), &slots.player),
            ("commerce", keyed_schema(&window_input_schema(Table::CommerceEvents), COMMERCE_KEYS), &slots.commerce),
            ("history", history_batch(&[], 1)?.schema(), &slots.history),
            ("probes", probes_batch(&[], 1)?.schema(), &slots.probes),
            ("exits", exits_batch(&[], 1)?.schema(), &slots.exits),
            ("suspects", suspects_batch(&[])?.schema(), &slots.suspects),
        ];
        for (name, schema, slot) in tables {
            let table = SlotTable { schema, slot: slot.clone(), read: SlotRead::Running };
            ctx.register_table(name, Arc::new(table)).map_err(df_err)?;
        }
        let plan = async |sql: &str| ctx.sql(sql).await?.create_physical_plan().await;
        let starts = plan(WINDOW_STARTS_SQL).await.map_err(df_err)?;
        // Its rows are read three times by the suspect query: computed once, then read from a slot.
        let numbered = SlotTable { schema: starts.schema(), slot: slots.numbered.clone(), read: SlotRead::Running };
        ctx.register_table("numbered", Arc::new(numbered)).map_err(df_err)?;
        let suspects = plan(SUSPECTS_SQL).await.map_err(df_err)?;
        let minute = plan(STREAM_MINUTE_SQL).await.map_err(df_err)?;
        Ok(WindowJob { ctx, slots, starts, suspects, minute })
    }

    /// Run the window job: find the suspects among `probes`, then compute `stream_minute` with
    /// every suspect (earlier and new) excluded from the cleaned columns.
    pub async fn run(&self, mut inputs: WindowInputs) -> Result<WindowOutput> {
        // Keys for this run's rows only: they are counted within a window, never kept.
        let mut keys = Keyring::default();
        inputs.player = inputs.player.iter().map(|b| keyed(b, &mut keys, PLAYER_KEYS)).collect::<Result<_>>()?;
        inputs.commerce = inputs.commerce.iter().map(|b| keyed(b, &mut keys, COMMERCE_KEYS)).collect::<Result<_>>()?;
        self.run_keyed(inputs).await
    }

    /// [`WindowJob::run`] over events keyed already: `inputs`' player rows have their
    /// [`SESSION_KEY`] and its commerce rows their [`VIEWER_KEY`], with the [`VIEWED`] columns
    /// as string views, as [`crate::KeyedEvents`] has them (other columns are left out here).
    pub(crate) async fn run_keyed(&self, inputs: WindowInputs) -> Result<WindowOutput> {
        let w = inputs.width_ms;
        let s = &self.slots;
        let input = |table: Table, keys: &[&str], rows: &[RecordBatch]| -> Result<Vec<RecordBatch>> {
            let schema = keyed_schema(&window_input_schema(table), keys);
            // By name; the columns are shared, not copied (their types are the schema's).
            rows.iter().map(|b| conform(JOB, b, &schema)).collect()
        };
        put(&s.player, input(Table::PlayerEvents, PLAYER_KEYS, &inputs.player)?);
        put(&s.commerce, input(Table::CommerceEvents, COMMERCE_KEYS, &inputs.commerce)?);
        put(&s.history, vec![history_batch(&inputs.history, w)?]);
        put(&s.probes, vec![probes_batch(&inputs.probes, w)?]);
        put(&s.exits, vec![exits_batch(&inputs.exits, w)?]);
        let out = self.suspects_and_minutes(inputs.suspects).await;
        for slot in [&s.player, &s.commerce, &s.history, &s.probes, &s.exits, &s.suspects, &s.numbered] {
            put(slot, Vec::new());
        }
        out
    }

    async fn suspects_and_minutes(&self, mut all: Vec<Suspect>) -> Result<WindowOutput> {
        let numbered = self.execute("window_starts", &self.starts).await?;
        put(&self.slots.numbered, numbered);
        let found = self.execute("suspects", &self.suspects).await?;
        let mut new_suspects = Vec::new();
        for b in &found {
            // Strings or string views (the events' `stream_id` is a view, see [`VIEWED`]).
            let col = |i: usize| {
                let c = b.column(i);
                let err = |detail: String| Error::Schema { job: "suspects", detail };
                match c.data_type() {
                    DataType::Utf8 | DataType::Utf8View => {
                        arrow::compute::cast(c, &DataType::Utf8).map_err(|e| err(format!("column {i}: {e}")))
                    }
                    t => Err(err(format!("column {i} is {t}, not utf8"))),
                }
            };
            let (s, id) = (col(0)?, col(1)?);
            let (s, id) = (s.as_string::<i32>(), id.as_string::<i32>());
            new_suspects.extend((0..b.num_rows()).map(|i| (s.value(i).to_string(), id.value(i).to_string())));
        }
        all.extend(new_suspects.iter().cloned());
        put(&self.slots.suspects, vec![suspects_batch(&all)?]);
        let out = self.execute("stream_minute", &self.minute).await?;
        let target = output_schema();
        let minute =
            out.iter().filter(|b| b.num_rows() > 0).map(|b| conform(JOB, b, &target)).collect::<Result<_>>()?;
        Ok(WindowOutput { minute, new_suspects })
    }

    /// Run a plan over the rows in place (a fresh copy of it: operators keep state of a run).
    async fn execute(&self, name: &'static str, plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<RecordBatch>> {
        let plan = reset_plan_states(plan.clone()).map_err(|source| Error::DataFusion { job: JOB, source })?;
        run_plan(name, plan, self.ctx.task_ctx()).await
    }
}

/// Put `rows` in `slot` (the rows before go).
pub(crate) fn put(slot: &Slot, rows: Vec<RecordBatch>) {
    *slot.lock().expect("a slot is never poisoned") = rows;
}

/// When the plans over a [`SlotTable`] read its slot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SlotRead {
    /// Each time a plan runs: a physical plan made once runs again over each run's rows (the
    /// window job; the period job's three tables).
    Running,
    /// When a plan over it is made, as over a `MemTable`: DataFusion sees how many rows each input
    /// has when it picks a join's sides (the period job's passes, whose SQL is parsed and
    /// optimized once and planned for each run).
    Planning,
}

/// A table whose rows are those in its slot, read when [`SlotRead`] says.
#[derive(Debug)]
pub(crate) struct SlotTable {
    pub(crate) schema: SchemaRef,
    pub(crate) slot: Slot,
    pub(crate) read: SlotRead,
}

#[async_trait::async_trait]
impl TableProvider for SlotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        match self.read {
            SlotRead::Running => {
                let rows = SlotRows { slot: self.slot.clone(), next: 0 };
                let exec = LazyMemoryExec::try_new(self.schema.clone(), vec![Arc::new(RwLock::new(rows))])?;
                Ok(Arc::new(exec.with_projection(projection.cloned())))
            }
            SlotRead::Planning => {
                let rows = self.slot.lock().expect("a slot is never poisoned").clone();
                Ok(MemorySourceConfig::try_new_exec(&[rows], self.schema.clone(), projection.cloned())?)
            }
        }
    }
}

/// The rows of a slot, batch by batch, from the first each time a plan runs.
#[derive(Debug)]
struct SlotRows {
    slot: Slot,
    next: usize,
}

impl std::fmt::Display for SlotRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "window job slot")
    }
}

impl LazyBatchGenerator for SlotRows {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn generate_next_batch(&mut self) -> datafusion::error::Result<Option<RecordBatch>> {
        let batch = self.slot.lock().expect("a window job slot is never poisoned").get(self.next).cloned();
        self.next += 1;
        Ok(batch)
    }

    fn reset_state(&self) -> Arc<RwLock<dyn LazyBatchGenerator>> {
        Arc::new(RwLock::new(SlotRows { slot: self.slot.clone(), next: 0 }))
    }
}
