//! The simulator produces a show to a real broker; a consumer in a consumer group reads it back
//! and every message is accounted for: same bytes, same key, one partition per stream, and the
//! same accepted/rejected split the ground truth predicts.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use livelake_pipeline::kafka::{KafkaConfig, Pace, Topics, produce_simulation};
use livelake_pipeline::simulate::{LineClass, SimConfig, simulate};
use livelake_schemas::{Decoder, Family};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::support::{bootstrap, create_topics, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_show_round_trips_through_kafka() {
    let _shared = crate::support::kafka_shared().await;
    let player = unique("it-player");
    let commerce = unique("it-commerce");
    create_topics(&[&player, &commerce], 3).await;

    let cfg = SimConfig { viewers: 400, duration_min: 20, shows: 3, ..SimConfig::new(2024) }
        .with_default_pitches()
        .fit_incidents();
    let sim = simulate(&cfg);
    let topics = Topics { player: player.clone(), commerce: commerce.clone() };
    let kc = KafkaConfig::new(bootstrap());
    let sim = std::sync::Arc::new(sim);
    let report = {
        let (kc, topics, sim) = (kc.clone(), topics.clone(), sim.clone());
        tokio::task::spawn_blocking(move || produce_simulation(&kc, &topics, &sim, Pace::Flat, |_, _| {}))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(report.sent, sim.lines.len() as u64);
    assert_eq!(report.delivered, report.sent, "broker acknowledged every message");
    assert_eq!(report.failed, 0);

    let group = unique("it-group");
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&player, &commerce]).expect("subscribe");

    // (topic, key, payload) → count, for what we read.
    let mut got: HashMap<(String, Vec<u8>, Vec<u8>), u64> = HashMap::new();
    let mut partitions_of_key: HashMap<(String, Vec<u8>), std::collections::BTreeSet<i32>> = HashMap::new();
    let mut next_offsets: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut n = 0u64;
    while n < report.sent {
        assert!(Instant::now() < deadline, "read {n} of {} messages before the deadline", report.sent);
        let m = match tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await {
            Ok(m) => m.expect("consume"),
            Err(_) => continue,
        };
        let key = m.key().unwrap_or_default().to_vec();
        *got.entry((m.topic().to_string(), key.clone(), m.payload().unwrap_or_default().to_vec())).or_default() += 1;
        partitions_of_key.entry((m.topic().to_string(), key)).or_default().insert(m.partition());
        next_offsets.insert((m.topic().to_string(), m.partition()), m.offset() + 1);
        n += 1;
    }
    // The group commits what it read; the committed offsets are the next ones to read.
    let mut tpl = TopicPartitionList::new();
    for ((t, p), o) in &next_offsets {
        tpl.add_partition_offset(t, *p, Offset::Offset(*o)).unwrap();
    }
    consumer.commit(&tpl, CommitMode::Sync).expect("commit");
    let committed = consumer.committed(Duration::from_secs(10)).expect("committed offsets");
    for ((t, p), o) in &next_offsets {
        let e = committed.find_partition(t, *p).expect("partition committed");
        assert_eq!(e.offset(), Offset::Offset(*o), "{t}/{p}");
        let (_, high) = consumer.fetch_watermarks(t, *p, Duration::from_secs(10)).unwrap();
        assert_eq!(high, *o, "{t}/{p}: everything up to the high watermark was read");
    }

    // Every produced line was read exactly as often as it was sent.
    let mut want: HashMap<(String, Vec<u8>, Vec<u8>), u64> = HashMap::new();
    for l in &sim.lines {
        let topic = topics.of(l.family).to_string();
        *want.entry((topic, sim.streams[l.stream as usize].as_bytes().to_vec(), l.bytes.clone())).or_default() += 1;
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want, "consumed messages differ from produced ones");
    // Keyed by stream_id: each stream's messages of one topic sit in one partition.
    assert_eq!(partitions_of_key.len(), 2 * sim.streams.len());
    assert!(partitions_of_key.values().all(|ps| ps.len() == 1));

    // Decoding what came back gives the ground truth's split.
    let decoder = Decoder::default();
    let now = chrono_now();
    let (mut valid, mut rejected) = (0u64, BTreeMap::<String, u64>::new());
    for ((_, _, payload), count) in &got {
        match decoder.decode(payload, now) {
            Ok(_) => valid += count,
            Err(r) => *rejected.entry(r.reason.to_string()).or_default() += count,
        }
    }
    let t = &sim.truth.totals;
    assert_eq!(valid, t.player_events + t.commerce_events + t.duplicate_player + t.duplicate_commerce);
    assert_eq!(rejected, t.malformed);
    let classes: u64 = sim.lines.iter().filter(|l| matches!(l.class, LineClass::Malformed(_))).count() as u64;
    assert_eq!(classes, rejected.values().sum::<u64>());
    let player_lines = sim.lines.iter().filter(|l| l.family == Family::Player).count() as u64;
    assert_eq!(player_lines, t.player_events + t.duplicate_player + t.malformed_player);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
