//! The Dynatrace HTTP client: tenant URL, API token, timeouts, retries.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// How failed requests are retried: exponential backoff with jitter.
///
/// Retried are connection failures, timeouts of one attempt, `429 Too Many Requests` (waiting
/// what `Retry-After` asks for when given) and `5xx` answers. `POST` requests, which create
/// things, are retried only when they certainly had no effect: connection failures, `429` and
/// `503`. Every call is also bounded by the client's total timeout
/// ([`DynatraceClientBuilder::total_timeout`]): a retry that would end after it is not made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first included (`1` = no retries).
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles for each further retry.
    pub initial_backoff: Duration,
    /// The largest backoff between two attempts (not applied to `Retry-After`).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff 250 ms, 500 ms, 1 s (each with jitter), at most 5 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy with the given number of attempts and backoff bounds.
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff,
        }
    }

    /// One attempt, no retries.
    pub fn none() -> Self {
        Self::new(1, Duration::ZERO, Duration::ZERO)
    }

    /// The backoff before retry number `retry` (1-based): `initial × 2^(retry-1)`, capped, with
    /// "equal jitter" (a random value between half of it and all of it).
    fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << (retry.saturating_sub(1)).min(16));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Builds a [`DynatraceClient`]; configuration errors are reported by [`build`](Self::build).
