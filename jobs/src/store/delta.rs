//! The lake's tables as Delta Lake tables (docs/lake.md, "Delta Lake"): where a lake lives (a
//! local directory or an S3-compatible bucket), each table created on first use with its schema
//! and Hive partition columns, Parquet files written with the lake's writer settings into the
//! table's partition folders and committed as `add` actions, together with application
//! transactions (`txn`), in one Delta commit, and the latest `txn` version of an application read
//! back from the log. Every engine that reads Delta (Spark, Trino, DuckDB, Polars, delta-rs) sees
//! exactly the committed files; a file written but never committed is invisible and VACUUM
//! removes it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
pub use deltalake::DeltaTable;
pub use deltalake::ObjectStoreError;
use deltalake::delta_datafusion::{DeltaScanConfig, DeltaScanNext};
use deltalake::kernel::Remove;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
pub use deltalake::kernel::{Action, Add};
use deltalake::kernel::{StructType, Transaction};
pub use deltalake::logstore::object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, path::Path as ObjectPath,
};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTableBuilder, DeltaTableError};
use livelake_schemas::{PartitionLevel, Table};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;
use url::Url;

use super::parquet::writer_properties_for;
use super::stats::{FileStats, computed_here};
use crate::error::{Error, Result};
use crate::lake::sql_schema;

/// Where a lake lives: its root URL (`file:///…/` or `s3://bucket/prefix/`) and the storage
/// options for it (endpoint, region, credentials; the conventional `AWS_*` environment variables
/// are read as well).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeUrl {
    root: Url,
    options: HashMap<String, String>,
}

impl LakeUrl {
    /// Parse `--lake`: a plain path (relative to the working directory), `file://…`,
    /// `s3://bucket/prefix` or `s3a://…`. Anything else is refused in one line.
    pub fn parse(lake: &str, options: HashMap<String, String>) -> Result<LakeUrl> {
        register_object_stores();
        let bad = |why: String| Error::Config(format!("--lake {lake}: {why}"));
        let mut root = if lake.contains("://") {
            let url = Url::parse(lake).map_err(|e| bad(e.to_string()))?;
            match url.scheme() {
                "file" | "s3" | "s3a" => url,
                other => {
                    return Err(bad(format!(
                        "unsupported scheme {other}: use a path, file://, or s3:// (S3-compatible stores such \
                         as Alibaba OSS, Tencent COS or MinIO through their S3 endpoint)"
                    )));
                }
            }
        } else {
            let abs = std::path::absolute(lake).map_err(|e| bad(e.to_string()))?;
            Url::from_directory_path(&abs).map_err(|()| bad("not an absolute path".into()))?
        };
        if matches!(root.scheme(), "s3" | "s3a") && root.host_str().is_none_or(str::is_empty) {
            return Err(bad("an s3:// lake needs a bucket: s3://bucket/prefix".into()));
        }
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        Ok(LakeUrl { root, options })
    }

    /// The root URL (with a trailing `/`).
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// The directory of a lake on local disk; `None` for object storage.
    pub fn local_dir(&self) -> Option<PathBuf> {
        // Without the URL's trailing `/` (`/x/lake`, not `/x/lake/`).
        (self.root.scheme() == "file")
            .then(|| self.root.to_file_path().ok())
            .flatten()
            .map(|p| p.components().collect())
    }

    /// The URL of a table's folder.
    pub fn table_url(&self, table: Table) -> Url {
        self.root.join(&format!("{}/", table.name())).expect("a table name is a valid URL segment")
    }

    /// The storage options.
    pub fn options(&self) -> &HashMap<String, String> {
        &self.options
    }
}

impl std::fmt::Display for LakeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.local_dir() {
            Some(dir) => write!(f, "{}", dir.display()),
            None => write!(f, "{}", self.root),
        }
    }
}

/// The object store of the lake's internal folder `<lake>/_livelake/` (engine snapshots and
/// commit records; no Delta table), paths relative to it.
pub fn internal_store(lake: &LakeUrl) -> Result<Arc<dyn ObjectStore>> {
    let at = lake.root.join("_livelake/").expect("a valid URL segment");
    deltalake::logstore::store_for(&at, lake.options.iter().map(|(k, v)| (k.clone(), v.clone())))
        .map_err(|e| Error::Delta { table: "_livelake", op: "opening", source: Box::new(e) })
}

/// The S3 object store handlers of delta-rs (a linker may drop its automatic registration).
fn register_object_stores() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| deltalake::aws::register_handlers(None));
}

