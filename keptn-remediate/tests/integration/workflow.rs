//! The workflow with in-memory actions, verifiers and event sink.

use std::time::Duration;

use keptn_remediate::testing::{InMemoryScaler, RecordingAction, ScriptedVerifier};
use keptn_remediate::{
    ActionRegistry, ActionStatus, Error, Mode, Problem, RemediationStatus, Remediator,
    RemediatorBuilder, ScalingAction, Verification, VerifyError,
};
use keptn_spec::event::{KeptnContext, KeptnEvent, MemoryEventSink};

const SEED_06: &str = r#"remediations:
- name: "Response time degradation"
  actions:
    - action: featuretoggle
      value: EnableItemCache:on
- name: "Failure rate increase"
  actions:
    - action: featuretoggle
      value: EnablePromotion:off
"#;

const THREE_STEPS: &str = r#"apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata:
  name: carts-remediation
spec:
  remediations:
    - problemType: Response time degradation
      actionsOnOpen:
        - action: first
          name: first step
          value: "1"
        - action: second
          name: second step
          value: "2"
        - action: third
          name: third step
          value: "3"
"#;

fn problem(pid: &str, title: &str) -> Problem {
    Problem::new(
        pid,
        title,
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap())
}

struct Setup {
    remediator: Remediator,
    sink: MemoryEventSink,
    actions: Vec<RecordingAction>,
    verifier: ScriptedVerifier,
}

#[track_caller]
fn setup(
    yaml: &str,
    actions: Vec<RecordingAction>,
    answers: Vec<Result<Verification, VerifyError>>,
    mode: Mode,
) -> Setup {
    setup_with(yaml, actions, answers, mode, |b| b)
}

/// [`setup`], with `tweak` applied to the remediator's builder last.
fn setup_with(
    yaml: &str,
    actions: Vec<RecordingAction>,
    answers: Vec<Result<Verification, VerifyError>>,
    mode: Mode,
    tweak: impl FnOnce(RemediatorBuilder) -> RemediatorBuilder,
) -> Setup {
    let mut registry = ActionRegistry::new();
    for a in &actions {
        registry = registry.with(a.clone());
    }
    let sink = MemoryEventSink::new();
    let verifier = ScriptedVerifier::new(answers);
    let remediator = tweak(
        Remediator::builder(registry)
            .verifier(verifier.clone())
            .event_sink(sink.clone())
            .wait(Duration::from_secs(600))
            .mode(mode),
    )
    .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            Some("carts".parse().unwrap()),
            yaml,
            Some("remediation.yaml"),
        )
        .unwrap();
    Setup {
        remediator,
        sink,
        actions,
        verifier,
    }
}

fn types(sink: &MemoryEventSink) -> Vec<String> {
    sink.types().iter().map(ToString::to_string).collect()
}

fn resolved() -> Result<Verification, VerifyError> {
    Ok(Verification::Resolved("gate passed".into()))
}

fn unresolved() -> Result<Verification, VerifyError> {
    Ok(Verification::Unresolved("gate failed".into()))
}

