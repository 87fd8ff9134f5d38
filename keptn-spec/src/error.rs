//! The error type of `keptn-spec`, field paths and located diagnostics.

use std::fmt;

/// A position in a source file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column number.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The path of a field inside a document, such as `spec.stages[1].sequences[0].name`.
///
/// Keys that are plain identifiers (letters, digits, `_`, `-`) are joined with `.`; other keys
/// are quoted in brackets (`selector.match["evaluation.result"]`); sequence entries are `[i]`.
/// The root path is empty.
///
/// ```
/// use keptn_spec::FieldPath;
///
/// let path = FieldPath::root().key("spec").key("stages").index(1).key("name");
/// assert_eq!(path.to_string(), "spec.stages[1].name");
/// assert_eq!(FieldPath::root().key("match").key("evaluation.result").as_str(),
///            r#"match["evaluation.result"]"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    text: String,
    /// Byte offsets in `text` where each segment starts.
    starts: Vec<usize>,
}

impl FieldPath {
    /// The path of the document root (empty).
    pub fn root() -> Self {
        Self::default()
    }

    /// The path of the value under `key` in the mapping at this path.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.push_key(key);
        p
    }

    /// The path of entry `index` of the sequence at this path.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.push_index(index);
        p
    }

    pub(crate) fn push_key(&mut self, key: &str) {
        self.starts.push(self.text.len());
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if plain {
            if !self.text.is_empty() {
                self.text.push('.');
            }
            self.text.push_str(key);
        } else {
            self.text.push('[');
            self.text
                .push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"?\"".to_owned()));
            self.text.push(']');
        }
    }

    pub(crate) fn push_index(&mut self, index: usize) {
        use fmt::Write as _;
        self.starts.push(self.text.len());
        let _ = write!(self.text, "[{index}]");
    }

    /// The path as text (empty for the root).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is the document root.
    pub fn is_root(&self) -> bool {
        self.text.is_empty()
    }

    /// The number of segments (0 for the root).
    pub fn depth(&self) -> usize {
        self.starts.len()
    }

    /// The parent path (the root's parent is the root).
    #[must_use]
    pub fn parent(&self) -> Self {
        let mut p = self.clone();
        if let Some(start) = p.starts.pop() {
            p.text.truncate(start);
        }
        p
    }
}

impl FieldPath {
    /// Reads a field path at the start of `text` followed by `": "` (as in
    /// `objectives[0].pass[0]: expected …`), returning the path and the rest of the text.
    pub(crate) fn parse_prefix(text: &str) -> Option<(FieldPath, &str)> {
        let mut path = FieldPath::root();
        let mut rest = text;
        loop {
            if let Some(r) = rest.strip_prefix(": ") {
                return (!path.is_root()).then_some((path, r));
            }
            if let Some(r) = rest.strip_prefix("[\"") {
                // a quoted key: find the closing quote not preceded by a backslash
                let bytes = r.as_bytes();
                let mut i = 0;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let lit = r.get(..i)?;
                let key: String = serde_json::from_str(&format!("\"{lit}\"")).ok()?;
                path.push_key(&key);
                rest = r.get(i + 1..)?.strip_prefix(']')?;
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']')?;
                path.push_index(r[..end].parse().ok()?);
                rest = &r[end + 1..];
            } else {
                let r = if path.is_root() {
                    rest
                } else {
                    rest.strip_prefix('.')?
                };
                let end = r
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(r.len());
                if end == 0 {
                    return None;
                }
                path.push_key(&r[..end]);
                rest = &r[end..];
            }
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A problem found in a document at a field path, before it has been located in the source.
///
/// Model validators (such as [`Shipyard::validate`](crate::shipyard::Shipyard::validate)) return
/// these; [`Parsed::locate_issues`](crate::Parsed::locate_issues) turns them into located
/// [`Diagnostic`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Where in the document.
    pub path: FieldPath,
    /// What is wrong and what was expected.
    pub message: String,
    /// A close, valid alternative for a misspelt value or key.
    pub suggestion: Option<String>,
}

impl Issue {
    /// An issue at `path` with `message` and no suggestion.
    pub fn new(path: FieldPath, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
            suggestion: None,
        }
    }

