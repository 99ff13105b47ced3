//! `tiandi report` and `tiandi plan --html` run as the real binary in a fresh directory:
//! the page of a small simulated run is self-contained and well formed, `--node` chooses
//! the satellite, and bad input gets one error line and a non-zero exit.

mod common;
use common::{fresh_dir, tiandi};

use std::path::Path;
use std::process::Output;

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// The one stderr line of a command that must fail.
fn fails(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr.trim_end().to_string()
}

#[test]
fn report_of_a_simulated_run_is_self_contained_and_node_selectable() {
    let dir = fresh_dir("report_cli", "run");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/small.toml");
    std::fs::copy(&example, dir.join("small.toml")).unwrap();
    ok(&tiandi(
        &dir,
        &[
            "simulate",
            "small.toml",
            "--compare",
            "bent-pipe,unified",
            "--out",
            "out",
        ],
    ));
    let report = dir.join("out/report.html");
    let _ = std::fs::remove_file(&report);

    let stderr = ok(&tiandi(&dir, &["report", "out"]));
    assert_eq!(
        stderr,
        format!("wrote {}\n", Path::new("out").join("report.html").display())
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(tiandi_html::audit(&html), Vec::<String>::new());
    for fig in [
        "fig-map",
        "fig-cdf-earth-observation",
        "fig-deadline",
        "fig-bytes",
        "fig-heatmap",
        "fig-satellite",
    ] {
        assert!(html.contains(&format!("<figure id=\"{fig}\"")), "no {fig}");
    }

    ok(&tiandi(&dir, &["report", "out", "--node", "S-1-1"]));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("Satellite S-1-1 (unified)"),
        "the named satellite is drawn"
    );

    let e = fails(&tiandi(&dir, &["report", "out", "--node", "99"]));
    assert_eq!(e, "error: --node 99: satellite indices run from 0 to 59");
    let e = fails(&tiandi(&dir, &["report", "nowhere"]));
    assert!(
        e.starts_with(&format!(
            "error: {}: ",
            Path::new("nowhere").join("summary.json").display()
        )),
        "{e}"
    );
}

#[test]
fn plan_writes_its_page_with_html() {
    let dir = fresh_dir("report_cli", "plan");
    let out = tiandi(&dir, &["plan", "--count", "8", "--html", "plan.html"]);
    let stderr = ok(&out);
    assert_eq!(stderr, "wrote plan.html\n");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("tiandi plan: 8 x "),
        "the text table is still printed"
    );
    let html = std::fs::read_to_string(dir.join("plan.html")).unwrap();
    assert_eq!(tiandi_html::audit(&html), Vec::<String>::new());
    assert!(html.contains("<figure id=\"fig-mass\"") && html.contains("<figure id=\"fig-cost\""));
}
