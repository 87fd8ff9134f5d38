//! Event type patterns with NATS-style wildcards ([`EventTypePattern`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An event type, possibly with NATS-style wildcards (Keptn's event bus was NATS).
///
/// Segments are separated by `.`; `*` matches exactly one segment and `>` (last segment only)
/// matches one or more remaining segments. So `sh.keptn.event.*.finished` matches every task
/// `.finished` event (`sh.keptn.event.evaluation.finished`) but not the six-part sequence events
/// (`sh.keptn.event.dev.delivery.finished`, matched by `sh.keptn.event.*.*.finished`), and
/// `sh.keptn.>` matches every Keptn event. A pattern without wildcards matches only itself.
///
/// ```
/// use keptn_spec::webhook::EventTypePattern;
/// let p: EventTypePattern = "sh.keptn.event.*.finished".parse()?;
/// assert!(p.matches("sh.keptn.event.evaluation.finished"));
/// assert!(!p.matches("sh.keptn.event.dev.delivery.finished"));
/// assert!("sh.keptn.>".parse::<EventTypePattern>()?.matches("sh.keptn.events.problem"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventTypePattern(String);

impl EventTypePattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the pattern contains a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.0.split('.').any(|s| s == "*" || s == ">")
    }

    /// Whether `event_type` matches this pattern.
    pub fn matches(&self, event_type: &str) -> bool {
        let mut pattern = self.0.split('.');
        let mut actual = event_type.split('.');
        loop {
            match (pattern.next(), actual.next()) {
                (None, None) => return true,
                (Some(">"), Some(seg)) => return !seg.is_empty(),
                (Some("*"), Some(seg)) if !seg.is_empty() => {}
                (Some(p), Some(seg)) if p == seg => {}
                _ => return false,
            }
        }
    }
}

impl fmt::Display for EventTypePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EventTypePattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("an event type must not be empty".to_owned());
        }
        let segments: Vec<&str> = s.split('.').collect();
        for (i, seg) in segments.iter().enumerate() {
            if seg.is_empty() {
                return Err(format!(
                    "event type `{s}` has an empty segment (two dots in a row, or a leading or \
                     trailing dot)"
                ));
            }
            if *seg == ">" && i + 1 != segments.len() {
                return Err(format!(
                    "event type `{s}`: `>` is only allowed as the last segment"
                ));
            }
            if seg.len() > 1 && (seg.contains('*') || seg.contains('>')) {
                return Err(format!(
                    "event type `{s}`: wildcards `*` and `>` must be whole segments, e.g. \
                     `sh.keptn.event.*.finished`"
                ));
            }
            if let Some(c) = seg.chars().find(|c| c.is_whitespace()) {
                return Err(format!("event type `{s}` contains whitespace ({c:?})"));
            }
        }
        Ok(EventTypePattern(s.to_owned()))
    }
}

impl TryFrom<String> for EventTypePattern {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<EventTypePattern> for String {
    fn from(p: EventTypePattern) -> Self {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Wildcard patterns follow NATS: `*` one segment, `>` the rest.
    #[test]
    fn event_type_patterns() {
        let p: EventTypePattern = "sh.keptn.event.*.finished".parse().unwrap();
        assert!(p.matches("sh.keptn.event.deployment.finished"));
        assert!(!p.matches("sh.keptn.event.deployment.started"));
        assert!(!p.matches("sh.keptn.event.dev.delivery.finished"));
        let p: EventTypePattern = "sh.keptn.event.*.*.finished".parse().unwrap();
        assert!(p.matches("sh.keptn.event.dev.delivery.finished"));
        let p: EventTypePattern = "sh.keptn.>".parse().unwrap();
        assert!(p.matches("sh.keptn.event.problem.open"));
        assert!(!p.matches("sh.keptn"));
        let exact: EventTypePattern = "sh.keptn.events.problem".parse().unwrap();
        assert!(exact.matches("sh.keptn.events.problem"));
        assert!(!exact.is_wildcard());
        assert!(!exact.matches("sh.keptn.events.problem.x"));
        for bad in ["", "a..b", ".a", "a.", "a.>.b", "a.b*", "a.b c"] {
            assert!(bad.parse::<EventTypePattern>().is_err(), "{bad:?}");
        }
    }

    proptest! {
            /// Pattern parsing never panics; a literal type matches itself.
            #[test]
            fn pattern_literal_matches_itself(s in "[a-z.*>-]{0,20}") {
                if let Ok(p) = s.parse::<EventTypePattern>()
                    && !p.is_wildcard()
                {
                    prop_assert!(p.matches(&s));
                }
            }
    }
}
