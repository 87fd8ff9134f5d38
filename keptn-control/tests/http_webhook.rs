//! Problem intake at webhook paths: Dynatrace's problem notification, exactly as
//! `keptn_dynatrace::MonitoringSetup` configures it in the (fake) tenant — URL, headers and
//! payload template — and the real Alertmanager's webhook with the receiver keptn-prometheus
//! generates; open starts the remediation sequence, resolved closes it.
#![cfg(feature = "http")]

mod http_common;

use std::time::{Duration, Instant};

use http_common::{Api, TOKEN, b64, config, serve};
use keptn_control::ControlPlane;
use keptn_control::http::{ApiConfig, ProblemWebhook};
use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, KeptnEndpoint, MonitoringSetup, ProblemNotification};
use keptn_prometheus::stack::{Binaries, MonitoringStack};
use keptn_prometheus::{AlertmanagerConfig, WebhookPayload};
use keptn_spec::event::KeptnEvent;
use secrecy::SecretString;
use serde_json::{Value, json};

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.3
kind: Shipyard
metadata: {name: shipyard-sockshop}
spec:
  stages:
    - name: production
      sequences:
        - name: remediation
          tasks:
            - name: get-action
            - name: action
";

const DYNATRACE_PATH: &str = "/problems/dynatrace";
const ALERTMANAGER_PATH: &str = "/problems/alertmanager";

fn dynatrace(body: &str) -> Result<KeptnEvent, String> {
    ProblemNotification::parse(body)
        .and_then(|n| n.to_keptn_event())
        .map_err(|e| e.to_string())
}

fn alertmanager(body: &str) -> Result<KeptnEvent, String> {
    WebhookPayload::parse(body)
        .and_then(|p| p.to_problem_event())
        .map_err(|e| e.to_string())
}

fn webhooks() -> ApiConfig {
    config()
        .problem_webhook(ProblemWebhook::new(DYNATRACE_PATH, dynatrace).unwrap())
        .problem_webhook(ProblemWebhook::new(ALERTMANAGER_PATH, alertmanager).unwrap())
}

/// A control plane with the remediation shipyard of `sockshop`, served with both webhooks.
async fn server() -> Api {
    let plane = ControlPlane::builder().build().await.unwrap();
    let api = Api::new(&serve(plane, webhooks()).await);
    let (s, _) = api
        .call(
            "POST",
            "/api/controlPlane/v1/project",
            Some(json!({"name": "sockshop", "shipyard": b64(SHIPYARD)})),
        )
        .await;
    assert_eq!(s, 201);
    api
}

