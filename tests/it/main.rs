//! End-to-end tests: one binary (link once). Tests that need Kafka use the broker that
//! `infra/kafka.sh up` started, found through `KAFKA_BOOTSTRAP`; tests that need object storage use
//! the s3proxy of `infra/s3.sh up`, found through `AWS_*` and `LIVELAKE_S3_BUCKET` (`make test`
//! sets them).

mod board;
mod cli;
mod convert;
mod delta;
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
