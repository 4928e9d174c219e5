//! The text of every spec file read, and the line and column of its nodes.
//!
//! Positions are found lazily: only a diagnostic needs one, so a file that
//! loads cleanly is parsed once (by serde) and never indexed. The index is
//! built from `yaml-rust2`'s events, keyed by YAML path
//! (`steps[1].params.title`; the root is the empty string).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column. Ordered by line, then column: the earlier
/// of two places is the smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

/// One file's text, as read.
pub struct File {
    /// The file, as the user named it (relative paths stay relative).
    pub name: String,
    text: String,
    /// Whether the file parsed as a spec (a mapping with `version`). Lines
    /// of other files are never shown: an included `.env` must not print.
    is_spec: bool,
    positions: OnceLock<Positions>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "File({})", self.name)
    }
}

impl File {
    pub fn new(name: impl Into<String>, text: String, is_spec: bool) -> Arc<File> {
        Arc::new(File {
            name: name.into(),
            text,
            is_spec,
            positions: OnceLock::new(),
        })
    }

    /// A file known only by name (the command line, a file that could not be read).
    pub fn named(name: impl Into<String>) -> Arc<File> {
        File::new(name, String::new(), false)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_spec(&self) -> bool {
        self.is_spec
    }

    pub fn positions(&self) -> &Positions {
        self.positions.get_or_init(|| Positions::index(&self.text))
    }

    /// Line `n` (1-based), if this file's lines may be shown.
    pub fn line(&self, n: usize) -> Option<&str> {
        if !self.is_spec || n == 0 {
            return None;
        }
        self.text.lines().nth(n - 1)
    }
}

/// Positions of keys and values by YAML path.
#[derive(Debug, Default)]
pub struct Positions {
    values: HashMap<String, LineCol>,
    keys: HashMap<String, LineCol>,
    /// Keys written twice in one mapping: (path, first position, second position).
    pub duplicates: Vec<(String, LineCol, LineCol)>,
}

impl Positions {
    /// Indexes `source`; a document the parser rejects yields an empty index
    /// (serde reports that error with its own position).
    pub fn index(source: &str) -> Positions {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(source);
        if parser.load(&mut builder, false).is_err() {
            return Positions::default();
        }
        builder.positions
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &str) -> Option<LineCol> {
        self.values.get(path).copied()
    }

    /// Where the key of the mapping entry at `path` is, else its value.
    pub fn key(&self, path: &str) -> Option<LineCol> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
}

/// `parent.key`, or `key` at the root.
pub(crate) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

enum Frame {
    Seq {
        path: String,
        next: usize,
    },
    Map {
        path: String,
        key: Option<String>,
        seen: HashMap<String, LineCol>,
        /// Block mappings are reported at their `:`; the first key is where they start.
        first: bool,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    positions: Positions,
}

impl Builder {
    /// The path of the node that starts now, or `None` when it is a map key.
    fn next_path(&mut self, scalar: Option<&str>, mark: LineCol) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                Some(item(path, *next - 1))
            }
            Some(Frame::Map {
                path,
                key,
                seen,
                first,
            }) => match key.take() {
                Some(k) => Some(child(path, &k)),
                None => {
                    let k = scalar.unwrap_or("?").to_string();
                    let full = child(path, &k);
                    if std::mem::take(first) {
                        let start = self.positions.values.entry(path.clone()).or_insert(mark);
                        *start = (*start).min(mark);
                    }
                    if let Some(earlier) = seen.insert(k.clone(), mark) {
                        self.positions
                            .duplicates
                            .push((full.clone(), earlier, mark));
                    }
                    self.positions.keys.entry(full).or_insert(mark);
                    *key = Some(k);
                    None
                }
            },
        }
    }

    fn open(&mut self, seq: bool, mark: LineCol) {
        let path = self.next_path(None, mark).unwrap_or_default();
        self.positions.values.insert(path.clone(), mark);
        self.stack.push(if seq {
            Frame::Seq { path, next: 0 }
        } else {
            Frame::Map {
                path,
                key: None,
                seen: HashMap::new(),
                first: true,
            }
        });
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = LineCol {
            line: marker.line(),
            col: marker.col() + 1,
        };
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(path) = self.next_path(Some(&value), mark) {
                    self.positions.values.insert(path, mark);
                }
            }
            Event::Alias(_) => {
                if let Some(path) = self.next_path(None, mark) {
                    self.positions.values.insert(path, mark);
                }
            }
            Event::SequenceStart(..) => self.open(true, mark),
            Event::MappingStart(..) => self.open(false, mark),
            Event::SequenceEnd | Event::MappingEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, col: usize) -> LineCol {
        LineCol { line, col }
    }

    #[test]
    fn indexes_keys_and_values() {
        let p = Positions::index("version: 1\nsteps:\n  - id: a\n    params:\n      x: 1\n");
        assert_eq!(p.value("version"), Some(at(1, 10)));
        assert_eq!(p.key("steps[0].params.x"), Some(at(5, 7)));
        assert_eq!(p.value("steps[0].params.x"), Some(at(5, 10)));
        assert_eq!(p.value("steps[0].id"), Some(at(3, 9)));
        assert_eq!(p.value("steps[0]"), Some(at(3, 5)));
        assert!(p.duplicates.is_empty());
    }

    #[test]
    fn finds_keys_written_twice() {
        let p = Positions::index("vars:\n  a: 1\n  a: 2\n");
        assert_eq!(
            p.duplicates,
            vec![("vars.a".to_string(), at(2, 3), at(3, 3))]
        );
    }

    #[test]
    fn lines_of_files_that_are_not_specs_are_never_shown() {
        let env = File::new(".env", "TOKEN=abc".into(), false);
        assert_eq!(env.line(1), None);
        let spec = File::new("s.yaml", "version: 1\nvars: {}".into(), true);
        assert_eq!(spec.line(2), Some("vars: {}"));
    }
}
