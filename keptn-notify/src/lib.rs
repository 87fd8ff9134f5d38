//! Slack, Microsoft Teams and generic webhook notifications on Keptn events.
//!
//! A [`Notifier`] receives every Keptn CloudEvent of a delivery sequence, a quality gate or a
//! remediation workflow (it is an event sink) and sends, in the background:
//!
//! * to **Slack** and **Microsoft Teams** webhooks, one [`Message`] per meaningful event —
//!   delivery started/finished per stage, evaluation result with score and failing objectives,
//!   rollback, problem opened/resolved, remediation action taken — with the facts Keptn's
//!   notification service sent (project, stage, service, image, tag, strategies, Keptn context)
//!   and a link to a report when one is configured ([`format`](mod@format) documents the payloads);
//! * to **generic webhooks** described in Keptn's `webhook.yaml`
//!   ([`keptn_spec::webhook`]), the requests of every webhook whose `type` matches the event,
//!   rendered from `{{.data.project}}`-style templates.
//!
//! Delivery never slows or breaks the sender: bounded queues, one worker per target, timeouts,
//! retries with backoff on 5xx/429 honouring `Retry-After`, failures logged and counted
//! ([`Notifier::stats`]). Webhook URLs and secrets never appear in logs, errors or `Debug`.
//! Values from the event are escaped for where they land: JSON payloads stay the JSON the
//! template describes and header values stay one line ([`keptn_spec::webhook::Request::render_payload`]).
//!
//! # Where notifications may go
//!
//! Requests to loopback (`localhost`, 127.0.0.0/8, `::1`), link-local (169.254.0.0/16,
//! `fe80::/10`), unspecified and cluster-internal hosts (the Kubernetes API's names and
//! `KUBERNETES_SERVICE_HOST`, `*.svc`, `*.cluster.local`) are refused before connecting, on
//! the host as written and on every address it resolves to, as Keptn's webhook-service refused
//! the Kubernetes API: a refused request fails with [`Error::RefusedAddress`]. Tests and local
//! set-ups opt in with [`NotifierBuilder::allow_internal_addresses`] (programs using
//! [`from_env_and_file`]: `NOTIFY_ALLOW_INTERNAL_ADDRESSES=true`). Operators refuse more with
//! [`NotifierBuilder::deny`] (`NOTIFY_DENY`) and let single hosts or ranges through with
//! [`NotifierBuilder::allow`] (`NOTIFY_ALLOW`), as [`AddressRule`]s. The notifier's own HTTP
//! client connects to exactly the addresses it checked (no second DNS answer can differ).
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // SLACK_WEBHOOK_URL / TEAMS_WEBHOOK_URL from the environment, plus a webhook.yaml
//! if let Some(notifier) = keptn_notify::from_env_and_file(Some(Path::new("webhook.yaml")))? {
//!     notifier.emit_value(serde_json::json!({
//!         "type": "sh.keptn.event.evaluation.finished",
//!         "shkeptncontext": "e1ae3d61-3a4c-4bd4-a8e5-2b7e2b7d3f4a",
//!         "data": {"project": "sockshop", "stage": "staging", "service": "carts",
//!                  "result": "pass", "evaluation": {"score": 100, "result": "pass"}}
//!     }));
//!     notifier.shutdown(Duration::from_secs(30)).await?;
//!     println!("{}", notifier.stats());
//! }
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::dbg_macro))]

mod error;
mod filter;
pub mod format;
mod guard;
mod message;
mod notifier;
mod secrets;
mod target;

use std::path::Path;

pub use error::{Error, Result};
pub use filter::EventFilter;
pub use format::ChatFormat;
pub use guard::{AddressRule, InvalidRule};
/// The retry policy of the notifier (the one every keptn-rs HTTP client follows).
pub use keptn_spec::retry::RetryPolicy;
pub use message::{Fact, Message, MessageBuilder, MessageKind, Outcome};
pub use notifier::{Notifier, NotifierBuilder, NotifyStats, TargetStats};
/// The HTTP client crate whose `Client` [`NotifierBuilder::http_client`] takes.
pub use reqwest;
/// The secret type of webhook URLs and secrets.
pub use secrecy::SecretString;
pub use secrets::{EnvSecrets, SecretSource, StaticSecrets};
pub use target::Target;

