//! Atomic file writes: write a temporary file beside the target, flush it to disk, rename it
//! over the target. Readers see the old file or the new one, never a part.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Numbers the temporary files of this process, so that two threads writing the same target
/// at once (two reports of one directory) do not share one and lose a rename.
static NEXT_TMP: AtomicU64 = AtomicU64::new(0);

/// Writes `path` through `fill`; on any error the temporary file is removed and the target
/// is left as it was.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?
        .to_string_lossy();
    let n = NEXT_TMP.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp)?);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("tiandi-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn failed_write_leaves_the_old_file_and_no_temporary() {
        let d = dir("atomic");
        let target = d.join("a.txt");
        write_atomic(&target, |w| w.write_all(b"old")).unwrap();
        let e = write_atomic(&target, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk on fire");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn threads_writing_one_target_at_once_all_succeed() {
        let d = dir("racing");
        let target = d.join("report.html");
        let bodies: Vec<String> = (0..8)
            .map(|i| format!("body {i} ").repeat(20_000))
            .collect();
        for _ in 0..5 {
            std::thread::scope(|s| {
                for b in &bodies {
                    let target = &target;
                    s.spawn(move || write_atomic(target, |w| w.write_all(b.as_bytes())).unwrap());
                }
            });
            // One writer's whole body, and no temporary left behind.
            let got = std::fs::read_to_string(&target).unwrap();
            assert!(bodies.contains(&got), "a mixed or partial file");
            assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
