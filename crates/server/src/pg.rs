//! The PostgreSQL store: the same [`Store`] as the embedded redb file, on a shared
//! database, plus the leader lease that lets several `tiandi serve` instances share it
//! with one of them deciding at a time (see docs/serve.md, "Deployment").
//!
//! The schema is made by versioned migrations ([`MIGRATIONS`]), applied at start under an
//! advisory lock so two instances starting together do not race. Every commit is one
//! transaction, sent in one round trip, that first checks (`tiandi_fence`, with the lease
//! row locked for share) that this instance
//! still holds the lease it was given (holder, epoch, not expired by the database's
//! clock). A leader that lost its lease (paused, cut off) therefore cannot make anything
//! durable, and since a request is answered only after its commit, it cannot acknowledge
//! a decision either. A new leader's lease update waits for a commit in flight to end, so
//! it loads everything the old one made durable.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::model::TaskRecord;
use crate::store::{Loaded, Store, StoreError, Write, ended_ns};

/// Schema versions, applied in order in one transaction under the migration lock, each
/// with its number recorded in `tiandi_schema`.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE tasks (
        id bigint PRIMARY KEY,
        tenant text NOT NULL,
        state text NOT NULL,
        ended_ns bigint,
        record jsonb NOT NULL
    );
    CREATE INDEX tasks_by_tenant ON tasks (tenant, id);
    CREATE INDEX tasks_by_end ON tasks (ended_ns, id) WHERE ended_ns IS NOT NULL;
    CREATE TABLE meta (key text PRIMARY KEY, value bytea NOT NULL);
    CREATE TABLE leader (
        id int PRIMARY KEY CHECK (id = 1),
        holder text,
        address text,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL
    );
    INSERT INTO leader VALUES (1, NULL, NULL, 0, '-infinity');",
    ),
    (
        2,
        // The commit's fence as one statement that fails when the lease is not held, so
        // a whole batch (BEGIN, fence, writes, COMMIT) is sent in one round trip: when
        // the fence fails, the transaction is aborted and its COMMIT rolls it back.
        "CREATE FUNCTION tiandi_fence(who text, e bigint) RETURNS void
         LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM 1 FROM leader WHERE id = 1 AND holder = who AND epoch = e
                 AND expires_at > clock_timestamp() FOR SHARE;
             IF NOT FOUND THEN
                 RAISE EXCEPTION 'lease epoch % of % is no longer held', e, who
                     USING ERRCODE = 'TD001';
             END IF;
         END $$;",
    ),
    (
        3,
        // The record as JSON text: jsonb refuses the character U+0000, which a task's
        // strings may hold (serde_json writes it as \u0000), and one such record failed
        // its whole batch. Nothing queries inside the record.
        "ALTER TABLE tasks ALTER COLUMN record TYPE text USING record::text;",
    ),
];

/// The SQLSTATE `tiandi_fence` fails with when the lease is not held.
const FENCE_FAILED: &str = "TD001";

/// The advisory lock key that serialises migrations ("tiandi" in ASCII).
const MIGRATION_LOCK: i64 = 0x7469_616e_6469;

/// Connecting to the database gives up after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A commit without an answer within this fails (and its connection is dropped, which
/// aborts the transaction unless its COMMIT already went through): the store is then
/// failed and the leader steps down, instead of holding a lease it cannot write under.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows read per query by scans.
const SCAN_PAGE: i64 = 256;

/// The lease this instance holds, which every commit checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    pub epoch: i64,
}

/// Who leads, as the lease row says.
#[derive(Clone, Debug)]
pub struct LeaderInfo {
    pub holder: Option<String>,
    pub address: Option<String>,
    pub epoch: i64,
    /// The lease has not expired by the database's clock.
    pub live: bool,
}

/// One connection, made again when it drops.
struct Slot {
    client: tokio::sync::Mutex<Option<Client>>,
    /// Counts connections made, so statements prepared on an earlier one are not used.
    generation: AtomicU64,
}

/// The commit's statements, prepared once per connection so a batch is sent in one
/// round trip (statements given as text are parsed in a round trip of their own first).
#[derive(Clone)]
struct CommitStatements {
    generation: u64,
    fence: tokio_postgres::Statement,
    upsert: tokio_postgres::Statement,
    delete: tokio_postgres::Statement,
    meta: tokio_postgres::Statement,
}

