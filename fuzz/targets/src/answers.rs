//! What the Dynatrace and Unleash APIs answer, read by the real clients.
//!
//! The bytes are served as the body of every answer by a small HTTP/1.1 server on 127.0.0.1
//! (one per process, started on first use), so the clients' whole path runs: status, headers,
//! body decoding, pagination, and what the provider makes of the decoded value.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider, RetryPolicy};
use keptn_remediate::unleash::UnleashClient;
use keptn_slo::SliQuery;
use keptn_spec::sli::SliConfig;
use secrecy::SecretString;

/// The answer the server gives: status code and body.
type Answer = Arc<Mutex<(u16, Vec<u8>)>>;

struct Server {
    base_url: String,
    answer: Answer,
    runtime: tokio::runtime::Runtime,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let base_url = format!("http://{}", listener.local_addr().expect("local address"));
        let answer: Answer = Arc::new(Mutex::new((200, Vec::new())));
        let shared = answer.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                answer_one(stream, &shared);
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Server {
            base_url,
            answer,
            runtime,
        }
    })
}

/// Reads one request's head (GET/PUT/POST bodies are small and ignored) and answers it.
fn answer_one(mut stream: TcpStream, answer: &Answer) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let (status, body) = answer.lock().map(|a| a.clone()).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    let _ = stream.write_all(&out);
}

/// Serves `body` with `status` and runs `call` against the server.
fn with_answer<F: Future<Output = ()>>(status: u16, body: &[u8], call: impl FnOnce(String) -> F) {
    let server = server();
    if let Ok(mut a) = server.answer.lock() {
        *a = (status, body.to_vec());
    }
    server.runtime.block_on(call(server.base_url.clone()));
}

/// The first byte picks the status (mostly 200, else one of the documented errors).
fn split_status(data: &[u8]) -> (u16, &[u8]) {
    match data.split_first() {
        Some((b'4', rest)) => (404, rest),
        Some((b'5', rest)) => (500, rest),
        Some((b'9', rest)) => (429, rest),
        _ => (200, data),
    }
}

/// Dynatrace API answers: problem list (with paging), one problem, a metrics query, an SLO and
/// a problem count through the SLI provider.
pub fn dynatrace_answers(data: &[u8]) {
    let (status, body) = split_status(data);
    with_answer(status, body, |base| async move {
        let Ok(client) = DynatraceClient::builder(base)
            .api_token(SecretString::from("dt0c01.FUZZ"))
            .retry(RetryPolicy::none())
            .timeout(Duration::from_secs(5))
            .total_timeout(Duration::from_secs(10))
            .build()
        else {
            return;
        };
        let _ = client.problems(Some("status(\"open\")"), None).await;
        let _ = client.problem("-42_1700000000000V2").await;
        let indicators = BTreeMap::from([
            (
                "response_time_p95".to_owned(),
                "MV2;MICRO_SECONDS;metricSelector=builtin:service.response.time:percentile(95)"
                    .to_owned(),
            ),
            (
                "availability".to_owned(),
                "SLO;7d07efde-b714-3e6e-ad95-08490e2540c4".to_owned(),
            ),
            (
                "problems".to_owned(),
                "PV2;problemSelector=status(open)".to_owned(),
            ),
        ]);
        let provider =
            DynatraceSliProvider::new(client).with_sli_config(SliConfig::new(indicators.clone()));
        let query = query();
        for sli in indicators.keys() {
            let _ = provider.fetch_one(sli, &query).await;
        }
    });
}

/// Unleash Admin API answers: a flag's state, turning it off, creating it.
pub fn unleash_answers(data: &[u8]) {
    let (status, body) = split_status(data);
    with_answer(status, body, |base| async move {
        let Ok(client) = UnleashClient::builder(base)
            .api_token(SecretString::from("*:*.FUZZ"))
            .retry(RetryPolicy::none())
            .timeout(Duration::from_secs(5))
            .build()
        else {
            return;
        };
        let _ = client.flag_state("EnablePromotion").await;
        let _ = client
            .set_flag("EnablePromotion", keptn_remediate::unleash::FlagState::Off)
            .await;
        let _ = client.create_flag("EnablePromotion").await;
    });
}

fn query() -> SliQuery {
    let start = Utc
        .timestamp_opt(1_700_000_000, 0)
        .single()
        .unwrap_or_default();
    SliQuery::new(
        "sockshop".parse().expect("a valid project name"),
        "staging".parse().expect("a valid stage name"),
        "carts".parse().expect("a valid service name"),
        start,
        start + chrono::Duration::minutes(5),
        Vec::new(),
    )
}
