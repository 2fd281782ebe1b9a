//! Configuration of `livelake run`: built-in defaults → TOML file → `LIVELAKE__SECTION__KEY`
//! environment variables → command-line flags. Every setting is documented in README.md.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;
use crate::error::{Error, Result};

/// All settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the lake lives.
    pub lake: LakeConfig,
    /// How messages are read.
    pub source: SourceConfig,
    /// How `livelake run` uses the machine.
    pub run: RunConfig,
    /// Kafka connection and topics.
    pub kafka: KafkaSection,
    /// Event-time windows.
    pub windows: WindowsConfig,
    /// Parquet file rolling.
    pub sink: SinkConfig,
    /// Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// Reference data: USD rates and the country → region map.
    pub reference: ReferenceConfig,
    /// The nightly rollup's schedule (`livelake schedule`).
    pub rollup: RollupConfig,
}

/// `[rollup]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollupConfig {
    /// Cron expression (minute hour day-of-month month day-of-week) of the runs; each run rolls
    /// up the day before its local date (default `0 3 * * *`).
    pub schedule: String,
    /// IANA time zone of the schedule (default `UTC`).
    pub timezone: String,
    /// Retries of a failed run before it is given up until the next one (default 5).
    pub retries: u32,
    /// First wait before a retry, seconds; it doubles each time (default 60).
    pub retry_base_secs: u64,
    /// Longest wait before a retry, seconds (default 1800).
    pub retry_max_secs: u64,
    /// Compact the day's raw partitions in the same run (default true).
    pub compact: bool,
    /// Compaction writes files of about this size at most, MiB (default 256).
    pub compact_target_mb: u64,
    /// Shows are recomputed in groups of at most this many events of the day (a bigger show
    /// alone); memory follows the biggest group (default 1,000,000: about 0.8 GiB).
    pub group_events: u64,
    /// Memory of the rollup's (and the report's) DataFusion plans in all, MiB: sorts and
    /// aggregations spill to temporary files beyond it (default 1024).
    pub memory_mb: u64,
    /// VACUUM every table after each rollup (default true).
    pub vacuum: bool,
    /// VACUUM's retention: files no table version of the last this-many hours needs (replaced by
    /// compaction or a rollup), and files of commits that never completed, older than that, are
    /// deleted (default 168: a week of time travel; 0 keeps only the latest version).
    pub vacuum_retention_hours: u64,
}

impl Default for RollupConfig {
    fn default() -> Self {
        RollupConfig {
            schedule: livelake_jobs::schedule::DEFAULT_CRON.into(),
            timezone: "UTC".into(),
            retries: 5,
            retry_base_secs: 60,
            retry_max_secs: 1800,
            compact: true,
            compact_target_mb: 256,
            group_events: livelake_jobs::rollup::GROUP_EVENTS,
            memory_mb: 1024,
            vacuum: true,
            vacuum_retention_hours: 168,
        }
    }
}

/// `[reference]`: additions to and overrides of the documented defaults of docs/events.md.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReferenceConfig {
    /// USD per one unit of a currency, as decimal text (≤ 8 decimals), e.g. `PLN = "0.25"`.
    /// Overrides or extends the default table (see README).
    pub usd_rates: BTreeMap<String, String>,
    /// Region → countries (ISO 3166-1 alpha-2, space-separated), e.g. `EU = "PL CZ"`. A country
    /// named here moves to that region; the rest of the default map stays.
    pub regions: BTreeMap<String, String>,
    /// Region of every valid country no mapping names (default `OTHER`).
    pub other_region: Option<String>,
}

impl ReferenceConfig {
    /// The validating decoder these settings describe.
    pub fn decoder(&self) -> Result<livelake_schemas::Decoder> {
        let mut rates = livelake_schemas::Rates::default();
        for (cur, rate) in &self.usd_rates {
            rates.set(cur, rate).map_err(|e| Error::Config(format!("reference.usd_rates: {e}")))?;
        }
        let mut regions = match &self.other_region {
            Some(o) => {
                if !livelake_schemas::is_valid_region(o) {
                    return Err(Error::Config(format!("reference.other_region {o:?} is not a valid region")));
                }
                let mut m = livelake_schemas::RegionMap::empty(o);
                for (region, countries) in livelake_schemas::DEFAULT_REGIONS {
                    for c in countries.split_whitespace() {
                        m.insert(c, region);
                    }
                }
                m
            }
            None => livelake_schemas::RegionMap::default(),
        };
        for (region, countries) in &self.regions {
            if !livelake_schemas::is_valid_region(region) {
                return Err(Error::Config(format!("reference.regions: {region:?} is not a valid region")));
            }
            for c in countries.split_whitespace() {
                if regions.region_of(c).is_none() {
                    return Err(Error::Config(format!("reference.regions.{region}: {c:?} is not a country code")));
                }
                regions.insert(c, region);
            }
        }
        Ok(livelake_schemas::Decoder::new(regions, rates))
    }
}

