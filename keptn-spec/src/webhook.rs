//! Keptn's `webhook.yaml`: generic webhooks fired on Keptn events.
//!
//! The format is the one Keptn's webhook-service (0.12+) and its Bridge wrote:
//!
//! ```yaml
//! apiVersion: webhookconfig.keptn.sh/v1beta1
//! kind: WebhookConfig
//! metadata:
//!   name: webhook-configuration
//! spec:
//!   webhooks:
//!     - type: sh.keptn.event.evaluation.finished
//!       subscriptionID: "0123456987"
//!       sendFinished: true
//!       envFrom:
//!         - name: secretKey
//!           secretRef: { name: my-webhook-secret, key: my-key }
//!       requests:
//!         - url: https://hooks.example.com/services/{{.env.secretKey}}
//!           method: POST
//!           headers:
//!             - key: Content-Type
//!               value: application/json
//!           payload: '{"text": "Evaluation {{.data.evaluation.result}}, score {{.data.evaluation.score}}"}'
//! ```
//!
//! Parse it with [`WebhookConfig::from_yaml_str`]; syntax errors in templates, a v1alpha1 file and
//! references to undeclared `{{.env.NAME}}` variables are reported at load time, with the line
//! and column of the offending value:
//!
//! ```
//! use keptn_spec::webhook::WebhookConfig;
//!
//! let config = WebhookConfig::from_yaml_str(
//!     r#"
//! apiVersion: webhookconfig.keptn.sh/v1beta1
//! kind: WebhookConfig
//! metadata: { name: notify }
//! spec:
//!   webhooks:
//!     - type: sh.keptn.event.*.finished
//!       subscriptionID: evaluations
//!       requests:
//!         - url: http://127.0.0.1:9/hook
//!           method: POST
//!           payload: '{"project": "{{.data.project}}", "type": "{{.type}}"}'
//! "#,
//! )?;
//! let request = &config.spec.webhooks[0].requests[0];
//! let event = serde_json::json!({"type": "sh.keptn.event.evaluation.finished",
//!                                "data": {"project": "sockshop"}});
//! assert_eq!(
//!     request.payload.as_ref().unwrap().render(&event)?,
//!     r#"{"project": "sockshop", "type": "sh.keptn.event.evaluation.finished"}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Templates
//!
//! URLs, header values and payloads are Go-template strings in Keptn. keptn-rs supports the part
//! of that syntax Keptn's documentation and examples use: field references `{{.data.project}}`,
//! `{{ .id }}`, `{{.data.evaluation.score}}`, `{{.env.NAME}}`, the whole value `{{.}}`, trim
//! markers `{{-` / `-}}` and comments `{{/* … */}}`. Other actions (`if`, `range`, pipelines,
//! functions) are rejected at load time with a clear message rather than sent verbatim.
//!
//! The data a template sees is the CloudEvent as JSON (`.id`, `.type`, `.source`, `.time`,
//! `.shkeptncontext`, `.triggeredid`, `.data…`) plus `.env` with the `envFrom` secrets, as in
//! Keptn. A reference to a field the event does not have is an error at render time (Keptn
//! executes templates with `missingkey=error` and fails the webhook; we do the same: the request
//! is not sent and the failure is reported). [`Template::render`] inserts strings as they are
//! (no JSON escaping, as in Keptn), numbers and booleans in their JSON form; senders use
//! [`Request::render_payload`] and [`Template::render_header`] instead, which escape inserted
//! values for where they land so event data cannot change the JSON or add a header (a
//! deliberate difference from Keptn). Other deliberate differences: a
//! JSON `null` renders as an empty string (Go prints `<no value>`) and objects/arrays render as
//! compact JSON (Go prints its `map[…]` debug form).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod pattern;
mod request;
mod safe;
mod template;
pub use pattern::EventTypePattern;
pub use request::{Header, HttpMethod, Request};
pub use template::{RenderError, Template, TemplateError};

/// The `apiVersion` keptn-rs reads and writes.
pub const API_VERSION_V1BETA1: &str = "webhookconfig.keptn.sh/v1beta1";
/// The older `apiVersion` whose requests are curl command strings; rejected with a clear message.
pub const API_VERSION_V1ALPHA1: &str = "webhookconfig.keptn.sh/v1alpha1";

