//! The remediation sequence's tasks, as in Keptn 1.x: `get-action` chooses the next action from
//! `remediation.yaml`, `action` runs it with keptn-remediate's actions.

use async_trait::async_trait;
use keptn_remediate::{ActionContext, ActionRegistry, Remediator};
use keptn_spec::event::{
    ActionDetails, ActionFinishedData, ActionTriggeredData, EventType, GetActionFinishedData,
    GetActionTriggeredData, KeptnEvent, Payload, Phase, ProblemDetails, Status, Task, Verdict,
};
use keptn_spec::remediation::{ActionSpec, ActionValue, RemediationFile};
use keptn_spec::{Problem, ProjectName, ServiceName, StageName};

use super::answer::{common, errored};
use crate::executor::{ExecutorContext, TaskExecutor};
use crate::model::ResourceScope;
use crate::store::EventQuery;

/// The resource URI of remediation instructions.
pub const REMEDIATION_URI: &str = "remediation.yaml";

/// The `source` of the remediation executors' answers.
pub const REMEDIATION_SOURCE: &str = "remediation-service";

/// Answers `get-action.triggered` as Keptn's remediation-service: loads `remediation.yaml` of
/// the service (or of the stage), picks the remediation for the problem (root cause, else
/// title, else `default`) and returns its next action with `actionIndex` + 1. The index is the
/// number of actions this problem's context already got, so the remediation loop moves on.
/// No matching remediation, or no action left, finishes with `fail`.
#[derive(Debug, Clone, Default)]
pub struct GetActionExecutor {
    registry: Option<ActionRegistry>,
}

impl GetActionExecutor {
    /// Chooses actions without checking that they are registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Chooses actions and refuses remediation files naming actions `remediator` does not know.
    pub fn checked_by(remediator: &Remediator) -> Self {
        Self {
            registry: Some(remediator.registry().clone()),
        }
    }
}

async fn remediation_file(
    cx: &ExecutorContext,
    project: &ProjectName,
    stage: &StageName,
    service: Option<&ServiceName>,
) -> Result<Option<(RemediationFile, String)>, String> {
    let mut scopes = Vec::new();
    if let Some(service) = service {
        scopes.push(ResourceScope::service(
            project.clone(),
            stage.clone(),
            service.clone(),
        ));
    }
    scopes.push(ResourceScope::stage(project.clone(), stage.clone()));
    for scope in scopes {
        let raw = cx
            .store()
            .resource(&scope, REMEDIATION_URI)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(raw) = raw {
            let file = RemediationFile::from_yaml_str(&raw)
                .map_err(|e| format!("{REMEDIATION_URI} of {scope}: {e}"))?;
            return Ok(Some((file, scope.to_string())));
        }
    }
    Ok(None)
}

#[async_trait]
impl TaskExecutor for GetActionExecutor {
    fn task(&self) -> Task {
        Task::GetAction
    }

    fn source(&self) -> &str {
        REMEDIATION_SOURCE
    }

    async fn execute(&self, triggered: &KeptnEvent, cx: &ExecutorContext) -> Payload {
        let data: GetActionTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the get-action request: {e}")),
        };
        let (Some(project), Some(stage)) = (data.common.project.clone(), data.common.stage.clone())
        else {
            return errored("get-action needs project and stage");
        };
        let (file, scope) =
            match remediation_file(cx, &project, &stage, data.common.service.as_ref()).await {
                Ok(Some(f)) => f,
                Ok(None) => {
                    return common(
                        Status::Succeeded,
                        Verdict::Fail,
                        format!(
                            "unable to get next action: no {REMEDIATION_URI} for {project}/{stage}"
                        ),
                    );
                }
                Err(e) => return errored(e),
            };
        if let Some(registry) = &self.registry
            && let Err(e) = registry.check(&file, Some(REMEDIATION_URI))
        {
            return errored(format!("{scope}: {e}"));
        }
        let title = data.problem.problem_title.as_deref().unwrap_or_default();
        let Some(selected) = file.select(title, data.problem.root_cause.as_deref()) else {
            return common(
                Status::Succeeded,
                Verdict::Fail,
                "unable to get next action from remediation.yaml: no remediation matches the problem",
            );
        };
        // Actions this problem already got: earlier get-action answers in the same context.
        let done = match triggered.shkeptncontext {
            Some(ctx) => {
                let query = EventQuery::context(ctx)
                    .of_type(EventType::task(Task::GetAction, Phase::Finished));
                match cx.store().events(&query).await {
                    Ok(events) => events
                        .iter()
                        .filter(|e| e.triggeredid.as_ref() != Some(&triggered.id))
                        .filter(|e| e.common().is_ok_and(|c| c.result != Some(Verdict::Fail)))
                        .count(),
                    Err(e) => return errored(format!("cannot read earlier actions: {e}")),
                }
            }
            None => 0,
        };
        let index = done.max(data.action_index as usize);
        let Some(spec) = selected.actions.get(index) else {
            return common(
                Status::Succeeded,
                Verdict::Fail,
                format!(
                    "unable to get next action from remediation.yaml: all {} actions of `{}` were tried",
                    selected.actions.len(),
                    selected.problem_type
                ),
            );
        };
        let mut action = ActionDetails::default();
        action.name.clone_from(&spec.name);
        action.action.clone_from(&spec.action);
        action.description.clone_from(&spec.description);
        action.value = spec
            .value
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok());
        let mut finished = GetActionFinishedData::default();
        finished.common.status = Some(Status::Succeeded);
        finished.common.result = Some(Verdict::Pass);
        finished.common.message = Some(format!("next action: {}", spec.action));
        finished.action = Some(action);
        finished.action_index = u32::try_from(index + 1).unwrap_or(u32::MAX);
        Payload::GetActionFinished(finished)
    }
}

