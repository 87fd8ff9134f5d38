//! Unleash: an Admin API client, the feature-toggle action and a verifier that reads flags back.
//!
//! Two APIs are spoken, chosen by how the client authenticates:
//!
//! - the current Admin API (Unleash 4+; tested against unleash-server 7.5), with an admin API
//!   token in the `Authorization` header, project and environment aware:
//!   `POST /api/admin/projects/{project}/features/{flag}/environments/{env}/on|off`, read back
//!   with `GET /api/admin/projects/{project}/features/{flag}/environments/{env}`;
//! - the legacy API the Keptn tutorial's Unleash (3.x) and Keptn's remediation-service used:
//!   `POST /api/admin/features/{flag}/toggle/on|off` with HTTP Basic auth, read back with
//!   `GET /api/admin/features/{flag}`. Unleash 7 no longer has it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use keptn_spec::retry::{Failure, RequestKind, parse_retry_after};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod toggle;
pub use toggle::{FeatureToggleAction, FlagStateVerifier, TOGGLE_ACTION_NAMES, parse_toggles};

use crate::error::{Error, Result};

/// The retry policy of [`UnleashClient`] (the one every keptn-rs HTTP client follows).
pub use keptn_spec::retry::RetryPolicy;

/// The HTTP client crate whose `Client` [`UnleashClientBuilder::http_client`] takes.
pub use reqwest;
/// The `secrecy` crate, whose [`SecretString`] holds Unleash tokens in this API.
pub use secrecy;

/// The state of a feature flag in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagState {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl FlagState {
    /// `on` or `off`, as in remediation files and Unleash URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Off => "off",
        }
    }

    /// The opposite state.
    #[must_use]
    pub fn toggled(self) -> Self {
        match self {
            Self::On => Self::Off,
            Self::Off => Self::On,
        }
    }

    fn from_enabled(enabled: bool) -> Self {
        if enabled { Self::On } else { Self::Off }
    }
}

impl fmt::Display for FlagState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlagState {
    type Err = String;

    /// `on` or `off` (any case, surrounding spaces ignored), as Keptn accepted.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => Err(format!("expected `on` or `off`, found `{other}`")),
        }
    }
}

#[derive(Clone)]
enum Auth {
    Token(SecretString),
    Basic {
        user: String,
        password: SecretString,
    },
}

/// Which Unleash API a client speaks (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiKind {
    /// The current Admin API with an API token, project and environment aware.
    Admin,
    /// The legacy toggle API with HTTP Basic auth (Unleash 3.x, Keptn 0.6–0.8).
    Legacy,
}

/// The default project of the Admin API.
pub const DEFAULT_PROJECT: &str = "default";
/// The default environment of the Admin API.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// Builds an [`UnleashClient`]; configuration errors are reported by [`build`](Self::build).
#[must_use]
pub struct UnleashClientBuilder {
    base_url: String,
    auth: Option<Auth>,
    project: String,
    environment: String,
    timeout: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for UnleashClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnleashClientBuilder")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth.as_ref().map(auth_kind))
            .field("project", &self.project)
            .field("environment", &self.environment)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

fn auth_kind(auth: &Auth) -> &'static str {
    match auth {
        Auth::Token(_) => "api-token [REDACTED]",
        Auth::Basic { .. } => "basic [REDACTED]",
    }
}

impl UnleashClientBuilder {
    /// Authenticates with an admin API token (such as `*:*.abc…`) against the current Admin API.
    pub fn api_token(mut self, token: SecretString) -> Self {
        self.auth = Some(Auth::Token(token));
        self
    }

    /// Speaks the legacy API with HTTP Basic auth (Keptn's `UNLEASH_USER`/`UNLEASH_TOKEN`).
    pub fn legacy_basic_auth(mut self, user: impl Into<String>, password: SecretString) -> Self {
        self.auth = Some(Auth::Basic {
            user: user.into(),
            password,
        });
        self
    }

