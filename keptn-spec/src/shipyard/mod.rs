//! Shipyards: which stages a project has and what runs in each.
//!
//! [`Shipyard`] is the one canonical model, Keptn's `spec.keptn.sh/0.2.x` form: stages in
//! order, each with named sequences of tasks; a sequence may be triggered when another one
//! finishes ([`Trigger`]). The 0.1 form of Keptn 0.6/0.7 ([`ShipyardV01`], a plain stage list
//! with `deployment_strategy`, `test_strategy`, `remediation_strategy` and `approval_strategy`)
//! is read too and converted the way `keptn upgrade project --shipyard` did
//! ([`ShipyardV01::to_canonical`]), plus a `remediation` sequence for stages with
//! `remediation_strategy: automated`.
//!
//! [`Shipyard::parse`] reads either form, validates it and reports located errors and warnings:
//!
//! ```
//! use keptn_spec::{ParseOptions, shipyard::{Shipyard, TaskKind, DeploymentStrategy}};
//!
//! let src = r#"
//! stages:
//!   - name: dev
//!     deployment_strategy: direct
//!     test_strategy: functional
//!   - name: production
//!     deployment_strategy: blue_green_service
//! "#;
//! let shipyard = Shipyard::parse(src, &ParseOptions::new().file("shipyard.yaml"))?.value;
//! let prod = shipyard.stage("production").unwrap();
//! let delivery = prod.sequence("delivery").unwrap();
//! assert_eq!(delivery.triggered_on[0].event.to_string(), "dev.delivery.finished");
//! assert_eq!(
//!     delivery.tasks[0].kind()?,
//!     TaskKind::Deployment(DeploymentStrategy::BlueGreenService)
//! );
//! // a failed delivery in production triggers its rollback sequence
//! let next = shipyard.triggered_by("production", "delivery", "fail", Some("release"));
//! assert_eq!(next.len(), 1);
//! assert_eq!(next[0].1.name.as_str(), "rollback");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;
use crate::error::{Error, FieldPath, Issue, Result, Validation, did_you_mean};
use crate::names::StageName;
pub use crate::strategy::{DeploymentStrategy, TestStrategy, UnknownStrategy};
use crate::yaml::{ParseOptions, Parsed, SourceMap};

mod v01;
pub use v01::{ApprovalStrategyV01, ShipyardV01, StageV01};

/// The `apiVersion` written for shipyards this crate creates.
pub const API_VERSION: &str = "spec.keptn.sh/0.2.2";

/// The task names that Keptn gives a meaning to.
pub const RESERVED_TASKS: &[&str] = &[
    "deployment",
    "test",
    "evaluation",
    "approval",
    "release",
    "rollback",
    "remediation",
    "get-action",
    "action",
    "get-sli",
];

/// A shipyard in Keptn's `spec.keptn.sh/0.2.x` form (the canonical model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipyard {
    /// `spec.keptn.sh/0.2.x` (any `spec.keptn.sh/` version ≥ 0.2 is accepted).
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `Shipyard`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Metadata (the shipyard's name).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// The stages.
    pub spec: ShipyardSpec,
}

fn default_kind() -> String {
    "Shipyard".to_owned()
}

/// `metadata` of a shipyard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The shipyard's name, such as `shipyard-sockshop` (informational).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl Metadata {
    fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
}

/// `spec` of a shipyard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShipyardSpec {
    /// The stages in promotion order.
    #[serde(default)]
    pub stages: Vec<Stage>,
}

/// One stage: a name (also the namespace suffix) and its sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// The stage name (a Keptn entity name).
    pub name: StageName,
    /// The sequences this stage can run.
    #[serde(default)]
    pub sequences: Vec<Sequence>,
}

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

/// Why a string is not a sequence or task name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a valid {what} name: {reason}")]
pub struct InvalidTaskName {
    /// The rejected text.
    pub name: String,
    /// `sequence` or `task`.
    pub what: &'static str,
    /// What rule it breaks.
    pub reason: &'static str,
}

