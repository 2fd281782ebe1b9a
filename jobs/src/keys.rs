//! Dense integer keys of sessions and viewers: the jobs' SQL counts, groups and joins sessions and
//! viewers on these rather than on their string ids. The same groups and counts (a key stands
//! for one (stream, id) pair), cheaper: DataFusion counts distinct integers with a grouped
//! accumulator of its own, distinct strings one group at a time.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};

/// The key of (`stream_id`, `session_id`).
pub(crate) const SESSION_KEY: &str = "session_key";
/// The key of (`stream_id`, `viewer_id`).
pub(crate) const VIEWER_KEY: &str = "viewer_key";

/// Dense integer keys of (stream, id) pairs, numbered as first seen.
#[derive(Default)]
pub(crate) struct Keys {
    by_stream: HashMap<String, HashMap<String, i64, ahash::RandomState>, ahash::RandomState>,
    next: i64,
}

impl Keys {
    /// The keys of one stream's ids.
    fn of(&mut self, stream: &str) -> StreamKeys<'_> {
        if !self.by_stream.contains_key(stream) {
            self.by_stream.insert(stream.to_string(), HashMap::default());
        }
        StreamKeys { ids: self.by_stream.get_mut(stream).expect("just added"), next: &mut self.next }
    }

    /// The keys of (`stream_id`, the column `ids`) of the rows of `b` (events with `Utf8`
    /// columns, never null).
    pub(crate) fn of_events(&mut self, b: &RecordBatch, ids: &str) -> ArrayRef {
        let col = |n: &str| b.column_by_name(n).expect("an event column").as_string::<i32>();
        let (stream, id) = (col("stream_id"), col(ids));
        let mut out = Vec::with_capacity(b.num_rows());
        // Rows come in runs of one stream: its keys are looked up once per run.
        let mut start = 0;
        while start < b.num_rows() {
            let s = stream.value(start);
            let end = (start..b.num_rows()).find(|&i| stream.value(i) != s).unwrap_or(b.num_rows());
            let mut of_stream = self.of(s);
            out.extend((start..end).map(|i| of_stream.key(id.value(i))));
            start = end;
        }
        Arc::new(Int64Array::from(out))
    }

    /// The keys of (stream, id) pairs.
    pub(crate) fn of_pairs<'a>(&mut self, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> ArrayRef {
        Arc::new(pairs.map(|(stream, id)| self.of(stream).key(id)).collect::<Int64Array>())
    }
}

/// [`Keys`] of one stream.
struct StreamKeys<'a> {
    ids: &'a mut HashMap<String, i64, ahash::RandomState>,
    next: &'a mut i64,
}

impl StreamKeys<'_> {
    fn key(&mut self, id: &str) -> i64 {
        if let Some(k) = self.ids.get(id) {
            return *k;
        }
        let k = *self.next;
        *self.next += 1;
        self.ids.insert(id.to_string(), k);
        k
    }
}

/// The sessions' and the viewers' keys of one job run.
#[derive(Default)]
pub(crate) struct Keyring {
    sessions: Keys,
    viewers: Keys,
}

impl Keyring {
    /// The keys named `key` ([`SESSION_KEY`] or [`VIEWER_KEY`]) of the rows of `b` (events with
    /// `Utf8` `stream_id` and `session_id` or `viewer_id`, never null).
    pub(crate) fn of_events(&mut self, b: &RecordBatch, key: &str) -> ArrayRef {
        match key {
            SESSION_KEY => self.sessions.of_events(b, "session_id"),
            VIEWER_KEY => self.viewers.of_events(b, "viewer_id"),
            other => panic!("no key {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn events(rows: &[(&str, &str, &str)]) -> RecordBatch {
        let col =
            |i: usize| Arc::new(StringArray::from_iter_values(rows.iter().map(|r| [r.0, r.1, r.2][i]))) as ArrayRef;
        let schema = Schema::new(
            ["stream_id", "session_id", "viewer_id"].map(|n| Field::new(n, DataType::Utf8, false)).to_vec(),
        );
        RecordBatch::try_new(Arc::new(schema), vec![col(0), col(1), col(2)]).unwrap()
    }

    fn values(a: &ArrayRef) -> Vec<i64> {
        a.as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()
    }

    #[test]
    fn a_key_per_stream_and_id_across_batches() {
        let mut keys = Keyring::default();
        // The same session id in two streams is two sessions; a viewer keeps its key.
        let b = events(&[("a", "x", "v1"), ("a", "y", "v1"), ("b", "x", "v1"), ("a", "x", "v2")]);
        let (s, v) = (keys.of_events(&b, SESSION_KEY), keys.of_events(&b, VIEWER_KEY));
        assert_eq!(values(&s), vec![0, 1, 2, 0]);
        assert_eq!(values(&v), vec![0, 0, 1, 2]);
        let b = events(&[("b", "x", "v1"), ("b", "z", "v3")]);
        let (s, v) = (keys.of_events(&b, SESSION_KEY), keys.of_events(&b, VIEWER_KEY));
        assert_eq!(values(&s), vec![2, 3], "keys hold across batches");
        assert_eq!(values(&v), vec![1, 3]);
        assert_eq!(values(&keys.sessions.of_pairs([("a", "y"), ("c", "y")].into_iter())), vec![1, 4]);
    }
}
