//! The lake sink: every table a Delta table (`livelake_jobs::store::delta`), written exactly once
//! through the Delta log.
//!
//! The engine's state is kept per *slot* — partition number n of every topic (the topics are
//! co-partitioned) — and each slot has its own chain of commit records under
//! `_livelake/slots/<n>/`. A streaming commit writes, for each slot with something new:
//! 1. the slot's data files into the tables' partition folders (invisible until a Delta commit
//!    names them; a file holds one slot's rows);
//! 2. the slot's session state to `slots/<n>/<k>-<run>.bin`, then its commit record `k` —
//!    positions per source partition, streams, and the `add` actions per table — to
//!    `slots/<n>/<k>.json`, created only if absent. The record is the commit point: from here on,
//!    commit `k` of slot `n` will be completed. A record that exists already means another run
//!    claimed the slot: this run has lost it and can never commit it again (fencing);
//! 3. each table with files gets one Delta commit: the `add`s of every slot, the application
//!    transaction `livelake.slot/<n>` = `k` of each, and one transaction per source partition
//!    (`livelake/<topic>/<p>` = the next offset the lake does not hold), so every engine can read
//!    which offsets a table holds. Two runs completing the same record conflict in Delta (the same
//!    application transaction), so a record's files are added once.
//!
//! A run *takes* a slot before it processes its messages (`livelake run` with a file: the file's
//! slot at start; with Kafka: the slots of each assignment of the consumer group): the slot's
//! latest record is completed (a table it names whose `livelake.slot/<n>` is below `k` gets its
//! Delta commit now), and the slot is *claimed* — record `k + 1`, a copy without files — so that a
//! run still writing with an older view of the slot is fenced off. The engine then resumes the
//! slot from that record. A slot whose partitions come back to the run that held them is
//! reclaimed the same way with the state it holds, unless another run committed it meanwhile.
//! Several runs (the members of one consumer group) share a lake so. A lake written by an earlier
//! release has one chain (`_livelake/state/<seq>.json`): on open its latest record is completed
//! and split into the first records of the slots (its streams go to the lowest slot). Files of a
//! commit that never got its record are in no log: nobody reads them, and VACUUM removes them.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::TryStreamExt;
use livelake_jobs::store::delta::{
    self, Action, Add, DeltaTable, LakeUrl, ObjectPath as ObjPath, ObjectStore, ObjectStoreExt, PartitionRows,
    PutPayload,
};
use livelake_jobs::store::{failpoint, split_by_partition};
use livelake_schemas::Table;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::engine::Checkpoint;
use crate::error::{Result, commit_log};

/// The application transaction of an earlier release's single chain of commits.
pub const COMMIT_APP: &str = "livelake.commit";

/// The application transaction that carries a table's latest streaming commit of a slot.
pub fn slot_app(slot: i32) -> String {
    format!("livelake.slot/{slot}")
}

/// The application transaction of a source partition in a table's log.
pub fn partition_app(topic: &str, partition: i32) -> String {
    format!("livelake/{topic}/{partition}")
}

/// One file of a commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// Table name.
    pub table: String,
    /// Rows in the file.
    pub rows: u64,
    /// Its `add` action (path relative to the table, partition values, size, statistics).
    pub add: Add,
}

/// A commit record (`_livelake/slots/<slot>/<seq>.json`; `_livelake/state/<seq>.json` in a lake
/// of an earlier release).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitRecord {
    /// Format version (2: one chain of Delta commits; 3: a chain per slot).
    pub version: u32,
    /// The slot (partition number) the record is of; none in a version 2 record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<i32>,
    /// Sequence number in its chain (1, 2, …).
    pub seq: u64,
    /// Wall-clock time of the commit.
    pub created_at_ms: i64,
    /// Files this commit adds, per table.
    pub files: Vec<FileEntry>,
    /// Engine state of the slot after this commit (its session state is in `state`).
    pub checkpoint: Checkpoint,
    /// The session-state object of this commit, relative to `_livelake/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The run that wrote it (random per process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// What a commit writes for one slot: its rows per table, and its checkpoint.
