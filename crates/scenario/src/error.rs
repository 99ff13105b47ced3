//! Scenario errors and where they are: every error names the file, the line and the key
//! (`scenario.toml:12: workloads.earth_observation.deadline_s: must be positive, found -5`).
//!
//! Values are checked after serde has read the file, so the line of a bad value is found by
//! looking its key path up in a spanned parse of the same text ([`Locator`]).

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// A scenario that cannot be used: which file, which line, which key, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ScenarioError {
    /// The file as the user named it (the scenario, or a file it refers to).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path (`workloads.earth_observation.deadline_s`, `ground_stations[2].name`)
    /// or, for CSV files, the column name.
    pub key: String,
    pub message: String,
}

impl ScenarioError {
    fn render(&self) -> String {
        let mut s = self.file.clone();
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
        }
        if !self.key.is_empty() {
            s.push_str(&format!(": {}", self.key));
        }
        s.push_str(&format!(": {}", self.message));
        s
    }
}

/// A setting given outside a scenario file (a command-line override, a policy name) that
/// cannot be used. Inside a file the same checks become a [`ScenarioError`] at the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingError {
    #[error("horizon {horizon_h} h: expected more than 0 and at most {max_h} h")]
    Horizon { horizon_h: f64, max_h: f64 },
    #[error("unknown policy {name:?}: expected one of {}", known.join(", "))]
    UnknownPolicy {
        name: String,
        known: &'static [&'static str],
    },
}

/// 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// One step of a key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A key path such as `workloads.earth_observation.targets[1].lat_min_deg`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path with `key` appended.
    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(key.to_string()));
        p
    }

    /// This path with an array index appended.
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

impl std::fmt::Display for KeyPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// An entry under a table or array: its key (or index), value and key span.
type Child<'v, 'i> = (Seg, &'v toml::Spanned<DeValue<'i>>, Option<Range<usize>>);

/// Finds the line of a key path, or of a byte offset's key, in the scenario text.
pub struct Locator<'a> {
    pub file: String,
    text: &'a str,
    root: Option<DeTable<'a>>,
}

impl<'a> Locator<'a> {
    pub fn new(file: &str, text: &'a str) -> Self {
        let root = DeTable::parse(text).ok().map(|t| t.into_inner());
        Locator {
            file: file.to_string(),
            text,
            root,
        }
    }

    /// The span of the deepest existing key along `path` (the key itself for tables, the
    /// element for arrays).
    fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let root = self.root.as_ref()?;
        let mut best: Option<Range<usize>> = None;
        let mut table: Option<&DeTable<'a>> = Some(root);
        let mut array: Option<&[toml::Spanned<DeValue<'a>>]> = None;
        for seg in &path.0 {
            let value = match seg {
                Seg::Key(k) => {
                    let (key, value) = table?.get_key_value(k.as_str())?;
                    best = Some(key.span());
                    value
                }
                Seg::Index(i) => {
                    let value = array?.get(*i)?;
                    best = Some(value.span());
                    value
                }
            };
            table = value.get_ref().as_table();
            array = value.get_ref().as_array().map(|a| &a[..]);
        }
        best
    }

    /// An error at `path` (the line of its key, or of the closest existing parent).
    pub fn error(&self, path: &KeyPath, message: impl Into<String>) -> ScenarioError {
        let mut p = path.clone();
        let mut span = None;
        while span.is_none() && !p.0.is_empty() {
            span = self.span_of(&p);
            if span.is_none() {
                p.0.pop();
            }
        }
        ScenarioError {
            file: self.file.clone(),
            line: span.map(|s| line_of(self.text, s.start)),
            key: path.to_string(),
            message: message.into(),
        }
    }

    /// The key path whose key or value span holds `offset` (deepest match). Table spans
    /// cover only their header, so the whole tree is searched.
    pub fn path_at(&self, offset: usize) -> KeyPath {
        fn walk(value: &DeValue<'_>, offset: usize, path: &mut KeyPath) -> bool {
            let children: Vec<Child<'_, '_>> = match value {
                DeValue::Table(t) => t
                    .iter()
                    .map(|(k, v)| (Seg::Key(k.get_ref().to_string()), v, Some(k.span())))
                    .collect(),
                DeValue::Array(a) => a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Seg::Index(i), v, None))
                    .collect(),
                _ => return false,
            };
            for (seg, v, key_span) in children {
                path.0.push(seg);
                if walk(v.get_ref(), offset, path)
                    || key_span.is_some_and(|s| s.contains(&offset))
                    || v.span().contains(&offset)
                {
                    return true;
                }
                path.0.pop();
            }
            false
        }
        let mut path = KeyPath::root();
        if let Some(root) = &self.root {
            walk(&DeValue::Table(root.clone()), offset, &mut path);
        }
        path
    }

    /// A serde/TOML error from reading this text, with its line and key.
    pub fn from_toml(&self, e: &toml::de::Error) -> ScenarioError {
        let message = e.message().trim().replace('\n', " ");
        let Some(span) = e.span() else {
            return ScenarioError {
                file: self.file.clone(),
                line: None,
                key: String::new(),
                message,
            };
        };
        let mut key = self.path_at(span.start);
        // An unknown field's span is the key itself: name it even though serde could not.
        if let Some(unknown) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
            && key.0.last() != Some(&Seg::Key(unknown.to_string()))
        {
            key = key.key(unknown);
        }
        ScenarioError {
            file: self.file.clone(),
            line: Some(line_of(self.text, span.start)),
            key: key.to_string(),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[run]\nseed = 1\n\n[workloads.eo]\ndeadline_s = -5\n\n[[targets]]\nname = \"a\"\n[[targets]]\nname = \"b\"\nlat = 3\n";

    #[test]
    fn paths_resolve_to_lines() {
        let loc = Locator::new("s.toml", TEXT);
        let p = KeyPath::root().key("workloads").key("eo").key("deadline_s");
        let e = loc.error(&p, "must be positive, found -5");
        assert_eq!(
            e.to_string(),
            "s.toml:5: workloads.eo.deadline_s: must be positive, found -5"
        );
        let p = KeyPath::root().key("targets").index(1).key("lat");
        assert_eq!(loc.error(&p, "x").line, Some(11));
        // A missing key falls back to its closest parent.
        let p = KeyPath::root().key("run").key("horizon_h");
        assert_eq!(loc.error(&p, "x").line, Some(1));
    }

    #[test]
    fn offsets_resolve_to_paths() {
        let loc = Locator::new("s.toml", TEXT);
        let offset = TEXT.find("deadline_s").unwrap();
        assert_eq!(loc.path_at(offset).to_string(), "workloads.eo.deadline_s");
        let offset = TEXT.find("lat").unwrap();
        assert_eq!(loc.path_at(offset).to_string(), "targets[1].lat");
        assert_eq!(line_of(TEXT, offset), 11);
    }
}
