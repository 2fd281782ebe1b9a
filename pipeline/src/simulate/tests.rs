//! The simulator's output is deterministic and its ground truth is internally consistent.

use std::collections::{BTreeMap, HashMap, HashSet};

use livelake_schemas::{Decoder, Event, EventKind, Payload};

use super::*;

fn small(seed: u64) -> SimConfig {
    SimConfig { viewers: 600, duration_min: 45, ..SimConfig::new(seed) }.with_default_pitches().fit_incidents()
}

const NOW: i64 = 1_795_780_800_000 + 48 * 3_600_000;

fn decode_all(sim: &Simulation) -> Vec<(Event<'static>, &Line)> {
    let d = Decoder::default();
    sim.lines
        .iter()
        .filter(|l| l.class != LineClass::Duplicate)
        .filter_map(|l| match (&l.class, d.decode(&l.bytes, NOW)) {
            (LineClass::Valid, Ok(e)) => Some((e.into_owned(), l)),
            (LineClass::Valid, Err(r)) => panic!("valid line rejected ({r}): {}", String::from_utf8_lossy(&l.bytes)),
            (LineClass::Malformed(want), Err(r)) => {
                assert_eq!(&r.reason.to_string(), want, "{}", String::from_utf8_lossy(&l.bytes));
                None
            }
            (LineClass::Malformed(want), Ok(_)) => panic!("malformed line accepted (wanted {want})"),
            (LineClass::Duplicate, _) => unreachable!(),
        })
        .collect()
}

#[test]
fn same_seed_same_show_other_seed_other_show() {
    let a = simulate(&small(42));
    let b = simulate(&small(42));
    let c = simulate(&small(43));
    assert_eq!(a.lines.len(), b.lines.len());
    assert!(a.lines.iter().zip(&b.lines).all(|(x, y)| x.bytes == y.bytes && x.arrival_ms == y.arrival_ms));
    assert_eq!(serde_json::to_string(&a.truth).unwrap(), serde_json::to_string(&b.truth).unwrap());
    assert_ne!(a.lines.len(), c.lines.len());
}

#[test]
fn every_line_decodes_as_its_class_says() {
    let sim = simulate(&small(7));
    let events = decode_all(&sim);
    let t = &sim.truth.totals;
    assert_eq!(events.len() as u64, t.player_events + t.commerce_events);
    let malformed: u64 = t.malformed.values().sum();
    assert!(malformed >= 10, "some malformed lines: {malformed}");
    assert!(t.malformed.len() >= 10, "many reasons: {:?}", t.malformed);
    let dups = sim.lines.iter().filter(|l| l.class == LineClass::Duplicate).count() as u64;
    assert_eq!(dups, t.duplicate_player + t.duplicate_commerce);
    assert!(dups > 0);
    assert_eq!(t.lines, events.len() as u64 + malformed + dups);
    // Duplicates repeat a valid line byte for byte.
    let valid: HashSet<&[u8]> =
        sim.lines.iter().filter(|l| l.class == LineClass::Valid).map(|l| &l.bytes[..]).collect();
    assert!(sim.lines.iter().filter(|l| l.class == LineClass::Duplicate).all(|l| valid.contains(&l.bytes[..])));
    // Event ids are unique among valid lines; families match the topic.
    let mut ids = HashSet::new();
    for (e, l) in &events {
        assert!(ids.insert(e.event_id.to_string()), "duplicate id {}", e.event_id);
        assert_eq!(e.kind().family(), l.family);
    }
    // Delivery is out of order (by event time) but sorted by arrival.
    assert!(sim.lines.windows(2).all(|w| w[0].arrival_ms <= w[1].arrival_ms));
    assert!(events.windows(2).any(|w| w[0].0.ts_ms > w[1].0.ts_ms));
    assert!(t.delayed_late > 0 && t.delayed_reordered > 0);
}

