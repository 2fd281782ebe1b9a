//! Typed events → Arrow record batches of the raw lake tables, appended row by row into
//! column builders (no intermediate JSON or per-row allocation beyond the builders' buffers).
//!
//! Batches carry the file columns of the table followed by a `region` column: the partition
//! value, which the sink moves into the path.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Decimal128Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::event::{Event, Family, Payload};
use crate::lake::{MONEY, Table};

/// Where a row came from: the Kafka partition and offset (or 0 and the line number of a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourcePos {
    /// Kafka partition, or 0 for a file.
    pub partition: i32,
    /// Kafka offset, or the 1-based line number of a file.
    pub offset: i64,
}

/// The in-memory schema of a raw table's batches: the file columns plus `region`.
pub fn batch_schema(table: Table) -> SchemaRef {
    let file = table.schema();
    let mut fields: Vec<Field> = file.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("region", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

fn ts_builder(cap: usize) -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::with_capacity(cap).with_timezone("UTC")
}

fn money_builder(cap: usize) -> Decimal128Builder {
    let DataType::Decimal128(p, s) = MONEY else { unreachable!("MONEY is a decimal128") };
    Decimal128Builder::with_capacity(cap).with_precision_and_scale(p, s).expect("valid decimal128(18,4)")
}

/// Rows a finished builder makes room for again: as many as it held, up to 64 Ki. A builder
/// grown from empty reallocates (and copies) each column's values a dozen times over the next few
/// thousand rows; the streaming engine finishes its builders every few milliseconds.
fn refill(rows: usize) -> usize {
    rows.min(64 * 1024)
}

/// Columns shared by both event tables, in file order.
struct Common {
    event_id: StringBuilder,
    kind: StringBuilder,
    ts: TimestampMillisecondBuilder,
    stream_id: StringBuilder,
    session_id: StringBuilder,
    viewer_id: StringBuilder,
    country: StringBuilder,
    platform: StringBuilder,
}

impl Common {
    fn new(cap: usize) -> Self {
        let s = || StringBuilder::with_capacity(cap, cap * 16);
        Common {
            event_id: s(),
            kind: s(),
            ts: ts_builder(cap),
            stream_id: s(),
            session_id: s(),
            viewer_id: s(),
            country: s(),
            platform: s(),
        }
    }

    fn append(&mut self, e: &Event<'_>) {
        self.event_id.append_value(&e.event_id);
        self.kind.append_value(e.kind().as_str());
        self.ts.append_value(e.ts_ms);
        self.stream_id.append_value(&e.stream_id);
        self.session_id.append_value(&e.session_id);
        self.viewer_id.append_value(&e.viewer_id);
        self.country.append_option(e.country.as_deref());
        self.platform.append_option(e.platform.as_deref());
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.stream_id.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.viewer_id.finish()),
            Arc::new(self.country.finish()),
            Arc::new(self.platform.finish()),
        ]
    }
}

/// Columns every raw row ends with.
struct Provenance {
    ingested_at: TimestampMillisecondBuilder,
    src_partition: Int32Builder,
    src_offset: Int64Builder,
    region: StringBuilder,
}

impl Provenance {
    fn new(cap: usize) -> Self {
        Provenance {
            ingested_at: ts_builder(cap),
            src_partition: Int32Builder::with_capacity(cap),
            src_offset: Int64Builder::with_capacity(cap),
            region: StringBuilder::with_capacity(cap, cap * 4),
        }
    }

    fn append(&mut self, region: &str, ingested_at_ms: i64, pos: SourcePos) {
        self.ingested_at.append_value(ingested_at_ms);
        self.src_partition.append_value(pos.partition);
        self.src_offset.append_value(pos.offset);
        self.region.append_value(region);
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.ingested_at.finish()),
            Arc::new(self.src_partition.finish()),
            Arc::new(self.src_offset.finish()),
            Arc::new(self.region.finish()),
        ]
    }
}

/// Builds `player_events` batches.
pub struct PlayerRows {
    len: usize,
    common: Common,
    cdn: StringBuilder,
    source: StringBuilder,
    startup_ms: Int64Builder,
    play_ms: Int64Builder,
    stall_ms: Int64Builder,
    bitrate_kbps: Int64Builder,
    height: Int64Builder,
    latency_ms: Int64Builder,
    dropped_frames: Int64Builder,
    error_code: StringBuilder,
    fatal: BooleanBuilder,
    end_reason: StringBuilder,
    prov: Provenance,
}

