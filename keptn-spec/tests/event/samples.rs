//! Sample events written from Keptn's documented event shapes (evaluation, get-sli, task
//! events, remediation, problems, approval), read through the envelope and the typed payloads.

use serde_json::{Value, json};

use keptn_spec::SliValue;
use keptn_spec::event::*;

const CTX: &str = "5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e";
const TRIGGERED_ID: &str = "f2b878d3-03c0-4e8f-bc3f-454bc1b3d79b";

/// A generation-2 event around `data`; answers (`phase` other than triggered) carry
/// `triggeredid`.
#[track_caller]
fn gen2(ty: &str, source: &str, data: Value) -> KeptnEvent {
    let mut src = json!({
        "specversion": "1.0", "id": "0d3c2b1a-9f8e-4d7c-a6b5-4c3d2e1f0a9b", "source": source,
        "type": ty, "time": "2021-03-04T10:11:12.123Z", "datacontenttype": "application/json",
        "shkeptncontext": CTX, "shkeptnspecversion": "0.2.1",
    });
    if !ty.ends_with(".triggered") {
        src["triggeredid"] = json!(TRIGGERED_ID);
    }
    src["data"] = data;
    let text = serde_json::to_string_pretty(&src).unwrap();
    let ev = KeptnEvent::from_json_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // The JSON written back is the JSON read.
    let written: Value = serde_json::from_str(&ev.to_json_string()).unwrap();
    assert_eq!(written, src);
    ev
}

/// `deployment.triggered` from the shipyard-controller for `keptn trigger delivery`.
#[test]
fn deployment_triggered() {
    let ev = gen2(
        "sh.keptn.event.deployment.triggered",
        "shipyard-controller",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "labels": {"buildId": "17"},
               "configurationChange": {"values": {"image": "docker.io/keptnexamples/carts:0.11.2"}},
               "deployment": {"deploymentstrategy": "blue_green_service"}}),
    );
    let Payload::DeploymentTriggered(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.common.stage.unwrap().as_str(), "staging");
    assert_eq!(
        d.configuration_change.unwrap().values["image"],
        "docker.io/keptnexamples/carts:0.11.2"
    );
    assert_eq!(
        d.deployment.unwrap().deploymentstrategy.as_deref(),
        Some("blue_green_service")
    );
}

/// `deployment.finished` of a blue/green deployment with names, URIs and commit.
#[test]
fn deployment_finished() {
    let ev = gen2(
        "sh.keptn.event.deployment.finished",
        "helm-service",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "status": "succeeded", "result": "pass", "message": "deployed",
               "deployment": {"deploymentstrategy": "blue_green_service",
                              "deploymentURIsLocal": ["http://carts-canary.sockshop-staging:80"],
                              "deploymentURIsPublic": ["http://carts.sockshop-staging.example.com"],
                              "deploymentNames": ["canary"], "gitCommit": "a1b2c3d"}}),
    );
    let Payload::DeploymentFinished(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    let dep = d.deployment.unwrap();
    assert_eq!(dep.deployment_names, ["canary"]);
    assert_eq!(dep.git_commit.as_deref(), Some("a1b2c3d"));
    assert_eq!(d.common.result, Some(Verdict::Pass));
}

/// `test.triggered` / `test.finished`.
#[test]
fn test_triggered_and_finished() {
    let t = gen2(
        "sh.keptn.event.test.triggered",
        "shipyard-controller",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "test": {"teststrategy": "performance"},
               "deployment": {"deploymentURIsLocal": ["http://carts-canary.sockshop-staging:80"]}}),
    );
    let Payload::TestTriggered(d) = t.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.test.unwrap().teststrategy.as_deref(), Some("performance"));

    let f = gen2(
        "sh.keptn.event.test.finished",
        "jmeter-service",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "status": "succeeded", "result": "pass",
               "test": {"start": "2021-03-04T10:00:00.000Z", "end": "2021-03-04T10:10:00.000Z",
                        "gitCommit": "a1b2c3d"}}),
    );
    let Payload::TestFinished(d) = f.validate().unwrap() else {
        panic!("wrong payload")
    };
    let test = d.test.unwrap();
    assert_eq!((test.end.unwrap() - test.start.unwrap()).num_minutes(), 10);
}

