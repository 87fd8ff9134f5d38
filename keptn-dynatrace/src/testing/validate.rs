//! How the fake tenant checks what it is sent: Dynatrace's error and constraint-violation
//! answers, URL encoding, selectors, and the bodies of the configuration API.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use super::State;
use crate::fake_store::Selector;

pub(super) fn error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": status, "message": message}}))
}

pub(super) fn violation(path: &str, message: &str, location: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({"error": {
        "code": 400,
        "message": "Constraints violated.",
        "constraintViolations": [{"path": path, "message": message, "parameterLocation": location, "location": null}]
    }}))
}

/// Whether every `%` in a raw query is followed by two hex digits.
pub(super) fn well_encoded(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// A structural check of a selector: balanced parentheses and double quotes, no leftover
/// percent-escapes (a sign of double encoding), no control characters.
pub(super) fn selector_problem(sel: &str) -> Option<&'static str> {
    let mut depth = 0i32;
    let mut in_quotes = false;
    let mut prev = '\0';
    let b = sel.as_bytes();
    if b.windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
    {
        return Some("contains a percent-escape: it was encoded twice");
    }
    for c in sel.chars() {
        if c.is_control() {
            return Some("contains a control character");
        }
        if c == '"' && prev != '~' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth < 0 {
                        return Some("has an unmatched `)`");
                    }
                }
                _ => {}
            }
        }
        prev = c;
    }
    if in_quotes {
        return Some("has an unterminated quote");
    }
    if depth != 0 {
        return Some("has an unmatched `(`");
    }
    None
}

pub(super) fn required(body: &Value, fields: &[&str]) -> Option<String> {
    fields
        .iter()
        .find(|f| match body.get(**f) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        })
        .map(|f| (*f).to_owned())
}

#[allow(clippy::result_large_err)] // test helper: the error is the answer itself
pub(super) fn validate_config(
    collection: &str,
    body: &Value,
    state: &State,
) -> Result<(), ResponseTemplate> {
    let missing = |f: String| Err(violation(&f, "may not be null", "PAYLOAD_BODY"));
    let check_rules = |rules: Option<&Value>, fields: &[&str]| -> Result<(), ResponseTemplate> {
        for (i, r) in rules
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(f) = required(r, fields) {
                return missing(format!("rules[{i}].{f}"));
            }
            if let Some(c) = r.get("conditions").and_then(Value::as_array)
                && c.is_empty()
            {
                return Err(violation(
                    &format!("rules[{i}].conditions"),
                    "size must be between 1 and 30",
                    "PAYLOAD_BODY",
                ));
            }
        }
        Ok(())
    };
    match collection {
        "autoTags" => {
            if let Some(f) = required(body, &["name"]) {
                return missing(f);
            }
            check_rules(body.get("rules"), &["conditions", "enabled", "type"])
        }
        "managementZones" => {
            if let Some(f) = required(body, &["name"]) {
                return missing(f);
            }
            check_rules(body.get("rules"), &["conditions", "enabled", "type"])
        }
        "alertingProfiles" => {
            if let Some(f) = required(body, &["displayName"]) {
                return missing(f);
            }
            check_rules(
                body.get("rules"),
                &["delayInMinutes", "severityLevel", "tagFilter"],
            )
        }
        "notifications" => {
            if let Some(f) = required(body, &["active", "alertingProfile", "name", "type"]) {
                return missing(f);
            }
            if body["type"] == "WEBHOOK"
                && let Some(f) = required(body, &["acceptAnyCertificate", "payload", "url"])
            {
                return missing(f);
            }
            let profile = body["alertingProfile"].as_str().unwrap_or_default();
            let known = state
                .config
                .get("alertingProfiles")
                .into_iter()
                .flatten()
                .any(|p| p["id"] == profile);
            if !known {
                return Err(error(
                    400,
                    &format!("Alerting profile {profile} does not exist"),
                ));
            }
            Ok(())
        }
        "metricEvents" => {
            if let Some(f) = required(
                body,
                &["description", "enabled", "monitoringStrategy", "name"],
            ) {
                return missing(f);
            }
            if required(body, &["metricSelector"]).is_some()
                && required(body, &["metricId"]).is_some()
            {
                return Err(error(400, "Either metricId or metricSelector must be set."));
            }
            if let Some(sel) = body["metricSelector"].as_str()
                && let Err(e) = Selector::parse(sel)
            {
                return Err(violation("metricSelector", &e, "PAYLOAD_BODY"));
            }
            if let Some(o) = body.get("queryOffset").filter(|o| !o.is_null())
                && !o.as_i64().is_some_and(|o| (1..=60).contains(&o))
            {
                return Err(violation(
                    "queryOffset",
                    "must be between 1 and 60",
                    "PAYLOAD_BODY",
                ));
            }
            let m = &body["monitoringStrategy"];
            if m["type"] == "STATIC_THRESHOLD" {
                if let Some(f) = required(
                    m,
                    &[
                        "alertCondition",
                        "dealertingSamples",
                        "samples",
                        "threshold",
                        "violatingSamples",
                    ],
                ) {
                    return missing(format!("monitoringStrategy.{f}"));
                }
                let n = |k: &str| m[k].as_i64().unwrap_or(-1);
                if !(3..=60).contains(&n("samples")) {
                    return Err(violation(
                        "monitoringStrategy.samples",
                        "must be between 3 and 60",
                        "PAYLOAD_BODY",
                    ));
                }
                if n("violatingSamples") < 1 || n("violatingSamples") > n("samples") {
                    return Err(violation(
                        "monitoringStrategy.violatingSamples",
                        "must be between 1 and samples",
                        "PAYLOAD_BODY",
                    ));
                }
                if n("dealertingSamples") < 3 || n("dealertingSamples") > n("samples") {
                    return Err(violation(
                        "monitoringStrategy.dealertingSamples",
                        "must be between 3 and samples",
                        "PAYLOAD_BODY",
                    ));
                }
            } else if m["type"] != "AUTO_ADAPTIVE_BASELINE" {
                return Err(violation(
                    "monitoringStrategy.type",
                    "must be STATIC_THRESHOLD or AUTO_ADAPTIVE_BASELINE",
                    "PAYLOAD_BODY",
                ));
            }
            Ok(())
        }
        "dashboards" => {
            let meta = body.get("dashboardMetadata").unwrap_or(&Value::Null);
            if meta.is_null() {
                return missing("dashboardMetadata".to_owned());
            }
            if let Some(f) = required(meta, &["name"]) {
                return missing(format!("dashboardMetadata.{f}"));
            }
            if meta.get("owner").is_none() {
                return missing("dashboardMetadata.owner".to_owned());
            }
            let Some(tiles) = body.get("tiles").and_then(Value::as_array) else {
                return missing("tiles".to_owned());
            };
            for (i, t) in tiles.iter().enumerate() {
                if let Some(f) = required(t, &["bounds", "name", "tileType"]) {
                    return missing(format!("tiles[{i}].{f}"));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub(super) fn name_of(collection: &str, obj: &Value) -> Value {
    match collection {
        "alertingProfiles" => obj["displayName"].clone(),
        "dashboards" => obj["dashboardMetadata"]["name"].clone(),
        _ => obj["name"].clone(),
    }
}
