//! A fast reader for the plain YAML that SLO files are written in: block mappings with
//! identifier keys, block sequences, one-line flow sequences and mappings, plain and quoted
//! one-line scalars, comments. It reads a 10,000-objective SLO about ten times faster than the
//! general YAML parser.
//!
//! It is only ever a shortcut: [`from_str`] returns `None` as soon as the text uses anything
//! outside that subset (anchors, tags, block scalars, escapes, multi-line scalars, tabs, CR,
//! duplicate keys, plain scalars whose YAML type could be read two ways such as `yes`, `0x10`
//! or `.inf`) or the model rejects the value; the caller then parses with the general parser,
//! which also gives the located error. Where it answers, its value is the general parser's
//! (property-tested in `tests`).

use serde::de::value::{BorrowedStrDeserializer, Error as DeError};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};

/// Reads `src` as a `T` if it is within the subset and `T` accepts it; `None` otherwise.
pub(crate) fn from_str<T: DeserializeOwned>(src: &str) -> Option<T> {
    let node = Parser::new(src)?.document()?;
    T::deserialize(node).ok()
}

/// The YAML type of a plain scalar, decided the one way the subset allows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Null,
    Bool(bool),
    Int,
    Float,
    Str,
}

#[derive(Debug, PartialEq)]
enum Node<'a> {
    Plain(&'a str, Kind),
    Quoted(&'a str),
    Seq(Vec<Node<'a>>),
    Map(Vec<(&'a str, Node<'a>)>),
}

const NULL: Node<'static> = Node::Plain("", Kind::Null);

/// Deeper nesting (block or flow) is left to the general parser and its budgets: the reader
/// recurses, and hostile documents must not exhaust the stack.
const MAX_DEPTH: usize = 32;

/// One line with content: its indentation and its text without the indentation and trailing
/// spaces (a trailing comment is still there).
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    depth: usize,
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Whether what follows a value on its line is nothing or a comment.
fn only_comment(rest: &str) -> bool {
    rest.is_empty() || (rest.starts_with(' ') && rest.trim_start_matches(' ').starts_with('#'))
}

/// `key:` at the start of `text` (an identifier followed by `:` and a space or the end): the
/// key and what follows the colon.
fn key_of(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    if !b
        .first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    let mut i = 1;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'-' | b'.')) {
        i += 1;
    }
    if b.get(i) == Some(&b':') && (i + 1 == b.len() || b[i + 1] == b' ') {
        Some((&text[..i], &text[i + 1..]))
    } else {
        None
    }
}

fn is_int(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s).as_bytes();
    match d {
        [b'0'] => true,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

fn is_float(s: &str) -> bool {
    s.split_once('.')
        .is_some_and(|(i, f)| is_int(i) && !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()))
}

/// The kind of a plain scalar, `None` when the subset does not decide it.
fn classify(s: &str) -> Option<Kind> {
    Some(match s {
        "null" | "~" => Kind::Null,
        "true" => Kind::Bool(true),
        "false" => Kind::Bool(false),
        _ if is_int(s) => Kind::Int,
        _ if is_float(s) => Kind::Float,
        _ => {
            let lower = s.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "yes" | "no" | "on" | "off" | "y" | "n" | "true" | "false" | "null" | "nan" | "inf"
            ) {
                return None;
            }
            let first = *s.as_bytes().first()?;
            if first.is_ascii_digit() {
                // Only a percentage such as `90%` or `12.5%`.
                let number = s.strip_suffix('%')?;
                if !(is_int(number) || is_float(number)) {
                    return None;
                }
            } else if matches!(first, b'-' | b'+' | b'.') {
                return None;
            }
            Kind::Str
        }
    })
}

/// A plain scalar: in a flow collection up to `,`, `]` or `}`; in a block to the end of the line
/// (without a trailing comment).
fn plain(text: &str, in_flow: bool) -> Option<(Node<'_>, &str)> {
    let (value, rest) = if in_flow {
        let end = text.find([',', ']', '}']).unwrap_or(text.len());
        let value = text[..end].trim_end_matches(' ');
        if value.contains([':', '[', '{']) {
            return None;
        }
        (value, &text[end..])
    } else {
        let end = text.find(" #").unwrap_or(text.len());
        let value = text[..end].trim_end_matches(' ');
        if value.contains(": ") || value.ends_with(':') {
            return None;
        }
        (value, "")
    };
    if value.is_empty() || value.contains('#') {
        return None;
    }
    Some((Node::Plain(value, classify(value)?), rest))
}