/// Environment variable with a Slack incoming-webhook URL.
pub const SLACK_WEBHOOK_URL: &str = "SLACK_WEBHOOK_URL";
/// Environment variable with a Microsoft Teams webhook URL.
pub const TEAMS_WEBHOOK_URL: &str = "TEAMS_WEBHOOK_URL";
/// Environment variable forcing the Teams format: `messagecard` or `adaptivecard` (default: by
/// URL, see [`ChatFormat::teams_for_url`]).
pub const TEAMS_WEBHOOK_FORMAT: &str = "TEAMS_WEBHOOK_FORMAT";
/// Environment variable that, set to `true`, lets [`from_env_and_file`]'s notifier send to
/// loopback, link-local and cluster-internal hosts
/// ([`NotifierBuilder::allow_internal_addresses`]).
pub const NOTIFY_ALLOW_INTERNAL_ADDRESSES: &str = "NOTIFY_ALLOW_INTERNAL_ADDRESSES";
/// Environment variable with a report-link template for chat messages, e.g.
/// `https://bridge.example.com/project/{{.data.project}}/sequence/{{.shkeptncontext}}`.
pub const KEPTN_REPORT_URL: &str = "KEPTN_REPORT_URL";
/// Environment variable with more hosts and ranges [`from_env_and_file`]'s notifier refuses:
/// [`AddressRule`]s separated by commas or spaces, e.g. `10.20.0.0/16, *.corp.example`
/// ([`NotifierBuilder::deny`]).
pub const NOTIFY_DENY: &str = "NOTIFY_DENY";
/// Environment variable with hosts and ranges let through the fixed deny list, e.g.
/// `127.0.0.1/32, receiver.tools.svc` ([`NotifierBuilder::allow`]).
pub const NOTIFY_ALLOW: &str = "NOTIFY_ALLOW";

/// The one-call set-up for programs: a [`Notifier`] for `SLACK_WEBHOOK_URL`,
/// `TEAMS_WEBHOOK_URL` (format from `TEAMS_WEBHOOK_FORMAT` or the URL) and the webhooks of
/// `webhook_file` (a Keptn `webhook.yaml`, secrets from [`EnvSecrets`]), with the report link
/// of `KEPTN_REPORT_URL`. `None` when nothing is configured. Empty variables count as unset.
///
/// Must be called inside a Tokio runtime.
///
/// # Errors
/// The file cannot be read or parsed (with line and column), a URL or setting is invalid, a
/// secret is missing, or there is no Tokio runtime.
pub fn from_env_and_file(webhook_file: Option<&Path>) -> Result<Option<Notifier>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut builder = Notifier::builder();
    match var(NOTIFY_ALLOW_INTERNAL_ADDRESSES)
        .as_deref()
        .map(str::trim)
    {
        None | Some("false") => {}
        Some("true") => builder = builder.allow_internal_addresses(),
        Some(other) => {
            return Err(Error::InvalidSetting {
                setting: NOTIFY_ALLOW_INTERNAL_ADDRESSES.to_owned(),
                message: format!("`{other}` is not `true` or `false`"),
            });
        }
    }
    for (setting, deny) in [(NOTIFY_DENY, true), (NOTIFY_ALLOW, false)] {
        let Some(list) = var(setting) else { continue };
        let rules = guard::parse_rules(&list).map_err(|e| Error::InvalidSetting {
            setting: setting.to_owned(),
            message: e.to_string(),
        })?;
        for rule in rules {
            builder = if deny {
                builder.deny(rule)
            } else {
                builder.allow(rule)
            };
        }
    }
    let mut any = false;
    if let Some(url) = var(SLACK_WEBHOOK_URL) {
        builder = builder.target(Target::slack(SecretString::from(url)).map_err(|_| {
            Error::InvalidUrl {
                what: SLACK_WEBHOOK_URL.to_owned(),
            }
        })?);
        any = true;
    }
    if let Some(url) = var(TEAMS_WEBHOOK_URL) {
        let url = SecretString::from(url);
        let target = match var(TEAMS_WEBHOOK_FORMAT).map(|f| f.to_ascii_lowercase()) {
            None => Target::teams(url),
            Some(f) if f == "messagecard" => Target::chat(ChatFormat::TeamsMessageCard, url),
            Some(f) if f == "adaptivecard" || f == "adaptive" => {
                Target::chat(ChatFormat::TeamsAdaptiveCard, url)
            }
            Some(other) => {
                return Err(Error::InvalidSetting {
                    setting: TEAMS_WEBHOOK_FORMAT.to_owned(),
                    message: format!("`{other}` is not `messagecard` or `adaptivecard`"),
                });
            }
        }
        .map_err(|_| Error::InvalidUrl {
            what: TEAMS_WEBHOOK_URL.to_owned(),
        })?;
        builder = builder.target(target);
        any = true;
    }
    if let Some(path) = webhook_file {
        let src = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        let config = keptn_spec::webhook::WebhookConfig::from_yaml_str(&src).map_err(|source| {
            Error::ParseConfig {
                path: path.to_owned(),
                source,
            }
        })?;
        builder = builder.targets(Target::webhooks(&config, &EnvSecrets)?);
        any = true;
    }
    if let Some(link) = var(KEPTN_REPORT_URL) {
        let template = link
            .parse()
            .map_err(
                |e: keptn_spec::webhook::TemplateError| Error::InvalidSetting {
                    setting: KEPTN_REPORT_URL.to_owned(),
                    message: e.to_string(),
                },
            )?;
        builder = builder.report_link(template);
    }
    if !any {
        return Ok(None);
    }
    builder.build().map(Some)
}
