//! JSON that other systems send: Keptn CloudEvents, Dynatrace problem notifications,
//! Alertmanager webhooks.

use keptn_spec::event::KeptnEvent;

use crate::text;

/// A Keptn CloudEvent (what `POST /v1/event` and the event bus carry), then its typed data.
pub fn cloudevent(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let Ok(event) = KeptnEvent::from_json_str(src) else {
        return;
    };
    let _ = event.payload();
    let _ = event.validate();
    // what is stored and sent on must be JSON again
    let again = event.to_json_string();
    let _ = KeptnEvent::from_json_str(&again);
}

/// A Dynatrace problem notification (the whole CloudEvent of Keptn's template, or its `data`).
pub fn dynatrace_problem(data: &[u8]) {
    let Some(src) = text(data) else { return };
    if let Ok(n) = keptn_dynatrace::ProblemNotification::parse(src) {
        let _ = n.status();
        let _ = n.keptn_context();
        let _ = n.to_keptn_event();
    }
}

/// An Alertmanager webhook body (version 4).
pub fn alertmanager(data: &[u8]) {
    let Some(src) = text(data) else { return };
    if let Ok(p) = keptn_prometheus::WebhookPayload::parse(src) {
        let _ = p.keptn_context();
        let _ = p.to_problem_event();
    }
}
