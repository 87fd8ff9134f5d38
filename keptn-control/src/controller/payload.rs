//! Building what the controller sends: task payloads (Keptn's merge), sequence events, and the
//! typed result read from a task's `.finished` event.

use keptn_spec::EvaluationFinishedData;
use keptn_spec::event::{
    DeploymentFinishedData, EventData, EventId, EventType, KeptnContext, KeptnEvent, Phase, Status,
    Verdict,
};
use serde_json::{Value, json};

use crate::ids;
use crate::merge::merge_earlier_wins;
use crate::model::{SequenceRecord, TaskResult};

/// The CloudEvents `source` of the events the controller itself sends.
pub const CONTROLLER_SOURCE: &str = "shipyard-controller";

/// The name of the shipyard sequence problems start.
pub const REMEDIATION_SEQUENCE: &str = "remediation";

/// The `.triggered` data of task `name` with `properties`: project, stage, service and the
/// task's properties, merged with every earlier `.finished` data and then the sequence's
/// `.triggered` data; `result`/`status` of the sequence so far, empty `message`.
pub(crate) fn task_payload(record: &SequenceRecord, name: &str, properties: &Value) -> Value {
    let mut payload = json!({
        "project": record.project,
        "stage": record.stage,
        "service": record.service,
    });
    payload[name] = properties.clone();
    for finished in &record.finished_data {
        merge_earlier_wins(&mut payload, finished);
    }
    merge_earlier_wins(&mut payload, &record.triggered_data);
    payload["result"] = json!(record.result);
    payload["status"] = json!(record.status);
    payload["message"] = json!("");
    payload
}

/// The common data of a sequence's own events.
pub(crate) fn sequence_common(record: &SequenceRecord) -> EventData {
    let labels = record
        .triggered_data
        .get("labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    let mut data = EventData::new(
        record.project.clone(),
        record.stage.clone(),
        record.service.clone(),
    );
    data.labels = labels;
    data
}

/// A controller event about `record` (`<stage>.<sequence>.<phase>`) with a deterministic id;
/// `.started`/`.finished` answer the sequence's `.triggered` event.
pub(crate) fn sequence_event(
    record: &SequenceRecord,
    phase: Phase,
    data: &EventData,
) -> KeptnEvent {
    let ty = EventType::sequence(record.stage.clone(), record.sequence.clone(), phase)
        .unwrap_or(EventType::Problem);
    let mut event = KeptnEvent::new(ty, CONTROLLER_SOURCE, record.context, data)
        .with_id(ids::derive(&record.id, phase.as_str()));
    event.triggeredid = Some(record.id.clone());
    event
}

/// A `.triggered` event built by the controller with a fixed id.
pub(crate) fn triggered_event(
    ty: EventType,
    id: EventId,
    context: KeptnContext,
    data: &Value,
) -> KeptnEvent {
    KeptnEvent::new(ty, CONTROLLER_SOURCE, context, data).with_id(id)
}

/// The typed result one executor reported in a task `.finished` event.
pub(crate) fn task_result(task: &str, triggered_id: &EventId, event: &KeptnEvent) -> TaskResult {
    let common = event.common();
    let (status, result, message) = match &common {
        Ok(c) => (
            c.status.unwrap_or(Status::Succeeded),
            c.result.unwrap_or(Verdict::Pass),
            c.message.clone().unwrap_or_default(),
        ),
        Err(e) => (
            Status::Errored,
            Verdict::Fail,
            format!(
                "the `.finished` data of `{}` is malformed: {e}",
                event.source
            ),
        ),
    };
    let deployment = (task == "deployment")
        .then(|| event.data_as::<DeploymentFinishedData>().ok())
        .flatten()
        .and_then(|d| d.deployment);
    let evaluation = (task == "evaluation")
        .then(|| event.data_as::<EvaluationFinishedData>().ok())
        .flatten()
        .map(Box::new);
    let serving = matches!(task, "release" | "rollback")
        .then(|| {
            event
                .data
                .get(task)
                .or_else(|| event.data.get("release"))
                .and_then(|t| t.get("serving"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .flatten();
    TaskResult {
        task: task.to_owned(),
        triggered_id: triggered_id.clone(),
        status,
        result,
        message,
        executors: vec![event.source.clone()],
        deployment,
        evaluation,
        serving,
    }
}

fn status_rank(s: Status) -> u8 {
    match s {
        Status::Succeeded => 0,
        Status::Aborted => 2,
        Status::Errored => 3,
        _ => 1,
    }
}

fn result_rank(r: Verdict) -> u8 {
    match r {
        Verdict::Pass => 0,
        Verdict::Warning => 1,
        Verdict::Fail => 2,
    }
}

/// Several executors' results of one task combined: the worst status and the worst result win
/// (Keptn stops a sequence when any `.finished` says `errored` or `fail`).
pub(crate) fn worst(results: &[TaskResult]) -> Option<TaskResult> {
    let mut out = results.first()?.clone();
    out.executors.clear();
    for r in results {
        let worse = (status_rank(r.status), result_rank(r.result))
            > (status_rank(out.status), result_rank(out.result));
        if worse {
            out.status = r.status;
            out.result = r.result;
            out.message.clone_from(&r.message);
        }
        if out.message.is_empty() {
            out.message.clone_from(&r.message);
        }
        out.deployment = out.deployment.take().or_else(|| r.deployment.clone());
        out.evaluation = out.evaluation.take().or_else(|| r.evaluation.clone());
        out.serving = out.serving.take().or_else(|| r.serving.clone());
        out.executors.extend(r.executors.iter().cloned());
    }
    Some(out)
}