/// The remediation sequences of `sockshop`, waiting until one is in `want` state.
async fn remediation(api: &Api, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, body) = api
            .call("GET", "/api/controlPlane/v1/sequence/sockshop", None)
            .await;
        assert_eq!(s, 200);
        if let Some(st) = body["states"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["name"] == "remediation" && st["state"] == want)
        {
            return st.clone();
        }
        assert!(Instant::now() < deadline, "no remediation {want}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What Dynatrace sends for a problem: its placeholders filled into the configured template.
fn dynatrace_body(template: &str, state: &str) -> String {
    template
        .replace("{State}", state)
        .replace("{ProblemID}", "931")
        .replace("{PID}", "-2389542023040931083_1576063740000V2")
        .replace("{ProblemTitle}", "Failure rate increase")
        .replace(
            "{ProblemURL}",
            "https://abc.live.dynatrace.com/#problems/problemdetails;pid=-2389542023040931083_1576063740000V2",
        )
        .replace(
            "{ProblemDetailsJSON}",
            r#"{"id":"-2389542023040931083_1576063740000V2","displayName":"931","status":"OPEN"}"#,
        )
        .replace(
            "{Tags}",
            "keptn_project:sockshop, keptn_stage:production, keptn_service:carts, keptn_deployment:primary",
        )
        .replace(
            "{ImpactedEntities}",
            r#"[{"type":"SERVICE","name":"ItemsController","entity":"SERVICE-1"}]"#,
        )
        .replace("{ImpactedEntity}", "carts")
}

/// `dynatrace_configure_monitoring --keptn-endpoint <control plane><path>` with the API token:
/// the notification it stores in the tenant, sent the way Dynatrace sends it, opens and then
/// closes the remediation of `sockshop`. Without the token, or with a body that is not a
/// notification, the webhook answers Keptn's error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynatrace_problem_notification_opens_and_closes_remediation() {
    let api = server().await;
    let tenant = FakeTenant::start("dt0c01.WEBHOOK").await;
    let client = DynatraceClient::builder(tenant.uri())
        .api_token(SecretString::from("dt0c01.WEBHOOK"))
        .build()
        .unwrap();
    let endpoint = KeptnEndpoint::new(format!("{}{DYNATRACE_PATH}", api.base))
        .with_token(SecretString::from(TOKEN));
    let report = MonitoringSetup::new(client)
        .with_project(
            "sockshop".parse().unwrap(),
            vec!["production".parse().unwrap()],
        )
        .with_keptn_endpoint(endpoint)
        .run()
        .await;
    assert!(report.is_success(), "{report:?}");
    let notification = tenant.config_objects("notifications").pop().unwrap();
    let url = notification["url"].as_str().unwrap();
    let template = notification["payload"].as_str().unwrap();
    let send = |state: &str, with_headers: bool| {
        let mut req = api.http.post(url).body(dynatrace_body(template, state));
        if with_headers {
            for h in notification["headers"].as_array().unwrap() {
                req = req.header(h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
            }
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    let (s, body) = send("OPEN", false).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(body["code"], 401);

    let (s, body) = send("OPEN", true).await;
    assert_eq!(s, 200, "{body}");
    let ctx = body["keptnContext"].as_str().unwrap().to_owned();
    let st = remediation(&api, "started").await;
    assert_eq!(st["shkeptncontext"], ctx.as_str());
    assert_eq!(st["problemTitle"], "Failure rate increase");
    assert_eq!(st["service"], "carts");

    let (s, body) = send("RESOLVED", true).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["keptnContext"], ctx.as_str());
    let st = remediation(&api, "finished").await;
    assert_eq!(st["shkeptncontext"], ctx.as_str());

    // not a notification, and a state Dynatrace does not send: 400, nothing stored
    for bad in ["{", r#"{"State":"MERGED","PID":"x"}"#] {
        let r = api
            .http
            .post(url)
            .header("x-token", TOKEN)
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let body: Value = r.json().await.unwrap();
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("the body at /problems/dynatrace is not a problem"),
            "{body}"
        );
    }
}

/// The real Alertmanager with the receiver keptn-prometheus generates (the token in a
/// `credentials_file`, sent as `Authorization: Bearer`): a firing alert opens the remediation,
/// its resolution closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_webhook_opens_and_closes_remediation() {
    let binaries = match Binaries::find() {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "skipping alertmanager_webhook_opens_and_closes_remediation: {e} (scripts/prometheus.sh up sets both)"
            );
            return;
        }
    };
    let api = server().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let mut config = AlertmanagerConfig::new(format!("{}{ALERTMANAGER_PATH}", api.base))
        .with_timing(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(3600),
        );
    config.credentials_file = Some(token_file);
    // keptn-prometheus' stack starts Alertmanager with this receiver (and an idle Prometheus)
    // on free loopback ports and waits until both are ready.
    let stack = MonitoringStack::builder()
        .binaries(binaries)
        .webhook_config(config)
        .start()
        .await
        .unwrap();
    let am = stack.alertmanager_url();
    let started = chrono::Utc::now();
    let alert = |ends: Option<chrono::DateTime<chrono::Utc>>| {
        let mut a = json!({
            "labels": {"alertname": "error_rate", "project": "sockshop", "stage": "production",
                       "service": "carts", "sli": "error_rate", "severity": "webhook"},
            "annotations": {"summary": "Failure rate increase"},
            "startsAt": started.to_rfc3339(),
        });
        if let Some(e) = ends {
            a["endsAt"] = json!(e.to_rfc3339());
        }
        json!([a])
    };
    let post_alert = |body: Value| {
        let req = api.http.post(format!("{am}/api/v2/alerts")).json(&body);
        async move {
            let r = req.send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    };
    post_alert(alert(None)).await;
    let open = remediation(&api, "started").await;
    assert_eq!(open["problemTitle"], "Failure rate increase");
    assert_eq!(open["service"], "carts");
    post_alert(alert(Some(chrono::Utc::now()))).await;
    let closed = remediation(&api, "finished").await;
    assert_eq!(closed["shkeptncontext"], open["shkeptncontext"]);
    drop(stack); // stops Prometheus and Alertmanager
}
