//! The HTML around the figures: one self-contained page with inline CSS (light and dark
//! themes by `prefers-color-scheme`), no script and no external reference of any kind.

use crate::charts::Figure;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Page style. The chart SVGs use sentinel colours (see `charts.rs`) restyled here, so
/// one SVG reads on both themes; policy colours are mid-tones that read on both.
const CSS: &str = r##"
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1b1f24;--muted:#57606a;--rule:#d0d7de;--card:#f6f8fa;--ocean:#ddebf7;--land:#e4dccb}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--rule:#30363d;--card:#161b22;--ocean:#132536;--land:#3b3a33}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.6rem;margin:.5rem 0 .25rem}h2{font-size:1.25rem;margin:2rem 0 .5rem;padding-top:.5rem;border-top:1px solid var(--rule)}
p.sub,.note,figcaption{color:var(--muted)}
nav{font-size:.9rem;margin:.5rem 0 1rem}nav a{color:inherit;margin-right:1rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid var(--rule);padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{border-bottom:2px solid var(--rule)}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:.35em;vertical-align:-.05em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}
.cols{display:flex;flex-wrap:wrap;gap:2rem;align-items:flex-start}
table.kv td{text-align:left}
details summary{cursor:pointer;margin:.5rem 0}
table.lines th,table.lines td{text-align:left}
table.lines td:nth-child(4){text-align:right}
figure{margin:1rem 0;padding:.5rem;background:var(--card);border:1px solid var(--rule);border-radius:6px}
figure svg{display:block;width:100%;height:auto}
figure svg text{fill:var(--fg)}
figure svg [stroke="#000000"]{stroke:var(--fg)}
figure svg [fill="#FFFFFF"]{fill:var(--card)}
figure svg [fill="#DDEBF7"]{fill:var(--ocean)}
figure svg [fill="#E4DCCB"]{fill:var(--land)}
figcaption{font-size:.85rem;margin-top:.25rem}
.note{border-left:3px solid var(--rule);padding:.25rem .75rem;margin:.5rem 0}
"##;

/// A page under construction.
pub struct Page {
    title: String,
    subtitle: String,
    toc: Vec<(String, String)>,
    body: String,
}

impl Page {
    pub fn new(title: &str, subtitle: &str) -> Page {
        Page {
            title: title.to_string(),
            subtitle: subtitle.to_string(),
            toc: Vec::new(),
            body: String::new(),
        }
    }

    /// Starts a section with a heading (listed in the table of contents).
    pub fn section(&mut self, id: &str, heading: &str) {
        if !self.toc.is_empty() {
            self.body.push_str("</section>\n");
        }
        self.toc.push((id.to_string(), heading.to_string()));
        self.body.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n",
            escape(id),
            escape(heading)
        ));
    }

    /// Raw HTML (the caller escapes).
    pub fn html(&mut self, html: &str) {
        self.body.push_str(html);
        self.body.push('\n');
    }

    /// A sentence saying what is missing or how to read something.
    pub fn note(&mut self, text: &str) {
        self.body
            .push_str(&format!("<p class=\"note\">{}</p>\n", escape(text)));
    }

    pub fn figure(&mut self, f: &Figure) {
        self.body.push_str(&figure_html(f));
    }

    /// Figures side by side where the screen allows.
    pub fn grid(&mut self, figures: &[Figure]) {
        self.body.push_str("<div class=\"grid\">\n");
        for f in figures {
            self.body.push_str(&figure_html(f));
        }
        self.body.push_str("</div>\n");
    }

    pub fn finish(mut self) -> String {
        if !self.toc.is_empty() {
            self.body.push_str("</section>\n");
        }
        let nav: String = self
            .toc
            .iter()
            .map(|(id, h)| format!("<a href=\"#{}\">{}</a>", escape(id), escape(h)))
            .collect();
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light dark\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n<nav>{nav}</nav>\n{}</main>\n</body>\n</html>\n",
            escape(&self.title),
            escape(&self.title),
            escape(&self.subtitle),
            self.body
        )
    }
}

fn figure_html(f: &Figure) -> String {
    let svg = f.svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(&f.title)),
        1,
    );
    format!(
        "<figure id=\"fig-{}\" data-title=\"{}\" data-x-label=\"{}\" data-y-label=\"{}\">\n{}<figcaption>{}</figcaption>\n</figure>\n",
        escape(&f.id),
        escape(&f.title),
        escape(&f.x_label),
        escape(&f.y_label),
        svg,
        escape(&f.caption)
    )
}

/// A table: header cells and rows of already-escaped HTML cells.
pub fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table>\n<thead><tr>");
    for h in header {
        s.push_str(&format!("<th>{h}</th>"));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{c}</td>"));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