#[must_use]
pub struct DynatraceClientBuilder {
    tenant: String,
    token: Option<SecretString>,
    timeout: Duration,
    connect_timeout: Duration,
    total_timeout: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for DynatraceClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynatraceClientBuilder")
            .field("tenant", &self.tenant)
            .field("api_token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("timeout", &self.timeout)
            .field("total_timeout", &self.total_timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl DynatraceClientBuilder {
    /// Sets the API token (sent as `Authorization: Api-Token <token>`, never logged).
    pub fn api_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// Timeout of one attempt (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Timeout for establishing a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Upper bound for one call including all retries and waits (default 90 s). A quality gate
    /// never waits longer than this for one Dynatrace answer.
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// Sets the retry policy (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Uses this `reqwest::Client` (proxies, custom TLS roots). Its own timeouts apply besides
    /// the builder's per-attempt timeout.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when the tenant is not a valid URL or host, or no token was given.
    pub fn build(self) -> Result<DynatraceClient> {
        let base = tenant_url(&self.tenant)?;
        let token = self.token.ok_or_else(|| Error::Config {
            message: "no API token given (set DT_API_TOKEN or call `api_token`)".to_owned(),
        })?;
        if token.expose_secret().trim().is_empty() {
            return Err(Error::Config {
                message: "the API token is empty".to_owned(),
            });
        }
        let mut auth = HeaderValue::from_str(&format!("Api-Token {}", token.expose_secret()))
            .map_err(|_| Error::Config {
                message: "the API token contains characters not allowed in an HTTP header"
                    .to_owned(),
            })?;
        auth.set_sensitive(true);
        let http = match self.http {
            Some(c) => c,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .user_agent(concat!(
                    "keptn-rs/keptn-dynatrace ",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .map_err(|e| Error::Config {
                    message: format!("cannot create the HTTP client: {}", e.without_url()),
                })?,
        };
        Ok(DynatraceClient {
            inner: Arc::new(Inner {
                base,
                auth,
                http,
                timeout: self.timeout,
                total_timeout: self.total_timeout,
                retry: self.retry,
            }),
        })
    }
}

/// Turns a tenant as Keptn users write it into a base URL: `abc123.live.dynatrace.com` and
/// `my.domain/e/<environment-id>` get `https://`; a given `http://` or `https://` is kept; a
/// trailing `/` is removed.
fn tenant_url(tenant: &str) -> Result<Url> {
    let raw = tenant.trim();
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .unwrap_or(raw);
    let t = raw.trim_end_matches('/');
    if rest.trim_end_matches('/').is_empty() {
        return Err(Error::Config {
            message: "no tenant given (set DT_TENANT, e.g. `abc123.live.dynatrace.com`)".to_owned(),
        });
    }
    let with_scheme = if t.starts_with("http://") || t.starts_with("https://") {
        t.to_owned()
    } else if t.contains("://") {
        return Err(Error::Config {
            message: format!("tenant `{t}`: only http:// and https:// are supported"),
        });
    } else {
        format!("https://{t}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| Error::Config {
        message: format!(
            "tenant `{t}` is not a valid host or URL ({e}); expected `<id>.live.dynatrace.com` or `<domain>/e/<id>`"
        ),
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config {
            message: format!("tenant `{t}` has no host"),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config {
            message: format!("tenant `{t}` must not have a query or fragment"),
        });
    }
    Ok(url)
}

struct Inner {
    base: Url,
    auth: HeaderValue,
    http: reqwest::Client,
    timeout: Duration,
    total_timeout: Duration,
    retry: RetryPolicy,
}

/// A Dynatrace API client for one tenant. Cheap to clone (an `Arc` inside).
///
/// ```no_run
/// use std::time::Duration;
/// use keptn_dynatrace::DynatraceClient;
/// use secrecy::SecretString;
///
/// let dt = DynatraceClient::builder("abc123.live.dynatrace.com")
///     .api_token(SecretString::from("dt0c01.XXXX"))
///     .timeout(Duration::from_secs(20))
///     .build()?;
/// assert_eq!(dt.base_url(), "https://abc123.live.dynatrace.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DynatraceClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for DynatraceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynatraceClient")
            .field("base_url", &self.base_url())
            .field("api_token", &"[REDACTED]")
            .field("timeout", &self.inner.timeout)
            .field("total_timeout", &self.inner.total_timeout)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

/// The body of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body<'a> {
    /// No body.
    None,
    /// A JSON body.
    Json(&'a Value),
    /// A `text/plain; charset=utf-8` body (metric ingest's line protocol).
    Text(&'a str),
}

/// An HTTP answer with a success status: the status and the body (JSON, or `Null` when empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl DynatraceClient {
    /// Starts building a client for `tenant` (`abc123.live.dynatrace.com`,
    /// `my.domain/e/<id>`, or a full `http(s)://` URL).
    pub fn builder(tenant: impl Into<String>) -> DynatraceClientBuilder {
        DynatraceClientBuilder {
            tenant: tenant.into(),
            token: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(90),
            retry: RetryPolicy::default(),
            http: None,
        }
    }

    /// The tenant's base URL, such as `https://abc123.live.dynatrace.com` (no trailing `/`).
    pub fn base_url(&self) -> String {
        self.inner.base.as_str().trim_end_matches('/').to_owned()
    }

    /// The total time one call may take, retries included.
    pub fn total_timeout(&self) -> Duration {
        self.inner.total_timeout
    }

    fn url(&self, path: &str) -> Result<Url> {
        let s = format!("{}{path}", self.base_url());
        Url::parse(&s).map_err(|e| Error::Config {
            message: format!("cannot build the URL for {path}: {e}"),
        })
    }

    /// `GET path?query`, decoded from JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T> {
        let answer = self.send(Method::GET, path, query, None).await?;
        serde_json::from_value(answer.body).map_err(|e| Error::Decode {
            endpoint: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Sends one request with retries and returns the answer of the first success.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Answer> {
        let body = body.map_or(Body::None, Body::Json);
        self.send_body(method, path, query, body, &[]).await
    }

    /// Sends one request with retries; a 2xx status, or one of `also_ok` (an answer the API
    /// documents with a useful body, such as the 400 of metric ingest), is an [`Answer`].
    pub(crate) async fn send_body(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Body<'_>,
        also_ok: &[u16],
    ) -> Result<Answer> {
        let inner = &self.inner;
        let url = self.url(path)?;
        let started = Instant::now();
        let deadline = started + inner.total_timeout;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let now = Instant::now();
            if now >= deadline {
                return Err(deadline_error(
                    &method,
                    path,
                    inner.total_timeout,
                    attempt - 1,
                ));
            }
            let attempt_timeout = inner.timeout.min(deadline - now);
            let mut req = inner
                .http
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, inner.auth.clone())
                .timeout(attempt_timeout);
            if !query.is_empty() {
                req = req.query(query);
            }
            match body {
                Body::None => {}
                Body::Json(b) => req = req.json(b),
                Body::Text(t) => {
                    req = req
                        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                        .body(t.to_owned());
                }
            }
            tracing::debug!(%method, path, attempt, "dynatrace request");
            let outcome = req.send().await;
            let (err, retry_after) = match outcome {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = parse_retry_after(resp.headers().get(RETRY_AFTER));
                    let bytes = match resp.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            let err = transport_error(&method, path, e);
                            if self.should_retry(&method, &err, attempt)
                                && let Some(wait) = self.wait_for(attempt, None, deadline)
                            {
                                tokio::time::sleep(wait).await;
                                continue;
                            }
                            return Err(err);
                        }
                    };
                    if status.is_success() || also_ok.contains(&status.as_u16()) {
                        let body = if bytes.is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
                                endpoint: path.to_owned(),
                                message: format!("the body is not JSON: {e}"),
                            })?
                        };
                        tracing::debug!(%method, path, status = status.as_u16(), "dynatrace answer");
                        return Ok(Answer {
                            status: status.as_u16(),
                            body,
                        });
                    }
                    let err = status_error(&method, path, status, &bytes, retry_after);
                    (err, retry_after)
                }
                Err(e) => (transport_error(&method, path, e), None),
            };
            tracing::debug!(%method, path, attempt, error = %err, "dynatrace attempt failed");
            if !self.should_retry(&method, &err, attempt) {
                return Err(err);
            }
            match self.wait_for(attempt, retry_after, deadline) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(err),
            }
        }
    }

    fn should_retry(&self, method: &Method, err: &Error, attempt: u32) -> bool {
        if attempt >= self.inner.retry.max_attempts {
            return false;
        }
        let idempotent = *method != Method::POST;
        match err {
            Error::Transport {
                connect, timeout, ..
            } => *connect || (*timeout && idempotent),
            Error::Status { status, .. } => {
                *status == 429 || *status == 503 || (idempotent && *status >= 500)
            }
            _ => false,
        }
    }

    /// How long to wait before the next attempt, or `None` when that would pass the deadline.
    fn wait_for(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        deadline: Instant,
    ) -> Option<Duration> {
        let wait = retry_after.unwrap_or_else(|| self.inner.retry.backoff(attempt));
        let now = Instant::now();
        (now + wait < deadline).then_some(wait)
    }
}