fn check_event_part(name: &str, what: &'static str) -> Result<(), InvalidTaskName> {
    let fail = |reason| {
        Err(InvalidTaskName {
            name: name.to_owned(),
            what,
            reason,
        })
    };
    if name.is_empty() {
        return fail("it is empty");
    }
    if name.contains('.') {
        return fail("it must not contain `.` (it becomes part of event types)");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return fail("it must not contain spaces or control characters");
    }
    if name.contains('/') || name.contains('*') || name.contains('>') {
        return fail("it must not contain `/`, `*` or `>`");
    }
    Ok(())
}

crate::names::validated_name!(
    /// A sequence name, such as `delivery` or `remediation`.
    SequenceName,
    "sequence",
    check_event_part,
    InvalidTaskName
);
crate::names::validated_name!(
    /// A task name, such as `deployment` or a custom task.
    TaskName,
    "task",
    check_event_part,
    InvalidTaskName
);

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
    fn reserved(name: &'static str) -> Self {
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
fn task_kind(task: &Task, path: &FieldPath, v: &mut Validation) -> Option<TaskKind> {
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

/// Which shipyard format a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShipyardFormat {
    /// The stage list of Keptn 0.6/0.7 (no `apiVersion`).
    V01,
    /// `spec.keptn.sh/0.2.x` (Keptn 0.8+).
    V02,
}

impl ShipyardFormat {
    /// Detects the format of a shipyard document: `apiVersion` means 0.2, a top-level `stages`
    /// list means 0.1. `None` when it looks like neither.
    pub fn detect(src: &str) -> Option<Self> {
        Self::detect_in(&SourceMap::build(src))
    }

    pub(crate) fn detect_in(map: &SourceMap) -> Option<Self> {
        let keys = map.keys(&FieldPath::root());
        if keys.contains(&"apiVersion") || keys.contains(&"spec") {
            Some(Self::V02)
        } else if keys.contains(&"stages") {
            Some(Self::V01)
        } else {
            None
        }
    }
}

impl Shipyard {
    /// Reads a shipyard in either format (0.1 is converted, see [`ShipyardV01::to_canonical`])
    /// and validates it ([`Shipyard::validate`]). Warnings (unknown keys, questionable values)
    /// are in [`Parsed::warnings`].
    ///
    /// # Errors
    /// [`Error::Parse`] when the text is not a shipyard of either form; [`Error::Invalid`]
    /// listing every broken rule, each located.
    pub fn parse(src: &str, options: &ParseOptions) -> Result<Parsed<Shipyard>> {
        Self::parse_with_format(src, options).map(|p| p.map(|(_, s)| s))
    }

    /// Reads and validates a shipyard in either format, as [`Shipyard::parse`] with default
    /// options, without the warnings.
    ///
    /// # Errors
    /// As [`Shipyard::parse`].
    pub fn from_yaml_str(src: &str) -> Result<Self> {
        Ok(Self::parse(src, &ParseOptions::new())?.value)
    }

    /// As [`Shipyard::parse`], also telling which format the source was in.
    ///
    /// # Errors
    /// As [`Shipyard::parse`].
    pub fn parse_with_format(
        src: &str,
        options: &ParseOptions,
    ) -> Result<Parsed<(ShipyardFormat, Shipyard)>> {
        let map = SourceMap::build(src);
        match ShipyardFormat::detect_in(&map) {
            Some(ShipyardFormat::V01) => {
                let parsed = options.parse::<ShipyardV01>(src).map_err(|e| match e {
                    Error::Parse {
                        file,
                        location,
                        message,
                    } if message.contains(".approval_strategy: ")
                        && message.ends_with("found a sequence") =>
                    {
                        Error::Parse {
                            file,
                            location,
                            message: format!(
                                "{message} (write `approval_strategy: {{pass: …, warning: …}}`; \
                                 Keptn never accepted the list form of the 0.1 spec text)"
                            ),
                        }
                    }
                    other => other,
                })?;
                let validation = parsed.value.validate();
                let parsed = parsed.check(validation)?;
                let parsed = parsed.map(|v01| v01.to_canonical());
                let validation = parsed.value.validate();
                let parsed = parsed.check(validation)?;
                Ok(parsed.map(|s| (ShipyardFormat::V01, s)))
            }
            _ => {
                let parsed = options.parse::<Shipyard>(src)?;
                let mut validation = parsed.value.validate();
                // the 0.8.0-alpha `triggers` list was converted; say so
                for (si, stage) in parsed.value.spec.stages.iter().enumerate() {
                    for (qi, _) in stage.sequences.iter().enumerate() {
                        let p = FieldPath::root()
                            .key("spec")
                            .key("stages")
                            .index(si)
                            .key("sequences")
                            .index(qi);
                        if parsed.source_map().get(&p.key("triggers")).is_some() {
                            validation.warning(Issue::new(
                                p.key("triggers"),
                                "`triggers` is the Keptn 0.8.0-alpha form; read as `triggeredOn` \
                                 (write `triggeredOn: [{event: …}]`)",
                            ));
                        }
                    }
                }
                let parsed = parsed.check(validation)?;
                Ok(parsed.map(|s| (ShipyardFormat::V02, s)))
            }
        }
    }

    /// A new, empty shipyard with [`API_VERSION`].
    pub fn new(name: &str) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            kind: default_kind(),
            metadata: Metadata {
                name: name.to_owned(),
            },
            spec: ShipyardSpec::default(),
        }
    }

    /// The stages in promotion order.
    pub fn stages(&self) -> &[Stage] {
        &self.spec.stages
    }

    /// The stage called `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.spec.stages.iter().find(|s| s.name.as_str() == name)
    }

    /// The first stage (the target of a new artifact).
    pub fn first_stage(&self) -> Option<&Stage> {
        self.spec.stages.first()
    }

    /// The stage after `name` in list order, if any.
    pub fn next_stage(&self, name: &str) -> Option<&Stage> {
        let i = self
            .spec
            .stages
            .iter()
            .position(|s| s.name.as_str() == name)?;
        self.spec.stages.get(i + 1)
    }

    /// The sequences (in any stage, in shipyard order) that start when `stage.sequence`
    /// finished with `result` after running `last_task` ([`Trigger::fires_on`]).
    pub fn triggered_by(
        &self,
        stage: &str,
        sequence: &str,
        result: &str,
        last_task: Option<&str>,
    ) -> Vec<(&Stage, &Sequence)> {
        let mut out = Vec::new();
        for st in &self.spec.stages {
            for seq in &st.sequences {
                let fires = seq.triggered_on.iter().any(|t| {
                    t.event.stage.as_str() == stage
                        && t.event.sequence.as_str() == sequence
                        && t.fires_on(result, last_task)
                });
                if fires {
                    out.push((st, seq));
                }
            }
        }
        out
    }

    /// Checks the rules beyond the shape: a supported `apiVersion`, at least one stage, no
    /// duplicate stages or sequences, every `triggeredOn` naming an existing sequence, typed
    /// properties of reserved tasks, understood selectors. Paths are those of the 0.2 form.
    pub fn validate(&self) -> Validation {
        let mut v = Validation::default();
        let root = FieldPath::root();
        check_api_version(&self.api_version, &root.key("apiVersion"), &mut v);
        if self.kind != "Shipyard" {
            v.warning(
                Issue::new(
                    root.key("kind"),
                    format!("kind is `{}`, expected `Shipyard`", self.kind),
                )
                .with_suggestion(did_you_mean(&self.kind, ["Shipyard"])),
            );
        }
        let stages_path = root.key("spec").key("stages");
        if self.spec.stages.is_empty() {
            v.error(Issue::new(
                stages_path.clone(),
                "a shipyard needs at least one stage",
            ));
        }
        let mut seen_stages: HashMap<&str, usize> = HashMap::new();
        // every `stage.sequence` that exists
        let mut existing: Vec<String> = Vec::new();
        for (si, stage) in self.spec.stages.iter().enumerate() {
            let sp = stages_path.index(si);
            if let Some(first) = seen_stages.insert(stage.name.as_str(), si) {
                seen_stages.insert(stage.name.as_str(), first);
                v.error(Issue::new(
                    sp.key("name"),
                    format!(
                        "duplicate stage `{}` (already defined at {})",
                        stage.name,
                        stages_path.index(first)
                    ),
                ));
            }
            // the built-in evaluation sequence exists in every stage
            existing.push(format!("{}.evaluation", stage.name));
            let mut seen_seq: HashMap<&str, usize> = HashMap::new();
            for (qi, seq) in stage.sequences.iter().enumerate() {
                let qp = sp.key("sequences").index(qi);
                if let Some(first) = seen_seq.insert(seq.name.as_str(), qi) {
                    seen_seq.insert(seq.name.as_str(), first);
                    v.error(Issue::new(
                        qp.key("name"),
                        format!(
                            "duplicate sequence `{}` in stage `{}` (already defined at {})",
                            seq.name,
                            stage.name,
                            sp.key("sequences").index(first)
                        ),
                    ));
                }
                existing.push(format!("{}.{}", stage.name, seq.name));
            }
        }
        for (si, stage) in self.spec.stages.iter().enumerate() {
            for (qi, seq) in stage.sequences.iter().enumerate() {
                let qp = stages_path.index(si).key("sequences").index(qi);
                if seq.tasks.is_empty() {
                    v.warning(Issue::new(
                        qp.key("tasks"),
                        format!(
                            "sequence `{}` has no tasks; it finishes at once with `pass`",
                            seq.name
                        ),
                    ));
                }
                for (ti, trig) in seq.triggered_on.iter().enumerate() {
                    let tp = qp.key("triggeredOn").index(ti);
                    let target = format!("{}.{}", trig.event.stage, trig.event.sequence);
                    if !existing.contains(&target) {
                        let suggestion = did_you_mean(&target, existing.iter().map(String::as_str))
                            .map(|s| format!("{s}.finished"));
                        v.error(
                            Issue::new(
                                tp.key("event"),
                                format!(
                                    "`{}` names no existing sequence (no sequence `{}` in {})",
                                    trig.event,
                                    trig.event.sequence,
                                    if self.stage(trig.event.stage.as_str()).is_some() {
                                        format!("stage `{}`", trig.event.stage)
                                    } else {
                                        format!("an unknown stage `{}`", trig.event.stage)
                                    }
                                ),
                            )
                            .with_suggestion(suggestion),
                        );
                    }
                    if let Some(sel) = &trig.selector {
                        check_selector(sel, &tp.key("selector").key("match"), &mut v);
                    }
                }
                for (ti, task) in seq.tasks.iter().enumerate() {
                    let tp = qp.key("tasks").index(ti);
                    let _ = task_kind(task, &tp, &mut v);
                }
            }
        }
        v
    }
}

