//! An embedded Alertmanager webhook receiver: a small HTTP server that turns each notification
//! into a typed Keptn problem event on a channel.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use keptn_spec::event::KeptnEvent;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::alertmanager::WebhookPayload;
use crate::error::{Error, Result};

/// The path the receiver accepts notifications on (`POST`).
pub const WEBHOOK_PATH: &str = "/alertmanager";

/// Receives Alertmanager's webhook notifications at [`WEBHOOK_PATH`] and sends each as a
/// problem event ([`WebhookPayload::to_problem_event`]: firing → `problem.open`, resolved →
/// closed) on its channel.
///
/// Answers `200` once the event is on the channel, `400` with the reason for a payload that
/// is not a version-4 notification or cannot become a problem (nothing is sent then), and
/// `503` when the channel's receiver was dropped (Alertmanager retries). Dropping the receiver
/// closes its port.
#[derive(Debug)]
pub struct AlertReceiver {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl AlertReceiver {
    /// Binds `bind` (port 0: a free port) and starts serving; problem events arrive on the
    /// returned channel.
    ///
    /// # Errors
    /// [`Error::Setup`] when the address cannot be bound.
    pub async fn start(bind: SocketAddr) -> Result<(Self, mpsc::UnboundedReceiver<KeptnEvent>)> {
        let listener = TcpListener::bind(bind).await.map_err(|e| Error::Setup {
            message: format!("cannot bind the alert receiver to {bind}: {e}"),
        })?;
        let addr = listener.local_addr().map_err(|e| Error::Setup {
            message: format!("alert receiver address: {e}"),
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let app = Router::new()
            .route(WEBHOOK_PATH, post(receive))
            .with_state(tx);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "alert receiver stopped");
            }
        });
        Ok((Self { addr, task }, rx))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give Alertmanager: `http://<addr>/alertmanager`.
    pub fn url(&self) -> String {
        format!("http://{}{WEBHOOK_PATH}", self.addr)
    }
}

impl Drop for AlertReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(tx): State<mpsc::UnboundedSender<KeptnEvent>>,
    body: String,
) -> (StatusCode, String) {
    let event = match WebhookPayload::parse(&body).and_then(|p| p.to_problem_event()) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "alert receiver: rejected a notification");
            return (StatusCode::BAD_REQUEST, format!("{e}\n"));
        }
    };
    match tx.send(event) {
        Ok(()) => (StatusCode::OK, String::new()),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "nobody takes problems any more\n".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keptn_spec::event::EventType;

    const FIRING: &str = r#"{"version":"4","groupKey":"{}:{alertname=\"error_rate\"}","status":"firing",
      "receiver":"keptn","groupLabels":{"alertname":"error_rate"},
      "commonLabels":{"alertname":"error_rate","project":"sockshop","stage":"production","service":"carts"},
      "commonAnnotations":{"summary":"Failure rate increase"},"externalURL":"http://am",
      "alerts":[{"status":"firing","labels":{"alertname":"error_rate","project":"sockshop","stage":"production","service":"carts"},
        "annotations":{"summary":"Failure rate increase"},"startsAt":"2026-01-01T00:00:00Z",
        "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p","fingerprint":"abc"}]}"#;

    /// A firing notification becomes `problem.open` on the channel; garbage is refused with the
    /// parser's reason and sends nothing.
    #[tokio::test]
    async fn posts_become_problem_events() {
        let (receiver, mut rx) = AlertReceiver::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let resp = http.post(receiver.url()).body(FIRING).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let event = rx.recv().await.unwrap();
        assert_eq!(event.ty, EventType::ProblemOpen);
        let resp = http
            .post(receiver.url())
            .body(r#"{"version":"3"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let text = resp.text().await.unwrap();
        assert!(text.contains("missing field `groupKey`"), "{text}");
        assert!(rx.try_recv().is_err());
        drop(rx);
        let resp = http.post(receiver.url()).body(FIRING).send().await.unwrap();
        assert_eq!(resp.status(), 503);
    }
}
