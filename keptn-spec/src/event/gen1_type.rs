//! The generation-1 event type names of Keptn 0.6/0.7 and their generation-2 meaning.

use std::fmt;

use super::types::{EventType, Phase, Task};

/// A generation-1 event type of Keptn 0.6/0.7, accepted on input and mapped to its
/// generation-2 meaning by [`Gen1Type::to_gen2`].
///
/// The 0.7 approval, remediation and action events already used the generation-2 names
/// (`sh.keptn.event.approval.triggered`, …), so they parse as [`EventType::Task`]; their
/// generation-1 origin shows in the envelope's `specversion` (`0.2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Gen1Type {
    /// `sh.keptn.internal.event.project.create` → `project.create.triggered`.
    ProjectCreate,
    /// `sh.keptn.internal.event.project.delete` → `project.delete.triggered`.
    ProjectDelete,
    /// `sh.keptn.internal.event.service.create` → `service.create.triggered`.
    ServiceCreate,
    /// `sh.keptn.internal.event.service.delete` → `service.delete.triggered`.
    ServiceDelete,
    /// `sh.keptn.event.configuration.change` → `deployment.triggered` (or `release`/`rollback`
    /// by its `canary.action`, which only a mapping that sees the data can tell).
    ConfigurationChange,
    /// `sh.keptn.events.deployment-finished` → `deployment.finished`.
    DeploymentFinished,
    /// `sh.keptn.events.tests-finished` → `test.finished`.
    TestsFinished,
    /// `sh.keptn.event.start-evaluation` → `evaluation.triggered`.
    StartEvaluation,
    /// `sh.keptn.events.evaluation-done` → `evaluation.finished`.
    EvaluationDone,
    /// `sh.keptn.internal.event.get-sli` → `get-sli.triggered`.
    GetSli,
    /// `sh.keptn.internal.event.get-sli.done` → `get-sli.finished`.
    GetSliDone,
    /// `sh.keptn.event.monitoring.configure` → `configure-monitoring.triggered`.
    ConfigureMonitoring,
    /// `sh.keptn.events.log`: log lines for the CLI; no generation-2 equivalent.
    Log,
}

pub(super) const GEN1_TYPES: [(Gen1Type, &str); 13] = [
    (
        Gen1Type::ProjectCreate,
        "sh.keptn.internal.event.project.create",
    ),
    (
        Gen1Type::ProjectDelete,
        "sh.keptn.internal.event.project.delete",
    ),
    (
        Gen1Type::ServiceCreate,
        "sh.keptn.internal.event.service.create",
    ),
    (
        Gen1Type::ServiceDelete,
        "sh.keptn.internal.event.service.delete",
    ),
    (
        Gen1Type::ConfigurationChange,
        "sh.keptn.event.configuration.change",
    ),
    (
        Gen1Type::DeploymentFinished,
        "sh.keptn.events.deployment-finished",
    ),
    (Gen1Type::TestsFinished, "sh.keptn.events.tests-finished"),
    (Gen1Type::StartEvaluation, "sh.keptn.event.start-evaluation"),
    (Gen1Type::EvaluationDone, "sh.keptn.events.evaluation-done"),
    (Gen1Type::GetSli, "sh.keptn.internal.event.get-sli"),
    (Gen1Type::GetSliDone, "sh.keptn.internal.event.get-sli.done"),
    (
        Gen1Type::ConfigureMonitoring,
        "sh.keptn.event.monitoring.configure",
    ),
    (Gen1Type::Log, "sh.keptn.events.log"),
];

impl Gen1Type {
    /// Every generation-1 type this crate knows.
    pub const ALL: [Gen1Type; 13] = [
        Gen1Type::ProjectCreate,
        Gen1Type::ProjectDelete,
        Gen1Type::ServiceCreate,
        Gen1Type::ServiceDelete,
        Gen1Type::ConfigurationChange,
        Gen1Type::DeploymentFinished,
        Gen1Type::TestsFinished,
        Gen1Type::StartEvaluation,
        Gen1Type::EvaluationDone,
        Gen1Type::GetSli,
        Gen1Type::GetSliDone,
        Gen1Type::ConfigureMonitoring,
        Gen1Type::Log,
    ];

    /// The full type string, such as `sh.keptn.events.deployment-finished`.
    pub fn as_str(self) -> &'static str {
        GEN1_TYPES
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("", |(_, s)| s)
    }

    /// The generation-2 event with the same meaning, or `None` for [`Gen1Type::Log`], which has
    /// none.
    ///
    /// | generation 1 | generation 2 |
    /// |---|---|
    /// | `sh.keptn.internal.event.project.create` | `sh.keptn.event.project.create.triggered` |
    /// | `sh.keptn.internal.event.project.delete` | `sh.keptn.event.project.delete.triggered` |
    /// | `sh.keptn.internal.event.service.create` | `sh.keptn.event.service.create.triggered` |
    /// | `sh.keptn.internal.event.service.delete` | `sh.keptn.event.service.delete.triggered` |
    /// | `sh.keptn.event.configuration.change` | `sh.keptn.event.deployment.triggered` |
    /// | `sh.keptn.events.deployment-finished` | `sh.keptn.event.deployment.finished` |
    /// | `sh.keptn.events.tests-finished` | `sh.keptn.event.test.finished` |
    /// | `sh.keptn.event.start-evaluation` | `sh.keptn.event.evaluation.triggered` |
    /// | `sh.keptn.events.evaluation-done` | `sh.keptn.event.evaluation.finished` |
    /// | `sh.keptn.internal.event.get-sli` | `sh.keptn.event.get-sli.triggered` |
    /// | `sh.keptn.internal.event.get-sli.done` | `sh.keptn.event.get-sli.finished` |
    /// | `sh.keptn.event.monitoring.configure` | `sh.keptn.event.configure-monitoring.triggered` |
    /// | `sh.keptn.events.log` | none |
    ///
    /// A `configuration.change` whose `canary.action` is `promote` or `discard` means
    /// `release`/`rollback`; only a mapping that sees the data can tell.
    pub fn to_gen2(self) -> Option<EventType> {
        let (task, phase) = match self {
            Gen1Type::ProjectCreate => (Task::ProjectCreate, Phase::Triggered),
            Gen1Type::ProjectDelete => (Task::ProjectDelete, Phase::Triggered),
            Gen1Type::ServiceCreate => (Task::ServiceCreate, Phase::Triggered),
            Gen1Type::ServiceDelete => (Task::ServiceDelete, Phase::Triggered),
            Gen1Type::ConfigurationChange => (Task::Deployment, Phase::Triggered),
            Gen1Type::DeploymentFinished => (Task::Deployment, Phase::Finished),
            Gen1Type::TestsFinished => (Task::Test, Phase::Finished),
            Gen1Type::StartEvaluation => (Task::Evaluation, Phase::Triggered),
            Gen1Type::EvaluationDone => (Task::Evaluation, Phase::Finished),
            Gen1Type::GetSli => (Task::GetSli, Phase::Triggered),
            Gen1Type::GetSliDone => (Task::GetSli, Phase::Finished),
            Gen1Type::ConfigureMonitoring => (Task::ConfigureMonitoring, Phase::Triggered),
            Gen1Type::Log => return None,
        };
        Some(EventType::Task { task, phase })
    }
}

impl fmt::Display for Gen1Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
