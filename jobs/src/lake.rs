//! The lake as SQL tables: every table of `docs/lake.md` registered by name over its Delta log
//! (the committed files, nothing listed), with the partition columns typed (`region` utf8, `date`
//! date, `hour` int), so a filter on them reads only the matching partitions' files. A table
//! without a Delta log yet is registered empty with the same columns: queries over it return no
//! rows instead of "table not found".

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use livelake_schemas::{PartitionLevel, Table};

use crate::store::delta::{self, AsOf, LakeUrl};
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

/// A session for queries over a lake: `information_schema` on (`SHOW TABLES`, `SHOW COLUMNS`),
/// Parquet filters pushed into the scan (row-group statistics and page indexes prune).
pub fn lake_session() -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        .set_bool("datafusion.execution.parquet.reorder_filters", true);
    SessionContext::new_with_config(config)
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
