//! Keptn event types: `sh.keptn.event.<task>.<phase>`, sequence events, problem events and the
//! generation-1 names of Keptn 0.6/0.7.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::gen1_type::{GEN1_TYPES, Gen1Type};
use crate::error::Error;
use crate::names::StageName;

/// The prefix of every generation-2 event type.
pub const EVENT_PREFIX: &str = "sh.keptn.event.";

/// A Keptn task: the `<task>` of `sh.keptn.event.<task>.<phase>`.
///
/// Known tasks have their own variant; any other task name (a custom task of a shipyard) is
/// [`Task::Custom`]. Parsing a known name never yields `Custom`, and equality and hashing compare
/// the wire name, so `Task::Custom("deployment".into()) == Task::Deployment`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum Task {
    /// `deployment`: deploy a new version.
    Deployment,
    /// `test`: run functional or performance tests.
    Test,
    /// `evaluation`: run the quality gate.
    Evaluation,
    /// `approval`: wait for (automatic or manual) approval.
    Approval,
    /// `release`: promote the new version (blue/green switch).
    Release,
    /// `rollback`: discard the new version.
    Rollback,
    /// `remediation`: the self-healing loop.
    Remediation,
    /// `get-action`: choose the next remediation action.
    GetAction,
    /// `action`: run one remediation action.
    Action,
    /// `get-sli`: ask an SLI provider for values.
    GetSli,
    /// `configure-monitoring`: set up a monitoring provider.
    ConfigureMonitoring,
    /// `project.create`.
    ProjectCreate,
    /// `project.delete`.
    ProjectDelete,
    /// `service.create`.
    ServiceCreate,
    /// `service.delete`.
    ServiceDelete,
    /// Any other task, such as a custom task of a shipyard sequence.
    Custom(String),
}

const KNOWN_TASKS: [(Task, &str); 15] = [
    (Task::Deployment, "deployment"),
    (Task::Test, "test"),
    (Task::Evaluation, "evaluation"),
    (Task::Approval, "approval"),
    (Task::Release, "release"),
    (Task::Rollback, "rollback"),
    (Task::Remediation, "remediation"),
    (Task::GetAction, "get-action"),
    (Task::Action, "action"),
    (Task::GetSli, "get-sli"),
    (Task::ConfigureMonitoring, "configure-monitoring"),
    (Task::ProjectCreate, "project.create"),
    (Task::ProjectDelete, "project.delete"),
    (Task::ServiceCreate, "service.create"),
    (Task::ServiceDelete, "service.delete"),
];

impl Task {
    /// The task's wire name, such as `get-sli` or `project.create`.
    pub fn as_str(&self) -> &str {
        match self {
            Task::Deployment => "deployment",
            Task::Test => "test",
            Task::Evaluation => "evaluation",
            Task::Approval => "approval",
            Task::Release => "release",
            Task::Rollback => "rollback",
            Task::Remediation => "remediation",
            Task::GetAction => "get-action",
            Task::Action => "action",
            Task::GetSli => "get-sli",
            Task::ConfigureMonitoring => "configure-monitoring",
            Task::ProjectCreate => "project.create",
            Task::ProjectDelete => "project.delete",
            Task::ServiceCreate => "service.create",
            Task::ServiceDelete => "service.delete",
            Task::Custom(name) => name,
        }
    }

    /// Whether this is one of the tasks Keptn itself defines (not [`Task::Custom`]).
    pub fn is_known(&self) -> bool {
        KNOWN_TASKS.iter().any(|(_, name)| *name == self.as_str())
    }

    /// The phases an event of this task can have: every task has `triggered`, `started`,
    /// `status.changed` and `finished`; `evaluation` also has `invalidated`.
    pub fn allows(&self, phase: Phase) -> bool {
        phase != Phase::Invalidated || *self == Task::Evaluation
    }
}