fn deadline_error(method: &Method, path: &str, budget: Duration, attempts: u32) -> Error {
    Error::Deadline {
        method: method.to_string(),
        endpoint: path.to_owned(),
        budget,
        attempts,
    }
}

fn transport_error(method: &Method, path: &str, e: reqwest::Error) -> Error {
    Error::Transport {
        method: method.to_string(),
        endpoint: path.to_owned(),
        timeout: e.is_timeout(),
        connect: e.is_connect(),
        source: e.without_url(),
    }
}

/// Reads Dynatrace's published error envelope `{"error":{"code","message"}}`; other bodies are
/// quoted (shortened).
fn status_error(
    method: &Method,
    path: &str,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Error {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            let mut msg = e.get("message")?.as_str()?.to_owned();
            if let Some(violations) = e.get("constraintViolations").and_then(Value::as_array) {
                let parts: Vec<String> = violations
                    .iter()
                    .filter_map(|c| {
                        let m = c.get("message")?.as_str()?;
                        Some(match c.get("path").and_then(Value::as_str) {
                            Some(p) if !p.is_empty() => format!("{p}: {m}"),
                            _ => m.to_owned(),
                        })
                    })
                    .collect();
                if !parts.is_empty() {
                    msg = format!("{msg} ({})", parts.join("; "));
                }
            }
            Some(msg)
        })
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                text.chars().take(300).collect()
            }
        });
    Error::Status {
        method: method.to_string(),
        endpoint: path.to_owned(),
        status: status.as_u16(),
        message,
        retry_after,
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn parse_retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let s = value?.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(s).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tenants as the seed writes them get `https://`; explicit schemes are kept.
    #[test]
    fn tenant_forms() {
        let t = |s: &str| {
            tenant_url(s)
                .unwrap()
                .as_str()
                .trim_end_matches('/')
                .to_owned()
        };
        assert_eq!(
            t("abc123.live.dynatrace.com"),
            "https://abc123.live.dynatrace.com"
        );
        assert_eq!(
            t("managed.example.com/e/env-1/"),
            "https://managed.example.com/e/env-1"
        );
        assert_eq!(t("http://127.0.0.1:4010"), "http://127.0.0.1:4010");
        assert_eq!(
            t("https://abc.live.dynatrace.com/"),
            "https://abc.live.dynatrace.com"
        );
    }

    /// Bad tenants are configuration errors that say what was expected.
    #[test]
    fn bad_tenants() {
        for bad in ["", "ftp://x", "http://", "abc.live.dynatrace.com?x=1"] {
            let err = tenant_url(bad).unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{bad}: {err}");
        }
    }

    /// A managed tenant keeps its `/e/<id>` path in front of API paths.
    #[test]
    fn managed_tenant_paths() {
        let c = DynatraceClient::builder("managed.example.com/e/env-1")
            .api_token(SecretString::from("t"))
            .build()
            .unwrap();
        assert_eq!(
            c.url("/api/v2/metrics/query").unwrap().as_str(),
            "https://managed.example.com/e/env-1/api/v2/metrics/query"
        );
    }

    /// Debug output of the client and its builder never shows the token.
    #[test]
    fn debug_redacts_token() {
        let b = DynatraceClient::builder("abc.live.dynatrace.com")
            .api_token(SecretString::from("dt0c01.SECRET-TOKEN"));
        let shown = format!("{b:?}");
        assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
        let c = b.build().unwrap();
        let shown = format!("{c:?} {c:#?}");
        assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
        assert!(shown.contains("api_token: \"[REDACTED]\""), "{shown}");
    }

    /// A missing or empty token is a configuration error.
    #[test]
    fn token_is_required() {
        let err = DynatraceClient::builder("abc.live.dynatrace.com")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no API token"), "{err}");
        let err = DynatraceClient::builder("abc.live.dynatrace.com")
            .api_token(SecretString::from(" "))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    /// Backoff doubles, is capped, and stays within [half, full] of its nominal value.
    #[test]
    fn backoff_bounds() {
        let p = RetryPolicy::new(5, Duration::from_millis(100), Duration::from_millis(300));
        for _ in 0..50 {
            let b1 = p.backoff(1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
            let b2 = p.backoff(2);
            assert!(b2 >= Duration::from_millis(100) && b2 <= Duration::from_millis(200));
            let b4 = p.backoff(4);
            assert!(b4 >= Duration::from_millis(150) && b4 <= Duration::from_millis(300));
        }
    }

    /// `Retry-After` is read as seconds or as an HTTP date.
    #[test]
    fn retry_after_forms() {
        let h = HeaderValue::from_static("3");
        assert_eq!(parse_retry_after(Some(&h)), Some(Duration::from_secs(3)));
        let past = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(Some(&past)), Some(Duration::ZERO));
        let junk = HeaderValue::from_static("soon");
        assert_eq!(parse_retry_after(Some(&junk)), None);
    }

    /// Dynatrace's error envelope gives the message, constraint violations included.
    #[test]
    fn error_envelope_message() {
        let body = br#"{"error":{"code":400,"message":"Constraints violated.","constraintViolations":[{"path":"metricSelector","message":"must not be empty","parameterLocation":"QUERY"}]}}"#;
        let e = status_error(
            &Method::GET,
            "/api/v2/metrics/query",
            StatusCode::BAD_REQUEST,
            body,
            None,
        );
        assert_eq!(
            e.to_string(),
            "Dynatrace GET /api/v2/metrics/query answered 400: Constraints violated. (metricSelector: must not be empty)"
        );
        assert!(!e.is_transient());
        let e = status_error(
            &Method::GET,
            "/x",
            StatusCode::SERVICE_UNAVAILABLE,
            b"",
            None,
        );
        assert_eq!(
            e.to_string(),
            "Dynatrace GET /x answered 503: Service Unavailable"
        );
        assert!(e.is_transient());
    }
}
