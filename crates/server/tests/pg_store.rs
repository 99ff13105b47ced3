//! The PostgreSQL store on a real private server: what the redb store keeps it keeps,
//! the migrations run once and refuse a newer schema, and the lease fences commits, so an
//! instance that lost its lease cannot make anything durable.

mod common;

use std::time::Duration;

use common::postgres::Postgres;
use tiandi_server::model::{TaskRecord, TaskSpec, TaskState};
use tiandi_server::pg::{PgStore, Term};
use tiandi_server::store::{Store, Write};

fn record(id: u64, tenant: &str, state: TaskState, finished_ns: Option<i64>) -> TaskRecord {
    TaskRecord {
        id,
        tenant: tenant.into(),
        spec: TaskSpec {
            kind: None,
            origin: "Zhangjiakou".into(),
            destination: None,
            deadline_s: 60.0,
            stages: vec![],
            idempotency_key: Some(format!("key-{id}")),
        },
        state,
        policy: "unified".into(),
        submitted_wall_ns: 7,
        submitted_ns: 100 * id as i64,
        deadline_ns: 1_000_000,
        expected_finish_ns: 500,
        deliver_s: 0.25,
        stages: vec![],
        finished_ns,
        reason: None,
        files: Default::default(),
        replacements: 0,
    }
}

fn task(r: TaskRecord) -> Write {
    Write::Task(Box::new(r))
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A store holding a fresh lease, as a leader's is.
fn leader(url: &str, name: &str, lease: Duration) -> PgStore {
    let s = PgStore::connect(url).unwrap();
    let l = block(s.try_acquire(name, "http://127.0.0.1:1", lease))
        .unwrap()
        .expect("the lease is free");
    s.set_lease(Some(l));
    s
}

#[test]
fn keeps_what_it_is_given_like_the_embedded_store() {
    let Some(pg) = Postgres::start("keeps_what_it_is_given_like_the_embedded_store") else {
        return;
    };
    let url = pg.database("keeps");
    let s = leader(&url, "a", Duration::from_secs(30));
    s.commit(&[
        task(record(1, "a", TaskState::Queued, None)),
        task(record(2, "b", TaskState::Completed, Some(900))),
        task(record(3, "a", TaskState::Failed, Some(400))),
        Write::Meta("clock", b"\x00\xffbytes".to_vec()),
    ])
    .unwrap();
    // The last write of a key in one batch wins, as in redb; a delete removes the row.
    s.commit(&[
        task(record(1, "a", TaskState::Running, None)),
        task(record(1, "a", TaskState::Completed, Some(1_000))),
        task(record(4, "a", TaskState::Queued, None)),
        Write::Delete(4),
        Write::Delete(77),
    ])
    .unwrap();
    drop(s);

    // Another connection (a new leader) reads it all back.
    let s = PgStore::connect(&url).unwrap();
    let l = s.load().unwrap();
    let ids: Vec<u64> = l.tasks.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(
        l.tasks[0],
        record(1, "a", TaskState::Completed, Some(1_000))
    );
    assert_eq!(
        l.meta,
        vec![("clock".to_string(), b"\x00\xffbytes".to_vec())]
    );
    assert_eq!(
        s.get(2).unwrap(),
        Some(record(2, "b", TaskState::Completed, Some(900)))
    );
    assert_eq!(s.get(4).unwrap(), None);
    assert_eq!(s.get(u64::MAX).unwrap(), None);

    let mut seen = vec![];
    s.scan_tenant("a", 0, &mut |r| {
        seen.push(r.id);
        true
    })
    .unwrap();
    assert_eq!(seen, vec![1, 3]);
    let mut seen = vec![];
    s.scan(1, &mut |r| {
        seen.push(r.id);
        r.id < 2
    })
    .unwrap();
    assert_eq!(
        seen,
        vec![2],
        "scan starts after `after` and stops when told"
    );

    // Ended before 950: tasks 3 (400) and 2 (900), oldest first; task 1 ended at 1000.
    let old: Vec<u64> = s
        .ended_before(950, 10)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(old, vec![3, 2]);
    let old: Vec<u64> = s
        .ended_before(950, 1)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(old, vec![3]);
    assert!(s.size_bytes().unwrap() > 0);
}

#[test]
fn scans_page_through_more_rows_than_one_query_reads() {
    let Some(pg) = Postgres::start("scans_page_through_more_rows_than_one_query_reads") else {
        return;
    };
    let url = pg.database("pages");
    let s = leader(&url, "a", Duration::from_secs(30));
    let batch: Vec<Write> = (1..=1_000)
        .map(|i| {
            task(record(
                i,
                if i % 3 == 0 { "b" } else { "a" },
                TaskState::Queued,
                None,
            ))
        })
        .collect();
    s.commit(&batch).unwrap();
    let mut n = 0;
    let mut last = 0;
    s.scan(0, &mut |r| {
        assert!(r.id > last, "in id order");
        last = r.id;
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, 1_000);
    let mut b = 0;
    s.scan_tenant("b", 0, &mut |r| {
        assert_eq!(r.tenant, "b");
        b += 1;
        true
    })
    .unwrap();
    assert_eq!(b, 333);
}

#[test]
fn migrations_run_once_and_a_newer_schema_is_refused() {
    let Some(pg) = Postgres::start("migrations_run_once_and_a_newer_schema_is_refused") else {
        return;
    };
    let url = pg.database("schema");
    // Two instances starting at once: the advisory lock makes one migrate.
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| PgStore::connect(&url).map(drop));
        let b = sc.spawn(|| PgStore::connect(&url).map(drop));
        (a.join().unwrap(), b.join().unwrap())
    });
    a.unwrap();
    b.unwrap();
    let versions = Postgres::query(&url, "SELECT version FROM tiandi_schema ORDER BY version");
    let known: Vec<Option<String>> = tiandi_server::pg::MIGRATIONS
        .iter()
        .map(|m| Some(m.0.to_string()))
        .collect();
    assert_eq!(versions, known);
    PgStore::connect(&url).unwrap();
    assert_eq!(
        Postgres::query(&url, "SELECT count(*) FROM tiandi_schema"),
        vec![Some(known.len().to_string())]
    );

    Postgres::query(&url, "INSERT INTO tiandi_schema (version) VALUES (999)");
    let err = PgStore::connect(&url)
        .err()
        .expect("a newer schema is refused")
        .to_string();
    assert!(
        err.contains("version 999") && err.contains("newer"),
        "{err}"
    );
}