/// Checks a custom task name: non-empty ASCII letters, digits, `-` and `_`.
fn check_custom_task(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the task name is empty");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("a task name may contain only ASCII letters, digits, `-` and `_`");
    }
    Ok(())
}

impl PartialEq for Task {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Task {}

impl std::hash::Hash for Task {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Task {
    type Err = Error;

    /// Parses a known task name or a custom one (ASCII letters, digits, `-`, `_`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((task, _)) = KNOWN_TASKS.iter().find(|(_, name)| *name == s) {
            return Ok(task.clone());
        }
        check_custom_task(s)
            .map_err(|reason| parse_error(format!("invalid task `{s}`: {reason}")))?;
        Ok(Task::Custom(s.to_owned()))
    }
}

impl TryFrom<String> for Task {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Task> for String {
    fn from(t: Task) -> String {
        match t {
            Task::Custom(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

/// The phase of a task or sequence event: the last part of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum Phase {
    /// `triggered`: asks for the task (or sequence) to run.
    Triggered,
    /// `started`: a service took the task.
    Started,
    /// `status.changed`: progress of a running task.
    StatusChanged,
    /// `finished`: the task is done (with `status` and `result`).
    Finished,
    /// `invalidated`: an evaluation was invalidated and no longer counts for comparisons
    /// (evaluation only).
    Invalidated,
}

impl Phase {
    /// The phase's wire name, such as `status.changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Triggered => "triggered",
            Phase::Started => "started",
            Phase::StatusChanged => "status.changed",
            Phase::Finished => "finished",
            Phase::Invalidated => "invalidated",
        }
    }

    /// Whether a sequence event (`sh.keptn.event.<stage>.<sequence>.<phase>`) can have this phase:
    /// `triggered`, `started` or `finished`.
    pub fn is_sequence_phase(self) -> bool {
        matches!(self, Phase::Triggered | Phase::Started | Phase::Finished)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "triggered" => Phase::Triggered,
            "started" => Phase::Started,
            "status.changed" => Phase::StatusChanged,
            "finished" => Phase::Finished,
            "invalidated" => Phase::Invalidated,
            _ => {
                return Err(parse_error(format!(
                    "unknown phase `{s}`: expected triggered, started, status.changed, finished \
                     or invalidated"
                )));
            }
        })
    }
}

impl TryFrom<String> for Phase {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Phase> for String {
    fn from(p: Phase) -> String {
        p.as_str().to_owned()
    }
}

/// The `type` of a Keptn CloudEvent, parsed.
///
/// * `sh.keptn.event.<task>.<phase>` → [`EventType::Task`] (5 dot-separated parts, or 6 for
///   `status.changed` and the dotted tasks `project.create`, `service.delete`, …);
/// * `sh.keptn.event.<stage>.<sequence>.<phase>` → [`EventType::Sequence`] (6 parts; phase
///   `triggered`, `started` or `finished`);
/// * `sh.keptn.event.problem.open` → [`EventType::ProblemOpen`], `sh.keptn.events.problem` →
///   [`EventType::Problem`];
/// * the generation-1 names of Keptn 0.6/0.7 → [`EventType::Gen1`], mapped by
///   [`EventType::to_gen2`].
///
/// Known dotted task names win over the sequence reading: `sh.keptn.event.project.create.triggered`
/// is the `project.create` task, never a sequence `create` of a stage `project`.
///
/// `Display` prints the wire string and `FromStr` parses it back; serde goes through the string.
///
/// ```
/// use keptn_spec::event::{EventType, Phase, Task};
///
/// let t: EventType = "sh.keptn.event.dev.delivery.triggered".parse()?;
/// assert!(matches!(&t, EventType::Sequence { sequence, .. } if sequence == "delivery"));
///
/// let t: EventType = "sh.keptn.events.evaluation-done".parse()?;
/// assert_eq!(t.to_gen2(), EventType::task(Task::Evaluation, Phase::Finished));
/// # Ok::<(), keptn_spec::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum EventType {
    /// A task event `sh.keptn.event.<task>.<phase>`.
    Task {
        /// The task.
        task: Task,
        /// The phase; [`Phase::Invalidated`] only with [`Task::Evaluation`].
        phase: Phase,
    },
    /// A sequence event `sh.keptn.event.<stage>.<sequence>.<phase>`.
    Sequence {
        /// The stage the sequence runs in.
        stage: StageName,
        /// The sequence name from the shipyard, such as `delivery` or `remediation`
        /// (no dots).
        sequence: String,
        /// The phase: [`Phase::Triggered`], [`Phase::Started`] or [`Phase::Finished`].
        phase: Phase,
    },
    /// `sh.keptn.event.problem.open`: a problem was detected (Keptn 0.6–0.8.3 remediation trigger).
    ProblemOpen,
    /// `sh.keptn.events.problem`: a raw problem notification (`State: OPEN`/`RESOLVED`) or its
    /// closing (`State: CLOSED`).
    Problem,
    /// A generation-1 type of Keptn 0.6/0.7.
    Gen1(Gen1Type),
}

