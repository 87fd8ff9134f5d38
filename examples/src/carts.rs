//! The tour's sample service `carts` (and its stand-in database `carts-db`).
//!
//! Endpoints:
//!
//! | endpoint | what |
//! | --- | --- |
//! | `GET /` | an HTML page showing `Version: v1` (0.11.1), `v2` (0.11.2), `v3` (0.11.3) and the flags |
//! | `GET /health` | `{"status": "UP", "version": …}` (never slowed down) |
//! | `GET /version` | `{"version": …}` |
//! | `GET /carts/{id}` | the cart `{"customerId", "items": [...]}` |
//! | `GET /carts/{id}/items` | its items |
//! | `POST /carts/{id}/items` | adds `{"itemId", "quantity", "unitPrice"}`: `201` with the item |
//! | `DELETE /carts/{id}` | empties the cart: `202` |
//!
//! Behaviour by version and flag, as the seed's carts images behave:
//! - every cart operation goes through a simulated database call of 100 ms, unless the flag
//!   **EnableItemCache** is on (answers from a cache, about 1 ms);
//! - version **0.11.2** adds a 1 second slowdown to every request except `/health`;
//! - with the flag **EnablePromotion** on, about 30 % of add-to-cart requests fail with `500`
//!   and `{"error": "NotImplemented", …}` (the seed's unimplemented promotional gift).
//!
//! Flags are read every `refresh` from an Unleash-compatible client endpoint:
//! `GET {UNLEASH_URL}/api/client/features` with the client token in `Authorization`
//! (`UNLEASH_URL` may end in `/api`, as Keptn's secret had it). Without `UNLEASH_URL` every flag
//! is off. Each cart keeps at most 100 items (oldest dropped) so memory stays bounded under load.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Most items a cart keeps.
const MAX_ITEMS: usize = 100;

/// How `carts` runs.
#[derive(Debug, Clone)]
pub struct CartsConfig {
    /// Port to listen on.
    pub port: u16,
    /// Address to listen on: loopback by default; `0.0.0.0` in a container, where the pod's
    /// address is the one to serve on.
    pub listen: IpAddr,
    /// The version (`0.11.1`, `0.11.2`, `0.11.3`, …).
    pub version: String,
    /// The Unleash-compatible server (`http://host:port` or `http://host:port/api`).
    pub unleash_url: Option<String>,
    /// Its client token.
    pub unleash_token: Option<String>,
    /// How often flags are read.
    pub refresh: Duration,
    /// The simulated database latency.
    pub db_latency: Duration,
}

impl CartsConfig {
    /// Version `version` on 127.0.0.1:`port`, flags from `UNLEASH_URL` / `UNLEASH_CLIENT_TOKEN` (or
    /// `UNLEASH_TOKEN`) when set, read every second, and a 100 ms database.
    pub fn from_env(port: u16, version: impl Into<String>) -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            port,
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            version: version.into(),
            unleash_url: env("UNLEASH_URL"),
            unleash_token: env("UNLEASH_CLIENT_TOKEN").or_else(|| env("UNLEASH_TOKEN")),
            refresh: Duration::from_millis(
                env("UNLEASH_REFRESH_MS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1000),
            ),
            db_latency: Duration::from_millis(100),
        }
    }
}

/// The page label of a version: `v1` for 0.11.1, `v2` for 0.11.2, `v3` for 0.11.3 (the patch
/// number of other versions).
pub fn version_label(version: &str) -> String {
    let patch = version.rsplit('.').next().unwrap_or(version);
    format!("v{patch}")
}

#[derive(Debug, Default)]
struct Flags {
    item_cache: AtomicBool,
    promotion: AtomicBool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    #[serde(rename = "itemId")]
    item_id: String,
    #[serde(default = "one")]
    quantity: u32,
    #[serde(rename = "unitPrice", default)]
    unit_price: f64,
}

fn one() -> u32 {
    1
}

#[derive(Debug)]
struct AppState {
    config: CartsConfig,
    flags: Flags,
    carts: Mutex<HashMap<String, VecDeque<Item>>>,
}

type Shared = Arc<AppState>;

impl AppState {
    fn slow(&self) -> bool {
        self.config.version == "0.11.2"
    }