#[test]
fn only_the_lease_holder_commits() {
    let Some(pg) = Postgres::start("only_the_lease_holder_commits") else {
        return;
    };
    let url = pg.database("fence");
    let lease = Duration::from_millis(600);
    let a = leader(&url, "a", lease);
    a.commit(&[task(record(1, "t", TaskState::Queued, None))])
        .unwrap();

    // While a's lease is live nobody else gets it.
    let b = PgStore::connect(&url).unwrap();
    assert_eq!(block(b.try_acquire("b", "http://b", lease)).unwrap(), None);
    let no_lease = b
        .commit(&[task(record(2, "t", TaskState::Queued, None))])
        .unwrap_err()
        .to_string();
    assert!(no_lease.contains("not the leader"), "{no_lease}");

    // a stops renewing (paused); its lease expires by the database's clock and b takes it.
    std::thread::sleep(lease + Duration::from_millis(200));
    let taken = block(b.try_acquire("b", "http://b", lease))
        .unwrap()
        .expect("an expired lease can be taken");
    b.set_lease(Some(taken.clone()));
    assert_eq!(block(b.leader()).unwrap().holder.as_deref(), Some("b"));

    // a wakes and tries to make a decision durable: refused, and nothing of it is stored.
    let mut changed = record(1, "t", TaskState::Completed, Some(5));
    changed.reason = Some("from the old leader".into());
    let err = a
        .commit(&[task(changed), task(record(9, "t", TaskState::Queued, None))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no longer held"), "{err}");
    assert!(
        !block(a.renew(&a_lease(&a), lease)).unwrap(),
        "a cannot renew a lost lease"
    );
    assert_eq!(b.get(9).unwrap(), None);
    assert_eq!(b.get(1).unwrap().unwrap().state, TaskState::Queued);

    // The new holder commits; a release hands the lease on at once, with a new epoch.
    b.commit(&[task(record(2, "t", TaskState::Queued, None))])
        .unwrap();
    block(b.release(&taken)).unwrap();
    let c = PgStore::connect(&url).unwrap();
    let next = block(c.try_acquire("c", "http://c", lease))
        .unwrap()
        .unwrap();
    assert_eq!(next.epoch, taken.epoch + 1);
    let err = b
        .commit(&[task(record(3, "t", TaskState::Queued, None))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no longer held"), "{err}");
}

/// The lease a store was given (the test set it).
fn a_lease(s: &PgStore) -> tiandi_server::pg::Lease {
    s.lease().expect("set by the test")
}

#[test]
fn a_bad_url_is_an_error_that_hides_the_password() {
    let err = PgStore::connect("postgresql://tiandi:hunter2@127.0.0.1:1/nope")
        .err()
        .expect("nothing listens on port 1")
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("tiandi:***@127.0.0.1:1"), "{err}");
}

/// A term of leadership commits under the lease it began with: when the same instance
/// has since taken a newer lease, what is left of the old term (a request still running
/// in the old state) is refused, not stored beside the new term's decisions.
#[test]
fn an_earlier_term_cannot_commit_under_a_later_lease_of_the_same_instance() {
    let Some(pg) =
        Postgres::start("an_earlier_term_cannot_commit_under_a_later_lease_of_the_same_instance")
    else {
        return;
    };
    let url = pg.database("terms");
    let pg_store = std::sync::Arc::new(PgStore::connect(&url).unwrap());
    let lease = Duration::from_secs(30);
    let first = block(pg_store.try_acquire("a", "http://a", lease))
        .unwrap()
        .unwrap();
    let old = Term {
        pg: pg_store.clone(),
        lease: first.clone(),
    };
    old.commit(&[task(record(1, "t", TaskState::Queued, None))])
        .unwrap();
    // a steps down (gives the lease up) and takes it again: a new epoch, a new term.
    block(pg_store.release(&first)).unwrap();
    let second = block(pg_store.try_acquire("a", "http://a", lease))
        .unwrap()
        .unwrap();
    assert_eq!(second.holder, first.holder);
    assert_eq!(second.epoch, first.epoch + 1);
    let new = Term {
        pg: pg_store.clone(),
        lease: second,
    };
    let err = old
        .commit(&[task(record(2, "t", TaskState::Queued, None))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no longer held"), "{err}");
    new.commit(&[task(record(3, "t", TaskState::Queued, None))])
        .unwrap();
    let ids: Vec<u64> = new.load().unwrap().tasks.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![1, 3]);
}

/// Strings may hold U+0000 (jsonb refuses it; the record is stored as JSON text), and
/// such a record does not fail the batch it is in.
#[test]
fn a_record_with_a_nul_character_is_stored_and_read_back() {
    let Some(pg) = Postgres::start("a_record_with_a_nul_character_is_stored_and_read_back") else {
        return;
    };
    let url = pg.database("nul");
    let s = leader(&url, "a", Duration::from_secs(30));
    let mut r = record(1, "t", TaskState::Failed, Some(10));
    r.spec.idempotency_key = Some("k\u{0}ey".into());
    r.reason = Some("stage printed \u{0} and exited".into());
    s.commit(&[
        task(r.clone()),
        task(record(2, "t", TaskState::Queued, None)),
    ])
    .unwrap();
    assert_eq!(s.get(1).unwrap(), Some(r));
    assert_eq!(s.load().unwrap().tasks.len(), 2);
}