/// The Keptn tutorial's finale: "Failure rate increase" matches the 0.6 entry by prefix, its toggle runs
/// with `EnablePromotion:off`, the verification passes, and the events tell the whole story.
#[tokio::test(start_paused = true)]
async fn seed_problem_runs_the_matching_toggle_and_resolves() {
    let s = setup(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![resolved()],
        Mode::Execute,
    );
    let report = s
        .remediator
        .on_problem_open(problem(
            "PID-1",
            "Failure rate increase on Web request /carts",
        ))
        .await;
    assert_eq!(report.status, RemediationStatus::Resolved, "{report:#?}");
    let matched = report.matched.as_ref().unwrap();
    assert_eq!(matched.problem_type, "Failure rate increase");
    assert_eq!(matched.matched_by, "title-prefix");
    assert_eq!(report.steps.len(), 1);
    assert!(report.steps[0].verification.as_ref().unwrap().resolved);
    let calls = s.actions[0].calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].value().unwrap().as_text(),
        Some("EnablePromotion:off")
    );
    assert_eq!(
        types(&s.sink),
        [
            "sh.keptn.event.production.remediation.triggered",
            "sh.keptn.event.production.remediation.started",
            "sh.keptn.event.action.triggered",
            "sh.keptn.event.action.started",
            "sh.keptn.event.action.finished",
            "sh.keptn.event.evaluation.triggered",
            "sh.keptn.event.evaluation.started",
            "sh.keptn.event.evaluation.finished",
            "sh.keptn.event.production.remediation.finished",
        ]
    );
    let evaluation = s
        .sink
        .events()
        .into_iter()
        .find(|e| e.ty.to_string() == "sh.keptn.event.evaluation.finished")
        .unwrap();
    assert_eq!(evaluation.data["result"], "pass");
    assert_eq!(evaluation.data["evaluation"]["result"], "pass");
    assert_eq!(evaluation.data["evaluation"]["score"], 100.0);
}

/// Every event is in the context derived from the PID (as Keptn's API derives it), and every
/// started/finished event answers its triggered event.
#[tokio::test(start_paused = true)]
async fn events_share_the_pid_context_and_answer_their_triggers() {
    let s = setup(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![resolved()],
        Mode::Execute,
    );
    let pid = "-2389542023040931083_1576063740000V2";
    let report = s
        .remediator
        .on_problem_open(problem(pid, "Failure rate increase"))
        .await;
    let ctx = KeptnContext::from_ingress(pid);
    assert_eq!(report.keptn_context, ctx.to_string());
    let events = s.sink.events();
    assert!(events.iter().all(|e| e.shkeptncontext == Some(ctx)));
    let triggered: Vec<&KeptnEvent> = events.iter().filter(|e| e.ty.is_triggered()).collect();
    assert_eq!(triggered.len(), 3);
    for t in triggered {
        let answers = events
            .iter()
            .filter(|e| e.triggeredid.as_ref() == Some(&t.id))
            .count();
        assert_eq!(answers, 2, "{} needs started and finished", t.ty);
    }
    let finished = events.last().unwrap();
    assert_eq!(finished.data["result"], "pass");
    assert_eq!(finished.data["project"], "sockshop");
    assert_eq!(finished.data["service"], "carts");
    let action_triggered = &events[2];
    assert_eq!(
        action_triggered.data["action"]["value"],
        "EnablePromotion:off"
    );
    assert_eq!(action_triggered.data["problem"]["PID"], pid);
}

/// Actions run one at a time and stop as soon as a verification says resolved.
#[tokio::test(start_paused = true)]
async fn actions_run_in_order_until_resolved() {
    let actions = vec![
        RecordingAction::new("first"),
        RecordingAction::new("second"),
        RecordingAction::new("third"),
    ];
    let s = setup(
        THREE_STEPS,
        actions,
        vec![unresolved(), resolved()],
        Mode::Execute,
    );
    let report = s
        .remediator
        .on_problem_open(problem("P2", "Response time degradation"))
        .await;
    assert_eq!(report.status, RemediationStatus::Resolved);
    assert_eq!(report.matched.as_ref().unwrap().matched_by, "title");
    assert_eq!(report.steps.len(), 2);
    assert_eq!(s.actions[0].calls().len(), 1);
    assert_eq!(s.actions[1].calls().len(), 1);
    assert!(s.actions[2].calls().is_empty(), "third action must not run");
    assert_eq!(s.verifier.calls(), 2);
}

