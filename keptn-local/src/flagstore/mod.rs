//! An embedded feature-flag store speaking the part of Unleash's HTTP API that feature-flag
//! clients and the toggle action use, so the same code runs against it and against a real
//! Unleash.
//!
//! Served on a loopback port ([`FlagStore::serve`]):
//!
//! | endpoint | auth | what |
//! | --- | --- | --- |
//! | `GET /health` | none | `{"health":"GOOD"}` |
//! | `GET /api/client/features` | client or admin token | the flags of the token's environment, Unleash's client format (`version`, `features[]` with `name`, `enabled`, `strategies`, …) |
//! | `GET /api/admin/projects/{project}/features` | admin | `{"features": [...]}` |
//! | `POST /api/admin/projects/{project}/features` | admin | create `{name, description?, type?}`: `201`, `409` if it exists |
//! | `GET /api/admin/projects/{project}/features/{name}` | admin | the flag with its `environments[]` |
//! | `GET /api/admin/projects/{project}/features/{name}/environments/{env}` | admin | `{name, featureName, environment, enabled, …}` |
//! | `POST /api/admin/projects/{project}/features/{name}/environments/{env}/on` (`/off`) | admin | switch it |
//! | `GET /api/admin/features/{name}`, `POST /api/admin/features`, `POST /api/admin/features/{name}/toggle/on` (`/off`) | admin token or HTTP Basic with the admin token as password | the legacy API of Unleash 3 that Keptn 0.6 used, on the default environment |
//!
//! Tokens go in the `Authorization` header as Unleash expects (the raw token; `Bearer <token>` is
//! accepted too). Admin tokens look like `*:*.<secret>`, client tokens like
//! `<project>:<environment>.<secret>`; a client token sees the flags of its environment. Errors
//! are JSON `{"name", "message"}` with Unleash's status codes (`401`, `403`, `404`, `409`, `400`).
//!
//! Deliberate limits: one project-independent flag namespace per project, no strategies
//! (a flag is on or off per environment; the client API reports a `default` strategy), no
//! variants, segments, metrics or persistence.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use http::router;

mod http;

/// One switch of a flag, as [`FlagStore::history`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlagChange {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The project.
    pub project: String,
    /// The flag.
    pub flag: String,
    /// The environment.
    pub environment: String,
    /// The new state.
    pub enabled: bool,
}

#[derive(Debug, Clone)]
struct Flag {
    name: String,
    description: String,
    kind: String,
    created_at: DateTime<Utc>,
    /// environment → enabled
    environments: BTreeMap<String, bool>,
}

/// Builds a [`FlagStore`]: projects, environments, flags and tokens.
#[must_use]
pub struct FlagStoreBuilder {
    projects: Vec<String>,
    environments: Vec<String>,
    default_environment: Option<String>,
    admin_token: Option<SecretString>,
    flags: Vec<(String, String, Vec<String>)>,
}

impl fmt::Debug for FlagStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagStoreBuilder")
            .field("projects", &self.projects)
            .field("environments", &self.environments)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

impl FlagStoreBuilder {
    /// Adds a project (`default` exists unless others are given).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.projects.push(project.into());
        self
    }

    /// Sets the environments (default: `development`, `production`); the first is the default
    /// environment of the legacy API unless [`default_environment`](Self::default_environment)
    /// says otherwise.
    pub fn environments<I, S>(mut self, environments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.environments = environments.into_iter().map(Into::into).collect();
        self
    }

    /// The environment the legacy API (`/api/admin/features/...`) reads and switches.
    pub fn default_environment(mut self, environment: impl Into<String>) -> Self {
        self.default_environment = Some(environment.into());
        self
    }

    /// Uses this admin token instead of a random one.
    pub fn admin_token(mut self, token: SecretString) -> Self {
        self.admin_token = Some(token);
        self
    }

    /// Creates a flag, off everywhere, in the first project (Unleash's `release` type).
    pub fn flag(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.flags
            .push((name.into(), description.into(), Vec::new()));
        self
    }

    /// Creates a flag that is on in the given environments.
    pub fn flag_on<I, S>(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        on_in: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.flags.push((
            name.into(),
            description.into(),
            on_in.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Builds the store.
    pub fn build(self) -> FlagStore {
        let projects = if self.projects.is_empty() {
            vec!["default".to_owned()]
        } else {
            self.projects
        };
        let environments = if self.environments.is_empty() {
            vec!["development".to_owned(), "production".to_owned()]
        } else {
            self.environments
        };
        let default_environment = self
            .default_environment
            .unwrap_or_else(|| environments[0].clone());
        let admin_token = self
            .admin_token
            .unwrap_or_else(|| SecretString::from(format!("*:*.{}", random_secret())));
        let client_tokens = environments
            .iter()
            .map(|env| {
                (
                    env.clone(),
                    SecretString::from(format!("{}:{env}.{}", projects[0], random_secret())),
                )
            })
            .collect();
        let mut state: BTreeMap<String, BTreeMap<String, Flag>> = projects
            .iter()
            .map(|p| (p.clone(), BTreeMap::new()))
            .collect();
        let now = Utc::now();
        for (name, description, on_in) in self.flags {
            let flag = Flag {
                name: name.clone(),
                description,
                kind: "release".to_owned(),
                created_at: now,
                environments: environments
                    .iter()
                    .map(|e| (e.clone(), on_in.contains(e)))
                    .collect(),
            };
            if let Some(flags) = state.get_mut(&projects[0]) {
                flags.insert(name, flag);
            }
        }
        FlagStore {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                environments,
                default_environment,
                default_project: projects[0].clone(),
                admin_token,
                client_tokens,
                history: Mutex::new(Vec::new()),
            }),
        }
    }
}

