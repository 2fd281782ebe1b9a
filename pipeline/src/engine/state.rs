//! The engine's session snapshot: a compact binary encoding (little-endian integers,
//! length-prefixed UTF-8), zstd-compressed, written beside each commit record. Versioned by a
//! magic header so a format change is detected, not misread.

use std::collections::BTreeMap;

use livelake_jobs::rules::{Reader, Regions, StateError, StreamSessions, Writer};

/// Format 2 adds the held events of each stream; format 1 snapshots are still read.
const MAGIC: &[u8; 8] = b"LLSESS02";
const MAGIC_V1: &[u8; 8] = b"LLSESS01";

/// Encode the session state of every stream (sorted, so equal states give equal bytes).
pub fn encode<'s>(streams: impl Iterator<Item = (&'s str, &'s StreamSessions)>, regions: &Regions) -> Vec<u8> {
    let streams: Vec<_> = streams.filter(|(_, s)| s.has_state()).collect();
    if streams.is_empty() {
        return Vec::new();
    }
    let mut w = Writer::default();
    w.u64(streams.len() as u64);
    for (id, s) in streams {
        w.str(id);
        s.encode(&mut w, regions);
    }
    let mut out = MAGIC.to_vec();
    out.extend(zstd::bulk::compress(w.as_bytes(), 1).expect("zstd compresses an in-memory buffer"));
    out
}

/// Decode a snapshot written by [`encode`] (empty bytes: no state).
pub fn decode(bytes: &[u8], regions: &mut Regions) -> Result<BTreeMap<String, StreamSessions>, StateError> {
    let mut out = BTreeMap::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let (body, with_held) = match bytes.strip_prefix(MAGIC) {
        Some(body) => (body, true),
        None => (bytes.strip_prefix(MAGIC_V1).ok_or(StateError::Header)?, false),
    };
    let mut plain = Vec::new();
    zstd::stream::copy_decode(body, &mut plain)?;
    let mut r = Reader::new(&plain);
    for _ in 0..r.len()? {
        let id = r.str()?.to_string();
        let s = StreamSessions::decode(&mut r, regions, with_held)?;
        out.insert(id, s);
    }
    if !r.is_empty() {
        return Err(StateError::Corrupt("trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use livelake_schemas::{Event, Payload};

    use super::*;
    use livelake_jobs::rules::Observation;

    fn ev<'a>(session: &'a str, ts_ms: i64, payload: Payload<'a>, region: &'a str) -> Event<'a> {
        Event {
            event_id: Cow::Borrowed("e"),
            ts_ms,
            stream_id: Cow::Borrowed("s"),
            session_id: Cow::Borrowed(session),
            viewer_id: Cow::Borrowed(session),
            region: Cow::Borrowed(region),
            country: None,
            platform: None,
            cdn: None,
            source: None,
            payload,
        }
    }

    #[test]
    fn snapshots_round_trip_and_damage_is_an_error() {
        let mut regions = Regions::default();
        let mut s = StreamSessions::default();
        let events = [
            ev("a", 1_000, Payload::SessionStart, "EU"),
            ev("a", 4_000, Payload::StallStart, "EU"),
            ev("a", 6_000, Payload::StallEnd { stall_ms: 2_000 }, "EU"),
            ev("a", 9_000, Payload::SessionEnd { reason: None }, "EU"),
            ev("b", 2_000, Payload::Like { count: 1 }, "SEA"),
        ];
        for e in &events {
            let region = regions.id(&e.region);
            s.observe(Observation::of(e, region, 0), 60_000);
        }
        s.add_suspect("c");
        s.record_window(regions.id("EU"), 0, 1, 60_000, 60_000);
        let bytes = encode(std::iter::once(("s", &s)), &regions);
        assert!(bytes.starts_with(MAGIC));
        // Decode into other interned numbers: equal state must encode to equal bytes.
        let mut other = Regions::default();
        other.id("ME");
        let back = decode(&bytes, &mut other).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back["s"].len(), 2);
        assert_eq!(encode(back.iter().map(|(k, v)| (k.as_str(), v)), &other), bytes);
        assert!(decode(b"nonsense", &mut other).is_err());
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 3);
        assert!(decode(&cut, &mut other).is_err());
        assert!(decode(&[], &mut other).unwrap().is_empty());

        // Start counts alone (every session gone) still matter to the spike rule: kept.
        let mut quiet = StreamSessions::default();
        quiet.record_window(regions.id("EU"), 0, 3, 60_000, 60_000);
        let bytes = encode(std::iter::once(("q", &quiet)), &regions);
        assert_eq!(decode(&bytes, &mut other).unwrap()["q"].history_rows("q", &other).len(), 1);
        assert!(encode(std::iter::once(("e", &StreamSessions::default())), &regions).is_empty());
    }
}