/// Attach the table and what was being done to a Delta error.
pub fn delta_error(table: Table, op: &'static str) -> impl FnOnce(DeltaTableError) -> Error {
    move |source| Error::Delta { table: table.name(), op, source: Box::new(source) }
}

/// A table's Delta schema: its file columns, then its partition columns (typed as in SQL:
/// `region` string, `date` date, `hour` integer).
pub fn delta_schema(table: Table) -> Result<StructType> {
    sql_schema(table)
        .as_ref()
        .try_into_kernel()
        .map_err(|e| Error::Schema { job: "delta schema", detail: format!("{}: {e}", table.name()) })
}

/// The table `table` of the lake, loaded at its latest version; `None` when it has no Delta log
/// yet.
pub async fn open_table(lake: &LakeUrl, table: Table) -> Result<Option<DeltaTable>> {
    if lake.local_dir().is_some_and(|d| !d.join(table.name()).is_dir()) {
        return Ok(None);
    }
    let mut dt = unloaded(lake, table)?;
    // Asked first: loading a table that is not there also works, but logs an error.
    if !dt.verify_deltatable_existence().await.map_err(delta_error(table, "loading"))? {
        return Ok(None);
    }
    match dt.load().await {
        Ok(()) => Ok(Some(dt)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(e) => Err(delta_error(table, "loading")(e)),
    }
}

/// The table `table` of the lake, created (empty, with its schema and partition columns) when
/// it has no Delta log yet.
pub async fn open_or_create(lake: &LakeUrl, table: Table) -> Result<DeltaTable> {
    if let Some(dt) = open_table(lake, table).await? {
        return Ok(dt);
    }
    create_table(lake, table, Vec::new(), &[], SaveMode::Ignore).await
}

/// Create table `table` of the lake with files that are already in its folders (`adds`) and
/// application transactions `txns` in its first commit (the conversion of a lake of an earlier
/// livelake). Fails when the table has a Delta log.
pub async fn create_with_files(
    lake: &LakeUrl,
    table: Table,
    adds: Vec<Add>,
    txns: &[(String, i64)],
) -> Result<DeltaTable> {
    create_table(lake, table, adds, txns, SaveMode::ErrorIfExists).await
}

async fn create_table(
    lake: &LakeUrl,
    table: Table,
    adds: Vec<Add>,
    txns: &[(String, i64)],
    mode: SaveMode,
) -> Result<DeltaTable> {
    if let Some(dir) = lake.local_dir() {
        let dir = dir.join(table.name());
        std::fs::create_dir_all(&dir).map_err(crate::io("creating", &dir))?;
    }
    let schema = delta_schema(table)?;
    let props = CommitProperties::default().with_application_transactions(transactions(txns));
    unloaded(lake, table)?
        .create()
        .with_table_name(table.name())
        .with_columns(schema.fields().cloned())
        .with_partition_columns(partition_columns(table))
        .with_actions(adds.into_iter().map(Action::Add))
        .with_commit_properties(props)
        .with_save_mode(mode)
        .await
        .map_err(delta_error(table, "creating"))
}

/// The table's partition columns, outermost first.
fn partition_columns(table: Table) -> Vec<String> {
    table.partitioning().iter().map(|l| l.name().to_string()).collect()
}

/// Application transactions (app id, version) as Delta actions.
fn transactions(txns: &[(String, i64)]) -> Vec<Transaction> {
    txns.iter().map(|(app, v)| Transaction::new(app, *v)).collect()
}

fn unloaded(lake: &LakeUrl, table: Table) -> Result<DeltaTable> {
    DeltaTableBuilder::from_url(lake.table_url(table))
        .and_then(|b| b.with_storage_options(lake.options.clone()).build())
        .map_err(delta_error(table, "opening"))
}

/// One partition's rows of a table (file columns only, sorted for the file) and the partition
/// they belong to.
#[derive(Debug, Clone)]
pub struct PartitionRows {
    /// Folder of the partition relative to the table, e.g. `region=EU/date=2026-11-27/hour=15`.
    pub dir: String,
    /// The partition values, keyed by column, as Delta serialises them (`EU`, `2026-11-27`, `15`).
    pub values: HashMap<String, Option<String>>,
    /// The rows.
    pub batch: RecordBatch,
}

impl PartitionRows {
    /// The partition of the lake folder `dir` (relative to the lake or to the table, Hive style)
    /// of `table`.
    pub fn new(table: Table, dir: &Path, batch: RecordBatch) -> PartitionRows {
        let dir = dir.strip_prefix(table.name()).unwrap_or(dir).to_string_lossy().into_owned();
        PartitionRows { values: partition_values(&dir), dir, batch }
    }
}

/// The partition values of a Hive folder below a table (`region=EU/date=2026-11-27/hour=05`), as
/// Delta serialises them (`EU`, `2026-11-27`, `5`).
pub fn partition_values(dir: &str) -> HashMap<String, Option<String>> {
    let mut values = HashMap::new();
    for part in dir.split('/') {
        if let Some((k, v)) = part.split_once('=') {
            let v = if k == PartitionLevel::Hour.name() {
                v.parse::<u32>().map(|h| h.to_string()).unwrap_or_else(|_| v.to_string())
            } else {
                v.to_string()
            };
            values.insert(k.to_string(), Some(v));
        }
    }
    values
}

/// Write one Parquet file per partition into the table's folders (not yet visible to anyone)
/// and return their `add` actions, with statistics ([`FileStats`]). `name` gives the file name
/// of the `i`-th partition.
pub async fn write_files(
    dt: &DeltaTable,
    parts: Vec<PartitionRows>,
    name: impl Fn(usize) -> String,
    now_ms: i64,
) -> Result<Vec<Add>> {
    let mut adds = Vec::with_capacity(parts.len());
    for (i, p) in parts.into_iter().enumerate() {
        let props = writer_properties_for(p.batch.num_rows());
        let mut w = FileWriter::new(&p.dir, &name(i), p.values, p.batch.schema(), props)?;
        w.write(&p.batch)?;
        adds.push(w.finish(dt, now_ms).await?);
    }
    Ok(adds)
}

/// One Parquet file of a table, written batch by batch (the lake's writer settings) and stored
/// whole when finished: the encoded bytes are held, never the rows.
pub struct FileWriter {
    rel: String,
    values: HashMap<String, Option<String>>,
    writer: ArrowWriter<Vec<u8>>,
    schema: SchemaRef,
    /// The columns whose statistics are not read from the footer ([`computed_here`]), and theirs.
    here: (Vec<usize>, FileStats),
}

impl FileWriter {
    /// A file `name` in partition folder `dir` (relative to the table; "" for none) with
    /// partition `values`, written with `props` (the lake's: [`super::writer_properties`], or
    /// [`writer_properties_for`] its number of rows when known).
    pub fn new(
        dir: &str,
        name: &str,
        values: HashMap<String, Option<String>>,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Result<Self> {
        let rel = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
        let here = schema.fields().iter().enumerate().filter(|(_, f)| computed_here(f.data_type())).map(|(i, _)| i);
        let here = (here.collect(), FileStats::default());
        let writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))
            .map_err(|source| Error::Parquet { path: PathBuf::from(&rel), source })?;
        Ok(FileWriter { rel, values, writer, schema, here })
    }

    /// Append rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let (columns, stats) = &mut self.here;
        if !columns.is_empty() {
            stats.add(&batch.project(columns)?);
        }
        self.writer.write(batch).map_err(|source| Error::Parquet { path: PathBuf::from(&self.rel), source })
    }

    /// The file's bytes and its `stats` JSON: the writer closed.
    fn encode(&mut self) -> Result<(Vec<u8>, String)> {
        let meta = self.writer.finish().map_err(|source| Error::Parquet { path: PathBuf::from(&self.rel), source })?;
        let stats = FileStats::from_footer(&self.schema, &meta, &self.here.1).json();
        // `finish` wrote the footer and flushed: the buffer holds the whole file.
        Ok((std::mem::take(self.writer.inner_mut()), stats))
    }

    /// Store the file; its `add` action, with statistics.
    pub async fn finish(mut self, dt: &DeltaTable, now_ms: i64) -> Result<Add> {
        let (bytes, stats) = self.encode()?;
        let rel = self.rel;
        let size = bytes.len() as i64;
        let path = deltalake::Path::from(rel.as_str());
        dt.object_store().put(&path, PutPayload::from(bytes)).await.map_err(|e| Error::ObjectStore {
            op: "writing",
            path: format!("{}{rel}", dt.table_url()),
            source: Box::new(e),
        })?;
        Ok(Add {
            path: rel,
            partition_values: self.values,
            size,
            modification_time: now_ms,
            data_change: true,
            stats: Some(stats),
            ..Default::default()
        })
    }
}