fn random_secret() -> String {
    (0..32)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect()
}

struct Inner {
    state: RwLock<BTreeMap<String, BTreeMap<String, Flag>>>,
    environments: Vec<String>,
    default_environment: String,
    default_project: String,
    admin_token: SecretString,
    /// environment → client token
    client_tokens: BTreeMap<String, SecretString>,
    history: Mutex<Vec<FlagChange>>,
}

/// The embedded Unleash-compatible flag store (see the [module docs](self)). Cloning is cheap;
/// clones share the flags.
///
/// ```
/// use keptn_local::flagstore::FlagStore;
///
/// let store = FlagStore::builder()
///     .flag("EnableItemCache", "carts")
///     .flag("EnablePromotion", "carts")
///     .build();
/// store.set("default", "EnablePromotion", "production", true)?;
/// assert_eq!(store.get("default", "EnablePromotion", "production"), Some(true));
/// assert_eq!(store.get("default", "EnableItemCache", "production"), Some(false));
/// assert!(format!("{store:?}").contains("[REDACTED]"));
/// # Ok::<(), keptn_local::flagstore::FlagStoreError>(())
/// ```
#[derive(Clone)]
pub struct FlagStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for FlagStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagStore")
            .field("environments", &self.inner.environments)
            .field("admin_token", &"[REDACTED]")
            .field("client_tokens", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Why a direct change of the store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlagStoreError {
    /// No such project.
    #[error("project `{0}` does not exist in the flag store")]
    UnknownProject(String),
    /// No such flag.
    #[error("feature flag `{0}` does not exist in the flag store")]
    UnknownFlag(String),
    /// No such environment.
    #[error("environment `{0}` does not exist in the flag store")]
    UnknownEnvironment(String),
    /// A flag with that name exists.
    #[error("feature flag `{0}` already exists")]
    Exists(String),
    /// The name is not a valid Unleash flag name.
    #[error(
        "`{0}` is not a valid feature flag name (1-100 URL-safe characters: letters, digits, `-._~`)"
    )]
    InvalidName(String),
}

impl FlagStore {
    /// Starts building a store.
    pub fn builder() -> FlagStoreBuilder {
        FlagStoreBuilder {
            projects: Vec::new(),
            environments: Vec::new(),
            default_environment: None,
            admin_token: None,
            flags: Vec::new(),
        }
    }

    /// The admin API token.
    pub fn admin_token(&self) -> SecretString {
        self.inner.admin_token.clone()
    }

    /// The client API token of an environment.
    pub fn client_token(&self, environment: &str) -> Option<SecretString> {
        self.inner.client_tokens.get(environment).cloned()
    }

    /// The first project (`default` unless configured).
    pub fn default_project(&self) -> &str {
        &self.inner.default_project
    }

    /// Whether `flag` of `project` is on in `environment` (`None` when any of them is unknown).
    pub fn get(&self, project: &str, flag: &str, environment: &str) -> Option<bool> {
        let state = self
            .inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        state
            .get(project)?
            .get(flag)?
            .environments
            .get(environment)
            .copied()
    }

    /// Switches a flag directly (what the admin UI toggle does) and records it in the history.
    ///
    /// # Errors
    /// [`FlagStoreError`] when the project, flag or environment is unknown.
    pub fn set(
        &self,
        project: &str,
        flag: &str,
        environment: &str,
        enabled: bool,
    ) -> Result<(), FlagStoreError> {
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let flags = state
            .get_mut(project)
            .ok_or_else(|| FlagStoreError::UnknownProject(project.to_owned()))?;
        let f = flags
            .get_mut(flag)
            .ok_or_else(|| FlagStoreError::UnknownFlag(flag.to_owned()))?;
        let slot = f
            .environments
            .get_mut(environment)
            .ok_or_else(|| FlagStoreError::UnknownEnvironment(environment.to_owned()))?;
        *slot = enabled;
        drop(state);
        self.inner
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(FlagChange {
                at: Utc::now(),
                project: project.to_owned(),
                flag: flag.to_owned(),
                environment: environment.to_owned(),
                enabled,
            });
        Ok(())
    }