/// When every action ran and the problem is still open, the workflow escalates: a
/// remediation.finished with result fail and Keptn's message.
#[tokio::test(start_paused = true)]
async fn exhausted_actions_escalate() {
    let actions = vec![
        RecordingAction::new("first"),
        RecordingAction::new("second"),
        RecordingAction::new("third"),
    ];
    let s = setup(THREE_STEPS, actions, vec![], Mode::Execute);
    let report = s
        .remediator
        .on_problem_open(problem("P3", "Response time degradation"))
        .await;
    assert_eq!(report.status, RemediationStatus::Escalated);
    assert_eq!(report.steps.len(), 3);
    assert!(report.message.contains(
        "No further remediation action configured for problem type Response time degradation"
    ));
    let last = s.sink.last().unwrap();
    assert_eq!(
        last.ty.to_string(),
        "sh.keptn.event.production.remediation.finished"
    );
    assert_eq!(last.data["result"], "fail");
}

/// A failed action is reported (not swallowed), is not verified, and the next action runs.
#[tokio::test(start_paused = true)]
async fn failed_action_is_reported_and_the_next_one_runs() {
    let actions = vec![
        RecordingAction::new("first").fail_on("1"),
        RecordingAction::new("second"),
        RecordingAction::new("third"),
    ];
    let s = setup(THREE_STEPS, actions, vec![resolved()], Mode::Execute);
    let report = s
        .remediator
        .on_problem_open(problem("P4", "Response time degradation"))
        .await;
    assert_eq!(report.status, RemediationStatus::Resolved);
    assert_eq!(report.steps[0].outcome.status, ActionStatus::Failed);
    assert_eq!(report.steps[0].outcome.message, "first failed as scripted");
    assert!(report.steps[0].verification.is_none());
    assert_eq!(report.steps[1].outcome.status, ActionStatus::Succeeded);
    assert_eq!(s.verifier.calls(), 1);
    let action_finished: Vec<_> = s
        .sink
        .events()
        .into_iter()
        .filter(|e| e.ty.to_string() == "sh.keptn.event.action.finished")
        .collect();
    assert_eq!(action_finished[0].data["status"], "errored");
    assert_eq!(action_finished[0].data["result"], "fail");
    assert_eq!(
        action_finished[0].data["message"],
        "first failed as scripted"
    );
}

/// A verifier that cannot answer never counts as resolved.
#[tokio::test(start_paused = true)]
async fn verifier_errors_count_as_unresolved() {
    let s = setup(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![Err(VerifyError::new("gate", "no SLI data"))],
        Mode::Execute,
    );
    let report = s
        .remediator
        .on_problem_open(problem("P5", "Failure rate increase"))
        .await;
    assert_eq!(report.status, RemediationStatus::Escalated);
    let v = report.steps[0].verification.as_ref().unwrap();
    assert!(!v.resolved);
    assert!(v.reason.contains("no SLI data"), "{}", v.reason);
}

/// Two notifications with the same PID, even concurrent, run the actions once.
#[tokio::test(start_paused = true)]
async fn duplicate_pid_never_starts_a_second_workflow() {
    let s = setup(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![resolved(), resolved()],
        Mode::Execute,
    );
    let a = s.remediator.clone();
    let b = s.remediator.clone();
    let (r1, r2) = tokio::join!(
        a.on_problem_open(problem("PID-dup", "Failure rate increase")),
        b.on_problem_open(problem("PID-dup", "Failure rate increase")),
    );
    let statuses = [r1.status, r2.status];
    assert!(
        statuses.contains(&RemediationStatus::Resolved),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&RemediationStatus::Duplicate),
        "{statuses:?}"
    );
    // And again after it finished.
    let r3 = s
        .remediator
        .on_problem_open(problem("PID-dup", "Failure rate increase"))
        .await;
    assert_eq!(r3.status, RemediationStatus::Duplicate);
    assert_eq!(s.actions[0].calls().len(), 1);
    assert_eq!(
        s.sink
            .of_type(&"sh.keptn.event.action.triggered".parse().unwrap())
            .len(),
        1
    );
}

