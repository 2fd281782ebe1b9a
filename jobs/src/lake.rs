//! The lake as SQL tables: every table of `docs/lake.md` registered by name over its Delta log
//! (the committed files, nothing listed), with the partition columns typed (`region` utf8, `date`
//! date, `hour` int), so a filter on them reads only the matching partitions' files. A table
//! without a Delta log yet is registered empty with the same columns: queries over it return no
//! rows instead of "table not found".

use std::num::NonZeroUsize;
use std::sync::{Arc, RwLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use livelake_schemas::{PartitionLevel, Table};

use crate::store::delta::{self, AsOf, LakeUrl};
use crate::workdir::WorkDir;
use crate::{Error, Result};

/// The SQL type of a partition column.
pub fn level_type(level: PartitionLevel) -> DataType {
    match level {
        PartitionLevel::Region => DataType::Utf8,
        PartitionLevel::Date => DataType::Date32,
        PartitionLevel::Hour => DataType::Int32,
    }
}

/// A table's columns as SQL sees them: the file columns, then the partition columns.
pub fn sql_schema(table: Table) -> SchemaRef {
    let mut fields: Vec<Field> = table.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(table.partitioning().iter().map(|l| Field::new(l.name(), level_type(*l), false)));
    Arc::new(Schema::new(fields))
}

/// The runtime every job's session shares once [`set_memory_limit`] ran.
static RUNTIME: RwLock<Option<Arc<RuntimeEnv>>> = RwLock::new(None);

/// Bound the memory of the DataFusion plans of this process's jobs (the rollup's reads, sorts,
/// passes and SQL; the report's) to `mb` MiB in all: one pool, first come first served (a pool
/// that splits itself fairly between the spilling operators left sorts no room to merge at the
/// same limits). Sorts and aggregations that find it full spill to temporary files in a locked
/// `livelake-spill-*` directory in the OS temp directory (TMPDIR), which the returned [`Spill`]
/// removes when it is dropped, and the next job when this process was killed. An operator that
/// cannot spill (a hash join's build side) and would pass the limit fails the job with
/// "Resources exhausted" and the largest consumers named. Data a job holds between plans (a group
/// of shows' deduplicated events, session state) is not in the pool: `rollup.group_events`
/// bounds that. Applies to sessions created afterwards, while the [`Spill`] lives.
pub fn set_memory_limit(mb: u64) -> Result<Spill> {
    let spill = Spill::new(mb, &std::env::temp_dir())?;
    *RUNTIME.write().expect("runtime lock") = Some(spill.runtime.clone());
    Ok(spill)
}

/// The memory limit and spill directory of [`set_memory_limit`]: hold it while the jobs run.
/// Dropped, it removes the spill directory, and sessions created afterwards have neither.
#[must_use = "dropping it removes the spill directory and the memory limit"]
#[derive(Debug)]
pub struct Spill {
    runtime: Arc<RuntimeEnv>,
    _dir: WorkDir,
}

impl Spill {
    /// A runtime of `mb` MiB whose spill files go into a new work directory in `parent`.
    fn new(mb: u64, parent: &std::path::Path) -> Result<Spill> {
        let dir = WorkDir::new(parent, "spill")?;
        let bytes = usize::try_from(mb.max(1) << 20).unwrap_or(usize::MAX);
        let pool = TrackConsumersPool::new(GreedyMemoryPool::new(bytes), NonZeroUsize::new(5).expect("5 > 0"));
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(pool))
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.path().to_path_buf()])),
            )
            .build_arc()
            .map_err(|source| Error::DataFusion { job: "memory limit", source })?;
        Ok(Spill { runtime, _dir: dir })
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let mut current = RUNTIME.write().expect("runtime lock");
        if current.as_ref().is_some_and(|r| Arc::ptr_eq(r, &self.runtime)) {
            *current = None;
        }
    }
}

