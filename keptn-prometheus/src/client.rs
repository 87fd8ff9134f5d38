//! The Prometheus HTTP client: base URL, credentials, timeouts, retries, instant queries.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use keptn_spec::retry::{Failure, RequestKind, RetryPolicy, parse_retry_after};
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The instant-query endpoint of Prometheus' HTTP API.
pub const QUERY_ENDPOINT: &str = "/api/v1/query";

/// How the client authenticates. Prometheus itself knows basic auth (its `--web.config.file`);
/// bearer tokens are what the proxies in front of it (OAuth proxies, Grafana Cloud, Thanos
/// gateways) expect.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// `Authorization: Basic base64(<user>:<password>)`.
    Basic {
        /// The user name (not secret).
        user: String,
        /// The password.
        password: SecretString,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer([REDACTED])"),
            Auth::Basic { user, .. } => f
                .debug_struct("Basic")
                .field("user", user)
                .field("password", &"[REDACTED]")
                .finish(),
        }
    }
}

impl Auth {
    fn header(&self) -> Result<Option<HeaderValue>> {
        let raw = match self {
            Auth::None => return Ok(None),
            Auth::Bearer(token) => {
                if token.expose_secret().trim().is_empty() {
                    return Err(Error::Config {
                        message: "the bearer token is empty".to_owned(),
                    });
                }
                format!("Bearer {}", token.expose_secret())
            }
            Auth::Basic { user, password } => {
                if user.contains(':') {
                    return Err(Error::Config {
                        message: "the basic-auth user name must not contain `:`".to_owned(),
                    });
                }
                let pair = format!("{user}:{}", password.expose_secret());
                format!("Basic {}", keptn_slo::base64(pair.as_bytes()))
            }
        };
        let mut value = HeaderValue::from_str(&raw).map_err(|_| Error::Config {
            message: "the credentials contain characters not allowed in an HTTP header".to_owned(),
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

/// Builds a [`PrometheusClient`]; configuration errors are reported by [`build`](Self::build).
#[must_use]
#[derive(Debug)]
pub struct PrometheusClientBuilder {
    url: String,
    auth: Auth,
    timeout: Duration,
    connect_timeout: Duration,
    total_timeout: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl PrometheusClientBuilder {
    /// Sets the credentials (default: none).
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Timeout of one attempt (default 30 s); also sent to Prometheus as the query `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Timeout for establishing a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Upper bound for one call including all retries and waits (default 90 s).
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// Sets the retry policy (default [`RetryPolicy::default`], the workspace's one policy).
    /// Queries are reads: connection failures, timeouts, `408`, `429` and `5xx` (Prometheus'
    /// `timeout` and `unavailable` errors among them) are retried; bad queries and `401`/`403`
    /// are not.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Uses this `reqwest::Client` (proxies, custom TLS roots).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL is not an `http(s)://` URL without query, or the
    /// credentials cannot be sent in a header.
    pub fn build(self) -> Result<PrometheusClient> {
        let raw = self.url.trim().trim_end_matches('/');
        let base = Url::parse(raw).map_err(|e| Error::Config {
            message: format!(
                "`{raw}` is not a valid URL ({e}); expected e.g. `http://127.0.0.1:9090`"
            ),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::Config {
                message: format!("`{raw}`: expected an http:// or https:// URL with a host"),
            });
        }
        if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
            return Err(Error::Config {
                message: format!(
                    "`{}`: the URL must not carry a query, fragment or credentials (use `auth`)",
                    base.host_str().unwrap_or_default()
                ),
            });
        }
        let auth = self.auth.header()?;
        let http = match self.http {
            Some(c) => c,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .user_agent(concat!(
                    "keptn-rs/keptn-prometheus ",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .map_err(|e| Error::Config {
                    message: format!("cannot create the HTTP client: {}", e.without_url()),
                })?,
        };
        Ok(PrometheusClient {
            inner: Arc::new(Inner {
                base: raw.to_owned(),
                auth,
                http,
                timeout: self.timeout,
                total_timeout: self.total_timeout,
                retry: self.retry,
            }),
        })
    }
}

struct Inner {
    base: String,
    auth: Option<HeaderValue>,
    http: reqwest::Client,
    timeout: Duration,
    total_timeout: Duration,
    retry: RetryPolicy,
}

/// A Prometheus HTTP API client. Cheap to clone (an `Arc` inside).
///
/// ```
/// use keptn_prometheus::{Auth, PrometheusClient};
/// use secrecy::SecretString;
///
/// let client = PrometheusClient::builder("http://127.0.0.1:9090/")
///     .auth(Auth::Bearer(SecretString::from("s3cr3t")))
///     .build()?;
/// assert_eq!(client.base_url(), "http://127.0.0.1:9090");
/// assert!(!format!("{client:?}").contains("s3cr3t"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PrometheusClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("base_url", &self.inner.base)
            .field("auth", &self.inner.auth.as_ref().map(|_| "[REDACTED]"))
            .field("timeout", &self.inner.timeout)
            .field("total_timeout", &self.inner.total_timeout)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

/// The result of an instant query (`data.resultType` and `data.result`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum QueryResult {
    /// An instant vector: one sample per series.
    Vector(Vec<Sample>),
    /// A scalar.
    Scalar(f64),
    /// A range vector or a string: not a usable SLI value; the type name is kept.
    Other(String),
}

/// One series of an instant vector: its labels and value (`NaN` and `±Inf` as Prometheus sent
/// them).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub metric: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Value,
}

#[derive(Deserialize)]
struct RawSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

impl PrometheusClient {
    /// Starts building a client for the Prometheus at `url` (such as `http://127.0.0.1:9090`;
    /// a path prefix such as `https://host/prometheus` is kept).
    pub fn builder(url: impl Into<String>) -> PrometheusClientBuilder {
        PrometheusClientBuilder {
            url: url.into(),
            auth: Auth::None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(90),
            retry: RetryPolicy::default(),
            http: None,
        }
    }

    /// The base URL without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// Runs the instant query `expr` evaluated at `at` (`GET /api/v1/query`).
    ///
    /// # Errors
    /// [`Error::Query`] with Prometheus' `errorType`/`error` (syntax errors, execution errors),
    /// [`Error::Status`] for other failures (`401` of a proxy …), [`Error::Transport`] /
    /// [`Error::Deadline`] when Prometheus cannot be reached in time, [`Error::Decode`] for an
    /// answer of the wrong shape.
    pub async fn query(&self, expr: &str, at: DateTime<Utc>) -> Result<QueryResult> {
        let time = format!("{:.3}", at.timestamp_millis() as f64 / 1000.0);
        let timeout = format!("{}ms", self.inner.timeout.as_millis().max(1));
        let params = [
            ("query", expr),
            ("time", time.as_str()),
            ("timeout", timeout.as_str()),
        ];
        let url = format!("{}{QUERY_ENDPOINT}", self.inner.base);
        let (url, params, inner) = (url.as_str(), &params, &self.inner);
        let (status, body) = with_retries(
            &inner.retry,
            inner.total_timeout,
            QUERY_ENDPOINT,
            |attempt_timeout| async move {
                let mut req = inner.http.get(url).query(params).timeout(attempt_timeout);
                if let Some(auth) = &inner.auth {
                    req = req.header(AUTHORIZATION, auth.clone());
                }
                tracing::debug!(endpoint = QUERY_ENDPOINT, "prometheus request");
                let resp = req.send().await.map_err(|e| (transport_error(e), None))?;
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Utc::now()));
                let bytes = resp.bytes().await.map_err(|e| (transport_error(e), None))?;
                match decode_error(status, &bytes) {
                    Some(e) => Err((e, retry_after)),
                    None => Ok((status, bytes)),
                }
            },
        )
        .await?;
        decode_result(status, &body)
    }
}

/// Runs `attempt` (given the time left) until it succeeds, the workspace's [`RetryPolicy`]
/// gives up, or the total time `total` runs out. A failed attempt gives its error and the
/// server's `Retry-After`, which the policy honours (up to its limit) instead of its backoff;
/// a wait that would end after the deadline gives up at once with the attempt's error.
async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    total: Duration,
    endpoint: &str,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = std::result::Result<T, (Error, Option<Duration>)>>,
{
    let deadline = Instant::now() + total;
    let mut n = 0u32;
    loop {
        n += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Deadline {
                endpoint: endpoint.to_owned(),
                budget: total,
                attempts: n - 1,
            });
        }
        let (err, retry_after) = match attempt(left).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(wait) = policy.next_wait(
            n,
            failure(&err),
            RequestKind::Idempotent,
            retry_after,
            fastrand::f64(),
        ) else {
            return Err(err);
        };
        if Instant::now() + wait >= deadline {
            return Err(err);
        }
        tracing::debug!(endpoint, attempt = n, error = %err, "prometheus attempt failed, retrying");
        tokio::time::sleep(wait).await;
    }
}