    /// Sets the Unleash project (Admin API; default `default`).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }

    /// Sets the environment (Admin API; default `production`).
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = environment.into();
        self
    }

    /// Sets the timeout of each request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy (default [`RetryPolicy::default`]). Every request of this client
    /// sets a state, so repeating one is harmless: timeouts, connection errors, 408, 429 and
    /// 5xx are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Uses this HTTP client (proxies, custom TLS); the timeout is then the client's.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL is not an absolute `http(s)` URL, no credentials were
    /// given, or the project or environment is empty.
    pub fn build(self) -> Result<UnleashClient> {
        let mut base = Url::parse(self.base_url.trim())
            .map_err(|e| Error::Config(format!("Unleash URL `{}`: {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "Unleash URL `{}` must be an http(s) URL",
                self.base_url
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(Error::Config(
                "put Unleash credentials in api_token/legacy_basic_auth, not in the URL".to_owned(),
            ));
        }
        // Keptn's UNLEASH_SERVER_URL ended in `/api`; our paths start with `/api`.
        let path = base.path().trim_end_matches('/').to_owned();
        let path = path.strip_suffix("/api").unwrap_or(&path).to_owned();
        base.set_path(&path);
        let auth = self.auth.ok_or_else(|| {
            Error::Config(
                "no Unleash credentials: set api_token (Admin API) or legacy_basic_auth".to_owned(),
            )
        })?;
        if self.project.is_empty() || self.environment.is_empty() {
            return Err(Error::Config(
                "Unleash project and environment must not be empty".to_owned(),
            ));
        }
        let http = match self.http {
            Some(c) => c,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        Ok(UnleashClient {
            inner: Arc::new(ClientInner {
                http,
                base,
                auth,
                project: self.project,
                environment: self.environment,
                retry: self.retry,
            }),
        })
    }
}

struct ClientInner {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    project: String,
    environment: String,
    retry: RetryPolicy,
}

/// A client for Unleash's Admin API (or the legacy toggle API). Cheap to clone.
///
/// ```no_run
/// use keptn_remediate::unleash::{FlagState, UnleashClient};
/// use secrecy::SecretString;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let unleash = UnleashClient::builder("http://127.0.0.1:4242")
///     .api_token(SecretString::from("*:*.my-admin-token"))
///     .project("default")
///     .environment("production")
///     .build()?;
/// unleash.set_flag("EnablePromotion", FlagState::Off).await?;
/// assert_eq!(unleash.flag_state("EnablePromotion").await?, FlagState::Off);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UnleashClient {
    inner: Arc<ClientInner>,
}

impl fmt::Debug for UnleashClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("UnleashClient")
            .field("base_url", &i.base.as_str())
            .field("api", &self.api_kind())
            .field("auth", &auth_kind(&i.auth))
            .field("project", &i.project)
            .field("environment", &i.environment)
            .field("retry", &i.retry)
            .finish()
    }
}

#[derive(Deserialize)]
struct EnabledBody {
    enabled: bool,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
}

impl UnleashClient {
    /// A builder for the Unleash at `base_url` (the server root, such as
    /// `http://unleash:4242`; a trailing `/api`, as in Keptn's `UNLEASH_SERVER_URL`, is accepted).
    pub fn builder(base_url: impl Into<String>) -> UnleashClientBuilder {
        UnleashClientBuilder {
            base_url: base_url.into(),
            auth: None,
            project: DEFAULT_PROJECT.to_owned(),
            environment: DEFAULT_ENVIRONMENT.to_owned(),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            http: None,
        }
    }

    /// Which API this client speaks.
    pub fn api_kind(&self) -> ApiKind {
        match self.inner.auth {
            Auth::Token(_) => ApiKind::Admin,
            Auth::Basic { .. } => ApiKind::Legacy,
        }
    }

