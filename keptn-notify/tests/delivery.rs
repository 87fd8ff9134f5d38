//! Delivery against local HTTP receivers on 127.0.0.1: payload shapes, templates, retries,
//! timeouts, filters, ordering, dead receivers and secret hygiene.

mod support;

use std::time::Duration;

use keptn_notify::{
    ChatFormat, EventFilter, Notifier, NotifierBuilder, RetryPolicy, StaticSecrets, Target,
};
use keptn_spec::webhook::{SecretRef, WebhookConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use support::{DeadReceiver, Receiver, Reply};

const CTX: &str = "7c2f6a8e-2f5b-4d0e-9a53-0d8f5b7f2c11";

fn delivery_triggered(stage: &str, tag: &str) -> Value {
    json!({
        "specversion": "1.0", "id": format!("dt-{stage}-{tag}"), "source": "shipyard-controller",
        "type": format!("sh.keptn.event.{stage}.delivery.triggered"), "shkeptncontext": CTX,
        "data": {"project": "sockshop", "stage": stage, "service": "carts",
                 "configurationChange": {"values": {"image": format!("docker.io/keptnexamples/carts:{tag}")}},
                 "deployment": {"deploymentstrategy": "blue_green_service"}}
    })
}

fn evaluation_failed() -> Value {
    json!({
        "specversion": "1.0", "id": "ev-1", "source": "lighthouse-service",
        "type": "sh.keptn.event.evaluation.finished", "shkeptncontext": CTX, "triggeredid": "et-1",
        "data": {"project": "sockshop", "stage": "staging", "service": "carts",
                 "result": "fail", "status": "succeeded", "message": "response time too high",
                 "evaluation": {"score": 50, "result": "fail", "indicatorResults": [
                     {"score": 0, "status": "fail", "keySli": false, "displayName": "Response time P95",
                      "value": {"metric": "response_time_p95", "value": 1043.2, "success": true},
                      "passTargets": [{"criteria": "<=+10%", "targetValue": 572, "violated": true},
                                      {"criteria": "<600", "targetValue": 600, "violated": true}]},
                     {"score": 1, "status": "pass", "keySli": false,
                      "value": {"metric": "error_rate", "value": 0, "success": true},
                      "passTargets": [{"criteria": "<=1", "targetValue": 1, "violated": false}]}]}}
    })
}

/// The receivers here are on 127.0.0.1: the tests opt in to internal addresses.
fn fast() -> NotifierBuilder {
    Notifier::builder()
        .allow_internal_addresses()
        .retry(RetryPolicy::new(
            4,
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
        .timeout(Duration::from_secs(5))
}

/// Slack gets one message per meaningful event, in order, with the exact block layout.
#[tokio::test]
async fn slack_gets_exact_blocks_in_order() {
    let rx = Receiver::start().await;
    let notifier = fast()
        .target(Target::slack(SecretString::from(rx.url("/services/T0/B0/XYZ"))).unwrap())
        .report_link(
            "https://bridge.example/project/{{.data.project}}/sequence/{{.shkeptncontext}}"
                .parse()
                .unwrap(),
        )
        .build()
        .unwrap();
    notifier.emit_value(delivery_triggered("staging", "0.11.2"));
    // not meaningful: no message
    notifier.emit_value(json!({"type": "sh.keptn.event.evaluation.started", "shkeptncontext": CTX,
                               "data": {"project": "sockshop", "stage": "staging", "service": "carts"}}));
    notifier.emit_value(evaluation_failed());
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let got = rx.recorded();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/services/T0/B0/XYZ");
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    assert_eq!(
        got[0].json()["text"],
        "Delivery of carts:0.11.2 started in staging"
    );
    assert_eq!(
        got[1].json(),
        json!({"text": "Evaluation of carts:0.11.2 in staging: fail (score 50)", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "emoji": true,
                "text": ":x: Evaluation of carts:0.11.2 in staging: fail (score 50)"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "response time too high"}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": "*Project*\nsockshop"},
                {"type": "mrkdwn", "text": "*Stage*\nstaging"},
                {"type": "mrkdwn", "text": "*Service*\ncarts"},
                {"type": "mrkdwn", "text": "*Image*\ndocker.io/keptnexamples/carts"},
                {"type": "mrkdwn", "text": "*Tag*\n0.11.2"},
                {"type": "mrkdwn", "text": "*Deployment strategy*\nblue_green_service"},
                {"type": "mrkdwn", "text": "*Score*\n50"},
                {"type": "mrkdwn", "text": "*Result*\nfail"},
                {"type": "mrkdwn", "text": format!("*Keptn context*\n{CTX}")}]},
            {"type": "section", "text": {"type": "mrkdwn", "text":
                "*Failing objectives*\n• Response time P95 = 1043.2: fail (violated <=+10% (target 572), <600)"}},
            {"type": "context", "elements": [{"type": "mrkdwn",
                "text": "Keptn event `sh.keptn.event.evaluation.finished`"}]},
            {"type": "actions", "elements": [{"type": "button",
                "text": {"type": "plain_text", "text": "Open report"},
                "url": format!("https://bridge.example/project/sockshop/sequence/{CTX}")}]}
        ]})
    );
    let stats = notifier.stats();
    assert_eq!(
        (stats.delivered(), stats.failed(), stats.dropped()),
        (2, 0, 0)
    );
}

