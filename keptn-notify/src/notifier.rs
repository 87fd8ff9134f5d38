//! The delivery engine: per-target bounded queues, worker tasks, timeouts and retries.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keptn_spec::retry::{Failure, RequestKind, RetryPolicy, parse_retry_after};
use keptn_spec::webhook::Template;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::guard::{self, AddressPolicy, AddressRule, GuardedResolver, Lookup};
use crate::message::{Correlator, Enrichment, Message, render_link};
use crate::target::{CompiledWebhook, Outgoing, Target, TargetKind, method};

mod builder;
pub use builder::NotifierBuilder;
use builder::Policy;

/// Sends notifications for Keptn events to its [`Target`]s, in the background.
///
/// [`emit_value`](Self::emit_value) (and `EventSink::emit`) only put the event on each matching
/// target's bounded queue and return: they never wait for the network and never fail the
/// caller. One worker task per target sends the events of its queue in order, each request with
/// a timeout and retries with exponential backoff (and jitter) on connection errors, timeouts,
/// HTTP 408, 429 and 5xx, honouring `Retry-After`. A full queue drops the new event for that
/// target; drops and failures are logged (`tracing`) and counted in [`stats`](Self::stats).
/// A slow or dead receiver delays only its own queue.
///
/// Clones share the same queues and workers. Must be built inside a Tokio runtime.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    lanes: Vec<Lane>,
    correlator: Mutex<Correlator>,
    closed: AtomicBool,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

struct Lane {
    target: Arc<Target>,
    tx: mpsc::Sender<Arc<Job>>,
    shared: Arc<LaneShared>,
}

#[derive(Default)]
struct LaneShared {
    queued: AtomicU64,
    dropped: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    pending: AtomicU64,
    last_error: Mutex<Option<String>>,
}

struct Job {
    event: Value,
    event_type: String,
    known: Enrichment,
}

/// Delivery counters of one target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetStats {
    /// The target's name.
    pub name: String,
    /// Events put on the target's queue.
    pub queued: u64,
    /// Events not queued: the queue was full or the notifier shut down.
    pub dropped: u64,
    /// Requests the receiver accepted (2xx).
    pub delivered: u64,
    /// Requests given up (after retries, on a non-retryable status, or not renderable).
    pub failed: u64,
    /// Extra attempts made after transient failures.
    pub retries: u64,
    /// The last failure, without URLs or secrets.
    pub last_error: Option<String>,
}

/// Delivery counters of every target of a [`Notifier`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotifyStats {
    /// One entry per target, in the order they were added.
    pub targets: Vec<TargetStats>,
}

impl NotifyStats {
    /// Requests delivered, over all targets.
    pub fn delivered(&self) -> u64 {
        self.targets.iter().map(|t| t.delivered).sum()
    }
    /// Requests given up, over all targets.
    pub fn failed(&self) -> u64 {
        self.targets.iter().map(|t| t.failed).sum()
    }
    /// Events dropped, over all targets.
    pub fn dropped(&self) -> u64 {
        self.targets.iter().map(|t| t.dropped).sum()
    }
    /// Retries, over all targets.
    pub fn retries(&self) -> u64 {
        self.targets.iter().map(|t| t.retries).sum()
    }
    /// The counters of the target called `name`.
    pub fn target(&self, name: &str) -> Option<&TargetStats> {
        self.targets.iter().find(|t| t.name == name)
    }
}

impl fmt::Display for NotifyStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.targets.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{}: {} delivered, {} failed, {} dropped, {} retries",
                t.name, t.delivered, t.failed, t.dropped, t.retries
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<&Target> = self.inner.lanes.iter().map(|l| &*l.target).collect();
        f.debug_struct("Notifier")
            .field("targets", &targets)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish()
    }
}

impl Notifier {
    /// A builder with no targets and the default delivery policy.
    pub fn builder() -> NotifierBuilder {
        NotifierBuilder::default()
    }