    /// Creates a flag, off in every environment.
    ///
    /// # Errors
    /// [`FlagStoreError::Exists`], [`FlagStoreError::UnknownProject`], [`FlagStoreError::InvalidName`].
    pub fn create(
        &self,
        project: &str,
        name: &str,
        description: &str,
        kind: &str,
    ) -> Result<(), FlagStoreError> {
        let valid = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'));
        if !valid {
            return Err(FlagStoreError::InvalidName(name.to_owned()));
        }
        let mut state = self
            .inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let flags = state
            .get_mut(project)
            .ok_or_else(|| FlagStoreError::UnknownProject(project.to_owned()))?;
        if flags.contains_key(name) {
            return Err(FlagStoreError::Exists(name.to_owned()));
        }
        flags.insert(
            name.to_owned(),
            Flag {
                name: name.to_owned(),
                description: description.to_owned(),
                kind: kind.to_owned(),
                created_at: Utc::now(),
                environments: self
                    .inner
                    .environments
                    .iter()
                    .map(|e| (e.clone(), false))
                    .collect(),
            },
        );
        Ok(())
    }

    /// Every switch of every flag so far, oldest first.
    pub fn history(&self) -> Vec<FlagChange> {
        self.inner
            .history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves the HTTP API on `bind` (port 0 picks a free port) until the returned server is
    /// dropped or shut down.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn serve(&self, bind: SocketAddr) -> std::io::Result<FlagStoreServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let app = router(self.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "flag store server stopped");
            }
        });
        Ok(FlagStoreServer {
            addr,
            store: self.clone(),
            task,
        })
    }

    fn flag_json(&self, project: &str, f: &Flag) -> Value {
        json!({
            "name": f.name,
            "description": f.description,
            "type": f.kind,
            "project": project,
            "stale": false,
            "archived": false,
            "impressionData": false,
            "createdAt": f.created_at.to_rfc3339(),
            "environments": f.environments.iter().enumerate().map(|(i, (env, on))| json!({
                "name": env,
                "environment": env,
                "type": env,
                "enabled": on,
                "sortOrder": i + 1,
                "strategies": strategies(),
            })).collect::<Vec<_>>(),
        })
    }
}

fn strategies() -> Value {
    json!([{"name": "default", "parameters": {}, "constraints": []}])
}

/// A running [`FlagStore`] HTTP server. Dropping it stops the server.
pub struct FlagStoreServer {
    addr: SocketAddr,
    store: FlagStore,
    task: JoinHandle<()>,
}

impl fmt::Debug for FlagStoreServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagStoreServer")
            .field("addr", &self.addr)
            .field("store", &self.store)
            .finish()
    }
}

impl FlagStoreServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL (`http://127.0.0.1:<port>`); Unleash clients use `<url>/api`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store it serves.
    pub fn store(&self) -> &FlagStore {
        &self.store
    }
}

impl Drop for FlagStoreServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// Direct changes are validated and recorded.
    #[test]
    fn direct_changes_are_checked_and_recorded() {
        let store = FlagStore::builder()
            .flag("EnablePromotion", "carts")
            .build();
        assert_eq!(
            store.set("default", "Nope", "production", true),
            Err(FlagStoreError::UnknownFlag("Nope".into()))
        );
        assert_eq!(
            store.set("default", "EnablePromotion", "staging", true),
            Err(FlagStoreError::UnknownEnvironment("staging".into()))
        );
        store
            .set("default", "EnablePromotion", "production", true)
            .unwrap();
        let history = store.history();
        assert_eq!(history.len(), 1);
        assert!(history[0].enabled);
        assert_eq!(
            store.create("default", "EnablePromotion", "", "release"),
            Err(FlagStoreError::Exists("EnablePromotion".into()))
        );
        assert_eq!(
            store.create("default", "bad name", "", "release"),
            Err(FlagStoreError::InvalidName("bad name".into()))
        );
    }

    /// Tokens never show in Debug output.
    #[test]
    fn debug_redacts_tokens() {
        let store = FlagStore::builder()
            .admin_token(SecretString::from("*:*.supersecret"))
            .build();
        let prod = store.client_token("production").unwrap();
        let text = format!(
            "{store:?} {:?}",
            FlagStore::builder().admin_token(SecretString::from("*:*.supersecret"))
        );
        assert!(!text.contains("supersecret"), "{text}");
        assert!(!text.contains(prod.expose_secret()), "{text}");
    }
}