#[test]
fn sessions_are_consistent() {
    let sim = simulate(&small(11));
    let events = decode_all(&sim);
    let mut by_session: HashMap<String, Vec<Event<'static>>> = HashMap::new();
    for (e, _) in events {
        by_session.entry(e.session_id.to_string()).or_default().push(e);
    }
    let mut orders = 0;
    for (sid, mut evs) in by_session {
        evs.sort_by_key(|e| e.ts_ms);
        let starts: Vec<_> = evs.iter().filter(|e| e.kind() == EventKind::SessionStart).collect();
        assert_eq!(starts.len(), 1, "{sid}: one session_start");
        let start = starts[0].ts_ms;
        assert!(evs.iter().all(|e| e.ts_ms >= start), "{sid}: nothing precedes the start");
        let ends: Vec<_> = evs.iter().filter(|e| e.kind() == EventKind::SessionEnd).collect();
        assert!(ends.len() <= 1, "{sid}: ends at most once");
        if let Some(end) = ends.first() {
            let last_player = evs.iter().rfind(|e| e.kind().family() == livelake_schemas::Family::Player).unwrap();
            assert_eq!(last_player.kind(), EventKind::SessionEnd, "{sid}: nothing plays after the end");
            assert!(evs.iter().all(|e| e.ts_ms <= end.ts_ms), "{sid}: no interaction after leaving");
        }
        let ff = evs.iter().filter(|e| e.kind() == EventKind::FirstFrame).count();
        assert!(ff <= 1, "{sid}");
        let stall_starts = evs.iter().filter(|e| e.kind() == EventKind::StallStart).count();
        let stall_ends = evs.iter().filter(|e| e.kind() == EventKind::StallEnd).count();
        assert_eq!(stall_starts, stall_ends, "{sid}: stalls close");
        for e in &evs {
            if let Payload::Order { amount_usd, .. } = &e.payload {
                orders += 1;
                assert!(amount_usd.0 > 0);
                assert!(e.ts_ms > start, "{sid}: order after the start");
            }
            let viewer_stream: Vec<&str> = e.session_id.split("-s").collect();
            assert!(e.session_id.starts_with(&*e.stream_id), "{viewer_stream:?}");
        }
    }
    assert!(orders > 0, "the pitches sell something");
}

#[test]
fn truth_minutes_add_up_to_totals() {
    let sim = simulate(&small(5));
    let t = &sim.truth;
    let sum = |f: &dyn Fn(&MinuteTruth) -> u64| t.minutes.iter().map(f).sum::<u64>();
    let all_events = sum(&|m| m.events_raw.values().sum());
    assert_eq!(all_events, t.totals.player_events + t.totals.commerce_events);
    assert_eq!(sum(&|m| m.sessions_started), t.totals.sessions);
    assert_eq!(sum(&|m| m.sessions_started_raw), t.totals.sessions + t.totals.fake_sessions);
    assert_eq!(sum(&|m| m.orders), t.totals.orders);
    // Every real session exits exactly once.
    assert_eq!(sum(&|m| m.exits), t.totals.sessions);
    let gmv: i128 = t.minutes.iter().map(|m| livelake_schemas::Decimal4::parse(&m.gmv_usd).unwrap().0).sum();
    assert_eq!(livelake_schemas::Decimal4(gmv).to_string(), t.totals.gmv_usd);
    for m in &t.minutes {
        assert!(m.sessions_active <= m.sessions_active_raw);
        assert!(m.exits_after_stall <= m.exits);
        assert!(m.sessions_started <= m.sessions_started_raw);
        assert_eq!(m.window_start_ms % 60_000, 0);
    }
}

#[test]
fn incidents_are_where_the_config_puts_them() {
    let cfg = small(3);
    let sim = simulate(&cfg);
    let spike = cfg.spike.as_ref().unwrap();
    let spike_ms = cfg.start_ms + spike.minute * 60_000;
    let at = |region: &str, ms: i64| sim.truth.minutes.iter().find(|m| m.region == region && m.window_start_ms == ms);
    let m = at(&spike.region, spike_ms).expect("spike minute");
    assert_eq!(m.sessions_started_raw - m.sessions_started, spike.sessions as u64, "every bot starts in the minute");
    assert!(m.sessions_started_raw >= 50);
    // The burst: stall time per play time far above the region's other minutes.
    let burst = cfg.burst.as_ref().unwrap();
    let ratio = |m: &MinuteTruth| m.stall_ms as f64 / (m.play_ms + m.stall_ms).max(1) as f64;
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for m in sim.truth.minutes.iter().filter(|m| m.region == burst.region) {
        let minute = (m.window_start_ms - cfg.start_ms) / 60_000;
        if minute >= burst.minute && minute < burst.minute + burst.minutes {
            inside.push(ratio(m));
        } else if minute > 2 {
            outside.push(ratio(m));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&inside) > 5.0 * mean(&outside), "burst {:?} vs {}", inside, mean(&outside));
    let kinds: BTreeMap<&str, usize> = sim.truth.incidents.iter().fold(BTreeMap::new(), |mut m, i| {
        *m.entry(i.kind).or_default() += 1;
        m
    });
    assert_eq!(kinds.len(), 2);
}