/// Teams connector URLs get a MessageCard, Workflows URLs an Adaptive Card.
#[tokio::test]
async fn teams_message_card_and_adaptive_card() {
    let rx = Receiver::start().await;
    let notifier = fast()
        .target(
            Target::chat(
                ChatFormat::TeamsMessageCard,
                SecretString::from(rx.url("/card")),
            )
            .unwrap(),
        )
        .target(
            Target::chat(
                ChatFormat::TeamsAdaptiveCard,
                SecretString::from(rx.url("/adaptive")),
            )
            .unwrap()
            .named("teams-workflow"),
        )
        .build()
        .unwrap();
    notifier.emit_value(
        json!({"type": "sh.keptn.events.problem", "shkeptncontext": CTX,
        "data": {"State": "RESOLVED", "ProblemTitle": "Failure rate increase", "PID": "P-42",
                 "project": "sockshop", "stage": "production", "service": "carts"}}),
    );
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let got = rx.recorded();
    assert_eq!(got.len(), 2);
    let card = got.iter().find(|r| r.path == "/card").unwrap().json();
    assert_eq!(card["@type"], "MessageCard");
    assert_eq!(card["@context"], "https://schema.org/extensions");
    assert_eq!(card["summary"], "Problem resolved: Failure rate increase");
    assert_eq!(card["themeColor"], "2DC72D");
    assert_eq!(
        card["sections"][0]["facts"],
        json!([{"name": "Project", "value": "sockshop"}, {"name": "Stage", "value": "production"},
               {"name": "Service", "value": "carts"}, {"name": "State", "value": "RESOLVED"},
               {"name": "Problem ID", "value": "P-42"}, {"name": "Keptn context", "value": CTX}])
    );
    let adaptive = got.iter().find(|r| r.path == "/adaptive").unwrap().json();
    assert_eq!(adaptive["type"], "message");
    let attachment = &adaptive["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["content"]["type"], "AdaptiveCard");
    assert_eq!(attachment["content"]["version"], "1.4");
    assert_eq!(
        attachment["content"]["body"][0]["text"],
        "Problem resolved: Failure rate increase"
    );
    assert_eq!(attachment["content"]["body"][1]["type"], "FactSet");
    assert_eq!(
        notifier.stats().target("teams-workflow").unwrap().delivered,
        1
    );
}

fn webhook_config(url: &str) -> WebhookConfig {
    keptn_spec::from_yaml_str(&format!(
        r#"
apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata:
  name: webhook-configuration
spec:
  webhooks:
    - type: sh.keptn.event.evaluation.finished
      subscriptionID: evaluations
      envFrom:
        - name: token
          secretRef: {{ name: receiver, key: token }}
      requests:
        - url: {url}/hooks/{{{{.data.project}}}}/{{{{.data.stage}}}}
          method: POST
          headers:
            - key: Content-Type
              value: application/json
            - key: Authorization
              value: Bearer {{{{.env.token}}}}
          payload: '{{"id": "{{{{.id}}}}", "type": "{{{{.type}}}}", "score": {{{{.data.evaluation.score}}}}, "result": "{{{{.data.evaluation.result}}}}"}}'
        - url: {url}/second
          method: PUT
          payload: '{{{{.shkeptncontext}}}}'
    - type: sh.keptn.event.*.*.finished
      subscriptionID: sequences
      requests:
        - url: {url}/sequence
          method: POST
          payload: '{{{{.type}}}} {{{{.data.result}}}}'
"#
    ))
    .unwrap()
}

fn secrets() -> StaticSecrets {
    StaticSecrets::new().with(
        SecretRef {
            name: "receiver".into(),
            key: "token".into(),
        },
        "s3cr3t-t0k3n",
    )
}

/// webhook.yaml requests are rendered from the event and `envFrom` secrets and sent in order.
#[tokio::test]
async fn webhook_requests_are_rendered_and_sent_in_order() {
    let rx = Receiver::start().await;
    let targets = Target::webhooks(&webhook_config(&rx.url("")), &secrets()).unwrap();
    let notifier = fast().targets(targets).build().unwrap();
    notifier.emit_value(evaluation_failed());
    notifier.emit_value(json!({"type": "sh.keptn.event.staging.delivery.finished", "shkeptncontext": CTX,
                               "data": {"project": "sockshop", "stage": "staging", "service": "carts", "result": "fail"}}));
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let mut got = rx.recorded();
    got.sort_by_key(|r| r.at);
    assert_eq!(got.len(), 3, "{got:#?}");
    let first = got
        .iter()
        .find(|r| r.path == "/hooks/sockshop/staging")
        .unwrap();
    assert_eq!(first.method, "POST");
    assert_eq!(first.header("authorization"), Some("Bearer s3cr3t-t0k3n"));
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(
        first.json(),
        json!({"id": "ev-1", "type": "sh.keptn.event.evaluation.finished", "score": 50, "result": "fail"})
    );
    let second = got.iter().find(|r| r.path == "/second").unwrap();
    assert_eq!((second.method.as_str(), second.body.as_str()), ("PUT", CTX));
    assert!(
        first.at <= second.at,
        "requests of one webhook are sent in order"
    );
    let seq = got.iter().find(|r| r.path == "/sequence").unwrap();
    assert_eq!(seq.body, "sh.keptn.event.staging.delivery.finished fail");
    assert_eq!(notifier.stats().delivered(), 3);
}

/// A field missing from the event fails the webhook (as Keptn's missingkey=error): nothing is
/// sent, the failure is counted and explained.
#[tokio::test]
async fn missing_template_field_fails_without_sending() {
    let rx = Receiver::start().await;
    let targets = Target::webhooks(&webhook_config(&rx.url("")), &secrets()).unwrap();
    let notifier = fast().targets(targets).build().unwrap();
    notifier.emit_value(
        json!({"type": "sh.keptn.event.evaluation.finished", "id": "x",
        "data": {"project": "sockshop", "stage": "staging"}}),
    );
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    assert!(rx.recorded().is_empty());
    let stats = notifier.stats();
    let t = stats.target("webhook evaluations").unwrap();
    assert_eq!((t.delivered, t.failed), (0, 1));
    assert_eq!(
        t.last_error.as_deref(),
        Some(
            "webhook evaluations, request 1: cannot render the request for event \
              sh.keptn.event.evaluation.finished: the event has no field `.data.evaluation.score`"
        )
    );
}

/// 503 and 429 are retried; Retry-After is honoured; then the message goes through.
#[tokio::test]
async fn retries_on_5xx_and_429_honouring_retry_after() {
    let rx = Receiver::with_script(vec![
        Reply::status(503).retry_after("1"),
        Reply::status(429),
        Reply::status(500),
    ])
    .await;
    let notifier = fast()
        .target(Target::slack(SecretString::from(rx.url("/s"))).unwrap())
        .build()
        .unwrap();
    notifier.emit_value(evaluation_failed());
    notifier.flush(Duration::from_secs(20)).await.unwrap();
    let got = rx.recorded();
    assert_eq!(got.len(), 4);
    assert!(
        got[1].at.duration_since(got[0].at) >= Duration::from_millis(990),
        "Retry-After: 1 was not honoured: {:?}",
        got[1].at.duration_since(got[0].at)
    );
    let s = notifier.stats();
    assert_eq!((s.delivered(), s.failed(), s.retries()), (1, 0, 3));
}

/// After `max_attempts` transient failures the request is given up, counted and explained.
#[tokio::test]
async fn gives_up_after_max_attempts() {
    let rx = Receiver::with_script(vec![Reply::status(502); 10]).await;
    let notifier = fast()
        .max_attempts(3)
        .target(Target::slack(SecretString::from(rx.url("/s"))).unwrap())
        .build()
        .unwrap();
    notifier.emit_value(evaluation_failed());
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    assert_eq!(rx.recorded().len(), 3);
    let s = notifier.stats();
    assert_eq!((s.delivered(), s.failed(), s.retries()), (0, 1, 2));
    assert_eq!(
        s.targets[0].last_error.as_deref(),
        Some("slack answered HTTP 502")
    );
}

/// A 4xx other than 408/429 is not retried.
#[tokio::test]
async fn client_errors_are_not_retried() {
    let mut reply = Reply::status(400);
    reply.body = "invalid_payload".into();
    let rx = Receiver::with_script(vec![reply]).await;
    let notifier = fast()
        .target(Target::slack(SecretString::from(rx.url("/s"))).unwrap())
        .build()
        .unwrap();
    notifier.emit_value(evaluation_failed());
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    assert_eq!(rx.recorded().len(), 1);
    assert_eq!(
        notifier.stats().targets[0].last_error.as_deref(),
        Some("slack answered HTTP 400: invalid_payload")
    );
}

/// A receiver that never answers times out on every attempt and is given up.
#[tokio::test]
async fn unanswered_requests_time_out() {
    let dead = DeadReceiver::start();
    let notifier = fast()
        .timeout(Duration::from_millis(200))
        .max_attempts(2)
        .target(Target::slack(SecretString::from(dead.url("/s"))).unwrap())
        .build()
        .unwrap();
    notifier.emit_value(evaluation_failed());
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let s = notifier.stats();
    assert_eq!((s.failed(), s.retries()), (1, 1));
    assert_eq!(
        s.targets[0].last_error.as_deref(),
        Some("slack did not answer within 200ms")
    );
}

/// Connection refused is a transport failure, retried, then given up.
#[tokio::test]
async fn connection_refused_is_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let notifier = fast()
        .max_attempts(2)
        .target(
            Target::slack(SecretString::from(format!(
                "http://127.0.0.1:{port}/T0/SECRETPATH"
            )))
            .unwrap(),
        )
        .build()
        .unwrap();
    notifier.emit_value(evaluation_failed());
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let s = notifier.stats();
    assert_eq!((s.failed(), s.retries()), (1, 1));
    let err = s.targets[0].last_error.clone().unwrap();
    assert!(err.starts_with("sending to slack failed"), "{err}");
    assert!(!err.contains("SECRETPATH"), "{err}");
}