/// Answers `action.triggered` by running the named action of an [`ActionRegistry`] (such as
/// the Unleash toggle or scaling) — keptn-remediate's actions as Keptn's action providers.
#[derive(Debug, Clone)]
pub struct ActionExecutor {
    registry: ActionRegistry,
}

impl ActionExecutor {
    /// Runs the actions of `registry`.
    pub fn new(registry: ActionRegistry) -> Self {
        Self { registry }
    }

    /// Runs the actions `remediator` knows.
    pub fn from_remediator(remediator: &Remediator) -> Self {
        Self::new(remediator.registry().clone())
    }
}

fn problem_of(data: &ActionTriggeredData, context: &str) -> Result<Problem, String> {
    let (Some(project), Some(stage)) = (data.common.project.clone(), data.common.stage.clone())
    else {
        return Err("the action has no project and stage".to_owned());
    };
    let p: ProblemDetails = data.problem.clone().unwrap_or_default();
    let pid = p.pid.clone().unwrap_or_else(|| context.to_owned());
    let mut problem = Problem::new(
        pid,
        p.problem_title.clone().unwrap_or_default(),
        project,
        stage,
    );
    if let Some(service) = data.common.service.clone() {
        problem = problem.with_service(service);
    }
    if let Some(rc) = p.root_cause {
        problem = problem.with_root_cause(rc);
    }
    Ok(problem)
}

#[async_trait]
impl TaskExecutor for ActionExecutor {
    fn task(&self) -> Task {
        Task::Action
    }

    fn source(&self) -> &str {
        REMEDIATION_SOURCE
    }

    fn accepts(&self, triggered: &KeptnEvent) -> bool {
        triggered
            .data_as::<ActionTriggeredData>()
            .is_ok_and(|d| self.registry.get(&d.action.action).is_some())
    }

    async fn execute(&self, triggered: &KeptnEvent, _cx: &ExecutorContext) -> Payload {
        let data: ActionTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the action request: {e}")),
        };
        let context = triggered
            .shkeptncontext
            .map(|c| c.to_string())
            .unwrap_or_default();
        let problem = match problem_of(&data, &context) {
            Ok(p) => p,
            Err(e) => return errored(e),
        };
        let Some(action) = self.registry.get(&data.action.action) else {
            return errored(format!("no action `{}` is registered", data.action.action));
        };
        let value = match data
            .action
            .value
            .clone()
            .map(serde_json::from_value::<ActionValue>)
        {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => return errored(format!("action value: {e}")),
        };
        let mut step = ActionSpec::default();
        step.name.clone_from(&data.action.name);
        step.action.clone_from(&data.action.action);
        step.description.clone_from(&data.action.description);
        step.value = value;
        let outcome = action.execute(&ActionContext::new(problem, step)).await;
        let mut finished = ActionFinishedData::default();
        finished.common.status = Some(Status::Succeeded);
        finished.common.result = Some(if outcome.is_success() {
            Verdict::Pass
        } else {
            Verdict::Fail
        });
        finished.common.message = Some(outcome.message.clone());
        finished.action = Some(data.action.clone());
        Payload::ActionFinished(finished)
    }
}