/// `evaluation.triggered` of `keptn trigger evaluation --timeframe 5m`.
#[test]
fn evaluation_triggered() {
    let ev = gen2(
        "sh.keptn.event.evaluation.triggered",
        "shipyard-controller",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "test": {"start": "2021-03-04T10:00:00.000Z", "end": "2021-03-04T10:10:00.000Z"},
               "evaluation": {"timeframe": "5m"},
               "deployment": {"deploymentNames": ["canary"]}}),
    );
    let Payload::EvaluationTriggered(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.evaluation.unwrap().timeframe.as_deref(), Some("5m"));
    assert_eq!(d.deployment.unwrap().deployment_names, ["canary"]);
}

/// The gen-2 `evaluation.finished` example.
#[test]
fn evaluation_finished() {
    let ev = gen2(
        "sh.keptn.event.evaluation.finished",
        "lighthouse-service",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "labels": {"buildId": "17"}, "status": "succeeded", "result": "fail",
               "message": "response_time_p95 violated its pass criteria",
               "evaluation": {
                   "timeStart": "2021-03-04T10:00:00.000Z", "timeEnd": "2021-03-04T10:10:00.000Z",
                   "result": "fail", "score": 50, "sloFileContent": "", "comparedEvents": [],
                   "gitCommit": "",
                   "indicatorResults": [
                       {"score": 0.5, "status": "warning", "displayName": "Response time P95",
                        "keySli": false,
                        "value": {"metric": "response_time_p95", "value": 700, "success": true,
                                  "message": "", "comparedValue": 520},
                        "passTargets": [{"criteria": "<=+10%", "targetValue": 572, "violated": true},
                                        {"criteria": "<600", "targetValue": 600, "violated": true}],
                        "warningTargets": [{"criteria": "<=800", "targetValue": 800, "violated": false}]}]}}),
    );
    let Payload::EvaluationFinished(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.result, Verdict::Fail);
    assert_eq!(
        d.evaluation.indicator_results()[0]
            .value()
            .map(|v| v.compared_value),
        Some(520.0)
    );
}

/// `get-sli.triggered` and `get-sli.finished`, one value failed.
#[test]
fn get_sli_triggered_and_finished() {
    let t = gen2(
        "sh.keptn.event.get-sli.triggered",
        "lighthouse-service",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "get-sli": {"sliProvider": "dynatrace", "start": "2019-10-28T15:44:27.152Z",
                           "end": "2019-10-28T15:54:27.152Z",
                           "indicators": ["throughput", "error_rate", "response_time_p95"],
                           "customFilters": [{"key": "mz_id", "value": "4711"}]},
               "deployment": "canary"}),
    );
    let Payload::GetSliTriggered(d) = t.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(
        d.get_sli.indicators,
        ["throughput", "error_rate", "response_time_p95"]
    );

    let f = gen2(
        "sh.keptn.event.get-sli.finished",
        "dynatrace-sli-service",
        json!({"project": "sockshop", "stage": "staging", "service": "carts",
               "status": "succeeded", "result": "pass",
               "get-sli": {"start": "2019-10-28T15:44:27.152Z", "end": "2019-10-28T15:54:27.152Z",
                           "indicatorValues": [
                               {"metric": "throughput", "value": 32.5, "success": true},
                               {"metric": "error_rate", "value": 0, "success": false,
                                "message": "Dynatrace Metrics API returned no data points"}]}}),
    );
    let Payload::GetSliFinished(d) = f.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(
        d.get_sli.indicator_values[0],
        SliValue::ok("throughput", 32.5)
    );
    assert!(!d.get_sli.indicator_values[1].success);
}