    /// Adds a "did you mean" suggestion.
    #[must_use]
    pub fn with_suggestion(mut self, suggestion: Option<String>) -> Self {
        self.suggestion = suggestion;
        self
    }
}

/// The result of validating a parsed model: errors make it invalid, warnings do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// Problems that make the document invalid.
    pub errors: Vec<Issue>,
    /// Problems worth telling the user about that Keptn itself accepted.
    pub warnings: Vec<Issue>,
}

impl Validation {
    /// Records an error.
    pub fn error(&mut self, issue: Issue) {
        self.errors.push(issue);
    }

    /// Records a warning.
    pub fn warning(&mut self, issue: Issue) {
        self.warnings.push(issue);
    }

    /// Whether no errors were found (warnings allowed).
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A located message about a document: file, line, column, field path, text and an optional
/// "did you mean" suggestion. Used for warnings and for the problems of [`Error::Invalid`].
///
/// `Display` prints `file:line:column: path: message (did you mean `x`?)`, leaving out the
/// parts that are unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name, when the caller gave one.
    pub file: Option<String>,
    /// Where in the file, when known.
    pub location: Option<Location>,
    /// The field path (empty for the document root).
    pub path: FieldPath,
    /// What is wrong and what was expected.
    pub message: String,
    /// A close, valid alternative for a misspelt key or value.
    pub suggestion: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_prefix(f, self.file.as_deref(), self.location.as_ref())?;
        if !self.path.is_root() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean `{s}`?)")?;
        }
        Ok(())
    }
}

fn write_prefix(
    f: &mut fmt::Formatter<'_>,
    file: Option<&str>,
    location: Option<&Location>,
) -> fmt::Result {
    match (file, location) {
        (Some(file), Some(l)) => write!(f, "{file}:{l}: "),
        (Some(file), None) => write!(f, "{file}: "),
        (None, Some(l)) => write!(f, "{l}: "),
        (None, None) => Ok(()),
    }
}

/// Errors from parsing and validating Keptn files and events.
///
/// `Display` starts with `file:line:column:` when those are known, then the field path, then
/// what is wrong and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not valid YAML/JSON, or does not have the expected shape (a missing field,
    /// a wrong type, a value outside its grammar).
    #[error("{}", render_parse(.file.as_deref(), .location.as_ref(), .message))]
    Parse {
        /// The file name, when the caller gave one.
        file: Option<String>,
        /// Where in the input the problem is, when known.
        location: Option<Location>,
        /// The field path of the problem when known (`spec.stages[0].name: `), then what is
        /// wrong and what was expected.
        message: String,
    },
    /// The input parsed but breaks a rule (an invalid name, a duplicate stage, a trigger naming a
    /// sequence that does not exist, an unknown key in strict mode). Lists every problem found,
    /// one per line.
    #[error("{}", render_invalid(.problems))]
    Invalid {
        /// The file name, when the caller gave one.
        file: Option<String>,
        /// Every problem, located (never empty).
        problems: Vec<Diagnostic>,
    },
}

fn render_parse(file: Option<&str>, location: Option<&Location>, message: &str) -> String {
    let d = Diagnostic {
        file: file.map(str::to_owned),
        location: location.copied(),
        path: FieldPath::root(),
        message: message.to_owned(),
        suggestion: None,
    };
    d.to_string()
}

