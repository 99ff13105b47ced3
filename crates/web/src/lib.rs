//! The browser side of tiandi as text: the vendored three.js, the globe drawn with it, the
//! report's time-animated globe and the live console of `tiandi serve`.
//!
//! A leaf crate with no dependencies, so the report (`tiandi-html`) and the service
//! (`tiandi-server`) embed the same files. The globe draws what it is handed (positions in
//! ECEF km, links, task paths) and knows nothing of where they come from: the report
//! interpolates positions sampled by the run, the console asks the live twin.

/// three.js 0.149.0 (MIT), unchanged from the npm registry; see `vendor/three-0.149.0`.
pub const THREE_JS: &str = include_str!("../vendor/three-0.149.0/three.min.js");
/// three.js's licence, shipped next to it.
pub const THREE_LICENSE: &str = include_str!("../vendor/three-0.149.0/LICENSE");
/// Natural Earth 1:110m land, one ring per line (`lon,lat lon,lat ...`; see data/README.md).
pub const LAND_110M: &str = include_str!("../data/land-110m.txt");
/// The globe: Earth, land, satellites, links, task flows, picking, camera (global `TiandiGlobe`).
pub const GLOBE_JS: &str = include_str!("../assets/globe.js");
/// The report's globe: decodes the run's embedded samples and animates them.
pub const REPORT_GLOBE_JS: &str = include_str!("../assets/report-globe.js");
/// Styles of the globe's controls, shared by the report and the console.
pub const GLOBE_CSS: &str = include_str!("../assets/globe.css");
/// The console page served at `/` by `tiandi serve`.
pub const CONSOLE_HTML: &str = include_str!("../assets/console.html");
/// The console's script: login, polling the twin, the event stream, task submission.
pub const CONSOLE_JS: &str = include_str!("../assets/console.js");
/// The console's own styles.
pub const CONSOLE_CSS: &str = include_str!("../assets/console.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_fetch_nothing_but_the_console_s_own_api() {
        // The report's scripts run from disk: nothing in them may reach the network.
        for (name, js) in [("globe.js", GLOBE_JS), ("report-globe.js", REPORT_GLOBE_JS)] {
            for bad in [
                "fetch(",
                "XMLHttpRequest",
                "WebSocket",
                "EventSource",
                "import(",
                "http",
            ] {
                assert!(!js.contains(bad), "{name} contains {bad:?}");
            }
        }
        // The console speaks only to its own origin: relative paths, no scheme or host.
        assert!(!CONSOLE_JS.contains("http://") && !CONSOLE_JS.contains("https://"));
        assert!(
            !CONSOLE_HTML.contains("<script>"),
            "inline script would need 'unsafe-inline'"
        );
        assert!(
            !CONSOLE_HTML.contains("style="),
            "inline style would need 'unsafe-inline'"
        );
        assert!(THREE_JS.starts_with("/**\n * @license\n * Copyright 2010-2023 Three.js Authors"));
        assert!(THREE_LICENSE.contains("MIT"));
    }
}
