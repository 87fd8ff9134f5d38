//! Rendering that event data cannot break out of: JSON payloads and header values.
//!
//! [`Template::render`] inserts strings as they are, as Keptn's Go templates did, so an event
//! whose message holds `"` or a newline could end a JSON string early or add a header. The
//! renderers here take the place the value lands in into account:
//!
//! * [`Template::render_json`]: the template's literal text is JSON with holes. A value inserted
//!   inside a JSON string literal is escaped as string content; a value inserted where a JSON
//!   value stands is written as that JSON value (a string gets its quotes, `null` stays `null`).
//! * [`Template::render_header`]: control characters (CR, LF, NUL, …) of inserted values become
//!   spaces, so a value can neither end the header nor start another.
//!
//! The literal text of the template is the operator's and is kept exactly.

use serde_json::Value;

use super::Request;
use super::template::{Part, RenderError, Template, lookup, write_value};

/// Where the JSON scanner is in the template's literal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonState {
    /// Between values: an inserted value is written as a JSON value.
    Outside,
    /// Inside a string literal: an inserted value is escaped string content.
    InString,
    /// Right after a `\` inside a string literal.
    Escape,
}

impl JsonState {
    fn after(mut self, literal: &str) -> Self {
        for c in literal.chars() {
            self = match (self, c) {
                (JsonState::Outside, '"') | (JsonState::Escape, _) => JsonState::InString,
                (JsonState::Outside, _) => JsonState::Outside,
                (JsonState::InString, '\\') => JsonState::Escape,
                (JsonState::InString, '"') => JsonState::Outside,
                (JsonState::InString, _) => JsonState::InString,
            };
        }
        self
    }
}

