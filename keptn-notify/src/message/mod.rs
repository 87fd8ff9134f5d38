//! From Keptn events to human messages: which events are worth a message, and what it says.
//!
//! # Message kinds and the event fields they read
//!
//! | kind | events | fields read |
//! |---|---|---|
//! | [`DeliveryStarted`](MessageKind::DeliveryStarted) | `sh.keptn.event.<stage>.<sequence>.triggered` (any sequence but `remediation` and `rollback`); gen-1 `sh.keptn.event.configuration.change` with `valuesCanary.image` | `data.configurationChange.values.image`, `data.valuesCanary.image` |
//! | [`DeliveryFinished`](MessageKind::DeliveryFinished) | `sh.keptn.event.<stage>.<sequence>.finished` (same sequences) | `data.result`, `data.status`, `data.message` |
//! | [`EvaluationFinished`](MessageKind::EvaluationFinished) | `sh.keptn.event.evaluation.finished`; gen-1 `sh.keptn.events.evaluation-done` | `data.evaluation` / `data.evaluationdetails`: `score`, `result`, `indicatorResults[]` (`status`, `displayName`, `keySli`, `value{metric,value,success,message}`, `passTargets[]`/`warningTargets[]`/`targets[]` `{criteria,targetValue,violated}`) |
//! | [`Rollback`](MessageKind::Rollback) | `sh.keptn.event.rollback.finished`; gen-1 `configuration.change` with `canary.action: discard` | `data.status`, `data.result`, `data.message` |
//! | [`ProblemOpened`](MessageKind::ProblemOpened) / [`ProblemResolved`](MessageKind::ProblemResolved) | `sh.keptn.event.problem.open`; `sh.keptn.events.problem` with `State` `OPEN` / `RESOLVED` or `CLOSED`; the `sh.keptn.event.<stage>.remediation.triggered` sequence event (its `data.problem`) — one "opened" message per problem `PID` until it is resolved | `data.ProblemTitle`, `State`, `ProblemID`, `PID`, `ImpactedEntity`, `ProblemURL` (or the same under `data.problem`) |
//! | [`RemediationAction`](MessageKind::RemediationAction) | `sh.keptn.event.action.finished` | `data.result`, `data.status`; the action (`name`, `action`, `value`) from the `action.triggered` event its `triggeredid` names |
//! | [`RemediationFinished`](MessageKind::RemediationFinished) | `sh.keptn.event.<stage>.remediation.finished` | `data.result`, `data.status`, `data.message`, `data.problem.ProblemTitle` |
//!
//! Every message also carries the facts Keptn's notification service sent: project, stage,
//! service, image, tag, deployment and test strategy, and the Keptn context (`shkeptncontext`).
//! Image, tag and strategies are remembered per Keptn context from earlier events of the same
//! sequence (a gen-2 `evaluation.finished` does not repeat the image of its
//! `delivery.triggered`).

use serde_json::Value;

use crate::filter::data_str;

mod correlate;
mod kind;

pub(crate) use correlate::{Correlator, Enrichment};
pub use kind::{MessageKind, Outcome};

/// One name/value line of a message (a "fact" in Teams, a field in Slack).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fact {
    /// The label, e.g. `Project`.
    pub name: String,
    /// The value, e.g. `sockshop`.
    pub value: String,
}

/// A human message built from one Keptn event; formatted for Slack or Teams by this crate.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Message {
    /// What the message is about.
    pub kind: MessageKind,
    /// How it went.
    pub outcome: Outcome,
    /// One line, e.g. `Evaluation of carts in staging: fail (score 50)`.
    pub title: String,
    /// The event's `data.message`, when it has one.
    pub text: Option<String>,
    /// Project, stage, service, image, tag, strategies, result, … and the Keptn context.
    pub facts: Vec<Fact>,
    /// For evaluations: one line per failing or warning objective.
    pub objectives: Vec<String>,
    /// A link to a report (the configured report link, or a problem's URL).
    pub link: Option<String>,
    /// The event's type.
    pub event_type: String,
}