/// PIDs are forgotten after `remember_problems` (memory stays bounded in a long-running
/// process), but never while their workflow runs, and every notification renews the memory.
#[tokio::test(start_paused = true)]
async fn pids_are_forgotten_after_the_retention_but_not_while_running() {
    let s = setup_with(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![resolved(), resolved()],
        Mode::Execute,
        |b| b.remember_problems(Duration::from_secs(300)),
    );
    let remediator = &s.remediator;
    // While the workflow runs (it waits 600 s before verifying), its PID is known.
    let running = tokio::spawn({
        let r = remediator.clone();
        async move {
            r.on_problem_open(problem("P-old", "Failure rate increase"))
                .await
        }
    });
    // 400 s into the 600 s wait: longer than the retention, still known because it runs.
    tokio::time::sleep(Duration::from_secs(400)).await;
    let dup = remediator
        .on_problem_open(problem("P-old", "Failure rate increase"))
        .await;
    assert_eq!(dup.status, RemediationStatus::Duplicate);
    assert_eq!(running.await.unwrap().status, RemediationStatus::Resolved);

    // 299 s after the workflow ended: still remembered (and renewed by this one).
    tokio::time::sleep(Duration::from_secs(299)).await;
    let dup = remediator
        .on_problem_open(problem("P-old", "Failure rate increase"))
        .await;
    assert_eq!(dup.status, RemediationStatus::Duplicate);
    tokio::time::sleep(Duration::from_secs(299)).await;
    assert!(remediator.on_problem_resolved("P-old"), "still known");

    // More than 300 s of silence: forgotten, so a new OPEN notification runs again.
    tokio::time::sleep(Duration::from_secs(301)).await;
    let again = remediator
        .on_problem_open(problem("P-old", "Failure rate increase"))
        .await;
    assert_eq!(again.status, RemediationStatus::Resolved, "{again:#?}");
    assert_eq!(s.actions[0].calls().len(), 2);
}

/// A RESOLVED notification during the wait ends the workflow before the next action.
#[tokio::test(start_paused = true)]
async fn resolved_notification_stops_the_workflow() {
    let actions = vec![
        RecordingAction::new("first"),
        RecordingAction::new("second"),
        RecordingAction::new("third"),
    ];
    let s = setup(THREE_STEPS, actions, vec![], Mode::Execute);
    let running = tokio::spawn({
        let r = s.remediator.clone();
        async move {
            r.on_problem_open(problem("P6", "Response time degradation"))
                .await
        }
    });
    // Let the first action run and the workflow start waiting (wait is 600 s).
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(s.actions[0].calls().len(), 1);
    assert!(s.remediator.on_problem_resolved("P6"));
    let report = running.await.unwrap();
    assert_eq!(report.status, RemediationStatus::Resolved, "{report:#?}");
    assert!(
        s.actions[1].calls().is_empty(),
        "second action must not run"
    );
    assert!(report.message.contains("RESOLVED"), "{}", report.message);
}

/// A problem resolved before its OPEN notification arrives starts nothing.
#[tokio::test(start_paused = true)]
async fn problem_resolved_before_open_starts_nothing() {
    let s = setup(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![],
        Mode::Execute,
    );
    assert!(!s.remediator.on_problem_resolved("P7"));
    let report = s
        .remediator
        .on_problem_open(problem("P7", "Failure rate increase"))
        .await;
    assert_eq!(report.status, RemediationStatus::Duplicate);
    assert!(report.message.contains("already resolved"));
    assert!(s.actions[0].calls().is_empty());
}

/// No matching entry: nothing runs, the sequence finishes with result fail and says why.
#[tokio::test(start_paused = true)]
async fn unmatched_problem_runs_nothing() {
    let s = setup(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![],
        Mode::Execute,
    );
    let report = s
        .remediator
        .on_problem_open(problem("P8", "CPU saturation"))
        .await;
    assert_eq!(report.status, RemediationStatus::NoMatch);
    assert!(
        report.message.contains(
            "no remediation configured for problem `CPU saturation` in sockshop/production/carts"
        ),
        "{}",
        report.message
    );
    assert!(s.actions[0].calls().is_empty());
    assert_eq!(s.sink.last().unwrap().data["result"], "fail");
}