/// How the retry policy sees an error.
fn failure(e: &Error) -> Failure {
    match e {
        Error::Transport { connect: true, .. } => Failure::Connect,
        Error::Transport { timeout: true, .. } => Failure::Timeout,
        Error::Transport { .. } => Failure::Transport,
        Error::Status { status, .. } | Error::Query { status, .. } => Failure::Status(*status),
        _ => Failure::Permanent,
    }
}

fn transport_error(e: reqwest::Error) -> Error {
    Error::Transport {
        endpoint: QUERY_ENDPOINT.to_owned(),
        timeout: e.is_timeout(),
        connect: e.is_connect(),
        source: e.without_url(),
    }
}

/// The error of a non-success answer: Prometheus' envelope when present, else the status and
/// the start of the body; `None` for a success status.
fn decode_error(status: StatusCode, body: &[u8]) -> Option<Error> {
    if status.is_success() {
        return None;
    }
    if let Ok(env) = serde_json::from_slice::<Envelope>(body)
        && env.status == "error"
    {
        return Some(Error::Query {
            endpoint: QUERY_ENDPOINT.to_owned(),
            status: status.as_u16(),
            error_type: env.error_type.unwrap_or_default(),
            message: env.error.unwrap_or_default(),
        });
    }
    let text = String::from_utf8_lossy(body);
    let short: String = text.trim().chars().take(200).collect();
    Some(Error::Status {
        endpoint: QUERY_ENDPOINT.to_owned(),
        status: status.as_u16(),
        message: if short.is_empty() {
            status.canonical_reason().unwrap_or("no body").to_owned()
        } else {
            short
        },
    })
}

