//! The per-stage reverse proxy: owns a service's public port and routes to primary or canary.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::metrics::{CONTENT_TYPE, METRICS_PATH};
use super::recorder::RequestRecorder;

/// One running version a [`StageProxy`] can route to: its deployment label (`primary`, `canary`,
/// `direct`), its version and its loopback address.
///
/// Counts the requests it is serving so the old side of a switch can be drained before its
/// process stops.
pub struct Upstream {
    deployment: String,
    version: String,
    addr: SocketAddr,
    in_flight: AtomicUsize,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("deployment", &self.deployment)
            .field("version", &self.version)
            .field("addr", &self.addr)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Upstream {
    /// An upstream labelled `deployment` serving `version` at `addr`.
    pub fn new(
        deployment: impl Into<String>,
        version: impl Into<String>,
        addr: SocketAddr,
    ) -> Self {
        Self {
            deployment: deployment.into(),
            version: version.into(),
            addr,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The deployment label requests to this upstream are recorded under.
    pub fn deployment(&self) -> &str {
        &self.deployment
    }

    /// The version it serves.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Its loopback address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests currently being forwarded to it.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until no request is in flight, or `timeout` passed. Returns whether it drained.
    ///
    /// # Caveats
    /// Only meaningful once no proxy routes new requests here (after a switch away from it).
    pub async fn drain(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.in_flight() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

struct InFlight(Arc<Upstream>);

impl InFlight {
    fn enter(up: Arc<Upstream>) -> Self {
        up.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(up)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Shared {
    route: RwLock<Option<Arc<Upstream>>>,
    recorder: Arc<RequestRecorder>,
    client: Client<HttpConnector, Incoming>,
}

impl Shared {
    fn current(&self) -> Option<Arc<Upstream>> {
        self.route
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A reverse proxy that owns one service's public loopback port in one stage and forwards every
/// request to the current [`Upstream`].
///
/// - **Switching is one atomic pointer swap** ([`StageProxy::route_to`]): each request picks its
///   upstream once, when it arrives, so a promotion or rollback never drops or splits a request;
///   requests already on their way to the old upstream finish there (use [`Upstream::drain`] before
///   stopping its process).
/// - **Every request is recorded** in the proxy's [`RequestRecorder`] under the upstream's
///   deployment label, with its start time, its latency (until the whole response body was read
///   from the upstream) and its status; an unreachable upstream answers `502 Bad Gateway` and is
///   recorded as a failed request. With no upstream the proxy answers `503` and records nothing.
/// - **`GET /metrics` is answered by the proxy itself** ([`METRICS_PATH`]): the recorder's
///   cumulative counts in Prometheus' text format ([`RequestRecorder::metrics_text`]), with or
///   without an upstream. Scrapes are not recorded, and an upstream's own `/metrics` is not
///   reachable through the proxy.
///
/// Dropping the proxy closes its port and every open connection.
pub struct StageProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl fmt::Debug for StageProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.current())
            .finish_non_exhaustive()
    }
}

impl StageProxy {
    /// Binds `bind` (use port 0 to let the system pick a free loopback port) and starts serving,
    /// recording into `recorder`.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn start(bind: SocketAddr, recorder: Arc<RequestRecorder>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
        let shared = Arc::new(Shared {
            route: RwLock::new(None),
            recorder,
            client,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self { addr, shared, task })
    }

    /// The public address clients use.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The recorder of this proxy's traffic.
    pub fn recorder(&self) -> &Arc<RequestRecorder> {
        &self.shared.recorder
    }

    /// The upstream new requests go to.
    pub fn current(&self) -> Option<Arc<Upstream>> {
        self.shared.current()
    }

    /// Atomically routes every new request to `upstream` (or nowhere) and returns the previous one.
    pub fn route_to(&self, upstream: Option<Arc<Upstream>>) -> Option<Arc<Upstream>> {
        let mut route = self
            .shared
            .route
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *route, upstream)
    }
}

impl Drop for StageProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in this set, so aborting the loop (dropping the proxy) closes them all.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "stage proxy: accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "stage proxy: connection ended with an error");
            }
        });
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *resp.status_mut() = status;
    resp
}

async fn handle(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == hyper::Method::GET && req.uri().path() == METRICS_PATH {
        let mut resp = Response::new(Full::new(Bytes::from(shared.recorder.metrics_text())));
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(CONTENT_TYPE),
        );
        return Ok(resp);
    }
    let started_at = Utc::now();
    let clock = Instant::now();
    let Some(upstream) = shared.current() else {
        return Ok(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "no deployment is serving",
        ));
    };
    let _in_flight = InFlight::enter(upstream.clone());
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let uri: Uri = match format!("http://{}{path}", upstream.addr).parse() {
        Ok(u) => u,
        Err(_) => return Ok(plain(StatusCode::BAD_REQUEST, "invalid request path")),
    };
    *req.uri_mut() = uri;
    let result = match shared.client.request(req).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            body.collect()
                .await
                .map(|b| Response::from_parts(parts, Full::new(b.to_bytes())))
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    let latency = clock.elapsed();
    match result {
        Ok(resp) => {
            let status = resp.status().as_u16();
            shared
                .recorder
                .record(&upstream.deployment, started_at, latency, Some(status));
            Ok(resp)
        }
        Err(e) => {
            tracing::warn!(upstream = %upstream.addr, error = %e, "stage proxy: upstream failed");
            shared
                .recorder
                .record(&upstream.deployment, started_at, latency, None);
            Ok(plain(
                StatusCode::BAD_GATEWAY,
                &format!(
                    "upstream {} ({}) failed",
                    upstream.version, upstream.deployment
                ),
            ))
        }
    }
}