/// A value on one line; what follows it.
fn inline(text: &str, in_flow: bool, depth: usize) -> Option<(Node<'_>, &str)> {
    match *text.as_bytes().first()? {
        b'"' => {
            let end = text[1..].find('"')? + 1;
            let s = &text[1..end];
            if s.contains('\\') {
                return None;
            }
            Some((Node::Quoted(s), &text[end + 1..]))
        }
        b'\'' => {
            let end = text[1..].find('\'')? + 1;
            if text[end + 1..].starts_with('\'') {
                return None;
            }
            Some((Node::Quoted(&text[1..end]), &text[end + 1..]))
        }
        b'[' | b'{' if depth >= MAX_DEPTH => None,
        b'[' => flow_seq(text, depth + 1),
        b'{' => flow_map(text, depth + 1),
        b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' | b'?' | b'#' | b',' | b']'
        | b'}' => None,
        b'-' if text.len() == 1 || text.as_bytes()[1] == b' ' => None,
        _ => plain(text, in_flow),
    }
}

fn flow_seq(text: &str, depth: usize) -> Option<(Node<'_>, &str)> {
    let mut rest = text[1..].trim_start_matches(' ');
    let mut items = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix(']') {
            return Some((Node::Seq(items), r));
        }
        let (node, r) = inline(rest, true, depth)?;
        items.push(node);
        let r = r.trim_start_matches(' ');
        if let Some(r) = r.strip_prefix(',') {
            rest = r.trim_start_matches(' ');
        } else if let Some(r) = r.strip_prefix(']') {
            return Some((Node::Seq(items), r));
        } else {
            return None;
        }
    }
}

fn flow_map(text: &str, depth: usize) -> Option<(Node<'_>, &str)> {
    let mut rest = text[1..].trim_start_matches(' ');
    let mut entries: Vec<(&str, Node<'_>)> = Vec::new();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Some((Node::Map(entries), r));
        }
        let (key, r) = key_of(rest)?;
        if entries.iter().any(|(k, _)| *k == key) {
            return None;
        }
        let r = r.trim_start_matches(' ');
        let (value, r) = if r.starts_with([',', '}']) {
            (NULL, r)
        } else {
            inline(r, true, depth)?
        };
        entries.push((key, value));
        let r = r.trim_start_matches(' ');
        if let Some(r) = r.strip_prefix(',') {
            rest = r.trim_start_matches(' ');
        } else if let Some(r) = r.strip_prefix('}') {
            return Some((Node::Map(entries), r));
        } else {
            return None;
        }
    }
}

