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

/// `livelake run`'s batch reads ([`MessageQueue`]): every partition's messages come once, in
/// offset order, with their bytes; after a re-assignment at new positions (librdkafka then drops
/// the partitions' forwards to the queue, which the router sets again) each partition goes on
/// from its new position, none is stuck, and nothing stale comes through. The consume-rate drain
/// reads the same topic in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_reads_give_each_partitions_messages_once_in_order_across_a_reassignment() {
    let _shared = crate::support::kafka_shared().await;
    let topic = unique("it-batch");
    create_topics(&[&topic], 3).await;
    let t = topic.clone();
    tokio::task::spawn_blocking(move || batch_reads(&t)).await.unwrap();
}

fn batch_reads(topic: &str) {
    use std::sync::Arc;

    use livelake_pipeline::kafka::{MessageQueue, drain_rate};
    use rdkafka::consumer::BaseConsumer;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    const PER_PARTITION: i64 = 3000;
    let payload = |p: i32, o: i64| format!("{{\"p\":{p},\"o\":{o},\"pad\":\"{}\"}}", "x".repeat((o % 97) as usize));
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("producer");
    for o in 0..PER_PARTITION {
        for p in 0..3 {
            let body = payload(p, o);
            let key = format!("k{o}");
            let mut record = BaseRecord::to(topic).partition(p).key(&key).payload(&body);
            while let Err((e, r)) = producer.send(record) {
                assert!(matches!(e.rdkafka_error_code(), Some(rdkafka::types::RDKafkaErrorCode::QueueFull)), "{e}");
                producer.poll(Duration::from_millis(10));
                record = r;
            }
        }
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("it-batch-group"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let consumer = Arc::new(consumer);
    let mut queue = MessageQueue::new(consumer.clone(), 500);
    let router = queue.router();
    let assign = |from: [i64; 3]| {
        let mut tpl = TopicPartitionList::new();
        for (p, o) in from.iter().enumerate() {
            tpl.add_partition_offset(topic, p as i32, Offset::Offset(*o)).unwrap();
            router.route(&consumer, topic, p as i32);
        }
        consumer.assign(&tpl).expect("assign");
    };
    // Read until every partition has reached `until`, checking order and bytes; returns the
    // next offset of each.
    let mut read_to = |next: &mut [i64; 3], until: i64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while next.iter().any(|n| *n < until) {
            assert!(Instant::now() < deadline, "stuck at {next:?} (want {until} each)");
            assert!(consumer.poll(Duration::ZERO).is_none(), "nothing but events on the consumer's queue");
            router.reroute(&consumer);
            queue.read(Duration::from_millis(100), 500, |m| {
                let m = m.expect("no fetch error");
                assert_eq!(&**m.topic, topic);
                let p = m.partition as usize;
                assert_eq!(m.offset, next[p], "partition {p}: offsets in order, each once");
                assert_eq!(m.payload, payload(m.partition, m.offset).as_bytes());
                assert_eq!(m.key, Some(format!("k{}", m.offset).as_bytes()));
                assert!(m.timestamp_ms.is_some_and(|ts| ts > 0));
                next[p] += 1;
            });
        }
    };
    let mut next = [0i64; 3];
    assign(next);
    read_to(&mut next, PER_PARTITION / 2);
    // Partition 0 back to 100, partition 1 ahead to 2500, partition 2 where it is.
    next = [100, 2500, next[2]];
    assign(next);
    read_to(&mut next, PER_PARTITION);
    assert_eq!(next, [PER_PARTITION; 3]);
    drop(queue);

    let rate = drain_rate(&KafkaConfig::new(bootstrap()), &[topic.to_string()]).expect("drain");
    let bytes: usize = (0..PER_PARTITION).flat_map(|o| (0..3).map(move |p| payload(p, o).len())).sum();
    assert_eq!((rate.messages, rate.bytes), (3 * PER_PARTITION as u64, bytes as u64));
}
