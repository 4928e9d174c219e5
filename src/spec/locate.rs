//! Line and column of every node of a YAML document, by YAML path.
//!
//! serde gives positions only for its own errors; the checks that run on the
//! model later still need to point at the line, so the document is indexed
//! once, from the parser's events.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column.
pub type LineCol = (usize, usize);

/// Positions (1-based line, column) of keys and values, keyed by YAML path
/// (`steps[1].params.title`, root is the empty string).
#[derive(Debug, Default)]
pub struct Positions {
    values: HashMap<String, (usize, usize)>,
    keys: HashMap<String, (usize, usize)>,
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
    pub fn value(&self, path: &str) -> Option<(usize, usize)> {
        self.values.get(path).copied()
    }

    /// Where the key of the mapping entry at `path` is, else its value.
    pub fn key(&self, path: &str) -> Option<(usize, usize)> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
}

enum Frame {
    Seq {
        path: String,
        next: usize,
    },
    Map {
        path: String,
        key: Option<String>,
        seen: HashMap<String, (usize, usize)>,
        /// Block mappings are reported at their `:`; the first key is where they start.
        first: bool,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    positions: Positions,
}

pub fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

impl Builder {
    /// The path of the node that starts now, or `None` when it is a map key.
    fn next_path(&mut self, scalar: Option<&str>, mark: (usize, usize)) -> Option<String> {
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
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = (marker.line(), marker.col() + 1);
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
            Event::SequenceStart(..) => {
                let path = self.next_path(None, mark).unwrap_or_default();
                self.positions.values.insert(path.clone(), mark);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingStart(..) => {
                let path = self.next_path(None, mark).unwrap_or_default();
                self.positions.values.insert(path.clone(), mark);
                self.stack.push(Frame::Map {
                    path,
                    key: None,
                    seen: HashMap::new(),
                    first: true,
                });
            }
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

    #[test]
    fn indexes_keys_and_values() {
        let p = Positions::index("version: 1\nsteps:\n  - id: a\n    params:\n      x: 1\n");
        assert_eq!(p.value("version"), Some((1, 10)));
        assert_eq!(p.key("steps[0].params.x"), Some((5, 7)));
        assert_eq!(p.value("steps[0].params.x"), Some((5, 10)));
        assert_eq!(p.value("steps[0].id"), Some((3, 9)));
        assert_eq!(p.value("steps[0]"), Some((3, 5)));
        assert!(p.duplicates.is_empty());
    }

    #[test]
    fn finds_keys_written_twice() {
        let p = Positions::index("vars:\n  a: 1\n  a: 2\n");
        assert_eq!(p.duplicates, vec![("vars.a".to_string(), (2, 3), (3, 3))]);
    }
}
