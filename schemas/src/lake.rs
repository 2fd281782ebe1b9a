//! Arrow schemas of the lake tables of `docs/lake.md`, and their Hive partition levels.
//! File schemas hold no partition columns: those live in the path only.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Precision and scale of every money column: decimal128(18,4).
pub const MONEY: DataType = DataType::Decimal128(18, 4);

/// A partition level of the Hive layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionLevel {
    /// `region=<REGION>` (utf8).
    Region,
    /// `date=<YYYY-MM-DD>` (UTC date).
    Date,
    /// `hour=<HH>` (UTC hour, int).
    Hour,
}

impl PartitionLevel {
    /// The column name in the path.
    pub fn name(self) -> &'static str {
        match self {
            PartitionLevel::Region => "region",
            PartitionLevel::Date => "date",
            PartitionLevel::Hour => "hour",
        }
    }
}

/// The tables of the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Raw player events, deduplicated.
    PlayerEvents,
    /// Raw commerce and interaction events, deduplicated.
    CommerceEvents,
    /// Rejected messages with their reason.
    Deadletter,
    /// One row per stream × region × window.
    StreamMinute,
    /// One row per stream × region × UTC date (nightly rollup).
    StreamDaily,
    /// One row per stream × region and per stream for `ALL` (nightly rollup).
    ShowSummary,
    /// One row per stream × traffic source (nightly rollup).
    ShowSources,
    /// The user-maintained show dimension.
    Shows,
    /// The actions each report proposed (the closed loop: the next report checks them).
    ShowActions,
    /// One row per stream × region × window of a rolled-up show, late events included (rollup).
    ShowMinute,
    /// The retention curve of a rolled-up show, per region and `ALL` (rollup).
    ShowRetention,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 11] = [
        Table::PlayerEvents,
        Table::CommerceEvents,
        Table::Deadletter,
        Table::StreamMinute,
        Table::StreamDaily,
        Table::ShowSummary,
        Table::ShowSources,
        Table::Shows,
        Table::ShowActions,
        Table::ShowMinute,
        Table::ShowRetention,
    ];

    /// The directory / SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::PlayerEvents => "player_events",
            Table::CommerceEvents => "commerce_events",
            Table::Deadletter => "deadletter",
            Table::StreamMinute => "stream_minute",
            Table::StreamDaily => "stream_daily",
            Table::ShowSummary => "show_summary",
            Table::ShowSources => "show_sources",
            Table::Shows => "shows",
            Table::ShowActions => "show_actions",
            Table::ShowMinute => "show_minute",
            Table::ShowRetention => "show_retention",
        }
    }

    /// Look a table up by name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Hive partition levels, outermost first.
    pub fn partitioning(self) -> &'static [PartitionLevel] {
        use PartitionLevel::*;
        match self {
            Table::PlayerEvents | Table::CommerceEvents | Table::Deadletter | Table::StreamMinute => {
                &[Region, Date, Hour]
            }
            Table::StreamDaily => &[Region, Date],
            Table::ShowSummary | Table::ShowSources | Table::ShowActions | Table::ShowMinute | Table::ShowRetention => {
                &[Date]
            }
            Table::Shows => &[],
        }
    }

    /// The schema of the table's Parquet files (no partition columns).
    pub fn schema(self) -> SchemaRef {
        match self {
            Table::PlayerEvents => PLAYER_EVENTS.clone(),
            Table::CommerceEvents => COMMERCE_EVENTS.clone(),
            Table::Deadletter => DEADLETTER.clone(),
            Table::StreamMinute => STREAM_MINUTE.clone(),
            Table::StreamDaily => STREAM_DAILY.clone(),
            Table::ShowSummary => SHOW_SUMMARY.clone(),
            Table::ShowSources => SHOW_SOURCES.clone(),
            Table::Shows => SHOWS.clone(),
            Table::ShowActions => SHOW_ACTIONS.clone(),
            Table::ShowMinute => SHOW_MINUTE.clone(),
            Table::ShowRetention => SHOW_RETENTION.clone(),
        }
    }
}

/// `timestamp(ms, UTC)`.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

