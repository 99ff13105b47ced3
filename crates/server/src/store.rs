//! The durable task store: a [`Store`] trait (one transaction per batch of writes, loaded
//! whole at start), its embedded redb implementation, and the group committer that turns
//! many concurrent requests into one fsync.
//!
//! A request is answered only after the batch holding its writes has committed with
//! `Durability::Immediate`, so a `kill -9` loses nothing that was acknowledged. Another
//! backend (PostgreSQL for several service instances) implements [`Store`]; see
//! docs/serve.md.

use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::model::{Event, TaskRecord};

const TASKS: TableDefinition<u64, &[u8]> = TableDefinition::new("tasks");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The tenant index: (tenant, task id), so a tenant's listing reads only its own records.
const BY_TENANT: TableDefinition<(&str, u64), ()> = TableDefinition::new("tasks_by_tenant");
/// Set in META once BY_TENANT holds every task (stores made before it existed are indexed
/// when first opened).
const INDEXED: &str = "tenant_index";
/// Ended tasks by the twin time they ended: (ended ns, task id), for retention.
const BY_END: TableDefinition<(i64, u64), ()> = TableDefinition::new("tasks_by_end");
/// Set in META once BY_END holds every ended task.
const END_INDEXED: &str = "end_index";
/// redb's page cache.
const CACHE_BYTES: usize = 64 << 20;

/// One write in a batch.
#[derive(Clone, Debug)]
pub enum Write {
    Task(Box<TaskRecord>),
    Meta(&'static str, Vec<u8>),
    /// Retention: an ended task leaves the store.
    Delete(u64),
}

/// The twin time an ended task ended at (its finish, or its submission if it has none);
/// `None` while it is unfinished.
pub fn ended_ns(r: &TaskRecord) -> Option<i64> {
    r.state
        .is_final()
        .then(|| r.finished_ns.unwrap_or(r.submitted_ns))
}

/// What a store holds.
#[derive(Debug, Default)]
pub struct Loaded {
    pub tasks: Vec<TaskRecord>,
    pub meta: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {message}")]
    Open { path: String, message: String },
    #[error("store: {0}")]
    Io(String),
    #[error("store: task {id}: stored record unreadable: {message}")]
    Corrupt { id: u64, message: String },
}

/// A transactional store of task records and a little metadata. Reads may run while a
/// commit is in progress and see the last committed state.
pub trait Store: Send + Sync + 'static {
    /// Everything stored.
    fn load(&self) -> Result<Loaded, StoreError>;
    /// Applies `batch` atomically and durably: when this returns `Ok`, all of it survives
    /// a crash; when it fails, none of it was applied.
    fn commit(&self, batch: &[Write]) -> Result<(), StoreError>;
    /// One task record.
    fn get(&self, id: u64) -> Result<Option<TaskRecord>, StoreError>;
    /// Task records with ids above `after`, in id order, until `visit` returns false.
    fn scan(&self, after: u64, visit: &mut dyn FnMut(TaskRecord) -> bool)
    -> Result<(), StoreError>;
    /// Like [`Store::scan`], over one tenant's records only (through an index).
    fn scan_tenant(
        &self,
        tenant: &str,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError>;
    /// Task records decoded by reads so far (`/metrics`).
    fn records_read(&self) -> u64;
    /// Up to `limit` ended tasks that ended before twin time `before_ns`, oldest first
    /// (retention).
    fn ended_before(&self, before_ns: i64, limit: usize) -> Result<Vec<TaskRecord>, StoreError>;
    /// Bytes the store takes on disk (`/metrics`, the retention test).
    fn size_bytes(&self) -> Result<u64, StoreError>;
}

/// The embedded store: one redb file.
pub struct RedbStore {
    db: Database,
    path: std::path::PathBuf,
    read: std::sync::atomic::AtomicU64,
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

/// A stored task record from its JSON.
fn decode(id: u64, bytes: &[u8]) -> Result<TaskRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        id,
        message: e.to_string(),
    })
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        }
        // redb caches up to 1 GiB by default; the service reads little from it (live
        // tasks are in memory), so a smaller cache bounds the process's memory.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| open_err(&e))?;
        // Create the tables so a fresh store loads empty.
        let tx = db.begin_write().map_err(|e| open_err(&e))?;
        {
            let tasks = tx.open_table(TASKS).map_err(|e| open_err(&e))?;
            let mut meta = tx.open_table(META).map_err(|e| open_err(&e))?;
            let mut index = tx.open_table(BY_TENANT).map_err(|e| open_err(&e))?;
            if meta.get(INDEXED).map_err(|e| open_err(&e))?.is_none() {
                for row in tasks.iter().map_err(|e| open_err(&e))? {
                    let (k, v) = row.map_err(|e| open_err(&e))?;
                    let r = decode(k.value(), v.value()).map_err(|e| open_err(&e))?;
                    index
                        .insert((r.tenant.as_str(), r.id), ())
                        .map_err(|e| open_err(&e))?;
                }
                meta.insert(INDEXED, b"1".as_slice())
                    .map_err(|e| open_err(&e))?;
            }
            let mut by_end = tx.open_table(BY_END).map_err(|e| open_err(&e))?;
            if meta.get(END_INDEXED).map_err(|e| open_err(&e))?.is_none() {
                for row in tasks.iter().map_err(|e| open_err(&e))? {
                    let (k, v) = row.map_err(|e| open_err(&e))?;
                    let r = decode(k.value(), v.value()).map_err(|e| open_err(&e))?;
                    if let Some(at) = ended_ns(&r) {
                        by_end.insert((at, r.id), ()).map_err(|e| open_err(&e))?;
                    }
                }
                meta.insert(END_INDEXED, b"1".as_slice())
                    .map_err(|e| open_err(&e))?;
            }
        }
        tx.commit().map_err(|e| open_err(&e))?;
        Ok(RedbStore {
            db,
            path: path.to_path_buf(),
            read: Default::default(),
        })
    }

    fn decode_counted(&self, id: u64, bytes: &[u8]) -> Result<TaskRecord, StoreError> {
        self.read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        decode(id, bytes)
    }
}