#[derive(Debug, Default)]
pub struct SlotCommit {
    /// The slot.
    pub slot: i32,
    /// Rows per table (each with its file columns + `region`; a table may have several
    /// batches, which its files hold together).
    pub batches: Vec<(Table, RecordBatch)>,
    /// The slot's share of the engine's checkpoint ([`Checkpoint::by_slot`]).
    pub checkpoint: Checkpoint,
}

/// Records kept per slot besides the latest (older ones are pruned).
const KEEP_RECORDS: u64 = 20;

/// What the lake holds of a slot.
#[derive(Debug, Clone, Default)]
struct Chain {
    /// The next record's sequence number.
    next: u64,
    /// Positions of the latest record: a commit must not move any partition back from them.
    last: Checkpoint,
    /// Digest of the latest record's checkpoint: an unchanged slot without rows is not recorded
    /// again.
    digest: u64,
    /// The latest record's session-state object.
    state: Option<String>,
}

/// An open lake. Several runs may have one lake open: each commits the slots it has taken, and
/// a slot taken by another run since can no longer be committed (see the module docs).
pub struct Lake {
    url: LakeUrl,
    /// `<lake>/_livelake/`.
    internal: Arc<dyn ObjectStore>,
    tables: HashMap<Table, DeltaTable>,
    run_id: String,
    /// The slots this run holds.
    chains: BTreeMap<i32, Chain>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("url", &self.url).field("slots", &self.chains.keys()).finish()
    }
}

/// The record of an earlier release's single chain.
fn legacy_record_key(seq: u64) -> ObjPath {
    ObjPath::from(format!("state/{seq:020}.json"))
}

/// Record `seq` of `slot`'s chain.
fn record_key(slot: i32, seq: u64) -> ObjPath {
    ObjPath::from(format!("slots/{slot:05}/{seq:020}.json"))
}

/// Session state of record `seq` of `slot`, written by run `run` (a run that lost the slot
/// never overwrites the state of the run that took it).
fn state_key(slot: i32, seq: u64, run: &str) -> String {
    format!("slots/{slot:05}/{seq:020}-{run}.bin")
}

/// What identifies a checkpoint's content (positions, streams, session state).
fn digest(cp: &Checkpoint) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    serde_json::to_vec(cp).expect("a checkpoint serialises").hash(&mut h);
    cp.sessions.hash(&mut h);
    h.finish()
}

impl Lake {
    /// Open (or create) the lake at `url`. A lake of an earlier release's single chain of commits
    /// is taken over here (its latest record completed and split into the slots' first records);
    /// slots are then taken one by one ([`Lake::take`]).
    pub async fn open(url: &LakeUrl, now_ms: i64) -> Result<Lake> {
        if let Some(dir) = url.local_dir() {
            let internal = dir.join("_livelake");
            std::fs::create_dir_all(&internal).map_err(crate::error::io("creating", &internal))?;
            if internal.join("log").is_dir() {
                return Err(crate::Error::Config(format!(
                    "{}: a lake in the layout of an earlier livelake (its own commit log); convert it in \
                     place with `livelake lake convert --lake {}`",
                    dir.display(),
                    dir.display()
                )));
            }
        }
        let internal = delta::internal_store(url)?;
        let run_id = format!("{:08x}", (now_ms as u64 ^ ((std::process::id() as u64) << 20)) & 0xffff_ffff);
        let mut lake = Lake { url: url.clone(), internal, tables: HashMap::new(), run_id, chains: BTreeMap::new() };
        lake.take_over_single_chain(now_ms).await?;
        Ok(lake)
    }

    /// Where the lake lives.
    pub fn url(&self) -> &LakeUrl {
        &self.url
    }

    async fn table(&mut self, table: Table) -> Result<&mut DeltaTable> {
        if !self.tables.contains_key(&table) {
            let dt = delta::open_or_create(&self.url, table).await?;
            self.tables.insert(table, dt);
        }
        Ok(self.tables.get_mut(&table).expect("just inserted"))
    }