/// Commit `actions` to the table in one Delta commit carrying the application transactions
/// `txns` (app id, version) and `info` in its commitInfo; the table moves to the new version,
/// which is returned.
pub async fn commit(
    dt: &mut DeltaTable,
    table: Table,
    actions: Vec<Action>,
    txns: &[(String, i64)],
    operation: DeltaOperation,
    info: HashMap<String, serde_json::Value>,
) -> Result<u64> {
    let props = CommitProperties::default().with_application_transactions(transactions(txns)).with_metadata(info);
    let snapshot = dt.snapshot().map_err(delta_error(table, "committing"))?;
    let done = CommitBuilder::from(props)
        .with_actions(actions)
        .build(Some(snapshot), dt.log_store(), operation)
        .await
        .map_err(delta_error(table, "committing"))?;
    let version = done.version;
    dt.state = Some(done.snapshot);
    Ok(version)
}

/// A file the table's log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedFile {
    /// Path relative to the table (decoded).
    pub path: String,
    /// Partition values, keyed by column.
    pub values: HashMap<String, Option<String>>,
    /// Bytes.
    pub size: i64,
    /// Rows, when the log records them.
    pub rows: Option<u64>,
    /// When it was written (ms since the epoch).
    pub modification_time: i64,
}

impl CommittedFile {
    /// The partition folder below the table (`region=EU/date=…/hour=…`), from the path.
    pub fn dir(&self) -> &str {
        self.path.rsplit_once('/').map_or("", |(d, _)| d)
    }