    /// The names of the targets, in order.
    pub fn target_names(&self) -> Vec<&str> {
        self.inner.lanes.iter().map(|l| l.target.name()).collect()
    }

    /// Queues `event` (a Keptn CloudEvent as JSON) for every target that wants it. Never
    /// blocks and never fails: a full queue drops the event for that target (logged, counted).
    pub fn emit_value(&self, event: Value) {
        let event_type = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let known = match self.inner.correlator.lock() {
            Ok(mut c) => c.observe(&event),
            Err(poisoned) => poisoned.into_inner().observe(&event),
        };
        let closed = self.inner.closed.load(Ordering::Acquire);
        let wanted: Vec<&Lane> = self
            .inner
            .lanes
            .iter()
            .filter(|lane| lane.target.accepts(&event_type, &event, &known))
            .collect();
        if wanted.is_empty() {
            return;
        }
        if closed {
            for lane in wanted {
                lane.shared.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(notify_target = %lane.target.name(), event_type = %event_type,
                    "notifier is shut down; event dropped");
            }
            return;
        }
        let job = Arc::new(Job {
            event,
            event_type,
            known,
        });
        for lane in wanted {
            lane.shared.pending.fetch_add(1, Ordering::AcqRel);
            match lane.tx.try_send(Arc::clone(&job)) {
                Ok(()) => {
                    lane.shared.queued.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    lane.shared.pending.fetch_sub(1, Ordering::AcqRel);
                    lane.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    let why = match e {
                        mpsc::error::TrySendError::Full(_) => "queue full",
                        mpsc::error::TrySendError::Closed(_) => "worker stopped",
                    };
                    tracing::warn!(notify_target = %lane.target.name(), event_type = %job.event_type,
                        "notification dropped: {why}");
                }
            }
        }
    }

    /// The delivery counters so far.
    pub fn stats(&self) -> NotifyStats {
        NotifyStats {
            targets: self
                .inner
                .lanes
                .iter()
                .map(|l| TargetStats {
                    name: l.target.name().to_owned(),
                    queued: l.shared.queued.load(Ordering::Relaxed),
                    dropped: l.shared.dropped.load(Ordering::Relaxed),
                    delivered: l.shared.delivered.load(Ordering::Relaxed),
                    failed: l.shared.failed.load(Ordering::Relaxed),
                    retries: l.shared.retries.load(Ordering::Relaxed),
                    last_error: l.shared.last_error.lock().ok().and_then(|e| e.clone()),
                })
                .collect(),
        }
    }

    /// Events queued or being sent, over all targets.
    pub fn pending(&self) -> u64 {
        self.inner
            .lanes
            .iter()
            .map(|l| l.shared.pending.load(Ordering::Acquire))
            .sum()
    }