/// A dead receiver delays nobody: every `emit` returns at once while the receiver hangs, its
/// full queue drops (and counts) the excess, and a healthy target still gets every message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_receiver_does_not_delay_the_sender() {
    let dead = DeadReceiver::start();
    let healthy = Receiver::start().await;
    let notifier = Notifier::builder()
        .allow_internal_addresses()
        .queue_capacity(50)
        .timeout(Duration::from_secs(30))
        .target(
            Target::slack(SecretString::from(dead.url("/dead")))
                .unwrap()
                .named("dead"),
        )
        .target(
            Target::slack(SecretString::from(healthy.url("/ok")))
                .unwrap()
                .named("healthy"),
        )
        .build()
        .unwrap();
    let rollback = |i: usize| {
        json!({"type": "sh.keptn.event.rollback.finished", "shkeptncontext": CTX,
            "data": {"project": "sockshop", "stage": "staging", "service": "carts",
                     "status": "succeeded", "result": "pass", "message": format!("#{i}")}})
    };
    // The sequence's side, from a plain thread. If emit waited for delivery this would take
    // 30 s per event; the guard fails the test long before that.
    let emit_range = |range: std::ops::Range<usize>| {
        let sender = notifier.clone();
        tokio::task::spawn_blocking(move || range.for_each(|i| sender.emit_value(rollback(i))))
    };
    tokio::time::timeout(Duration::from_secs(5), emit_range(0..50))
        .await
        .expect("emit blocked on a dead receiver")
        .unwrap();
    assert_eq!(healthy.wait_for(50).await.len(), 50);
    // the dead target's queue is now full: further events are dropped for it, not waited for
    tokio::time::timeout(Duration::from_secs(5), emit_range(50..60))
        .await
        .expect("emit blocked on a full queue")
        .unwrap();
    let got = healthy.wait_for(60).await;
    assert_eq!(got.len(), 60);
    let order: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..60).map(|i| format!("#{i}")).collect();
    assert_eq!(order, expected, "messages arrive in emission order");
    // the receiver has the 60th request; give the notifier a moment to count its answer
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while notifier.stats().target("healthy").unwrap().delivered < 60
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = notifier.stats();
    let dead_stats = stats.target("dead").unwrap();
    // 50 queued, at most one more slot freed by the request in flight; the rest dropped
    assert!(dead_stats.dropped >= 9, "{dead_stats:?}");
    assert_eq!(dead_stats.queued + dead_stats.dropped, 60, "{dead_stats:?}");
    assert_eq!(dead_stats.delivered, 0);
    assert_eq!(stats.target("healthy").unwrap().delivered, 60);
    // shutting down gives up on what the dead receiver still holds
    let err = notifier
        .shutdown(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("still pending"), "{err}");
}

