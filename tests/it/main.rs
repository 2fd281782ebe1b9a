//! End-to-end tests: one binary (link once). Tests that need Kafka use the broker that
//! `infra/kafka.sh up` started, found through `KAFKA_BOOTSTRAP` (`make test` sets it).

mod cli;
mod docs;
mod kafka_roundtrip;
mod lake;
mod nightly;
mod report;
mod rollup;
mod shows;
mod sql;
mod streaming;
mod support;
mod truth_check;
