//! A stand-in for a cluster's data plane (kubelet + kube-proxy) for testing `full_tour --kube`
//! where a real kube-apiserver runs but no container does (CI: no kubelet, pods are only marked
//! Ready). It is a test fake, not part of the tour.
//!
//! ```text
//! cargo run -p keptn-examples --example kube_serve_dataplane -- \
//!     --carts-program target/debug/examples/full_tour \
//!     --route carts.sockshop-dev --route carts-canary.sockshop-staging --route carts.sockshop-production
//! ```
//!
//! For each `--route NAME.NAMESPACE` it listens on a loopback port and prints
//! `NAME.NAMESPACE=http://127.0.0.1:PORT` (the form of `full_tour --kube-url-for`). Every request
//! is routed the way the cluster would: the Service `NAME` in `NAMESPACE` is read from the API
//! server, its selector picks the Deployment(s) with replicas, the image tag of that Deployment is
//! the version, and a local carts process of that version (`full_tour carts-service`, flags from
//! `UNLEASH_URL`/`UNLEASH_CLIENT_TOKEN` when set) answers. Routing is re-read every 300 ms, so a
//! selector switch (promotion, rollback) takes effect as it would through kube-proxy (the API is
//! read in the background, off the request path). A Service
//! without a Deployment with replicas answers 503. Runs until SIGINT/SIGTERM, then stops every
//! carts process it started.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use keptn_deploy::kube::api::{Api, ListParams};
use keptn_local::{CommandTemplate, ServiceProcess};

/// A stand-in for a cluster's data plane, for testing `full_tour --kube`.
#[derive(Debug, Parser)]
#[command(name = "kube_serve_dataplane")]
struct Args {
    /// A Service to serve, as NAME.NAMESPACE (e.g. carts-canary.sockshop-staging); repeatable.
    #[arg(long = "route", required = true)]
    routes: Vec<String>,
    /// The program that serves a carts version as `PROGRAM carts-service --port P --version V`.
    #[arg(long)]
    carts_program: PathBuf,
}

/// What the data plane shares between its routes.
struct Plane {
    client: keptn_deploy::kube::Client,
    template: CommandTemplate,
    processes: tokio::sync::Mutex<BTreeMap<(String, String), ServiceProcess>>,
    routing: Mutex<BTreeMap<(String, String), (Instant, String)>>,
    refreshing: Mutex<std::collections::BTreeSet<(String, String)>>,
    http: reqwest::Client,
}

struct Route {
    plane: Arc<Plane>,
    name: String,
    namespace: String,
}