/// Filters: by stage for a chat target, by the webhook's wildcard type.
#[tokio::test]
async fn filters_select_events() {
    let rx = Receiver::start().await;
    let notifier = fast()
        .target(
            Target::slack(SecretString::from(rx.url("/prod")))
                .unwrap()
                .with_filter(EventFilter::all().stage("production".parse().unwrap())),
        )
        .build()
        .unwrap();
    notifier.emit_value(delivery_triggered("staging", "0.11.3"));
    notifier.emit_value(delivery_triggered("production", "0.11.3"));
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let got = rx.recorded();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json()["text"],
        "Delivery of carts:0.11.3 started in production"
    );
}

/// Secrets stay out of Debug output, statistics and errors, even when a receiver echoes them.
#[tokio::test]
async fn secrets_never_leak() {
    let mut echo = Reply::status(400);
    echo.echo_authorization = true;
    let rx = Receiver::with_script(vec![echo]).await;
    let targets = Target::webhooks(&webhook_config(&rx.url("")), &secrets()).unwrap();
    let slack = Target::slack(SecretString::from(rx.url("/services/T0/B0/SLACKSECRET"))).unwrap();
    let notifier = fast().targets(targets).target(slack).build().unwrap();
    let debug = format!("{notifier:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(!debug.contains("SLACKSECRET"), "{debug}");
    assert!(debug.contains("[REDACTED]"), "{debug}");
    notifier.emit_value(evaluation_failed());
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let stats = notifier.stats();
    let err = stats
        .target("webhook evaluations")
        .unwrap()
        .last_error
        .clone()
        .unwrap();
    assert_eq!(err, "webhook evaluations answered HTTP 400: Bearer ***");
    assert!(!format!("{stats:?}").contains("s3cr3t"));
}

/// A missing `envFrom` secret is an error at set-up, naming where it was looked for.
#[test]
fn missing_secret_is_a_setup_error() {
    let config = webhook_config("http://127.0.0.1:9");
    let err = Target::webhooks(&config, &keptn_notify::EnvSecrets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "webhook `evaluations`: no value for `{{.env.token}}` (secret `receiver`, key `token`; \
         looked for environment variable RECEIVER_TOKEN)"
    );
}

/// `from_env_and_file` reports unreadable and invalid files with the file name and location.
#[tokio::test]
async fn from_env_and_file_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let err = keptn_notify::from_env_and_file(Some(&missing)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read webhook configuration"),
        "{err}"
    );
    let bad = dir.path().join("webhook.yaml");
    std::fs::write(
        &bad,
        "apiVersion: webhookconfig.keptn.sh/v1alpha1\nkind: WebhookConfig\nspec: {webhooks: []}\n",
    )
    .unwrap();
    let err = keptn_notify::from_env_and_file(Some(&bad)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("invalid webhook configuration {}", bad.display())
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        source.contains("v1alpha1") && source.contains("1:"),
        "{source}"
    );
    let good = dir.path().join("ok.yaml");
    std::fs::write(&good, "apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\nmetadata: {name: x}\nspec:\n  webhooks:\n    - type: sh.keptn.>\n      subscriptionID: all\n      requests:\n        - url: http://127.0.0.1:9/x\n          method: POST\n").unwrap();
    let notifier = keptn_notify::from_env_and_file(Some(&good))
        .unwrap()
        .unwrap();
    assert!(notifier.target_names().contains(&"webhook all"));
}

/// Building outside a Tokio runtime is a clear error, not a panic.
#[test]
fn build_needs_a_runtime() {
    let err = Notifier::builder().build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "keptn-notify needs a Tokio runtime to start its delivery tasks"
    );
}

/// The notifier is an `EventSink`: typed Keptn events reach the receivers unchanged.
#[tokio::test]
async fn event_sink_emit_delivers_keptn_events() {
    use keptn_spec::event::{EventSink, KeptnEvent};
    let rx = Receiver::start().await;
    let notifier = fast()
        .target(Target::slack(SecretString::from(rx.url("/s"))).unwrap())
        .build()
        .unwrap();
    let event = KeptnEvent::from_json_str(&evaluation_failed().to_string()).unwrap();
    let sink: &dyn EventSink = &notifier;
    sink.emit(&event);
    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let got = rx.recorded();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].json()["text"],
        "Evaluation of carts in staging: fail (score 50)"
    );
}
