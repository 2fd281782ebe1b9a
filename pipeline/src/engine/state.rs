//! The engine's session snapshot: a compact binary encoding (little-endian integers,
//! length-prefixed UTF-8), zstd-compressed, written beside each commit record. Versioned by a
//! magic header so a format change is detected, not misread.

use std::collections::BTreeMap;

use super::sessions::{Regions, StreamSessions};

const MAGIC: &[u8; 8] = b"LLSESS01";

/// A snapshot that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Not a snapshot of this format.
    #[error("not a livelake session snapshot (bad header)")]
    Header,
    /// Ends too early or holds an impossible value.
    #[error("corrupt session snapshot ({0})")]
    Corrupt(&'static str),
    /// zstd failed.
    #[error("session snapshot: {0}")]
    Compression(#[from] std::io::Error),
}

/// Appends encoded values.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// An unsigned integer (LEB128 varint: small counts take one byte).
    pub fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A signed 64-bit integer, fixed width.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A string.
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }
}

/// Reads what [`Writer`] wrote.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StateError> {
        if self.buf.len() < n {
            return Err(StateError::Corrupt("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, StateError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned varint.
    pub fn u64(&mut self) -> Result<u64, StateError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(StateError::Corrupt("varint"))
    }

    /// A count, bounded by the bytes left (each element takes at least one byte).
    pub fn len(&mut self) -> Result<usize, StateError> {
        let n = self.u64()?;
        usize::try_from(n).ok().filter(|n| *n <= self.buf.len()).ok_or(StateError::Corrupt("length"))
    }

    /// A signed 64-bit integer.
    pub fn i64(&mut self) -> Result<i64, StateError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A string.
    pub fn str(&mut self) -> Result<&'a str, StateError> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| StateError::Corrupt("utf-8"))
    }
}

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
    out.extend(zstd::bulk::compress(&w.buf, 1).expect("zstd compresses an in-memory buffer"));
    out
}

/// Decode a snapshot written by [`encode`] (empty bytes: no state).
pub fn decode(bytes: &[u8], regions: &mut Regions) -> Result<BTreeMap<String, StreamSessions>, StateError> {
    let mut out = BTreeMap::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let body = bytes.strip_prefix(MAGIC).ok_or(StateError::Header)?;
    let mut plain = Vec::new();
    zstd::stream::copy_decode(body, &mut plain)?;
    let mut r = Reader { buf: &plain };
    for _ in 0..r.len()? {
        let id = r.str()?.to_string();
        let s = StreamSessions::decode(&mut r, regions)?;
        out.insert(id, s);
    }
    if !r.buf.is_empty() {
        return Err(StateError::Corrupt("trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use livelake_schemas::{Event, Payload};

    use super::*;
    use crate::engine::sessions::Observation;

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