impl Plane {
    /// The version the Service `name` in `namespace` routes to: under traffic the last one read,
    /// refreshed in the background when older than 300 ms (API calls stay off the request path,
    /// as with kube-proxy's rules); read now the first time and after a pause of 1 s.
    async fn version_behind(
        self: &Arc<Self>,
        name: &str,
        namespace: &str,
    ) -> Result<String, String> {
        let key = (namespace.to_owned(), name.to_owned());
        let cached = self
            .routing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        match cached {
            // after a pause, read it now: the selector or image may have changed meanwhile
            Some((at, _)) if at.elapsed() >= Duration::from_secs(1) => {
                self.resolve(name, namespace).await
            }
            Some((at, version)) => {
                if at.elapsed() >= Duration::from_millis(300)
                    && self
                        .refreshing
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(key.clone())
                {
                    let plane = self.clone();
                    let (name, namespace) = (name.to_owned(), namespace.to_owned());
                    tokio::spawn(async move {
                        if let Err(e) = plane.resolve(&name, &namespace).await {
                            eprintln!("kube_serve_dataplane: {e}");
                        }
                        plane
                            .refreshing
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&key);
                    });
                }
                Ok(version)
            }
            None => self.resolve(name, namespace).await,
        }
    }

    /// Reads the Service's selector and the selected Deployment's image from the API server.
    async fn resolve(&self, name: &str, namespace: &str) -> Result<String, String> {
        let key = (namespace.to_owned(), name.to_owned());
        let services: Api<Service> = Api::namespaced(self.client.clone(), namespace);
        let service = services
            .get_opt(name)
            .await
            .map_err(|e| format!("reading Service {namespace}/{name}: {e}"))?
            .ok_or_else(|| format!("no Service {namespace}/{name}"))?;
        let selector = service
            .spec
            .and_then(|s| s.selector)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("Service {namespace}/{name} has no selector"))?;
        let labels = selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let list = deployments
            .list(&ListParams::default().labels(&labels))
            .await
            .map_err(|e| format!("listing Deployments {namespace}/{labels}: {e}"))?;
        let image = list
            .items
            .iter()
            .filter(|d| d.spec.replicas.unwrap_or(1) > 0)
            .find_map(|d| {
                d.spec
                    .template
                    .spec
                    .as_ref()?
                    .containers
                    .first()?
                    .image
                    .clone()
            })
            .ok_or_else(|| {
                format!("no Deployment with replicas behind Service {namespace}/{name}")
            })?;
        let version = image.rsplit(':').next().unwrap_or(&image).to_owned();
        self.routing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (Instant::now(), version.clone()));
        Ok(version)
    }

    /// The address of the local carts process of `version` in `namespace` (started on first use).
    async fn backend(&self, namespace: &str, version: &str) -> Result<SocketAddr, String> {
        let mut processes = self.processes.lock().await;
        let key = (namespace.to_owned(), version.to_owned());
        if let Some(p) = processes.get(&key) {
            return Ok(p.addr());
        }
        let p = self
            .template
            .spawn("carts", version)
            .await
            .map_err(|e| format!("starting carts {version}: {e}"))?;
        let addr = p.addr();
        processes.insert(key, p);
        Ok(addr)
    }
}

async fn proxy(
    State(route): State<Arc<Route>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let plane = &route.plane;
    let addr = match plane.version_behind(&route.name, &route.namespace).await {
        Ok(version) => plane.backend(&route.namespace, &version).await,
        Err(e) => Err(e),
    };
    let addr = match addr {
        Ok(a) => a,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e).into_response(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or_default();
    let mut request = plane.http.request(method, format!("http://{addr}{path}"));
    if let Some(ct) = headers.get("content-type").and_then(|v| v.to_str().ok()) {
        request = request.header("content-type", ct);
    }
    match request.body(body.to_vec()).send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = resp.bytes().await.unwrap_or_default();
            let mut response = (status, bytes.to_vec()).into_response();
            if let Some(ct) = ct.and_then(|c| c.parse().ok()) {
                response.headers_mut().insert("content-type", ct);
            }
            response
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            format!("carts did not answer: {e}"),
        )
            .into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = keptn_deploy::kube::Client::try_default()
        .await
        .context("cannot connect to the cluster of the current KUBECONFIG context")?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut template =
        keptn_examples::carts::service_template(&args.carts_program.display().to_string());
    if let (Some(url), Some(token)) = (env("UNLEASH_URL"), env("UNLEASH_CLIENT_TOKEN")) {
        template = template
            .env("UNLEASH_URL", url)
            .env("UNLEASH_CLIENT_TOKEN", token);
    }
    let plane = Arc::new(Plane {
        client,
        template,
        processes: tokio::sync::Mutex::default(),
        routing: Mutex::default(),
        refreshing: Mutex::default(),
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()?,
    });
    let mut servers = Vec::new();
    let mut out = std::io::stdout().lock();
    for spec in &args.routes {
        let (name, namespace) = spec
            .split_once('.')
            .with_context(|| format!("--route {spec}: expected NAME.NAMESPACE"))?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        writeln!(out, "{spec}=http://{}", listener.local_addr()?)?;
        let route = Arc::new(Route {
            plane: plane.clone(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
        });
        let app = Router::new().fallback(proxy).with_state(route);
        servers.push(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
    }
    out.flush()?;
    drop(out);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    for s in &servers {
        s.abort();
    }
    let processes = std::mem::take(&mut *plane.processes.lock().await);
    for (_, p) in processes {
        let _ = p.stop().await;
    }
    Ok(())
}
