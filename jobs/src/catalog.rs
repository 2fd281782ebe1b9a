//! What is in the lake: per table its columns and, per partition folder, files and rows (read
//! from the Parquet footers, no data scanned).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use livelake_schemas::Table;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::lake::sql_schema;

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

/// A file the catalog could not read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {detail}")]
pub struct CatalogError {
    /// The file or folder.
    pub path: PathBuf,
    /// What went wrong.
    pub detail: String,
}

/// Every Parquet file below `dir`, appended to `out`.
pub fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CatalogError> {
    let err = |e: std::io::Error| CatalogError { path: dir.to_path_buf(), detail: e.to_string() };
    for entry in std::fs::read_dir(dir).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.is_dir() {
            parquet_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

/// Describe `table` in the lake at `root` (no partitions when it has no folder yet).
pub fn describe(root: &Path, table: Table) -> Result<TableInfo, CatalogError> {
    let dir = root.join(table.name());
    let mut files = Vec::new();
    if dir.is_dir() {
        parquet_files(&dir, &mut files)?;
    }
    let mut by_partition: BTreeMap<String, PartitionStats> = BTreeMap::new();
    for path in files {
        let file =
            std::fs::File::open(&path).map_err(|e| CatalogError { path: path.clone(), detail: e.to_string() })?;
        let reader =
            SerializedFileReader::new(file).map_err(|e| CatalogError { path: path.clone(), detail: e.to_string() })?;
        let rows = reader.metadata().file_metadata().num_rows() as u64;
        let partition = path
            .parent()
            .and_then(|p| p.strip_prefix(&dir).ok())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let s = by_partition.entry(partition.clone()).or_insert(PartitionStats { partition, files: 0, rows: 0 });
        s.files += 1;
        s.rows += rows;
    }
    Ok(TableInfo { table, schema: sql_schema(table), partitions: by_partition.into_values().collect() })
}