    /// Where a record lives (for messages): record `seq` of `slot`, or of the earlier single chain.
    pub fn record_path(&self, slot: Option<i32>, seq: u64) -> std::path::PathBuf {
        let key = match slot {
            Some(n) => record_key(n, seq),
            None => legacy_record_key(seq),
        };
        std::path::PathBuf::from(format!("{}_livelake/{key}", self.url))
    }

    async fn put(&self, key: &ObjPath, bytes: Vec<u8>) -> Result<()> {
        self.internal.put(key, PutPayload::from(bytes)).await.map_err(|e| self.store_error("writing", key, e))?;
        Ok(())
    }

    /// Write `key` unless it exists: false when it does.
    async fn create(&self, key: &ObjPath, bytes: Vec<u8>) -> Result<bool> {
        let opts = delta::PutOptions { mode: delta::PutMode::Create, ..Default::default() };
        match self.internal.put_opts(key, PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(true),
            Err(delta::ObjectStoreError::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.store_error("creating", key, e)),
        }
    }

    fn store_error(&self, op: &'static str, key: &ObjPath, e: delta::ObjectStoreError) -> crate::Error {
        crate::Error::Lake(livelake_jobs::Error::ObjectStore {
            op,
            path: format!("{}_livelake/{key}", self.url.root()),
            source: Box::new(e),
        })
    }

