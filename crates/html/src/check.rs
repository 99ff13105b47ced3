//! Checks that a report page is self-contained and well formed, for the tests of this
//! crate and of the CLI: nothing that would make a browser fetch anything, tags that nest
//! and close, and every figure with a title and axis labels drawn in it.
//!
//! Scripts are inline only (no `src`), and none but the vendored three.js, compared byte
//! for byte, may name a scheme or an API of [`NETWORK_APIS`]. That list is a check on our
//! own scripts, not a sandbox: a script written to hide a fetch (a name built from strings)
//! would pass it. Data blocks (`type="application/json"`) are never run and are not
//! searched for APIs, so a station called `https://x` is not a finding.

/// Largest report allowed for the default scenario, bytes (issue 18's budget with the globe).
pub const MAX_REPORT_BYTES: usize = 8 * 1024 * 1024;

/// What a page's own scripts may not contain: the usual ways a script reaches the network.
const NETWORK_APIS: [&str; 16] = [
    "fetch(",
    "fetch (",
    "ws://",
    "wss://",
    "Worker(",
    "window.open",
    ".src",
    "location.href",
    "XMLHttpRequest",
    "WebSocket",
    "EventSource",
    "import(",
    "sendBeacon",
    "http://",
    "https://",
    "importScripts",
];

/// The page with every inline script's body emptied, and what is wrong with the scripts.
fn split_scripts(html: &str) -> (String, Vec<String>) {
    let mut rest = String::with_capacity(html.len());
    let mut problems = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while let Some(off) = lower[i..].find("<script") {
        let at = i + off;
        let Some(gt) = html[at..].find('>').map(|e| at + e + 1) else {
            problems.push(format!("unclosed <script at byte {at}"));
            break;
        };
        if lower[at..gt].contains("src") {
            problems.push(format!(
                "script with a source at byte {at}: {:?}",
                snippet(html, at)
            ));
        }
        let Some(end) = lower[gt..].find("</script>").map(|e| gt + e) else {
            problems.push(format!("<script> at byte {at} never closed"));
            break;
        };
        let body = &html[gt..end];
        let data = lower[at..gt].contains("type=\"application/json\"");
        if body != tiandi_web::THREE_JS && !data {
            for bad in NETWORK_APIS {
                if let Some(p) = body.find(bad) {
                    problems.push(format!(
                        "script at byte {at} reaches the network with {bad:?}: {:?}",
                        snippet(html, gt + p)
                    ));
                }
            }
        }
        rest.push_str(&html[i..gt]);
        i = end;
    }
    rest.push_str(&html[i..]);
    (rest, problems)
}

/// Elements that have no end tag in HTML.
const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "wbr"];

/// Everything wrong with `html`; empty when it passes.
pub fn audit(page: &str) -> Vec<String> {
    let (html, mut problems) = split_scripts(page);
    let html = html.as_str();
    let lower = html.to_ascii_lowercase();
    for bad in [
        "http://", "https://", "<link", "<iframe", "<img", "src=", "@import", "url(", "//cdn",
    ] {
        if let Some(at) = lower.find(bad) {
            problems.push(format!(
                "external reference {bad:?} at byte {at}: {:?}",
                snippet(html, at)
            ));
        }
    }
    for (at, _) in lower.match_indices("href=\"") {
        if !lower[at + 6..].starts_with('#') {
            problems.push(format!(
                "link that leaves the page at byte {at}: {:?}",
                snippet(html, at)
            ));
        }
    }
    if page.len() > MAX_REPORT_BYTES {
        problems.push(format!(
            "{} bytes, over the {MAX_REPORT_BYTES}-byte limit",
            page.len()
        ));
    }
    problems.extend(nesting(html));
    for need in ["<!DOCTYPE html>", "<html", "<head>", "<title>", "<body>"] {
        if !html.contains(need) {
            problems.push(format!("no {need}"));
        }
    }
    problems.extend(figures(html));
    problems
}

fn snippet(html: &str, at: usize) -> String {
    html[at..].chars().take(60).collect()
}