    /// The `remove` action of this file (`data_change`: false when its rows stay in the table,
    /// rewritten into another file).
    pub fn remove(&self, data_change: bool, now_ms: i64) -> Action {
        Action::Remove(Remove {
            path: self.path.clone(),
            data_change,
            deletion_timestamp: Some(now_ms),
            extended_file_metadata: Some(true),
            partition_values: Some(self.values.clone()),
            size: Some(self.size),
            ..Default::default()
        })
    }
}

/// The files of the table at its loaded version (from the log; nothing listed), in path order.
pub fn committed_files(dt: &DeltaTable, table: Table) -> Result<Vec<CommittedFile>> {
    let snapshot = dt.snapshot().map_err(delta_error(table, "reading the file list"))?;
    let mut out: Vec<CommittedFile> = snapshot
        .log_data()
        .iter()
        .map(|f| CommittedFile {
            path: f.path().into_owned(),
            values: f.partition_values_map(),
            size: f.size(),
            rows: f.num_records().map(|n| n as u64),
            modification_time: f.modification_time(),
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The committed files of `table` of a lake on local disk, as paths (none before the table's
/// first commit).
pub async fn local_files(dir: &Path, table: Table) -> Result<Vec<PathBuf>> {
    let lake = LakeUrl::parse(&dir.to_string_lossy(), HashMap::new())?;
    let Some(dt) = open_table(&lake, table).await? else { return Ok(Vec::new()) };
    Ok(committed_files(&dt, table)?.into_iter().map(|f| dir.join(table.name()).join(f.path)).collect())
}

/// Every row of the table's files `files` (file columns only), in order.
pub async fn read_files(dt: &DeltaTable, files: &[CommittedFile]) -> Result<Vec<RecordBatch>> {
    let store = dt.object_store();
    let mut out = Vec::new();
    for f in files {
        let path = deltalake::Path::from(f.path.as_str());
        let url = format!("{}{}", dt.table_url(), f.path);
        let store_err = |e| Error::ObjectStore { op: "reading", path: url.clone(), source: Box::new(e) };
        let bytes = store.get(&path).await.map_err(store_err)?.bytes().await.map_err(store_err)?;
        let pq = |source| Error::Parquet { path: PathBuf::from(&url), source };
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(pq)?.build().map_err(pq)?;
        for b in reader {
            out.push(b.map_err(|e| pq(e.into()))?);
        }
    }
    Ok(out)
}

/// The operation of a compaction (rows rewritten into fewer files, none changed).
pub fn optimize_operation(target_size: i64) -> DeltaOperation {
    DeltaOperation::Optimize { predicate: None, target_size }
}

/// The operation of a job that replaces the content of some partitions (`predicate`: which, as
/// SQL, for the table's history).
pub fn replace_operation(table: Table, predicate: String) -> DeltaOperation {
    DeltaOperation::Write {
        mode: SaveMode::Overwrite,
        partition_by: Some(partition_columns(table)),
        predicate: Some(predicate),
    }
}

/// Which state of the tables to read: the latest, a table version, or the state at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AsOf {
    /// The latest version.
    #[default]
    Latest,
    /// Each table at this version (a table with fewer versions at its latest).
    Version(u64),
    /// Each table as it was at this time (ms since the epoch); a table created later is empty.
    Time(i64),
}

impl AsOf {
    /// `--as-of`: a version number, or an RFC 3339 time.
    pub fn parse(text: &str) -> Result<AsOf> {
        if let Ok(v) = text.parse::<u64>() {
            return Ok(AsOf::Version(v));
        }
        chrono::DateTime::parse_from_rfc3339(text).map(|t| AsOf::Time(t.timestamp_millis())).map_err(|_| {
            Error::Config(format!("--as-of {text}: neither a table version (0, 1, …) nor an RFC 3339 time"))
        })
    }
}

/// The table `table` of the lake as of `as_of`; `None` when it did not exist then.
pub async fn open_table_as_of(lake: &LakeUrl, table: Table, as_of: AsOf) -> Result<Option<DeltaTable>> {
    let Some(mut dt) = open_table(lake, table).await? else { return Ok(None) };
    match as_of {
        AsOf::Latest => {}
        AsOf::Version(v) => {
            if dt.version().is_some_and(|latest| v < latest) {
                dt.load_version(v).await.map_err(delta_error(table, "loading a version"))?;
            }
        }
        AsOf::Time(ms) => {
            // Versions are dated by their commit files (as `load_with_datetime` reads them).
            let first = deltalake::Path::from("_delta_log/00000000000000000000.json");
            let created = dt.object_store().head(&first).await.map_err(|e| Error::ObjectStore {
                op: "reading",
                path: format!("{}{first}", dt.table_url()),
                source: Box::new(e),
            })?;
            if created.last_modified.timestamp_millis() > ms {
                return Ok(None);
            }
            let at = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
            dt.load_with_datetime(at).await.map_err(delta_error(table, "loading the state at a time"))?;
        }
    }
    Ok(Some(dt))
}

/// When the table's latest commit was made (ms since the epoch), from its commitInfo.
pub async fn commit_time(dt: &DeltaTable) -> Option<i64> {
    use futures::StreamExt;
    let mut history = dt.history(Some(1));
    history.next().await.and_then(|c| c.ok()).and_then(|c| c.timestamp)
}

/// VACUUM: delete the files no version younger than `retention_hours` needs, and files no
/// commit ever named (a crashed commit's) older than that — the latter only with a retention of
/// an hour or more, so that the files of a commit `livelake run` is making meanwhile are never
/// taken. Returns the files deleted.
pub async fn vacuum(lake: &LakeUrl, table: Table, retention_hours: u64) -> Result<usize> {
    use deltalake::operations::vacuum::VacuumMode;
    let Some(dt) = open_table(lake, table).await? else { return Ok(0) };
    let mode = if retention_hours >= 1 { VacuumMode::Full } else { VacuumMode::Lite };
    let (_, metrics) = dt
        .vacuum()
        .with_retention_period(chrono::Duration::hours(retention_hours as i64))
        .with_enforce_retention_duration(false)
        .with_mode(mode)
        .await
        .map_err(delta_error(table, "vacuum"))?;
    Ok(metrics.files_deleted.len())
}

/// The operation of a streaming append (how it shows in the table's history).
pub fn append_operation(table: Table) -> DeltaOperation {
    DeltaOperation::Write { mode: SaveMode::Append, partition_by: Some(partition_columns(table)), predicate: None }
}

/// Read the commits made to the table since it was loaded (by other writers).
pub async fn refresh(dt: &mut DeltaTable, table: Table) -> Result<()> {
    dt.update_incremental(None).await.map_err(delta_error(table, "reading the log"))
}

/// The latest version the table's log records for application transaction `app_id`.
pub async fn txn_version(dt: &DeltaTable, table: Table, app_id: &str) -> Result<Option<i64>> {
    let snapshot = dt.snapshot().map_err(delta_error(table, "reading txn"))?;
    snapshot.transaction_version(dt.log_store().as_ref(), app_id).await.map_err(delta_error(table, "reading txn"))
}

/// The table as a DataFusion table provider over its committed files at the loaded version
/// (file list and partition values from the log; no folder is listed), with the columns typed as
/// `livelake sql` shows them (the lake schema of docs/lake.md). Registers the table's object
/// store with `ctx`.
pub fn provider(
    dt: &DeltaTable,
    table: Table,
    ctx: &datafusion::prelude::SessionContext,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let snapshot = dt.snapshot().map_err(delta_error(table, "reading"))?;
    dt.update_datafusion_session(&ctx.state()).map_err(delta_error(table, "reading"))?;
    let config = DeltaScanConfig::new()
        .with_wrap_partition_values(false)
        .with_parquet_pushdown(true)
        .with_schema(sql_schema(table));
    let scan = DeltaScanNext::new(snapshot.snapshot().clone(), config)
        .map_err(|source| Error::DataFusion { job: table.name(), source })?;
    Ok(Arc::new(scan))
}

#[cfg(test)]
mod tests;
