//! The lake sink: every table a Delta table (`livelake_jobs::store::delta`), written exactly once
//! through the Delta log.
//!
//! A streaming commit `S`:
//! 1. the data files of every table with rows are written into the table's partition folders
//!    (invisible until a Delta commit names them);
//! 2. the engine's session state goes to `_livelake/state/<S>.bin`, then the commit record —
//!    positions per source partition, streams, and the `add` actions per table — to
//!    `_livelake/state/<S>.json` (each one object put: whole or absent). The record is the
//!    commit point: from here on, commit `S` will be completed;
//! 3. each table with files gets one Delta commit: its `add`s, the application transaction
//!    `livelake.commit` = `S`, and one transaction per source partition (`livelake/<topic>/<p>` =
//!    the next offset the lake does not hold), so every engine can read which offsets a table
//!    holds.
//!
//! On open, the latest record is completed: a table it names whose `livelake.commit` version is
//! below `S` gets its Delta commit now (the files are there, written before the record). The engine
//! then resumes from that record. Files of a commit that never got its record are in no log:
//! nobody reads them, and VACUUM removes them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::RecordBatch;
use futures::TryStreamExt;
use livelake_jobs::store::delta::{
    self, Action, Add, DeltaTable, LakeUrl, ObjectPath as ObjPath, ObjectStore, ObjectStoreExt, PartitionRows,
    PutPayload,
};
use livelake_jobs::store::{failpoint, lock_exclusive, split_by_partition};
use livelake_schemas::Table;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::engine::Checkpoint;
use crate::error::{Result, commit_log};

/// The application transaction that carries a table's latest streaming commit.
pub const COMMIT_APP: &str = "livelake.commit";

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

/// A commit record (`_livelake/state/<seq>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitRecord {
    /// Format version (2: Delta tables).
    pub version: u32,
    /// Sequence number (1, 2, …).
    pub seq: u64,
    /// Wall-clock time of the commit.
    pub created_at_ms: i64,
    /// Files this commit adds, per table.
    pub files: Vec<FileEntry>,
    /// Engine state after this commit (its session state is in `state`).
    pub checkpoint: Checkpoint,
    /// The session-state object of this commit, relative to `_livelake/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Records kept besides the latest (older ones are pruned).
const KEEP_RECORDS: u64 = 20;

/// An open lake.
pub struct Lake {
    /// The writer lock of a lake on local disk (`_livelake/writer.lock`).
    _lock: Option<std::fs::File>,
    url: LakeUrl,
    /// `<lake>/_livelake/`.
    internal: Arc<dyn ObjectStore>,
    tables: HashMap<Table, DeltaTable>,
    run_id: String,
    next_seq: u64,
    /// Positions of the latest record: a commit must not move any partition back from them.
    last: Checkpoint,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("url", &self.url).field("next_seq", &self.next_seq).finish()
    }
}

fn record_key(seq: u64) -> ObjPath {
    ObjPath::from(format!("state/{seq:020}.json"))
}

fn state_key(seq: u64) -> String {
    format!("state/{seq:020}.bin")
}

