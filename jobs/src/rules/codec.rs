//! The compact binary encoding of rule state (little-endian integers, LEB128 counts,
//! length-prefixed UTF-8): what a snapshot of [`super::StreamSessions`] is made of.

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
    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

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
    /// Read `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// True when every byte was read.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

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