/// `approval.triggered`: a warning with `warning: manual` waits for a human.
#[test]
fn approval_triggered() {
    let ev = gen2(
        "sh.keptn.event.approval.triggered",
        "shipyard-controller",
        json!({"project": "sockshop", "stage": "production", "service": "carts",
               "result": "warning", "approval": {"pass": "automatic", "warning": "manual"}}),
    );
    let Payload::ApprovalTriggered(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    let strategy = d.approval.unwrap();
    assert!(!strategy.approves_automatically(d.common.result.unwrap()));
    assert!(strategy.approves_automatically(Verdict::Pass));
    assert!(!ApprovalStrategy::default().approves_automatically(Verdict::Pass));
}

/// Dynatrace's raw problem notification as the API receives it: capitalized fields,
/// raw `ProblemDetails`, `ImpactedEntities`, tags; the PID-derived context.
#[test]
fn dynatrace_problem_notification() {
    let pid = "-2389542023040931083_1576063740000V2";
    let src = json!({
        "specversion": "1.0", "id": "1c4e7d3a-5b6f-4e8d-9a0b-2c3d4e5f6a7b", "source": "dynatrace",
        "type": "sh.keptn.events.problem", "datacontenttype": "application/json",
        "shkeptncontext": KeptnContext::from_ingress(pid).to_string(),
        "data": {
            "State": "RESOLVED", "ProblemID": "1234", "PID": pid,
            "ProblemTitle": "Failure rate increase",
            "ProblemDetails": {"displayName": "1234", "endTime": -1, "hasRootCause": true,
                               "id": pid, "impactLevel": "SERVICE", "severityLevel": "ERROR",
                               "startTime": 1576063740000_i64, "status": "OPEN"},
            "ProblemURL": "https://abc12345.live.dynatrace.com/#problems/problemdetails;pid=-2389542023040931083_1576063740000V2",
            "ImpactedEntity": "Failure rate increase on Web request service carts",
            "ImpactedEntities": [{"type": "SERVICE", "name": "carts", "entity": "SERVICE-2B8B8E3E5DBA5B41"}],
            "Tags": "keptn_project:sockshop, keptn_stage:production, keptn_service:carts, url:http://x:80"
        }
    });
    let ev = KeptnEvent::from_json_str(&src.to_string()).unwrap();
    assert_eq!(
        ev.shkeptncontext.unwrap().to_string(),
        "2d323338-3935-4432-b032-333034303933"
    );
    let Payload::Problem(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    let p = &d.problem;
    assert_eq!(p.state, Some(ProblemState::Resolved));
    assert_eq!(p.tag("keptn_stage"), Some("production"));
    assert_eq!(p.tag("keptn_service"), Some("carts"));
    assert_eq!(
        p.tag_as_keptn("url"),
        Some("http"),
        "Keptn's split at `:` cuts the value"
    );
    assert_eq!(
        p.tag("url"),
        Some("http://x:80"),
        "our reading keeps the whole value"
    );
    assert_eq!(p.tag_as_keptn("keptn_stage"), Some("production"));
    assert_eq!(p.tag("missing"), None);
    assert_eq!(
        p.problem_details.as_ref().unwrap()["severityLevel"],
        "ERROR"
    );
    let written: Value = serde_json::from_str(&ev.to_json_string()).unwrap();
    assert_eq!(written, src);
}

/// `problem.open` from dynatrace-service, with lowercase project/stage/service.
#[test]
fn problem_open() {
    let ev = gen2(
        "sh.keptn.event.problem.open",
        "dynatrace-service",
        json!({"State": "OPEN", "ProblemID": "1234", "PID": "-2389542023040931083_1576063740000V2",
               "ProblemTitle": "Response time degradation", "ImpactedEntity": "carts",
               "Tags": "keptn_project:sockshop, keptn_stage:production, keptn_service:carts",
               "project": "sockshop", "stage": "production", "service": "carts"}),
    );
    let Payload::Problem(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.problem.state, Some(ProblemState::Open));
    assert_eq!(d.common.service.unwrap().as_str(), "carts");
}

/// The 0.8.4+ remediation loop: sequence trigger, get-action, action.
#[test]
fn remediation_sequence() {
    let problem = json!({"State": "OPEN", "ProblemID": "1234", "PID": "P-1",
                         "ProblemTitle": "Failure rate increase", "rootCause": "EnablePromotion"});
    let t = gen2(
        "sh.keptn.event.production.remediation.triggered",
        "dynatrace-service",
        json!({"project": "sockshop", "stage": "production", "service": "carts", "problem": problem}),
    );
    let Payload::RemediationTriggered(d) = t.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.problem.root_cause.as_deref(), Some("EnablePromotion"));

    let ga = gen2(
        "sh.keptn.event.get-action.triggered",
        "shipyard-controller",
        json!({"project": "sockshop", "stage": "production", "service": "carts",
               "problem": problem, "actionIndex": 0}),
    );
    assert!(
        matches!(ga.validate().unwrap(), Payload::GetActionTriggered(d) if d.action_index == 0)
    );

    let action = json!({"name": "Toggle feature flag", "action": "toggle-feature",
                        "description": "Toggle feature flag EnablePromotion to OFF",
                        "value": {"EnablePromotion": "off"}});
    let gf = gen2(
        "sh.keptn.event.get-action.finished",
        "remediation-service",
        json!({"project": "sockshop", "stage": "production", "service": "carts",
               "status": "succeeded", "result": "pass", "action": action, "actionIndex": 1}),
    );
    let Payload::GetActionFinished(d) = gf.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.action_index, 1);
    assert_eq!(d.action.unwrap().value.unwrap()["EnablePromotion"], "off");

    let at = gen2(
        "sh.keptn.event.action.triggered",
        "shipyard-controller",
        json!({"project": "sockshop", "stage": "production", "service": "carts",
               "action": action, "problem": problem}),
    );
    let Payload::ActionTriggered(d) = at.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.action.action, "toggle-feature");

    let af = gen2(
        "sh.keptn.event.action.finished",
        "unleash-service",
        json!({"project": "sockshop", "stage": "production", "service": "carts",
               "status": "errored", "result": "fail",
               "message": "could not toggle EnablePromotion: Unleash answered 401"}),
    );
    assert!(
        matches!(af.validate().unwrap(), Payload::ActionFinished(d) if d.common.status == Some(Status::Errored))
    );
}