impl Template {
    /// Renders a JSON payload template over `root` so that no inserted value can change the
    /// structure of the JSON: inside a string literal a value is escaped (`"`, `\`, control
    /// characters), elsewhere it is written as a JSON value.
    ///
    /// ```
    /// use keptn_spec::webhook::Template;
    /// let t: Template = r#"{"text": "{{.data.message}}", "raw": {{.data.message}}}"#.parse()?;
    /// let event = serde_json::json!({"data": {"message": "a \"quoted\"\nline"}});
    /// let out = t.render_json(&event)?;
    /// let v: serde_json::Value = serde_json::from_str(&out)?;
    /// assert_eq!(v["text"], "a \"quoted\"\nline");
    /// assert_eq!(v["raw"], "a \"quoted\"\nline");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RenderError`] for a missing field, or [`RenderError::Unsafe`] for a field placed
    /// right after a `\` inside a string (its first character would be taken as an escape).
    pub fn render_json(&self, root: &Value) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.source.len());
        let mut state = JsonState::Outside;
        for part in &self.parts {
            match part {
                Part::Literal(s) => {
                    out.push_str(s);
                    state = state.after(s);
                }
                Part::Field(path) => {
                    let value = lookup(root, path)?;
                    match state {
                        JsonState::Outside => out.push_str(&json_text(value)),
                        JsonState::InString => {
                            let mut text = String::new();
                            write_value(&mut text, value);
                            let quoted = json_text(&Value::String(text));
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                        JsonState::Escape => {
                            return Err(RenderError::Unsafe {
                                path: format!(".{}", path.join(".")),
                                reason: "it follows a `\\` inside a JSON string".to_owned(),
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Renders a header value template over `root`; control characters (CR, LF, NUL, tab, …)
    /// of inserted values become spaces, so the result is always one header line.
    ///
    /// ```
    /// use keptn_spec::webhook::Template;
    /// let t: Template = "keptn {{.data.project}}".parse()?;
    /// let event = serde_json::json!({"data": {"project": "a\r\nX-Injected: 1"}});
    /// assert_eq!(t.render_header(&event)?, "keptn a  X-Injected: 1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RenderError`] naming a referenced field that `root` does not have.
    pub fn render_header(&self, root: &Value) -> Result<String, RenderError> {
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Field(path) => {
                    let mut text = String::new();
                    write_value(&mut text, lookup(root, path)?);
                    out.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
                }
            }
        }
        Ok(out)
    }
}

fn json_text(value: &Value) -> String {
    // Infallible: a `Value` has string keys only.
    serde_json::to_string(value).unwrap_or_default()
}

impl Request {
    /// Whether the payload is JSON: a `Content-Type` header naming JSON, or a payload whose
    /// text starts with `{` (not `{{`, a template action) or `[`.
    pub fn has_json_payload(&self) -> bool {
        let declared = self.headers.iter().any(|h| {
            h.key.trim().eq_ignore_ascii_case("content-type")
                && h.value.as_str().to_ascii_lowercase().contains("json")
        });
        // `{{` opens a template action, not a JSON object
        let looks = self.payload.as_ref().is_some_and(|p| {
            let text = p.as_str().trim_start();
            text.starts_with('[') || (text.starts_with('{') && !text.starts_with("{{"))
        });
        declared || looks
    }

    /// Renders the payload: with [`Template::render_json`] when it is JSON
    /// ([`has_json_payload`](Self::has_json_payload)), else as text.
    ///
    /// # Errors
    /// As the renderer used.
    pub fn render_payload(&self, root: &Value) -> Result<Option<String>, RenderError> {
        match &self.payload {
            None => Ok(None),
            Some(p) if self.has_json_payload() => p.render_json(root).map(Some),
            Some(p) => p.render(root).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// A payload with a value inside strings (alone and among text), as a JSON value, in a list
    /// and as an object key.
    const PAYLOAD: &str = r#"{"text": "Evaluation of {{.data.message}}: {{.data.result}}", "alone": "{{.data.message}}", "raw": {{.data.message}}, "list": [{{.data.message}}, {{.data.score}}], "{{.data.message}}": 1, "n": {{.data.score}}}"#;

    fn event(message: &str) -> Value {
        json!({"data": {"message": message, "result": "fail", "score": 87.5}})
    }

    fn check_payload(message: &str) {
        let t: Template = PAYLOAD.parse().unwrap();
        let out = t.render_json(&event(message)).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = vec!["text", "alone", "raw", "list", "n", message];
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(keys, expected, "{out}");
        if !["text", "alone", "raw", "list", "n"].contains(&message) {
            assert_eq!(v["text"], format!("Evaluation of {message}: fail"));
            assert_eq!(v["alone"], message);
            assert_eq!(v["raw"], message);
            assert_eq!(v["list"], json!([message, 87.5]));
            assert_eq!(v["n"], 87.5);
        }
    }

    #[test]
    fn hostile_strings_stay_inside_their_json_string() {
        for message in [
            r#"" , "injected": true, "x": ""#,
            "back\\slash\\",
            "line\nbreak\r\n\t\u{0}\u{1f}",
            "{{.env.SECRET}} }} {{",
            "</script>\u{2028}\u{2029}",
            "",
        ] {
            check_payload(message);
        }
    }

    #[test]
    fn a_one_megabyte_string_stays_inside_its_json_string() {
        let message = "\"\\\n{{".repeat(210 * 1024);
        assert!(message.len() >= 1024 * 1024);
        check_payload(&message);
    }

    #[test]
    fn non_string_values_are_written_as_json_values() {
        let t: Template = r#"{"a": {{.data.obj}}, "b": {{.data.none}}, "c": "{{.data.obj}}"}"#
            .parse()
            .unwrap();
        let event = json!({"data": {"obj": {"k": "v\""}, "none": null}});
        let v: Value = serde_json::from_str(&t.render_json(&event).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"a": {"k": "v\""}, "b": null, "c": r#"{"k":"v\""}"#})
        );
    }

    #[test]
    fn a_field_right_after_a_backslash_is_refused() {
        let t: Template = r#"{"a": "x\{{.data.m}}"}"#.parse().unwrap();
        let err = t.render_json(&json!({"data": {"m": "\""}})).unwrap_err();
        assert!(err.to_string().contains(".data.m"), "{err}");
    }

    #[test]
    fn json_payloads_are_recognised() {
        let yaml = |headers: &str, payload: &str| -> Request {
            crate::from_yaml_str(&format!(
                "url: http://127.0.0.1:9/x\nmethod: POST\nheaders: {headers}\npayload: '{payload}'\n"
            ))
            .unwrap()
        };
        assert!(yaml("[]", "{\"a\": 1}").has_json_payload());
        assert!(yaml("[{key: Content-Type, value: application/json}]", "x").has_json_payload());
        assert!(!yaml("[{key: Content-Type, value: text/plain}]", "a=b").has_json_payload());
        assert!(!yaml("[]", "{{.shkeptncontext}}").has_json_payload());
        let r = yaml("[]", "text {{.data.m}}");
        let out = r.render_payload(&json!({"data": {"m": "\""}})).unwrap();
        assert_eq!(out.as_deref(), Some("text \""));
    }

    proptest! {
        #[test]
        fn event_data_never_changes_the_json_structure(message in any::<String>()) {
            check_payload(&message);
        }

        #[test]
        fn event_data_never_ends_a_header(value in any::<String>()) {
            let t: Template = "Bearer {{.data.v}}; x".parse().unwrap();
            let out = t.render_header(&json!({"data": {"v": value}})).unwrap();
            prop_assert!(!out.chars().any(char::is_control), "{:?}", out);
            prop_assert!(out.starts_with("Bearer ") && out.ends_with("; x"));
        }
    }
}
