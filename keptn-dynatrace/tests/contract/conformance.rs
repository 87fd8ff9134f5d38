//! Checks recorded requests against the published OpenAPI documents
//! (`$KEPTN_SHARED_DIR/dynatrace-openapi/dynatrace-mock.json`, or `../shared/…` beside the
//! checkout). Skips with a message when the documents are not there.

use std::path::PathBuf;

use keptn_dynatrace::testing::RecordedRequest;
use serde_json::Value;

fn spec() -> Option<Value> {
    let shared = std::env::var_os("KEPTN_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    );
    let path = shared.join("dynatrace-openapi/dynatrace-mock.json");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(serde_json::from_str(&s).expect("the mock spec is JSON")),
        Err(_) => {
            eprintln!(
                "skipping the OpenAPI conformance check: {} not found (set KEPTN_SHARED_DIR)",
                path.display()
            );
            None
        }
    }
}

fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| (a.starts_with('{') && a.ends_with('}')) || a == b)
}

/// Asserts that every request used a documented path and method, only documented query
/// parameters, and the parameters the documents mark as required.
#[track_caller]
pub(crate) fn assert_documented(requests: &[RecordedRequest]) {
    let Some(spec) = spec() else { return };
    let paths = spec["paths"].as_object().unwrap();
    assert!(!requests.is_empty());
    for r in requests {
        let (template, item) = paths
            .iter()
            .filter(|(t, _)| matches(t, &r.path))
            // prefer literal segments over `{id}` templates
            .min_by_key(|(t, _)| t.matches('{').count())
            .unwrap_or_else(|| panic!("{} {} is not a documented path", r.method, r.path));
        let op = item
            .get(r.method.to_lowercase())
            .unwrap_or_else(|| panic!("{} is not documented for {template}", r.method));
        let mut params: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        params.extend(item["parameters"].as_array().into_iter().flatten());
        for (name, _) in &r.query {
            assert!(
                params
                    .iter()
                    .any(|p| p["in"] == "query" && p["name"] == name.as_str()),
                "{} {template}: query parameter `{name}` is not documented",
                r.method
            );
        }
        for p in params
            .iter()
            .filter(|p| p["in"] == "query" && p["required"] == true)
        {
            let name = p["name"].as_str().unwrap();
            assert!(
                r.query.iter().any(|(k, _)| k == name),
                "{} {template}: required `{name}` missing",
                r.method
            );
        }
        if op.get("requestBody").is_some_and(|b| b["required"] == true) {
            assert!(
                r.body.is_some(),
                "{} {template}: the documented body is missing",
                r.method
            );
        }
    }
}
