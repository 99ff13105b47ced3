//! Retention: ended tasks older than `retain_ended_s` (twin time since they ended) leave
//! the store, after being appended to a JSON Lines archive when one is configured.
//!
//! Order of a pass: read the oldest expired records, append them to the archive and
//! fsync it, then commit their deletion through the group committer (so it is fenced like
//! every write, and ordered after the task's own last change). A crash between the
//! archive and the deletion leaves a record in both, and the next pass archives it
//! again: the archive holds every deleted task at least once (deduplicate by `id`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::api::AppState;
use crate::model::TaskRecord;
use crate::service::Changes;

/// Records deleted per commit; a larger backlog takes several passes in a row.
const BATCH: usize = 2_000;
/// How often retention looks for expired tasks, wall time.
const PERIOD: Duration = Duration::from_secs(1);

/// Deletes expired tasks until the service stops (its state is dropped with the task).
pub async fn run(state: Arc<AppState>, retain_s: f64, archive: Option<PathBuf>) {
    let mut shutdown = state.shutdown.clone();
    let mut quiet = true;
    loop {
        if quiet {
            tokio::select! {
                () = tokio::time::sleep(PERIOD) => {},
                _ = shutdown.changed() => return,
            }
        }
        if *shutdown.borrow() {
            return;
        }
        match pass(&state, retain_s, archive.as_deref()).await {
            Ok(n) => quiet = n < BATCH,
            Err(e) => {
                eprintln!("tiandi serve: retention: {e}");
                quiet = true;
            }
        }
    }
}

/// One pass: the number of tasks deleted.
pub async fn pass(
    state: &Arc<AppState>,
    retain_s: f64,
    archive: Option<&Path>,
) -> Result<usize, String> {
    let cutoff = state.clock.now_ns() - (retain_s * 1e9) as i64;
    let store = state.store.clone();
    let records = tokio::task::spawn_blocking(move || store.ended_before(cutoff, BATCH))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if records.is_empty() {
        return Ok(0);
    }
    let records = match archive {
        Some(dir) => {
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || append(&dir, &records).map(|()| records))
                .await
                .map_err(|e| e.to_string())??
        }
        None => records,
    };
    let rx = {
        let mut svc = state.lock();
        let writes = svc.forget(&records);
        state.send(Changes {
            writes,
            events: vec![],
        })
    };
    rx.await
        .map_err(|_| "the store thread is gone".to_string())??;
    state
        .stats
        .retained_out
        .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(records.len())
}

/// Appends `records` to the archive files of their end days (UTC), durably.
fn append(dir: &Path, records: &[TaskRecord]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("archive {}: {e}", dir.display()))?;
    let mut by_day: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    for r in records {
        let at = crate::store::ended_ns(r).unwrap_or(r.submitted_ns);
        let day = tiandi_orbit::Epoch::from_unix_ns(at).to_string();
        let day = day.get(..10).unwrap_or("unknown").to_string();
        let line = by_day.entry(day).or_default();
        serde_json::to_writer(&mut *line, r).map_err(|e| e.to_string())?;
        line.push(b'\n');
    }
    for (day, bytes) in by_day {
        let path = dir.join(format!("tasks-{day}.jsonl"));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("archive {}: {e}", path.display()))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("archive {}: {e}", path.display()))?;
    }
    Ok(())
}
