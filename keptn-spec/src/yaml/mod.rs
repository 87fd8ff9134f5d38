//! The one place where YAML is read and written: every model parses through here, so that a
//! change of YAML library touches one module.
//!
//! Reading gives located errors (file, line, column, field path, what was expected) and
//! located warnings for keys the model does not know, with a "did you mean" for likely typos.
//! By default unknown keys are only warnings (files that Keptn accepted must load);
//! [`Strictness::Strict`] turns them into errors.

pub(crate) mod fast;
mod recorder;
pub(crate) mod source_map;

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Diagnostic, Error, FieldPath, Issue, Location, Result, did_you_mean};
use recorder::{Record, Recorder};
pub(crate) use source_map::SourceMap;

/// How to treat keys that the model does not know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strictness {
    /// Unknown keys are warnings (Keptn's own behaviour: it ignored them). The default.
    #[default]
    Tolerant,
    /// Unknown keys are errors.
    Strict,
}

/// Options for reading a document: the file name shown in messages and the [`Strictness`].
///
/// ```
/// use keptn_spec::{ParseOptions, shipyard::Shipyard};
///
/// let src = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata: {name: demo}\n\
///            spec:\n  stages:\n    - name: dev\n      sequnces: []\n";
/// let parsed = ParseOptions::new().file("shipyard.yaml").parse::<Shipyard>(src)?;
/// assert_eq!(
///     parsed.warnings[0].to_string(),
///     "shipyard.yaml:7:7: spec.stages[0].sequnces: unknown key `sequnces` (did you mean `sequences`?)"
/// );
/// // the same file is an error in strict mode
/// assert!(ParseOptions::new().strict().parse::<Shipyard>(src).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ParseOptions {
    file: Option<String>,
    strictness: Strictness,
}

impl ParseOptions {
    /// Tolerant parsing without a file name.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file name to show in errors and warnings.
    pub fn file(mut self, name: impl Into<String>) -> Self {
        self.file = Some(name.into());
        self
    }

    /// Makes unknown keys errors instead of warnings.
    pub fn strict(self) -> Self {
        self.strictness(Strictness::Strict)
    }

    /// Sets how unknown keys are treated.
    pub fn strictness(mut self, strictness: Strictness) -> Self {
        self.strictness = strictness;
        self
    }

