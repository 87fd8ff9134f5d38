//! Where every node of a YAML document is: field path → line and column, built from the
//! parser's event stream (aliases are not expanded, so this cannot blow up).

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser};

use crate::error::{FieldPath, Location};

/// Deeper nodes than this are not indexed (they still parse; lookups fall back to an ancestor).
const MAX_INDEXED_DEPTH: usize = 128;
/// Stop indexing after this many events (serde-saphyr's own budget rejects larger inputs).
const MAX_EVENTS: usize = 1_000_000;

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// A mapping.
    Map,
    /// A sequence.
    Seq,
    /// A scalar with its text and whether it was quoted.
    Scalar { text: String, quoted: bool },
    /// An alias (`*name`), not expanded.
    Alias,
}

impl NodeKind {
    /// A short description for error messages: `a mapping`, `` `abc` `` …
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Map => "a mapping".to_owned(),
            Self::Seq => "a sequence".to_owned(),
            Self::Alias => "an alias".to_owned(),
            Self::Scalar { text, quoted } => {
                let shown: String = text.chars().take(60).collect();
                let more = if text.chars().count() > 60 { "…" } else { "" };
                if text.is_empty() && !quoted {
                    "an empty value".to_owned()
                } else {
                    format!("`{shown}{more}`")
                }
            }
        }
    }
}

/// One indexed node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) path: FieldPath,
    /// The location of the mapping key naming this node, when it is a mapping value.
    pub(crate) key_location: Option<Location>,
    /// The location where the node's value starts.
    pub(crate) location: Location,
    pub(crate) kind: NodeKind,
    pub(crate) parent: Option<usize>,
    /// The key text, when this node is a mapping value.
    pub(crate) key: Option<String>,
}

/// Field path → location index of one YAML document.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    nodes: Vec<Node>,
    by_path: HashMap<FieldPath, usize>,
}

enum Frame {
    Map {
        idx: Option<usize>,
        path: FieldPath,
        expecting_key: bool,
        pending_key: Option<(String, Location)>,
    },
    Seq {
        idx: Option<usize>,
        path: FieldPath,
        next: usize,
    },
    /// Inside a complex (non-scalar) mapping key; counts open collections.
    SkipKey { open: usize },
}

fn loc(m: &serde_saphyr::granit_parser::Marker) -> Location {
    Location {
        line: m.line() as u64,
        column: m.col() as u64 + 1,
    }
}

impl SourceMap {
    /// Indexes the first document of `src`. Stops quietly at a syntax error (the deserializer
    /// reports it) and never panics.
    pub(crate) fn build(src: &str) -> Self {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut seen_root = false;
        let mut parser = Parser::new_from_str(src);
        let mut events = 0usize;
        while let Some(next) = parser.next_event() {
            events += 1;
            if events > MAX_EVENTS {
                break;
            }
            let Ok((event, span)) = next else { break };
            let at = loc(&span.start);
            let (opens, closes, kind) = match &event {
                Event::MappingStart(..) => (true, false, Some(NodeKind::Map)),
                Event::SequenceStart(..) => (true, false, Some(NodeKind::Seq)),
                Event::Scalar(text, style, ..) => (
                    false,
                    false,
                    Some(NodeKind::Scalar {
                        text: text.to_string(),
                        quoted: !matches!(style, serde_saphyr::granit_parser::ScalarStyle::Plain),
                    }),
                ),
                Event::Alias(..) => (false, false, Some(NodeKind::Alias)),
                Event::MappingEnd | Event::SequenceEnd => (false, true, None),
                Event::DocumentEnd if seen_root => break,
                _ => (false, false, None),
            };
            if closes {
                match stack.last_mut() {
                    Some(Frame::SkipKey { open }) => {
                        *open -= 1;
                        if *open == 0 {
                            stack.pop();
                        }
                    }
                    Some(_) => {
                        stack.pop();
                    }
                    None => {}
                }
                continue;
            }
            let Some(kind) = kind else { continue };

            // Inside a complex key: only track nesting.
            if let Some(Frame::SkipKey { open }) = stack.last_mut() {
                if opens {
                    *open += 1;
                }
                continue;
            }
            // A mapping key?
            if let Some(Frame::Map {
                expecting_key,
                pending_key,
                ..
            }) = stack.last_mut()
                && *expecting_key
            {
                *expecting_key = false;
                match kind {
                    NodeKind::Scalar { text, .. } => *pending_key = Some((text, at)),
                    _ => {
                        *pending_key = Some(("<complex key>".to_owned(), at));
                        if opens {
                            stack.push(Frame::SkipKey { open: 1 });
                        }
                    }
                }
                continue;
            }
            // A value: work out its path.
            let (path, parent, key, key_location) = match stack.last_mut() {
                None => {
                    if seen_root {
                        break;
                    }
                    seen_root = true;
                    (FieldPath::root(), None, None, None)
                }
                Some(Frame::Map {
                    idx,
                    path,
                    expecting_key,
                    pending_key,
                }) => {
                    *expecting_key = true;
                    let (k, kl) = pending_key
                        .take()
                        .unwrap_or_else(|| ("<missing key>".to_owned(), at));
                    (path.key(&k), *idx, Some(k), Some(kl))
                }
                Some(Frame::Seq { idx, path, next }) => {
                    let p = path.index(*next);
                    *next += 1;
                    (p, *idx, None, None)
                }
                Some(Frame::SkipKey { .. }) => continue,
            };
            let idx = if path.depth() <= MAX_INDEXED_DEPTH {
                let i = map.nodes.len();
                map.by_path.entry(path.clone()).or_insert(i);
                map.nodes.push(Node {
                    path: path.clone(),
                    key_location,
                    location: at,
                    kind: kind.clone(),
                    parent,
                    key,
                });
                Some(i)
            } else {
                None
            };
            if opens {
                match kind {
                    NodeKind::Map => stack.push(Frame::Map {
                        idx,
                        path,
                        expecting_key: true,
                        pending_key: None,
                    }),
                    _ => stack.push(Frame::Seq { idx, path, next: 0 }),
                }
            }
        }
        map
    }

