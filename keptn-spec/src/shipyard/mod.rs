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

use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldPath, Issue, Result};
use crate::names::StageName;
pub use crate::strategy::{DeploymentStrategy, TestStrategy, UnknownStrategy};
use crate::yaml::{ParseOptions, Parsed, SourceMap};

mod sequence;
mod task;
mod v01;
mod validate;
pub use sequence::{InvalidSequenceEvent, Selector, Sequence, SequenceEvent, Trigger};
pub use task::{ApprovalMode, ApprovalStrategy, Task, TaskKind};
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
