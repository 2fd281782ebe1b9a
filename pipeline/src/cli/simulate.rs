//! `livelake simulate`: a seeded show as NDJSON (file or stdout) or produced to Kafka, plus an
//! optional ground-truth summary.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::DateTime;
use livelake_pipeline::kafka::{KafkaConfig, Pace, Topics, parse_property, produce_simulation};
use livelake_pipeline::simulate::{FakeSpike, SimConfig, StallBurst, simulate};
use tracing::info;

/// Arguments of `livelake simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Random seed: the same seed and options give the same show, byte for byte.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Real viewer sessions per show.
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    viewers: u64,
    /// Show length in minutes.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(10..=1440))]
    minutes: i64,
    /// Shows streamed side by side (each its own stream_id and Kafka key).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    shows: u64,
    /// Show start (RFC 3339, UTC recommended).
    #[arg(long, default_value = "2026-11-27T12:00:00Z")]
    start: String,
    /// Bots in the fake-viewer spike (SEA, a third into the show); 0 for none.
    #[arg(long, default_value_t = 400)]
    spike: usize,
    /// Region of the CDN stall burst (37 min in, 3 min long); `none` for none.
    #[arg(long, default_value = "EU")]
    burst_region: String,
    /// Share of events delivered minutes late.
    #[arg(long, default_value_t = 0.003)]
    late_share: f64,
    /// Share of events delivered twice.
    #[arg(long, default_value_t = 0.003)]
    duplicate_share: f64,
    /// Malformed messages, as a share of valid events.
    #[arg(long, default_value_t = 0.002)]
    malformed_share: f64,
    /// Share of events whose `ts` is an RFC 3339 string rather than epoch milliseconds (0–1).
    #[arg(long, default_value_t = 0.1)]
    ts_rfc3339_share: f64,
    /// Mean minutes a viewer stays when nothing goes wrong (0.5–600): small values give many
    /// short sessions.
    #[arg(long, default_value_t = 14.0)]
    mean_stay_minutes: f64,
    /// Write NDJSON here (`-` for stdout). Default: stdout unless --kafka is given.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Write the ground-truth summary (JSON) here.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Produce to these Kafka brokers instead of writing NDJSON.
    #[arg(long, env = "KAFKA_BOOTSTRAP")]
    kafka: Option<String>,
    /// Extra Kafka client property, key=value (repeatable), e.g. security.protocol=SASL_SSL.
    #[arg(long = "kafka-property", value_parser = parse_property)]
    kafka_properties: Vec<(String, String)>,
    /// Player events topic.
    #[arg(long, default_value = livelake_schemas::topics::PLAYER)]
    player_topic: String,
    /// Commerce events topic.
    #[arg(long, default_value = livelake_schemas::topics::COMMERCE)]
    commerce_topic: String,
}

fn share(name: &str, v: f64) -> anyhow::Result<f64> {
    within(name, v, 0.0, 0.5)
}

fn within(name: &str, v: f64, min: f64, max: f64) -> anyhow::Result<f64> {
    if !(min..=max).contains(&v) {
        bail!("--{name} must be between {min} and {max}, got {v}");
    }
    Ok(v)
}

/// The simulation config the arguments describe.
fn config(a: &Args) -> anyhow::Result<SimConfig> {
    let start = DateTime::parse_from_rfc3339(&a.start)
        .with_context(|| format!("--start {:?} is not an RFC 3339 time", a.start))?
        .timestamp_millis();
    let mut cfg = SimConfig {
        seed: a.seed,
        shows: a.shows as usize,
        start_ms: start,
        duration_min: a.minutes,
        viewers: a.viewers as usize,
        spike: (a.spike > 0).then(|| FakeSpike { region: "SEA".into(), minute: 30, sessions: a.spike }),
        burst: (!a.burst_region.eq_ignore_ascii_case("none")).then(|| StallBurst {
            region: a.burst_region.to_ascii_uppercase(),
            minute: 37,
            minutes: 3,
            factor: 14.0,
        }),
        late_share: share("late-share", a.late_share)?,
        duplicate_share: share("duplicate-share", a.duplicate_share)?,
        malformed_share: share("malformed-share", a.malformed_share)?,
        ts_rfc3339_share: within("ts-rfc3339-share", a.ts_rfc3339_share, 0.0, 1.0)?,
        mean_stay_min: within("mean-stay-minutes", a.mean_stay_minutes, 0.5, 600.0)?,
        ..SimConfig::new(a.seed)
    };
    if let Some(b) = &cfg.burst
        && !livelake_pipeline::simulate::REGIONS.iter().any(|r| r.region == b.region)
    {
        bail!("--burst-region {:?} is not one of SEA, EU, NA, ME, LATAM (or none)", b.region);
    }
    cfg = cfg.with_default_pitches().fit_incidents();
    Ok(cfg)
}

/// Run `livelake simulate`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = config(&a)?;
    let sim = simulate(&cfg);
    let t = &sim.truth.totals;
    info!(
        lines = t.lines,
        player = t.player_events,
        commerce = t.commerce_events,
        sessions = t.sessions,
        fake_sessions = t.fake_sessions,
        orders = t.orders,
        gmv_usd = %t.gmv_usd,
        "simulated {} show(s)",
        sim.streams.len()
    );
    if let Some(path) = &a.truth {
        let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        serde_json::to_writer_pretty(BufWriter::new(f), &sim.truth)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    match (&a.kafka, &a.out) {
        (Some(brokers), None) => {
            let kc = KafkaConfig::new(brokers.clone()).with_properties(a.kafka_properties.clone());
            let topics = Topics { player: a.player_topic.clone(), commerce: a.commerce_topic.clone() };
            let report = produce_simulation(&kc, &topics, &sim, Pace::Flat, |_, _| {}).context("producing to Kafka")?;
            if report.delivered != report.sent {
                bail!("only {} of {} messages were acknowledged by {brokers}", report.delivered, report.sent);
            }
            Ok(())
        }
        (_, out) => {
            let out = out.clone().unwrap_or_else(|| PathBuf::from("-"));
            write_ndjson(&out, &sim.lines).with_context(|| format!("writing {}", out.display()))
        }
    }
}

fn write_ndjson(path: &std::path::Path, lines: &[livelake_pipeline::simulate::Line]) -> std::io::Result<()> {
    let mut w: Box<dyn Write> = if path.as_os_str() == "-" {
        Box::new(BufWriter::new(std::io::stdout().lock()))
    } else {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        Box::new(BufWriter::new(std::fs::File::create(path)?))
    };
    for l in lines {
        w.write_all(&l.bytes)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}