/// A 0.7 remediation: status.changed names the action; finished (CloudEvents 0.2) carries
/// its outcome inside `remediation`, which the gen-2 view lifts.
#[test]
fn gen1_remediation_status_and_finished() {
    let sc = gen2(
        "sh.keptn.event.remediation.status.changed",
        "remediation-service",
        json!({"project": "sockshop", "stage": "production", "service": "carts",
               "remediation": {"status": "succeeded",
                               "result": {"actionIndex": 0, "actionName": "toggle-feature"}}}),
    );
    let Payload::RemediationStatusChanged(d) = sc.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(
        d.remediation.unwrap().result.unwrap().action_name,
        "toggle-feature"
    );

    let src = json!({"specversion": "0.2", "id": "7", "source": "remediation-service",
        "type": "sh.keptn.event.remediation.finished", "contenttype": "application/json",
        "shkeptncontext": CTX, "triggeredid": TRIGGERED_ID,
        "data": {"project": "sockshop", "stage": "production", "service": "carts",
                 "remediation": {"status": "succeeded", "result": "failed",
                                 "message": "No further remediation action configured for problem type Failure rate increase"}}});
    let ev = KeptnEvent::from_json_str(&src.to_string()).unwrap();
    let Payload::Common(d) = ev.validate().unwrap() else {
        panic!("wrong payload")
    };
    assert_eq!(d.result, Some(Verdict::Fail));
    assert!(
        d.message
            .unwrap()
            .starts_with("No further remediation action")
    );
}

/// An answer without `triggeredid` is reported; a triggered event needs none.
#[test]
fn answers_need_triggeredid() {
    let ev = KeptnEvent::from_json_str(
        r#"{"specversion":"1.0","id":"e1","source":"helm-service",
            "type":"sh.keptn.event.deployment.finished","data":{"project":"sockshop"}}"#,
    )
    .unwrap();
    insta::assert_snapshot!(ev.validate().unwrap_err(), @"event e1 of type `sh.keptn.event.deployment.finished` has no `triggeredid`: a `.started`, `.status.changed` or `.finished` event must name the `.triggered` event it answers");
}

/// A payload of the wrong shape for its type is reported with the event and the field.
#[test]
fn wrong_payload_shape_is_reported() {
    let ev = KeptnEvent::from_json_str(
        r#"{"specversion":"1.0","id":"e2","source":"lighthouse-service",
            "type":"sh.keptn.event.get-sli.triggered","data":{"project":"sockshop",
            "get-sli":{"sliProvider":"dynatrace","indicators":"throughput"}}}"#,
    )
    .unwrap();
    insta::assert_snapshot!(ev.validate().unwrap_err(), @r#"data of event `sh.keptn.event.get-sli.triggered` (e2) at `get-sli.indicators`: invalid type: string "throughput", expected a sequence"#);
}

/// Events built with the constructors validate as their payload type.
#[test]
fn constructed_events_validate() {
    let ctx: KeptnContext = CTX.parse().unwrap();
    let common = EventData::new(
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
        "carts".parse().unwrap(),
    );
    let triggered = KeptnEvent::triggered(
        &EventType::task(Task::Action, Phase::Triggered),
        "remediation",
        ctx,
        &build!(ActionTriggeredData {
            common: common.clone(),
            action: build!(ActionDetails {
                action: "toggle-feature".into(),
                value: Some(json!({"EnablePromotion": "off"}))
            })
        }),
    )
    .unwrap();
    assert!(matches!(
        triggered.validate().unwrap(),
        Payload::ActionTriggered(_)
    ));
    let finished = triggered
        .finished(
            "unleash",
            &common.with_outcome(Status::Succeeded, Verdict::Pass),
        )
        .unwrap();
    assert!(
        matches!(finished.validate().unwrap(), Payload::ActionFinished(d) if d.common.result == Some(Verdict::Pass))
    );
    assert_eq!(
        finished.common().unwrap().service.unwrap().as_str(),
        "carts"
    );
}
