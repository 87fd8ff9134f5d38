//! The remediation workflow with a `keptn_notify::Notifier` as its event sink, delivering to a
//! local Slack-shaped receiver and a webhook.yaml receiver on 127.0.0.1: one message per
//! meaningful event, in order, with the right facts.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use keptn_notify::{Notifier, StaticSecrets, Target};
use keptn_remediate::testing::{InMemoryScaler, ScriptedVerifier};
use keptn_remediate::{
    ActionRegistry, Problem, RemediationStatus, Remediator, ScalingAction, Verification,
};
use secrecy::SecretString;
use serde_json::Value;

type Log = Arc<Mutex<Vec<(String, String)>>>;

async fn record(State(log): State<Log>, uri: Uri, body: String) -> &'static str {
    log.lock().unwrap().push((uri.path().to_owned(), body));
    "ok"
}

async fn receiver() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let app = Router::new().fallback(record).with_state(Arc::clone(&log));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, log)
}

/// Problem → scaling action → verified → resolved, as Slack messages and webhook calls.
#[tokio::test]
async fn remediation_workflow_notifies_slack_and_webhooks() {
    let (addr, log) = receiver().await;
    let webhook_yaml = format!(
        r#"
apiVersion: webhookconfig.keptn.sh/v1beta1
kind: WebhookConfig
metadata: {{name: remediation}}
spec:
  webhooks:
    - type: sh.keptn.event.action.finished
      subscriptionID: actions
      requests:
        - url: http://{addr}/webhook/{{{{.data.project}}}}
          method: POST
          headers: [{{key: Content-Type, value: application/json}}]
          payload: '{{"stage": "{{{{.data.stage}}}}", "result": "{{{{.data.result}}}}", "context": "{{{{.shkeptncontext}}}}"}}'
"#
    );
    let config = keptn_spec::from_yaml_str(&webhook_yaml).unwrap();
    let notifier = Notifier::builder()
        .allow_internal_addresses()
        .target(Target::slack(SecretString::from(format!("http://{addr}/slack"))).unwrap())
        .targets(Target::webhooks(&config, &StaticSecrets::new()).unwrap())
        .build()
        .unwrap();

    let scaler = InMemoryScaler::new().with("sockshop-production", "carts-primary", 1);
    let remediator =
        Remediator::builder(ActionRegistry::new().with(ScalingAction::new(scaler.clone())))
            .wait(Duration::from_millis(1))
            .verifier(ScriptedVerifier::new([Ok(Verification::Resolved(
                "response time back to normal".into(),
            ))]))
            .event_sink(notifier.clone())
            .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            "remediations:\n- name: Response time degradation\n  actions:\n  - action: scaling\n    value: \"+1\"\n",
            Some("remediation.yaml"),
        )
        .unwrap();
    let problem = Problem::new(
        "PID-1",
        "Response time degradation",
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap());
    let report = remediator.on_problem_open(problem).await;
    assert_eq!(report.status, RemediationStatus::Resolved);
    assert_eq!(scaler.get("sockshop-production", "carts-primary"), Some(2));

    notifier.flush(Duration::from_secs(10)).await.unwrap();
    let got = log.lock().unwrap().clone();
    let slack: Vec<Value> = got
        .iter()
        .filter(|(path, _)| path == "/slack")
        .map(|(_, body)| serde_json::from_str(body).unwrap())
        .collect();
    let titles: Vec<&str> = slack.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Problem opened: Response time degradation",
            "Remediation action scaling (+1) in production: pass",
            "Evaluation of carts in production: pass (score 100)",
            "Remediation of Response time degradation in production: resolved",
        ],
        "{slack:#?}"
    );
    // every message names the project, stage and service
    for m in &slack {
        let fields = m["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b.get("fields").is_some())
            .unwrap()["fields"]
            .to_string();
        for fact in [
            "*Project*\\nsockshop",
            "*Stage*\\nproduction",
            "*Service*\\ncarts",
            "*Keptn context*",
        ] {
            assert!(fields.contains(fact), "{fact} missing in {fields}");
        }
    }
    let hooks: Vec<Value> = got
        .iter()
        .filter(|(path, _)| path == "/webhook/sockshop")
        .map(|(_, body)| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(hooks.len(), 1, "{got:#?}");
    assert_eq!(hooks[0]["stage"], "production");
    assert_eq!(hooks[0]["result"], "pass");
    assert_eq!(notifier.stats().failed(), 0);
}
