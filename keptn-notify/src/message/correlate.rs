//! What earlier events told: the facts of a Keptn context, the action of an `action.triggered`,
//! problems already reported open — remembered, bounded, for the messages of later events.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use super::MessageKind;

/// What earlier events told us about a Keptn context or a triggered action.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Enrichment {
    pub(crate) image: Option<String>,
    pub(crate) tag: Option<String>,
    pub(crate) deployment_strategy: Option<String>,
    pub(crate) test_strategy: Option<String>,
    /// For `action.finished`: the `action` object of its `action.triggered`.
    pub(crate) action: Option<Value>,
    /// A "problem opened" for a problem already reported open.
    pub(crate) duplicate_problem: bool,
    /// The title of the problem this context remediates.
    pub(crate) problem_title: Option<String>,
}

/// Remembers facts per Keptn context and actions per triggered-event id, bounded.
#[derive(Debug, Default)]
pub(crate) struct Correlator {
    contexts: HashMap<String, Enrichment>,
    context_order: VecDeque<String>,
    actions: HashMap<String, Value>,
    action_order: VecDeque<String>,
    open_problems: VecDeque<String>,
}

const CORRELATOR_CAPACITY: usize = 1024;

impl Correlator {
    /// Records what `event` tells and returns everything known for it.
    pub(crate) fn observe(&mut self, event: &Value) -> Enrichment {
        let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
        let data = event.get("data").unwrap_or(&Value::Null);
        let fresh = facts_of(data);
        let mut known = match event.get("shkeptncontext").and_then(Value::as_str) {
            Some(ctx) => {
                if !self.contexts.contains_key(ctx) {
                    if self.context_order.len() >= CORRELATOR_CAPACITY
                        && let Some(old) = self.context_order.pop_front()
                    {
                        self.contexts.remove(&old);
                    }
                    self.context_order.push_back(ctx.to_owned());
                }
                let entry = self.contexts.entry(ctx.to_owned()).or_default();
                merge(&mut entry.image, fresh.image);
                merge(&mut entry.tag, fresh.tag);
                merge(&mut entry.deployment_strategy, fresh.deployment_strategy);
                merge(&mut entry.test_strategy, fresh.test_strategy);
                merge(&mut entry.problem_title, fresh.problem_title);
                entry.clone()
            }
            None => fresh,
        };
        if event_type == "sh.keptn.event.action.triggered"
            && let (Some(id), Some(action)) =
                (event.get("id").and_then(Value::as_str), data.get("action"))
        {
            if self.action_order.len() >= CORRELATOR_CAPACITY
                && let Some(old) = self.action_order.pop_front()
            {
                self.actions.remove(&old);
            }
            self.action_order.push_back(id.to_owned());
            self.actions.insert(id.to_owned(), action.clone());
        }
        match MessageKind::of(event_type, Some(data)) {
            Some(MessageKind::ProblemOpened) => {
                if let Some(key) = problem_key(event) {
                    if self.open_problems.contains(&key) {
                        known.duplicate_problem = true;
                    } else {
                        if self.open_problems.len() >= CORRELATOR_CAPACITY {
                            self.open_problems.pop_front();
                        }
                        self.open_problems.push_back(key);
                    }
                }
            }
            Some(MessageKind::ProblemResolved) => {
                if let Some(key) = problem_key(event) {
                    self.open_problems.retain(|k| *k != key);
                }
            }
            _ => {}
        }
        if event_type == "sh.keptn.event.action.finished" {
            known.action = event
                .get("triggeredid")
                .and_then(Value::as_str)
                .and_then(|id| self.actions.get(id))
                .cloned();
        }
        known
    }
}

/// What identifies a problem: its `PID` (or `ProblemID`), directly or under `data.problem`.
fn problem_key(event: &Value) -> Option<String> {
    let data = event.get("data")?;
    [data, data.get("problem").unwrap_or(&Value::Null)]
        .iter()
        .flat_map(|d| ["PID", "ProblemID"].map(|k| d.get(k).and_then(Value::as_str)))
        .flatten()
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

fn merge(slot: &mut Option<String>, fresh: Option<String>) {
    if fresh.is_some() {
        *slot = fresh;
    }
}

/// Image, tag and strategies found in one event's data.
fn facts_of(data: &Value) -> Enrichment {
    let s = |ptr: &str| {
        data.pointer(ptr)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let full_image = s("/configurationChange/values/image").or_else(|| s("/valuesCanary/image"));
    let (mut image, mut tag) = match full_image {
        Some(i) => split_image(&i),
        None => (None, None),
    };
    if let Some(i) = s("/image") {
        let (img, t) = split_image(&i);
        image = img;
        if t.is_some() {
            tag = t;
        }
    }
    if let Some(t) = s("/tag") {
        tag = Some(t);
    }
    Enrichment {
        image,
        tag,
        deployment_strategy: s("/deploymentstrategy")
            .or_else(|| s("/deployment/deploymentstrategy")),
        test_strategy: s("/teststrategy").or_else(|| s("/test/teststrategy")),
        action: None,
        duplicate_problem: false,
        problem_title: s("/ProblemTitle").or_else(|| s("/problem/ProblemTitle")),
    }
}

/// `docker.io/keptnexamples/carts:0.11.1` → (`docker.io/keptnexamples/carts`, `0.11.1`).
fn split_image(image: &str) -> (Option<String>, Option<String>) {
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(colon) => {
            let at = last_slash + colon;
            (
                Some(image[..at].to_owned()),
                Some(image[at + 1..].to_owned()),
            )
        }
        None => (Some(image.to_owned()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Images split into repository and tag, registry ports kept.
    #[test]
    fn image_split() {
        assert_eq!(
            split_image("docker.io/keptnexamples/carts:0.11.1"),
            (
                Some("docker.io/keptnexamples/carts".into()),
                Some("0.11.1".into())
            )
        );
        assert_eq!(
            split_image("localhost:5000/carts"),
            (Some("localhost:5000/carts".into()), None)
        );
    }
}