fn check_selector(sel: &Selector, path: &FieldPath, v: &mut Validation) {
    for (key, value) in &sel.matches {
        let kp = path.key(key);
        if key != "result" && !key.ends_with(".result") {
            v.warning(
                Issue::new(
                    kp.clone(),
                    format!(
                        "selector key `{key}` is ignored: only `result` and `<task>.result` are \
                         understood"
                    ),
                )
                .with_suggestion(did_you_mean(key, ["result"])),
            );
        }
        match value.as_str() {
            "pass" | "warning" | "fail" => {}
            "failed" => v.warning(
                Issue::new(
                    kp,
                    "`failed` never matches: finished sequences report `fail`".to_owned(),
                )
                .with_suggestion(Some("fail".to_owned())),
            ),
            other => v.warning(
                Issue::new(
                    kp,
                    format!("`{other}` never matches: results are `pass`, `warning` or `fail`"),
                )
                .with_suggestion(did_you_mean(other, ["pass", "warning", "fail"])),
            ),
        }
    }
}

fn check_api_version(api: &str, path: &FieldPath, v: &mut Validation) {
    let Some(version) = api.strip_prefix("spec.keptn.sh/") else {
        v.error(Issue::new(
            path.clone(),
            format!("unsupported apiVersion `{api}` (expected `spec.keptn.sh/0.2.x`)"),
        ));
        return;
    };
    let mut parts = version.split('.');
    let nums: Vec<Option<u64>> = (0..3)
        .map(|_| {
            parts
                .next()
                .map(|p| p.parse::<u64>().ok())
                .unwrap_or(Some(0))
        })
        .collect();
    let ok = parts.next().is_none()
        && nums.iter().all(Option::is_some)
        && (nums[0].unwrap_or(0), nums[1].unwrap_or(0)) >= (0, 2);
    if !ok {
        v.error(Issue::new(
            path.clone(),
            format!(
                "unsupported apiVersion `{api}` (expected `spec.keptn.sh/` with a version of at \
                 least 0.2, such as `spec.keptn.sh/0.2.2`; convert older shipyards with \
                 `keptn upgrade project --shipyard` or use the 0.1 stage list without apiVersion)"
            ),
        ));
    }
}