/// A value that must fill the rest of its line (a trailing comment allowed).
fn inline_full(text: &str) -> Option<Node<'_>> {
    let (node, rest) = inline(text, false, 0)?;
    only_comment(rest).then_some(node)
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Option<Self> {
        if src.contains(['\r', '\t']) || src.starts_with('\u{feff}') {
            return None;
        }
        let mut lines = Vec::with_capacity(src.len() / 16);
        for raw in src.split('\n') {
            let trimmed = raw.trim_start_matches(' ');
            let text = trimmed.trim_end_matches(' ');
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let indent = raw.len() - trimmed.len();
            if indent == 0 && (text.starts_with("---") || text.starts_with("...")) {
                // One leading document marker, nothing else.
                if text == "---" && lines.is_empty() {
                    continue;
                }
                return None;
            }
            if indent == 0 && text.starts_with('%') {
                return None;
            }
            lines.push(Line { indent, text });
        }
        Some(Self {
            lines,
            pos: 0,
            depth: 0,
        })
    }

    fn document(mut self) -> Option<Node<'a>> {
        let first = self.lines.first()?.indent;
        let node = self.block(first)?;
        (self.pos == self.lines.len()).then_some(node)
    }

    /// The block node starting at the current line, which is indented by `indent`.
    fn block(&mut self, indent: usize) -> Option<Node<'a>> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let node = self.block_inner(indent);
        self.depth -= 1;
        node
    }

    fn block_inner(&mut self, indent: usize) -> Option<Node<'a>> {
        let line = *self.lines.get(self.pos)?;
        if line.indent != indent {
            return None;
        }
        if is_item(line.text) {
            self.seq(indent)
        } else if key_of(line.text).is_some() {
            self.map(indent)
        } else {
            self.pos += 1;
            inline_full(line.text)
        }
    }

    /// The value of a key or item with nothing after it on its line, at `indent`.
    fn nested(&mut self, indent: usize, same_indent_seq: bool) -> Option<Node<'a>> {
        match self.lines.get(self.pos) {
            Some(next) if next.indent > indent => self.block(next.indent),
            Some(next) if same_indent_seq && next.indent == indent && is_item(next.text) => {
                self.seq(indent)
            }
            _ => Some(NULL),
        }
    }

    fn seq(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.pos).copied() {
            if line.indent < indent || (line.indent == indent && !is_item(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let rest = line.text[1..].trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                self.pos += 1;
                items.push(self.nested(indent, false)?);
            } else {
                // `- key: value` opens a mapping at the column of `key`; read it as if the
                // line started there.
                let column = indent + (line.text.len() - rest.len());
                self.lines[self.pos] = Line {
                    indent: column,
                    text: rest,
                };
                items.push(self.block(column)?);
            }
        }
        Some(Node::Seq(items))
    }

    fn map(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut entries: Vec<(&'a str, Node<'a>)> = Vec::new();
        while let Some(line) = self.lines.get(self.pos).copied() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_item(line.text) {
                return None;
            }
            let (key, rest) = key_of(line.text)?;
            if entries.iter().any(|(k, _)| *k == key) {
                return None;
            }
            let rest = rest.trim_start_matches(' ');
            self.pos += 1;
            let value = if rest.is_empty() || rest.starts_with('#') {
                self.nested(indent, true)?
            } else {
                inline_full(rest)?
            };
            entries.push((key, value));
        }
        Some(Node::Map(entries))
    }
}

struct Items<'a>(std::vec::IntoIter<Node<'a>>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.0.next().map(|n| seed.deserialize(n)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Entries<'a> {
    entries: std::vec::IntoIter<(&'a str, Node<'a>)>,
    value: Option<Node<'a>>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| DeError::custom("value without key"))?;
        seed.deserialize(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

impl<'de> de::Deserializer<'de> for Node<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Node::Plain(_, Kind::Null) => v.visit_unit(),
            Node::Plain(_, Kind::Bool(b)) => v.visit_bool(b),
            Node::Plain(s, Kind::Int) => match s.parse::<u64>() {
                Ok(u) => v.visit_u64(u),
                Err(_) => v.visit_i64(s.parse().map_err(DeError::custom)?),
            },
            Node::Plain(s, Kind::Float) => v.visit_f64(s.parse().map_err(DeError::custom)?),
            Node::Plain(s, Kind::Str) | Node::Quoted(s) => v.visit_borrowed_str(s),
            Node::Seq(items) => v.visit_seq(Items(items.into_iter())),
            Node::Map(entries) => v.visit_map(Entries {
                entries: entries.into_iter(),
                value: None,
            }),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Node::Plain(s, Kind::Int | Kind::Float | Kind::Str) | Node::Quoted(s) => {
                v.visit_borrowed_str(s)
            }
            _ => Err(DeError::custom("expected a string")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_string(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_string(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Node::Plain(_, Kind::Null) => v.visit_none(),
            other => v.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Node::Plain(_, Kind::Null) => v.visit_unit(),
            _ => Err(DeError::custom("expected null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self {
            Node::Plain(s, Kind::Str) | Node::Quoted(s) => {
                v.visit_enum(IntoDeserializer::<DeError>::into_deserializer(s))
            }
            _ => Err(DeError::custom("expected a unit variant")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf seq tuple
        tuple_struct map struct
    }
}

#[cfg(test)]
mod tests;