/// A whole `webhook.yaml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookConfig {
    /// Always `webhookconfig.keptn.sh/v1beta1`.
    #[serde(rename = "apiVersion")]
    pub api_version: ApiVersion,
    /// `WebhookConfig` (what Keptn's Bridge and docs write) or `Webhook` (what `keptn/spec` says).
    pub kind: WebhookKind,
    /// The file's metadata.
    #[serde(default)]
    pub metadata: Metadata,
    /// The webhooks.
    pub spec: WebhookSpec,
}

impl WebhookConfig {
    /// The webhooks whose `type` pattern matches `event_type`, in file order.
    pub fn webhooks_for<'a>(&'a self, event_type: &'a str) -> impl Iterator<Item = &'a Webhook> {
        self.spec
            .webhooks
            .iter()
            .filter(move |w| w.event_type.matches(event_type))
    }
}

/// The supported `apiVersion` values of a [`WebhookConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum ApiVersion {
    /// `webhookconfig.keptn.sh/v1beta1`: requests as `{url, method, headers, payload}`.
    #[default]
    V1Beta1,
}

impl ApiVersion {
    /// The version as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1Beta1 => API_VERSION_V1BETA1,
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for ApiVersion {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl FromStr for ApiVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            API_VERSION_V1BETA1 => Ok(ApiVersion::V1Beta1),
            API_VERSION_V1ALPHA1 => Err(format!(
                "apiVersion `{API_VERSION_V1ALPHA1}` (requests written as curl command strings) is \
                 not supported: write each request as {{url, method, headers, payload}} and set \
                 apiVersion: {API_VERSION_V1BETA1}"
            )),
            other => Err(format!(
                "unsupported apiVersion `{other}`: expected `{API_VERSION_V1BETA1}`"
            )),
        }
    }
}

impl From<ApiVersion> for String {
    fn from(v: ApiVersion) -> Self {
        v.as_str().to_owned()
    }
}

/// The `kind` of a webhook file. Keptn's tools wrote `WebhookConfig`; `keptn/spec` says `Webhook`.
/// Both are read and written back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum WebhookKind {
    /// `kind: WebhookConfig`.
    #[default]
    WebhookConfig,
    /// `kind: Webhook`.
    Webhook,
}

/// `metadata` of a [`WebhookConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// `metadata.name`.
    pub name: String,
}

/// `spec` of a [`WebhookConfig`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WebhookSpec {
    /// `spec.webhooks`.
    pub webhooks: Vec<Webhook>,
}

/// One webhook: which events fire it and which requests it sends.
///
/// Loading checks that every `{{.env.NAME}}` used by its requests is declared in `envFrom`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawWebhook")]
pub struct Webhook {
    /// `type`: the event type that fires the webhook. Keptn matched one exact type through a
    /// subscription; keptn-rs also accepts NATS-style wildcards (see [`EventTypePattern`]).
    #[serde(rename = "type")]
    pub event_type: EventTypePattern,
    /// `subscriptionID`: names the webhook (Keptn's uniform subscription it belonged to).
    #[serde(rename = "subscriptionID")]
    pub subscription_id: String,
    /// `sendStarted`: in Keptn, answer a `.triggered` event with `.started` before the requests.
    #[serde(rename = "sendStarted", default, skip_serializing_if = "is_false")]
    pub send_started: bool,
    /// `sendFinished`: in Keptn, answer a `.triggered` event with `.finished` after the requests.
    #[serde(rename = "sendFinished", default, skip_serializing_if = "is_false")]
    pub send_finished: bool,
    /// `envFrom`: secrets available to the templates as `{{.env.NAME}}`.
    #[serde(rename = "envFrom", default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFrom>,
    /// `requests`: sent in order.
    pub requests: Vec<Request>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Deserialize)]