fn decode_result(status: StatusCode, body: &[u8]) -> Result<QueryResult> {
    let decode = |message: String| Error::Decode {
        endpoint: QUERY_ENDPOINT.to_owned(),
        message,
    };
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| decode(format!("the body is not JSON: {e}")))?;
    if env.status != "success" {
        return Err(Error::Query {
            endpoint: QUERY_ENDPOINT.to_owned(),
            status: status.as_u16(),
            error_type: env.error_type.unwrap_or_default(),
            message: env.error.unwrap_or_default(),
        });
    }
    for w in &env.warnings {
        tracing::warn!(warning = %w, "Prometheus returned a warning");
    }
    let data = env
        .data
        .ok_or_else(|| decode("`data` is missing".to_owned()))?;
    match data.result_type.as_str() {
        "vector" => {
            let raw: Vec<RawSample> = serde_json::from_value(data.result)
                .map_err(|e| decode(format!("`data.result` is not a vector: {e}")))?;
            raw.into_iter()
                .map(|s| {
                    parse_value(&s.value.1)
                        .map(|value| Sample {
                            metric: s.metric,
                            value,
                        })
                        .ok_or_else(|| decode(format!("`{}` is not a sample value", s.value.1)))
                })
                .collect::<Result<_>>()
                .map(QueryResult::Vector)
        }
        "scalar" => {
            let (_, v): (f64, String) = serde_json::from_value(data.result)
                .map_err(|e| decode(format!("`data.result` is not a scalar: {e}")))?;
            parse_value(&v)
                .map(QueryResult::Scalar)
                .ok_or_else(|| decode(format!("`{v}` is not a sample value")))
        }
        other => Ok(QueryResult::Other(other.to_owned())),
    }
}

/// Prometheus' sample values: decimal numbers, `NaN`, `+Inf`, `-Inf`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector, scalar and special values decode as Prometheus documents them.
    #[test]
    fn decodes_vectors_scalars_and_special_values() {
        let ok = StatusCode::OK;
        let v = decode_result(ok, br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1.5,"NaN"]},{"metric":{},"value":[1.5,"2.5"]}]}}"#).unwrap();
        let QueryResult::Vector(s) = v else {
            panic!("{v:?}")
        };
        assert!(s[0].value.is_nan());
        assert_eq!(s[0].metric["job"], "a");
        assert_eq!(s[1].value, 2.5);
        let sc = decode_result(
            ok,
            br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}"#,
        )
        .unwrap();
        assert_eq!(sc, QueryResult::Scalar(f64::INFINITY));
        let m = decode_result(
            ok,
            br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        )
        .unwrap();
        assert_eq!(m, QueryResult::Other("matrix".to_owned()));
    }

    /// Error envelopes keep `errorType` and `error`; other bodies are quoted briefly.
    #[test]
    fn errors_keep_prometheus_error_type_and_text() {
        let e = decode_error(
            StatusCode::BAD_REQUEST,
            br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#,
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "Prometheus /api/v1/query answered 400 (bad_data): 1:5: parse error: unexpected"
        );
        assert!(!e.is_transient());
        let e = decode_error(StatusCode::UNAUTHORIZED, b"").unwrap();
        assert!(e.is_auth());
        assert_eq!(
            e.to_string(),
            "Prometheus /api/v1/query answered 401: Unauthorized"
        );
        assert!(
            decode_error(StatusCode::BAD_GATEWAY, b"<html>")
                .unwrap()
                .is_transient()
        );
        assert!(
            decode_result(StatusCode::OK, b"nope")
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }

    /// Bad URLs and credentials are configuration errors; secrets never show in `Debug`.
    #[test]
    fn configuration_is_checked_and_secrets_are_redacted() {
        for url in [
            "",
            "127.0.0.1:9090",
            "ftp://x",
            "http://u:p@h:1",
            "http://h:1/?a=b",
        ] {
            assert!(
                matches!(
                    PrometheusClient::builder(url).build(),
                    Err(Error::Config { .. })
                ),
                "{url}"
            );
        }
        let basic = Auth::Basic {
            user: "keptn".to_owned(),
            password: SecretString::from("pa55"),
        };
        let b = PrometheusClient::builder("http://h:1").auth(basic.clone());
        assert!(!format!("{b:?}").contains("pa55"));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains("pa55"));
        assert_eq!(
            basic.header().unwrap().unwrap().to_str().unwrap(),
            "Basic a2VwdG46cGE1NQ=="
        );
        let empty = PrometheusClient::builder("http://h:1")
            .auth(Auth::Bearer(SecretString::from(" ")))
            .build();
        assert!(empty.unwrap_err().to_string().contains("empty"));
    }
}
