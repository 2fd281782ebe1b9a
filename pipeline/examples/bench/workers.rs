//! Scale-out: `livelake run` with N workers of one consumer group sharing one lake, on topics that
//! already hold the bench's show. The workers start together; every 500 ms the group's committed
//! offsets (which a worker commits only after the lake holds those messages) are compared with
//! the topics' end offsets: the group's lag over time. The run is over when the lag is zero; then
//! each worker's CPU time (user + sys, from /proc) and peak RSS are read and the workers are
//! stopped (SIGTERM). The workers commit at least every 2 s (`sink.roll_secs`), so the lag follows
//! what the lake holds. Printed: one summary line, then `lag SECONDS MESSAGES` lines.
//! Run by `make bench`:
//! `cargo run --release --features bench --example bench -- workers BROKERS PLAYER_TOPIC COMMERCE_TOPIC DEAD_TOPIC LIVELAKE_BIN LAKE GROUP WORKERS`

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

/// (topic, partition, low, high) of every partition of `topics`.
fn ends(c: &BaseConsumer, topics: &[&str]) -> Vec<(String, i32, i64, i64)> {
    let mut out = Vec::new();
    for t in topics {
        let md = c.fetch_metadata(Some(t), Duration::from_secs(10)).expect("topic metadata");
        for p in md.topics()[0].partitions() {
            let (lo, hi) = c.fetch_watermarks(t, p.id(), Duration::from_secs(10)).expect("watermarks");
            out.push((t.to_string(), p.id(), lo, hi));
        }
    }
    out
}

/// Messages of `parts` the group has not committed yet.
fn lag(c: &BaseConsumer, parts: &[(String, i32, i64, i64)]) -> Option<i64> {
    let mut tpl = TopicPartitionList::new();
    for (t, p, _, _) in parts {
        tpl.add_partition(t, *p);
    }
    let committed = c.committed_offsets(tpl, Duration::from_secs(5)).ok()?;
    Some(
        parts
            .iter()
            .map(|(t, p, lo, hi)| {
                let at = committed.find_partition(t, *p).and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                });
                hi - at.unwrap_or(*lo).max(*lo)
            })
            .sum(),
    )
}

/// User + sys CPU seconds and peak RSS (KiB) of a running process.
fn usage(pid: u32, ticks: f64) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let cpu = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: state is field 0, utime 11, stime 12.
    let secs = (cpu(11) + cpu(12)) / ticks;
    (secs, super::status_kib(&pid.to_string(), "VmHWM"))
}

pub fn main(a: &[String]) {
    let [brokers, player, commerce, dead, bin, lake, group, workers] = a else {
        panic!("usage: workers BROKERS PLAYER_TOPIC COMMERCE_TOPIC DEAD_TOPIC LIVELAKE_BIN LAKE GROUP WORKERS");
    };
    let workers: usize = workers.parse().expect("a number of workers");
    let ticks: f64 = String::from_utf8(Command::new("getconf").arg("CLK_TCK").output().expect("getconf").stdout)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0);
    let probe: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", brokers).set("group.id", group).create().expect("a consumer");
    let parts = ends(&probe, &[player, commerce]);
    let messages: i64 = parts.iter().map(|(_, _, lo, hi)| hi - lo).sum();
    let t0 = Instant::now();
    let mut procs: Vec<Child> = (0..workers)
        .map(|_| {
            Command::new(bin)
                .args(["run", "--source", "kafka", "--brokers", brokers, "--group-id", group, "--lake", lake])
                .args(["--metrics-listen", "off"])
                .env("LIVELAKE__KAFKA__PLAYER_TOPIC", player)
                .env("LIVELAKE__KAFKA__COMMERCE_TOPIC", commerce)
                .env("LIVELAKE__KAFKA__DEADLETTER_TOPIC", dead)
                // Commits at least every 2 s, so the group's lag follows what the lake holds.
                .env("LIVELAKE__SINK__ROLL_SECS", "2")
                .env("RUST_LOG", "warn,deltalake_core=error")
                .stdout(Stdio::null())
                .spawn()
                .expect("livelake run")
        })
        .collect();
    let mut series = Vec::new();
    let (done, usage_at_end) = loop {
        std::thread::sleep(Duration::from_millis(500));
        let t = t0.elapsed().as_secs_f64();
        if let Some(l) = lag(&probe, &parts) {
            series.push((t, l));
            if l <= 0 {
                break (t, procs.iter().map(|p| usage(p.id(), ticks)).collect::<Vec<_>>());
            }
        }
        assert!(t < 1800.0, "the workers did not catch up within 30 minutes");
        assert!(procs.iter_mut().all(|p| p.try_wait().ok().flatten().is_none()), "a worker stopped");
    };
    for p in &procs {
        let _ = Command::new("kill").args(["-TERM", &p.id().to_string()]).status();
    }
    for p in &mut procs {
        let _ = p.wait();
    }
    let cpu: f64 = usage_at_end.iter().map(|(c, _)| c).sum();
    let rss: Vec<String> = usage_at_end.iter().map(|(_, r)| r.to_string()).collect();
    println!(
        "scale-out workers {workers} messages {messages} seconds {done:.2} events/s {:.0} cpu_s {cpu:.1} events_per_cpu_s {:.0} peak_rss_kib {}",
        messages as f64 / done,
        messages as f64 / cpu.max(1e-9),
        rss.join(",")
    );
    for (t, l) in series {
        println!("lag {t:.1} {l}");
    }
}