fn render_invalid(problems: &[Diagnostic]) -> String {
    if problems.is_empty() {
        return "invalid document".to_owned();
    }
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    /// A shape error without location, for parsers that have no source positions.
    pub fn parse(message: impl Into<String>) -> Self {
        Self::Parse {
            file: None,
            location: None,
            message: message.into(),
        }
    }

    /// The file name attached to this error, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Parse { file, .. } | Self::Invalid { file, .. } => file.as_deref(),
        }
    }

    /// The location of the (first) problem, if known.
    pub fn location(&self) -> Option<Location> {
        match self {
            Self::Parse { location, .. } => *location,
            Self::Invalid { problems, .. } => problems.first().and_then(|p| p.location),
        }
    }

    /// Whether the input could not be read as a document at all ([`Error::Parse`]), as opposed
    /// to a document that parsed but is invalid ([`Error::Invalid`]).
    pub fn is_parse(&self) -> bool {
        matches!(self, Self::Parse { .. })
    }

    /// Attaches (or replaces) the file name shown in messages.
    #[must_use]
    pub fn with_file(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        match &mut self {
            Self::Parse { file, .. } => *file = Some(name),
            Self::Invalid { file, problems } => {
                for p in problems.iter_mut() {
                    p.file = Some(name.clone());
                }
                *file = Some(name);
            }
        }
        self
    }
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo: equal
/// ignoring case, `_` and `-`, or within a small edit distance.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    fn norm(s: &str) -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    }
    let wn = norm(word);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let d = if norm(c) == wn {
            0
        } else {
            edit_distance(&wn, &norm(c))
        };
        let limit = (word.chars().count().max(c.chars().count()) / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_owned())
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paths print the way users read them, and `parent` walks back up.
    #[test]
    fn field_paths_render_and_walk_up() {
        let p = FieldPath::root()
            .key("spec")
            .key("stages")
            .index(2)
            .key("selector")
            .key("match")
            .key("evaluation.result");
        assert_eq!(
            p.as_str(),
            r#"spec.stages[2].selector.match["evaluation.result"]"#
        );
        assert_eq!(p.parent().as_str(), "spec.stages[2].selector.match");
        assert_eq!(p.parent().parent().parent().as_str(), "spec.stages[2]");
        assert_eq!(
            p.parent().parent().parent().parent().as_str(),
            "spec.stages"
        );
        assert_eq!(FieldPath::root().key("a").parent(), FieldPath::root());
        assert_eq!(FieldPath::root().parent(), FieldPath::root());
        assert_eq!(
            FieldPath::root().key(r#"a"]b"#).key("c").parent(),
            FieldPath::root().key(r#"a"]b"#)
        );
    }

    /// Paths at the start of messages are read back.
    #[test]
    fn parses_path_prefixes() {
        let (p, rest) =
            FieldPath::parse_prefix("objectives[0].pass[1].criteria[2]: bad criterion").unwrap();
        assert_eq!(p.as_str(), "objectives[0].pass[1].criteria[2]");
        assert_eq!(rest, "bad criterion");
        let (p, _) = FieldPath::parse_prefix(r#"a.match["x.y"].b: m"#).unwrap();
        assert_eq!(
            p,
            FieldPath::root().key("a").key("match").key("x.y").key("b")
        );
        assert!(FieldPath::parse_prefix("field `kind`: expected").is_none());
        assert!(FieldPath::parse_prefix("no path here").is_none());
        assert!(FieldPath::parse_prefix(": x").is_none());
        assert!(FieldPath::parse_prefix("a[x]: y").is_none());
        assert!(FieldPath::parse_prefix("[\"").is_none());
    }

    /// Typos of known words are suggested; unrelated words are not.
    #[test]
    fn did_you_mean_finds_close_words_only() {
        let known = ["sequences", "name", "triggeredOn"];
        assert_eq!(
            did_you_mean("sequnces", known).as_deref(),
            Some("sequences")
        );
        assert_eq!(
            did_you_mean("triggeredon", known).as_deref(),
            Some("triggeredOn")
        );
        assert_eq!(
            did_you_mean("triggered_on", known).as_deref(),
            Some("triggeredOn")
        );
        assert_eq!(did_you_mean("nmae", known).as_deref(), Some("name"));
        assert_eq!(did_you_mean("registry", known), None);
        assert_eq!(did_you_mean("", known), None);
    }
}