    async fn slowdown(&self) {
        if self.slow() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The simulated database round trip (skipped with EnableItemCache).
    async fn database(&self) {
        if self.flags.item_cache.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            tokio::time::sleep(self.config.db_latency).await;
        }
    }

    fn items(&self, id: &str) -> Vec<Item> {
        let carts = self.carts.lock().unwrap_or_else(PoisonError::into_inner);
        carts
            .get(id)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }
}

async fn index(State(s): State<Shared>) -> Html<String> {
    s.slowdown().await;
    let on = |b: &AtomicBool| {
        if b.load(Ordering::Relaxed) {
            "on"
        } else {
            "off"
        }
    };
    Html(format!(
        "<!doctype html>\n<html><head><title>carts</title></head><body>\n<h1>carts</h1>\n\
         <p>Version: {}</p>\n<p>build {}</p>\n<p>EnableItemCache: {}, EnablePromotion: {}</p>\n</body></html>\n",
        version_label(&s.config.version),
        s.config.version,
        on(&s.flags.item_cache),
        on(&s.flags.promotion),
    ))
}

async fn health(State(s): State<Shared>) -> Json<serde_json::Value> {
    Json(json!({"status": "UP", "version": s.config.version}))
}

async fn version(State(s): State<Shared>) -> Json<serde_json::Value> {
    s.slowdown().await;
    Json(json!({"version": s.config.version}))
}

async fn get_cart(State(s): State<Shared>, Path(id): Path<String>) -> Json<serde_json::Value> {
    s.slowdown().await;
    s.database().await;
    Json(json!({"customerId": id, "items": s.items(&id)}))
}

async fn get_items(State(s): State<Shared>, Path(id): Path<String>) -> Json<Vec<Item>> {
    s.slowdown().await;
    s.database().await;
    Json(s.items(&id))
}

async fn add_item(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Option<Json<Item>>,
) -> Response {
    s.slowdown().await;
    let Some(Json(item)) = body else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "BadRequest", "message": "expected {\"itemId\", \"quantity\", \"unitPrice\"}"})),
        )
            .into_response();
    };
    if s.flags.promotion.load(Ordering::Relaxed) && fastrand::f64() < 0.3 {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({
                "error": "NotImplemented",
                "message": "NotImplementedFunction: promotional gifts are not implemented yet"
            })),
        )
            .into_response();
    }
    s.database().await;
    {
        let mut carts = s.carts.lock().unwrap_or_else(PoisonError::into_inner);
        let cart = carts.entry(id).or_default();
        if cart.len() == MAX_ITEMS {
            cart.pop_front();
        }
        cart.push_back(item.clone());
    }
    (StatusCode::CREATED, Json(item)).into_response()
}

async fn delete_cart(State(s): State<Shared>, Path(id): Path<String>) -> StatusCode {
    s.slowdown().await;
    s.database().await;
    s.carts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    StatusCode::ACCEPTED
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"NotFound"}"#,
    )
        .into_response()
}

/// The client API's answer, as far as carts reads it.
#[derive(Debug, Deserialize)]
struct ClientFeatures {
    features: Vec<ClientFeature>,
}

#[derive(Debug, Deserialize)]
struct ClientFeature {
    name: String,
    enabled: bool,
}

fn features_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/api").unwrap_or(base);
    format!("{base}/api/client/features")
}

async fn poll_flags(state: Shared) {
    let Some(base) = state.config.unleash_url.clone() else {
        return;
    };
    let url = features_url(&base);
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("carts: cannot build the flag client: {e}");
            return;
        }
    };
    let mut failing = false;
    loop {
        let mut req = client.get(&url).header("UNLEASH-APPNAME", "carts");
        if let Some(t) = &state.config.unleash_token {
            req = req.header(header::AUTHORIZATION, t);
        }
        let result = match req.send().await {
            Ok(r) if r.status().is_success() => r
                .json::<ClientFeatures>()
                .await
                .map_err(|e| format!("unexpected answer from {url}: {e}")),
            Ok(r) => Err(format!("{url} answered {}", r.status())),
            Err(e) => Err(format!("cannot reach {url}: {e}")),
        };
        match result {
            Ok(features) => {
                let enabled = |name: &str| {
                    features
                        .features
                        .iter()
                        .any(|f| f.name == name && f.enabled)
                };
                state
                    .flags
                    .item_cache
                    .store(enabled("EnableItemCache"), Ordering::Relaxed);
                state
                    .flags
                    .promotion
                    .store(enabled("EnablePromotion"), Ordering::Relaxed);
                failing = false;
            }
            Err(e) if !failing => {
                eprintln!("carts: flags unchanged: {e}");
                failing = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(state.config.refresh).await;
    }
}

async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
        () = supervisor_gone() => {
            eprintln!("carts: the supervising process is gone; stopping");
        }
    }
}