/// `[lake]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LakeConfig {
    /// Where the lake lives: a directory (default `./lake`), `file://…`, or `s3://bucket/prefix`.
    pub path: String,
    /// Object-storage settings (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, …; the
    /// same names in the environment apply too). Empty for a lake on local disk.
    pub storage_options: std::collections::BTreeMap<String, String>,
}

impl Default for LakeConfig {
    fn default() -> Self {
        LakeConfig { path: "lake".into(), storage_options: Default::default() }
    }
}

impl LakeConfig {
    /// The lake's location, checked (one line when it is not a path, `file://` or `s3://` URL).
    pub fn url(&self) -> Result<livelake_jobs::store::delta::LakeUrl> {
        let options = self.storage_options.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(livelake_jobs::store::delta::LakeUrl::parse(&self.path, options)?)
    }
}

/// `[run]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Parallelism of `livelake run`: the applying loop, `threads` − 1 decode helpers, and
    /// `threads` runtime workers for commits and the window SQL; 0 (default) = one per core.
    pub threads: usize,
}

impl RunConfig {
    /// [`RunConfig::threads`] with 0 resolved to the cores available.
    pub fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// `[source]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// `kafka` (default) or `file:PATH.ndjson`.
    pub kind: String,
    /// Most messages handled per batch (default 5000).
    pub batch_max: usize,
    /// How long one poll waits for the first message, ms (default 200).
    pub poll_ms: u64,
    /// Kafka only: stop (flush, commit, exit 0) once caught up and quiet this many seconds;
    /// 0 runs until a signal (default 0).
    pub until_idle_secs: u64,
    /// Kafka only: a partition whose event time runs more than this many seconds ahead of the
    /// slowest partition that still has a backlog is paused until that one catches up (windows
    /// close at the slowest partition's pace: what the others read ahead waits in memory);
    /// 0 never pauses (default 120).
    pub max_skew_secs: u64,
    /// File only: hand lines out at this multiple of their events' pace (1 = real time, a show
    /// replayed live); 0 reads as fast as it can (default 0).
    pub replay_speed: f64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: "kafka".into(),
            batch_max: 5000,
            poll_ms: 200,
            until_idle_secs: 0,
            max_skew_secs: 120,
            replay_speed: 0.0,
        }
    }
}

/// `[kafka]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSection {
    /// Bootstrap servers (default `127.0.0.1:19092`, the broker of `infra/kafka.sh`).
    pub brokers: String,
    /// Consumer group id (default `livelake`).
    pub group_id: String,
    /// Player events topic.
    pub player_topic: String,
    /// Commerce events topic.
    pub commerce_topic: String,
    /// Dead-letter topic; empty disables producing dead letters (the lake table still gets them).
    pub deadletter_topic: String,
    /// Live topic: provisional and final per-minute figures for `livelake board` (compacted,
    /// e.g. `livelake.live.v1`); empty publishes none (default).
    pub live_topic: String,
    /// Extra Kafka client properties passed through (e.g. `security.protocol`, `sasl.*`, `ssl.*`).
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaSection {
    fn default() -> Self {
        KafkaSection {
            brokers: "127.0.0.1:19092".into(),
            group_id: "livelake".into(),
            player_topic: livelake_schemas::topics::PLAYER.into(),
            commerce_topic: livelake_schemas::topics::COMMERCE.into(),
            deadletter_topic: livelake_schemas::topics::DEADLETTER.into(),
            live_topic: String::new(),
            properties: BTreeMap::new(),
        }
    }
}

impl KafkaSection {
    /// Brokers and pass-through properties as a client configuration.
    pub fn client(&self) -> crate::kafka::KafkaConfig {
        crate::kafka::KafkaConfig::new(self.brokers.clone()).with_properties(self.properties.clone())
    }
}

/// `[windows]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowsConfig {
    /// Window width, seconds (default 60).
    pub width_secs: u64,
    /// Allowed lateness, seconds (default 30).
    pub allowed_lateness_secs: u64,
    /// Session timeout, seconds of event time (default 60).
    pub session_timeout_secs: u64,
    /// Wall-clock seconds without messages before a partition counts as idle (default 30).
    pub idle_secs: u64,
    /// Dedup horizon, seconds of event time (default 900).
    pub dedup_horizon_secs: u64,
}