fn schema(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

/// The columns every raw event row starts with.
fn event_identity() -> Vec<Field> {
    use DataType::*;
    vec![
        f("event_id", Utf8, false),
        f("type", Utf8, false),
        f("ts", ts_type(), false),
        f("stream_id", Utf8, false),
        f("session_id", Utf8, false),
        f("viewer_id", Utf8, false),
    ]
}

/// The columns every raw event row ends with: when and from where it was read.
fn provenance() -> [Field; 3] {
    [
        f("ingested_at", ts_type(), false),
        f("src_partition", DataType::Int32, false),
        f("src_offset", DataType::Int64, false),
    ]
}

static PLAYER_EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::*;
    let mut v = event_identity();
    for c in ["country", "platform", "cdn", "source"] {
        v.push(f(c, Utf8, true));
    }
    for c in ["startup_ms", "play_ms", "stall_ms", "bitrate_kbps", "height", "latency_ms", "dropped_frames"] {
        v.push(f(c, Int64, true));
    }
    v.extend([f("error_code", Utf8, true), f("fatal", Boolean, true), f("end_reason", Utf8, true)]);
    v.extend(provenance());
    schema(v)
});

static COMMERCE_EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::*;
    let mut v = event_identity();
    for c in ["country", "platform", "source", "product_id", "order_id", "lang"] {
        v.push(f(c, Utf8, true));
    }
    v.extend([
        f("quantity", Int64, true),
        f("like_count", Int64, true),
        f("amount", MONEY, true),
        f("currency", Utf8, true),
        f("amount_usd", MONEY, true),
    ]);
    v.extend(provenance());
    schema(v)
});

static DEADLETTER: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::*;
    schema(vec![
        f("received_at", ts_type(), false),
        f("topic", Utf8, false),
        f("src_partition", Int32, false),
        f("src_offset", Int64, false),
        f("reason", Utf8, false),
        f("payload", Binary, false),
    ])
});

/// Column types of the per-window and per-period metrics, by METRICS.md name.
fn metric(name: &str) -> Field {
    use DataType::*;
    let dt = match name {
        "play_seconds"
        | "stall_seconds"
        | "watch_seconds"
        | "stall_ratio"
        | "stalls_per_minute"
        | "bitrate_kbps_avg"
        | "avg_concurrent"
        | "avg_watch_seconds"
        | "stalled_session_pct"
        | "fast_start_pct"
        | "ebvs_pct"
        | "failure_pct"
        | "ctr"
        | "click_to_order"
        | "stall_exit_excess"
        | "smoothness_score"
        | "startup_score" => Float64,
        n if n.starts_with("startup_ms_p") || n.starts_with("latency_ms_p") => Float64,
        "gift_value_usd" | "gmv_usd" | "aov_usd" | "gpm_usd" | "lost_gmv_usd_est" => MONEY,
        _ => Int64,
    };
    // Nullable: ratios, percentiles and averages are NULL on an empty denominator, and columns a
    // job does not compute yet are NULL rather than a wrong number.
    f(name, dt, true)
}

/// `stream_minute` metric columns, in METRICS.md order.
pub const STREAM_MINUTE_METRICS: &[&str] = &[
    "sessions_active",
    "sessions_active_raw",
    "sessions_started",
    "sessions_started_raw",
    "exits",
    "exits_after_stall",
    "play_seconds",
    "stall_seconds",
    "stall_count",
    "stall_ratio",
    "stalls_per_minute",
    "sessions_stalled",
    "startup_ms_p50",
    "startup_ms_p95",
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p99",
    "bitrate_kbps_avg",
    "fatal_errors",
    "comments",
    "likes",
    "gifts",
    "gift_value_usd",
    "shares",
    "follows",
    "product_clicks",
    "add_to_carts",
    "orders",
    "units",
    "gmv_usd",
    "buyers",
];

/// Per-period metric columns of `stream_daily` and `show_summary`, in METRICS.md order.
pub const PERIOD_METRICS: &[&str] = &[
    "sessions",
    "sessions_raw",
    "suspect_sessions",
    "viewers",
    "peak_concurrent",
    "avg_concurrent",
    "watch_seconds",
    "play_seconds",
    "stall_seconds",
    "stall_count",
    "stall_ratio",
    "stalls_per_minute",
    "avg_watch_seconds",
    "stalled_session_pct",
    "startup_ms_p50",
    "startup_ms_p95",
    "fast_start_pct",
    "ebvs_pct",
    "failure_pct",
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p99",
    "exits",
    "exits_after_stall",
    "comments",
    "likes",
    "gifts",
    "gift_value_usd",
    "shares",
    "follows",
    "engaged_viewers",
    "funnel_viewers",
    "funnel_clicked",
    "funnel_carted",
    "funnel_ordered",
    "product_clicks",
    "add_to_carts",
    "orders",
    "units",
    "gmv_usd",
    "buyers",
    "aov_usd",
    "ctr",
    "click_to_order",
    "gpm_usd",
    "sessions_stalled",
    "stall_exit_excess",
    "lost_gmv_usd_est",
    "smoothness_score",
    "startup_score",
];