const PROBLEM_OPEN: &str = "sh.keptn.event.problem.open";
const PROBLEM: &str = "sh.keptn.events.problem";

impl EventType {
    /// The task event `sh.keptn.event.<task>.<phase>`.
    pub fn task(task: Task, phase: Phase) -> Self {
        EventType::Task { task, phase }
    }

    /// The sequence event `sh.keptn.event.<stage>.<sequence>.<phase>`.
    ///
    /// # Errors
    /// [`Error::Parse`] when `sequence` is empty or contains anything but ASCII letters, digits,
    /// `-` and `_`, or when `phase` is not triggered, started or finished.
    pub fn sequence(
        stage: StageName,
        sequence: impl Into<String>,
        phase: Phase,
    ) -> Result<Self, Error> {
        let sequence = sequence.into();
        check_custom_task(&sequence).map_err(|reason| {
            parse_error(format!(
                "invalid sequence name `{sequence}`: {}",
                reason.replace("task", "sequence")
            ))
        })?;
        if !phase.is_sequence_phase() {
            return Err(parse_error(format!(
                "a sequence event cannot have phase `{phase}`: expected triggered, started or finished"
            )));
        }
        Ok(EventType::Sequence {
            stage,
            sequence,
            phase,
        })
    }

    /// The task, for task events.
    pub fn task_name(&self) -> Option<&Task> {
        match self {
            EventType::Task { task, .. } => Some(task),
            _ => None,
        }
    }

    /// The phase, for task and sequence events.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            EventType::Task { phase, .. } | EventType::Sequence { phase, .. } => Some(*phase),
            _ => None,
        }
    }

    /// Whether this is a task or sequence `.triggered` event.
    pub fn is_triggered(&self) -> bool {
        self.phase() == Some(Phase::Triggered)
    }

    /// Whether this is a generation-1 type.
    pub fn is_gen1(&self) -> bool {
        matches!(self, EventType::Gen1(_))
    }

    /// The same task or sequence in another phase (`None` for other events or for a phase the
    /// task or sequence cannot have).
    pub fn with_phase(&self, phase: Phase) -> Option<EventType> {
        match self {
            EventType::Task { task, .. } if task.allows(phase) => Some(EventType::Task {
                task: task.clone(),
                phase,
            }),
            EventType::Sequence {
                stage, sequence, ..
            } if phase.is_sequence_phase() => Some(EventType::Sequence {
                stage: stage.clone(),
                sequence: sequence.clone(),
                phase,
            }),
            _ => None,
        }
    }

    /// The generation-2 meaning of this type: [`Gen1Type::to_gen2`] for generation-1 types
    /// (`sh.keptn.events.log`, which has none, stays as it is); every other type is returned
    /// unchanged.
    #[must_use]
    pub fn to_gen2(&self) -> EventType {
        match self {
            EventType::Gen1(g) => g.to_gen2().unwrap_or_else(|| self.clone()),
            other => other.clone(),
        }
    }
}

