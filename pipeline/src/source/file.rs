//! NDJSON file source: one partition (`file:<path>`, 0), offsets are 1-based line numbers, the
//! file ends the input. Resumes after a restart by skipping lines already in the lake.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{BatchBytes, Fetch, Poll, SourceMsg};
use crate::engine::PartId;
use crate::error::{Result, io};

/// Reads an NDJSON file in batches.
pub struct FileSource {
    path: PathBuf,
    part: PartId,
    reader: BufReader<File>,
    line: i64,
    done: bool,
    /// Replay pacing, when a speed is set.
    pace: Option<Pace>,
    /// A line read but not due yet.
    held: Option<SourceMsg>,
}

impl FileSource {
    /// Partition id of a file: its canonical path and a fingerprint of its first line, so an
    /// appended file resumes where it was, and a different file at the same path starts afresh.
    pub fn part_id(path: &Path) -> Result<PartId> {
        let canon = path.canonicalize().map_err(io("opening", path))?;
        let mut first = Vec::new();
        BufReader::new(File::open(path).map_err(io("opening", path))?)
            .read_until(b'\n', &mut first)
            .map_err(io("reading", path))?;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &first {
            h = (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(PartId { topic: Arc::from(format!("file:{}#{h:016x}", canon.display())), partition: 0 })
    }

    /// Open `path`; lines before `resume_line` (1-based) are skipped.
    pub fn open(path: &Path, resume_line: i64) -> Result<FileSource> {
        let part = Self::part_id(path)?;
        let f = File::open(path).map_err(io("opening", path))?;
        let mut src = FileSource {
            path: path.to_path_buf(),
            part,
            reader: BufReader::with_capacity(1 << 20, f),
            line: 0,
            done: false,
            pace: None,
            held: None,
        };
        let mut buf = Vec::new();
        while src.line + 1 < resume_line {
            buf.clear();
            if src.reader.read_until(b'\n', &mut buf).map_err(io("reading", path))? == 0 {
                break;
            }
            src.line += 1;
        }
        Ok(src)
    }

    /// Hand lines out at `speed` × the pace of their events' `ts` (0: as fast as they are read).
    pub fn with_replay_speed(mut self, speed: f64) -> Self {
        self.pace = (speed > 0.0).then_some(Pace { speed, first: None });
        self
    }

    /// The partition this file is.
    pub fn part(&self) -> &PartId {
        &self.part
    }

    /// The next non-blank line appended to `batch`'s bytes (its line number and range there),
    /// or None at the end of the file.
    fn next_line(&mut self, batch: &mut BatchBytes) -> Result<Option<(i64, Range<usize>)>> {
        let buf = &mut batch.bytes;
        loop {
            let start = buf.len();
            let n = self.reader.read_until(b'\n', buf).map_err(io("reading", &self.path))?;
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            self.line += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.len() > start && buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            if buf[start..].iter().all(u8::is_ascii_whitespace) {
                buf.truncate(start);
                continue; // blank lines are not messages
            }
            return Ok(Some((self.line, start..buf.len())));
        }
    }

    /// Lines appended to `batch` until it has `max` messages or the file ends: the complete
    /// lines in the reader's buffer are copied at once, then cut at their ends (a line across the
    /// buffer's end is read alone, [`FileSource::next_line`]).
    fn read_lines(&mut self, batch: &mut BatchBytes, max: usize) -> Result<()> {
        let mut ends = Vec::new();
        while batch.len() < max {
            let avail = self.reader.fill_buf().map_err(io("reading", &self.path))?;
            ends.clear();
            ends.extend(memchr::memchr_iter(b'\n', avail).take(max - batch.len()));
            let Some(&last) = ends.last() else {
                match self.next_line(batch)? {
                    Some((offset, r)) => batch.push(self.part.clone(), offset, r),
                    None => break,
                }
                continue;
            };
            let base = batch.bytes.len();
            batch.bytes.extend_from_slice(&avail[..=last]);
            self.reader.consume(last + 1);
            let mut start = base;
            for &end in &ends {
                let (next, mut end) = (base + end + 1, base + end);
                self.line += 1;
                if end > start && batch.bytes[end - 1] == b'\r' {
                    end -= 1;
                }
                // Blank lines are not messages (their bytes stay, unread).
                if !batch.bytes[start..end].iter().all(u8::is_ascii_whitespace) {
                    batch.push(self.part.clone(), self.line, start..end);
                }
                start = next;
            }
        }
        Ok(())
    }

    /// Up to `max` lines (with a replay speed: those due by now, waiting at most `wait` for the
    /// first).
    pub fn poll(&mut self, max: usize, wait: Duration) -> Result<Poll> {
        let mut batch = BatchBytes::with_capacity(max.min(8192));
        if self.pace.is_none() && self.held.is_none() {
            self.read_lines(&mut batch, max)?;
            let out = batch.finish();
            return if out.is_empty() && self.done { Ok(Poll::End) } else { Ok(Poll::Messages(out)) };
        }
        let mut held = self.held.take();
        let mut out: Vec<SourceMsg> = Vec::new();
        while out.len() + batch.len() < max {
            // The line held back from the last poll comes first.
            let line = match &held {
                Some(_) => None,
                None => match self.next_line(&mut batch)? {
                    Some(l) => Some(l),
                    None => break,
                },
            };
            let bytes = match (&held, &line) {
                (Some(m), _) => &m.payload[..],
                (None, Some((_, r))) => &batch.bytes[r.clone()],
                (None, None) => unreachable!("a line was read"),
            };
            let due_in = self.pace.as_mut().map_or(Duration::ZERO, |p| p.due_in(bytes));
            let first = out.is_empty() && batch.len() == 0;
            let ready = due_in.is_zero() || (first && due_in <= wait);
            if !ready {
                if first {
                    std::thread::sleep(wait);
                }
                if let Some((offset, r)) = line {
                    // Not due yet: kept, with bytes of its own, for the next poll.
                    let payload = Bytes::copy_from_slice(&batch.bytes[r.clone()]);
                    batch.bytes.truncate(r.start);
                    held = Some(SourceMsg { part: self.part.clone(), offset, key: None, payload, timestamp_ms: None });
                }
                break;
            }
            if !due_in.is_zero() {
                std::thread::sleep(due_in);
            }
            match line {
                Some((offset, r)) => batch.push(self.part.clone(), offset, r),
                None => out.extend(held.take()),
            }
        }
        self.held = held;
        out.extend(batch.finish());
        if out.is_empty() && self.done && self.held.is_none() { Ok(Poll::End) } else { Ok(Poll::Messages(out)) }
    }
}

/// Replaying a file at `speed` × its events' pace (a show replayed live, e.g. for the board's
/// demo): a line is handed out once the wall-clock time since the first line reaches (its `ts` −
/// the first line's `ts`) ÷ `speed`. Lines without a readable `ts` are due at once.
struct Pace {
    speed: f64,
    first: Option<(i64, Instant)>,
}

impl Pace {
    fn due_in(&mut self, line: &[u8]) -> Duration {
        let Some(ts) = line_ts(line) else { return Duration::ZERO };
        let (t0, wall0) = *self.first.get_or_insert((ts, Instant::now()));
        let at = wall0 + Duration::from_secs_f64(((ts - t0).max(0) as f64 / 1000.0) / self.speed);
        at.saturating_duration_since(Instant::now())
    }
}

/// The `ts` of an NDJSON event line, epoch ms, read by the contract's rule.
fn line_ts(line: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Ts {
        ts: serde_json::Value,
    }
    livelake_schemas::ts_of_json(&serde_json::from_slice::<Ts>(line).ok()?.ts.to_string())
}

impl Fetch for FileSource {
    fn fetch(&mut self, max: usize, wait: Duration) -> Result<Poll> {
        self.poll(max, wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(p: Poll) -> Vec<i64> {
        match p {
            Poll::Messages(m) => m.iter().map(|m| m.offset).collect(),
            Poll::End => vec![-1],
            other => panic!("a file has no assignments: {other:?}"),
        }
    }

    #[test]
    fn lines_across_the_read_buffer_come_whole_numbered_by_line_and_blank_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.ndjson");
        // ≈ 3.5 MB (the reader's buffer is 1 MB): lines of many lengths, one far longer than the
        // buffer, CRLF endings, blank and whitespace-only lines, no newline after the last.
        let mut lines: Vec<String> = Vec::new();
        for i in 0..20_000usize {
            lines.push(match i % 7 {
                0 => String::new(),
                3 => " \t ".to_string(),
                5 => format!("{{\"n\":{i},\"pad\":\"{}\"}}\r", "x".repeat(i % 300)),
                _ => format!("{{\"n\":{i},\"pad\":\"{}\"}}", "y".repeat((i * 31) % 200)),
            });
        }
        lines[10_001] = format!("{{\"long\":\"{}\"}}", "z".repeat(1_500_000));
        std::fs::write(&path, lines.join("\n")).unwrap();
        // Expected, written out plainly: every non-blank line, CR dropped, with its 1-based number.
        let want: Vec<(i64, String)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (i as i64 + 1, l.trim_end_matches('\r').to_string()))
            .filter(|(_, l)| !l.trim().is_empty())
            .collect();
        for max in [1, 7, 1000, 100_000] {
            let mut f = FileSource::open(&path, 1).unwrap();
            let mut got = Vec::new();
            loop {
                match f.poll(max, Duration::ZERO).unwrap() {
                    Poll::Messages(m) => {
                        assert!(m.len() <= max);
                        got.extend(m.iter().map(|m| (m.offset, String::from_utf8(m.payload.to_vec()).unwrap())));
                    }
                    Poll::End => break,
                    other => panic!("a file has no assignments: {other:?}"),
                }
            }
            assert_eq!(got.len(), want.len(), "max {max}");
            assert!(got == want, "max {max}: the lines differ");
        }
        // Resuming at a line skips those before it.
        let mut f = FileSource::open(&path, 10_002).unwrap();
        assert_eq!(offsets(f.poll(3, Duration::ZERO).unwrap()), [10_002, 10_003, 10_005]);
    }

    #[test]
    fn a_replay_hands_lines_out_at_the_pace_of_their_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("show.ndjson");
        // Event times 0, 0.1, 2 and 4 s (one as RFC 3339), a line without ts, and a blank line.
        let lines = [
            r#"{"ts":1795780800000,"type":"a"}"#,
            r#"{"ts":1795780800100,"type":"b"}"#,
            r#"{"ts":"2026-11-27T12:00:02Z","type":"c"}"#,
            "not json",
            "",
            r#"{"ts":1795780804000,"type":"d"}"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let mut f = FileSource::open(&path, 1).unwrap().with_replay_speed(10.0);
        let t0 = Instant::now();
        let wait = Duration::from_millis(100);
        assert_eq!(offsets(f.poll(100, wait).unwrap()), [1], "the first line at once; the second 10 ms later");
        assert_eq!(offsets(f.poll(100, wait).unwrap()), [2]);
        assert!(t0.elapsed() >= Duration::from_millis(10));
        // The third is due at 0.2 s: polls that wait 100 ms come back empty until then.
        let mut got = Vec::new();
        while got.is_empty() {
            got = offsets(f.poll(100, wait).unwrap());
        }
        assert!(t0.elapsed() >= Duration::from_millis(200), "{:?}", t0.elapsed());
        assert_eq!(got, [3, 4], "a line without ts is due with the one before it");
        let mut got = Vec::new();
        while got.is_empty() {
            got = offsets(f.poll(100, wait).unwrap());
        }
        assert!(t0.elapsed() >= Duration::from_millis(400));
        assert_eq!(got, [6]);
        assert_eq!(offsets(f.poll(100, wait).unwrap()), [-1]);
        // Without a speed: everything at once.
        let mut f = FileSource::open(&path, 1).unwrap();
        assert_eq!(offsets(f.poll(100, wait).unwrap()), [1, 2, 3, 4, 6]);
    }
}