/// Per-source metric columns of `show_sources`.
pub const SOURCE_METRICS: &[&str] = &[
    "sessions",
    "viewers",
    "avg_watch_seconds",
    "stall_ratio",
    "funnel_viewers",
    "funnel_clicked",
    "funnel_ordered",
    "ctr",
    "click_to_order",
    "orders",
    "gmv_usd",
    "gpm_usd",
];

static STREAM_MINUTE: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut v = vec![
        f("stream_id", DataType::Utf8, false),
        f("window_start", ts_type(), false),
        f("window_end", ts_type(), false),
    ];
    v.extend(STREAM_MINUTE_METRICS.iter().map(|m| metric(m)));
    schema(v)
});

static STREAM_DAILY: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut v = vec![f("stream_id", DataType::Utf8, false)];
    v.extend(PERIOD_METRICS.iter().map(|m| metric(m)));
    schema(v)
});

static SHOW_SUMMARY: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut v = vec![
        f("stream_id", DataType::Utf8, false),
        f("region", DataType::Utf8, false),
        f("show_start", ts_type(), false),
        f("show_end", ts_type(), false),
    ];
    v.extend(PERIOD_METRICS.iter().map(|m| metric(m)));
    schema(v)
});

static SHOW_SOURCES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut v = vec![f("stream_id", DataType::Utf8, false), f("source", DataType::Utf8, false)];
    v.extend(SOURCE_METRICS.iter().map(|m| metric(m)));
    schema(v)
});

static SHOW_MINUTE: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut v = vec![
        f("stream_id", DataType::Utf8, false),
        f("region", DataType::Utf8, false),
        f("window_start", ts_type(), false),
        f("window_end", ts_type(), false),
    ];
    v.extend(STREAM_MINUTE_METRICS.iter().map(|m| metric(m)));
    // The raw rows (copies and suspects included) the rollup read for the stream × region ×
    // window: a report knows the show is rolled up when they add up to the raw tables' rows.
    v.push(f("raw_events", DataType::Int64, false));
    schema(v)
});

static SHOW_RETENTION: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::*;
    schema(vec![
        f("stream_id", Utf8, false),
        f("region", Utf8, false),
        f("minute", Int64, false),
        f("retained", Float64, false),
    ])
});

static SHOWS: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::*;
    schema(vec![
        f("stream_id", Utf8, false),
        f("seller_id", Utf8, true),
        f("title", Utf8, true),
        f("category", Utf8, true),
        f("planned_start", ts_type(), true),
        f("target_gmv_usd", MONEY, true),
        f("target_viewers", Int64, true),
        f("max_stall_ratio", Float64, true),
    ])
});

static SHOW_ACTIONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::*;
    schema(vec![
        f("stream_id", Utf8, false),
        f("seller_id", Utf8, true),
        f("action_id", Utf8, false),
        f("rule", Utf8, false),
        f("region", Utf8, true),
        f("metric", Utf8, false),
        f("value", Float64, false),
        f("threshold", Float64, true),
        f("text", Utf8, false),
        f("created_at", ts_type(), false),
        // Beyond the contract's columns: why the rule fired, and the show's first event (which
        // of a seller's shows came last).
        f("because", Utf8, false),
        f("show_start", ts_type(), false),
    ])
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_columns_never_inside_files() {
        for t in Table::ALL {
            let s = t.schema();
            for level in t.partitioning() {
                assert!(s.field_with_name(level.name()).is_err(), "{} holds {}", t.name(), level.name());
            }
        }
        // show_summary is partitioned by date only and keeps region as a column.
        assert!(Table::ShowSummary.schema().field_with_name("region").is_ok());
    }

    #[test]
    fn column_types_follow_the_contract() {
        let pe = Table::PlayerEvents.schema();
        assert_eq!(pe.field_with_name("ts").unwrap().data_type(), &ts_type());
        assert_eq!(pe.field_with_name("src_partition").unwrap().data_type(), &DataType::Int32);
        let ce = Table::CommerceEvents.schema();
        assert_eq!(ce.field_with_name("amount_usd").unwrap().data_type(), &MONEY);
        let sm = Table::StreamMinute.schema();
        assert_eq!(sm.field_with_name("stall_ratio").unwrap().data_type(), &DataType::Float64);
        assert!(sm.field_with_name("stall_ratio").unwrap().is_nullable());
        assert_eq!(sm.field_with_name("gmv_usd").unwrap().data_type(), &MONEY);
        assert_eq!(sm.field_with_name("orders").unwrap().data_type(), &DataType::Int64);
        assert_eq!(sm.fields().len(), 3 + STREAM_MINUTE_METRICS.len());
        assert_eq!(Table::from_name("shows"), Some(Table::Shows));
    }
}
