//! Bytes of session state per active session (issue: ≤ 300 bytes), measured two ways: the
//! process's resident memory before and after 100 000 concurrent sessions enter the state (what
//! malloc really hands out), and the state's own capacity-based estimate; plus the snapshot size
//! each commit writes. Run by `make bench`:
//! `cargo run --release --features bench --example bench -- state_size [sessions]`.

use std::borrow::Cow;

use livelake_jobs::rules::{Observation, Regions, StreamSessions};
use livelake_schemas::{Event, Payload};

fn rss_bytes() -> usize {
    super::status_kib("self", "VmRSS") as usize * 1024
}

fn event<'a>(session: &'a str, ts_ms: i64, payload: Payload<'a>) -> Event<'a> {
    Event {
        event_id: Cow::Borrowed("e"),
        ts_ms,
        stream_id: Cow::Borrowed("show-1"),
        session_id: Cow::Borrowed(session),
        viewer_id: Cow::Borrowed(session),
        region: Cow::Borrowed("SEA"),
        country: None,
        platform: None,
        cdn: None,
        source: None,
        payload,
    }
}

pub fn main(args: &[String]) {
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    const T0: i64 = 1_795_780_800_000;
    // SDK session ids are typically random UUIDs: 36 characters that compress poorly.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ids: Vec<String> = (0..n)
        .map(|_| {
            let (a, b) = (next(), next());
            format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                a >> 32,
                a & 0xffff,
                b >> 52,
                (b >> 40) & 0xfff,
                b & 0xffff_ffff_ffff
            )
        })
        .collect();
    let mut regions = Regions::default();
    let region = regions.id("SEA");
    let before = rss_bytes();
    let mut state = StreamSessions::default();
    for (i, id) in ids.iter().enumerate() {
        let start = T0 + (i as i64 % 60_000);
        let wm = start - 30_000;
        let events = [
            event(id, start, Payload::SessionStart),
            event(id, start + 900, Payload::FirstFrame { startup_ms: 900 }),
            event(id, start + 4_000, Payload::StallStart),
            event(id, start + 5_500, Payload::StallEnd { stall_ms: 1_500 }),
            event(
                id,
                start + 10_900,
                Payload::Heartbeat {
                    play_ms: 8_500,
                    bitrate_kbps: Some(2_500),
                    height: Some(720),
                    latency_ms: Some(3_000),
                    dropped_frames: Some(0),
                },
            ),
        ];
        for e in &events {
            state.observe(Observation::of(e, region, wm), 60_000);
        }
    }
    let after = rss_bytes();
    let estimate = state.heap_bytes() + std::mem::size_of::<StreamSessions>();
    let snapshot = livelake_pipeline::engine::encode_sessions(&state, "show-1", &regions);
    let per = |b: usize| b as f64 / n as f64;
    println!("sessions: {n} concurrent (36-char ids), each with start, first frame, stall, heartbeat");
    println!("state bytes per session (RSS delta): {:.0}", per(after.saturating_sub(before)));
    println!("state bytes per session (estimate):  {:.0}", per(estimate));
    println!("snapshot bytes per session (zstd):   {:.1}", per(snapshot.len()));
    assert_eq!(state.len(), n);
}
