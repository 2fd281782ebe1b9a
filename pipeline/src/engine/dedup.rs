//! The dedup memory's keys: a hash table of 128-bit event keys ([`super::event_key`]), each
//! with the event time and offset of the event it was last accepted as.
//!
//! Open addressing with linear probing: a key's slot is found from its own low bits (the keys
//! are hashes already), and a lookup reads one or two neighbouring slots of one flat array. A
//! partition remembers the events of the last 15 minutes of event time, a million or more keys,
//! so each lookup misses the caches: [`Ids::touch`] lets the caller load the slots of the next
//! few keys together, and their misses overlap instead of following one another. Removal
//! shifts later slots of the probe run back (no tombstones), so the table stays as full as the
//! keys it holds.

/// One slot: key 0 marks it empty (a key of 0 is stored as 1: [`stored`]).
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u128,
    ts: i64,
    offset: i64,
}

/// The table (see the module docs).
#[derive(Debug, Default)]
pub struct Ids {
    slots: Vec<Slot>,
    len: usize,
}

/// How far ahead of a lookup its slot is loaded ([`Ids::touch`]), in keys.
const AHEAD: usize = 8;

/// Which of `len` keys to [`Ids::touch`] before handling key `i` of them in turn: every
/// [`AHEAD`] keys, the group after the next (the first time, the first two groups), so each
/// key's slot is loaded while the group before it is handled.
pub fn touch_ahead(i: usize, len: usize) -> std::ops::Range<usize> {
    if !i.is_multiple_of(AHEAD) {
        return 0..0;
    }
    let end = len.min(i + 2 * AHEAD);
    let start = if i == 0 { 0 } else { i + AHEAD };
    start.min(end)..end
}

/// Fewest slots of a table that holds anything.
const MIN_SLOTS: usize = 1024;

/// The key as the table stores it: 0 means empty, so the key 0 becomes 1 (two events whose keys
/// are 0 and 1 count as one: a chance of 2⁻¹²⁷ per pair, beside the 2⁻¹²⁸ of any two keys).
fn stored(key: u128) -> u128 {
    key.max(1)
}

impl Ids {
    /// Keys held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, key: u128) -> usize {
        key as usize & self.mask()
    }

    /// Load the slot where `key` would be found, so that looking it up soon after hits the
    /// cache. Only a hint: it changes nothing.
    pub fn touch(&self, key: u128) {
        if !self.slots.is_empty() {
            std::hint::black_box(self.slots[self.home(stored(key))].key);
        }
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn find(&self, key: u128) -> usize {
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].key;
            if k == key || k == 0 {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The event time of `key`'s event, when the table holds it.
    pub fn get(&self, key: u128) -> Option<i64> {
        if self.slots.is_empty() {
            return None;
        }
        let s = &self.slots[self.find(stored(key))];
        (s.key != 0).then_some(s.ts)
    }

    /// Remember `key` as the event at `offset` with event time `ts` (replacing what it was).
    pub fn insert(&mut self, key: u128, ts: i64, offset: i64) {
        let key = stored(key);
        // At most 7 of 10 slots in use: probe runs stay short.
        if (self.len + 1) * 10 > self.slots.len() * 7 {
            self.grow();
        }
        let i = self.find(key);
        if self.slots[i].key == 0 {
            self.len += 1;
        }
        self.slots[i] = Slot { key, ts, offset };
    }

    /// Forget `key` if the table holds it as the event at `offset` (a later event with the same
    /// key replaced it otherwise, and stays).
    pub fn remove(&mut self, key: u128, offset: i64) {
        if self.slots.is_empty() {
            return;
        }
        let mut hole = self.find(stored(key));
        if self.slots[hole].key == 0 || self.slots[hole].offset != offset {
            return;
        }
        self.len -= 1;
        // Backward shift: move each later slot of the run whose home is not after the hole into
        // it, until the run ends.
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s.key == 0 {
                break;
            }
            let home = self.home(s.key);
            // `s` may move back to `hole` when its home is cyclically outside (hole, j].
            let outside = if hole <= j { home <= hole || home > j } else { home <= hole && home > j };
            if outside {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = Slot::default();
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        for s in old.into_iter().filter(|s| s.key != 0) {
            let i = self.find(s.key);
            self.slots[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Inserts and removals, with keys crowded into few home slots (long probe runs that wrap
        /// around the table's end), agree with a map.
        #[test]
        fn ids_agree_with_a_map(ops in proptest::collection::vec((0u8..3, 0u128..64, any::<bool>(), 0i64..4), 1..3000)) {
            let mut ids = Ids::default();
            let mut want: HashMap<u128, (i64, i64)> = HashMap::new();
            for (n, (op, k, high, offset)) in ops.into_iter().enumerate() {
                // Keys that share their low bits (the same home) or differ only there.
                let key = if high { (k << 100) | (k % 8) } else { k };
                match op {
                    0 | 1 => {
                        ids.insert(key, n as i64, offset);
                        want.insert(stored(key), (n as i64, offset));
                    }
                    _ => {
                        ids.remove(key, offset);
                        if want.get(&stored(key)).is_some_and(|&(_, o)| o == offset) {
                            want.remove(&stored(key));
                        }
                    }
                }
                prop_assert_eq!(ids.len(), want.len());
            }
            for k in 0u128..64 {
                for key in [k, (k << 100) | (k % 8)] {
                    prop_assert_eq!(ids.get(key), want.get(&stored(key)).map(|&(ts, _)| ts), "key {}", key);
                }
            }
        }
    }

    #[test]
    fn every_key_is_touched_once_before_it_is_handled() {
        for len in [0, 1, 7, 8, 9, 16, 17, 100] {
            let mut touched = Vec::new();
            for i in 0..len {
                for k in touch_ahead(i, len) {
                    assert!(k >= i, "key {k} touched after it was handled ({len} keys)");
                    touched.push(k);
                }
            }
            assert_eq!(touched, (0..len).collect::<Vec<_>>(), "{len} keys");
        }
    }

    #[test]
    fn runs_wrap_around_the_end() {
        let mut ids = Ids::default();
        let last = (MIN_SLOTS - 1) as u128;
        for (n, key) in [last, last + (1 << 64), last + (2 << 64), 0].into_iter().enumerate() {
            ids.insert(key, n as i64, n as i64);
        }
        ids.remove(last, 0);
        assert_eq!(ids.get(last), None);
        assert_eq!(ids.get(last + (1 << 64)), Some(1));
        assert_eq!(ids.get(last + (2 << 64)), Some(2));
        assert_eq!(ids.get(0), Some(3));
        assert_eq!(ids.get(1), Some(3), "0 is stored as 1");
        ids.remove(last + (2 << 64), 9);
        assert_eq!(ids.get(last + (2 << 64)), Some(2), "another event's offset: kept");
        assert_eq!(ids.len(), 3);
    }
}
