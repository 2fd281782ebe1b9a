//! The lake as SQL tables: every table of `shared/LAKE.md` registered by name over its Hive
//! directory, with the partition columns typed (`region` utf8, `date` date, `hour` int).

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::SessionContext;
use livelake_schemas::{PartitionLevel, Table};

use crate::{JobError, Result};

fn level_type(level: PartitionLevel) -> DataType {
    match level {
        PartitionLevel::Region => DataType::Utf8,
        PartitionLevel::Date => DataType::Date32,
        PartitionLevel::Hour => DataType::Int32,
    }
}

/// Register every table whose directory exists under `root`; returns their names.
pub async fn register_lake(ctx: &SessionContext, root: &Path) -> Result<Vec<&'static str>> {
    let mut names = Vec::new();
    for table in Table::ALL {
        let dir = root.join(table.name());
        if !dir.is_dir() {
            continue;
        }
        let partition_cols =
            table.partitioning().iter().map(|l| (l.name().to_string(), level_type(*l))).collect::<Vec<_>>();
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_cols);
        let url = format!("{}/", dir.display());
        ctx.register_listing_table(table.name(), &url, options, Some(table.schema()), None)
            .await
            .map_err(|source| JobError::DataFusion { job: "register lake", source })?;
        names.push(table.name());
    }
    Ok(names)
}
