//! What is in the lake: per table its columns, its Delta version and last commit, and per
//! partition folder the files and rows the log holds (no folder listed, no data scanned).

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use livelake_schemas::Table;

use crate::error::Result;
use crate::lake::sql_schema;
use crate::store::delta::{self, LakeUrl, committed_files};

/// Files and rows of one partition folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStats {
    /// The folder below the table, e.g. `region=EU/date=2026-11-27/hour=12` (empty: none).
    pub partition: String,
    /// Parquet files.
    pub files: usize,
    /// Rows in them.
    pub rows: u64,
}

/// One table of the lake.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// The table.
    pub table: Table,
    /// Its columns as SQL sees them (partition columns last).
    pub schema: SchemaRef,
    /// Per partition folder, sorted.
    pub partitions: Vec<PartitionStats>,
    /// The table's Delta version (none before its first commit).
    pub version: Option<u64>,
    /// When its latest commit was made (ms since the epoch).
    pub last_commit_ms: Option<i64>,
}

impl TableInfo {
    /// Rows over all partitions.
    pub fn rows(&self) -> u64 {
        self.partitions.iter().map(|p| p.rows).sum()
    }

    /// Files over all partitions.
    pub fn files(&self) -> usize {
        self.partitions.iter().map(|p| p.files).sum()
    }
}

/// Describe `table` of the lake from its Delta log: files and rows per partition from the `add`
/// actions (no folder listed, no file opened; a file whose `add` has no row count counts 0
/// rows), its version and last commit time. No partitions before the table's first commit.
pub async fn describe(lake: &LakeUrl, table: Table) -> Result<TableInfo> {
    let Some(dt) = delta::open_table(lake, table).await? else {
        return Ok(TableInfo {
            table,
            schema: sql_schema(table),
            partitions: Vec::new(),
            version: None,
            last_commit_ms: None,
        });
    };
    let mut by_partition: BTreeMap<String, PartitionStats> = BTreeMap::new();
    for f in committed_files(&dt, table)? {
        let partition = f.dir().to_string();
        let s = by_partition.entry(partition.clone()).or_insert(PartitionStats { partition, files: 0, rows: 0 });
        s.files += 1;
        s.rows += f.rows.unwrap_or(0);
    }
    let version = dt.version();
    let last_commit_ms = delta::commit_time(&dt).await;
    Ok(TableInfo {
        table,
        schema: sql_schema(table),
        partitions: by_partition.into_values().collect(),
        version,
        last_commit_ms,
    })
}