struct RawWebhook {
    #[serde(rename = "type")]
    event_type: EventTypePattern,
    #[serde(rename = "subscriptionID")]
    subscription_id: String,
    #[serde(rename = "sendStarted", default)]
    send_started: bool,
    #[serde(rename = "sendFinished", default)]
    send_finished: bool,
    #[serde(rename = "envFrom", default)]
    env_from: Vec<EnvFrom>,
    requests: Vec<Request>,
}

impl TryFrom<RawWebhook> for Webhook {
    type Error = String;
    fn try_from(raw: RawWebhook) -> Result<Self, Self::Error> {
        let webhook = Webhook {
            event_type: raw.event_type,
            subscription_id: raw.subscription_id,
            send_started: raw.send_started,
            send_finished: raw.send_finished,
            env_from: raw.env_from,
            requests: raw.requests,
        };
        webhook.check_env_references()?;
        Ok(webhook)
    }
}

impl Webhook {
    /// Checks that every `{{.env.NAME}}` in the requests is declared in `envFrom`.
    fn check_env_references(&self) -> Result<(), String> {
        for (index, request) in self.requests.iter().enumerate() {
            for template in request.templates() {
                for path in template.fields() {
                    if path.first().map(String::as_str) != Some("env") {
                        continue;
                    }
                    let Some(name) = path.get(1) else {
                        return Err(format!(
                            "webhook `{}`, request {}: `{{{{.env}}}}` must name a variable, e.g. \
                             `{{{{.env.token}}}}`",
                            self.subscription_id,
                            index + 1
                        ));
                    };
                    if !self.env_from.iter().any(|e| &e.name == name) {
                        let declared: Vec<&str> =
                            self.env_from.iter().map(|e| e.name.as_str()).collect();
                        return Err(format!(
                            "webhook `{}`, request {}: `{{{{.env.{name}}}}}` is not declared in \
                             envFrom (declared: {})",
                            self.subscription_id,
                            index + 1,
                            if declared.is_empty() {
                                "none".to_owned()
                            } else {
                                declared.join(", ")
                            }
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// One `envFrom` entry: a secret made available to templates as `{{.env.<name>}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvFrom {
    /// The variable name used in templates.
    pub name: String,
    /// Where the secret value comes from.
    #[serde(rename = "secretRef")]
    pub secret_ref: SecretRef,
}

/// A reference to one key of a (Kubernetes) secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SecretRef {
    /// The secret's name.
    pub name: String,
    /// The key within the secret.
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOUR: &str = r#"
apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata:
  name: webhook-configuration
spec:
  webhooks:
    - type: sh.keptn.event.evaluation.finished
      subscriptionID: "0123456987"
      sendStarted: true
      sendFinished: true
      envFrom:
        - name: "secretKey"
          secretRef:
            name: "my-webhook-secret"
            key: "my-key"
      requests:
        - url: https://hooks.example.com/services/{{.env.secretKey}}
          method: POST
          headers:
            - key: Content-type
              value: application/json
          payload: >-
            {"text": "Evaluation {{.data.evaluation.result}} with a score of {{.data.evaluation.score}} "}
"#;

    #[track_caller]
    fn parse(src: &str) -> WebhookConfig {
        WebhookConfig::from_yaml_str(src).unwrap()
    }

    #[track_caller]
    fn parse_err(src: &str) -> String {
        WebhookConfig::from_yaml_str(src).unwrap_err().to_string()
    }

    /// The example of keptn/spec's webhook.md loads with every field in place.
    #[test]
    fn spec_example_loads() {
        let config = parse(TOUR);
        assert_eq!(config.api_version, ApiVersion::V1Beta1);
        assert_eq!(config.kind, WebhookKind::WebhookConfig);
        assert_eq!(config.metadata.name, "webhook-configuration");
        let w = &config.spec.webhooks[0];
        assert_eq!(w.event_type.as_str(), "sh.keptn.event.evaluation.finished");
        assert_eq!(w.subscription_id, "0123456987");
        assert!(w.send_started && w.send_finished);
        assert_eq!(w.env_from[0].name, "secretKey");
        assert_eq!(
            w.env_from[0].secret_ref,
            SecretRef {
                name: "my-webhook-secret".into(),
                key: "my-key".into()
            }
        );
        let r = &w.requests[0];
        assert_eq!(r.method, HttpMethod::Post);
        assert_eq!(r.headers[0].key, "Content-type");
        assert_eq!(r.headers[0].value.as_str(), "application/json");
        let event = json!({"data": {"evaluation": {"result": "pass", "score": 100}},
                           "env": {"secretKey": "T000/B000/XXX"}});
        assert_eq!(
            r.url.render(&event).unwrap(),
            "https://hooks.example.com/services/T000/B000/XXX"
        );
        assert_eq!(
            r.payload.as_ref().unwrap().render(&event).unwrap(),
            r#"{"text": "Evaluation pass with a score of 100 "}"#
        );
    }

    /// `kind: Webhook` (keptn/spec's wording) is accepted and written back unchanged.
    #[test]
    fn kind_webhook_is_accepted_and_kept() {
        let config = parse(&TOUR.replace("kind: WebhookConfig", "kind: Webhook"));
        assert_eq!(config.kind, WebhookKind::Webhook);
        let out = serde_saphyr::to_string(&config).unwrap();
        assert!(out.contains("kind: Webhook\n"), "{out}");
    }

    /// A v1alpha1 file is rejected with a message that says how to convert it, at its line.
    #[test]
    fn v1alpha1_is_rejected_with_a_clear_message() {
        let src = "apiVersion: webhookconfig.keptn.sh/v1alpha1\nkind: WebhookConfig\n\
                   metadata: {name: x}\nspec:\n  webhooks:\n    - type: sh.keptn.event.test.triggered\n      \
                   subscriptionID: a\n      requests:\n        - curl http://localhost:8080\n";
        let err = parse_err(src);
        assert!(err.starts_with("1:"), "{err}");
        assert!(err.contains("v1alpha1"), "{err}");
        assert!(err.contains("{url, method, headers, payload}"), "{err}");
    }

    /// A curl string under v1beta1 is rejected where it stands, naming the v1alpha1 form.
    #[test]
    fn curl_string_request_is_rejected_at_its_line() {
        let src = "apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\n\
                   metadata: {name: x}\nspec:\n  webhooks:\n    - type: sh.keptn.event.test.triggered\n      \
                   subscriptionID: a\n      requests:\n        - \"curl http://localhost:8080\"\n";
        let err = parse_err(src);
        assert!(err.starts_with("9:"), "{err}");
        assert!(err.contains("curl command string"), "{err}");
    }

    /// A syntax error in a payload template is reported at load time with its line.
    #[test]
    fn bad_template_is_a_load_time_error() {
        let src = TOUR.replace(
            "{{.data.evaluation.score}}",
            "{{if .data.evaluation.score}}",
        );
        let err = parse_err(&src);
        assert!(err.contains("unsupported template action"), "{err}");
        assert!(err.starts_with("24:") || err.starts_with("25:"), "{err}");
    }

    /// `{{.env.X}}` must be declared in envFrom.
    #[test]
    fn undeclared_env_is_a_load_time_error() {
        let src = TOUR.replace("{{.env.secretKey}}", "{{.env.token}}");
        let err = parse_err(&src);
        assert!(
            err.contains("`{{.env.token}}` is not declared in envFrom (declared: secretKey)"),
            "{err}"
        );
        assert!(err.contains("webhook `0123456987`, request 1"), "{err}");
    }

    /// Unknown methods and a missing url are reported with what was expected.
    #[test]
    fn bad_method_and_missing_url_are_explained() {
        let err = parse_err(&TOUR.replace("method: POST", "method: FETCH"));
        assert!(err.contains("unsupported HTTP method `FETCH`"), "{err}");
        let err = parse_err(&TOUR.replace(
            "- url: https://hooks.example.com/services/{{.env.secretKey}}\n          method: POST",
            "- method: POST",
        ));
        assert!(err.contains("url"), "{err}");
    }

    /// Methods are read case-insensitively and written upper case.
    #[test]
    fn method_is_case_insensitive() {
        let config = parse(&TOUR.replace("method: POST", "method: post"));
        assert_eq!(config.spec.webhooks[0].requests[0].method, HttpMethod::Post);
    }

    /// `webhooks_for` selects by pattern in file order.
    #[test]
    fn webhooks_for_selects_matching_webhooks() {
        let config = parse(TOUR);
        assert_eq!(
            config
                .webhooks_for("sh.keptn.event.evaluation.finished")
                .count(),
            1
        );
        assert_eq!(
            config.webhooks_for("sh.keptn.event.test.finished").count(),
            0
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn ident() -> impl Strategy<Value = String> {
            "[a-z_][a-zA-Z0-9_]{0,8}"
        }

        fn template() -> impl Strategy<Value = Template> {
            let part = prop_oneof![
                "[a-zA-Z0-9 :/\"{},._-]{0,12}".prop_map(|s| s.replace("{{", "{")),
                proptest::collection::vec(ident(), 1..4)
                    .prop_map(|p| format!("{{{{.{}}}}}", p.join("."))),
            ];
            proptest::collection::vec(part, 0..5)
                .prop_map(|parts| parts.concat())
                .prop_filter_map("valid template", |s| Template::parse(&s).ok())
        }

        fn pattern() -> impl Strategy<Value = EventTypePattern> {
            proptest::collection::vec(prop_oneof!["[a-z][a-z-]{0,6}", Just("*".to_owned())], 1..6)
                .prop_map(|segs| segs.join(".").parse().unwrap())
        }

        fn request() -> impl Strategy<Value = Request> {
            (
                template(),
                prop_oneof![
                    Just(HttpMethod::Get),
                    Just(HttpMethod::Post),
                    Just(HttpMethod::Put),
                    Just(HttpMethod::Patch),
                    Just(HttpMethod::Delete)
                ],
                proptest::collection::vec(("[A-Za-z-]{1,10}", template()), 0..3),
                proptest::option::of(template()),
                proptest::option::of("--[a-z]{1,8}"),
            )
                .prop_map(|(url, method, headers, payload, options)| Request {
                    url,
                    method,
                    headers: headers
                        .into_iter()
                        .map(|(key, value)| Header { key, value })
                        .collect(),
                    payload,
                    options,
                })
        }

        fn webhook() -> impl Strategy<Value = Webhook> {
            (
                pattern(),
                "[a-z0-9-]{1,12}",
                any::<bool>(),
                any::<bool>(),
                proptest::collection::vec(request(), 0..3),
            )
                .prop_map(
                    |(event_type, subscription_id, send_started, send_finished, requests)| {
                        // declare every env variable the generated templates use
                        let mut env_from: Vec<EnvFrom> = Vec::new();
                        for r in &requests {
                            for t in r.templates() {
                                for path in t.fields() {
                                    if path.first().map(String::as_str) == Some("env") {
                                        let name = path.get(1).cloned().unwrap_or_default();
                                        if !env_from.iter().any(|e| e.name == name) {
                                            env_from.push(EnvFrom {
                                                name: name.clone(),
                                                secret_ref: SecretRef {
                                                    name: "s".into(),
                                                    key: name,
                                                },
                                            });
                                        }
                                    }
                                }
                            }
                        }
                        Webhook {
                            event_type,
                            subscription_id,
                            send_started,
                            send_finished,
                            env_from,
                            requests,
                        }
                    },
                )
                .prop_filter("env references are complete", |w| {
                    w.check_env_references().is_ok()
                })
        }

        proptest! {
            /// parse → serialize → parse gives the same configuration.
            #[test]
            fn config_round_trips(
                name in "[a-z-]{1,10}",
                webhooks in proptest::collection::vec(webhook(), 0..3),
                kind in prop_oneof![Just(WebhookKind::WebhookConfig), Just(WebhookKind::Webhook)],
            ) {
                let config = WebhookConfig {
                    api_version: ApiVersion::V1Beta1,
                    kind,
                    metadata: Metadata { name },
                    spec: WebhookSpec { webhooks },
                };
                let yaml = serde_saphyr::to_string(&config).unwrap();
                let back = WebhookConfig::from_yaml_str(&yaml)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
                prop_assert_eq!(back, config);
            }
        }
    }
}