    /// The Unleash project (Admin API).
    pub fn project(&self) -> &str {
        &self.inner.project
    }

    /// The environment (Admin API).
    pub fn environment(&self) -> &str {
        &self.inner.environment
    }

    /// A stable name for a flag in change records: `unleash:{project}/{environment}/{flag}`
    /// (Admin API) or `unleash:{flag}` (legacy API).
    pub fn flag_target(&self, flag: &str) -> String {
        match self.api_kind() {
            ApiKind::Admin => format!(
                "unleash:{}/{}/{flag}",
                self.inner.project, self.inner.environment
            ),
            ApiKind::Legacy => format!("unleash:{flag}"),
        }
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn flag_url(&self, flag: &str, suffix: &[&str]) -> Url {
        let i = &self.inner;
        let mut segments: Vec<&str> = match self.api_kind() {
            ApiKind::Admin => vec![
                "api",
                "admin",
                "projects",
                &i.project,
                "features",
                flag,
                "environments",
                &i.environment,
            ],
            ApiKind::Legacy => vec!["api", "admin", "features", flag],
        };
        segments.extend_from_slice(suffix);
        self.url(&segments)
    }

    /// Sends a request with auth and retries; returns the successful response.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        flag: Option<&str>,
    ) -> Result<reqwest::Response> {
        let endpoint = format!("{method} {}", url.path());
        let mut attempt = 1u32;
        loop {
            let mut req = self.inner.http.request(method.clone(), url.clone());
            req = match &self.inner.auth {
                Auth::Token(t) => req.header(reqwest::header::AUTHORIZATION, t.expose_secret()),
                Auth::Basic { user, password } => {
                    req.basic_auth(user, Some(password.expose_secret()))
                }
            };
            if let Some(b) = body {
                req = req.json(b);
            }
            let (error, failure, retry_after) = match req.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                    let text = resp.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<ErrorBody>(&text)
                        .ok()
                        .and_then(|b| b.message)
                        .unwrap_or_else(|| text.chars().take(200).collect());
                    if status == StatusCode::NOT_FOUND
                        && let Some(flag) = flag
                    {
                        return Err(Error::FlagNotFound {
                            flag: flag.to_owned(),
                            project: self.inner.project.clone(),
                            message,
                        });
                    }
                    (
                        Error::Status {
                            endpoint: endpoint.clone(),
                            status: status.as_u16(),
                            message,
                        },
                        Failure::Status(status.as_u16()),
                        retry_after,
                    )
                }
                Err(source) => {
                    let failure = if source.is_connect() {
                        Failure::Connect
                    } else if source.is_timeout() {
                        Failure::Timeout
                    } else {
                        Failure::Transport
                    };
                    let error = Error::Transport {
                        endpoint: endpoint.clone(),
                        source: source.without_url(),
                    };
                    (error, failure, None)
                }
            };
            let Some(delay) = self.inner.retry.next_wait(
                attempt,
                failure,
                RequestKind::Idempotent,
                retry_after,
                fastrand::f64(),
            ) else {
                return Err(error);
            };
            tracing::debug!(%endpoint, attempt, ?delay, error = %error, "retrying Unleash request");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Reads the state of `flag` (in the client's project and environment for the Admin API).
    ///
    /// # Errors
    /// [`Error::FlagNotFound`] when the flag (or environment) does not exist,
    /// [`Error::Status`]/[`Error::Transport`] when Unleash cannot be asked.
    pub async fn flag_state(&self, flag: &str) -> Result<FlagState> {
        let url = self.flag_url(flag, &[]);
        let endpoint = format!("GET {}", url.path());
        let resp = self.send(Method::GET, url, None, Some(flag)).await?;
        let body: EnabledBody = resp.json().await.map_err(|e| Error::Status {
            endpoint,
            status: 200,
            message: format!("unexpected answer (no `enabled` field): {e}"),
        })?;
        Ok(FlagState::from_enabled(body.enabled))
    }

    /// Turns `flag` on or off. Does not read it back: [`FeatureToggleAction`] does.
    ///
    /// # Errors
    /// As [`flag_state`](Self::flag_state).
    pub async fn set_flag(&self, flag: &str, state: FlagState) -> Result<()> {
        let url = match self.api_kind() {
            ApiKind::Admin => self.flag_url(flag, &[state.as_str()]),
            ApiKind::Legacy => self.flag_url(flag, &["toggle", state.as_str()]),
        };
        self.send(Method::POST, url, None, Some(flag)).await?;
        Ok(())
    }

    /// Creates a flag of type `release`, off in every environment (the Admin API's
    /// `POST /api/admin/projects/{project}/features`; legacy: `POST /api/admin/features`).
    ///
    /// # Errors
    /// [`Error::Status`] (409 when it exists), [`Error::Transport`].
    pub async fn create_flag(&self, flag: &str) -> Result<()> {
        let (url, body) = match self.api_kind() {
            ApiKind::Admin => (
                self.url(&["api", "admin", "projects", &self.inner.project, "features"]),
                serde_json::json!({"name": flag, "type": "release"}),
            ),
            ApiKind::Legacy => (
                self.url(&["api", "admin", "features"]),
                serde_json::json!({"name": flag, "enabled": false, "strategies": [{"name": "default"}]}),
            ),
        };
        self.send(Method::POST, url, Some(&body), None).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neither the client nor its builder show the token in Debug output.
    #[test]
    fn debug_output_never_shows_the_token() {
        let builder = UnleashClient::builder("http://127.0.0.1:1")
            .api_token(SecretString::from("*:*.super-secret-token"));
        let shown = format!("{builder:?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        let client = builder.build().unwrap();
        let shown = format!("{client:?} {client:#?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");

        let legacy = UnleashClient::builder("http://127.0.0.1:1/api")
            .legacy_basic_auth("keptn", SecretString::from("basic-secret-pw"))
            .build()
            .unwrap();
        let shown = format!("{legacy:?}");
        assert!(!shown.contains("basic-secret-pw"), "{shown}");
        assert_eq!(legacy.api_kind(), ApiKind::Legacy);
    }

    /// Bad configuration is reported by `build`, never by a panic.
    #[test]
    fn bad_configuration_is_an_error() {
        let no_auth = UnleashClient::builder("http://x").build().unwrap_err();
        assert!(
            no_auth.to_string().contains("no Unleash credentials"),
            "{no_auth}"
        );
        let bad_url = UnleashClient::builder("not a url")
            .api_token(SecretString::from("t"))
            .build()
            .unwrap_err();
        assert!(
            bad_url.to_string().contains("Unleash URL `not a url`"),
            "{bad_url}"
        );
        let creds_in_url = UnleashClient::builder("http://user:pw@x")
            .api_token(SecretString::from("t"))
            .build()
            .unwrap_err();
        assert!(!creds_in_url.to_string().contains("pw"), "{creds_in_url}");
    }

    /// URLs: Keptn's `/api` suffix is accepted; flag names are percent-encoded.
    #[test]
    fn urls_are_built_per_api() {
        let admin = UnleashClient::builder("http://u:4242/api/")
            .api_token(SecretString::from("t"))
            .project("shop")
            .environment("prod")
            .build()
            .unwrap();
        assert_eq!(
            admin.flag_url("Enable Promotion", &["off"]).as_str(),
            "http://u:4242/api/admin/projects/shop/features/Enable%20Promotion/environments/prod/off"
        );
        let legacy = UnleashClient::builder("http://u/unleash/api")
            .legacy_basic_auth("k", SecretString::from("p"))
            .build()
            .unwrap();
        assert_eq!(
            legacy.flag_url("F", &["toggle", "on"]).as_str(),
            "http://u/unleash/api/admin/features/F/toggle/on"
        );
    }
}
