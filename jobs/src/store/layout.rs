//! Hive partitioning: rows → `region=R/date=YYYY-MM-DD/hour=HH` groups, with region values
//! checked again before they become path components (they were validated at decode time).

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanBufferBuilder, GenericByteArray, RecordBatch, UInt32Array};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer};
use arrow::compute::{concat, interleave, take};
use arrow::datatypes::{
    BinaryType, ByteArrayType, DataType, Int32Type, Int64Type, TimeUnit, TimestampMillisecondType, Utf8Type,
};
use arrow::error::ArrowError;
use arrow::row::{RowConverter, SortField};
use chrono::{DateTime, Datelike, Timelike};
use livelake_schemas::{PartitionLevel, Table, is_valid_region};

use crate::error::Result;

/// The time column that places a table's rows in date/hour partitions.
pub fn time_column(table: Table) -> &'static str {
    match table {
        Table::Deadletter => "received_at",
        Table::StreamMinute => "window_start",
        _ => "ts",
    }
}

/// A region value safe to use as a directory name; anything else goes to `INVALID`.
pub fn safe_region(region: &str) -> &str {
    if is_valid_region(region) && region != "." && region != ".." { region } else { "INVALID" }
}

/// Relative directory of a partition, e.g. `player_events/region=EU/date=2026-11-27/hour=12`.
pub fn partition_dir(table: Table, region: &str, ts_ms: i64) -> PathBuf {
    let t = DateTime::from_timestamp_millis(ts_ms).unwrap_or_default();
    let mut p = PathBuf::from(table.name());
    for level in table.partitioning() {
        p.push(match level {
            PartitionLevel::Region => format!("region={}", safe_region(region)),
            PartitionLevel::Date => format!("date={:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            PartitionLevel::Hour => format!("hour={:02}", t.hour()),
        });
    }
    p
}

/// Split rows (batches of file columns + `region`, e.g. a commit's rows as they were staged)
/// into per-partition batches of file columns, each sorted by `stream_id` then time (dead
/// letters: by receive time, partition, offset); the partitions in the order of (region, hour).
///
/// One sort of all the rows by (region, hour, the file's sort columns) (`sort_order` below) and one
/// gather of them in that order from the batches they are in (no concatenation first): each
/// partition is then a slice of the sorted rows, no copy (no `String` or map entry per row).
pub fn split_by_partition(table: Table, batches: &[RecordBatch]) -> Result<Vec<(PathBuf, RecordBatch)>> {
    let batches: Vec<&RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).collect();
    if batches.is_empty() {
        return Ok(Vec::new());
    }
    // The sort keys of all the rows, one array per key (only these columns are concatenated).
    let key_names: Vec<&str> =
        ["region", time_column(table)].into_iter().chain(file_sort_columns(table).iter().copied()).collect();
    let mut keys: Vec<ArrayRef> = Vec::with_capacity(key_names.len());
    for name in &key_names {
        let parts: Vec<&dyn Array> = batches
            .iter()
            .map(|b| b.column_by_name(name).unwrap_or_else(|| panic!("batch has {name}")).as_ref())
            .collect();
        keys.push(concat(&parts)?);
    }
    let hour_of = |ms: i64| ms.div_euclid(3_600_000);
    let hours = keys[1].as_primitive::<TimestampMillisecondType>().unary::<_, Int64Type>(hour_of);
    keys[1] = Arc::new(hours);
    let order = sort_order(&keys)?;
    // Row i of all the rows is row i − starts[b] of batch b.
    let mut starts = Vec::with_capacity(batches.len());
    let mut total = 0;
    for b in &batches {
        starts.push(total);
        total += b.num_rows();
    }
    let located: Vec<(usize, usize)> = order
        .iter()
        .map(|&i| {
            let i = i as usize;
            let b = starts.partition_point(|&s| s <= i) - 1;
            (b, i - starts[b])
        })
        .collect();
    let file_schema = table.schema();
    let columns = file_schema
        .fields()
        .iter()
        .map(|f| {
            let column = batches[0].schema().index_of(f.name()).expect("file column in batch");
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(column).as_ref()).collect();
            gather(&arrays, &located)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let sorted = RecordBatch::try_new(file_schema, columns)?;
    let order = UInt32Array::from(order);
    let regions = take(&keys[0], &order, None)?;
    let regions = regions.as_string::<i32>();
    let hours = take(&keys[1], &order, None)?;
    let hours = hours.as_primitive::<Int64Type>();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.num_rows() {
        if i < sorted.num_rows() && regions.value(i) == regions.value(start) && hours.value(i) == hours.value(start) {
            continue;
        }
        let dir = partition_dir(table, regions.value(start), hours.value(start) * 3_600_000);
        out.push((dir, sorted.slice(start, i - start)));
        start = i;
    }
    Ok(out)
}

/// Rows `located` (array, row) of `arrays`, in that order: Arrow's `interleave`, but string and
/// binary columns in one pass of our own (the largest part of the commit's gather). The rows of a
/// commit are each taken once, so the values' bytes total is known before the first copy (the
/// buffer grows if not), and a value of at most [`SHORT_VALUE`] bytes (ids, names, codes) is
/// copied as a fixed-size block — a few vector moves — rather than by a `memcpy` call each.
fn gather(arrays: &[&dyn Array], located: &[(usize, usize)]) -> Result<ArrayRef> {
    match arrays.first().map(|a| a.data_type()) {
        Some(DataType::Utf8) => gather_bytes::<Utf8Type>(arrays, located),
        Some(DataType::Binary) => gather_bytes::<BinaryType>(arrays, located),
        _ => Ok(interleave(arrays, located)?),
    }
}

/// Values up to this long are copied as one block of this size (see [`gather`]).
const SHORT_VALUE: usize = 32;

/// [`gather`] of `Utf8` or `Binary` arrays.
fn gather_bytes<T: ByteArrayType<Offset = i32>>(arrays: &[&dyn Array], located: &[(usize, usize)]) -> Result<ArrayRef> {
    let arrays: Vec<&GenericByteArray<T>> = arrays.iter().map(|a| a.as_bytes::<T>()).collect();
    let total: usize = arrays
        .iter()
        .map(|a| {
            let o = a.value_offsets();
            (o[o.len() - 1] - o[0]) as usize
        })
        .sum();
    // Room for a whole block after the last value.
    let mut values = vec![0u8; total + SHORT_VALUE];
    let mut offsets: Vec<i32> = Vec::with_capacity(located.len() + 1);
    offsets.push(0);
    // Validity is taken in the same pass, when any input has nulls.
    let mut validity = arrays.iter().any(|a| a.null_count() > 0).then(|| BooleanBufferBuilder::new(located.len()));
    let mut at = 0usize;
    for &(a, row) in located {
        let array = arrays[a];
        let valid = array.is_valid(row);
        if let Some(v) = &mut validity {
            v.append(valid);
        }
        if valid {
            let o = array.value_offsets();
            let (start, end) = (o[row] as usize, o[row + 1] as usize);
            let len = end - start;
            if at + len.max(SHORT_VALUE) > values.len() {
                values.resize(2 * (at + len.max(SHORT_VALUE)), 0);
            }
            let src = array.value_data();
            if len <= SHORT_VALUE && start + SHORT_VALUE <= src.len() {
                // The block's bytes after the value are overwritten by the next one, or cut.
                values[at..at + SHORT_VALUE].copy_from_slice(&src[start..start + SHORT_VALUE]);
            } else {
                values[at..at + len].copy_from_slice(&src[start..end]);
            }
            at += len;
        }
        offsets.push(i32::try_from(at).map_err(|_| ArrowError::OffsetOverflowError(at))?);
    }
    values.truncate(at);
    let nulls = validity.map(|mut v| NullBuffer::new(v.finish()));
    let array = GenericByteArray::<T>::try_new(OffsetBuffer::new(offsets.into()), Buffer::from_vec(values), nulls)?;
    Ok(Arc::new(array))
}

/// The order that sorts the rows by `keys` (ascending, nulls first, ties by row number).
///
/// Usually every key is a string of few distinct values (region, stream) or an integer of a
/// narrow range within one commit (hour, event time, partition, offset): each then becomes a
/// small code that orders like it (a string's rank among the distinct values, an integer's
/// distance from the minimum; 0 for null), and the codes of a row packed into one `u128` sort
/// as plain integers. Keys that do not fit in 128 bits sort in Arrow's row format (each row's
/// keys encoded as bytes that compare like the values), in the same order.
pub fn sort_order(keys: &[ArrayRef]) -> Result<Vec<u32>> {
    let Some(packed) = packed_keys(keys) else { return row_order(keys) };
    let mut keyed: Vec<(u128, u32)> = packed.into_iter().zip(0..).collect();
    keyed.sort_unstable();
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

/// [`sort_order`] in Arrow's row format.
fn row_order(keys: &[ArrayRef]) -> Result<Vec<u32>> {
    let converter = RowConverter::new(keys.iter().map(|k| SortField::new(k.data_type().clone())).collect())?;
    let rows = converter.convert_columns(keys)?;
    let mut order: Vec<u32> = (0..rows.num_rows() as u32).collect();
    order.sort_unstable_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)).then(a.cmp(b)));
    Ok(order)
}