pub struct PgStore {
    url: String,
    /// The runtime that drives the connections; the store's blocking calls wait on it.
    rt: Option<tokio::runtime::Runtime>,
    commit_conn: Slot,
    read_conn: Slot,
    lease_conn: Slot,
    commit_statements: Mutex<Option<CommitStatements>>,
    lease: Mutex<Option<Lease>>,
    read: AtomicU64,
}

fn db(e: tokio_postgres::Error) -> StoreError {
    // The server's message (with its detail) says more than the client's summary.
    let text = match e.as_db_error() {
        Some(d) => format!("postgresql: {}: {}", d.code().code(), d.message()),
        None => format!("postgresql: {e}"),
    };
    StoreError::Io(text)
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    /// Connects, applies the migrations this build knows and refuses a schema newer than
    /// them.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: redact(url),
            message,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tiandi-pg")
            .enable_all()
            .build()
            .map_err(|e| open_err(e.to_string()))?;
        let store = PgStore {
            url: url.to_string(),
            rt: Some(rt),
            commit_conn: Slot::new(),
            read_conn: Slot::new(),
            lease_conn: Slot::new(),
            commit_statements: Mutex::new(None),
            lease: Mutex::new(None),
            read: AtomicU64::new(0),
        };
        store
            .block(store.migrate())
            .map_err(|e| open_err(e.to_string()))?;
        Ok(store)
    }

    fn block<F: Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("runtime until drop").block_on(f)
    }

    async fn with<T>(
        &self,
        slot: &Slot,
        f: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let mut guard = slot.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            // Connect on the store's own runtime, so the socket belongs to its reactor
            // whichever runtime (or none) the caller runs on.
            let url = self.url.clone();
            let rt = self.rt.as_ref().expect("runtime until drop");
            let client = rt
                .spawn(async move {
                    let mut config: tokio_postgres::Config = url.parse().map_err(db)?;
                    // A peer that vanished without a reset (a cut link, a firewall dropping
                    // idle flows) is noticed in seconds, not after TCP's minutes.
                    config
                        .keepalives(true)
                        .keepalives_idle(Duration::from_secs(5))
                        .keepalives_interval(Duration::from_secs(2))
                        .keepalives_retries(3)
                        .tcp_user_timeout(COMMIT_TIMEOUT);
                    let (client, conn) =
                        tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
                            .await
                            .map_err(|_| {
                                StoreError::Io(format!(
                                    "postgresql: no connection within {} s",
                                    CONNECT_TIMEOUT.as_secs()
                                ))
                            })?
                            .map_err(db)?;
                    tokio::spawn(async move {
                        // The connection ends with an error when the server goes; the
                        // next call connects again.
                        let _ = conn.await;
                    });
                    Ok::<_, StoreError>(client)
                })
                .await
                .map_err(|e| StoreError::Io(format!("postgresql: {e}")))??;
            *guard = Some(client);
            slot.generation.fetch_add(1, Ordering::Relaxed);
        }
        let client = guard.as_mut().expect("connected above");
        f(client).await.map_err(db)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        let current = self
            .with(&self.commit_conn, async |c| {
                let tx = c.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                    .await?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS tiandi_schema (
                        version int PRIMARY KEY,
                        applied_at timestamptz NOT NULL DEFAULT now())",
                )
                .await?;
                let row = tx
                    .query_one("SELECT coalesce(max(version), 0) FROM tiandi_schema", &[])
                    .await?;
                let current: i32 = row.get(0);
                for (version, sql) in MIGRATIONS {
                    if *version > current {
                        tx.batch_execute(sql).await?;
                        tx.execute(
                            "INSERT INTO tiandi_schema (version) VALUES ($1)",
                            &[version],
                        )
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(current)
            })
            .await?;
        if current > known {
            return Err(StoreError::Io(format!(
                "the database's schema is version {current}, newer than this build's {known}: \
                 run a tiandi as new as the one that migrated it"
            )));
        }
        Ok(())
    }

    /// Sets or clears the lease that commits must hold.
    pub fn set_lease(&self, lease: Option<Lease>) {
        *self.lease.lock().expect("lease lock") = lease;
    }

    /// The lease commits are checked against.
    pub fn lease(&self) -> Option<Lease> {
        self.lease.lock().expect("lease lock").clone()
    }

    /// Takes the lease if it has expired: a new epoch, held for `lease` from now by the
    /// database's clock. `None` if another instance holds a live lease.
    pub async fn try_acquire(
        &self,
        holder: &str,
        address: &str,
        lease: Duration,
    ) -> Result<Option<Lease>, StoreError> {
        let ms = lease.as_millis() as f64;
        let row = self
            .with(&self.lease_conn, async |c| {
                c.query_opt(
                    "UPDATE leader SET holder = $1, address = $2, epoch = epoch + 1,
                         expires_at = clock_timestamp() + $3 * interval '1 millisecond'
                     WHERE id = 1 AND expires_at < clock_timestamp()
                     RETURNING epoch",
                    &[&holder, &address, &ms],
                )
                .await
            })
            .await?;
        Ok(row.map(|r| Lease {
            holder: holder.to_string(),
            epoch: r.get(0),
        }))
    }

    /// Extends a lease still held and unexpired; false when it was lost.
    pub async fn renew(&self, lease: &Lease, length: Duration) -> Result<bool, StoreError> {
        let ms = length.as_millis() as f64;
        let n = self
            .with(&self.lease_conn, async |c| {
                c.execute(
                    "UPDATE leader SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
                     WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()",
                    &[&lease.holder, &lease.epoch, &ms],
                )
                .await
            })
            .await?;
        Ok(n == 1)
    }

    /// Gives a held lease up at once, so a follower need not wait for it to expire.
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.with(&self.lease_conn, async |c| {
            c.execute(
                "UPDATE leader SET expires_at = '-infinity'
                 WHERE id = 1 AND holder = $1 AND epoch = $2",
                &[&lease.holder, &lease.epoch],
            )
            .await
        })
        .await
        .map(|_| ())
    }

    /// The lease row.
    pub async fn leader(&self) -> Result<LeaderInfo, StoreError> {
        let row = self
            .with(&self.lease_conn, async |c| {
                c.query_one(
                    "SELECT holder, address, epoch, expires_at > clock_timestamp() FROM leader WHERE id = 1",
                    &[],
                )
                .await
            })
            .await?;
        Ok(LeaderInfo {
            holder: row.get(0),
            address: row.get(1),
            epoch: row.get(2),
            live: row.get(3),
        })
    }

    /// Commits `batch` in one transaction, fenced on `lease`: nothing of it is stored
    /// unless `lease` is still the one the lease row holds.
    pub fn commit_as(&self, lease: &Lease, batch: &[Write]) -> Result<(), StoreError> {
        // The last write of each key wins; one statement may not touch a row twice.
        let mut tasks: BTreeMap<u64, Option<&TaskRecord>> = BTreeMap::new();
        let mut meta: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for w in batch {
            match w {
                Write::Task(r) => {
                    tasks.insert(r.id, Some(r));
                }
                Write::Delete(id) => {
                    tasks.insert(*id, None);
                }
                Write::Meta(k, v) => {
                    meta.insert(k, v);
                }
            }
        }
        let (mut ids, mut tenants, mut states, mut ends, mut bodies) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut gone = vec![];
        for (id, r) in &tasks {
            let id = i64::try_from(*id).map_err(|_| StoreError::Io(format!("task id {id}")))?;
            match r {
                Some(r) => {
                    ids.push(id);
                    tenants.push(r.tenant.as_str());
                    states.push(
                        serde_json::to_value(r.state)
                            .map_err(|e| StoreError::Io(e.to_string()))?
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    );
                    ends.push(ended_ns(r));
                    bodies
                        .push(serde_json::to_string(r).map_err(|e| StoreError::Io(e.to_string()))?);
                }
                None => gone.push(id),
            }
        }
        let (keys, values): (Vec<&str>, Vec<&[u8]>) = meta.into_iter().unzip();
        let committing = self.with(&self.commit_conn, async |c| {
            let st = self.commit_statements(c).await?;
            // One round trip: BEGIN, the fence, the writes and COMMIT are pipelined (sent
            // in the order they are polled, before any answer). The fence fails when the
            // lease is not held, which aborts the transaction: its COMMIT then rolls back.
            let fence_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
                [&lease.holder, &lease.epoch];
            // `biased`: polled in the order written, which is the order they are sent.
            let (begin, fence, upsert, delete, meta, commit) = tokio::join!(
                biased;
                c.batch_execute("BEGIN"),
                c.execute(&st.fence, &fence_params),
                async {
                    if ids.is_empty() {
                        return Ok(0);
                    }
                    c.execute(&st.upsert, &[&ids, &tenants, &states, &ends, &bodies])
                        .await
                },
                async {
                    if gone.is_empty() {
                        return Ok(0);
                    }
                    c.execute(&st.delete, &[&gone]).await
                },
                async {
                    if keys.is_empty() {
                        return Ok(0);
                    }
                    c.execute(&st.meta, &[&keys, &values]).await
                },
                c.batch_execute("COMMIT"),
            );
            if let Err(e) = &fence
                && e.code().map(tokio_postgres::error::SqlState::code) == Some(FENCE_FAILED)
            {
                return Ok(false);
            }
            // An error anywhere aborted the transaction, and its COMMIT rolled it back.
            begin
                .and(fence)
                .and(upsert)
                .and(delete)
                .and(meta)
                .and(commit)?;
            Ok(true)
        });
        self.block(async {
            match tokio::time::timeout(COMMIT_TIMEOUT, committing).await {
                Ok(r) => r,
                Err(_) => {
                    *self.commit_conn.client.lock().await = None;
                    Err(StoreError::Io(format!(
                        "postgresql: no answer to a commit within {} s",
                        COMMIT_TIMEOUT.as_secs()
                    )))
                }
            }
        })
        .and_then(|held| {
            if held {
                Ok(())
            } else {
                Err(StoreError::Io(format!(
                    "not the leader: lease epoch {} of {} is no longer held",
                    lease.epoch, lease.holder
                )))
            }
        })
    }

    /// The commit's prepared statements for the current commit connection.
    async fn commit_statements(
        &self,
        c: &Client,
    ) -> Result<CommitStatements, tokio_postgres::Error> {
        let generation = self.commit_conn.generation.load(Ordering::Relaxed);
        let cached = self
            .commit_statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|s| s.generation == generation);
        if let Some(s) = cached {
            return Ok(s);
        }
        let st = CommitStatements {
            generation,
            fence: c.prepare("SELECT tiandi_fence($1, $2)").await?,
            upsert: c
                .prepare(
                    "INSERT INTO tasks (id, tenant, state, ended_ns, record)
                     SELECT i, t, s, e, r
                       FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::text[])
                         AS u(i, t, s, e, r)
                     ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state,
                         ended_ns = EXCLUDED.ended_ns, record = EXCLUDED.record",
                )
                .await?,
            delete: c.prepare("DELETE FROM tasks WHERE id = ANY($1)").await?,
            meta: c
                .prepare(
                    "INSERT INTO meta (key, value) SELECT * FROM unnest($1::text[], $2::bytea[])
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                )
                .await?,
        };
        *self
            .commit_statements
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(st.clone());
        Ok(st)
    }

    fn decode_row(&self, id: i64, text: &str) -> Result<TaskRecord, StoreError> {
        self.read.fetch_add(1, Ordering::Relaxed);
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            id: id as u64,
            message: e.to_string(),
        })
    }

    /// Pages through `query` (which takes the last id as `$1` and the page size as `$2`,
    /// plus `extra`), visiting each record until `visit` says stop.
    fn scan_pages(
        &self,
        query: &str,
        tenant: Option<&str>,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError> {
        let mut last = i64::try_from(after).unwrap_or(i64::MAX);
        loop {
            let rows = self.block(self.with(&self.read_conn, async |c| match tenant {
                Some(t) => c.query(query, &[&last, &SCAN_PAGE, &t]).await,
                None => c.query(query, &[&last, &SCAN_PAGE]).await,
            }))?;
            let n = rows.len() as i64;
            for row in rows {
                let id: i64 = row.get(0);
                let text: &str = row.get(1);
                last = id;
                if !visit(self.decode_row(id, text)?) {
                    return Ok(());
                }
            }
            if n < SCAN_PAGE {
                return Ok(());
            }
        }
    }
}

