//! The operator console as a hostile origin sees it, over raw HTTP: the page and its files
//! carry a Content-Security-Policy and no secret, unknown or climbing paths find nothing,
//! and the API grants no other origin the right to read it with a token (no CORS).
//! The console working in a browser is `browser.rs`.

mod common;
#[path = "common/serve_harness.rs"]
mod serve_harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::fresh_dir;
use serve_harness::*;

/// One request on a fresh connection: status, lower-cased head, body.
fn http(port: u16, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn get(port: u16, path: &str, extra: &str) -> (u16, String, String) {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n"),
    )
}

#[test]
fn the_console_is_locked_to_its_own_origin_and_holds_no_secret() {
    let dir = fresh_dir("console", "origin");
    let server = Server::start(&dir, "accelerated:5");
    let port = server.port;

    let (status, head, body) = get(port, "/", "");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    let csp = head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .expect("no CSP on the console page")
        .to_string();
    for want in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ] {
        assert!(csp.contains(want), "CSP lacks {want}: {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(head.contains("x-frame-options: deny") && head.contains("nosniff"));
    for token in [OPERATOR, OTHER, ADMIN, AGENT_ZJK, AGENT_WUHU] {
        assert!(!body.contains(token), "the page carries a token");
    }

    // Every file the page loads is served, with the same policy, and holds no token.
    for (path, ty) in [
        ("/console/three.min.js", "text/javascript"),
        ("/console/globe.js", "text/javascript"),
        ("/console/console.js", "text/javascript"),
        ("/console/globe.css", "text/css"),
        ("/console/console.css", "text/css"),
        ("/console/land.txt", "text/plain"),
        ("/console/three.LICENSE.txt", "text/plain"),
    ] {
        let (status, head, body) = get(port, path, "");
        assert_eq!(status, 200, "{path}");
        assert!(
            head.contains(&format!("content-type: {ty}")),
            "{path}: {head}"
        );
        assert!(head.contains("content-security-policy:"), "{path}");
        assert!(!body.contains(OPERATOR) && !body.contains(AGENT_ZJK));
    }
    // Nothing else, and nothing from disk.
    for path in [
        "/console/serve.toml",
        "/console/..%2Fserve.toml",
        "/console/%2e%2e%2fstore.redb",
        "/console/../../etc/passwd",
        "/console/",
    ] {
        let (status, head, body) = get(port, path, "");
        assert_eq!(status, 404, "{path}");
        if path.matches('/').count() == 2 && !path.ends_with('/') {
            // A miss inside /console/ carries the console's headers too.
            assert!(head.contains("content-security-policy:"), "{path}: {head}");
            assert!(head.contains("x-content-type-options: nosniff"), "{path}");
        }
        assert!(
            !body.contains("[[tokens]]") && !body.contains("root:"),
            "{path}"
        );
    }

    // Another origin's page cannot read the API with a token: no preflight is granted and
    // no answer names an allowed origin, so the browser keeps the answer from the page.
    let (_, head, _) = http(
        port,
        "OPTIONS /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\nConnection: close\r\n\r\n",
    );
    assert!(!head.contains("access-control-allow"), "{head}");
    let (status, head, _) = get(
        port,
        "/v1/tasks",
        &format!("Origin: http://evil.example\r\nAuthorization: Bearer {OPERATOR}\r\n"),
    );
    assert_eq!(status, 200);
    assert!(!head.contains("access-control-allow"), "{head}");
    // A token is never taken from the query string (links and logs would carry it).
    let (status, _, _) = get(port, &format!("/v1/tasks?token={OPERATOR}"), "");
    assert!(status == 401 || status == 400, "{status}");
}
