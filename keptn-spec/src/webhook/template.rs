//! `{{.field.path}}` templates: parsing and rendering over an event's JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A string with `{{.field.path}}` references, as used in Keptn webhook URLs, header values and
/// payloads. Parsed when loaded; rendered over an event's JSON with [`Template::render`].
///
/// See the [module documentation](super#templates) for the supported syntax and how values are
/// rendered.
///
/// ```
/// use keptn_spec::webhook::Template;
/// let t: Template = "{{.data.project}}/{{ .data.stage }}: {{.data.evaluation.score}}".parse()?;
/// let event = serde_json::json!({"data": {"project": "sockshop", "stage": "staging",
///                                         "evaluation": {"score": 87.5}}});
/// assert_eq!(t.render(&event)?, "sockshop/staging: 87.5");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template {
    pub(super) source: String,
    pub(super) parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Part {
    Literal(String),
    /// A field path; empty means the whole value (`{{.}}`).
    Field(Vec<String>),
}

/// Why a template string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template error at character {position}: {message}")]
pub struct TemplateError {
    /// 1-based character position in the template where the problem starts.
    pub position: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Why a template could not be rendered for an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// A referenced field is not in the event (Keptn: `map has no entry for key`).
    #[error("the event has no field `{path}`")]
    MissingField {
        /// The full path of the reference, e.g. `.data.evaluation.score`.
        path: String,
    },
    /// A path goes through a value that is not an object.
    #[error("`{path}` is {kind}, so `{path}.{next}` does not exist")]
    NotAnObject {
        /// The path up to the non-object value.
        path: String,
        /// What the value is (`a string`, `a number`, …).
        kind: &'static str,
        /// The segment that could not be read.
        next: String,
    },
    /// A field is placed where no value can be inserted safely (see
    /// [`Template::render_json`]).
    #[error("`{path}` cannot be inserted safely: {reason}")]
    Unsafe {
        /// The full path of the reference.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Template {
    /// Parses a template string.
    ///
    /// # Errors
    /// [`TemplateError`] with the character position of an unclosed `{{`, an empty action, or
    /// an action other than a field reference or comment.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let chars: Vec<char> = source.chars().collect();
        let mut parts: Vec<Part> = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '{' && chars.get(i + 1) == Some(&'{') {
                let start = i;
                let Some(end) = find_close(&chars, i + 2) else {
                    return Err(TemplateError {
                        position: start + 1,
                        message: "`{{` is never closed with `}}`".to_owned(),
                    });
                };
                let mut inner: &[char] = &chars[i + 2..end];
                let mut inner_offset = i + 2;
                let mut trim_left = false;
                let mut trim_right = false;
                if inner.len() >= 2 && inner[0] == '-' && inner[1].is_whitespace() {
                    trim_left = true;
                    inner = &inner[1..];
                    inner_offset += 1;
                }
                if inner.len() >= 2
                    && inner[inner.len() - 1] == '-'
                    && inner[inner.len() - 2].is_whitespace()
                {
                    trim_right = true;
                    inner = &inner[..inner.len() - 1];
                }
                if trim_left {
                    let trimmed = literal.trim_end().len();
                    literal.truncate(trimmed);
                }
                let action: String = inner.iter().collect();
                let lead = action.len() - action.trim_start().len();
                let action_pos = inner_offset + action[..lead].chars().count() + 1;
                let action = action.trim();
                if let Some(field) = parse_action(action, action_pos)? {
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field));
                }
                i = end + 2;
                if trim_right {
                    while i < chars.len() && chars[i].is_whitespace() {
                        i += 1;
                    }
                }
            } else {
                literal.push(chars[i]);
                i += 1;
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template has no field references (renders to a constant).
    pub fn is_constant(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// The field paths referenced, in order (`{{.data.project}}` gives `["data", "project"]`,
    /// `{{.}}` gives an empty path).
    pub fn fields(&self) -> impl Iterator<Item = &[String]> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field(path) => Some(path.as_slice()),
            Part::Literal(_) => None,
        })
    }

    /// Renders the template over `root` (an event as JSON, plus `env`).
    ///
    /// # Errors
    /// [`RenderError`] naming the first referenced field that `root` does not have.
    pub fn render(&self, root: &Value) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Field(path) => {
                    let value = lookup(root, path)?;
                    write_value(&mut out, value);
                }
            }
        }
        Ok(out)
    }
}

fn find_close(chars: &[char], from: usize) -> Option<usize> {
    (from..chars.len().saturating_sub(1)).find(|&j| chars[j] == '}' && chars[j + 1] == '}')
}