/// A problem in a stage without any file matches nothing.
#[tokio::test(start_paused = true)]
async fn problem_in_another_stage_runs_nothing() {
    let s = setup(
        SEED_06,
        vec![RecordingAction::new("featuretoggle")],
        vec![],
        Mode::Execute,
    );
    let p = Problem::new(
        "P9",
        "Failure rate increase",
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
    );
    let report = s.remediator.on_problem_open(p).await;
    assert_eq!(report.status, RemediationStatus::NoMatch);
}

/// Dry run: says what would be done, runs nothing, emits only the sequence events.
#[tokio::test(start_paused = true)]
async fn dry_run_changes_nothing() {
    let scaler = InMemoryScaler::new().with("sockshop-production", "carts-primary", 1);
    let registry = ActionRegistry::new().with(ScalingAction::new(scaler.clone()));
    let sink = MemoryEventSink::new();
    let remediator = Remediator::builder(registry)
        .event_sink(sink.clone())
        .mode(Mode::DryRun)
        .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            "remediations:\n- name: Response time\n  actions:\n  - action: scaling\n    value: \"+2\"\n",
            None,
        )
        .unwrap();
    let report = remediator
        .on_problem_open(problem("P10", "Response time degradation"))
        .await;
    assert_eq!(report.status, RemediationStatus::DryRun);
    assert_eq!(report.steps[0].outcome.status, ActionStatus::Skipped);
    assert_eq!(
        report.steps[0].outcome.message,
        "dry run: would change the replicas of sockshop-production/carts-primary by +2"
    );
    assert_eq!(scaler.get("sockshop-production", "carts-primary"), Some(1));
    assert_eq!(
        types(&sink),
        [
            "sh.keptn.event.production.remediation.triggered",
            "sh.keptn.event.production.remediation.started",
            "sh.keptn.event.production.remediation.finished",
        ]
    );
}

/// Unknown actions and bad values are reported when the file is added, with their paths.
#[test]
fn unknown_actions_are_reported_at_load_time() {
    let registry = ActionRegistry::new()
        .with(ScalingAction::new(InMemoryScaler::new()))
        .with(RecordingAction::new("toggle-feature"));
    let remediator = Remediator::builder(registry).build();
    let err = remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            r#"apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
spec:
  remediations:
    - problemType: a
      actionsOnOpen:
        - action: scaling
          value: "lots"
        - action: restart
    - problemType: default
      actionsOnOpen:
        - action: toggle-feature
          value: {EnablePromotion: off}
"#,
            Some("production/remediation.yaml"),
        )
        .unwrap_err();
    let Error::InvalidRemediation { file, issues } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(file.as_deref(), Some("production/remediation.yaml"));
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert_eq!(
        err.to_string(),
        "remediation file production/remediation.yaml is not usable: \
         spec.remediations[0].actionsOnOpen[0]: action `scaling`: expected a replica change such as \"+1\", found `lots`; \
         spec.remediations[0].actionsOnOpen[1]: action `restart`: unknown action (registered: scaling, toggle-feature)"
    );
}

/// A file that is not YAML of either format is a located parse error naming the file.
#[test]
fn unparsable_file_is_a_located_error() {
    let remediator = Remediator::builder(ActionRegistry::new()).build();
    let err = remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            "remediations:\n- name: x\n  actions: [\n",
            Some("bad.yaml"),
        )
        .unwrap_err();
    assert!(err.to_string().contains("bad.yaml"), "{err}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains(':'), "{source}");
}