impl Store for RedbStore {
    fn load(&self) -> Result<Loaded, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let mut out = Loaded::default();
        let tasks = tx.open_table(TASKS).map_err(io)?;
        for row in tasks.iter().map_err(io)? {
            let (k, v) = row.map_err(io)?;
            out.tasks.push(decode(k.value(), v.value())?);
        }
        let meta = tx.open_table(META).map_err(io)?;
        for row in meta.iter().map_err(io)? {
            let (k, v) = row.map_err(io)?;
            out.meta.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn get(&self, id: u64) -> Result<Option<TaskRecord>, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let tasks = tx.open_table(TASKS).map_err(io)?;
        let Some(v) = tasks.get(id).map_err(io)? else {
            return Ok(None);
        };
        self.decode_counted(id, v.value()).map(Some)
    }

    fn scan(
        &self,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError> {
        let Some(from) = after.checked_add(1) else {
            return Ok(());
        };
        let tx = self.db.begin_read().map_err(io)?;
        let tasks = tx.open_table(TASKS).map_err(io)?;
        for row in tasks.range(from..).map_err(io)? {
            let (k, v) = row.map_err(io)?;
            if !visit(self.decode_counted(k.value(), v.value())?) {
                break;
            }
        }
        Ok(())
    }

    fn scan_tenant(
        &self,
        tenant: &str,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError> {
        let Some(from) = after.checked_add(1) else {
            return Ok(());
        };
        let tx = self.db.begin_read().map_err(io)?;
        let tasks = tx.open_table(TASKS).map_err(io)?;
        let index = tx.open_table(BY_TENANT).map_err(io)?;
        // The index gives the ids in order; each record is then read by its key.
        for row in index
            .range((tenant, from)..=(tenant, u64::MAX))
            .map_err(io)?
        {
            let id = row.map_err(io)?.0.value().1;
            let Some(v) = tasks.get(id).map_err(io)? else {
                continue;
            };
            if !visit(self.decode_counted(id, v.value())?) {
                break;
            }
        }
        Ok(())
    }

    fn records_read(&self) -> u64 {
        self.read.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn ended_before(&self, before_ns: i64, limit: usize) -> Result<Vec<TaskRecord>, StoreError> {
        let tx = self.db.begin_read().map_err(io)?;
        let tasks = tx.open_table(TASKS).map_err(io)?;
        let by_end = tx.open_table(BY_END).map_err(io)?;
        let mut out = Vec::new();
        for row in by_end.range(..(before_ns, 0)).map_err(io)? {
            if out.len() >= limit {
                break;
            }
            let id = row.map_err(io)?.0.value().1;
            if let Some(v) = tasks.get(id).map_err(io)? {
                out.push(self.decode_counted(id, v.value())?);
            }
        }
        Ok(out)
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        Ok(std::fs::metadata(&self.path).map_err(io)?.len())
    }

    fn commit(&self, batch: &[Write]) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(io)?;
        {
            let mut tasks = tx.open_table(TASKS).map_err(io)?;
            let mut meta = tx.open_table(META).map_err(io)?;
            let mut index = tx.open_table(BY_TENANT).map_err(io)?;
            let mut by_end = tx.open_table(BY_END).map_err(io)?;
            for w in batch {
                match w {
                    Write::Task(r) => {
                        let bytes = serde_json::to_vec(r).map_err(io)?;
                        let earlier = tasks.insert(r.id, bytes.as_slice()).map_err(io)?;
                        // A record's tenant never changes: index it when it is new.
                        if earlier.is_none() {
                            index.insert((r.tenant.as_str(), r.id), ()).map_err(io)?;
                        }
                        if let Some(at) = ended_ns(r) {
                            by_end.insert((at, r.id), ()).map_err(io)?;
                        }
                    }
                    Write::Meta(k, v) => {
                        meta.insert(*k, v.as_slice()).map_err(io)?;
                    }
                    Write::Delete(id) => {
                        let gone = tasks.remove(*id).map_err(io)?;
                        if let Some(v) = gone {
                            let r = decode(*id, v.value())?;
                            index.remove((r.tenant.as_str(), r.id)).map_err(io)?;
                            if let Some(at) = ended_ns(&r) {
                                by_end.remove((at, r.id)).map_err(io)?;
                            }
                        }
                    }
                }
            }
        }
        tx.commit().map_err(io)
    }
}

/// A batch's outcome, sent back to whoever is waiting on it.
pub type Ack = tokio::sync::oneshot::Sender<Result<(), String>>;

/// Work for the committer: writes to make durable, events to publish once they are.
pub struct Job {
    pub writes: Vec<Write>,
    pub events: Vec<Event>,
    pub ack: Option<Ack>,
}

/// Statistics the committer keeps for `/metrics`.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub commits: std::sync::atomic::AtomicU64,
    pub writes: std::sync::atomic::AtomicU64,
    pub commit_ns_total: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicBool,
    /// Ended tasks deleted by retention.
    pub retained_out: std::sync::atomic::AtomicU64,
}

/// Most jobs folded into one transaction; bounds a commit's size and latency.
const MAX_JOBS_PER_COMMIT: usize = 4_096;

/// Runs the group committer on its own thread until every sender is gone: takes every job
/// waiting, commits them as one transaction, then acknowledges each and publishes their
/// events, in the order they were sent. After a failed commit every later job is refused
/// (the service then answers 503) so memory and store never drift apart silently.
pub fn spawn_committer(
    store: std::sync::Arc<dyn Store>,
    events: tokio::sync::broadcast::Sender<Event>,
    stats: std::sync::Arc<CommitStats>,
) -> (mpsc::Sender<Job>, std::thread::JoinHandle<()>) {
    use std::sync::atomic::Ordering::Relaxed;
    let (tx, rx) = mpsc::channel::<Job>();
    let handle = std::thread::Builder::new()
        .name("tiandi-store".into())
        .spawn(move || {
            let mut jobs = Vec::new();
            let mut batch = Vec::new();
            while let Ok(first) = rx.recv() {
                jobs.push(first);
                while jobs.len() < MAX_JOBS_PER_COMMIT {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                batch.clear();
                for j in &mut jobs {
                    batch.append(&mut j.writes);
                }
                let result = if stats.failed.load(Relaxed) {
                    Err("the store failed earlier; the service refuses writes".to_string())
                } else if batch.is_empty() {
                    Ok(())
                } else {
                    let t0 = Instant::now();
                    let r = store.commit(&batch).map_err(|e| e.to_string());
                    stats
                        .commit_ns_total
                        .fetch_add(t0.elapsed().as_nanos() as u64, Relaxed);
                    stats.commits.fetch_add(1, Relaxed);
                    stats.writes.fetch_add(batch.len() as u64, Relaxed);
                    if r.is_err() {
                        stats.failed.store(true, Relaxed);
                    }
                    r
                };
                for j in jobs.drain(..) {
                    if result.is_ok() {
                        for e in j.events {
                            // No listener is not an error.
                            let _ = events.send(e);
                        }
                    }
                    if let Some(ack) = j.ack {
                        let _ = ack.send(result.clone());
                    }
                }
            }
        })
        .expect("spawning the store thread");
    (tx, handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TaskSpec, TaskState};

    fn record(id: u64) -> TaskRecord {
        TaskRecord {
            id,
            tenant: "t".into(),
            spec: TaskSpec {
                kind: None,
                origin: "A".into(),
                destination: None,
                deadline_s: 1.0,
                stages: vec![],
                idempotency_key: None,
            },
            state: TaskState::Queued,
            policy: "unified".into(),
            submitted_wall_ns: 0,
            submitted_ns: 0,
            deadline_ns: 1,
            expected_finish_ns: 1,
            deliver_s: 0.0,
            stages: vec![],
            finished_ns: None,
            reason: None,
            files: Default::default(),
            replacements: 0,
        }
    }

    #[test]
    fn commits_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("tiandi-store-{}", std::process::id()));
        let path = dir.join("s.redb");
        let _ = std::fs::remove_file(&path);
        {
            let s = RedbStore::open(&path).unwrap();
            s.commit(&[
                Write::Task(Box::new(record(1))),
                Write::Task(Box::new(record(2))),
                Write::Meta("clock", b"x".to_vec()),
            ])
            .unwrap();
            let mut r = record(2);
            r.state = TaskState::Completed;
            s.commit(&[Write::Task(Box::new(r))]).unwrap();
        }
        let s = RedbStore::open(&path).unwrap();
        let l = s.load().unwrap();
        assert_eq!(l.tasks.len(), 2);
        assert_eq!(l.tasks[1].state, TaskState::Completed);
        assert_eq!(s.get(2).unwrap().unwrap().state, TaskState::Completed);
        assert_eq!(s.get(3).unwrap(), None);
        let mut seen = Vec::new();
        s.scan(1, &mut |r| {
            seen.push(r.id);
            true
        })
        .unwrap();
        assert_eq!(seen, vec![2]);
        // The tenant index holds both, and no other tenant's.
        let mut theirs = Vec::new();
        s.scan_tenant("t", 0, &mut |r| {
            theirs.push(r.id);
            true
        })
        .unwrap();
        assert_eq!(theirs, vec![1, 2]);
        s.scan_tenant("u", 0, &mut |_| panic!("not u's")).unwrap();
        assert!(l.meta.contains(&("clock".to_string(), b"x".to_vec())));
        let _ = std::fs::remove_dir_all(dir);
    }
}
