//! Where notifications go: chat webhooks (Slack, Teams) and generic webhooks from `webhook.yaml`.

use std::fmt;

use keptn_spec::webhook::{EventTypePattern, HttpMethod, Webhook, WebhookConfig};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::filter::EventFilter;
use crate::format::ChatFormat;
use crate::message::{Enrichment, MessageKind};
use crate::secrets::SecretSource;

/// One destination of notifications, with the filter of events it receives.
///
/// Its `Debug` output never shows URLs or secret values.
///
/// ```
/// use keptn_notify::{EventFilter, Target};
/// use secrecy::SecretString;
///
/// let slack = Target::slack(SecretString::from("https://hooks.slack.com/services/T0/B0/XYZ"))?
///     .with_filter(EventFilter::all().stage("production".parse()?));
/// assert_eq!(slack.name(), "slack");
/// assert!(!format!("{slack:?}").contains("XYZ"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Target {
    pub(crate) name: String,
    pub(crate) filter: EventFilter,
    pub(crate) kind: TargetKind,
}

#[derive(Clone)]
pub(crate) enum TargetKind {
    Chat {
        format: ChatFormat,
        url: SecretString,
    },
    Webhook(CompiledWebhook),
}

#[derive(Clone)]
pub(crate) struct CompiledWebhook {
    pub(crate) event_type: EventTypePattern,
    pub(crate) requests: Vec<keptn_spec::webhook::Request>,
    pub(crate) env: Vec<(String, SecretString)>,
}

impl CompiledWebhook {
    /// The data templates see: the event plus `env` with the secret values.
    pub(crate) fn template_root(&self, event: &Value) -> Value {
        let mut root = event.clone();
        if let Value::Object(map) = &mut root {
            let env: serde_json::Map<String, Value> = self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.expose_secret().to_owned())))
                .collect();
            map.insert("env".to_owned(), Value::Object(env));
        }
        root
    }

    /// Masks every secret value in `text` with `***`.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (_, value) in &self.env {
            let v = value.expose_secret();
            if !v.is_empty() {
                out = out.replace(v, "***");
            }
        }
        out
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Target");
        d.field("name", &self.name).field("filter", &self.filter);
        match &self.kind {
            TargetKind::Chat { format, .. } => {
                d.field("format", format).field("url", &"[REDACTED]");
            }
            TargetKind::Webhook(w) => {
                let names: Vec<&str> = w.env.iter().map(|(n, _)| n.as_str()).collect();
                d.field("event_type", &w.event_type)
                    .field("requests", &w.requests.len())
                    .field("env", &names)
                    .field("env_values", &"[REDACTED]");
            }
        }
        d.finish()
    }
}

fn check_url(url: &str, what: impl Into<String>) -> Result<()> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(Error::InvalidUrl { what: what.into() }),
    }
}

impl Target {
    /// A Slack incoming webhook.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `url` is not an absolute http(s) URL.
    pub fn slack(url: SecretString) -> Result<Target> {
        Target::chat(ChatFormat::Slack, url)
    }

    /// A Microsoft Teams webhook; the format follows the URL
    /// ([`ChatFormat::teams_for_url`]).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `url` is not an absolute http(s) URL.
    pub fn teams(url: SecretString) -> Result<Target> {
        let format = ChatFormat::teams_for_url(url.expose_secret());
        Target::chat(format, url)
    }

    /// A chat webhook in the given format. It receives only events that make a
    /// [`Message`](crate::Message).
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `url` is not an absolute http(s) URL.
    pub fn chat(format: ChatFormat, url: SecretString) -> Result<Target> {
        let name = match format {
            ChatFormat::Slack => "slack",
            ChatFormat::TeamsMessageCard | ChatFormat::TeamsAdaptiveCard => "teams",
        };
        check_url(url.expose_secret(), format!("the {name} webhook URL"))?;
        Ok(Target {
            name: name.to_owned(),
            filter: EventFilter::all(),
            kind: TargetKind::Chat { format, url },
        })
    }

    /// One webhook of a `webhook.yaml`, with its `envFrom` secrets resolved now. It receives
    /// the events whose type matches the webhook's `type`.
    ///
    /// `sendStarted` / `sendFinished` are not acted on: a notifier reports events, it does not
    /// execute Keptn tasks (Keptn's webhook-service answered `.triggered` events with
    /// `.started`/`.finished`).
    ///
    /// # Errors
    /// [`Error::MissingSecret`] when a secret is not found; [`Error::UnsupportedOptions`] when a
    /// request has curl `options`; [`Error::InvalidUrl`] when a URL without template fields is
    /// not an absolute http(s) URL.
    pub fn webhook(webhook: &Webhook, secrets: &dyn SecretSource) -> Result<Target> {
        let id = &webhook.subscription_id;
        let mut env = Vec::new();
        for e in &webhook.env_from {
            let value = secrets
                .secret(&e.secret_ref)
                .ok_or_else(|| Error::MissingSecret {
                    subscription_id: id.clone(),
                    name: e.name.clone(),
                    secret: e.secret_ref.name.clone(),
                    key: e.secret_ref.key.clone(),
                    looked_for: secrets.describe(&e.secret_ref),
                })?;
            env.push((e.name.clone(), value));
        }
        for (i, r) in webhook.requests.iter().enumerate() {
            if let Some(options) = r.options.as_deref().filter(|o| !o.trim().is_empty()) {
                return Err(Error::UnsupportedOptions {
                    subscription_id: id.clone(),
                    request: i + 1,
                    options: options.to_owned(),
                });
            }
            if r.url.is_constant() {
                check_url(
                    r.url.as_str(),
                    format!("webhook `{id}`, request {}: the url", i + 1),
                )?;
            }
        }
        if webhook.send_started || webhook.send_finished {
            tracing::info!(
                subscription_id = %id,
                "sendStarted/sendFinished are not acted on: keptn-notify reports events, it does not execute tasks"
            );
        }
        Ok(Target {
            name: format!("webhook {id}"),
            filter: EventFilter::all(),
            kind: TargetKind::Webhook(CompiledWebhook {
                event_type: webhook.event_type.clone(),
                requests: webhook.requests.clone(),
                env,
            }),
        })
    }

    /// Every webhook of `config`, in file order.
    ///
    /// # Errors
    /// As [`Target::webhook`], for the first webhook that fails.
    pub fn webhooks(config: &WebhookConfig, secrets: &dyn SecretSource) -> Result<Vec<Target>> {
        config
            .spec
            .webhooks
            .iter()
            .map(|w| Target::webhook(w, secrets))
            .collect()
    }

    /// Restricts the events this target receives (on top of a webhook's own `type`).
    #[must_use]
    pub fn with_filter(mut self, filter: EventFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Renames the target (names appear in logs, errors and statistics).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The target's name: `slack`, `teams`, `webhook <subscriptionID>`, or as set by
    /// [`named`](Self::named).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this target wants `event` (filter, webhook type, and for chats a message kind).
    pub(crate) fn accepts(&self, event_type: &str, event: &Value, known: &Enrichment) -> bool {
        if !self.filter.matches(event) {
            return false;
        }
        match &self.kind {
            TargetKind::Chat { .. } => {
                MessageKind::of(event_type, event.get("data")).is_some() && !known.duplicate_problem
            }
            TargetKind::Webhook(w) => w.event_type.matches(event_type),
        }
    }
}

/// A request ready to send: everything rendered.
pub(crate) struct Outgoing {
    pub(crate) method: reqwest::Method,
    pub(crate) url: reqwest::Url,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Option<String>,
}

pub(crate) fn method(m: HttpMethod) -> reqwest::Method {
    match m {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    }
}