/// Each row's key codes packed into one `u128`, the first key in the highest bits; `None` when
/// a key's type has no code here or the codes need more than 128 bits.
fn packed_keys(keys: &[ArrayRef]) -> Option<Vec<u128>> {
    let rows = keys.first().map_or(0, |k| k.len());
    let mut packed = vec![0u128; rows];
    let mut bits_used = 0;
    for key in keys {
        let (codes, max) = key_codes(key)?;
        let bits = u128::BITS - u128::from(max).leading_zeros();
        bits_used += bits;
        if bits_used > u128::BITS {
            return None;
        }
        for (p, c) in packed.iter_mut().zip(codes) {
            *p = (*p << bits) | u128::from(c);
        }
    }
    Some(packed)
}

/// Codes of one key column that order like its values (nulls first), and the largest code.
fn key_codes(key: &ArrayRef) -> Option<(Vec<u64>, u64)> {
    let nulls = u64::from(key.null_count() > 0);
    let validity = key.nulls().cloned();
    let valid = |i: usize| validity.as_ref().is_none_or(|n| n.is_valid(i));
    if let Some(s) = key.as_string_opt::<i32>() {
        // Rank among the distinct values: ids in order of appearance, then sorted.
        let mut ids: crate::FastMap<&str, u32> = crate::FastMap::default();
        let first: Vec<u32> = (0..s.len())
            .map(|i| {
                let next = ids.len() as u32;
                if valid(i) { *ids.entry(s.value(i)).or_insert(next) } else { u32::MAX }
            })
            .collect();
        let mut distinct: Vec<(&str, u32)> = ids.into_iter().collect();
        distinct.sort_unstable();
        let mut rank = vec![0u64; distinct.len()];
        for (r, (_, id)) in distinct.iter().enumerate() {
            rank[*id as usize] = r as u64 + nulls;
        }
        let codes = first.into_iter().map(|id| if id == u32::MAX { 0 } else { rank[id as usize] }).collect();
        return Some((codes, (distinct.len() as u64).saturating_sub(1 - nulls)));
    }
    let values: Vec<i64> = match key.data_type() {
        DataType::Int32 => key.as_primitive::<Int32Type>().values().iter().map(|v| i64::from(*v)).collect(),
        DataType::Int64 => key.as_primitive::<Int64Type>().values().to_vec(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            key.as_primitive::<TimestampMillisecondType>().values().to_vec()
        }
        _ => return None,
    };
    let present = || values.iter().enumerate().filter(|(i, _)| valid(*i)).map(|(_, v)| *v);
    let (Some(min), Some(max)) = (present().min(), present().max()) else {
        return Some((vec![0; values.len()], 0));
    };
    let top = u64::try_from(i128::from(max) - i128::from(min) + i128::from(nulls)).ok()?;
    let codes = values
        .iter()
        .enumerate()
        .map(|(i, v)| if valid(i) { (i128::from(*v) - i128::from(min)) as u64 + nulls } else { 0 })
        .collect();
    Some((codes, top))
}