    /// Waits until every queued event has been handled (delivered or given up).
    ///
    /// # Errors
    /// [`Error::FlushTimeout`] when events are still pending after `timeout`.
    ///
    /// # Caveats
    /// Events emitted while waiting are waited for too.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let start = tokio::time::Instant::now();
        loop {
            let pending = self.pending();
            if pending == 0 {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(Error::FlushTimeout {
                    pending,
                    waited: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops accepting events, waits up to `timeout` for the queues to drain, then stops the
    /// workers. Events emitted afterwards are counted as dropped.
    ///
    /// # Errors
    /// [`Error::FlushTimeout`] when events were still pending after `timeout` (they are
    /// abandoned).
    pub async fn shutdown(&self, timeout: Duration) -> Result<()> {
        self.inner.closed.store(true, Ordering::Release);
        let flushed = self.flush(timeout).await;
        let workers = match self.inner.workers.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for w in workers {
            w.abort();
        }
        flushed
    }
}

impl keptn_spec::event::EventSink for Notifier {
    fn emit(&self, event: &keptn_spec::event::KeptnEvent) {
        match serde_json::to_value(event) {
            Ok(value) => self.emit_value(value),
            Err(e) => tracing::warn!(error = %e, "cannot serialize event for notification"),
        }
    }
}

struct Worker {
    target: Arc<Target>,
    shared: Arc<LaneShared>,
    client: reqwest::Client,
    policy: Policy,
    report_link: Option<Arc<Template>>,
    addresses: Arc<AddressPolicy>,
    /// Whether to resolve and check a host before the request (the client's own resolving is
    /// not guarded, or a proxy resolves the target).
    prelookup: bool,
    /// The proxies from the environment (`(variable, URL)`), checked before each request.
    proxies: Arc<Vec<(&'static str, reqwest::Url)>>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Arc<Job>>) {
        while let Some(job) = rx.recv().await {
            self.handle(&job).await;
            self.shared.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    async fn handle(&self, job: &Job) {
        match &self.target.kind {
            TargetKind::Chat { format, url } => {
                let link = render_link(self.report_link.as_deref(), &job.event);
                let Some(message) = Message::build(&job.event, &job.known, link) else {
                    return;
                };
                let Ok(url) = reqwest::Url::parse(url.expose_secret()) else {
                    self.record_failure(&Error::InvalidUrl {
                        what: format!("the {} webhook URL", self.target.name()),
                    });
                    return;
                };
                let mut headers = HeaderMap::new();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                let out = Outgoing {
                    method: reqwest::Method::POST,
                    url,
                    headers,
                    body: Some(format.payload(&message).to_string()),
                };
                let secret_url = url_secret(url_str(&self.target));
                self.send(&out, &|s| redact_all(s, &secret_url)).await;
            }
            TargetKind::Webhook(webhook) => self.handle_webhook(webhook, job).await,
        }
    }

    async fn handle_webhook(&self, webhook: &CompiledWebhook, job: &Job) {
        let root = webhook.template_root(&job.event);
        for (i, request) in webhook.requests.iter().enumerate() {
            let out = match render_request(webhook, request, &root) {
                Ok(out) => out,
                Err(RenderFailure::Template(source)) => {
                    self.record_failure(&Error::Render {
                        target: self.target.name().to_owned(),
                        request: i + 1,
                        event_type: job.event_type.clone(),
                        source,
                    });
                    return;
                }
                Err(RenderFailure::Invalid(what)) => {
                    self.record_failure(&Error::InvalidRequest {
                        target: self.target.name().to_owned(),
                        request: i + 1,
                        what,
                    });
                    return;
                }
            };
            if !self.send(&out, &|s| webhook.redact(s)).await {
                // as Keptn: the remaining requests of this webhook are not sent
                return;
            }
        }
    }

    /// Why a proxy from the environment may not be used, or `None`: its host as written and
    /// every address it resolves to, under the same policy as targets.
    async fn refused_proxy(&self) -> Option<String> {
        for (variable, url) in &*self.proxies {
            if let Some(why) = self.addresses.refused_url(url).await {
                return Some(format!("the proxy of {variable}: {why}"));
            }
        }
        None
    }

    /// Sends with retries; `true` when delivered.
    async fn send(&self, out: &Outgoing, redact: &(dyn Fn(&str) -> String + Sync)) -> bool {
        let name = self.target.name();
        let refused = if self.addresses.is_open() {
            None
        } else if let Some(why) = self.refused_proxy().await {
            Some(why)
        } else if self.prelookup {
            self.addresses.refused_url(&out.url).await
        } else {
            self.addresses.refused_host(&out.url)
        };
        if let Some(reason) = refused {
            self.record_failure(&Error::RefusedAddress {
                target: name.to_owned(),
                reason: redact(&reason),
            });
            return false;
        }
        let mut attempt: u32 = 1;
        loop {
            let mut request = self
                .client
                .request(out.method.clone(), out.url.clone())
                .headers(out.headers.clone())
                .timeout(self.policy.timeout);
            if let Some(body) = &out.body {
                request = request.body(body.clone());
            }
            let (error, failure, retry_after) = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    self.shared.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(notify_target = %name, status = response.status().as_u16(), "notification delivered");
                    return true;
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                    let body = response.text().await.unwrap_or_default();
                    let body: String = redact(&body).chars().take(200).collect();
                    (
                        Error::Status {
                            target: name.to_owned(),
                            status,
                            body,
                        },
                        Failure::Status(status),
                        retry_after,
                    )
                }
                Err(e) if guard::refusal_in(&e).is_some() => {
                    // the guarded resolver refused the addresses: not retried
                    let reason = guard::refusal_in(&e).unwrap_or_default();
                    self.record_failure(&Error::RefusedAddress {
                        target: name.to_owned(),
                        reason: redact(&reason),
                    });
                    return false;
                }
                Err(e) if e.is_timeout() => (
                    Error::Timeout {
                        target: name.to_owned(),
                        timeout: self.policy.timeout,
                    },
                    Failure::Timeout,
                    None,
                ),
                Err(e) => {
                    let failure = if e.is_connect() {
                        Failure::Connect
                    } else {
                        Failure::Transport
                    };
                    let error = Error::Transport {
                        target: name.to_owned(),
                        source: e.without_url(),
                    };
                    (error, failure, None)
                }
            };
            // deliveries are at least once: every request may be repeated
            let Some(wait) = self.policy.retry.next_wait(
                attempt,
                failure,
                RequestKind::Idempotent,
                retry_after,
                fastrand::f64(),
            ) else {
                self.record_failure(&error);
                return false;
            };
            tracing::warn!(notify_target = %name, attempt, error = %redact(&chain(&error)),
                "notification attempt failed; retrying in {wait:?}");
            self.shared.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn record_failure(&self, error: &Error) {
        let text = chain(error);
        self.shared.failed.fetch_add(1, Ordering::Relaxed);
        tracing::error!(notify_target = %self.target.name(), error = %text, "notification failed");
        if let Ok(mut last) = self.shared.last_error.lock() {
            *last = Some(text);
        }
    }
}

enum RenderFailure {
    Template(keptn_spec::webhook::RenderError),
    Invalid(String),
}

fn render_request(
    webhook: &CompiledWebhook,
    request: &keptn_spec::webhook::Request,
    root: &Value,
) -> std::result::Result<Outgoing, RenderFailure> {
    let url = request.url.render(root).map_err(RenderFailure::Template)?;
    let url = reqwest::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| RenderFailure::Invalid("URL".to_owned()))?;
    let mut headers = HeaderMap::new();
    for h in &request.headers {
        let value = h
            .value
            .render_header(root)
            .map_err(RenderFailure::Template)?;
        let name = HeaderName::from_bytes(h.key.trim().as_bytes())
            .map_err(|_| RenderFailure::Invalid(format!("header `{}`", h.key)))?;
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| RenderFailure::Invalid(format!("header `{}` value", h.key)))?;
        if !h.value.is_constant() || !webhook.env.is_empty() {
            value.set_sensitive(true);
        }
        headers.append(name, value);
    }
    let body = request
        .render_payload(root)
        .map_err(RenderFailure::Template)?;
    Ok(Outgoing {
        method: method(request.method),
        url,
        headers,
        body,
    })
}

fn url_str(target: &Target) -> &str {
    match &target.kind {
        TargetKind::Chat { url, .. } => url.expose_secret(),
        TargetKind::Webhook(_) => "",
    }
}

/// The secret parts of a chat webhook URL: the whole URL and its path.
fn url_secret(url: &str) -> Vec<String> {
    let mut parts = vec![url.to_owned()];
    if let Ok(u) = reqwest::Url::parse(url)
        && u.path().len() > 1
    {
        parts.push(u.path().to_owned());
    }
    parts
}

fn redact_all(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

/// The error and its sources, `: `-separated.
fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secret parts of chat URLs are masked.
    #[test]
    fn chat_url_redaction() {
        let secrets = url_secret("https://hooks.slack.com/services/T0/B0/XYZ");
        assert_eq!(
            redact_all("bad hook /services/T0/B0/XYZ", &secrets),
            "bad hook ***"
        );
    }
}
