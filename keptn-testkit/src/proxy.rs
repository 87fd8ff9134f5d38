//! A loopback HTTP proxy in front of a real server (such as the kube-apiserver of
//! `scripts/kube-apiserver.sh`) that misbehaves on chosen requests.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::server::{Reply, Request, accept_loop, read_request, reason};

/// Where [`FaultProxy`] forwards to: an HTTPS (or HTTP) server and how to trust and log in
/// to it.
#[derive(Clone, Default)]
pub struct Upstream {
    /// The base URL, such as `https://127.0.0.1:6443`.
    pub url: String,
    /// DER certificates to trust for the upstream's TLS (the kube-apiserver's CA); empty: the
    /// system's roots.
    pub root_certs_der: Vec<Vec<u8>>,
    /// A bearer token added to every forwarded request that has no `Authorization` header.
    pub bearer_token: Option<String>,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("url", &self.url)
            .field("root_certs", &self.root_certs_der.len())
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What [`FaultProxy`] does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyFault {
    /// Forwards it and passes the answer through.
    Forward,
    /// Answers `reply` without forwarding: the upstream never sees the request.
    Reply(Reply),
    /// Forwards it (the upstream acts on it), drops the upstream's answer and answers `reply`
    /// instead: a write that happened but whose answer was lost.
    ForwardThenReply(Reply),
    /// Forwards it and passes the answer through until `n` bytes of its body went out, then
    /// closes the connection without ending the chunked body: a stream (a watch) dropped
    /// mid-way.
    CutAfter(usize),
    /// Forwards it and passes the answer through for this long, then closes the connection
    /// without ending the chunked body.
    DropAfter(Duration),
}

type Decide = Arc<dyn Fn(&Request) -> ProxyFault + Send + Sync>;

struct Shared {
    upstream: Upstream,
    client: reqwest::Client,
    decide: Decide,
    seen: Mutex<Vec<Request>>,
}

/// A loopback HTTP/1.1 proxy that forwards each request to an [`Upstream`] (over TLS when
/// its URL is `https`), unless a closure picks a [`ProxyFault`] for it.
///
/// Clients talk plain HTTP to [`FaultProxy::url`]; every answer closes its connection and
/// goes out with chunked encoding, so streams (watches) pass through as they arrive. Dropping
/// the proxy stops it and closes every connection it holds.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1` on a free port (inside a Tokio runtime); `decide` picks
    /// what happens to each request.
    ///
    /// # Errors
    /// When a root certificate is not DER or no loopback port can be bound.
    pub async fn start(
        upstream: Upstream,
        decide: impl Fn(&Request) -> ProxyFault + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(0);
        if !upstream.root_certs_der.is_empty() {
            let certs = upstream
                .root_certs_der
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("upstream root certificate: {e}"))?;
            builder = builder.tls_certs_only(certs);
        }
        let client = builder
            .build()
            .map_err(|e| format!("HTTP client for the upstream: {e}"))?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("bind a loopback port: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        let shared = Arc::new(Shared {
            upstream,
            client,
            decide: Arc::new(decide),
            seen: Mutex::new(Vec::new()),
        });
        let state = Arc::clone(&shared);
        let task = accept_loop(listener, move |stream| serve(stream, Arc::clone(&state)));
        Ok(Self { addr, shared, task })
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Hop-by-hop and framing headers the proxy sets itself.
fn passes(name: &str) -> bool {
    !matches!(
        name,
        "host"
            | "connection"
            | "content-length"
            | "transfer-encoding"
            | "keep-alive"
            | "upgrade"
            | "accept-encoding"
            | "proxy-connection"
    )
}

async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    shared
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request.clone());
    let fault = (shared.decide)(&request);
    // write errors mean the client went away: nothing to do
    let _ = match fault {
        ProxyFault::Reply(reply) => write_whole(&mut stream, &reply).await,
        ProxyFault::ForwardThenReply(reply) => {
            if let Ok(mut answer) = forward(&shared, &request).await {
                // let the upstream finish its answer (and so its work) before lying about it
                while let Ok(Some(_)) = answer.chunk().await {}
            }
            write_whole(&mut stream, &reply).await
        }
        ProxyFault::Forward => relay(&mut stream, &shared, &request, None, None).await,
        ProxyFault::CutAfter(n) => relay(&mut stream, &shared, &request, Some(n), None).await,
        ProxyFault::DropAfter(d) => relay(&mut stream, &shared, &request, None, Some(d)).await,
    };
}

async fn forward(shared: &Shared, request: &Request) -> Result<reqwest::Response, String> {
    let mut url = format!(
        "{}{}",
        shared.upstream.url.trim_end_matches('/'),
        request.path
    );
    if !request.query.is_empty() {
        url.push('?');
        url.push_str(&request.query);
    }
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| format!("method: {e}"))?;
    let mut builder = shared.client.request(method, url);
    for (k, v) in &request.headers {
        if passes(k) {
            builder = builder.header(k, v);
        }
    }
    if let Some(token) = &shared.upstream.bearer_token
        && !request.headers.contains_key("authorization")
    {
        builder = builder.bearer_auth(token);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    builder.send().await.map_err(|e| format!("upstream: {e}"))
}

async fn write_whole(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&reply.body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// Forwards `request` and streams the answer back chunk by chunk; with `cut` or `drop_after`
/// the stream ends early without its final chunk.
async fn relay(
    stream: &mut TcpStream,
    shared: &Shared,
    request: &Request,
    cut: Option<usize>,
    drop_after: Option<Duration>,
) -> std::io::Result<()> {
    let mut answer = match forward(shared, request).await {
        Ok(a) => a,
        Err(e) => return write_whole(stream, &Reply::json(502, json_message(&e))).await,
    };
    let status = answer.status().as_u16();
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in answer.headers() {
        if passes(k.as_str()) {
            head.push_str(&format!(
                "{k}: {}\r\n",
                String::from_utf8_lossy(v.as_bytes())
            ));
        }
    }
    head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;
    let deadline = drop_after.map(|d| tokio::time::Instant::now() + d);
    let mut sent = 0usize;
    loop {
        let next = match deadline {
            Some(at) => match tokio::time::timeout_at(at, answer.chunk()).await {
                Ok(next) => next,
                Err(_) => return stream.shutdown().await,
            },
            None => answer.chunk().await,
        };
        let Ok(Some(bytes)) = next else { break };
        let mut part = &bytes[..];
        let mut stop = false;
        if let Some(limit) = cut
            && sent + part.len() >= limit
        {
            part = &part[..limit - sent];
            stop = true;
        }
        if !part.is_empty() {
            stream
                .write_all(format!("{:x}\r\n", part.len()).as_bytes())
                .await?;
            stream.write_all(part).await?;
            stream.write_all(b"\r\n").await?;
            stream.flush().await?;
            sent += part.len();
        }
        if stop {
            return stream.shutdown().await;
        }
    }
    stream.write_all(b"0\r\n\r\n").await?;
    stream.flush().await?;
    stream.shutdown().await
}

fn json_message(message: &str) -> String {
    let escaped: String = message
        .chars()
        .map(|c| match c {
            '"' | '\\' => format!("\\{c}"),
            c if c.is_control() => format!("\\u{:04x}", u32::from(c)),
            c => c.to_string(),
        })
        .collect();
    format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{escaped}","reason":"BadGateway","code":502}}"#
    )
}
