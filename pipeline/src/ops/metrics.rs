//! Prometheus metrics of `livelake run`: counters the pipeline bumps and a text renderer for the
//! `/metrics` endpoint.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counters and gauges of one pipeline process.
#[derive(Debug, Default)]
pub struct Metrics {
    events_in: Mutex<BTreeMap<String, u64>>,
    events_out: Mutex<BTreeMap<String, u64>>,
    dead_lettered: Mutex<BTreeMap<String, u64>>,
    lag: Mutex<BTreeMap<(String, i32), i64>>,
    /// Valid events that arrived after their window was final.
    pub late_events: AtomicU64,
    /// Repeated event ids dropped.
    pub duplicates: AtomicU64,
    /// Windows closed (stream × region × window rows written).
    pub windows_closed: AtomicU64,
    /// Parquet files published.
    pub files_written: AtomicU64,
    /// Rows published.
    pub rows_written: AtomicU64,
    /// Commits (lake checkpoints) made.
    pub commits: AtomicU64,
    /// Wall-clock time of the last commit, epoch ms.
    pub last_commit_ms: AtomicI64,
    /// Messages replayed to rebuild state after a restart.
    pub replayed: AtomicU64,
    /// Sessions flagged suspect (join-spike cleaning).
    pub suspects: AtomicU64,
    /// Sessions with state, as of the last commit.
    pub sessions_tracked: AtomicU64,
    /// Heap bytes of that session state, as of the last commit.
    pub session_state_bytes: AtomicU64,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str, n: u64) {
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    match m.get_mut(key) {
        Some(v) => *v += n,
        None => {
            m.insert(key.to_string(), n);
        }
    }
}

impl Metrics {
    /// Count messages read from a topic.
    pub fn event_in(&self, topic: &str, n: u64) {
        bump(&self.events_in, topic, n);
    }

    /// Count rows written to a table.
    pub fn event_out(&self, table: &str, n: u64) {
        bump(&self.events_out, table, n);
    }

    /// Count a dead-lettered message.
    pub fn dead_letter(&self, reason: &str) {
        bump(&self.dead_lettered, reason, 1);
    }

    /// Set consumer lag of a partition.
    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag.lock().unwrap_or_else(|e| e.into_inner()).insert((topic.to_string(), partition), lag);
    }

    /// Dead-lettered messages by reason.
    pub fn dead_letters(&self) -> BTreeMap<String, u64> {
        self.dead_lettered.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Messages read by topic.
    pub fn events_in(&self) -> BTreeMap<String, u64> {
        self.events_in.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Render in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let labeled = |s: &mut String, name: &str, help: &str, label: &str, m: &BTreeMap<String, u64>| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, v) in m {
                let _ = writeln!(s, "{name}{{{label}=\"{}\"}} {v}", k.replace('\\', "\\\\").replace('"', "\\\""));
            }
        };
        labeled(&mut s, "livelake_events_in_total", "Messages read, by topic.", "topic", &self.events_in());
        labeled(
            &mut s,
            "livelake_events_out_total",
            "Rows written to the lake, by table.",
            "table",
            &self.events_out.lock().unwrap_or_else(|e| e.into_inner()),
        );
        labeled(
            &mut s,
            "livelake_dead_lettered_total",
            "Rejected messages, by reason.",
            "reason",
            &self.dead_letters(),
        );
        let counters = [
            ("livelake_late_events_total", "Events that arrived after their window was final.", &self.late_events),
            ("livelake_duplicates_total", "Repeated event ids dropped.", &self.duplicates),
            ("livelake_windows_closed_total", "stream_minute rows written.", &self.windows_closed),
            ("livelake_files_written_total", "Parquet files published.", &self.files_written),
            ("livelake_rows_written_total", "Rows published.", &self.rows_written),
            ("livelake_commits_total", "Lake commits.", &self.commits),
            ("livelake_replayed_total", "Messages replayed to rebuild state after a restart.", &self.replayed),
            ("livelake_suspect_sessions_total", "Sessions flagged suspect by join-spike cleaning.", &self.suspects),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let gauges = [
            ("livelake_sessions_tracked", "Sessions with state, as of the last commit.", &self.sessions_tracked),
            (
                "livelake_session_state_bytes",
                "Heap bytes of session state, as of the last commit.",
                &self.session_state_bytes,
            ),
        ];
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            s,
            "# HELP livelake_last_commit_timestamp_seconds Wall-clock time of the last commit.\n# TYPE livelake_last_commit_timestamp_seconds gauge\nlivelake_last_commit_timestamp_seconds {:.3}",
            self.last_commit_ms.load(Ordering::Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(
            s,
            "# HELP livelake_consumer_lag Messages behind the high watermark.\n# TYPE livelake_consumer_lag gauge"
        );
        for ((t, p), v) in self.lag.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(s, "livelake_consumer_lag{{topic=\"{t}\",partition=\"{p}\"}} {v}");
        }
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
        m.late_events.fetch_add(2, Ordering::Relaxed);
        m.set_lag("t", 1, 7);
        let text = m.render();
        assert!(text.contains("livelake_events_in_total{topic=\"livelake.player.v1\"} 3"), "{text}");
        assert!(text.contains("livelake_dead_lettered_total{reason=\"bad_region\"} 1"));
        assert!(text.contains("livelake_late_events_total 2"));
        assert!(text.contains("livelake_consumer_lag{topic=\"t\",partition=\"1\"} 7"));
    }
}