impl Default for WindowsConfig {
    fn default() -> Self {
        WindowsConfig {
            width_secs: 60,
            allowed_lateness_secs: 30,
            session_timeout_secs: 60,
            idle_secs: 30,
            dedup_horizon_secs: 900,
        }
    }
}

/// `[sink]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// Commit at least this often while rows are pending, seconds (default 60).
    pub roll_secs: u64,
    /// Commit when pending input reaches this many MiB (default 64).
    pub roll_mb: u64,
    /// Commit this many seconds after windows closed (freshness of `stream_minute`, default 5).
    pub window_flush_secs: u64,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig { roll_secs: 60, roll_mb: 64, window_flush_secs: 5 }
    }
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Listen address of `/metrics`; empty disables (default `127.0.0.1:9464`).
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { listen: "127.0.0.1:9464".into() }
    }
}

const ENV_PREFIX: &str = "LIVELAKE__";

impl Config {
    /// Defaults, then the TOML file (if any), then `LIVELAKE__SECTION__KEY` variables from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config> {
        let mut tree = toml::Table::try_from(Config::default()).expect("defaults serialise");
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|e| Error::Config(format!("reading {}: {e}", path.display())))?;
            let user: toml::Table = text.parse().map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            merge(&mut tree, user);
        }
        let de = |tree: &toml::Table| -> std::result::Result<Config, String> {
            tree.clone().try_into().map_err(|e: toml::de::Error| e.message().to_string())
        };
        let mut cfg = de(&tree).map_err(|e| {
            Error::Config(match file {
                Some(f) => format!("{}: {e}", f.display()),
                None => e,
            })
        })?;
        for (k, v) in env {
            let Some(rest) = k.strip_prefix(ENV_PREFIX) else { continue };
            let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            if path.len() < 2 || path.iter().any(String::is_empty) {
                return Err(Error::Config(format!("{k}: expected LIVELAKE__SECTION__KEY")));
            }
            // Pass-through maps of strings keep the text as given (`…__PROPERTIES__fetch.wait.max.ms=500`).
            let string_map = matches!(path.get(..2), Some([a, b]) if (a == "kafka" && b == "properties")
                || (a == "lake" && b == "storage_options"));
            let value = if string_map { toml::Value::String(v.clone()) } else { parse_scalar(&v) };
            set_path(&mut tree, &path, value);
            cfg = de(&tree).map_err(|e| Error::Config(format!("{k}={v:?}: {e}")))?;
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Rules that span fields.
    pub fn validate(&self) -> Result<()> {
        let w = &self.windows;
        if w.width_secs == 0 || 86_400 % w.width_secs != 0 {
            return Err(Error::Config(format!("windows.width_secs = {} must divide a day", w.width_secs)));
        }
        if w.dedup_horizon_secs == 0 {
            return Err(Error::Config("windows.dedup_horizon_secs must be > 0".into()));
        }
        if self.source.batch_max == 0 {
            return Err(Error::Config("source.batch_max must be > 0".into()));
        }
        if !self.source.replay_speed.is_finite() || self.source.replay_speed < 0.0 {
            return Err(Error::Config(format!("source.replay_speed = {} must be ≥ 0", self.source.replay_speed)));
        }
        if self.sink.roll_secs == 0 || self.sink.roll_mb == 0 {
            return Err(Error::Config("sink.roll_secs and sink.roll_mb must be > 0".into()));
        }
        if self.source.kind != "kafka" && !self.source.kind.starts_with("file:") {
            return Err(Error::Config(format!("source.kind = {:?}: want kafka or file:PATH", self.source.kind)));
        }
        if self.kafka.player_topic.is_empty() || self.kafka.commerce_topic.is_empty() {
            return Err(Error::Config("kafka.player_topic and kafka.commerce_topic must be set".into()));
        }
        livelake_jobs::schedule::CronSchedule::parse(&self.rollup.schedule, &self.rollup.timezone)
            .map_err(|e| Error::Config(format!("rollup.schedule / rollup.timezone: {e}")))?;
        if self.rollup.retry_base_secs == 0 || self.rollup.retry_max_secs < self.rollup.retry_base_secs {
            return Err(Error::Config("rollup.retry_base_secs must be > 0 and ≤ rollup.retry_max_secs".into()));
        }
        self.reference.decoder().map(|_| ())
    }

    /// The engine's event-time settings.
    pub fn engine(&self) -> EngineConfig {
        let w = &self.windows;
        let ms = |s: u64| (s as i64).saturating_mul(1000);
        EngineConfig {
            width_ms: ms(w.width_secs),
            lateness_ms: ms(w.allowed_lateness_secs),
            session_timeout_ms: ms(w.session_timeout_secs),
            dedup_horizon_ms: ms(w.dedup_horizon_secs),
            idle_ms: ms(w.idle_secs),
        }
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("path has a key");
    let mut t = tree;
    for p in parents {
        let entry = t.entry(p.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        t = entry.as_table_mut().expect("just made a table");
    }
    t.insert(last.clone(), value);
}

fn parse_scalar(v: &str) -> toml::Value {
    if let Ok(i) = v.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(b) = v.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    toml::Value::String(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_defaults_file_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("livelake.toml");
        std::fs::write(&f, "[kafka]\nbrokers = \"k:9092\"\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n[windows]\nallowed_lateness_secs = 10\n").unwrap();
        let env = vec![
            ("LIVELAKE__WINDOWS__WIDTH_SECS".to_string(), "30".to_string()),
            ("LIVELAKE__KAFKA__GROUP_ID".to_string(), "g2".to_string()),
            ("OTHER".to_string(), "x".to_string()),
            // Numbers in pass-through string maps stay text.
            ("LIVELAKE__KAFKA__PROPERTIES__fetch.wait.max.ms".to_string(), "500".to_string()),
            ("LIVELAKE__LAKE__STORAGE_OPTIONS__AWS_ALLOW_HTTP".to_string(), "true".to_string()),
        ];
        let c = Config::load(Some(&f), env).unwrap();
        assert_eq!(c.kafka.properties.get("fetch.wait.max.ms").map(String::as_str), Some("500"));
        assert_eq!(c.lake.storage_options.get("aws_allow_http").map(String::as_str), Some("true"));
        assert_eq!(c.kafka.brokers, "k:9092");
        assert_eq!(c.kafka.group_id, "g2");
        assert_eq!(c.kafka.properties.get("security.protocol").map(String::as_str), Some("SASL_SSL"));
        assert_eq!(c.windows.width_secs, 30);
        assert_eq!(c.windows.allowed_lateness_secs, 10);
        assert_eq!(c.windows.session_timeout_secs, 60, "defaults stay");
        assert_eq!(c.engine().lateness_ms, 10_000);
    }

    #[test]
    fn reference_data_extends_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ref.toml");
        std::fs::write(&f, "[reference.usd_rates]\nPLN = \"0.25\"\nEUR = \"1.10\"\n[reference.regions]\nEU = \"ZA\"\nCEE = \"PL CZ\"\n").unwrap();
        let d = Config::load(Some(&f), vec![]).unwrap().reference.decoder().unwrap();
        let amount = livelake_schemas::Decimal4::parse("10").unwrap();
        assert_eq!(d.rates().to_usd(amount, "PLN").unwrap().to_string(), "2.5");
        assert_eq!(d.rates().to_usd(amount, "EUR").unwrap().to_string(), "11");
        assert_eq!(d.rates().to_usd(amount, "THB").unwrap().to_string(), "0.285", "defaults stay");
        assert_eq!(d.regions().region_of("za"), Some("EU"));
        assert_eq!(d.regions().region_of("PL"), Some("CEE"));
        assert_eq!(d.regions().region_of("DE"), Some("EU"));
        std::fs::write(&f, "[reference.usd_rates]\nPLN = \"-1\"\n").unwrap();
        assert!(Config::load(Some(&f), vec![]).unwrap_err().to_string().contains("PLN"));
        std::fs::write(&f, "[reference.regions]\n\"../x\" = \"PL\"\n").unwrap();
        assert!(Config::load(Some(&f), vec![]).is_err());
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.toml");
        std::fs::write(&f, "[windows]\nwidht_secs = 60\n").unwrap();
        let e = Config::load(Some(&f), vec![]).unwrap_err().to_string();
        assert!(e.contains("widht_secs"), "{e}");
        let e = Config::load(None, vec![("LIVELAKE__WINDOWS__WIDTH_SECS".into(), "7".into())]).unwrap_err();
        assert!(e.to_string().contains("divide a day"), "{e}");
        let e = Config::load(None, vec![("LIVELAKE__WINDOWS__WIDTH_SECS".into(), "abc".into())]).unwrap_err();
        assert!(e.to_string().contains("LIVELAKE__WINDOWS__WIDTH_SECS"), "{e}");
    }
}