/// A service's own file wins over the stage's file.
#[tokio::test(start_paused = true)]
async fn service_file_wins_over_stage_file() {
    let stage_action = RecordingAction::new("stage-action");
    let service_action = RecordingAction::new("service-action");
    let registry = ActionRegistry::new()
        .with(stage_action.clone())
        .with(service_action.clone());
    let remediator = Remediator::builder(registry).wait(Duration::ZERO).build();
    let (project, stage) = ("sockshop".parse().unwrap(), "production".parse().unwrap());
    remediator
        .add_remediation_yaml(
            project,
            stage,
            None,
            "remediations:\n- actions:\n  - action: stage-action\n",
            None,
        )
        .unwrap();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            Some("carts".parse().unwrap()),
            "remediations:\n- actions:\n  - action: service-action\n",
            None,
        )
        .unwrap();
    remediator.on_problem_open(problem("P11", "anything")).await;
    assert_eq!(service_action.calls().len(), 1);
    assert!(stage_action.calls().is_empty());
    // A problem of another service falls back to the stage file.
    let other = Problem::new(
        "P12",
        "anything",
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("orders".parse().unwrap());
    remediator.on_problem_open(other).await;
    assert_eq!(stage_action.calls().len(), 1);
}

/// Scaling adds replicas to `{service}-primary` in `{project}-{stage}` and offers an undo.
#[tokio::test]
async fn scaling_changes_primary_replicas_and_offers_undo() {
    use keptn_remediate::{ActionContext, RemediationAction};
    let scaler = InMemoryScaler::new().with("sockshop-production", "carts-primary", 2);
    let action = ScalingAction::new(scaler.clone()).max_replicas(3);
    let step = keptn_spec::remediation::ActionSpec {
        name: "scale".into(),
        action: "scaling".into(),
        description: String::new(),
        value: Some("+1".into()),
    };
    let ctx = ActionContext::new(problem("S", "x"), step.clone());
    let out = action.execute(&ctx).await;
    assert_eq!(out.status, ActionStatus::Succeeded, "{out:?}");
    assert_eq!(scaler.get("sockshop-production", "carts-primary"), Some(3));
    assert_eq!(
        out.changes[0].target,
        "deployment:sockshop-production/carts-primary/replicas"
    );
    assert_eq!(out.changes[0].before.as_deref(), Some("2"));
    let undo = out.undo.unwrap();
    assert_eq!(undo.value.unwrap().as_text(), Some("-1"));

    // Over the limit: refused, nothing changed.
    let out = action.execute(&ctx).await;
    assert_eq!(out.status, ActionStatus::Failed);
    assert!(out.message.contains("limit 3"), "{}", out.message);
    assert_eq!(scaler.get("sockshop-production", "carts-primary"), Some(3));

    // A missing deployment is a failure with the reason.
    let other = problem("S2", "x").with_service("orders".parse().unwrap());
    let out = action.execute(&ActionContext::new(other, step)).await;
    assert_eq!(out.status, ActionStatus::Failed);
    assert_eq!(
        out.message,
        "cannot scale sockshop-production/orders-primary: deployment not found"
    );
}