/// Resolves when the process named by `KEPTN_SUPERVISOR_PID` (set by
/// `keptn_local`'s supervisor) is no longer this process's parent: it died, even by
/// `SIGKILL`, and this process was handed to another parent. Never resolves when the variable
/// is absent, so a carts started by hand runs until stopped.
async fn supervisor_gone() {
    let supervisor = std::env::var("KEPTN_SUPERVISOR_PID")
        .ok()
        .and_then(|v| v.parse::<u32>().ok());
    let Some(supervisor) = supervisor else {
        return std::future::pending().await;
    };
    loop {
        if std::os::unix::process::parent_id() != supervisor {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Serves carts until `SIGTERM` or Ctrl-C.
///
/// # Errors
/// The port cannot be bound.
pub async fn serve(config: CartsConfig) -> anyhow::Result<()> {
    let addr = SocketAddr::new(config.listen, config.port);
    let state = Arc::new(AppState {
        config,
        flags: Flags::default(),
        carts: Mutex::new(HashMap::new()),
    });
    let poller = tokio::spawn(poll_flags(state.clone()));
    let app = Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/carts/{id}", get(get_cart).delete(delete_cart))
        .route("/carts/{id}/items", get(get_items).post(add_item))
        .fallback(not_found)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated())
        .await?;
    poller.abort();
    Ok(())
}

/// Serves the stand-in `carts-db` (the seed's MongoDB, deployed `direct`) on 127.0.0.1:`port`:
/// `GET /health` only.
///
/// # Errors
/// The port cannot be bound.
pub async fn serve_db(port: u16, version: String) -> anyhow::Result<()> {
    serve_db_at(SocketAddr::from(([127, 0, 0, 1], port)), version).await
}

/// [`serve_db`] on any address (`0.0.0.0:27017` in a container).
///
/// # Errors
/// The address cannot be bound.
pub async fn serve_db_at(addr: SocketAddr, version: String) -> anyhow::Result<()> {
    let app = Router::new()
        .route(
            "/health",
            get(move || {
                let version = version.clone();
                async move { Json(json!({"status": "UP", "db": "carts-db", "version": version})) }
            }),
        )
        .fallback(not_found);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated())
        .await?;
    Ok(())
}

/// How a supervisor (`keptn_local`) starts carts from `program`, a binary with the
/// `carts-service` role (`full_tour`): `program carts-service --port {port} --version {version}`,
/// ready when `/health` answers, flags refreshed every 500 ms. Add `UNLEASH_URL` and
/// `UNLEASH_CLIENT_TOKEN` with [`CommandTemplate::env`](keptn_local::CommandTemplate::env) to read flags.
pub fn service_template(program: &str) -> keptn_local::CommandTemplate {
    keptn_local::CommandTemplate::new(program)
        .args([
            "carts-service",
            "--port",
            "{port}",
            "--version",
            "{version}",
        ])
        .env("UNLEASH_REFRESH_MS", "500")
        .ready_path("/health")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Versions map to the page labels the seed shows.
    #[test]
    fn version_labels() {
        assert_eq!(version_label("0.11.1"), "v1");
        assert_eq!(version_label("0.11.3"), "v3");
    }

    /// `UNLEASH_URL` with or without `/api` reaches the client endpoint.
    #[test]
    fn features_url_accepts_both_forms() {
        assert_eq!(
            features_url("http://u:4242/api"),
            "http://u:4242/api/client/features"
        );
        assert_eq!(
            features_url("http://u:4242/"),
            "http://u:4242/api/client/features"
        );
    }
}
