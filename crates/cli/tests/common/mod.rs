//! Helpers shared by the CLI tests: a fresh directory per test and the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh, empty directory for one test under cargo's per-crate temporary directory
/// (cargo sets CARGO_TARGET_TMPDIR for integration tests).
pub fn fresh_dir(suite: &str, test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(suite)
        .join(test);
    if dir.exists() {
        // `rm` walks a tree iteratively: a stage may have left one deeper than a recursive
        // removal's stack allows.
        let status = Command::new("rm").arg("-rf").arg(&dir).status().unwrap();
        assert!(status.success(), "cannot remove {}", dir.display());
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the real `tiandi` binary in `dir`.
#[allow(dead_code)] // not every test file runs it this way
pub fn tiandi(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tiandi"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}
