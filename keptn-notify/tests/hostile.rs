//! Hostile input against a notifier with a real receiver on 127.0.0.1: event data cannot change
//! the JSON payload or add a header, and loopback / link-local / cluster-internal hosts are
//! refused unless the notifier opts in.

// shared with delivery.rs, which uses the rest of it
#[allow(dead_code)]
mod support;

use std::time::Duration;

use keptn_notify::{Notifier, RetryPolicy, StaticSecrets, Target};
use keptn_spec::webhook::WebhookConfig;
use secrecy::SecretString;
use serde_json::{Value, json};
use support::Receiver;

fn config(url: &str) -> WebhookConfig {
    keptn_spec::from_yaml_str(&format!(
        r#"
apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata: {{ name: hostile }}
spec:
  webhooks:
    - type: sh.keptn.event.evaluation.finished
      subscriptionID: hostile
      requests:
        - url: {url}/hook
          method: POST
          headers:
            - key: Content-Type
              value: application/json
            - key: X-Keptn-Message
              value: "msg {{{{.data.message}}}}"
          payload: '{{"text": "Evaluation: {{{{.data.message}}}}", "raw": {{{{.data.message}}}}, "score": {{{{.data.score}}}}}}'
"#
    ))
    .unwrap()
}

fn event(message: &str) -> Value {
    json!({"type": "sh.keptn.event.evaluation.finished", "shkeptncontext": "c1",
           "data": {"project": "sockshop", "message": message, "score": 50}})
}

#[tokio::test]
async fn event_data_cannot_change_the_payload_or_headers() {
    let rx = Receiver::start().await;
    let targets = Target::webhooks(&config(&rx.url("")), &StaticSecrets::new()).unwrap();
    let notifier = Notifier::builder()
        .allow_internal_addresses()
        .retry(RetryPolicy::none())
        .targets(targets)
        .build()
        .unwrap();
    let hostile = [
        "\", \"score\": 100, \"x\": \"".to_owned(),
        "line\r\nX-Injected: 1\r\n\r\n{\"a\":1}".to_owned(),
        "back\\slash \\\" {{.env.SECRET}} }}".to_owned(),
        "\"\\\n{{".repeat(4096),
    ];
    for m in &hostile {
        notifier.emit_value(event(m));
    }
    let got = rx.wait_for(hostile.len()).await;
    assert_eq!(got.len(), hostile.len());
    for m in &hostile {
        let r = got
            .iter()
            .find(|r| r.json()["raw"] == json!(m))
            .unwrap_or_else(|| panic!("no request carries {m:.60}"));
        let body = r.json();
        assert_eq!(
            body,
            json!({"text": format!("Evaluation: {m}"), "raw": m, "score": 50})
        );
        assert_eq!(r.header("x-injected"), None);
        let header = r.header("x-keptn-message").unwrap();
        assert!(header.starts_with("msg ") && !header.contains(['\r', '\n']));
    }
    assert_eq!(notifier.stats().failed(), 0);
}

#[tokio::test]
async fn loopback_receivers_are_refused_without_the_opt_in() {
    let rx = Receiver::start().await;
    let slack = Target::slack(SecretString::from(rx.url("/services/T0/B0/SECRETPATH"))).unwrap();
    let hooks = Target::webhooks(&config(&rx.url("")), &StaticSecrets::new()).unwrap();
    let notifier = Notifier::builder()
        .retry(RetryPolicy::none())
        .target(slack)
        .targets(hooks)
        .build()
        .unwrap();
    notifier.emit_value(event("hello"));
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    assert!(rx.recorded().is_empty(), "nothing may reach the receiver");
    let stats = notifier.stats();
    assert_eq!(stats.delivered(), 0);
    assert_eq!(stats.failed(), 2);
    assert_eq!(stats.retries(), 0);
    for name in ["slack", "webhook hostile"] {
        let error = stats.target(name).unwrap().last_error.clone().unwrap();
        assert!(
            error.contains("refused to send: 127.0.0.1 is a loopback address"),
            "{name}: {error}"
        );
        assert!(!error.contains("SECRETPATH"), "{error}");
    }
}

