//! Reading generation-1 events (Keptn 0.6/0.7, CloudEvents 0.2) as generation-2 events.

use serde_json::{Map, Value, json};

use super::envelope::{CLOUDEVENTS_SPEC_VERSION, KeptnEvent};
use super::gen1_type::Gen1Type;
use super::types::{EventType, Phase, Task};

impl KeptnEvent {
    /// Whether the envelope is a CloudEvents 0.x one (`specversion` `0.2`): a generation-1
    /// event, even when its type already has a generation-2 name (the 0.7 approval, remediation
    /// and action events).
    pub fn is_gen1_envelope(&self) -> bool {
        self.specversion.starts_with("0.")
    }

    /// This event in its generation-2 form: type, envelope and data.
    ///
    /// Generation-2 events are returned unchanged. For generation-1 ones the envelope becomes
    /// CloudEvents 1.0 (`contenttype` → `datacontenttype`; id, source, time and context are
    /// kept), the type is mapped as in [`Gen1Type::to_gen2`], and the data fields that moved
    /// between generations are moved; every other field stays where it was, so nothing is lost.
    ///
    /// | generation 1 | generation 2 type | data moved |
    /// |---|---|---|
    /// | `configuration.change`, `canary.action` `set` | `deployment.triggered` | `valuesCanary` → `configurationChange.values` |
    /// | `configuration.change`, `canary.action` `promote` | `release.triggered` | — |
    /// | `configuration.change`, `canary.action` `discard` | `rollback.triggered` | — |
    /// | `deployment-finished` | `deployment.finished` | `deploymentstrategy`, `deploymentURILocal`/`Public` → `deployment {deploymentstrategy, deploymentURIsLocal[], deploymentURIsPublic[]}` |
    /// | `tests-finished` | `test.finished` | `start`, `end` → `test {start, end}` |
    /// | `start-evaluation` | `evaluation.triggered` | `start`, `end` → `evaluation {start, end}` |
    /// | `evaluation-done` | `evaluation.finished` | `evaluationdetails` → `evaluation`, indicator `targets` → `passTargets` |
    /// | `internal.event.get-sli` | `get-sli.triggered` | `sliProvider`, `start`, `end`, `indicators`, `customFilters` → `get-sli {…}` |
    /// | `internal.event.get-sli.done` | `get-sli.finished` | `start`, `end`, `indicatorValues` → `get-sli {…}` |
    /// | `monitoring.configure` | `configure-monitoring.triggered` | `type` → `configureMonitoring {type}` |
    /// | 0.7 `approval.finished` | same | `approval {result, status}` → top-level `result`, `status` |
    /// | 0.7 `remediation.finished` | same | `remediation {result, status, message}` → top level |
    /// | 0.7 `action.finished` | same | `action {result, status}` → top level |
    ///
    /// Generation-1 `.finished`-like events (`deployment-finished`, `tests-finished`,
    /// `evaluation-done`, `get-sli.done`) had no `status`; the mapped event gets
    /// `status: succeeded` when it has none, and `deployment-finished` and `get-sli.done`, which
    /// were only sent on success, get `result: pass` when they have none. A generation-1 `result`
    /// of `failed` becomes `fail`. `sh.keptn.events.log` and the problem events keep their
    /// types (Keptn 0.8 kept those names too).
    ///
    /// ```
    /// use keptn_spec::event::{DeploymentFinishedData, KeptnEvent};
    ///
    /// let gen1 = KeptnEvent::from_json_str(r#"{
    ///   "specversion": "0.2", "id": "a1", "source": "helm-service",
    ///   "type": "sh.keptn.events.deployment-finished", "contenttype": "application/json",
    ///   "shkeptncontext": "5b4a6c1e-7a3b-4c7e-9f3e-0d6a1b2c3d4e",
    ///   "data": {"project": "sockshop", "stage": "staging", "service": "carts",
    ///            "teststrategy": "performance", "deploymentstrategy": "blue_green_service",
    ///            "image": "docker.io/keptnexamples/carts", "tag": "0.11.2",
    ///            "deploymentURILocal": "http://carts-canary.sockshop-staging"}
    /// }"#)?;
    /// let gen2 = gen1.to_gen2();
    /// assert_eq!(gen2.ty.to_string(), "sh.keptn.event.deployment.finished");
    /// let data: DeploymentFinishedData = gen2.data_as()?;
    /// let deployment = data.deployment.unwrap();
    /// assert_eq!(deployment.deploymentstrategy.as_deref(), Some("blue_green_service"));
    /// assert_eq!(deployment.deployment_uris_local, ["http://carts-canary.sockshop-staging"]);
    /// # Ok::<(), keptn_spec::Error>(())
    /// ```
    #[must_use]
    pub fn to_gen2(&self) -> KeptnEvent {
        let gen1_type = matches!(self.ty, EventType::Gen1(_));
        if !gen1_type && !self.is_gen1_envelope() {
            return self.clone();
        }
        let mut event = self.clone();
        if event.is_gen1_envelope() {
            event.specversion = CLOUDEVENTS_SPEC_VERSION.to_owned();
            if let Some(Value::String(ct)) = event.extra.remove("contenttype") {
                event.datacontenttype.get_or_insert(ct);
            }
        }
        let Value::Object(mut data) = std::mem::take(&mut event.data) else {
            // Not an object: only the type can be mapped.
            event.data = self.data.clone();
            event.ty = self.ty.to_gen2();
            return event;
        };
        event.ty = match &self.ty {
            EventType::Gen1(g) => map_gen1(*g, &mut data).unwrap_or_else(|| self.ty.clone()),
            EventType::Task { task, phase } => {
                if *phase == Phase::Finished {
                    lift_gen1_outcome(task, &mut data);
                }
                self.ty.clone()
            }
            other => other.clone(),
        };
        fix_failed(&mut data);
        event.data = Value::Object(data);
        event
    }
}

