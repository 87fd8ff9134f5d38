//! A loopback HTTP/1.1 server that misbehaves on purpose, route by route.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The largest request head (request line and headers) the server reads.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the server reads.
const MAX_BODY: usize = 1024 * 1024;

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, such as `GET`.
    pub method: String,
    /// The path without the query, such as `/api/v1/query`.
    pub path: String,
    /// The raw query string without `?` (empty when there is none).
    pub query: String,
    /// The headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body (read up to `Content-Length`).
    pub body: Vec<u8>,
}

impl Request {
    /// The percent-decoded value of query parameter `name` (`+` as a space), if present.
    pub fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A complete HTTP answer: status, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection: close` are always added).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), "application/json".to_owned())],
            body: body.into().into_bytes(),
        }
    }

    /// `status` with a short plain-text body naming the status.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_owned(), "text/plain".to_owned())],
            body: format!("injected status {status}\n").into_bytes(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Retry-After: <seconds>`.
    #[must_use]
    pub fn retry_after(self, seconds: u64) -> Self {
        self.header("Retry-After", &seconds.to_string())
    }

    fn head(&self, content_length: Option<usize>) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        match content_length {
            Some(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
            None => head.push_str("Transfer-Encoding: chunked\r\n"),
        }
        head.push_str("Connection: close\r\n\r\n");
        head.into_bytes()
    }
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Injected",
    }
}

/// What the server does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answers normally (any status).
    Reply(Reply),
    /// Waits, then answers: longer than a client's timeout, it is a timeout.
    Delay(Duration, Reply),
    /// Sends the status line and headers of a `200` announcing a body, then nothing: the
    /// connection stays open until the server is dropped.
    HangAfterHeaders,
    /// Sends the status and headers of `reply` with chunked encoding, then the first `n` bytes
    /// of its body as one chunk, then closes the connection without the final chunk: a stream
    /// (such as a Kubernetes watch) dropped mid-way.
    CutAfter(usize, Reply),
    /// Sends these bytes instead of an HTTP answer and closes.
    Garbage(Vec<u8>),
    /// Closes the connection without sending a byte.
    Close,
}

type Handler = Arc<dyn Fn(&Request) -> Fault + Send + Sync>;

#[derive(Default)]
struct Routes {
    /// `(path, handler)`; a path ending in `*` matches every path with that prefix.
    routes: Vec<(String, Handler)>,
    seen: Vec<Request>,
}

impl Routes {
    fn handler(&self, path: &str) -> Option<Handler> {
        self.routes
            .iter()
            .rev()
            .find(|(p, _)| match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => p == path,
            })
            .map(|(_, h)| Arc::clone(h))
    }
}

/// A loopback HTTP/1.1 server whose routes misbehave as told (see the [crate docs](crate)).
///
/// Every answer closes its connection. Unknown paths answer `404`. Dropping the server stops
/// it and closes every connection it holds open (hung ones included).
pub struct FaultServer {
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FaultServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FaultServer {
    /// Starts a server on `127.0.0.1` on a free port (inside a Tokio runtime).
    ///
    /// # Panics
    /// When no loopback port can be bound (a broken test machine).
    pub async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let shared = Arc::clone(&routes);
        let task = accept_loop(listener, move |stream| serve(stream, Arc::clone(&shared)));
        Self { addr, routes, task }
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers every request for `path` (a trailing `*` matches a prefix) with `fault`. A later
    /// route for the same path replaces the earlier one.
    pub fn route(&self, path: &str, fault: Fault) {
        self.route_with(path, move |_| fault.clone());
    }

    /// Answers requests for `path` with what `handler` returns for each.
    pub fn route_with(
        &self,
        path: &str,
        handler: impl Fn(&Request) -> Fault + Send + Sync + 'static,
    ) {
        self.lock()
            .routes
            .push((path.to_owned(), Arc::new(handler)));
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().seen.clone()
    }

    /// How many requests for `path` were received.
    pub fn hits(&self, path: &str) -> usize {
        self.lock().seen.iter().filter(|r| r.path == path).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        // aborting the accept loop drops its JoinSet, which aborts every connection task
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, routes: Arc<Mutex<Routes>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let handler = {
        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes.seen.push(request.clone());
        routes.handler(&request.path)
    };
    let fault = match handler {
        Some(h) => h(&request),
        None => Fault::Reply(Reply::status(404)),
    };
    // write errors mean the client went away (it timed out): nothing to do
    let _ = answer(&mut stream, fault).await;
}

async fn answer(stream: &mut TcpStream, fault: Fault) -> std::io::Result<()> {
    match fault {
        Fault::Reply(reply) => write_reply(stream, &reply).await,
        Fault::Delay(wait, reply) => {
            tokio::time::sleep(wait).await;
            write_reply(stream, &reply).await
        }
        Fault::HangAfterHeaders => {
            let reply = Reply::json(200, "");
            stream.write_all(&reply.head(Some(1024))).await?;
            stream.flush().await?;
            std::future::pending::<()>().await;
            Ok(())
        }
        Fault::CutAfter(n, reply) => {
            stream.write_all(&reply.head(None)).await?;
            let part = &reply.body[..n.min(reply.body.len())];
            if !part.is_empty() {
                stream
                    .write_all(format!("{:x}\r\n", part.len()).as_bytes())
                    .await?;
                stream.write_all(part).await?;
                stream.write_all(b"\r\n").await?;
            }
            stream.flush().await?;
            stream.shutdown().await
        }
        Fault::Garbage(bytes) => {
            stream.write_all(&bytes).await?;
            stream.flush().await?;
            stream.shutdown().await
        }
        Fault::Close => stream.shutdown().await,
    }
}

async fn write_reply(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    stream
        .write_all(&reply.head(Some(reply.body.len())))
        .await?;
    stream.write_all(&reply.body).await?;
    stream.flush().await?;
    stream.shutdown().await
}

/// Reads one request; `None` when the client sent no complete request head.
pub(crate) async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body,
    })
}

/// Accepts connections on `listener` until the returned task is aborted, serving each with
/// `serve` in a task of its own; aborting the loop drops its `JoinSet`, which aborts every
/// connection task.
pub(crate) fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> JoinHandle<()>
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve(stream));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let r = Request {
            method: "GET".into(),
            path: "/".into(),
            query: "query=sum%28x%29+by+%28a%29&time=1&bad=%zz&end=%4".into(),
            headers: BTreeMap::new(),
            body: Vec::new(),
        };
        assert_eq!(r.param("query").as_deref(), Some("sum(x) by (a)"));
        assert_eq!(r.param("time").as_deref(), Some("1"));
        assert_eq!(r.param("bad").as_deref(), Some("%zz"));
        assert_eq!(r.param("end").as_deref(), Some("%4"));
        assert_eq!(r.param("missing"), None);
    }

    #[test]
    fn the_latest_route_wins_and_prefixes_match() {
        let mut routes = Routes::default();
        routes
            .routes
            .push(("/api/*".into(), Arc::new(|_: &Request| Fault::Close)));
        routes.routes.push((
            "/api/v1/query".into(),
            Arc::new(|_: &Request| Fault::HangAfterHeaders),
        ));
        let call = |p: &str| {
            routes.handler(p).map(|h| {
                h(&Request {
                    method: "GET".into(),
                    path: p.into(),
                    query: String::new(),
                    headers: BTreeMap::new(),
                    body: Vec::new(),
                })
            })
        };
        assert_eq!(call("/api/v1/query"), Some(Fault::HangAfterHeaders));
        assert_eq!(call("/api/v2/x"), Some(Fault::Close));
        assert_eq!(call("/other"), None);
    }
}