impl PlayerRows {
    /// Builders sized for about `cap` rows.
    pub fn with_capacity(cap: usize) -> Self {
        let i = || Int64Builder::with_capacity(cap);
        let s = || StringBuilder::with_capacity(cap, cap * 8);
        PlayerRows {
            len: 0,
            common: Common::new(cap),
            cdn: s(),
            source: s(),
            startup_ms: i(),
            play_ms: i(),
            stall_ms: i(),
            bitrate_kbps: i(),
            height: i(),
            latency_ms: i(),
            dropped_frames: i(),
            error_code: s(),
            fatal: BooleanBuilder::with_capacity(cap),
            end_reason: s(),
            prov: Provenance::new(cap),
        }
    }

    /// Rows appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append a player event. Returns false (and appends nothing) for a commerce event.
    pub fn append(&mut self, e: &Event<'_>, ingested_at_ms: i64, pos: SourcePos) -> bool {
        if e.kind().family() != Family::Player {
            return false;
        }
        self.common.append(e);
        self.cdn.append_option(e.cdn.as_deref());
        self.source.append_option(e.source.as_deref());
        let (mut startup, mut play, mut stall) = (None, None, None);
        let (mut bitrate, mut height, mut latency, mut dropped) = (None, None, None, None);
        let (mut code, mut fatal, mut reason) = (None, None, None);
        match &e.payload {
            Payload::FirstFrame { startup_ms } => startup = Some(*startup_ms),
            Payload::Heartbeat { play_ms, bitrate_kbps, height: h, latency_ms, dropped_frames } => {
                play = Some(*play_ms);
                bitrate = *bitrate_kbps;
                height = *h;
                latency = *latency_ms;
                dropped = *dropped_frames;
            }
            Payload::StallEnd { stall_ms } => stall = Some(*stall_ms),
            Payload::Error { code: c, fatal: f } => {
                code = Some(c.as_ref());
                fatal = Some(*f);
            }
            Payload::SessionEnd { reason: r } => reason = r.as_deref(),
            _ => {}
        }
        self.startup_ms.append_option(startup);
        self.play_ms.append_option(play);
        self.stall_ms.append_option(stall);
        self.bitrate_kbps.append_option(bitrate);
        self.height.append_option(height);
        self.latency_ms.append_option(latency);
        self.dropped_frames.append_option(dropped);
        self.error_code.append_option(code);
        self.fatal.append_option(fatal);
        self.end_reason.append_option(reason);
        self.prov.append(&e.region, ingested_at_ms, pos);
        self.len += 1;
        true
    }

    /// The pending rows as a batch of [`batch_schema`]`(PlayerEvents)`; the builders start again
    /// empty, with room for as many rows ([`refill`]).
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols = self.common.finish();
        cols.extend([
            Arc::new(self.cdn.finish()) as ArrayRef,
            Arc::new(self.source.finish()),
            Arc::new(self.startup_ms.finish()),
            Arc::new(self.play_ms.finish()),
            Arc::new(self.stall_ms.finish()),
            Arc::new(self.bitrate_kbps.finish()),
            Arc::new(self.height.finish()),
            Arc::new(self.latency_ms.finish()),
            Arc::new(self.dropped_frames.finish()),
            Arc::new(self.error_code.finish()),
            Arc::new(self.fatal.finish()),
            Arc::new(self.end_reason.finish()),
        ]);
        cols.extend(self.prov.finish());
        *self = PlayerRows::with_capacity(refill(self.len));
        RecordBatch::try_new(batch_schema(Table::PlayerEvents), cols)
    }
}

/// Builds `commerce_events` batches.
pub struct CommerceRows {
    len: usize,
    common: Common,
    source: StringBuilder,
    product_id: StringBuilder,
    order_id: StringBuilder,
    lang: StringBuilder,
    quantity: Int64Builder,
    like_count: Int64Builder,
    amount: Decimal128Builder,
    currency: StringBuilder,
    amount_usd: Decimal128Builder,
    prov: Provenance,
}

impl CommerceRows {
    /// Builders sized for about `cap` rows.
    pub fn with_capacity(cap: usize) -> Self {
        let s = || StringBuilder::with_capacity(cap, cap * 8);
        CommerceRows {
            len: 0,
            common: Common::new(cap),
            source: s(),
            product_id: s(),
            order_id: s(),
            lang: s(),
            quantity: Int64Builder::with_capacity(cap),
            like_count: Int64Builder::with_capacity(cap),
            amount: money_builder(cap),
            currency: s(),
            amount_usd: money_builder(cap),
            prov: Provenance::new(cap),
        }
    }