/// Maps the data of a generation-1 event in place and returns its generation-2 type.
fn map_gen1(g: Gen1Type, data: &mut Map<String, Value>) -> Option<EventType> {
    let task = |task, phase| Some(EventType::task(task, phase));
    match g {
        Gen1Type::ConfigurationChange => {
            let action = data
                .get("canary")
                .and_then(|c| c.get("action"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            match action.as_deref() {
                Some("promote") => task(Task::Release, Phase::Triggered),
                Some("discard") => task(Task::Rollback, Phase::Triggered),
                _ => {
                    if let Some(values) = data.remove("valuesCanary") {
                        data.insert("configurationChange".into(), json!({ "values": values }));
                    }
                    task(Task::Deployment, Phase::Triggered)
                }
            }
        }
        Gen1Type::DeploymentFinished => {
            let mut deployment = Map::new();
            if let Some(s) = data.remove("deploymentstrategy") {
                deployment.insert("deploymentstrategy".into(), s);
            }
            for (old, new) in [
                ("deploymentURILocal", "deploymentURIsLocal"),
                ("deploymentURIPublic", "deploymentURIsPublic"),
            ] {
                match data.remove(old) {
                    Some(Value::String(uri)) if !uri.is_empty() => {
                        deployment.insert(new.into(), json!([uri]));
                    }
                    Some(Value::String(_)) | None => {}
                    Some(other) => {
                        // Not the documented string: leave it where it was.
                        data.insert(old.into(), other);
                    }
                }
            }
            data.insert("deployment".into(), Value::Object(deployment));
            default_outcome(data, true);
            task(Task::Deployment, Phase::Finished)
        }
        Gen1Type::TestsFinished => {
            let test = move_keys(data, &["start", "end"]);
            data.insert("test".into(), Value::Object(test));
            default_outcome(data, false);
            task(Task::Test, Phase::Finished)
        }
        Gen1Type::StartEvaluation => {
            let window = move_keys(data, &["start", "end"]);
            data.insert("evaluation".into(), Value::Object(window));
            task(Task::Evaluation, Phase::Triggered)
        }
        Gen1Type::EvaluationDone => {
            if let Some(mut details) = data.remove("evaluationdetails") {
                if let Some(results) = details
                    .get_mut("indicatorResults")
                    .and_then(Value::as_array_mut)
                {
                    for r in results.iter_mut().filter_map(Value::as_object_mut) {
                        if !r.contains_key("passTargets")
                            && let Some(targets) = r.remove("targets")
                        {
                            r.insert("passTargets".into(), targets);
                        }
                    }
                }
                data.insert("evaluation".into(), details);
            }
            default_outcome(data, false);
            task(Task::Evaluation, Phase::Finished)
        }
        Gen1Type::GetSli => {
            let request = move_keys(
                data,
                &["sliProvider", "start", "end", "indicators", "customFilters"],
            );
            data.insert("get-sli".into(), Value::Object(request));
            task(Task::GetSli, Phase::Triggered)
        }
        Gen1Type::GetSliDone => {
            let result = move_keys(data, &["start", "end", "indicatorValues"]);
            data.insert("get-sli".into(), Value::Object(result));
            default_outcome(data, true);
            task(Task::GetSli, Phase::Finished)
        }
        Gen1Type::ConfigureMonitoring => {
            let config = move_keys(data, &["type"]);
            data.insert("configureMonitoring".into(), Value::Object(config));
            task(Task::ConfigureMonitoring, Phase::Triggered)
        }
        Gen1Type::ProjectCreate
        | Gen1Type::ProjectDelete
        | Gen1Type::ServiceCreate
        | Gen1Type::ServiceDelete
        | Gen1Type::Log => g.to_gen2(),
    }
}

/// 0.7 approval/remediation/action `.finished` events carried `result`/`status`(/`message`)
/// inside the task object; generation 2 has them at the top level.
fn lift_gen1_outcome(task: &Task, data: &mut Map<String, Value>) {
    let key = match task {
        Task::Approval => "approval",
        Task::Remediation => "remediation",
        Task::Action => "action",
        _ => return,
    };
    let Some(Value::Object(inner)) = data.get_mut(key) else {
        return;
    };
    let mut lifted = Vec::new();
    for field in ["result", "status", "message"] {
        if let Some(v) = inner.remove(field) {
            lifted.push((field, v));
        }
    }
    if inner.is_empty() {
        data.remove(key);
    }
    for (field, v) in lifted {
        data.entry(field).or_insert(v);
    }
}

/// Moves `keys` (those present) from `data` into a new object.
fn move_keys(data: &mut Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    let mut moved = Map::new();
    for key in keys {
        if let Some(v) = data.remove(*key) {
            moved.insert((*key).to_owned(), v);
        }
    }
    moved
}

/// `status: succeeded` (and `result: pass` if `pass_if_missing`) when absent.
fn default_outcome(data: &mut Map<String, Value>, pass_if_missing: bool) {
    data.entry("status").or_insert_with(|| json!("succeeded"));
    if pass_if_missing {
        data.entry("result").or_insert_with(|| json!("pass"));
    }
}

/// Generation 1's `result: failed` is generation 2's `fail`.
fn fix_failed(data: &mut Map<String, Value>) {
    if data.get("result").and_then(Value::as_str) == Some("failed") {
        data.insert("result".into(), json!("fail"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::{EvaluationFinishedData, Status, Verdict};
    use crate::event::data::*;

    #[track_caller]
    fn gen1(ty: &str, data: Value) -> KeptnEvent {
        let mut src = json!({
            "specversion": "0.2", "id": "0b0c5d9e-9f4c-4c1e-8a0e-1f2d3c4b5a69",
            "source": "https://github.com/keptn/keptn/cli", "type": ty,
            "time": "2020-05-06T10:11:12.000Z", "contenttype": "application/json",
            "shkeptncontext": "7c1a4e9b-2f3d-4a5b-8c6d-0e1f2a3b4c5d"
        });
        src["data"] = data;
        KeptnEvent::from_json_str(&src.to_string()).unwrap()
    }

    /// The envelope becomes CloudEvents 1.0 and keeps id, source, time and context.
    #[test]
    fn gen1_envelope_becomes_cloudevents_1() {
        let ev = gen1(
            "sh.keptn.events.tests-finished",
            json!({"project": "sockshop"}),
        );
        let g2 = ev.to_gen2();
        assert_eq!(g2.specversion, "1.0");
        assert_eq!(g2.datacontenttype.as_deref(), Some("application/json"));
        assert!(!g2.extra.contains_key("contenttype"));
        assert_eq!(
            (g2.id.clone(), g2.source.clone(), g2.time),
            (ev.id.clone(), ev.source.clone(), ev.time)
        );
        assert_eq!(g2.shkeptncontext, ev.shkeptncontext);
        assert_eq!(g2.to_gen2(), g2, "mapping twice changes nothing");
    }

    /// The CLI's `new-artifact` becomes a deployment request with the image.
    #[test]
    fn new_artifact_configuration_change_is_a_deployment() {
        let ev = gen1(
            "sh.keptn.event.configuration.change",
            json!({"project": "sockshop", "service": "carts", "stage": "",
                   "valuesCanary": {"image": "docker.io/keptnexamples/carts:0.11.1"},
                   "canary": {"action": "set", "value": 100}}),
        );
        let g2 = ev.to_gen2();
        assert_eq!(g2.ty.to_string(), "sh.keptn.event.deployment.triggered");
        let d: DeploymentTriggeredData = g2.data_as().unwrap();
        assert_eq!(d.common.stage, None);
        assert_eq!(
            d.configuration_change.unwrap().values["image"],
            json!("docker.io/keptnexamples/carts:0.11.1")
        );
        assert_eq!(d.extra["canary"], json!({"action": "set", "value": 100}));
    }

    /// The gatekeeper's promote and discard are release and rollback.
    #[test]
    fn promote_and_discard_are_release_and_rollback() {
        for (action, ty) in [
            ("promote", "sh.keptn.event.release.triggered"),
            ("discard", "sh.keptn.event.rollback.triggered"),
        ] {
            let ev = gen1(
                "sh.keptn.event.configuration.change",
                json!({"project": "sockshop", "stage": "staging", "service": "carts",
                       "canary": {"action": action}}),
            );
            assert_eq!(ev.to_gen2().ty.to_string(), ty);
        }
    }

    /// jmeter's tests-finished becomes test.finished with the window under `test`.
    #[test]
    fn tests_finished_moves_the_window() {
        let ev = gen1(
            "sh.keptn.events.tests-finished",
            json!({"project": "sockshop", "stage": "staging", "service": "carts",
                   "teststrategy": "performance", "deploymentstrategy": "blue_green_service",
                   "start": "2019-10-28T15:44:27.152Z", "end": "2019-10-28T15:54:27.152Z",
                   "result": "failed"}),
        );
        let d: TestFinishedData = ev.to_gen2().data_as().unwrap();
        let test = d.test.unwrap();
        assert_eq!(
            test.start.unwrap().to_rfc3339(),
            "2019-10-28T15:44:27.152+00:00"
        );
        assert_eq!(d.common.result, Some(Verdict::Fail));
        assert_eq!(d.common.status, Some(Status::Succeeded));
        assert_eq!(d.extra["teststrategy"], json!("performance"));
    }

    /// start-evaluation becomes an evaluation request with an explicit window.
    #[test]
    fn start_evaluation_is_an_evaluation_request() {
        let ev = gen1(
            "sh.keptn.event.start-evaluation",
            json!({"project": "sockshop", "stage": "production", "service": "carts",
                   "teststrategy": "real-user",
                   "start": "2020-01-01T10:00:00.000Z", "end": "2020-01-01T10:10:00.000Z"}),
        );
        let g2 = ev.to_gen2();
        assert_eq!(g2.ty.to_string(), "sh.keptn.event.evaluation.triggered");
        let d: EvaluationTriggeredData = g2.data_as().unwrap();
        assert!(d.evaluation.unwrap().end.is_some());
    }

    /// evaluation-done (gen-1 shape) reads as the gen-2 evaluation.finished data.
    #[test]
    fn evaluation_done_reads_as_evaluation_finished() {
        let ev = gen1(
            "sh.keptn.events.evaluation-done",
            json!({"project": "sockshop", "stage": "staging", "service": "carts",
                   "teststrategy": "performance", "deploymentstrategy": "blue_green_service",
                   "result": "failed", "labels": {"buildnr": "17"},
                   "evaluationdetails": {
                       "timeStart": "2019-11-18T11:21:06Z", "timeEnd": "2019-11-18T11:29:36Z",
                       "result": "fail", "score": 50.0, "sloFileContent": "",
                       "indicatorResults": [
                           {"score": 0, "status": "fail",
                            "value": {"metric": "response_time_p95", "value": 1048.2,
                                      "success": true, "message": ""},
                            "targets": [{"criteria": "<=+10%", "targetValue": 549.19,
                                         "violated": true}]}]}}),
        );
        let g2 = ev.to_gen2();
        assert_eq!(g2.ty.to_string(), "sh.keptn.event.evaluation.finished");
        let d: EvaluationFinishedData = g2.data_as().unwrap();
        assert_eq!(d.result, Verdict::Fail);
        assert_eq!(d.status, Status::Succeeded);
        let r = &d.evaluation.indicator_results()[0];
        assert_eq!(r.pass_targets().len(), 1);
        assert_eq!(r.pass_targets()[0].target_value, 549.19);
    }

    /// The gen-1 get-sli request and reply move their fields under `get-sli`.
    #[test]
    fn get_sli_request_and_reply_move_under_get_sli() {
        let req = gen1(
            "sh.keptn.internal.event.get-sli",
            json!({"sliProvider": "dynatrace", "project": "sockshop", "stage": "staging",
                   "service": "carts", "start": "2019-10-28T15:44:27.152Z",
                   "end": "2019-10-28T15:54:27.152Z", "teststrategy": "performance",
                   "deploymentstrategy": "blue_green_service", "deployment": "canary",
                   "indicators": ["throughput", "error_rate", "response_time_p95"],
                   "customFilters": [{"key": "mz_id", "value": "4711"}],
                   "labels": {"buildnr": "17"}}),
        )
        .to_gen2();
        assert_eq!(req.ty.to_string(), "sh.keptn.event.get-sli.triggered");
        let d: GetSliTriggeredData = req.data_as().unwrap();
        assert_eq!(d.get_sli.sli_provider, "dynatrace");
        assert_eq!(d.get_sli.indicators.len(), 3);
        assert_eq!(d.get_sli.custom_filters[0].value, "4711");
        assert_eq!(d.deployment.as_deref(), Some("canary"));

        let reply = gen1(
            "sh.keptn.internal.event.get-sli.done",
            json!({"project": "sockshop", "stage": "staging", "service": "carts",
                   "start": "2019-10-28T15:44:27.152Z", "end": "2019-10-28T15:54:27.152Z",
                   "indicatorValues": [
                       {"metric": "throughput", "value": 32.5, "success": true},
                       {"metric": "error_rate", "value": 0, "success": false,
                        "message": "no data points"}]}),
        )
        .to_gen2();
        let d: GetSliFinishedData = reply.data_as().unwrap();
        assert_eq!(d.get_sli.indicator_values.len(), 2);
        assert!(!d.get_sli.indicator_values[1].success);
        assert_eq!(d.common.status, Some(Status::Succeeded));
    }

    /// 0.7 approval/action finished events carry the outcome inside; it moves to the top.
    #[test]
    fn gen1_outcomes_are_lifted() {
        let ev = gen1(
            "sh.keptn.event.approval.finished",
            json!({"project": "sockshop", "stage": "production", "service": "carts",
                   "teststrategy": "", "image": "docker.io/keptnexamples/carts", "tag": "0.11.3",
                   "approval": {"result": "pass", "status": "succeeded"}}),
        );
        let d: EventData = ev.to_gen2().data_as().unwrap();
        assert_eq!(d.result, Some(Verdict::Pass));
        assert_eq!(d.status, Some(Status::Succeeded));

        let ev = gen1(
            "sh.keptn.event.action.finished",
            json!({"project": "sockshop", "stage": "production", "service": "carts",
                   "action": {"result": "failed", "status": "errored"}}),
        );
        let g2 = ev.to_gen2();
        let d: EventData = g2.data_as().unwrap();
        assert_eq!(d.result, Some(Verdict::Fail));
        assert_eq!(d.status, Some(Status::Errored));
        assert!(g2.data.get("action").is_none());
    }

    /// monitoring.configure's `type` moves under `configureMonitoring`.
    #[test]
    fn monitoring_configure_moves_type() {
        let ev = gen1(
            "sh.keptn.event.monitoring.configure",
            json!({"type": "dynatrace", "project": "sockshop", "service": "carts"}),
        );
        let d: ConfigureMonitoringTriggeredData = ev.to_gen2().data_as().unwrap();
        assert_eq!(d.configure_monitoring.unwrap().provider, "dynatrace");
    }

    /// Generation-2 events are returned unchanged.
    #[test]
    fn gen2_events_are_unchanged() {
        let ev = KeptnEvent::from_json_str(
            r#"{"specversion":"1.0","id":"1","source":"s","type":"sh.keptn.event.action.finished",
                "data":{"action":{"result":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(ev.to_gen2(), ev);
    }
}
