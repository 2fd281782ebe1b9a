//! Prometheus metrics of `livelake run`, kept in a `prometheus-client` registry: counters and
//! gauges the pipeline bumps, rendered in the OpenMetrics text format for `/metrics`.

use std::fmt;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabel {
    topic: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabel {
    table: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: i32,
}

/// Counters and gauges of one pipeline process (names as exposed: `livelake_…`).
pub struct Metrics {
    registry: Registry,
    events_in: Family<TopicLabel, Counter>,
    events_out: Family<TableLabel, Counter>,
    dead_lettered: Family<ReasonLabel, Counter>,
    lag: Family<PartitionLabels, Gauge>,
    assigned: Family<PartitionLabels, Gauge>,
    /// Valid events that arrived after their window was final (`livelake_late_events_total`).
    pub late_events: Counter,
    /// Repeated event ids dropped.
    pub duplicates: Counter,
    /// Windows closed (stream × region × window rows written).
    pub windows_closed: Counter,
    /// Parquet files published.
    pub files_written: Counter,
    /// Rows published.
    pub rows_written: Counter,
    /// Commits (lake checkpoints) made.
    pub commits: Counter,
    /// Wall-clock time of the last commit, epoch seconds.
    pub last_commit_seconds: Gauge<f64, AtomicU64>,
    /// Messages replayed to rebuild state after a restart.
    pub replayed: Counter,
    /// Sessions flagged suspect (join-spike cleaning).
    pub suspects: Counter,
    /// Sessions with state, as of the last commit.
    pub sessions_tracked: Gauge,
    /// Heap bytes of that session state, as of the last commit.
    pub session_state_bytes: Gauge,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").field("commits", &self.commits.get()).finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("livelake"),
            events_in: Family::default(),
            events_out: Family::default(),
            dead_lettered: Family::default(),
            lag: Family::default(),
            assigned: Family::default(),
            late_events: Counter::default(),
            duplicates: Counter::default(),
            windows_closed: Counter::default(),
            files_written: Counter::default(),
            rows_written: Counter::default(),
            commits: Counter::default(),
            last_commit_seconds: Gauge::default(),
            replayed: Counter::default(),
            suspects: Counter::default(),
            sessions_tracked: Gauge::default(),
            session_state_bytes: Gauge::default(),
        };
        let r = &mut m.registry;
        // Counters are exposed with `_total` appended.
        r.register("events_in", "Messages read, by topic", m.events_in.clone());
        r.register("events_out", "Rows written to the lake, by table", m.events_out.clone());
        r.register("dead_lettered", "Rejected messages, by reason", m.dead_lettered.clone());
        r.register("late_events", "Events that arrived after their window was final", m.late_events.clone());
        r.register("duplicates", "Repeated event ids dropped", m.duplicates.clone());
        r.register("windows_closed", "stream_minute rows written", m.windows_closed.clone());
        r.register("files_written", "Parquet files published", m.files_written.clone());
        r.register("rows_written", "Rows published", m.rows_written.clone());
        r.register("commits", "Lake commits", m.commits.clone());
        r.register("replayed", "Messages replayed to rebuild state after a restart", m.replayed.clone());
        r.register("suspect_sessions", "Sessions flagged suspect by join-spike cleaning", m.suspects.clone());
        r.register("sessions_tracked", "Sessions with state, as of the last commit", m.sessions_tracked.clone());
        r.register(
            "session_state_bytes",
            "Heap bytes of session state, as of the last commit",
            m.session_state_bytes.clone(),
        );
        r.register(
            "last_commit_timestamp_seconds",
            "Wall-clock time of the last commit",
            m.last_commit_seconds.clone(),
        );
        r.register("consumer_lag", "Messages behind the high watermark", m.lag.clone());
        r.register(
            "partition_assigned",
            "1 when the consumer group assigned the partition to this worker, 0 when another member holds it",
            m.assigned.clone(),
        );
        m
    }
}

impl Metrics {
    /// Count messages read from a topic.
    pub fn event_in(&self, topic: &str, n: u64) {
        self.events_in.get_or_create(&TopicLabel { topic: topic.to_string() }).inc_by(n);
    }

    /// Count rows written to a table.
    pub fn event_out(&self, table: &str, n: u64) {
        self.events_out.get_or_create(&TableLabel { table: table.to_string() }).inc_by(n);
    }

    /// Count a dead-lettered message.
    pub fn dead_letter(&self, reason: &str) {
        self.dead_lettered.get_or_create(&ReasonLabel { reason: reason.to_string() }).inc();
    }

    /// Set consumer lag of a partition.
    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag.get_or_create(&PartitionLabels { topic: topic.to_string(), partition }).set(lag);
    }

    /// Whether the group assigned a partition of the topics to this worker.
    pub fn set_assigned(&self, topic: &str, partition: i32, assigned: bool) {
        self.assigned.get_or_create(&PartitionLabels { topic: topic.to_string(), partition }).set(i64::from(assigned));
    }

    /// Render in the OpenMetrics text format (which Prometheus scrapes).
    pub fn render(&self) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, &self.registry).expect("writing to a String cannot fail");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.event_in("livelake.player.v1", 3);
        m.dead_letter("bad_region");
        m.late_events.inc_by(2);
        m.set_lag("t", 1, 7);
        m.set_assigned("t", 1, true);
        m.set_assigned("t", 2, false);
        m.last_commit_seconds.set(1_795_780_800.5);
        let text = m.render();
        assert!(text.contains("livelake_events_in_total{topic=\"livelake.player.v1\"} 3"), "{text}");
        assert!(text.contains("livelake_dead_lettered_total{reason=\"bad_region\"} 1"));
        assert!(text.contains("livelake_late_events_total 2"));
        assert!(text.contains("livelake_consumer_lag{topic=\"t\",partition=\"1\"} 7"));
        assert!(text.contains("livelake_partition_assigned{topic=\"t\",partition=\"1\"} 1"), "{text}");
        assert!(text.contains("livelake_partition_assigned{topic=\"t\",partition=\"2\"} 0"), "{text}");
        assert!(text.contains("# TYPE livelake_session_state_bytes gauge"));
        assert!(text.contains("livelake_last_commit_timestamp_seconds 1795780800.5"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
