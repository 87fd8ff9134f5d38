//! Sequences and their triggers: [`Sequence`], [`Trigger`] with its [`Selector`], and the
//! `<stage>.<sequence>.finished` references ([`SequenceEvent`]) written in `triggeredOn`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{SequenceName, Task, TaskName};
use crate::names::StageName;

/// A named list of tasks run in one stage, optionally triggered by other sequences finishing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawSequence")]
pub struct Sequence {
    /// The sequence name, such as `delivery`.
    pub name: SequenceName,
    /// When this sequence starts by itself: after one of these sequences finished.
    #[serde(rename = "triggeredOn", default, skip_serializing_if = "Vec::is_empty")]
    pub triggered_on: Vec<Trigger>,
    /// The tasks, run in order.
    #[serde(default)]
    pub tasks: Vec<Task>,
}

/// The wire form of a sequence, which also accepts the `triggers` list of Keptn 0.8.0-alpha
/// shipyards (`triggers: ["dev.delivery.finished"]`), converted into `triggeredOn`.
#[derive(Deserialize)]
struct RawSequence {
    name: SequenceName,
    #[serde(rename = "triggeredOn", default)]
    triggered_on: Vec<Trigger>,
    #[serde(default)]
    triggers: Vec<SequenceEvent>,
    #[serde(default)]
    tasks: Vec<Task>,
}

impl From<RawSequence> for Sequence {
    fn from(raw: RawSequence) -> Self {
        let mut triggered_on = raw.triggered_on;
        triggered_on.extend(raw.triggers.into_iter().map(|event| Trigger {
            event,
            selector: None,
        }));
        Self {
            name: raw.name,
            triggered_on,
            tasks: raw.tasks,
        }
    }
}

/// Starts a sequence when another sequence finished, optionally only for some results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The finished sequence, written `<stage>.<sequence>.finished`.
    pub event: SequenceEvent,
    /// Which results of that sequence start this one; absent = `pass` or `warning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
}

/// `selector` of a trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    /// `match`: `result: fail` or `<task>.result: fail`. Keptn understands only the key `result`
    /// and `<last task>.result`; other keys are ignored.
    #[serde(rename = "match", default)]
    pub matches: BTreeMap<String, String>,
}

impl Trigger {
    /// Whether this trigger fires when its sequence finished with `result` (Keptn's result
    /// string, `pass`, `warning` or `fail`), `last_task` being the name of the sequence's last
    /// task that ran. Keptn's shipyard-controller rule (0.8+):
    /// - no selector (or an empty `match`): fires on `pass` and `warning`;
    /// - otherwise fires when `result` equals `match["result"]` or
    ///   `match["<last_task>.result"]` (so `failed` never matches a `fail`).
    pub fn fires_on(&self, result: &str, last_task: Option<&str>) -> bool {
        match &self.selector {
            Some(sel) if !sel.matches.is_empty() => {
                if sel.matches.get("result").is_some_and(|v| v == result) {
                    return true;
                }
                last_task.is_some_and(|t| {
                    sel.matches
                        .get(&format!("{t}.result"))
                        .is_some_and(|v| v == result)
                })
            }
            _ => result == "pass" || result == "warning",
        }
    }
}

/// A reference to a sequence that finished, as written in `triggeredOn`:
/// `<stage>.<sequence>.finished`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SequenceEvent {
    /// The stage of the finished sequence.
    pub stage: StageName,
    /// The finished sequence.
    pub sequence: SequenceName,
}

/// Why a string is not a `<stage>.<sequence>.finished` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a sequence event: {reason} (expected `<stage>.<sequence>.finished`)")]
pub struct InvalidSequenceEvent {
    /// The rejected text.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for SequenceEvent {
    type Err = InvalidSequenceEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| InvalidSequenceEvent {
            input: s.to_owned(),
            reason,
        };
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() != 3 {
            return Err(fail(format!(
                "it has {} dot-separated parts instead of 3",
                parts.len()
            )));
        }
        if parts[2] != "finished" {
            return Err(fail(format!(
                "only `finished` events trigger sequences, not `{}`",
                parts[2]
            )));
        }
        let stage = StageName::new(parts[0]).map_err(|e| fail(e.to_string()))?;
        let sequence = SequenceName::new(parts[1]).map_err(|e| fail(e.to_string()))?;
        Ok(Self { stage, sequence })
    }
}

impl fmt::Display for SequenceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.finished", self.stage, self.sequence)
    }
}

impl TryFrom<String> for SequenceEvent {
    type Error = InvalidSequenceEvent;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SequenceEvent> for String {
    fn from(e: SequenceEvent) -> String {
        e.to_string()
    }
}

impl Sequence {
    /// A sequence with tasks and no triggers.
    pub fn new(name: SequenceName, tasks: Vec<Task>) -> Self {
        Self {
            name,
            triggered_on: Vec::new(),
            tasks,
        }
    }

    /// Keptn's built-in `evaluation` sequence: one `evaluation` task.
    pub fn builtin_evaluation() -> Self {
        Self::new(
            SequenceName(String::from("evaluation")),
            vec![Task {
                name: TaskName(String::from("evaluation")),
                triggered_after: None,
                properties: BTreeMap::new(),
            }],
        )
    }

    /// The task at `index`.
    pub fn task(&self, index: usize) -> Option<&Task> {
        self.tasks.get(index)
    }
}
