//! Tasks of a sequence: [`Task`] and its typed view [`TaskKind`], with the checks of reserved
//! tasks' properties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DeploymentStrategy, InvalidTaskName, RESERVED_TASKS, TaskName, TestStrategy};
use crate::duration::GoDuration;
use crate::error::{Error, FieldPath, Issue, Result, Validation, did_you_mean};

/// One task of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The task name; reserved names ([`RESERVED_TASKS`]) have a meaning, others are custom
    /// tasks handled by whoever listens for `sh.keptn.event.<name>.triggered`.
    pub name: TaskName,
    /// Wait this long before triggering the task (`triggeredAfter`, spec 0.2.2).
    #[serde(
        rename = "triggeredAfter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub triggered_after: Option<GoDuration>,
    /// The task's properties, passed to the task as `data.<name>` of its `.triggered` event.
    /// See [`Task::kind`] for the typed view of reserved tasks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, serde_json::Value>,
}

/// Whether an approval for one result is given automatically or waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalMode {
    /// Approved at once.
    Automatic,
    /// Waits for a manual `approval.finished`.
    Manual,
}

impl ApprovalMode {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Manual => "manual",
        }
    }
}

/// The properties of an `approval` task: how `pass` and `warning` results are approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApprovalStrategy {
    /// For a `pass` result.
    pub pass: ApprovalMode,
    /// For a `warning` result.
    pub warning: ApprovalMode,
}

/// The typed view of a task: reserved task names with their typed properties.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskKind {
    /// `deployment` with `deploymentstrategy` (absent = [`DeploymentStrategy::Direct`]).
    Deployment(DeploymentStrategy),
    /// `test` with `teststrategy` (absent or empty = no tests).
    Test(Option<TestStrategy>),
    /// `evaluation`, optionally with the `timeframe` to evaluate.
    Evaluation {
        /// How far back from the evaluation's start the window reaches, when set.
        timeframe: Option<GoDuration>,
    },
    /// `approval` with `pass`/`warning`. A missing property is `manual`, as in Keptn's
    /// approval-service (the spec text said automatic; the implementation required the literal).
    Approval(ApprovalStrategy),
    /// `release` (promote the new version).
    Release,
    /// `rollback` (discard the new version).
    Rollback,
    /// `remediation`.
    Remediation,
    /// `get-action` (choose the next remediation action).
    GetAction,
    /// `action` (run a remediation action).
    Action,
    /// `get-sli` (fetch SLI values).
    GetSli,
    /// Any other task name.
    Custom,
}

impl Task {
    /// A task with a name and no properties.
    ///
    /// # Errors
    /// [`InvalidTaskName`] as [`TaskName::new`].
    pub fn new(name: &str) -> Result<Self, InvalidTaskName> {
        Ok(Self {
            name: TaskName::new(name)?,
            triggered_after: None,
            properties: BTreeMap::new(),
        })
    }

    /// A task with a known-valid name (crate-internal constants).
    pub(super) fn reserved(name: &'static str) -> Self {
        Self {
            name: TaskName(name.to_owned()),
            triggered_after: None,
            properties: BTreeMap::new(),
        }
    }

    /// Adds a string property.
    #[must_use]
    pub fn with_property(mut self, key: &str, value: &str) -> Self {
        self.properties
            .insert(key.to_owned(), serde_json::Value::String(value.to_owned()));
        self
    }

    /// The typed view of this task.
    ///
    /// # Errors
    /// [`Error::Invalid`] when a reserved task has a property of the wrong type or an unknown
    /// value (for example `deploymentstrategy: blue_gren_service`).
    pub fn kind(&self) -> Result<TaskKind> {
        let mut v = Validation::default();
        let kind = task_kind(self, &FieldPath::root(), &mut v);
        match kind {
            Some(k) if v.errors.is_empty() => Ok(k),
            _ => Err(Error::Invalid {
                file: None,
                problems: v
                    .errors
                    .into_iter()
                    .map(|i| crate::error::Diagnostic {
                        file: None,
                        location: None,
                        path: i.path,
                        message: i.message,
                        suggestion: i.suggestion,
                    })
                    .collect(),
            }),
        }
    }
}

fn string_property<'a>(
    task: &'a Task,
    key: &str,
    path: &FieldPath,
    v: &mut Validation,
) -> Option<&'a str> {
    match task.properties.get(key)? {
        serde_json::Value::String(s) => Some(s),
        other => {
            v.error(Issue::new(
                path.key("properties").key(key),
                format!("expected a string, found `{other}`"),
            ));
            None
        }
    }
}