fn parse_error(message: String) -> Error {
    Error::Parse {
        file: None,
        location: None,
        message,
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventType::Task { task, phase } => write!(f, "{EVENT_PREFIX}{task}.{phase}"),
            EventType::Sequence {
                stage,
                sequence,
                phase,
            } => write!(f, "{EVENT_PREFIX}{stage}.{sequence}.{phase}"),
            EventType::ProblemOpen => f.write_str(PROBLEM_OPEN),
            EventType::Problem => f.write_str(PROBLEM),
            EventType::Gen1(g) => f.write_str(g.as_str()),
        }
    }
}

impl FromStr for EventType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == PROBLEM_OPEN {
            return Ok(EventType::ProblemOpen);
        }
        if s == PROBLEM {
            return Ok(EventType::Problem);
        }
        if let Some((g, _)) = GEN1_TYPES.iter().find(|(_, name)| *name == s) {
            return Ok(EventType::Gen1(*g));
        }
        let expected = "expected `sh.keptn.event.<task>.<phase>` or \
                        `sh.keptn.event.<stage>.<sequence>.<phase>`";
        let Some(rest) = s.strip_prefix(EVENT_PREFIX) else {
            return Err(parse_error(format!(
                "`{s}` is not a Keptn event type: {expected}"
            )));
        };
        let bad = |why: String| parse_error(format!("invalid event type `{s}`: {why}"));
        let (head, phase) = if let Some(head) = rest.strip_suffix(".status.changed") {
            (head, Phase::StatusChanged)
        } else {
            let Some((head, phase)) = rest.rsplit_once('.') else {
                return Err(bad(format!("it has no phase; {expected}")));
            };
            let phase = phase.parse::<Phase>().map_err(|_| {
                bad(format!(
                    "unknown phase `{phase}`: expected triggered, started, status.changed, \
                     finished or invalidated"
                ))
            })?;
            (head, phase)
        };
        if let Some((task, _)) = KNOWN_TASKS.iter().find(|(_, name)| *name == head) {
            if !task.allows(phase) {
                return Err(bad(format!(
                    "phase `{phase}` exists only for the evaluation task"
                )));
            }
            return Ok(EventType::Task {
                task: task.clone(),
                phase,
            });
        }
        match head.split_once('.') {
            None => {
                check_custom_task(head).map_err(|reason| bad(reason.to_owned()))?;
                if phase == Phase::Invalidated {
                    return Err(bad(format!(
                        "phase `{phase}` exists only for the evaluation task"
                    )));
                }
                Ok(EventType::Task {
                    task: Task::Custom(head.to_owned()),
                    phase,
                })
            }
            Some((stage, sequence)) => {
                if sequence.contains('.') {
                    return Err(bad(format!("too many parts; {expected}")));
                }
                if !phase.is_sequence_phase() {
                    return Err(bad(format!(
                        "a sequence event cannot have phase `{phase}`: expected triggered, \
                         started or finished"
                    )));
                }
                let stage = StageName::new(stage).map_err(|e| bad(e.to_string()))?;
                check_custom_task(sequence).map_err(|reason| {
                    bad(format!("sequence `{sequence}`: {reason}")
                        .replace("task name", "sequence name"))
                })?;
                Ok(EventType::Sequence {
                    stage,
                    sequence: sequence.to_owned(),
                    phase,
                })
            }
        }
    }
}