/// Turns a stream of events into messages, remembering what earlier events said: the image,
/// tag and strategies of a Keptn context, the action of an `action.triggered`, problems already
/// reported open. This is what a [`Notifier`](crate::Notifier) does for its chat targets.
///
/// ```
/// use keptn_notify::MessageBuilder;
/// let mut messages = MessageBuilder::new();
/// let started = serde_json::json!({"type": "sh.keptn.event.staging.delivery.triggered",
///     "shkeptncontext": "k1", "data": {"project": "sockshop", "stage": "staging", "service": "carts",
///     "configurationChange": {"values": {"image": "keptnexamples/carts:0.11.3"}}}});
/// let finished = serde_json::json!({"type": "sh.keptn.event.staging.delivery.finished",
///     "shkeptncontext": "k1", "data": {"project": "sockshop", "stage": "staging", "service": "carts",
///     "result": "pass", "status": "succeeded"}});
/// assert_eq!(messages.push(&started).unwrap().title, "Delivery of carts:0.11.3 started in staging");
/// assert_eq!(messages.push(&finished).unwrap().title,
///            "Delivery of carts:0.11.3 in staging finished: pass");
/// ```
#[derive(Debug, Default)]
pub struct MessageBuilder {
    correlator: Correlator,
    report_link: Option<keptn_spec::webhook::Template>,
}

impl MessageBuilder {
    /// A builder that has seen no events.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a report link to every message, a template over the event (see
    /// [`NotifierBuilder::report_link`](crate::NotifierBuilder::report_link)).
    #[must_use]
    pub fn report_link(mut self, link: keptn_spec::webhook::Template) -> Self {
        self.report_link = Some(link);
        self
    }

    /// Takes the next event; returns its message, or `None` when it is not worth one (or
    /// repeats a problem already reported open).
    pub fn push(&mut self, event: &Value) -> Option<Message> {
        let known = self.correlator.observe(event);
        if known.duplicate_problem {
            return None;
        }
        let link = render_link(self.report_link.as_ref(), event);
        Message::build(event, &known, link)
    }
}

impl Message {
    /// Builds the message for `event` (a CloudEvent as JSON) on its own, or `None` when the
    /// event is not one of the [kinds](MessageKind) worth a message. Facts from earlier events
    /// of the same sequence need a [`MessageBuilder`].
    ///
    /// ```
    /// use keptn_notify::{Message, MessageKind, Outcome};
    /// let event = serde_json::json!({
    ///     "type": "sh.keptn.event.evaluation.finished", "shkeptncontext": "c0ffee",
    ///     "data": {"project": "sockshop", "stage": "staging", "service": "carts",
    ///              "result": "fail", "status": "succeeded",
    ///              "evaluation": {"score": 50, "result": "fail", "indicatorResults": [
    ///                  {"status": "fail", "score": 0, "keySli": false,
    ///                   "value": {"metric": "response_time_p95", "value": 1043.2, "success": true},
    ///                   "passTargets": [{"criteria": "<600", "targetValue": 600, "violated": true}]}]}}});
    /// let message = Message::from_event(&event).unwrap();
    /// assert_eq!(message.kind, MessageKind::EvaluationFinished);
    /// assert_eq!(message.outcome, Outcome::Failure);
    /// assert_eq!(message.title, "Evaluation of carts in staging: fail (score 50)");
    /// assert_eq!(message.objectives, ["response_time_p95 = 1043.2: fail (violated <600)"]);
    /// ```
    pub fn from_event(event: &Value) -> Option<Message> {
        let mut correlator = Correlator::default();
        let enrichment = correlator.observe(event);
        Message::build(event, &enrichment, None)
    }