/// Tags must close in the order they opened (void and self-closing elements aside).
fn nesting(html: &str) -> Vec<String> {
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut problems = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let at = i + off;
        let Some(end) = html[at..].find('>').map(|e| at + e) else {
            problems.push(format!("unclosed '<' at byte {at}"));
            break;
        };
        let tag = &html[at + 1..end];
        i = end + 1;
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match stack.pop() {
                Some((open, _)) if open == name => {}
                Some((open, pos)) => {
                    problems.push(format!(
                        "</{name}> at byte {at} closes <{open}> opened at byte {pos}"
                    ));
                    break;
                }
                None => {
                    problems.push(format!("</{name}> at byte {at} closes nothing"));
                    break;
                }
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            problems.push(format!("bad tag at byte {at}: {:?}", snippet(html, at)));
            break;
        }
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "style" {
            // CSS is not markup: skip to its end tag.
            match html[i..].find("</style>") {
                Some(e) => i += e + "</style>".len(),
                None => problems.push("<style> never closed".into()),
            }
            continue;
        }
        stack.push((name, at));
    }
    for (open, pos) in stack {
        problems.push(format!("<{open}> opened at byte {pos} is never closed"));
    }
    problems
}

/// The trimmed contents of every SVG `<text>` element in `body`.
fn svg_texts(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (at, _) in body.match_indices("<text") {
        let Some(open_end) = body[at..].find('>').map(|e| at + e + 1) else {
            break;
        };
        let Some(len) = body[open_end..].find("</text>") else {
            break;
        };
        out.push(body[open_end..open_end + len].trim());
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

/// Every `<figure>` names its title and axis labels (`data-*` attributes) and its SVG draws
/// each of them as text; at least one axis has a unit in parentheses.
fn figures(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut n = 0;
    for (at, _) in html.match_indices("<figure") {
        n += 1;
        let open_end = html[at..].find('>').map_or(html.len(), |e| at + e);
        let open = &html[at..open_end];
        let body_end = html[at..].find("</figure>").map_or(html.len(), |e| at + e);
        let body = &html[open_end..body_end];
        let id = attr(open, "id").unwrap_or_else(|| format!("at byte {at}"));
        if !body.contains("<svg") || !body.contains("</svg>") {
            problems.push(format!("figure {id}: no inline SVG"));
        }
        let texts = svg_texts(body);
        let mut with_unit = false;
        for key in ["data-title", "data-x-label", "data-y-label"] {
            let Some(value) = attr(open, key).filter(|v| !v.trim().is_empty()) else {
                problems.push(format!("figure {id}: no {key}"));
                continue;
            };
            for part in value.split("; ") {
                if !texts.contains(&part) {
                    problems.push(format!(
                        "figure {id}: {key} {part:?} is not drawn in the SVG"
                    ));
                }
                if key != "data-title" && part.contains('(') && part.ends_with(')') {
                    with_unit = true;
                }
            }
        }
        if !with_unit {
            problems.push(format!("figure {id}: no axis with a unit in parentheses"));
        }
    }
    if n == 0 {
        problems.push("no figures".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> String {
        format!(
            "<!DOCTYPE html>\n<html><head><title>t</title><style>a>b{{}}</style></head><body>{body}</body></html>"
        )
    }

    const FIG: &str = r#"<figure id="f" data-title="T" data-x-label="x (s)" data-y-label="y"><svg><text>T</text><text>x (s)</text><text>y</text></svg></figure>"#;

    #[test]
    fn a_clean_page_passes() {
        assert_eq!(audit(&page(FIG)), Vec::<String>::new());
    }

    #[test]
    fn external_references_are_caught() {
        let p = page(&format!("{FIG}<a href=\"https://example.org\">x</a>"));
        let problems = audit(&p);
        assert!(
            problems.iter().any(|m| m.contains("https://")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|m| m.contains("leaves the page")),
            "{problems:?}"
        );
        assert!(!audit(&page(&format!("{FIG}<img src=\"a.png\">"))).is_empty());
    }

    #[test]
    fn bad_nesting_and_missing_labels_are_caught() {
        let problems = audit(&page(&format!("{FIG}<section><div></section></div>")));
        assert!(
            problems.iter().any(|m| m.contains("closes <div>")),
            "{problems:?}"
        );
        let unlabelled = FIG.replace("<text>x (s)</text>", "");
        let problems = audit(&page(&unlabelled));
        assert_eq!(
            problems,
            vec!["figure f: data-x-label \"x (s)\" is not drawn in the SVG".to_string()]
        );
        let no_unit = FIG.replace("x (s)", "x");
        assert_eq!(
            audit(&page(&no_unit)),
            vec!["figure f: no axis with a unit in parentheses".to_string()]
        );
    }

    #[test]
    fn size_limit_is_enforced() {
        let big = page(&format!("{FIG}<p>{}</p>", "a".repeat(MAX_REPORT_BYTES)));
        assert!(audit(&big).iter().any(|m| m.contains("limit")));
    }
}
