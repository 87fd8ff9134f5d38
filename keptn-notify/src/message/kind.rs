//! What a message is about ([`MessageKind`]) and how it ended ([`Outcome`]).

use super::*;

/// What a [`Message`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// A delivery (or other) sequence started in a stage.
    DeliveryStarted,
    /// A delivery (or other) sequence finished in a stage.
    DeliveryFinished,
    /// A quality-gate evaluation finished: result, score, failing objectives.
    EvaluationFinished,
    /// A deployment was rolled back.
    Rollback,
    /// A problem was opened.
    ProblemOpened,
    /// A problem was resolved or closed.
    ProblemResolved,
    /// A remediation action was taken.
    RemediationAction,
    /// A remediation sequence ended: the problem was resolved, or remediation escalated.
    RemediationFinished,
}

impl MessageKind {
    /// Which message an event of `event_type` with `data` gives, if any.
    pub fn of(event_type: &str, data: Option<&Value>) -> Option<MessageKind> {
        let str_at = |key: &str| data.and_then(|d| d.get(key)).and_then(Value::as_str);
        match event_type {
            "sh.keptn.event.evaluation.finished" | "sh.keptn.events.evaluation-done" => {
                return Some(MessageKind::EvaluationFinished);
            }
            "sh.keptn.event.rollback.finished" => return Some(MessageKind::Rollback),
            "sh.keptn.event.action.finished" => return Some(MessageKind::RemediationAction),
            "sh.keptn.event.problem.open" => return Some(MessageKind::ProblemOpened),
            "sh.keptn.events.problem" => {
                return match str_at("State").map(str::to_ascii_uppercase).as_deref() {
                    Some("OPEN") => Some(MessageKind::ProblemOpened),
                    Some("RESOLVED" | "CLOSED") => Some(MessageKind::ProblemResolved),
                    _ => None,
                };
            }
            "sh.keptn.event.configuration.change" => {
                let d = data?;
                if d.pointer("/canary/action").and_then(Value::as_str) == Some("discard") {
                    return Some(MessageKind::Rollback);
                }
                return d
                    .pointer("/valuesCanary/image")
                    .and_then(Value::as_str)
                    .map(|_| MessageKind::DeliveryStarted);
            }
            _ => {}
        }
        let rest = event_type.strip_prefix("sh.keptn.event.")?;
        let parts: Vec<&str> = rest.split('.').collect();
        // sequence events: <stage>.<sequence>.<triggered|finished>
        if let [_stage, sequence, phase] = parts.as_slice() {
            if *sequence == "remediation" {
                return match *phase {
                    // the problem that started the remediation (deduplicated against
                    // problem events of the same PID by the notifier)
                    "triggered" => Some(MessageKind::ProblemOpened),
                    "finished" => Some(MessageKind::RemediationFinished),
                    _ => None,
                };
            }
            if *phase == "changed" || *sequence == "rollback" {
                return None;
            }
            return match *phase {
                "triggered" => Some(MessageKind::DeliveryStarted),
                "finished" => Some(MessageKind::DeliveryFinished),
                _ => None,
            };
        }
        None
    }
}

/// How a message should look: neutral, good, a warning or bad news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Something started or happened; no verdict.
    Info,
    /// Passed, succeeded, resolved.
    Success,
    /// Passed with a warning.
    Warning,
    /// Failed, errored, problem opened.
    Failure,
}

impl Outcome {
    pub(super) fn from_result(data: &Value) -> Outcome {
        let status = data.get("status").and_then(Value::as_str).unwrap_or("");
        let result = data.get("result").and_then(Value::as_str).unwrap_or("");
        if status == "errored" || status == "aborted" || result == "fail" || result == "failed" {
            Outcome::Failure
        } else if result == "warning" {
            Outcome::Warning
        } else if result == "pass" || status == "succeeded" {
            Outcome::Success
        } else {
            Outcome::Info
        }
    }
}