#[tokio::test]
async fn metadata_and_cluster_addresses_are_refused_before_connecting() {
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]:9/x",
        "https://kubernetes.default.svc/api/v1/secrets",
        "http://localhost:9/x",
        "http://[::ffff:127.0.0.1]:9/x",
    ] {
        let notifier = Notifier::builder()
            .retry(RetryPolicy::none())
            .timeout(Duration::from_secs(1))
            .targets(Target::webhooks(&config(url), &StaticSecrets::new()).unwrap())
            .build()
            .unwrap();
        notifier.emit_value(event("x"));
        notifier.flush(Duration::from_secs(10)).await.unwrap();
        let stats = notifier.stats();
        let error = stats.target("webhook hostile").unwrap().last_error.clone();
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("refused to send")),
            "{url}: {error:?}"
        );
    }
}

/// An operator's deny rule wins over the opt-in for internal addresses; an allow rule for one
/// address lets a receiver there through without the opt-in.
#[tokio::test]
async fn deny_rules_win_and_allow_rules_open_one_address() {
    let rx = Receiver::start().await;
    let denied = Notifier::builder()
        .allow_internal_addresses()
        .deny("127.0.0.0/8".parse().unwrap())
        .retry(RetryPolicy::none())
        .targets(Target::webhooks(&config(&rx.url("")), &StaticSecrets::new()).unwrap())
        .build()
        .unwrap();
    denied.emit_value(event("x"));
    denied.flush(Duration::from_secs(10)).await.unwrap();
    let error = denied
        .stats()
        .target("webhook hostile")
        .unwrap()
        .last_error
        .clone();
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("matches the deny rule `127.0.0.0/8`")),
        "{error:?}"
    );
    assert!(rx.recorded().is_empty());

    let allowed = Notifier::builder()
        .allow("127.0.0.1".parse().unwrap())
        .retry(RetryPolicy::none())
        .targets(Target::webhooks(&config(&rx.url("")), &StaticSecrets::new()).unwrap())
        .build()
        .unwrap();
    allowed.emit_value(event("y"));
    assert_eq!(rx.wait_for(1).await.len(), 1);
    assert_eq!(allowed.stats().failed(), 0);
}

/// A client passed to `http_client` resolves names itself; the notifier checks the host as
/// written and by its own lookup just before the request (check-then-connect). What that
/// means, as documented on `NotifierBuilder::http_client`: a literal loopback target is still
/// refused, but a name the client maps to loopback on its own (here a `resolve` override; in
/// the wild, a rebinding DNS answer) is not seen. The notifier's own client has no such gap:
/// it connects only to the addresses its guarded resolver checked.
#[tokio::test]
async fn a_supplied_http_client_gets_only_the_check_then_connect_guarantee() {
    let rx = Receiver::start().await;
    let port: u16 = rx.url("").rsplit(':').next().unwrap().parse().unwrap();
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let client = || {
        keptn_notify::reqwest::Client::builder()
            .no_proxy()
            .resolve("rebound.invalid", loopback)
            .build()
            .unwrap()
    };
    let send = |notifier: Notifier| async move {
        notifier.emit_value(event("x"));
        notifier.flush(Duration::from_secs(10)).await.unwrap();
        notifier.stats()
    };

    // a literal loopback target: refused before the supplied client sees it
    let literal = Notifier::builder()
        .http_client(client())
        .retry(RetryPolicy::none())
        .targets(Target::webhooks(&config(&rx.url("")), &StaticSecrets::new()).unwrap())
        .build()
        .unwrap();
    let stats = send(literal).await;
    assert_eq!(stats.failed(), 1);
    assert!(rx.recorded().is_empty());

    // a name only the supplied client resolves to loopback: the notifier's lookup finds
    // nothing to refuse, and the request gets through
    let url = format!("http://rebound.invalid:{port}");
    let supplied = Notifier::builder()
        .http_client(client())
        .retry(RetryPolicy::none())
        .targets(Target::webhooks(&config(&url), &StaticSecrets::new()).unwrap())
        .build()
        .unwrap();
    let stats = send(supplied).await;
    assert_eq!(
        stats.delivered(),
        1,
        "the documented gap of a supplied client"
    );
    assert_eq!(rx.recorded().len(), 1);
}