    pub(crate) fn build(
        event: &Value,
        known: &Enrichment,
        link: Option<String>,
    ) -> Option<Message> {
        let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
        let null = Value::Null;
        let data = event.get("data").unwrap_or(&null);
        let kind = MessageKind::of(event_type, Some(data))?;
        let project = data_str(event, "project");
        let stage = data_str(event, "stage").unwrap_or("?");
        let service = data_str(event, "service").unwrap_or("the service");
        let context = event.get("shkeptncontext").and_then(Value::as_str);
        let text = data
            .get("message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        let result = data.get("result").and_then(Value::as_str).unwrap_or("");
        let mut outcome = Outcome::from_result(data);
        let mut objectives = Vec::new();
        let mut extra_facts: Vec<Fact> = Vec::new();
        let mut link = link;
        let what = match &known.tag {
            Some(tag) => format!("{service}:{tag}"),
            None => service.to_owned(),
        };
        let sequence = sequence_name(event_type);

        let title = match kind {
            MessageKind::DeliveryStarted => {
                outcome = Outcome::Info;
                format!("{} of {what} started in {stage}", capitalize(&sequence))
            }
            MessageKind::DeliveryFinished => {
                format!(
                    "{} of {what} in {stage} finished: {}",
                    capitalize(&sequence),
                    verdict(data)
                )
            }
            MessageKind::EvaluationFinished => {
                let eval = data
                    .get("evaluation")
                    .or_else(|| data.get("evaluationdetails"))
                    .unwrap_or(&null);
                let eval_result = eval
                    .get("result")
                    .and_then(Value::as_str)
                    .filter(|r| matches!(*r, "pass" | "warning" | "fail" | "failed"))
                    .unwrap_or(result);
                let score = eval.get("score").and_then(Value::as_f64);
                if let Some(score) = score {
                    extra_facts.push(fact("Score", number(score)));
                }
                extra_facts.push(fact("Result", eval_result.to_owned()));
                if let Some(results) = eval.get("indicatorResults").and_then(Value::as_array) {
                    objectives = results.iter().filter_map(objective_line).collect();
                }
                if outcome == Outcome::Info && eval_result == "pass" {
                    outcome = Outcome::Success;
                }
                match score {
                    Some(score) => format!(
                        "Evaluation of {what} in {stage}: {eval_result} (score {})",
                        number(score)
                    ),
                    None => format!("Evaluation of {what} in {stage}: {eval_result}"),
                }
            }
            MessageKind::Rollback => {
                let failed = outcome == Outcome::Failure
                    && data.get("status").and_then(Value::as_str) == Some("errored");
                outcome = if failed {
                    Outcome::Failure
                } else {
                    Outcome::Warning
                };
                if failed {
                    format!("Rollback of {what} in {stage} failed")
                } else {
                    format!("Rollback of {what} in {stage}")
                }
            }
            MessageKind::ProblemOpened | MessageKind::ProblemResolved => {
                let problem = data.get("problem").unwrap_or(data);
                let p = |k: &str| {
                    problem
                        .get(k)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                };
                let title = p("ProblemTitle")
                    .or(p("problemTitle"))
                    .unwrap_or("unnamed problem");
                if let Some(state) = p("State") {
                    extra_facts.push(fact("State", state.to_owned()));
                }
                if let Some(id) = p("ProblemID").or(p("PID")) {
                    extra_facts.push(fact("Problem ID", id.to_owned()));
                }
                if let Some(entity) = p("ImpactedEntity") {
                    extra_facts.push(fact("Impacted entity", entity.to_owned()));
                }
                if link.is_none() {
                    link = p("ProblemURL").map(str::to_owned);
                }
                if kind == MessageKind::ProblemOpened {
                    outcome = Outcome::Failure;
                    format!("Problem opened: {title}")
                } else {
                    outcome = Outcome::Success;
                    format!("Problem resolved: {title}")
                }
            }
            MessageKind::RemediationFinished => {
                let problem = data.get("problem").unwrap_or(data);
                let title = problem
                    .get("ProblemTitle")
                    .or_else(|| problem.get("problemTitle"))
                    .and_then(Value::as_str)
                    .or(known.problem_title.as_deref())
                    .unwrap_or("the problem");
                let how = match (result, outcome) {
                    ("pass", _) => "resolved".to_owned(),
                    (_, Outcome::Failure) => "not resolved, escalated".to_owned(),
                    _ => verdict(data),
                };
                extra_facts.push(fact("Result", verdict(data)));
                format!("Remediation of {title} in {stage}: {how}")
            }
            MessageKind::RemediationAction => {
                let action = known.action.as_ref().or_else(|| data.get("action"));
                let name = action
                    .and_then(|a| a.get("name").or_else(|| a.get("action")))
                    .and_then(Value::as_str);
                let kind_of_action = action.and_then(|a| a.get("action")).and_then(Value::as_str);
                let value = action.and_then(|a| a.get("value")).map(action_value);
                if let Some(k) = kind_of_action {
                    extra_facts.push(fact("Action", k.to_owned()));
                }
                if let Some(v) = &value {
                    extra_facts.push(fact("Value", v.clone()));
                }
                extra_facts.push(fact("Result", verdict(data)));
                let described = match (name, &value) {
                    (Some(n), Some(v)) => format!("{n} ({v})"),
                    (Some(n), None) => n.to_owned(),
                    (None, Some(v)) => v.clone(),
                    (None, None) => "action".to_owned(),
                };
                format!(
                    "Remediation action {described} in {stage}: {}",
                    verdict(data)
                )
            }
        };

        let mut facts = Vec::new();
        if let Some(p) = project {
            facts.push(fact("Project", p.to_owned()));
        }
        if let Some(s) = data_str(event, "stage") {
            facts.push(fact("Stage", s.to_owned()));
        }
        if let Some(s) = data_str(event, "service") {
            facts.push(fact("Service", s.to_owned()));
        }
        if let Some(i) = &known.image {
            facts.push(fact("Image", i.clone()));
        }
        if let Some(t) = &known.tag {
            facts.push(fact("Tag", t.clone()));
        }
        if let Some(d) = &known.deployment_strategy {
            facts.push(fact("Deployment strategy", d.clone()));
        }
        if let Some(t) = &known.test_strategy {
            facts.push(fact("Test strategy", t.clone()));
        }
        facts.extend(extra_facts);
        if let Some(c) = context {
            facts.push(fact("Keptn context", c.to_owned()));
        }
        Some(Message {
            kind,
            outcome,
            title,
            text,
            facts,
            objectives,
            link,
            event_type: event_type.to_owned(),
        })
    }
}

fn fact(name: &str, value: String) -> Fact {
    Fact {
        name: name.to_owned(),
        value,
    }
}

/// `pass`, `warning`, `fail`, or the status when there is no result.
fn verdict(data: &Value) -> String {
    let result = data.get("result").and_then(Value::as_str).unwrap_or("");
    let status = data.get("status").and_then(Value::as_str).unwrap_or("");
    match (result, status) {
        ("", "") => "unknown".to_owned(),
        ("", s) => s.to_owned(),
        (r, "errored") => format!("{r} (errored)"),
        (r, _) => r.to_owned(),
    }
}

fn sequence_name(event_type: &str) -> String {
    let parts: Vec<&str> = event_type.split('.').collect();
    match parts.as_slice() {
        ["sh", "keptn", "event", _stage, sequence, _phase] => (*sequence).to_owned(),
        _ => "delivery".to_owned(),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A number without needless decimals: `50`, `87.5`, `1043.23`.
pub(crate) fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let s = format!("{value:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn action_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// `response_time_p95 = 1043.2: fail (violated <=+10% (target 572), <600)` for failing and
/// warning objectives; `None` for passing and informational ones.
fn objective_line(result: &Value) -> Option<String> {
    let status = result.get("status").and_then(Value::as_str)?;
    if !matches!(status, "fail" | "failed" | "warning") {
        return None;
    }
    let value = result.get("value");
    let metric = value
        .and_then(|v| v.get("metric"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let name = result
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .unwrap_or(metric);
    let key = if result.get("keySli").and_then(Value::as_bool) == Some(true) {
        " [key SLI]"
    } else {
        ""
    };
    let success = value
        .and_then(|v| v.get("success"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !success {
        let why = value
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or("no value");
        return Some(format!("{name}{key}: {status} (no data: {why})"));
    }
    let measured = value
        .and_then(|v| v.get("value"))
        .and_then(Value::as_f64)
        .map(number)
        .unwrap_or_else(|| "?".to_owned());
    let targets = ["passTargets", "targets"]
        .iter()
        .find_map(|k| result.get(*k).and_then(Value::as_array));
    let violated: Vec<String> = targets
        .into_iter()
        .flatten()
        .filter(|t| t.get("violated").and_then(Value::as_bool) == Some(true))
        .filter_map(|t| {
            let criteria = t.get("criteria").and_then(Value::as_str)?;
            let target = t.get("targetValue").and_then(Value::as_f64);
            let is_relative = criteria.contains('%');
            Some(match target {
                Some(v) if is_relative => format!("{criteria} (target {})", number(v)),
                _ => criteria.to_owned(),
            })
        })
        .collect();
    if violated.is_empty() {
        Some(format!("{name}{key} = {measured}: {status}"))
    } else {
        Some(format!(
            "{name}{key} = {measured}: {status} (violated {})",
            violated.join(", ")
        ))
    }
}

/// Renders a report-link template, `None` when the event lacks a field it uses.
pub(crate) fn render_link(
    template: Option<&keptn_spec::webhook::Template>,
    event: &Value,
) -> Option<String> {
    let t = template?;
    match t.render(event) {
        Ok(link) => Some(link),
        Err(e) => {
            tracing::debug!(error = %e, "no report link for this event");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every meaningful event type maps to its kind; others to none.
    #[test]
    fn kinds_by_event_type() {
        let k = |t: &str| MessageKind::of(t, Some(&json!({})));
        assert_eq!(
            k("sh.keptn.event.staging.delivery.triggered"),
            Some(MessageKind::DeliveryStarted)
        );
        assert_eq!(
            k("sh.keptn.event.staging.delivery.finished"),
            Some(MessageKind::DeliveryFinished)
        );
        assert_eq!(
            k("sh.keptn.event.evaluation.finished"),
            Some(MessageKind::EvaluationFinished)
        );
        assert_eq!(
            k("sh.keptn.events.evaluation-done"),
            Some(MessageKind::EvaluationFinished)
        );
        assert_eq!(
            k("sh.keptn.event.rollback.finished"),
            Some(MessageKind::Rollback)
        );
        assert_eq!(
            k("sh.keptn.event.action.finished"),
            Some(MessageKind::RemediationAction)
        );
        assert_eq!(
            k("sh.keptn.event.problem.open"),
            Some(MessageKind::ProblemOpened)
        );
        for none in [
            "sh.keptn.event.deployment.status.changed",
            "sh.keptn.event.evaluation.started",
            "sh.keptn.event.deployment.finished",
            "sh.keptn.event.configuration.change",
            "sh.keptn.events.problem",
            "other",
        ] {
            assert_eq!(k(none), None, "{none}");
        }
        assert_eq!(
            k("sh.keptn.event.production.remediation.triggered"),
            Some(MessageKind::ProblemOpened)
        );
        assert_eq!(
            k("sh.keptn.event.production.remediation.finished"),
            Some(MessageKind::RemediationFinished)
        );
        let problem = |state: &str| {
            MessageKind::of("sh.keptn.events.problem", Some(&json!({"State": state})))
        };
        assert_eq!(problem("OPEN"), Some(MessageKind::ProblemOpened));
        assert_eq!(problem("RESOLVED"), Some(MessageKind::ProblemResolved));
        assert_eq!(problem("CLOSED"), Some(MessageKind::ProblemResolved));
        let discard = json!({"canary": {"action": "discard"}});
        assert_eq!(
            MessageKind::of("sh.keptn.event.configuration.change", Some(&discard)),
            Some(MessageKind::Rollback)
        );
    }

    /// The image of `delivery.triggered` is remembered for later events of the same context.
    #[test]
    fn context_facts_carry_over() {
        let mut c = Correlator::default();
        c.observe(
            &json!({"type": "sh.keptn.event.staging.delivery.triggered", "shkeptncontext": "k1",
            "data": {"configurationChange": {"values": {"image": "keptnexamples/carts:0.11.2"}},
                     "deployment": {"deploymentstrategy": "blue_green_service"}}}),
        );
        let eval = json!({"type": "sh.keptn.event.evaluation.finished", "shkeptncontext": "k1",
            "data": {"project": "sockshop", "stage": "staging", "service": "carts", "result": "pass",
                     "evaluation": {"score": 100.0, "result": "pass"}}});
        let known = c.observe(&eval);
        let m = Message::build(&eval, &known, None).unwrap();
        assert_eq!(
            m.title,
            "Evaluation of carts:0.11.2 in staging: pass (score 100)"
        );
        assert_eq!(m.outcome, Outcome::Success);
        let names: Vec<(&str, &str)> = m
            .facts
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("Project", "sockshop"),
                ("Stage", "staging"),
                ("Service", "carts"),
                ("Image", "keptnexamples/carts"),
                ("Tag", "0.11.2"),
                ("Deployment strategy", "blue_green_service"),
                ("Score", "100"),
                ("Result", "pass"),
                ("Keptn context", "k1"),
            ]
        );
    }

    /// `action.finished` reports the action of its `action.triggered`.
    #[test]
    fn remediation_action_uses_triggered_action() {
        let mut c = Correlator::default();
        c.observe(
            &json!({"type": "sh.keptn.event.action.triggered", "id": "t1", "shkeptncontext": "k",
            "data": {"action": {"name": "Toggle feature flag", "action": "toggle-feature",
                                "value": {"EnablePromotion": "off"}}}}),
        );
        let done = json!({"type": "sh.keptn.event.action.finished", "triggeredid": "t1", "shkeptncontext": "k",
            "data": {"project": "sockshop", "stage": "production", "service": "carts",
                     "result": "pass", "status": "succeeded"}});
        let known = c.observe(&done);
        let m = Message::build(&done, &known, None).unwrap();
        assert_eq!(
            m.title,
            "Remediation action Toggle feature flag (EnablePromotion: off) in production: pass"
        );
        assert!(m.facts.contains(&fact("Action", "toggle-feature".into())));
        assert_eq!(m.outcome, Outcome::Success);
    }

    /// Objective lines name the violated criteria and missing data.
    #[test]
    fn objective_lines() {
        let line = objective_line(
            &json!({"status": "warning", "displayName": "Response time P95",
            "keySli": true, "value": {"metric": "response_time_p95", "value": 700, "success": true},
            "passTargets": [{"criteria": "<=+10%", "targetValue": 572, "violated": true},
                            {"criteria": "<600", "targetValue": 600, "violated": true}]}),
        );
        assert_eq!(
            line.unwrap(),
            "Response time P95 [key SLI] = 700: warning (violated <=+10% (target 572), <600)"
        );
        let line = objective_line(&json!({"status": "fail",
            "value": {"metric": "error_rate", "success": false, "message": "no data points"}}));
        assert_eq!(line.unwrap(), "error_rate: fail (no data: no data points)");
        assert_eq!(objective_line(&json!({"status": "pass"})), None);
    }

    /// Problems take their title, id and URL; a failed rollback says so.
    #[test]
    fn problems_and_rollbacks() {
        let open = json!({"type": "sh.keptn.events.problem", "data": {"State": "OPEN",
            "ProblemTitle": "Failure rate increase", "PID": "P-1", "ProblemURL": "https://dt/p/1",
            "project": "sockshop", "stage": "production", "service": "carts"}});
        let m = Message::from_event(&open).unwrap();
        assert_eq!(m.title, "Problem opened: Failure rate increase");
        assert_eq!(m.link.as_deref(), Some("https://dt/p/1"));
        assert_eq!(m.outcome, Outcome::Failure);
        let rb = json!({"type": "sh.keptn.event.rollback.finished", "data": {"stage": "staging",
            "service": "carts", "status": "errored", "result": "fail", "message": "kaputt"}});
        let m = Message::from_event(&rb).unwrap();
        assert_eq!(m.title, "Rollback of carts in staging failed");
        assert_eq!(m.text.as_deref(), Some("kaputt"));
    }

    /// Numbers print without needless decimals.
    #[test]
    fn numbers() {
        assert_eq!(number(50.0), "50");
        assert_eq!(number(87.5), "87.5");
        assert_eq!(number(1043.2345), "1043.23");
        assert_eq!(number(-0.5), "-0.5");
    }
}

#[cfg(test)]
mod problem_tests {
    use super::*;
    use serde_json::json;

    /// One "problem opened" per PID: the remediation sequence's problem after a problem event
    /// is a duplicate, until the problem is resolved.
    #[test]
    fn problem_opened_once_per_pid() {
        let mut c = Correlator::default();
        let open = json!({"type": "sh.keptn.events.problem",
            "data": {"State": "OPEN", "PID": "P-7", "ProblemTitle": "Failure rate increase"}});
        let remediation = json!({"type": "sh.keptn.event.production.remediation.triggered",
            "data": {"stage": "production", "problem": {"State": "OPEN", "PID": "P-7",
                     "ProblemTitle": "Failure rate increase"}}});
        let resolved = json!({"type": "sh.keptn.events.problem",
            "data": {"State": "RESOLVED", "PID": "P-7", "ProblemTitle": "Failure rate increase"}});
        assert!(!c.observe(&open).duplicate_problem);
        assert!(c.observe(&remediation).duplicate_problem);
        assert!(!c.observe(&resolved).duplicate_problem);
        assert!(!c.observe(&remediation).duplicate_problem);
        let m = Message::build(&remediation, &Enrichment::default(), None).unwrap();
        assert_eq!(m.title, "Problem opened: Failure rate increase");
    }

    /// The end of a remediation sequence says whether the problem was resolved.
    #[test]
    fn remediation_finished_titles() {
        let done = |result: &str| {
            json!({"type": "sh.keptn.event.production.remediation.finished",
            "data": {"stage": "production", "result": result, "status": "succeeded",
                     "message": "m", "problem": {"ProblemTitle": "Failure rate increase"}}})
        };
        let m = Message::from_event(&done("pass")).unwrap();
        assert_eq!(
            m.title,
            "Remediation of Failure rate increase in production: resolved"
        );
        assert_eq!(m.outcome, Outcome::Success);
        let m = Message::from_event(&done("fail")).unwrap();
        assert_eq!(
            m.title,
            "Remediation of Failure rate increase in production: not resolved, escalated"
        );
        assert_eq!(m.outcome, Outcome::Failure);
    }
}