mod events_in {
    use super::*;
    use keptn_remediate::ProblemNotification;
    use keptn_spec::event::{EventType, Phase};
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)] // called with `json!(..)` temporaries
    fn event(ty: EventType, data: serde_json::Value) -> KeptnEvent {
        KeptnEvent::new(
            ty,
            "dynatrace-service",
            KeptnContext::derive("PID-E"),
            &data,
        )
    }

    /// A `problem.open` without project/stage fields takes them from Dynatrace's tags.
    #[test]
    fn problem_open_reads_context_from_tags() {
        let ev = event(
            EventType::ProblemOpen,
            json!({
                "State": "OPEN", "PID": "PID-E", "ProblemID": "742", "ProblemTitle": "Failure rate increase",
                "Tags": "keptn_project:sockshop, keptn_stage:production, keptn_service:carts",
                "ImpactedEntity": "Web request /carts"
            }),
        );
        let Some(ProblemNotification::Open(p)) = ProblemNotification::from_event(&ev).unwrap()
        else {
            panic!("expected an open problem")
        };
        assert_eq!(p.pid, "PID-E");
        assert_eq!(p.title, "Failure rate increase");
        assert_eq!(p.project.as_str(), "sockshop");
        assert_eq!(p.stage.as_str(), "production");
        assert_eq!(p.service.as_ref().map(|s| s.as_str()), Some("carts"));
        assert_eq!(p.problem_id.as_deref(), Some("742"));
    }

    /// `sh.keptn.events.problem` with RESOLVED or CLOSED is a resolution.
    #[test]
    fn problem_resolved_and_closed_are_resolutions() {
        for state in ["RESOLVED", "CLOSED"] {
            let ev = event(
                EventType::Problem,
                json!({"State": state, "PID": "PID-E", "ProblemTitle": "x"}),
            );
            assert_eq!(
                ProblemNotification::from_event(&ev).unwrap(),
                Some(ProblemNotification::Resolved {
                    pid: "PID-E".into()
                })
            );
        }
    }

    /// The 0.8.4+ trigger `sh.keptn.event.<stage>.remediation.triggered` carries the problem
    /// under `problem`, with `rootCause`; the stage comes from the event type if needed.
    #[test]
    fn remediation_triggered_sequence_is_an_open_problem() {
        let ty = EventType::sequence(
            "production".parse().unwrap(),
            "remediation",
            Phase::Triggered,
        )
        .unwrap();
        let ev = event(
            ty,
            json!({"project": "sockshop", "service": "carts",
                   "problem": {"PID": "P-RT", "ProblemTitle": "Failure rate increase", "rootCause": "EnablePromotion"}}),
        );
        let Some(ProblemNotification::Open(p)) = ProblemNotification::from_event(&ev).unwrap()
        else {
            panic!("expected an open problem")
        };
        assert_eq!(p.stage.as_str(), "production");
        assert_eq!(p.root_cause.as_deref(), Some("EnablePromotion"));
    }

    /// Missing title or project is an error naming the event; other events are ignored.
    #[test]
    fn incomplete_problems_are_errors_and_other_events_are_ignored() {
        let no_title = event(
            EventType::ProblemOpen,
            json!({"PID": "1", "project": "sockshop", "stage": "production"}),
        );
        let err = ProblemNotification::from_event(&no_title).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("cannot be remediated: the problem has no `ProblemTitle`"),
            "{err}"
        );
        let no_project = event(
            EventType::ProblemOpen,
            json!({"PID": "1", "ProblemTitle": "t"}),
        );
        let err = ProblemNotification::from_event(&no_project).unwrap_err();
        assert!(
            err.to_string()
                .contains("no `project` and no `keptn_project` tag"),
            "{err}"
        );
        let other = event(
            EventType::task(keptn_spec::event::Task::Deployment, Phase::Triggered),
            json!({}),
        );
        assert_eq!(ProblemNotification::from_event(&other).unwrap(), None);
    }

    /// End to end through events: OPEN runs the remediation, a repeated OPEN is a duplicate.
    #[tokio::test(start_paused = true)]
    async fn remediator_handles_problem_events() {
        let s = setup(
            SEED_06,
            vec![RecordingAction::new("featuretoggle")],
            vec![resolved()],
            Mode::Execute,
        );
        let open = event(
            EventType::ProblemOpen,
            json!({"State": "OPEN", "PID": "PID-E", "ProblemTitle": "Failure rate increase",
                   "project": "sockshop", "stage": "production", "service": "carts"}),
        );
        let report = s.remediator.handle_event(&open).await.unwrap().unwrap();
        assert_eq!(report.status, RemediationStatus::Resolved);
        let again = s.remediator.handle_event(&open).await.unwrap().unwrap();
        assert_eq!(again.status, RemediationStatus::Duplicate);
        // The workflow's own events are not problem notifications.
        for ev in s.sink.events() {
            assert!(
                s.remediator.handle_event(&ev).await.unwrap().is_none(),
                "{}",
                ev.ty
            );
        }
        assert_eq!(s.actions[0].calls().len(), 1);
    }
}