impl Stage {
    /// A stage without sequences.
    pub fn new(name: StageName) -> Self {
        Self {
            name,
            sequences: Vec::new(),
        }
    }

    /// The sequence called `name` (the first one, as Keptn looks it up).
    pub fn sequence(&self, name: &str) -> Option<&Sequence> {
        self.sequences.iter().find(|s| s.name.as_str() == name)
    }

    /// The sequence called `name`, or Keptn's built-in one-task `evaluation` sequence when
    /// `name` is `evaluation` and the stage defines none (quality-gate-only projects).
    pub fn sequence_or_builtin(&self, name: &str) -> Option<Cow<'_, Sequence>> {
        match self.sequence(name) {
            Some(s) => Some(Cow::Borrowed(s)),
            None if name == "evaluation" => Some(Cow::Owned(Sequence::builtin_evaluation())),
            None => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Parsed<Shipyard>> {
        Shipyard::parse(src, &ParseOptions::new().file("shipyard.yaml"))
    }

    const V02: &str = r#"apiVersion: "spec.keptn.sh/0.2.2"
kind: "Shipyard"
metadata:
  name: "shipyard-sockshop"
spec:
  stages:
    - name: "dev"
      sequences:
        - name: "delivery"
          tasks:
            - name: "deployment"
              properties:
                deploymentstrategy: "direct"
            - name: "test"
              properties:
                teststrategy: "functional"
            - name: "evaluation"
            - name: "release"
    - name: "production"
      sequences:
        - name: "delivery"
          triggeredOn:
            - event: "dev.delivery.finished"
          tasks:
            - name: "deployment"
              properties:
                deploymentstrategy: "blue_green_service"
            - name: "approval"
              properties:
                pass: "automatic"
                warning: "manual"
            - name: "release"
        - name: "rollback"
          triggeredOn:
            - event: "production.delivery.finished"
              selector:
                match:
                  result: "fail"
          tasks:
            - name: "rollback"
        - name: "remediation"
          triggeredOn:
            - event: "production.remediation.finished"
              selector:
                match:
                  evaluation.result: "fail"
          tasks:
            - name: "get-action"
            - name: "action"
            - name: "evaluation"
              triggeredAfter: "15m"
              properties:
                timeframe: "15m"
"#;

    /// A complete 0.2 shipyard loads with typed tasks and no warnings.
    #[test]
    fn reads_v02_with_typed_tasks() {
        let p = parse(V02).unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let s = &p.value;
        assert_eq!(s.stages().len(), 2);
        let prod = s.stage("production").unwrap();
        let kinds: Vec<TaskKind> = prod
            .sequence("delivery")
            .unwrap()
            .tasks
            .iter()
            .map(|t| t.kind().unwrap())
            .collect();
        assert_eq!(
            kinds,
            vec![
                TaskKind::Deployment(DeploymentStrategy::BlueGreenService),
                TaskKind::Approval(ApprovalStrategy {
                    pass: ApprovalMode::Automatic,
                    warning: ApprovalMode::Manual
                }),
                TaskKind::Release,
            ]
        );
        let rem = prod.sequence("remediation").unwrap();
        assert_eq!(rem.tasks[2].triggered_after, Some("15m".parse().unwrap()));
        assert_eq!(
            rem.tasks[2].kind().unwrap(),
            TaskKind::Evaluation {
                timeframe: Some("15m".parse().unwrap())
            }
        );
        assert_eq!(
            s.next_stage("dev").map(|st| st.name.as_str()),
            Some("production")
        );
        assert!(s.next_stage("production").is_none());
    }

    /// Triggers follow the shipyard-controller rules: no selector fires on pass and warning,
    /// selectors compare `result` or `<last task>.result`.
    #[test]
    fn triggers_follow_keptn_rules() {
        let s = parse(V02).unwrap().value;
        let names = |v: Vec<(&Stage, &Sequence)>| -> Vec<String> {
            v.iter()
                .map(|(st, q)| format!("{}.{}", st.name, q.name))
                .collect()
        };
        assert_eq!(
            names(s.triggered_by("dev", "delivery", "pass", Some("release"))),
            ["production.delivery"]
        );
        assert_eq!(
            names(s.triggered_by("dev", "delivery", "warning", Some("release"))),
            ["production.delivery"]
        );
        assert!(
            s.triggered_by("dev", "delivery", "fail", Some("release"))
                .is_empty()
        );
        assert_eq!(
            names(s.triggered_by("production", "delivery", "fail", Some("deployment"))),
            ["production.rollback"]
        );
        assert!(
            s.triggered_by("production", "delivery", "failed", Some("deployment"))
                .is_empty()
        );
        assert_eq!(
            names(s.triggered_by("production", "remediation", "fail", Some("evaluation"))),
            ["production.remediation"]
        );
        assert!(
            s.triggered_by("production", "remediation", "fail", Some("action"))
                .is_empty()
        );
    }

    /// The Keptn tutorial's 0.1 shipyard converts per the upgrade mapping plus a remediation sequence.
    #[test]
    fn converts_v01() {
        let src = "stages:\n  - name: dev\n    deployment_strategy: direct\n    test_strategy: functional\n  - name: staging\n    approval_strategy:\n      pass: automatic\n      warning: manual\n    deployment_strategy: blue_green_service\n    test_strategy: performance\n  - name: production\n    deployment_strategy: blue_green_service\n    remediation_strategy: automated\n";
        let (format, s) = Shipyard::parse_with_format(src, &ParseOptions::new())
            .unwrap()
            .value;
        assert_eq!(format, ShipyardFormat::V01);
        let seqs = |st: &str| -> Vec<String> {
            s.stage(st)
                .unwrap()
                .sequences
                .iter()
                .map(|q| q.name.to_string())
                .collect()
        };
        assert_eq!(seqs("dev"), ["delivery", "delivery-direct"]);
        assert_eq!(seqs("staging"), ["delivery", "delivery-direct", "rollback"]);
        assert_eq!(
            seqs("production"),
            ["delivery", "delivery-direct", "rollback", "remediation"]
        );
        let staging = s.stage("staging").unwrap().sequence("delivery").unwrap();
        let names: Vec<&str> = staging.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["deployment", "test", "evaluation", "approval", "release"]
        );
        assert_eq!(
            staging.triggered_on[0].event.to_string(),
            "dev.delivery.finished"
        );
        let prod = s.stage("production").unwrap().sequence("delivery").unwrap();
        let names: Vec<&str> = prod.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["deployment", "evaluation", "release"]);
        assert_eq!(
            prod.tasks[0].kind().unwrap(),
            TaskKind::Deployment(DeploymentStrategy::BlueGreenService)
        );
        let direct = s
            .stage("production")
            .unwrap()
            .sequence("delivery-direct")
            .unwrap();
        assert_eq!(
            direct.tasks[0].kind().unwrap(),
            TaskKind::Deployment(DeploymentStrategy::Direct)
        );
        assert!(s.validate().is_valid());
    }
}
