//! `livelake consume-rate`: the raw read rate of topics (a consumer that only reads), the ceiling
//! `livelake run` is measured against.

use anyhow::Context;
use livelake_pipeline::kafka::{KafkaConfig, drain_rate, parse_property};

/// Arguments of `livelake consume-rate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP", default_value = "127.0.0.1:19092")]
    brokers: String,
    /// Topics to drain (repeatable).
    #[arg(long = "topic", required = true)]
    topics: Vec<String>,
    /// Extra Kafka client property, key=value (repeatable).
    #[arg(long = "kafka-property", value_parser = parse_property)]
    kafka_properties: Vec<(String, String)>,
}

/// Run `livelake consume-rate`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let kc = KafkaConfig::new(a.brokers.clone()).with_properties(a.kafka_properties.clone());
    let r = drain_rate(&kc, &a.topics).with_context(|| format!("draining {:?}", a.topics))?;
    println!(
        "consume-rate: {} messages, {:.1} MiB in {:.2} s = {:.0} msg/s",
        r.messages,
        r.bytes as f64 / (1 << 20) as f64,
        r.seconds,
        r.per_second()
    );
    Ok(())
}