/// Parses the inside of `{{ … }}`: `None` for a comment, the path for a field reference.
fn parse_action(action: &str, position: usize) -> Result<Option<Vec<String>>, TemplateError> {
    let err = |message: String| TemplateError { position, message };
    if action.is_empty() {
        return Err(err(
            "empty action `{{}}`: expected a field such as `{{.data.project}}`".into(),
        ));
    }
    if action.starts_with("/*") {
        if action.ends_with("*/") && action.len() >= 4 {
            return Ok(None);
        }
        return Err(err("comment `{{/*` is not closed with `*/}}`".into()));
    }
    if !action.starts_with('.') {
        let word = action.split_whitespace().next().unwrap_or(action);
        return Err(err(format!(
            "unsupported template action `{{{{{action}}}}}` (`{word}`): keptn-rs templates support \
             field references such as `{{{{.data.project}}}}` and comments only"
        )));
    }
    if action == "." {
        return Ok(Some(Vec::new()));
    }
    let mut path = Vec::new();
    for segment in action[1..].split('.') {
        let valid = segment
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && segment.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return Err(err(format!(
                "`{{{{{action}}}}}` is not a field reference: each `.name` must be a letter or `_` \
                 followed by letters, digits or `_` (pipelines and functions are not supported)"
            )));
        }
        path.push(segment.to_owned());
    }
    Ok(Some(path))
}

pub(super) fn lookup<'v>(root: &'v Value, path: &[String]) -> Result<&'v Value, RenderError> {
    let mut current = root;
    let mut walked = String::new();
    for segment in path {
        match current {
            Value::Object(map) => {
                walked.push('.');
                walked.push_str(segment);
                current = map.get(segment).ok_or_else(|| RenderError::MissingField {
                    path: format!(".{}", path.join(".")),
                })?;
            }
            other => {
                return Err(RenderError::NotAnObject {
                    path: if walked.is_empty() {
                        ".".to_owned()
                    } else {
                        walked
                    },
                    kind: kind_of(other),
                    next: segment.clone(),
                });
            }
        }
    }
    Ok(current)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(super) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        other => out.push_str(&other.to_string()),
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for Template {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Template::parse(s)
    }
}

impl TryFrom<String> for Template {
    type Error = TemplateError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Template::parse(&value)
    }
}

impl From<Template> for String {
    fn from(t: Template) -> Self {
        t.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Rendering: strings raw, numbers, booleans, null, objects as JSON, the whole value.
    #[test]
    fn render_value_kinds() {
        let t = Template::parse("{{.s}}|{{.n}}|{{.f}}|{{.b}}|{{.z}}|{{.o}}").unwrap();
        let v = json!({"s": "a\"b", "n": 3, "f": 87.5, "b": true, "z": null, "o": {"k": [1]}});
        assert_eq!(t.render(&v).unwrap(), r#"a"b|3|87.5|true||{"k":[1]}"#);
        let all = Template::parse("{{.}}").unwrap();
        assert_eq!(all.render(&json!({"a": 1})).unwrap(), r#"{"a":1}"#);
    }

    /// A missing field fails rendering with its path (Keptn's missingkey=error).
    #[test]
    fn missing_field_is_a_render_error() {
        let t = Template::parse("x {{.data.evaluation.score}}").unwrap();
        let err = t.render(&json!({"data": {"project": "p"}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the event has no field `.data.evaluation.score`"
        );
        let err = t.render(&json!({"data": "text"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`.data` is a string, so `.data.evaluation` does not exist"
        );
    }

    /// Whitespace, trim markers and comments behave as in Go templates.
    #[test]
    fn trim_markers_and_comments() {
        let t = Template::parse("a  {{- .x -}}  b{{/* note */}}c{{ .x }}").unwrap();
        assert_eq!(t.render(&json!({"x": 1})).unwrap(), "a1bc1");
        assert!(Template::parse("{{- -}}").is_err());
    }

    /// Syntax errors carry the character position.
    #[test]
    fn template_errors_have_positions() {
        let e = Template::parse("abc {{.x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "template error at character 5: `{{` is never closed with `}}`"
        );
        let e = Template::parse("ab {{ range .x }}").unwrap_err();
        assert_eq!(e.position, 7);
        let e = Template::parse("{{.data.get-sli}}").unwrap_err();
        assert!(e.message.contains("not a field reference"), "{e}");
        assert!(Template::parse("{{}}").is_err());
        assert!(Template::parse("{{/* open }}").is_err());
        assert!(
            Template::parse("no actions } { here")
                .unwrap()
                .is_constant()
        );
    }

    proptest! {
            /// Template parsing never panics, and what parses renders its source back when every
            /// field is itself (display round-trip of the source).
            #[test]
            fn template_parse_never_panics(s in "\\PC{0,40}") {
                if let Ok(t) = Template::parse(&s) {
                    prop_assert_eq!(t.as_str(), s.as_str());
                }
            }
    }
}