    /// The file name, if set.
    pub fn file_name(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// The configured strictness.
    pub fn get_strictness(&self) -> Strictness {
        self.strictness
    }

    /// Deserializes a `T` from YAML (or JSON) text, recording unknown keys.
    ///
    /// This only checks the shape of the document; models with rules beyond their shape
    /// (such as [`Shipyard`](crate::shipyard::Shipyard)) offer their own `parse` that also
    /// validates.
    ///
    /// # Errors
    /// [`Error::Parse`] (with file, line, column, field path and what was expected) when the
    /// text is not YAML or does not have the shape of `T`; [`Error::Invalid`] listing every
    /// unknown key in [`Strictness::Strict`] mode.
    pub fn parse<T: DeserializeOwned>(&self, src: &str) -> Result<Parsed<T>> {
        let record = RefCell::new(Record::default());
        let result =
            serde_saphyr::with_deserializer_from_str_with_options(src, saphyr_options(), |de| {
                T::deserialize(Recorder::new(de, &record))
            });
        let record = record.into_inner();
        let source = Arc::new(SourceMap::build(src));
        let value = match result {
            Ok(v) => v,
            Err(e) => return Err(self.parse_error(&e, record.error_path, &source)),
        };
        let mut warnings = Vec::new();
        for ig in record.ignored {
            let suggestion = ig
                .expected
                .and_then(|fields| did_you_mean(&ig.key, fields.iter().copied()));
            let message = match (&suggestion, ig.expected) {
                (None, Some(fields)) if !fields.is_empty() && fields.len() <= 12 => format!(
                    "unknown key `{}` (known keys here: {})",
                    ig.key,
                    fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => format!("unknown key `{}`", ig.key),
            };
            warnings.push(Diagnostic {
                file: self.file.clone(),
                location: source.locate_key(&ig.path),
                path: ig.path,
                message,
                suggestion,
            });
        }
        if self.strictness == Strictness::Strict && !warnings.is_empty() {
            return Err(Error::Invalid {
                file: self.file.clone(),
                problems: warnings,
            });
        }
        Ok(Parsed {
            value,
            warnings,
            file: self.file.clone(),
            source,
        })
    }

    fn parse_error(
        &self,
        e: &serde_saphyr::Error,
        error_path: Option<FieldPath>,
        source: &SourceMap,
    ) -> Error {
        let location = e.location().map(|l| Location {
            line: l.line(),
            column: l.column(),
        });
        let mut message = strip_location_suffix(&e.to_string(), location);
        // Say what was found where the value was expected.
        let node = location
            .and_then(|l| source.at_location(l))
            .or_else(|| error_path.as_ref().and_then(|p| source.get(p)));
        let path = error_path.or_else(|| node.map(|n| n.path.clone()));
        if let Some(n) = node
            && location == Some(n.location)
            && (message.starts_with("expected") || message.starts_with("invalid"))
        {
            message = format!("{message}, found {}", n.kind.describe());
        }
        if let Some(s) = unknown_variant_suggestion(&message) {
            message = format!("{message} (did you mean `{s}`?)");
        }
        let message = match path.filter(|p| !p.is_root()) {
            Some(p) => format!("{p}: {message}"),
            None => message,
        };
        Error::Parse {
            file: self.file.clone(),
            location,
            message,
        }
    }
}

/// Replayed alias events allowed per document. Keptn files use aliases rarely and small; the
/// default (1 000 000) lets a 500-byte "billion laughs" document keep a parser busy for seconds.
const MAX_REPLAYED_ALIAS_EVENTS: usize = 10_000;

fn saphyr_options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.with_snippet = false;
    o.alias_limits.max_total_replayed_events = MAX_REPLAYED_ALIAS_EVENTS;
    o
}

/// serde-saphyr appends ` at line L, column C`; we show the location ourselves.
fn strip_location_suffix(msg: &str, location: Option<Location>) -> String {
    if let Some(l) = location {
        let suffix = format!(" at line {}, column {}", l.line, l.column);
        if let Some(stripped) = msg.strip_suffix(&suffix) {
            return stripped.to_owned();
        }
    }
    msg.to_owned()
}

/// For serde's "unknown variant `x`, expected one of `a`, `b`" messages, the closest variant.
fn unknown_variant_suggestion(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown variant `")?;
    let (word, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected")?.1;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(word, candidates)
}

/// A parsed document: the value, the warnings found while reading it, and where each field is
/// in the source (so later validation can report located problems).
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// The parsed value.
    pub value: T,
    /// Located warnings (unknown keys, and whatever the model's validation reported).
    pub warnings: Vec<Diagnostic>,
    file: Option<String>,
    source: Arc<SourceMap>,
}

impl<T> Parsed<T> {
    /// The value, dropping the warnings.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The file name given in the [`ParseOptions`], if any.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Where the value at `path` starts in the source (or its nearest ancestor that exists
    /// there, for values that came from defaults).
    pub fn locate(&self, path: &FieldPath) -> Option<Location> {
        self.source.locate(path)
    }

    /// Turns issues into located diagnostics of this document.
    pub fn locate_issues(&self, issues: Vec<Issue>) -> Vec<Diagnostic> {
        issues
            .into_iter()
            .map(|i| Diagnostic {
                file: self.file.clone(),
                location: self.source.locate(&i.path),
                path: i.path,
                message: i.message,
                suggestion: i.suggestion,
            })
            .collect()
    }

    /// Applies the result of a model's validation: its warnings are added to
    /// [`Parsed::warnings`], its errors make this fail.
    ///
    /// # Errors
    /// [`Error::Invalid`] with every located error when `validation` has errors.
    pub fn check(mut self, validation: crate::error::Validation) -> Result<Self> {
        if !validation.errors.is_empty() {
            return Err(Error::Invalid {
                file: self.file.clone(),
                problems: self.locate_issues(validation.errors),
            });
        }
        let more = self.locate_issues(validation.warnings);
        self.warnings.extend(more);
        Ok(self)
    }

    /// Converts the value, keeping warnings and source positions.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        Parsed {
            value: f(self.value),
            warnings: self.warnings,
            file: self.file,
            source: self.source,
        }
    }

    /// Converts the value with a fallible function, keeping warnings and source positions.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Parsed<U>, E> {
        Ok(Parsed {
            value: f(self.value)?,
            warnings: self.warnings,
            file: self.file,
            source: self.source,
        })
    }

    /// A value without source positions (locations of later problems stay unknown).
    pub(crate) fn unlocated(value: T, file: Option<&str>) -> Self {
        Self {
            value,
            warnings: Vec::new(),
            file: file.map(str::to_owned),
            source: Arc::new(SourceMap::default()),
        }
    }

    pub(crate) fn source_map(&self) -> &SourceMap {
        &self.source
    }
}

impl<T: fmt::Display> fmt::Display for Parsed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// Deserializes a value of type `T` from a YAML (or JSON) document, tolerating unknown keys.
///
/// Equivalent to `ParseOptions::new().parse::<T>(src)` without the warnings; use
/// [`ParseOptions`] to name the file, read the warnings or parse strictly.
///
/// The document is read plainly first: the field-path recorder and the source map (which cost
/// more than the parse itself on large files) are only built when that fails, to locate the
/// error.
///
/// # Errors
/// [`Error::Parse`] with the line, column and field path of the problem when the text is not
/// YAML or does not match the shape of `T`.
pub fn from_yaml_str<T: DeserializeOwned>(src: &str) -> Result<T> {
    match serde_saphyr::with_deserializer_from_str_with_options(src, saphyr_options(), |de| {
        T::deserialize(de)
    }) {
        Ok(value) => Ok(value),
        // The located parse fails the same way and says where; should it succeed after all,
        // its value is as good.
        Err(_) => ParseOptions::new().parse(src).map(Parsed::into_value),
    }
}

/// Reads `src` as the file `file` (the name only appears in messages), tolerating unknown keys
/// and returning them as warnings.
///
/// # Errors
/// As [`ParseOptions::parse`].
pub fn parse_yaml_file<T: DeserializeOwned>(file: &str, src: &str) -> Result<Parsed<T>> {
    ParseOptions::new().file(file).parse(src)
}

/// Serializes `value` as a YAML document.
///
/// # Errors
/// [`Error::Parse`] when `value` cannot be represented in YAML (for example a map with
/// non-string keys).
pub fn to_yaml_string<T: Serialize>(value: &T) -> Result<String> {
    serde_saphyr::to_string(value).map_err(|e| Error::parse(format!("cannot write YAML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        name: String,
        #[serde(default)]
        count: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        inner: Vec<Inner>,
        #[serde(default)]
        flag: Option<String>,
    }

    /// Unknown keys become warnings with the key's own position and a suggestion.
    #[test]
    fn unknown_keys_are_located_warnings() {
        let src = "inner:\n  - name: a\n    cuont: 3\nextra: {x: 1}\n";
        let p = ParseOptions::new()
            .file("f.yaml")
            .parse::<Outer>(src)
            .unwrap();
        let w: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            vec![
                "f.yaml:3:5: inner[0].cuont: unknown key `cuont` (did you mean `count`?)",
                "f.yaml:4:1: extra: unknown key `extra` (known keys here: `inner`, `flag`)",
            ]
        );
        let err = ParseOptions::new()
            .strict()
            .parse::<Outer>(src)
            .unwrap_err();
        assert!(!err.is_parse());
        assert_eq!(
            err.to_string(),
            w.iter()
                .map(|s| s.trim_start_matches("f.yaml:"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Type errors name the path, the expectation and what was found.
    #[test]
    fn type_errors_are_located_with_path() {
        let src = "inner:\n  - name: a\n    count: many\n";
        let err = parse_yaml_file::<Outer>("f.yaml", src).unwrap_err();
        assert!(err.is_parse());
        assert_eq!(
            err.location(),
            Some(Location {
                line: 3,
                column: 12
            })
        );
        assert_eq!(
            err.to_string(),
            "f.yaml:3:12: inner[0].count: invalid u32, found `many`"
        );
    }

    /// YAML 1.1 words stay strings in typed string fields.
    #[test]
    fn yaml11_words_stay_strings() {
        let p: Outer = from_yaml_str("inner: []\nflag: off\n").unwrap();
        assert_eq!(p.flag.as_deref(), Some("off"));
    }
}
