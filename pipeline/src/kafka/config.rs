//! Client settings: bootstrap servers plus any librdkafka property (SASL/SSL and the like)
//! passed through unchanged.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

/// How to reach the brokers.
#[derive(Debug, Clone, Default)]
pub struct KafkaConfig {
    /// `host:port[,host:port…]`.
    pub brokers: String,
    /// Extra librdkafka properties, e.g. `security.protocol=SASL_SSL`, `sasl.mechanisms=PLAIN`.
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Settings for `brokers` with no extra properties.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaConfig { brokers: brokers.into(), properties: BTreeMap::new() }
    }

    /// Add librdkafka properties (from `--kafka-property` flags or the `[kafka]` config).
    pub fn with_properties<K: Into<String>, V: Into<String>>(
        mut self,
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in props {
            self.properties.insert(k.into(), v.into());
        }
        self
    }

    /// A librdkafka client config with the brokers and pass-through properties set.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    /// [`KafkaConfig::client_config`] for a consumer that reads as fast as it can: librdkafka
    /// pauses fetching for `fetch.queue.backoff.ms` (default 1 s) once its local queue is full,
    /// and a consumer that drains the queue in less than that then waits with nothing to read
    /// (measured: 140 k → 238 k events/s on the bench with 20 ms). Set to 20 ms unless the
    /// properties give it. Used by `livelake run`'s source and by the raw consume ceiling, so the
    /// benchmark compares the two reading the same way.
    pub(crate) fn fast_consumer_config(&self) -> ClientConfig {
        let mut c = self.client_config();
        if !self.properties.contains_key("fetch.queue.backoff.ms") {
            c.set("fetch.queue.backoff.ms", "20");
        }
        c
    }
}

/// Parse `key=value` (for `--kafka-property`).
pub fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected key=value, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_consumer_fetches_again_after_20_ms_unless_the_properties_say_otherwise() {
        let plain = KafkaConfig::new("127.0.0.1:19092");
        assert_eq!(plain.fast_consumer_config().get("fetch.queue.backoff.ms"), Some("20"));
        assert_eq!(plain.client_config().get("fetch.queue.backoff.ms"), None, "other clients keep librdkafka's");
        let set = plain.with_properties([("fetch.queue.backoff.ms", "250"), ("client.id", "x")]);
        let c = set.fast_consumer_config();
        assert_eq!((c.get("fetch.queue.backoff.ms"), c.get("client.id")), (Some("250"), Some("x")));
        assert_eq!(c.get("bootstrap.servers"), Some("127.0.0.1:19092"));
    }
}
