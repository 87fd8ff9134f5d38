//! Local HTTP receivers on 127.0.0.1 that record what they get and answer from a script.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
    pub(crate) at: Instant,
}

impl Recorded {
    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: String,
    /// When set, the body is the request's `Authorization` header (to test redaction).
    pub(crate) echo_authorization: bool,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Self {
        Reply {
            status,
            retry_after: None,
            body: String::new(),
            echo_authorization: false,
        }
    }
    pub(crate) fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }
}

#[derive(Default)]
struct Shared {
    recorded: Vec<Recorded>,
    script: VecDeque<Reply>,
}

/// A receiver; dropped → server task aborted.
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response<Body> {
    let reply = {
        let mut s = shared.lock().unwrap();
        s.recorded.push(Recorded {
            method: method.to_string(),
            path: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers: headers.clone(),
            body,
            at: Instant::now(),
        });
        s.script.pop_front().unwrap_or_else(|| Reply::status(200))
    };
    let body = if reply.echo_authorization {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    } else {
        reply.body
    };
    let mut response = Response::builder().status(reply.status);
    if let Some(r) = reply.retry_after {
        response = response.header("retry-after", r);
    }
    response.body(Body::from(body)).unwrap()
}

impl Receiver {
    /// Starts a receiver answering 200 unless scripted otherwise.
    pub(crate) async fn start() -> Receiver {
        Self::with_script(Vec::new()).await
    }

    /// Starts a receiver answering with `script` in order, then 200.
    pub(crate) async fn with_script(script: Vec<Reply>) -> Receiver {
        let shared = Arc::new(Mutex::new(Shared {
            recorded: Vec::new(),
            script: script.into(),
        }));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, shared, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn recorded(&self) -> Vec<Recorded> {
        self.shared.lock().unwrap().recorded.clone()
    }

    /// Waits (bounded) until `n` requests arrived.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.recorded();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A TCP listener that completes handshakes (kernel backlog) but never reads or answers.
pub(crate) struct DeadReceiver {
    listener: std::net::TcpListener,
}

impl DeadReceiver {
    pub(crate) fn start() -> DeadReceiver {
        DeadReceiver {
            listener: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        }
    }
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.listener.local_addr().unwrap())
    }
}