impl TryFrom<String> for EventType {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EventType> for String {
    fn from(t: EventType) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn parse(s: &str) -> EventType {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[track_caller]
    fn parse_err(s: &str) -> String {
        s.parse::<EventType>().unwrap_err().to_string()
    }

    /// Every known task in every phase parses to a task event and prints back unchanged.
    #[test]
    fn every_known_task_and_phase_round_trips() {
        let phases = [
            Phase::Triggered,
            Phase::Started,
            Phase::StatusChanged,
            Phase::Finished,
        ];
        for (task, name) in KNOWN_TASKS.iter() {
            for phase in phases {
                let s = format!("sh.keptn.event.{name}.{phase}");
                let t = parse(&s);
                assert_eq!(t, EventType::task(task.clone(), phase), "{s}");
                assert_eq!(t.to_string(), s);
            }
        }
        let s = "sh.keptn.event.evaluation.invalidated";
        assert_eq!(
            parse(s),
            EventType::task(Task::Evaluation, Phase::Invalidated)
        );
    }

    /// Six parts without a known dotted task is a sequence event.
    #[test]
    fn six_parts_is_a_sequence() {
        let t = parse("sh.keptn.event.production.remediation.finished");
        assert_eq!(
            t,
            EventType::Sequence {
                stage: StageName::new("production").unwrap(),
                sequence: "remediation".into(),
                phase: Phase::Finished,
            }
        );
        assert_eq!(
            t.to_string(),
            "sh.keptn.event.production.remediation.finished"
        );
    }

    /// `project.create` is a task, not a sequence `create` in a stage `project`.
    #[test]
    fn dotted_known_task_wins_over_sequence() {
        assert_eq!(
            parse("sh.keptn.event.project.create.finished"),
            EventType::task(Task::ProjectCreate, Phase::Finished)
        );
        assert_eq!(
            parse("sh.keptn.event.service.delete.status.changed"),
            EventType::task(Task::ServiceDelete, Phase::StatusChanged)
        );
    }

    /// A custom task of a shipyard parses as `Task::Custom`.
    #[test]
    fn custom_task_is_accepted() {
        let t = parse("sh.keptn.event.securityscan.started");
        assert_eq!(
            t,
            EventType::task(Task::Custom("securityscan".into()), Phase::Started)
        );
        assert!(!t.task_name().unwrap().is_known());
    }

    /// Problem events and every generation-1 name parse and print back.
    #[test]
    fn problem_and_gen1_names_round_trip() {
        assert_eq!(parse("sh.keptn.event.problem.open"), EventType::ProblemOpen);
        assert_eq!(parse("sh.keptn.events.problem"), EventType::Problem);
        for g in Gen1Type::ALL {
            let t = parse(g.as_str());
            assert_eq!(t, EventType::Gen1(g));
            assert_eq!(t.to_string(), g.as_str());
        }
    }

    /// The mapping of generation-1 event types to generation-2 tasks.
    #[test]
    fn gen1_types_map_to_their_gen2_meaning() {
        let cases = [
            (
                "sh.keptn.event.configuration.change",
                "sh.keptn.event.deployment.triggered",
            ),
            (
                "sh.keptn.events.deployment-finished",
                "sh.keptn.event.deployment.finished",
            ),
            (
                "sh.keptn.events.tests-finished",
                "sh.keptn.event.test.finished",
            ),
            (
                "sh.keptn.event.start-evaluation",
                "sh.keptn.event.evaluation.triggered",
            ),
            (
                "sh.keptn.events.evaluation-done",
                "sh.keptn.event.evaluation.finished",
            ),
            (
                "sh.keptn.internal.event.get-sli",
                "sh.keptn.event.get-sli.triggered",
            ),
            (
                "sh.keptn.internal.event.get-sli.done",
                "sh.keptn.event.get-sli.finished",
            ),
            (
                "sh.keptn.internal.event.project.create",
                "sh.keptn.event.project.create.triggered",
            ),
            (
                "sh.keptn.internal.event.project.delete",
                "sh.keptn.event.project.delete.triggered",
            ),
            (
                "sh.keptn.internal.event.service.create",
                "sh.keptn.event.service.create.triggered",
            ),
            (
                "sh.keptn.internal.event.service.delete",
                "sh.keptn.event.service.delete.triggered",
            ),
            (
                "sh.keptn.event.monitoring.configure",
                "sh.keptn.event.configure-monitoring.triggered",
            ),
            ("sh.keptn.events.log", "sh.keptn.events.log"),
            (
                "sh.keptn.event.approval.finished",
                "sh.keptn.event.approval.finished",
            ),
            ("sh.keptn.event.problem.open", "sh.keptn.event.problem.open"),
        ];
        for (gen1, gen2) in cases {
            assert_eq!(parse(gen1).to_gen2().to_string(), gen2, "{gen1}");
        }
    }

    /// Bad types are rejected with messages naming the input and what was expected.
    #[test]
    fn bad_types_have_clear_messages() {
        insta::assert_snapshot!(parse_err("com.example.deployed"), @"`com.example.deployed` is not a Keptn event type: expected `sh.keptn.event.<task>.<phase>` or `sh.keptn.event.<stage>.<sequence>.<phase>`");
        insta::assert_snapshot!(parse_err("sh.keptn.event.deployment.done"), @"invalid event type `sh.keptn.event.deployment.done`: unknown phase `done`: expected triggered, started, status.changed, finished or invalidated");
        insta::assert_snapshot!(parse_err("sh.keptn.event.test.invalidated"), @"invalid event type `sh.keptn.event.test.invalidated`: phase `invalidated` exists only for the evaluation task");
        insta::assert_snapshot!(parse_err("sh.keptn.event.dev.delivery.status.changed"), @r#"invalid event type `sh.keptn.event.dev.delivery.status.changed`: a sequence event cannot have phase `status.changed`: expected triggered, started or finished"#);
        insta::assert_snapshot!(parse_err("sh.keptn.event.Dev.delivery.triggered"), @r#"invalid event type `sh.keptn.event.Dev.delivery.triggered`: `Dev` is not a valid Keptn stage name: it must start with a lowercase letter"#);
        insta::assert_snapshot!(parse_err("sh.keptn.event.a.b.c.triggered"), @r#"invalid event type `sh.keptn.event.a.b.c.triggered`: too many parts; expected `sh.keptn.event.<task>.<phase>` or `sh.keptn.event.<stage>.<sequence>.<phase>`"#);
        insta::assert_snapshot!(parse_err("sh.keptn.event.triggered"), @r#"invalid event type `sh.keptn.event.triggered`: it has no phase; expected `sh.keptn.event.<task>.<phase>` or `sh.keptn.event.<stage>.<sequence>.<phase>`"#);
        insta::assert_snapshot!(parse_err("sh.keptn.event..triggered"), @r#"invalid event type `sh.keptn.event..triggered`: the task name is empty"#);
    }

    /// `with_phase` keeps the task or sequence and refuses impossible phases.
    #[test]
    fn with_phase_switches_phase() {
        let t = parse("sh.keptn.event.dev.delivery.triggered");
        assert_eq!(
            t.with_phase(Phase::Finished).unwrap().to_string(),
            "sh.keptn.event.dev.delivery.finished"
        );
        assert_eq!(t.with_phase(Phase::StatusChanged), None);
        assert_eq!(EventType::ProblemOpen.with_phase(Phase::Finished), None);
    }

    /// Custom tasks compare equal to known ones by wire name.
    #[test]
    fn task_equality_is_by_name() {
        assert_eq!(Task::Custom("deployment".into()), Task::Deployment);
        assert_eq!("get-sli".parse::<Task>().unwrap(), Task::GetSli);
    }

    /// Event types serialize as their strings.
    #[test]
    fn event_type_serde_is_a_string() {
        let t = parse("sh.keptn.event.get-sli.triggered");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"sh.keptn.event.get-sli.triggered\"");
        assert_eq!(serde_json::from_str::<EventType>(&json).unwrap(), t);
    }
}