impl Slot {
    fn new() -> Slot {
        Slot {
            client: tokio::sync::Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime inside another one panics; this ends it without waiting.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Store for PgStore {
    fn load(&self) -> Result<Loaded, StoreError> {
        let mut out = Loaded::default();
        self.scan(0, &mut |r| {
            out.tasks.push(r);
            true
        })?;
        let rows = self.block(self.with(&self.read_conn, async |c| {
            c.query("SELECT key, value FROM meta ORDER BY key", &[])
                .await
        }))?;
        for row in rows {
            out.meta.push((row.get(0), row.get(1)));
        }
        Ok(out)
    }

    fn commit(&self, batch: &[Write]) -> Result<(), StoreError> {
        let Some(lease) = self.lease.lock().expect("lease lock").clone() else {
            return Err(StoreError::Io(
                "not the leader: this instance holds no lease".into(),
            ));
        };
        self.commit_as(&lease, batch)
    }

    fn get(&self, id: u64) -> Result<Option<TaskRecord>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let row = self.block(self.with(&self.read_conn, async |c| {
            c.query_opt("SELECT record::text FROM tasks WHERE id = $1", &[&id])
                .await
        }))?;
        row.map(|r| self.decode_row(id, r.get(0))).transpose()
    }

    fn scan(
        &self,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError> {
        self.scan_pages(
            "SELECT id, record::text FROM tasks WHERE id > $1 ORDER BY id LIMIT $2",
            None,
            after,
            visit,
        )
    }

    fn scan_tenant(
        &self,
        tenant: &str,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError> {
        self.scan_pages(
            "SELECT id, record::text FROM tasks WHERE tenant = $3 AND id > $1 ORDER BY id LIMIT $2",
            Some(tenant),
            after,
            visit,
        )
    }

    fn records_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    fn ended_before(&self, before_ns: i64, limit: usize) -> Result<Vec<TaskRecord>, StoreError> {
        let limit = limit as i64;
        let rows = self.block(self.with(&self.read_conn, async |c| {
            c.query(
                "SELECT id, record::text FROM tasks WHERE ended_ns < $1
                 ORDER BY ended_ns, id LIMIT $2",
                &[&before_ns, &limit],
            )
            .await
        }))?;
        rows.iter()
            .map(|r| self.decode_row(r.get(0), r.get(1)))
            .collect()
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        let row = self.block(self.with(&self.read_conn, async |c| {
            c.query_one("SELECT pg_total_relation_size('tasks')", &[])
                .await
        }))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }
}

/// The store as one term of leadership sees it: its commits are fenced on the lease the
/// term began with. State left over from an earlier term (a request still running in
/// the old app, its group committer) therefore cannot commit under a later lease of the
/// same instance, which would store decisions the new term's state never saw.
pub struct Term {
    pub pg: std::sync::Arc<PgStore>,
    pub lease: Lease,
}

impl Store for Term {
    fn load(&self) -> Result<Loaded, StoreError> {
        self.pg.load()
    }

    fn commit(&self, batch: &[Write]) -> Result<(), StoreError> {
        self.pg.commit_as(&self.lease, batch)
    }

    fn get(&self, id: u64) -> Result<Option<TaskRecord>, StoreError> {
        self.pg.get(id)
    }

    fn scan(
        &self,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError> {
        self.pg.scan(after, visit)
    }

    fn scan_tenant(
        &self,
        tenant: &str,
        after: u64,
        visit: &mut dyn FnMut(TaskRecord) -> bool,
    ) -> Result<(), StoreError> {
        self.pg.scan_tenant(tenant, after, visit)
    }

    fn records_read(&self) -> u64 {
        self.pg.records_read()
    }

    fn ended_before(&self, before_ns: i64, limit: usize) -> Result<Vec<TaskRecord>, StoreError> {
        self.pg.ended_before(before_ns, limit)
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        self.pg.size_bytes()
    }
}
