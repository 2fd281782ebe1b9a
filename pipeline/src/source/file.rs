//! NDJSON file source: one partition (`file:<path>`, 0), offsets are 1-based line numbers, the
//! file ends the input. Resumes after a restart by skipping lines already in the lake.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Fetch, Poll, SourceMsg};
use crate::engine::PartId;
use crate::error::{Result, io};

/// Reads an NDJSON file in batches.
pub struct FileSource {
    path: PathBuf,
    part: PartId,
    reader: BufReader<File>,
    line: i64,
    done: bool,
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

    /// The partition this file is.
    pub fn part(&self) -> &PartId {
        &self.part
    }

    /// Up to `max` lines.
    pub fn poll(&mut self, max: usize) -> Result<Poll> {
        if self.done {
            return Ok(Poll::End);
        }
        let mut out = Vec::with_capacity(max);
        while out.len() < max {
            let mut buf = Vec::with_capacity(256);
            let n = self.reader.read_until(b'\n', &mut buf).map_err(io("reading", &self.path))?;
            if n == 0 {
                self.done = true;
                break;
            }
            self.line += 1;
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue; // blank lines are not messages
            }
            out.push(SourceMsg {
                part: self.part.clone(),
                offset: self.line,
                key: None,
                payload: buf,
                timestamp_ms: None,
            });
        }
        if out.is_empty() && self.done { Ok(Poll::End) } else { Ok(Poll::Messages(out)) }
    }
}

impl Fetch for FileSource {
    fn fetch(&mut self, max: usize, _wait: std::time::Duration) -> Result<Poll> {
        self.poll(max)
    }
}