    /// Rows appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append a commerce event. Returns false (and appends nothing) for a player event.
    pub fn append(&mut self, e: &Event<'_>, ingested_at_ms: i64, pos: SourcePos) -> bool {
        if e.kind().family() != Family::Commerce {
            return false;
        }
        self.common.append(e);
        self.source.append_option(e.source.as_deref());
        let (mut product, mut order, mut lang) = (None, None, None);
        let (mut quantity, mut likes) = (None, None);
        let (mut amount, mut currency, mut usd) = (None, None, None);
        match &e.payload {
            Payload::Comment { lang: l } => lang = l.as_deref(),
            Payload::Like { count } => likes = Some(*count),
            Payload::Gift { value, currency: c, value_usd } => {
                amount = Some(value.0);
                currency = Some(c.as_ref());
                usd = Some(value_usd.0);
            }
            Payload::ProductClick { product_id } => product = Some(product_id.as_ref()),
            Payload::AddToCart { product_id, quantity: q } => {
                product = Some(product_id.as_ref());
                quantity = Some(*q);
            }
            Payload::Order { order_id, product_id, quantity: q, amount: a, currency: c, amount_usd } => {
                order = Some(order_id.as_ref());
                product = product_id.as_deref();
                quantity = Some(*q);
                amount = Some(a.0);
                currency = Some(c.as_ref());
                usd = Some(amount_usd.0);
            }
            _ => {}
        }
        self.product_id.append_option(product);
        self.order_id.append_option(order);
        self.lang.append_option(lang);
        self.quantity.append_option(quantity);
        self.like_count.append_option(likes);
        self.amount.append_option(amount);
        self.currency.append_option(currency);
        self.amount_usd.append_option(usd);
        self.prov.append(&e.region, ingested_at_ms, pos);
        self.len += 1;
        true
    }

    /// The pending rows as a batch of [`batch_schema`]`(CommerceEvents)`; the builders start again
    /// empty, with room for as many rows ([`refill`]).
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let mut cols = self.common.finish();
        cols.extend([
            Arc::new(self.source.finish()) as ArrayRef,
            Arc::new(self.product_id.finish()),
            Arc::new(self.order_id.finish()),
            Arc::new(self.lang.finish()),
            Arc::new(self.quantity.finish()),
            Arc::new(self.like_count.finish()),
            Arc::new(self.amount.finish()),
            Arc::new(self.currency.finish()),
            Arc::new(self.amount_usd.finish()),
        ]);
        cols.extend(self.prov.finish());
        *self = CommerceRows::with_capacity(refill(self.len));
        RecordBatch::try_new(batch_schema(Table::CommerceEvents), cols)
    }
}

/// Builds `deadletter` batches.
pub struct DeadletterRows {
    received_at: TimestampMillisecondBuilder,
    topic: StringBuilder,
    src_partition: Int32Builder,
    src_offset: Int64Builder,
    reason: StringBuilder,
    payload: BinaryBuilder,
    region: StringBuilder,
    len: usize,
}

/// Region partition of dead letters without a readable region.
pub const UNKNOWN_REGION: &str = "UNKNOWN";

impl DeadletterRows {
    /// Builders sized for about `cap` rows.
    pub fn with_capacity(cap: usize) -> Self {
        DeadletterRows {
            received_at: ts_builder(cap),
            topic: StringBuilder::with_capacity(cap, cap * 24),
            src_partition: Int32Builder::with_capacity(cap),
            src_offset: Int64Builder::with_capacity(cap),
            reason: StringBuilder::with_capacity(cap, cap * 16),
            payload: BinaryBuilder::with_capacity(cap, cap * 256),
            region: StringBuilder::with_capacity(cap, cap * 4),
            len: 0,
        }
    }

    /// Rows appended since the last `finish`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append one rejected message; the payload is truncated to its first 64 KiB.
    pub fn append(
        &mut self,
        received_at_ms: i64,
        topic: &str,
        pos: SourcePos,
        reason: &str,
        payload: &[u8],
        region: Option<&str>,
    ) {
        self.received_at.append_value(received_at_ms);
        self.topic.append_value(topic);
        self.src_partition.append_value(pos.partition);
        self.src_offset.append_value(pos.offset);
        self.reason.append_value(reason);
        self.payload.append_value(&payload[..payload.len().min(crate::MAX_MESSAGE_BYTES)]);
        self.region.append_value(region.unwrap_or(UNKNOWN_REGION));
        self.len += 1;
    }

    /// The pending rows as a batch of [`batch_schema`]`(Deadletter)`; the builders are reset.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.len = 0;
        RecordBatch::try_new(
            batch_schema(Table::Deadletter),
            vec![
                Arc::new(self.received_at.finish()),
                Arc::new(self.topic.finish()),
                Arc::new(self.src_partition.finish()),
                Arc::new(self.src_offset.finish()),
                Arc::new(self.reason.finish()),
                Arc::new(self.payload.finish()),
                Arc::new(self.region.finish()),
            ],
        )
    }
}