/// A session with `config` on the shared runtime (see [`set_memory_limit`]).
pub(crate) fn session(config: SessionConfig) -> SessionContext {
    match RUNTIME.read().expect("runtime lock").clone() {
        Some(runtime) => {
            // What a sort sets aside to merge its spilled runs (default 10 MB per partition):
            // at most a 32nd of the pool, so that small limits still leave room to sort.
            let pool = runtime.memory_pool.memory_limit();
            let reserve = match pool {
                datafusion::execution::memory_pool::MemoryLimit::Finite(n) => (n / 32).min(10 << 20),
                _ => 10 << 20,
            };
            let config = config.set_usize("datafusion.execution.sort_spill_reservation_bytes", reserve);
            SessionContext::new_with_config_rt(config, runtime)
        }
        None => SessionContext::new_with_config(config),
    }
}

/// A session for queries over a lake: `information_schema` on (`SHOW TABLES`, `SHOW COLUMNS`),
/// Parquet filters pushed into the scan (row-group statistics and page indexes prune).
pub fn lake_session() -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        .set_bool("datafusion.execution.parquet.reorder_filters", true);
    session(config)
}

/// Register every table of the lake (see the module docs); returns the names of the tables that
/// exist (have a Delta log).
pub async fn register_lake(ctx: &SessionContext, lake: &LakeUrl) -> Result<Vec<&'static str>> {
    register_lake_as_of(ctx, lake, AsOf::Latest).await
}

/// [`register_lake`] with every table as of `as_of` (time travel: "what did the lake say at
/// 14:00?").
pub async fn register_lake_as_of(ctx: &SessionContext, lake: &LakeUrl, as_of: AsOf) -> Result<Vec<&'static str>> {
    let err = |source| Error::DataFusion { job: "register lake", source };
    // Each table's log is read on a task of its own: a lake of many commits spends most of a
    // small query's time here, and the tables do not depend on each other.
    let opening: Vec<_> = Table::ALL
        .into_iter()
        .map(|table| {
            let lake = lake.clone();
            tokio::spawn(async move { delta::open_table_as_of(&lake, table, as_of).await })
        })
        .collect();
    let mut present = Vec::new();
    for (table, opened) in Table::ALL.into_iter().zip(opening) {
        match opened.await.expect("opening a table does not panic")? {
            Some(dt) => {
                ctx.register_table(table.name(), delta::provider(&dt, table, ctx)?).map_err(err)?;
                present.push(table.name());
            }
            None => {
                let empty = MemTable::try_new(sql_schema(table), vec![vec![]]).map_err(err)?;
                ctx.register_table(table.name(), Arc::new(empty)).map_err(err)?;
            }
        }
    }
    Ok(present)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_plan::{ExecutionPlan, collect};

    /// Spill files written by `plan` and its children.
    fn spills(plan: &Arc<dyn ExecutionPlan>) -> usize {
        plan.metrics().and_then(|m| m.spill_count()).unwrap_or(0)
            + plan.children().into_iter().map(spills).sum::<usize>()
    }

    #[tokio::test]
    async fn the_plans_spill_into_the_work_directory_which_goes_with_the_spill() {
        let parent = tempfile::tempdir().unwrap();
        let spill = Spill::new(4, parent.path()).unwrap();
        let dir = parent.path().read_dir().unwrap().next().unwrap().unwrap().path();
        assert!(dir.file_name().unwrap().to_string_lossy().starts_with("livelake-spill-"));
        let paths = spill.runtime.disk_manager.temp_dir_paths();
        assert!(!paths.is_empty() && paths.iter().all(|p| p.starts_with(&dir)), "{paths:?} in {dir:?}");

        // 2 M integers (16 MB) sorted in 4 MiB: the sort spills, into those directories only.
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .set_usize("datafusion.execution.sort_spill_reservation_bytes", 256 << 10);
        let ctx = SessionContext::new_with_config_rt(config, spill.runtime.clone());
        let df = ctx.sql("SELECT value FROM generate_series(1, 2000000) ORDER BY value DESC").await.unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let rows = collect(plan.clone(), ctx.task_ctx()).await.unwrap();
        assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 2_000_000);
        assert!(spills(&plan) > 0, "the sort spilled");

        drop((ctx, spill));
        assert_eq!(parent.path().read_dir().unwrap().count(), 0, "the work directory is removed");
    }
}
