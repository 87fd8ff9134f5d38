//! The YAML files a user writes: shipyard, SLO, SLI config, remediation, `webhook.yaml`.

use keptn_slo::{EvaluationContext, PreviousEvaluation, SliReport, evaluate};
use keptn_spec::remediation::RemediationFile;
use keptn_spec::shipyard::Shipyard;
use keptn_spec::sli::SliConfig;
use keptn_spec::webhook::WebhookConfig;
use keptn_spec::{ParseOptions, ProjectName, ServiceName, SliValue, Slo, StageName, Strictness};
use serde_json::json;

use crate::text;

/// `shipyard.yaml`, both as the control plane reads it (lenient) and as `spec_validate --strict`.
pub fn shipyard(data: &[u8]) {
    let Some(src) = text(data) else { return };
    for strictness in [Strictness::Tolerant, Strictness::Strict] {
        let options = ParseOptions::default().strictness(strictness);
        if let Ok(parsed) = Shipyard::parse(src, &options) {
            // what a valid shipyard is used for: its stages and sequences
            let _ = format!("{:?}", parsed.value);
        }
    }
}

/// `slo.yaml`, then the gate: evaluated twice (the second run compares with the first), so the
/// criteria, the comparison and the scores of any SLO that parses meet the engine.
pub fn slo(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let _ = Slo::parse(src, &ParseOptions::new());
    let Ok(slo) = Slo::from_yaml_str(src) else {
        return;
    };
    let mut ctx = EvaluationContext::default();
    ctx.project = ProjectName::new("sockshop").ok();
    ctx.stage = StageName::new("staging").ok();
    ctx.service = ServiceName::new("carts").ok();
    let values = |v: f64| -> SliReport {
        SliReport::succeeded(
            slo.objectives
                .iter()
                .map(|o| SliValue::ok(o.sli.clone(), v))
                .collect(),
        )
    };
    let first = evaluate(Some(&slo), &values(100.0), &[], &ctx);
    let previous = [PreviousEvaluation::new("e1", first.data.clone())];
    let second = evaluate(Some(&slo), &values(250.5), &previous, &ctx);
    let _ = second.explain(&slo);
}

/// `sli.yaml` (the SLI provider's queries).
pub fn sli_config(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let _ = SliConfig::from_yaml_str(src);
}

/// `remediation.yaml`, both generations.
pub fn remediation(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let _ = RemediationFile::from_yaml_str(src);
}

/// `webhook.yaml`, then every template of every request rendered against an event, and the
/// property of the safe renderers: a JSON payload that is valid JSON for harmless event data is
/// valid JSON for hostile data too, and a header value never holds a control character.
///
/// # Panics
/// When hostile event data breaks a JSON payload or a header.
pub fn webhook_config(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let Ok(config) = WebhookConfig::from_yaml_str(src) else {
        return;
    };
    let event = |message: &str| {
        json!({
            "type": "sh.keptn.event.evaluation.finished",
            "id": message, "shkeptncontext": message,
            "data": {"project": "sockshop", "stage": "staging", "service": "carts",
                     "result": "fail", "message": message, "score": 50},
            "env": {"secret": message, "token": message, "key": message, "SECRET": message},
        })
    };
    let harmless = event("x");
    let hostile = event("\" \\ \n\r {{.data.project}} }} \u{0}");
    for webhook in &config.spec.webhooks {
        for request in &webhook.requests {
            for template in request.templates() {
                let _ = template.render(&hostile);
            }
            for header in &request.headers {
                if let Ok(value) = header.value.render_header(&hostile) {
                    let inserted_control = value.chars().filter(|c| c.is_control()).count();
                    let literal_control = header
                        .value
                        .as_str()
                        .chars()
                        .filter(|c| c.is_control())
                        .count();
                    assert!(inserted_control <= literal_control, "{value:?}");
                }
            }
            if !request.has_json_payload() {
                let _ = request.render_payload(&hostile);
                continue;
            }
            let parses = |root| {
                request
                    .render_payload(root)
                    .ok()
                    .flatten()
                    .is_some_and(|p| serde_json::from_str::<serde_json::Value>(&p).is_ok())
            };
            if parses(&harmless) {
                assert!(
                    parses(&hostile),
                    "hostile event data broke the JSON payload"
                );
            }
        }
    }
}