impl Lake {
    /// Open (or create) the lake at `url` and recover: returns the lake and the latest committed
    /// record, completed in every table, if any.
    pub async fn open(url: &LakeUrl, now_ms: i64) -> Result<(Lake, Option<CommitRecord>)> {
        let lock = match url.local_dir() {
            Some(dir) => {
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
                Some(lock_exclusive(
                    &internal.join("writer.lock"),
                    "another livelake run is writing to this lake",
                    "one writer per lake",
                )?)
            }
            None => None,
        };
        let internal = delta::internal_store(url)?;
        let run_id = format!("{:08x}", (now_ms as u64 ^ ((std::process::id() as u64) << 20)) & 0xffff_ffff);
        let mut lake = Lake {
            _lock: lock,
            url: url.clone(),
            internal,
            tables: HashMap::new(),
            run_id,
            next_seq: 1,
            last: Checkpoint::default(),
        };
        let latest = lake.recover().await?;
        if let Some(r) = &latest {
            lake.next_seq = r.seq + 1;
            lake.last = r.checkpoint.positions();
        }
        Ok((lake, latest))
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

    /// Where the record of commit `seq` lives (for messages).
    pub fn record_path(&self, seq: u64) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("{}_livelake/{}", self.url, record_key(seq)))
    }

    async fn put(&self, key: &ObjPath, bytes: Vec<u8>) -> Result<()> {
        self.internal.put(key, PutPayload::from(bytes)).await.map_err(|e| self.store_error("writing", key, e))?;
        Ok(())
    }

    fn store_error(&self, op: &'static str, key: &ObjPath, e: delta::ObjectStoreError) -> crate::Error {
        crate::Error::Lake(livelake_jobs::Error::ObjectStore {
            op,
            path: format!("{}_livelake/{key}", self.url.root()),
            source: Box::new(e),
        })
    }

    /// Sequence numbers of the records under `_livelake/state/`, ascending.
    async fn record_seqs(&self) -> Result<Vec<u64>> {
        let prefix = ObjPath::from("state");
        let metas: Vec<_> = self
            .internal
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| self.store_error("listing", &prefix, e))?;
        let mut seqs: Vec<u64> =
            metas.iter().filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok()).collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The whole object `key` of `_livelake/`.
    async fn get(&self, op: &'static str, key: &ObjPath) -> Result<Vec<u8>> {
        let got = self.internal.get(key).await.map_err(|e| self.store_error(op, key, e))?;
        Ok(got.bytes().await.map_err(|e| self.store_error(op, key, e))?.to_vec())
    }

    async fn read_record(&self, seq: u64) -> Result<CommitRecord> {
        let bytes = self.get("reading", &record_key(seq)).await?;
        serde_json::from_slice(&bytes).map_err(|e| commit_log(self.record_path(seq), e.to_string()))
    }

    async fn recover(&mut self) -> Result<Option<CommitRecord>> {
        let seqs = self.record_seqs().await?;
        let Some(&latest) = seqs.last() else { return Ok(None) };
        let mut rec = self.read_record(latest).await?;
        if let Some(prev) = seqs.iter().rev().nth(1).filter(|p| **p + 1 == latest) {
            let before = self.read_record(*prev).await?;
            if let Some(why) = rec.checkpoint.backwards_from(&before.checkpoint) {
                return Err(commit_log(
                    self.record_path(latest),
                    format!(
                        "commit {latest} goes back from commit {prev}: {why}; resuming would write those rows twice: \
                         restore the lake from a copy taken before, or rebuild it from the topics"
                    ),
                ));
            }
        }
        self.publish(&rec, true).await?;
        if let Some(state) = &rec.state {
            rec.checkpoint.sessions = self.get("reading session state", &ObjPath::from(state.as_str())).await?;
        }
        self.prune(latest).await;
        info!(seq = rec.seq, files = rec.files.len(), "lake recovered to commit");
        Ok(Some(rec))
    }

    /// Make every table of `rec` hold its files: one Delta commit per table whose
    /// `livelake.commit` transaction is below `rec.seq` (all of them, except when completing a
    /// commit a crash interrupted).
    ///
    /// `completing`: `rec` is a recovered record, so some tables may hold it already (their
    /// `livelake.commit` is asked first); a new commit skips that read.
    async fn publish(&mut self, rec: &CommitRecord, completing: bool) -> Result<()> {
        let mut by_table: BTreeMap<&str, Vec<Add>> = BTreeMap::new();
        for f in &rec.files {
            by_table.entry(f.table.as_str()).or_default().push(f.add.clone());
        }
        let mut txns: Vec<(String, i64)> = vec![(COMMIT_APP.to_string(), rec.seq as i64)];
        txns.extend(
            rec.checkpoint.partitions.iter().map(|p| (partition_app(&p.part.topic, p.part.partition), p.next_offset)),
        );
        let info = HashMap::from([("livelake.seq".to_string(), serde_json::json!(rec.seq))]);
        for (i, (name, adds)) in by_table.into_iter().enumerate() {
            let table = Table::from_name(name)
                .ok_or_else(|| commit_log(self.record_path(rec.seq), format!("unknown table {name}")))?;
            let seq = rec.seq;
            let dt = self.table(table).await?;
            if completing && delta::txn_version(dt, table, COMMIT_APP).await?.is_some_and(|v| v >= seq as i64) {
                continue;
            }
            let actions = adds.into_iter().map(Action::Add).collect();
            let version =
                delta::commit(dt, table, actions, &txns, delta::append_operation(table), info.clone()).await?;
            debug!(table = name, version, seq, "table committed");
            if i == 0 {
                failpoint::hit("mid_publish");
            }
        }
        Ok(())
    }

    /// On recovery: remove every record more than KEEP_RECORDS behind `latest`, every state
    /// object before it (recovery reads the latest only), and whatever a commit after `latest`
    /// wrote before it got a record.
    async fn prune(&self, latest: u64) {
        let prefix = ObjPath::from("state");
        let Ok(metas) = self.internal.list(Some(&prefix)).try_collect::<Vec<_>>().await else { return };
        for m in metas {
            let Some(name) = m.location.filename() else { continue };
            let Some(seq) = name.split('.').next().and_then(|s| s.parse::<u64>().ok()) else { continue };
            let old_record = name.ends_with(".json") && seq + KEEP_RECORDS < latest;
            let old_state = name.ends_with(".bin") && seq < latest;
            if old_record || old_state || seq > latest {
                self.delete_quietly(&m.location).await;
            }
        }
    }

    /// After commit `seq`: remove what it made obsolete — the previous commit's state object and
    /// the record that fell out of the last KEEP_RECORDS (no listing: one delete each, a missing
    /// one is fine; what a failed delete leaves, the next recovery's [`Lake::prune`] takes).
    async fn prune_behind(&self, seq: u64) {
        if seq > 1 {
            self.delete_quietly(&ObjPath::from(state_key(seq - 1))).await;
        }
        if seq > KEEP_RECORDS + 1 {
            self.delete_quietly(&record_key(seq - KEEP_RECORDS - 1)).await;
        }
    }

    async fn delete_quietly(&self, key: &ObjPath) {
        match self.internal.delete(key).await {
            Ok(()) | Err(delta::ObjectStoreError::NotFound { .. }) => {}
            Err(e) => warn!(object = %key, error = %e, "could not prune"),
        }
    }

    /// Commit batches (each with file columns + `region`) of their tables with `checkpoint`.
    /// Returns the record. Empty input still commits (the checkpoint moves on).
    pub async fn commit(
        &mut self,
        batches: &[(Table, RecordBatch)],
        checkpoint: Checkpoint,
        now_ms: i64,
    ) -> Result<CommitRecord> {
        let seq = self.next_seq;
        if let Some(why) = checkpoint.backwards_from(&self.last) {
            // A bug, never the input: refuse to record it rather than let a restart write rows twice.
            return Err(commit_log(
                self.record_path(seq),
                format!("refusing to commit positions behind commit {}: {why}", seq - 1),
            ));
        }
        // Phase 1: the files.
        let mut files = Vec::new();
        let mut n = 0;
        for (table, batch) in batches {
            if batch.num_rows() == 0 {
                continue;
            }
            let parts: Vec<PartitionRows> = split_by_partition(*table, batch)?
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
                |i| format!("part-{seq:010}-{run_id}-{:04}.parquet", first + i + 1),
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
        failpoint::hit("after_stage");
        // Phase 2: the commit point.
        let state = if checkpoint.sessions.is_empty() {
            None
        } else {
            let key = state_key(seq);
            self.put(&ObjPath::from(key.as_str()), checkpoint.sessions.clone()).await?;
            Some(key)
        };
        let rec = CommitRecord { version: 2, seq, created_at_ms: now_ms, files, checkpoint, state };
        let body = serde_json::to_vec(&rec).expect("commit record serialises");
        self.put(&record_key(seq), body).await?;
        failpoint::hit("after_log");
        // Phase 3: one Delta commit per table.
        self.publish(&rec, false).await?;
        failpoint::hit("after_publish");
        self.prune_behind(seq).await;
        self.next_seq = seq + 1;
        self.last = rec.checkpoint.positions();
        debug!(seq, files = rec.files.len(), "committed");
        Ok(rec)
    }
}