/// The columns a table's files are sorted by.
fn file_sort_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Deadletter => &["received_at", "src_partition", "src_offset"],
        Table::StreamMinute => &["stream_id", "window_start"],
        _ => &["stream_id", "ts", "src_partition", "src_offset"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) of the tests' random inputs.
    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn packed_keys_sort_like_the_row_format() {
        use arrow::array::{Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
        // Strings of few values, integers of narrow and of extreme ranges, some nulls, ties on
        // the leading keys.
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..40 {
            let n = 2 + (next() % 700) as usize;
            let null = |v: u64| round % 3 == 0 && v.is_multiple_of(9);
            let region: ArrayRef = Arc::new(StringArray::from_iter((0..n).map(|_| {
                let v = next();
                (!null(v)).then(|| ["EU", "SEA", "NA", "", "LATAM", "ME"][(v % 6) as usize])
            })));
            let wide = round % 4 == 1;
            let ts: ArrayRef = Arc::new(TimestampMillisecondArray::from_iter((0..n).map(|i| {
                let v = next();
                match (wide, i) {
                    (true, 0) => Some(i64::MIN),
                    (true, 1) => Some(i64::MAX),
                    (true, _) => (!null(v)).then_some(v as i64),
                    _ => (!null(v)).then_some(1_795_780_800_000 + (v % 5_000) as i64 - 2_500),
                }
            })));
            let part: ArrayRef = Arc::new(Int32Array::from_iter((0..n).map(|_| {
                let v = next();
                (!null(v)).then_some(if wide { v as i32 } else { (v % 3) as i32 })
            })));
            let offset: ArrayRef = Arc::new(Int64Array::from_iter((0..n).map(|_| {
                let v = next();
                (!null(v)).then_some((v % 50) as i64 - 25)
            })));
            // Wide: two full-range 64-bit keys need more than 128 bits.
            let keys = if wide { vec![ts.clone(), region, ts, part, offset] } else { vec![region, ts, part, offset] };
            assert_eq!(packed_keys(&keys).is_some(), !wide, "round {round}: wide keys do not pack");
            assert_eq!(sort_order(&keys).unwrap(), row_order(&keys).unwrap(), "round {round}");
        }
    }

    #[test]
    fn gather_takes_the_rows_as_arrow_interleave_does() {
        use arrow::array::{BinaryArray, Int64Array, StringArray};
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..60 {
            // Values of 0 to 80 bytes (many around the block size), some null, in a few arrays of
            // which some are slices of a larger one; the last value of an array ends its buffer.
            let arrays = 1 + (next() % 4) as usize;
            let mut strings: Vec<ArrayRef> = Vec::new();
            let mut binaries: Vec<ArrayRef> = Vec::new();
            let mut ints: Vec<ArrayRef> = Vec::new();
            for _ in 0..arrays {
                let n = (next() % 300) as usize;
                let values: Vec<Option<String>> = (0..n + 4)
                    .map(|i| {
                        let v = next();
                        let len = if v.is_multiple_of(3) { (v % 81) as usize } else { 24 + (v % 16) as usize };
                        let text: String = (0..len).map(|j| char::from(b'a' + ((i + j + round) % 26) as u8)).collect();
                        (round % 2 == 0 || !v.is_multiple_of(7)).then_some(if v.is_multiple_of(11) {
                            "é€".repeat(len % 9)
                        } else {
                            text
                        })
                    })
                    .collect();
                let (offset, len) = if next().is_multiple_of(2) { (2, n) } else { (0, n + 4) };
                let s = StringArray::from(values.clone());
                let b = BinaryArray::from_iter(values.iter().map(|v| v.as_ref().map(|v| v.as_bytes())));
                strings.push(Arc::new(s.slice(offset, len)));
                binaries.push(Arc::new(b.slice(offset, len)));
                ints.push(Arc::new(Int64Array::from_iter((0..len).map(|i| (i % 5 != 0).then_some(i as i64)))));
            }
            // Every row once, in a random order.
            let mut located: Vec<(usize, usize)> =
                strings.iter().enumerate().flat_map(|(a, s)| (0..s.len()).map(move |r| (a, r))).collect();
            for i in (1..located.len()).rev() {
                located.swap(i, (next() % (i as u64 + 1)) as usize);
            }
            for columns in [&strings, &binaries, &ints] {
                let refs: Vec<&dyn Array> = columns.iter().map(|a| a.as_ref()).collect();
                let ours = gather(&refs, &located).unwrap();
                assert_eq!(ours.as_ref(), interleave(&refs, &located).unwrap().as_ref(), "round {round}");
            }
            // Not every row (more than the bytes of all, or fewer): the same too.
            let some: Vec<(usize, usize)> = located.iter().chain(&located).copied().step_by(3).collect();
            let refs: Vec<&dyn Array> = strings.iter().map(|a| a.as_ref()).collect();
            assert_eq!(gather(&refs, &some).unwrap().as_ref(), interleave(&refs, &some).unwrap().as_ref());
        }
    }

    #[test]
    fn paths_are_hive_and_safe() {
        let t = 1_795_780_800_000 + 3 * 3_600_000; // 2026-11-27T15:00Z
        assert_eq!(
            partition_dir(Table::PlayerEvents, "EU", t),
            PathBuf::from("player_events/region=EU/date=2026-11-27/hour=15")
        );
        assert_eq!(partition_dir(Table::StreamDaily, "EU", t), PathBuf::from("stream_daily/region=EU/date=2026-11-27"));
        for hostile in ["../../etc", "..", "a/b", "", "EU/../../x"] {
            let p = partition_dir(Table::Deadletter, hostile, t);
            assert!(p.starts_with("deadletter/region=INVALID"), "{hostile} → {}", p.display());
            assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))));
        }
    }
}
