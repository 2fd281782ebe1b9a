//! Helpers shared by the end-to-end tests: the broker address, unique topic names, the binary.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

/// The broker of `make test`. Fails loudly (not skipped) when it is missing.
pub fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| {
        panic!("KAFKA_BOOTSTRAP is not set: run `make test`, which starts Kafka with infra/kafka.sh")
    })
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Create topics with `partitions` partitions each; waits for the broker's answer. A broker
/// that has just been restarted (the bounce tests) answers `InvalidReplicationFactor` until the
/// controller has registered it again: that is retried for up to a minute.
pub async fn create_topics(names: &[&str], partitions: i32) {
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut todo: Vec<&str> = names.to_vec();
    while !todo.is_empty() {
        let topics: Vec<NewTopic<'_>> =
            todo.iter().map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1))).collect();
        let mut again = Vec::new();
        for r in admin.create_topics(&topics, &opts).await.expect("create topics") {
            match r {
                Ok(_) => {}
                Err((t, RDKafkaErrorCode::InvalidReplicationFactor)) if std::time::Instant::now() < deadline => {
                    again.push(*todo.iter().find(|n| **n == t).expect("a topic asked for"));
                }
                Err((t, e)) => panic!("creating topic {t}: {e}"),
            }
        }
        if !again.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        todo = again;
    }
}

/// The simulation's messages as NDJSON, in delivery order.
pub fn ndjson(sim: &livelake_pipeline::simulate::Simulation) -> Vec<u8> {
    let mut body = Vec::new();
    for l in &sim.lines {
        body.extend_from_slice(&l.bytes);
        body.push(b'\n');
    }
    body
}

/// `livelake run` on the file source `events`, into `dir/lake`; the lake's path.
pub fn run_into_lake(events: &std::path::Path, dir: &std::path::Path) -> PathBuf {
    run_into_lake_with(events, dir, &[])
}

/// [`run_into_lake`] with extra environment (e.g. `LIVELAKE__SINK__ROLL_MB`).
pub fn run_into_lake_with(events: &std::path::Path, dir: &std::path::Path, env: &[(&str, &str)]) -> PathBuf {
    let lake = dir.join("lake");
    let out = std::process::Command::new(livelake_bin())
        .envs(env.iter().copied())
        .args(["run", "--metrics-listen", "off", "--lake"])
        .arg(&lake)
        .arg("--source")
        .arg(format!("file:{}", events.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "livelake run: {}", String::from_utf8_lossy(&out.stderr));
    lake
}

/// The lake at `dir` on local disk, as the jobs address it.
pub fn lake_url(dir: &std::path::Path) -> livelake_jobs::store::delta::LakeUrl {
    livelake_jobs::store::delta::LakeUrl::parse(dir.to_str().expect("a UTF-8 path"), Default::default()).unwrap()
}

/// The commit records of `livelake run` in the lake at `lake` (`_livelake/slots/<slot>/<seq>.json`),
/// by slot, each slot's oldest first; none before the first commit.
pub fn commit_records(lake: &std::path::Path) -> Vec<PathBuf> {
    let Ok(slots) = std::fs::read_dir(lake.join("_livelake/slots")) else { return Vec::new() };
    let mut out: Vec<PathBuf> = slots
        .flat_map(|slot| std::fs::read_dir(slot.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    out
}

/// The latest commit record of each slot of the lake at `lake`.
pub fn latest_records(lake: &std::path::Path) -> Vec<PathBuf> {
    let mut latest: Vec<PathBuf> = Vec::new();
    for r in commit_records(lake) {
        match latest.last_mut() {
            Some(last) if last.parent() == r.parent() => *last = r,
            _ => latest.push(r),
        }
    }
    latest
}

/// A lake on the S3-compatible server of `make test`: its `--lake` URL under a fresh prefix, and
/// the folder where the server's filesystem backend keeps its objects (read with plain file reads,
/// independently of livelake). Fails loudly when the server is missing.
pub struct S3Lake {
    /// `s3://bucket/prefix`.
    pub url: String,
    /// The objects of that prefix as files.
    pub files: PathBuf,
}

/// A fresh lake on S3 (see [`S3Lake`]).
pub fn s3_lake(tag: &str) -> S3Lake {
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("{name} is not set: run `make test`, which starts s3proxy with infra/s3.sh"))
    };
    let (bucket, data) = (var("LIVELAKE_S3_BUCKET"), var("LIVELAKE_S3_DATA"));
    let prefix = unique(tag);
    S3Lake { url: format!("s3://{bucket}/{prefix}"), files: PathBuf::from(data).join(bucket).join(prefix) }
}

/// The `livelake` binary cargo built for these tests.
pub fn livelake_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_livelake"))
}

/// Tests that use the broker hold this shared; the broker-bounce test holds it exclusively.
static BROKER: LazyLock<tokio::sync::RwLock<()>> = LazyLock::new(|| tokio::sync::RwLock::new(()));

/// Shared use of the broker.
pub async fn kafka_shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    BROKER.read().await
}

/// Exclusive use of the broker (it may be stopped and started).
pub async fn kafka_exclusive() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    BROKER.write().await
}

/// `infra/kafka.sh <cmd>` (up/down), with the environment `make test` set.
pub fn broker(cmd: &str) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/kafka.sh");
    let status = std::process::Command::new("bash").arg(script).arg(cmd).status().expect("kafka.sh");
    assert!(status.success(), "infra/kafka.sh {cmd} failed");
}

/// Read `n` messages of `topic` from the start and return the value of `header` of each.
pub async fn consume_headers(topic: &str, n: usize, header: &str) -> Vec<String> {
    use rdkafka::Message;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::Headers;
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("headers"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(std::time::Instant::now() < deadline, "read {} of {n} messages of {topic}", out.len());
        let Ok(m) = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await else { continue };
        let m = m.expect("consume");
        let value = m
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|x| x.key == header)
                    .and_then(|x| x.value.map(|v| String::from_utf8_lossy(v).into_owned()))
            })
            .unwrap_or_default();
        out.push(value);
    }
    out
}

/// A plain HTTP GET on 127.0.0.1:`port`; returns the body.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}