    /// The node at exactly `path`.
    pub(crate) fn get(&self, path: &FieldPath) -> Option<&Node> {
        self.by_path.get(path).map(|&i| &self.nodes[i])
    }

    /// The node at `path`, or its nearest indexed ancestor.
    pub(crate) fn nearest(&self, path: &FieldPath) -> Option<&Node> {
        let mut p = path.clone();
        loop {
            if let Some(n) = self.get(&p) {
                return Some(n);
            }
            if p.is_root() {
                return None;
            }
            p = p.parent();
        }
    }

    /// Where the value at `path` starts (or its nearest ancestor).
    pub(crate) fn locate(&self, path: &FieldPath) -> Option<Location> {
        self.nearest(path).map(|n| n.location)
    }

    /// Where the key naming the value at `path` is (falls back to [`Self::locate`]).
    pub(crate) fn locate_key(&self, path: &FieldPath) -> Option<Location> {
        match self.get(path) {
            Some(n) => n.key_location.or(Some(n.location)),
            None => self.locate(path),
        }
    }

    /// The keys of the mapping at `path`, in document order.
    pub(crate) fn keys(&self, path: &FieldPath) -> Vec<&str> {
        let Some(&parent) = self.by_path.get(path) else {
            return Vec::new();
        };
        self.nodes
            .iter()
            .filter(|n| n.parent == Some(parent))
            .filter_map(|n| n.key.as_deref())
            .collect()
    }

    /// The text of the scalar at `path`, if it is a scalar.
    pub(crate) fn scalar(&self, path: &FieldPath) -> Option<&str> {
        match &self.get(path)?.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The deepest node whose value starts at `at`, or whose key is at `at`.
    pub(crate) fn at_location(&self, at: Location) -> Option<&Node> {
        self.nodes
            .iter()
            .rev()
            .find(|n| n.location == at)
            .or_else(|| self.nodes.iter().rev().find(|n| n.key_location == Some(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys and values of nested mappings and sequences get their own paths and positions.
    #[test]
    fn indexes_paths_and_locations() {
        let src = "a:\n  b: [1, 2]\n  c: x\nlist:\n  - name: y\n";
        let m = SourceMap::build(src);
        let p = |s: &str| {
            let mut fp = FieldPath::root();
            for part in s.split('.') {
                if let Ok(i) = part.parse::<usize>() {
                    fp = fp.index(i);
                } else {
                    fp = fp.key(part);
                }
            }
            fp
        };
        assert_eq!(m.locate(&p("a.b")), Some(Location { line: 2, column: 6 }));
        assert_eq!(
            m.locate_key(&p("a.b")),
            Some(Location { line: 2, column: 3 })
        );
        assert_eq!(
            m.locate(&p("a.b.1")),
            Some(Location {
                line: 2,
                column: 10
            })
        );
        assert_eq!(m.scalar(&p("a.c")), Some("x"));
        assert_eq!(
            m.locate(&p("list.0.name")),
            Some(Location {
                line: 5,
                column: 11
            })
        );
        assert_eq!(m.keys(&FieldPath::root()), vec!["a", "list"]);
        // unknown paths fall back to the nearest ancestor
        assert_eq!(m.locate(&p("a.zzz")), m.locate(&p("a")));
    }

    /// Complex keys, aliases, several documents and broken input do not confuse the index.
    #[test]
    fn odd_input_is_indexed_without_panicking() {
        let m = SourceMap::build("? [a, b]\n: 1\nx: &a {k: v}\ny: *a\n");
        assert_eq!(m.keys(&FieldPath::root()), vec!["<complex key>", "x", "y"]);
        assert_eq!(
            m.get(&FieldPath::root().key("y")).map(|n| &n.kind),
            Some(&NodeKind::Alias)
        );
        let m = SourceMap::build("a: 1\n---\nb: 2\n");
        assert_eq!(m.keys(&FieldPath::root()), vec!["a"]);
        let m = SourceMap::build("a: [1, 2\n");
        assert!(m.get(&FieldPath::root().key("a")).is_some());
        assert!(SourceMap::build("").get(&FieldPath::root()).is_none());
    }
}
