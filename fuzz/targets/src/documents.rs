//! The YAML files a user writes: shipyard, SLO, SLI config, remediation, `webhook.yaml`.

use keptn_slo::{EvaluationContext, PreviousEvaluation, SliReport, evaluate};
use keptn_spec::remediation::RemediationFile;
use keptn_spec::shipyard::Shipyard;
use keptn_spec::sli::SliConfig;
use keptn_spec::webhook::WebhookConfig;
use keptn_spec::{ParseOptions, SliValue, Slo, Strictness, from_yaml_str};
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
    let _ = Slo::from_yaml_str_strict(src);
    let Ok(slo) = Slo::from_yaml_str(src) else {
        return;
    };
    let ctx = EvaluationContext::new("sockshop", "staging", "carts");
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
    let _ = SliConfig::from_yaml(src);
}

/// `remediation.yaml`, both generations.
pub fn remediation(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let _ = from_yaml_str::<RemediationFile>(src);
}

/// `webhook.yaml`, then every template of every request rendered against an event.
pub fn webhook_config(data: &[u8]) {
    let Some(src) = text(data) else { return };
    let Ok(config) = from_yaml_str::<WebhookConfig>(src) else {
        return;
    };
    let event = json!({
        "type": "sh.keptn.event.evaluation.finished",
        "data": {"project": "sockshop", "stage": "staging", "service": "carts",
                 "result": "fail", "message": "quote \" backslash \\ {{.data.project}}"},
        "env": {"SECRET": "s3cr3t"},
    });
    for webhook in &config.spec.webhooks {
        for request in &webhook.requests {
            for template in request.templates() {
                let _ = template.render(&event);
            }
        }
    }
}
