//! The Dynatrace HTTP client: tenant URL, API token, timeouts, retries.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use keptn_spec::retry::{Failure, RequestKind, RetryPolicy, parse_retry_after};

use crate::error::{Error, Result};

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
            let err = match outcome {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                    let bytes = match resp.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            let err = transport_error(&method, path, e);
                            if let Some(wait) = self.wait_for(&method, &err, attempt, deadline) {
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
                    status_error(&method, path, status, &bytes, retry_after)
                }
                Err(e) => transport_error(&method, path, e),
            };
            tracing::debug!(%method, path, attempt, error = %err, "dynatrace attempt failed");
            match self.wait_for(&method, &err, attempt, deadline) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(err),
            }
        }
    }

    /// The wait before the next attempt after failed attempt `attempt`, or `None` when the
    /// retry policy says stop or the wait would pass the deadline.
    fn wait_for(
        &self,
        method: &Method,
        err: &Error,
        attempt: u32,
        deadline: Instant,
    ) -> Option<Duration> {
        let kind = if *method == Method::POST {
            RequestKind::NonIdempotent
        } else {
            RequestKind::Idempotent
        };
        let (failure, retry_after) = match err {
            Error::Transport {
                connect, timeout, ..
            } => (
                if *connect {
                    Failure::Connect
                } else if *timeout {
                    Failure::Timeout
                } else {
                    Failure::Transport
                },
                None,
            ),
            Error::Status {
                status,
                retry_after,
                ..
            } => (Failure::Status(*status), *retry_after),
            _ => (Failure::Permanent, None),
        };
        let wait =
            self.inner
                .retry
                .next_wait(attempt, failure, kind, retry_after, fastrand::f64())?;
        (Instant::now() + wait < deadline).then_some(wait)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Tenants as Keptn's tutorial writes them get `https://`; explicit schemes are kept.
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