    /// Names (below `_livelake/`) of the objects under `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjPath>> {
        let prefix = ObjPath::from(prefix);
        let metas: Vec<_> = self
            .internal
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| self.store_error("listing", &prefix, e))?;
        Ok(metas.into_iter().map(|m| m.location).collect())
    }

    /// The whole object `key` of `_livelake/`.
    async fn get(&self, op: &'static str, key: &ObjPath) -> Result<Vec<u8>> {
        let got = self.internal.get(key).await.map_err(|e| self.store_error(op, key, e))?;
        Ok(got.bytes().await.map_err(|e| self.store_error(op, key, e))?.to_vec())
    }

    async fn read_record(&self, slot: Option<i32>, seq: u64) -> Result<CommitRecord> {
        let key = match slot {
            Some(n) => record_key(n, seq),
            None => legacy_record_key(seq),
        };
        let bytes = self.get("reading", &key).await?;
        serde_json::from_slice(&bytes).map_err(|e| commit_log(self.record_path(slot, seq), e.to_string()))
    }

    /// The latest record of a chain (`slot`, or the earlier single chain), refused when its
    /// positions go back from the record before it.
    async fn latest_record(&self, slot: Option<i32>, seqs: &[u64]) -> Result<Option<CommitRecord>> {
        let Some(&latest) = seqs.last() else { return Ok(None) };
        let rec = self.read_record(slot, latest).await?;
        if let Some(prev) = seqs.iter().rev().nth(1).filter(|p| **p + 1 == latest) {
            let before = self.read_record(slot, *prev).await?;
            if let Some(why) = rec.checkpoint.backwards_from(&before.checkpoint) {
                return Err(commit_log(
                    self.record_path(slot, latest),
                    format!(
                        "commit {latest} goes back from commit {prev}: {why}; resuming would write those rows twice: \
                         restore the lake from a copy taken before, or rebuild it from the topics"
                    ),
                ));
            }
        }
        Ok(Some(rec))
    }

    /// The sequence numbers of `slot`'s records, ascending.
    async fn record_seqs(&self, slot: i32) -> Result<Vec<u64>> {
        let mut seqs: Vec<u64> = self
            .list(&format!("slots/{slot:05}"))
            .await?
            .iter()
            .filter_map(|k| k.filename()?.strip_suffix(".json")?.parse().ok())
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The slots the lake holds commits of.
    pub async fn slots(&self) -> Result<Vec<i32>> {
        let mut slots: Vec<i32> =
            self.list("slots").await?.iter().filter_map(|k| k.parts().nth(1)?.as_ref().parse().ok()).collect();
        slots.sort_unstable();
        slots.dedup();
        Ok(slots)
    }

    /// An earlier release's single chain (`_livelake/state/`): its latest record is completed and
    /// each slot it holds without a chain of its own gets the record's share as its record 1 (its
    /// streams all go to the lowest slot, [`Checkpoint::by_slot`]); then the single chain is gone.
    async fn take_over_single_chain(&mut self, now_ms: i64) -> Result<()> {
        let mut legacy: Vec<u64> = self
            .list("state")
            .await?
            .iter()
            .filter_map(|k| k.filename()?.strip_suffix(".json")?.parse().ok())
            .collect();
        legacy.sort_unstable();
        let Some(mut rec) = self.latest_record(None, &legacy).await? else { return Ok(()) };
        let chained = self.slots().await?;
        let shares = rec.checkpoint.by_slot();
        if shares.keys().any(|s| !chained.contains(s)) {
            self.publish(std::slice::from_ref(&rec), true).await?;
            if let Some(state) = &rec.state {
                let bytes = self.get("reading session state", &ObjPath::from(state.as_str())).await?;
                let lowest = shares.keys().next().copied().unwrap_or(0);
                rec.checkpoint.sessions = BTreeMap::from([(lowest, bytes)]);
            }
            for (slot, checkpoint) in rec.checkpoint.by_slot() {
                if chained.contains(&slot) {
                    continue;
                }
                let state = match checkpoint.sessions.get(&slot) {
                    Some(bytes) => {
                        let key = state_key(slot, 1, &self.run_id);
                        self.put(&ObjPath::from(key.as_str()), bytes.clone()).await?;
                        Some(key)
                    }
                    None => None,
                };
                let first = CommitRecord {
                    version: 3,
                    slot: Some(slot),
                    seq: 1,
                    created_at_ms: now_ms,
                    files: Vec::new(),
                    checkpoint,
                    state,
                    run: Some(self.run_id.clone()),
                };
                // Another run taking the lake over at the same time wrote it: the same content.
                self.create(&record_key(slot, 1), serde_json::to_vec(&first).expect("a record serialises")).await?;
                info!(slot, seq = rec.seq, "slot starts from the lake's earlier single chain of commits");
            }
        }
        for key in self.list("state").await? {
            self.delete_quietly(&key).await;
        }
        Ok(())
    }

    /// Take `slot` over (see the module docs): complete its latest record, load its session state
    /// and claim it. Returns the claim — the record to resume from — or none for a slot the lake
    /// has no commit of yet (this run's first commit of it will be its record 1).
    pub async fn take(&mut self, slot: i32, now_ms: i64) -> Result<Option<CommitRecord>> {
        // Other runs committed the slot since this run read the tables: read what they added, or
        // the completion check would miss their commits and conflict with them.
        for (table, dt) in &mut self.tables {
            delta::refresh(dt, *table).await?;
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let seqs = self.record_seqs(slot).await?;
            let Some(mut rec) = self.latest_record(Some(slot), &seqs).await? else {
                self.chains.insert(slot, Chain { next: 1, ..Chain::default() });
                return Ok(None);
            };
            if let Err(e) = self.publish(std::slice::from_ref(&rec), true).await {
                // Another run completing the same record at once: read the tables again and retry.
                if tries >= 3 {
                    return Err(e);
                }
                warn!(slot, seq = rec.seq, error = %e, "completing a slot's commit failed; retrying");
                self.tables.clear();
                continue;
            }
            if let Some(state) = &rec.state {
                match self.get("reading session state", &ObjPath::from(state.as_str())).await {
                    Ok(bytes) => rec.checkpoint.sessions = BTreeMap::from([(slot, bytes)]),
                    // A run still committing the slot moved it on and pruned that state: read its
                    // newest commit.
                    Err(_) if tries < 5 => continue,
                    Err(e) => return Err(e),
                }
            }
            self.prune(slot, &rec).await;
            match self.claim(&mut rec, now_ms).await {
                Ok(()) => {
                    info!(slot, seq = rec.seq, "slot taken");
                    return Ok(Some(rec));
                }
                // Its owner committed meanwhile: read its newest commit.
                Err(_) if tries < 5 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Keep `slot`, whose state this run still holds as `checkpoint` (its share of the engine's
    /// checkpoint, with nothing uncommitted): record it as the slot's next commit. False when
    /// another run has committed the slot since this run's last commit of it: the state is stale,
    /// and the slot must be [`Lake::take`]n again.
    pub async fn reclaim(&mut self, slot: i32, checkpoint: Checkpoint, now_ms: i64) -> Result<bool> {
        let Some(chain) = self.chains.get(&slot).cloned() else { return Ok(false) };
        let mut rec = CommitRecord {
            version: 3,
            slot: Some(slot),
            seq: chain.next - 1,
            created_at_ms: now_ms,
            files: Vec::new(),
            checkpoint,
            state: None,
            run: Some(self.run_id.clone()),
        };
        match self.claim(&mut rec, now_ms).await {
            Ok(()) => {
                if let Some(old) = chain.state.as_deref().filter(|o| rec.state.as_deref() != Some(*o)) {
                    self.delete_quietly(&ObjPath::from(old)).await;
                }
                Ok(true)
            }
            Err(_) => {
                self.chains.remove(&slot);
                Ok(false)
            }
        }
    }

    /// This run no longer commits `slot` (another run holds it).
    pub fn release(&mut self, slot: i32) {
        self.chains.remove(&slot);
    }

    /// Claim the slot of `rec` (its latest record, recovered): record `rec.seq + 1` with the same
    /// state and no files. `rec` becomes that record.
    async fn claim(&mut self, rec: &mut CommitRecord, now_ms: i64) -> Result<()> {
        let slot = rec.slot.expect("a slot's record");
        let seq = rec.seq + 1;
        let state = match (&rec.state, rec.checkpoint.sessions.get(&slot)) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(bytes)) => {
                let key = state_key(slot, seq, &self.run_id);
                self.put(&ObjPath::from(key.as_str()), bytes.clone()).await?;
                Some(key)
            }
            (None, None) => None,
        };
        let claim = CommitRecord {
            version: 3,
            slot: Some(slot),
            seq,
            created_at_ms: now_ms,
            files: Vec::new(),
            checkpoint: rec.checkpoint.clone(),
            state,
            run: Some(self.run_id.clone()),
        };
        if !self.create(&record_key(slot, seq), serde_json::to_vec(&claim).expect("a record serialises")).await? {
            return Err(self.fenced(slot, seq));
        }
        self.chains.insert(
            slot,
            Chain {
                next: seq + 1,
                last: claim.checkpoint.positions(),
                digest: digest(&claim.checkpoint),
                state: claim.state.clone(),
            },
        );
        *rec = claim;
        Ok(())
    }

    fn fenced(&self, slot: i32, seq: u64) -> crate::Error {
        commit_log(
            self.record_path(Some(slot), seq),
            format!(
                "another livelake run has committed partition {slot} of the topics to this lake since this run \
                 read it: this run has lost it and stops"
            ),
        )
    }

    /// Make every table of `recs` hold their files: one Delta commit per table with the files of
    /// every record, each record's slot transaction (`livelake.slot/<n>`, or `livelake.commit` for
    /// an earlier release's record) and source positions.
    ///
    /// `completing`: the records are recovered, so some tables may hold them already (their slot
    /// transaction is asked first); a new commit skips that read.
    async fn publish(&mut self, recs: &[CommitRecord], completing: bool) -> Result<()> {
        let mut by_table: BTreeMap<&str, Vec<(usize, &Add)>> = BTreeMap::new();
        for (i, rec) in recs.iter().enumerate() {
            for f in &rec.files {
                by_table.entry(f.table.as_str()).or_default().push((i, &f.add));
            }
        }
        let app = |rec: &CommitRecord| rec.slot.map_or_else(|| COMMIT_APP.to_string(), slot_app);
        let info = HashMap::from([(
            "livelake.commits".to_string(),
            serde_json::json!(recs.iter().map(|r| (r.slot, r.seq)).collect::<Vec<_>>()),
        )]);
        for (n, (name, adds)) in by_table.into_iter().enumerate() {
            let rec = &recs[adds[0].0];
            let table = Table::from_name(name)
                .ok_or_else(|| commit_log(self.record_path(rec.slot, rec.seq), format!("unknown table {name}")))?;
            let dt = self.table(table).await?;
            let mut wanted = vec![false; recs.len()];
            for (i, _) in &adds {
                wanted[*i] = true;
            }
            if completing {
                for (i, rec) in recs.iter().enumerate() {
                    if wanted[i] && delta::txn_version(dt, table, &app(rec)).await?.is_some_and(|v| v >= rec.seq as i64)
                    {
                        wanted[i] = false;
                    }
                }
            }
            let actions: Vec<Action> =
                adds.iter().filter(|(i, _)| wanted[*i]).map(|(_, add)| Action::Add((*add).clone())).collect();
            if actions.is_empty() {
                continue;
            }
            let mut txns: Vec<(String, i64)> = Vec::new();
            for (rec, _) in recs.iter().zip(&wanted).filter(|(_, w)| **w) {
                txns.push((app(rec), rec.seq as i64));
                txns.extend(
                    rec.checkpoint
                        .partitions
                        .iter()
                        .map(|p| (partition_app(&p.part.topic, p.part.partition), p.next_offset)),
                );
            }
            let version =
                delta::commit(dt, table, actions, &txns, delta::append_operation(table), info.clone()).await?;
            debug!(table = name, version, "table committed");
            if n == 0 {
                failpoint::hit("mid_publish");
            }
        }
        Ok(())
    }

    /// On recovery of `slot` at `latest`: remove its records more than KEEP_RECORDS behind, and
    /// the state objects of records before it that it does not use. Nothing after `latest` is
    /// touched: another run may be committing the slot.
    async fn prune(&self, slot: i32, latest: &CommitRecord) {
        let Ok(keys) = self.list(&format!("slots/{slot:05}")).await else { return };
        for key in keys {
            let Some(name) = key.filename() else { continue };
            let Some(seq) = name.split(['.', '-']).next().and_then(|s| s.parse::<u64>().ok()) else { continue };
            let old_record = name.ends_with(".json") && seq + KEEP_RECORDS < latest.seq;
            let old_state = name.ends_with(".bin") && seq < latest.seq && latest.state.as_deref() != Some(key.as_ref());
            if old_record || old_state {
                self.delete_quietly(&key).await;
            }
        }
    }

    /// After commit `seq` of `slot`: remove what it made obsolete — the session state the previous
    /// record used, if this one has another, and the record that fell out of the last KEEP_RECORDS
    /// (no listing: one delete each, a missing one is fine; what a failed delete leaves, the next
    /// recovery's [`Lake::prune`] takes).
    async fn prune_behind(&self, slot: i32, seq: u64, old_state: Option<&str>, new_state: Option<&str>) {
        if let Some(old) = old_state.filter(|o| Some(*o) != new_state) {
            self.delete_quietly(&ObjPath::from(old)).await;
        }
        if seq > KEEP_RECORDS + 1 {
            self.delete_quietly(&record_key(slot, seq - KEEP_RECORDS - 1)).await;
        }
    }

    async fn delete_quietly(&self, key: &ObjPath) {
        match self.internal.delete(key).await {
            Ok(()) | Err(delta::ObjectStoreError::NotFound { .. }) => {}
            Err(e) => warn!(object = %key, error = %e, "could not prune"),
        }
    }

    /// Commit each slot's rows with its checkpoint (a slot with no rows whose checkpoint did not
    /// change since its last record is left out). Returns the records written.
    pub async fn commit(&mut self, slots: Vec<SlotCommit>, now_ms: i64) -> Result<Vec<CommitRecord>> {
        let mut todo = Vec::new();
        for sc in slots {
            let chain = self.chains.get(&sc.slot).cloned().unwrap_or(Chain { next: 1, ..Chain::default() });
            let rows = sc.batches.iter().any(|(_, b)| b.num_rows() > 0);
            let d = digest(&sc.checkpoint);
            if !rows && d == chain.digest {
                continue;
            }
            if let Some(why) = sc.checkpoint.backwards_from(&chain.last) {
                // A bug, never the input: refuse to record it rather than let a restart write rows twice.
                return Err(commit_log(
                    self.record_path(Some(sc.slot), chain.next),
                    format!("refusing to commit positions behind commit {}: {why}", chain.next - 1),
                ));
            }
            todo.push((sc, chain, d));
        }
        // Phase 1: the files, each of one slot.
        let mut recs = Vec::new();
        for (sc, chain, _) in &todo {
            let (slot, seq) = (sc.slot, chain.next);
            let mut files = Vec::new();
            let mut n = 0;
            // A table's rows may come in several batches: each partition's file gets them all.
            let mut by_table: Vec<(Table, Vec<RecordBatch>)> = Vec::new();
            for (table, batch) in &sc.batches {
                match by_table.iter_mut().find(|(t, _)| t == table) {
                    Some((_, v)) => v.push(batch.clone()),
                    None => by_table.push((*table, vec![batch.clone()])),
                }
            }
            for (table, batches) in &by_table {
                let parts: Vec<PartitionRows> = split_by_partition(*table, batches)?
                    .into_iter()
                    .map(|(dir, b)| PartitionRows::new(*table, &dir, b))
                    .collect();
                let rows: Vec<u64> = parts.iter().map(|p| p.batch.num_rows() as u64).collect();
                let first = n;
                n += parts.len();
                let run_id = self.run_id.clone();
                let dt = self.table(*table).await?;
                let adds = delta::write_files(
                    dt,
                    parts,
                    |i| format!("part-s{slot}-{seq:010}-{run_id}-{:04}.parquet", first + i + 1),
                    now_ms,
                )
                .await?;
                failpoint::hit("stage_mid_write");
                files.extend(adds.into_iter().zip(rows).map(|(add, rows)| FileEntry {
                    table: table.name().to_string(),
                    rows,
                    add,
                }));
            }
            recs.push(CommitRecord {
                version: 3,
                slot: Some(slot),
                seq,
                created_at_ms: now_ms,
                files,
                checkpoint: sc.checkpoint.clone(),
                state: None,
                run: Some(self.run_id.clone()),
            });
        }
        failpoint::hit("after_stage");
        // Phase 2: the commit points, one per slot.
        for rec in &mut recs {
            let slot = rec.slot.expect("a slot's record");
            if let Some(bytes) = rec.checkpoint.sessions.get(&slot) {
                let key = state_key(slot, rec.seq, &self.run_id);
                self.put(&ObjPath::from(key.as_str()), bytes.clone()).await?;
                rec.state = Some(key);
            }
            let body = serde_json::to_vec(&*rec).expect("a record serialises");
            if !self.create(&record_key(slot, rec.seq), body).await? {
                return Err(self.fenced(slot, rec.seq));
            }
        }
        failpoint::hit("after_log");
        // Phase 3: one Delta commit per table.
        self.publish(&recs, false).await?;
        failpoint::hit("after_publish");
        for (rec, (_, chain, d)) in recs.iter().zip(todo) {
            let slot = rec.slot.expect("a slot's record");
            self.prune_behind(slot, rec.seq, chain.state.as_deref(), rec.state.as_deref()).await;
            self.chains.insert(
                slot,
                Chain { next: rec.seq + 1, last: rec.checkpoint.positions(), digest: d, state: rec.state.clone() },
            );
        }
        debug!(slots = recs.len(), files = recs.iter().map(|r| r.files.len()).sum::<usize>(), "committed");
        Ok(recs)
    }
}
