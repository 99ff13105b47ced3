//! The report's globe and the live console in a real browser: headless Chromium (Debian's
//! package) driven over the DevTools protocol by playwright-core, from the scripts under
//! `tests/browser/`. The checks themselves are in those scripts; these tests make the
//! inputs (a run's report, a running service) and fail when a script fails.
//!
//! Without Chromium, Node.js or `tests/browser/node_modules` the tests say so and pass,
//! unless `TIANDI_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs all three), where
//! they fail.

mod common;
#[path = "common/serve_harness.rs"]
mod serve_harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fresh_dir, tiandi};
use serve_harness::{OPERATOR, Server};

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("TIANDI_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// `None` (and a line on stderr) when the browser tools are missing and not required.
fn tools() -> Option<PathBuf> {
    let dir = scripts_dir();
    let mut missing = Vec::new();
    if !Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        missing.push("node (Node.js)".to_string());
    }
    if !chromium().exists() {
        missing.push(format!(
            "{} (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        missing.push(format!(
            "{}/node_modules (npm ci --prefix tests/browser)",
            dir.display()
        ));
    }
    if missing.is_empty() {
        return Some(dir);
    }
    let msg = format!("browser tests need {}", missing.join(", "));
    if std::env::var_os("TIANDI_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("skipped: {msg}");
    None
}

fn run_script(dir: &Path, script: &str, args: &[&str]) {
    let out = Command::new("node")
        .current_dir(dir)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "{script} failed:\n{text}");
}

#[test]
fn the_report_globe_renders_offline_from_disk() {
    let Some(scripts) = tools() else { return };
    let dir = fresh_dir("browser", "report");
    // The default scenario: the one whose report the size budget is for.
    let out = tiandi(&dir, &["simulate", "--out", "run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/summary.json")).unwrap())
            .unwrap();
    let n = summary["n_satellites"].as_u64().unwrap().to_string();
    let report = dir.join("run/report.html");
    let size = std::fs::metadata(&report).unwrap().len() as usize;
    assert!(
        size <= tiandi_html::MAX_REPORT_BYTES,
        "{size} bytes, over the budget of {}",
        tiandi_html::MAX_REPORT_BYTES
    );
    run_script(&scripts, "report.mjs", &[report.to_str().unwrap(), &n]);
}

#[test]
fn the_live_console_shows_a_submitted_task_within_two_seconds() {
    let Some(scripts) = tools() else { return };
    let dir = fresh_dir("browser", "console");
    let server = Server::start(&dir, "accelerated:20");
    run_script(&scripts, "console.mjs", &[&server.url, OPERATOR]);
}