fn warn_unknown_properties(task: &Task, known: &[&str], path: &FieldPath, v: &mut Validation) {
    for key in task.properties.keys() {
        if !known.contains(&key.as_str()) {
            let suggestion = did_you_mean(key, known.iter().copied());
            let message = if suggestion.is_some() {
                format!(
                    "`{}` tasks do not read the property `{key}`; it is passed on unchanged",
                    task.name
                )
            } else {
                format!(
                    "`{}` tasks do not read the property `{key}`; it is passed on unchanged \
                     (known: {})",
                    task.name,
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            v.warning(
                Issue::new(path.key("properties").key(key), message).with_suggestion(suggestion),
            );
        }
    }
}

/// Checks a task's properties and returns its typed view; problems go to `v`.
pub(super) fn task_kind(task: &Task, path: &FieldPath, v: &mut Validation) -> Option<TaskKind> {
    let errors_before = v.errors.len();
    let kind = match task.name.as_str() {
        "deployment" => {
            warn_unknown_properties(task, &["deploymentstrategy"], path, v);
            let strategy = match string_property(task, "deploymentstrategy", path, v) {
                None => DeploymentStrategy::Direct,
                Some(s) => match DeploymentStrategy::from_wire(s) {
                    Some(d) => d,
                    None => {
                        v.error(
                            Issue::new(
                                path.key("properties").key("deploymentstrategy"),
                                format!(
                                    "unknown deployment strategy `{s}` (expected `direct`, \
                                     `blue_green_service` or `user_managed`)"
                                ),
                            )
                            .with_suggestion(did_you_mean(
                                s,
                                DeploymentStrategy::NAMES.iter().copied(),
                            )),
                        );
                        DeploymentStrategy::Direct
                    }
                },
            };
            TaskKind::Deployment(strategy)
        }
        "test" => {
            warn_unknown_properties(task, &["teststrategy"], path, v);
            let s = string_property(task, "teststrategy", path, v).unwrap_or("");
            TaskKind::Test(TestStrategy::from_wire(s))
        }
        "evaluation" => {
            warn_unknown_properties(task, &["timeframe"], path, v);
            let timeframe = string_property(task, "timeframe", path, v).and_then(|s| {
                match s.parse::<GoDuration>() {
                    Ok(d) => Some(d),
                    Err(e) => {
                        v.error(Issue::new(
                            path.key("properties").key("timeframe"),
                            e.to_string(),
                        ));
                        None
                    }
                }
            });
            TaskKind::Evaluation { timeframe }
        }
        "approval" => {
            warn_unknown_properties(task, &["pass", "warning"], path, v);
            let mut mode = |key: &str| match string_property(task, key, path, v) {
                Some("automatic") => ApprovalMode::Automatic,
                Some("manual") => ApprovalMode::Manual,
                Some(other) => {
                    v.error(
                        Issue::new(
                            path.key("properties").key(key),
                            format!(
                                "unknown approval mode `{other}` (expected `automatic` or `manual`)"
                            ),
                        )
                        .with_suggestion(did_you_mean(other, ["automatic", "manual"])),
                    );
                    ApprovalMode::Manual
                }
                None => {
                    v.warning(Issue::new(
                        path.key("properties"),
                        format!(
                            "no `{key}` property: a `{key}` result waits for manual approval \
                             (as in Keptn's approval-service)"
                        ),
                    ));
                    ApprovalMode::Manual
                }
            };
            let pass = mode("pass");
            let warning = mode("warning");
            TaskKind::Approval(ApprovalStrategy { pass, warning })
        }
        "release" => TaskKind::Release,
        "rollback" => TaskKind::Rollback,
        "remediation" => TaskKind::Remediation,
        "get-action" => TaskKind::GetAction,
        "action" => TaskKind::Action,
        "get-sli" => TaskKind::GetSli,
        other => {
            if let Some(s) = did_you_mean(other, RESERVED_TASKS.iter().copied()) {
                v.warning(
                    Issue::new(
                        path.key("name"),
                        format!("`{other}` is not a reserved task; it runs as a custom task"),
                    )
                    .with_suggestion(Some(s)),
                );
            }
            TaskKind::Custom
        }
    };
    (v.errors.len() == errors_before).then_some(kind)
}
