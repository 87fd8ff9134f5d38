//! Monitoring set-up and problem intake against the real Prometheus and Alertmanager.

use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use keptn_prometheus::{
    AlertmanagerConfig, PrometheusClient, PrometheusSliProvider, RuleOptions, WebhookPayload,
    alert_rules, write_monitoring_files,
};
use keptn_spec::Slo;
use keptn_spec::event::{EventType, KeptnEvent, ProblemEventData, ProblemState};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{Target, prometheus, serve};

const SLO: &str = r#"
objectives:
  - sli: error_rate
    pass: [{ criteria: ["<=0.01"] }]
  - sli: throughput
    pass: [{ criteria: [">=1"] }]
  - sli: response_time_p95
    pass: [{ criteria: ["<=+10%"] }]
"#;

/// The rules generated from an SLO load into the real Prometheus and evaluate: the error-rate
/// objective (5 % errors against `<=0.01`) fires with the labels that map it back to
/// project/stage/service; the met throughput objective does not.
#[tokio::test]
async fn generated_rules_load_and_fire_in_prometheus() {
    let Some(prom) = prometheus("generated_rules_load_and_fire_in_prometheus") else {
        return;
    };
    let Ok(rules_dir) = std::env::var("PROMETHEUS_RULES_DIR") else {
        eprintln!("skipping generated_rules_load_and_fire_in_prometheus: set PROMETHEUS_RULES_DIR");
        return;
    };
    let _target = Target::start(&prom, "carts-rulestest-production-primary", 2).await;
    let client = PrometheusClient::builder(&prom.url).build().unwrap();
    let (rules, skipped) = alert_rules(
        &PrometheusSliProvider::new(client),
        &"rulestest".parse().unwrap(),
        &"carts".parse().unwrap(),
        &[(
            "production".parse().unwrap(),
            Slo::from_yaml_str(SLO).unwrap(),
        )],
        &RuleOptions::default()
            .with_window(Duration::from_secs(10))
            .with_for(Duration::ZERO),
    );
    assert_eq!(rules.groups[0].rules.len(), 2);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let written = write_monitoring_files(
        std::path::Path::new(&rules_dir),
        &"rulestest".parse().unwrap(),
        &"carts".parse().unwrap(),
        &rules,
        None,
    )
    .unwrap();
    let http = reqwest::Client::new();
    let reload = http
        .post(format!("{}/-/reload", prom.url))
        .send()
        .await
        .unwrap();
    assert!(reload.status().is_success(), "reload: {}", reload.status());
    let deadline = Instant::now() + Duration::from_secs(60);
    let firing = loop {
        let alerts: Value = http
            .get(format!("{}/api/v1/alerts", prom.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ours: Vec<Value> = alerts["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["project"] == "rulestest" && a["state"] == "firing")
            .cloned()
            .collect();
        if !ours.is_empty() {
            break ours;
        }
        assert!(
            Instant::now() < deadline,
            "no alert fired within 60 s: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let _ = std::fs::remove_file(&written[0]);
    let _ = http.post(format!("{}/-/reload", prom.url)).send().await;
    assert_eq!(firing.len(), 1, "{firing:?}");
    let labels = &firing[0]["labels"];
    assert_eq!(labels["alertname"], "error_rate");
    assert_eq!(labels["stage"], "production");
    assert_eq!(labels["service"], "carts");
    assert_eq!(firing[0]["annotations"]["summary"], "Failure rate increase");
    let value: f64 = firing[0]["value"].as_str().unwrap().parse().unwrap();
    assert!((value - 0.05).abs() < 1e-9, "{value}");
}

/// The control plane's stand-in: parses each webhook body into a Keptn problem event.
async fn receive(State(tx): State<mpsc::UnboundedSender<KeptnEvent>>, body: String) -> StatusCode {
    match WebhookPayload::parse(&body).and_then(|p| p.to_problem_event()) {
        Ok(event) => {
            let _ = tx.send(event);
            StatusCode::OK
        }
        Err(e) => {
            eprintln!("receiver: {e}");
            StatusCode::BAD_REQUEST
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<KeptnEvent>, what: &str) -> KeptnEvent {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 30 s"))
        .unwrap()
}

/// The real Alertmanager, configured with the generated receiver, delivers a firing alert as
/// `problem.open` and its resolution as a closed problem, both in the group's one context.
#[tokio::test]
async fn alertmanager_firing_and_resolved_reach_the_receiver() {
    let Ok(bin) = std::env::var("ALERTMANAGER_BIN") else {
        eprintln!(
            "skipping alertmanager_firing_and_resolved_reach_the_receiver: set ALERTMANAGER_BIN (scripts/prometheus.sh up)"
        );
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let receiver = serve(
        Router::new()
            .route("/problems", post(receive))
            .with_state(tx),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = AlertmanagerConfig::new(format!("{receiver}/problems")).with_timing(
        Duration::from_secs(1),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    );
    let config_file = dir.path().join("alertmanager.yml");
    std::fs::write(&config_file, config.to_yaml().unwrap()).unwrap();
    let port = free_port();
    let am = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(bin)
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!("--storage.path={}", dir.path().display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{am}/-/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "Alertmanager did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let labels = json!({"alertname": "error_rate", "project": "sockshop", "stage": "production",
        "service": "carts", "sli": "error_rate", "severity": "webhook"});
    let started = chrono::Utc::now();
    let alert = |ends: Option<chrono::DateTime<chrono::Utc>>| {
        let mut a = json!({"labels": labels, "annotations": {"summary": "Failure rate increase"},
            "startsAt": started.to_rfc3339(), "generatorURL": "http://127.0.0.1:39090/graph"});
        if let Some(e) = ends {
            a["endsAt"] = json!(e.to_rfc3339());
        }
        json!([a])
    };
    let post_alert = |body: Value| {
        let http = http.clone();
        let url = format!("{am}/api/v2/alerts");
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    };
    post_alert(alert(None)).await;
    let open = next_event(&mut rx, "problem.open").await;
    assert_eq!(open.ty, EventType::ProblemOpen);
    let d: ProblemEventData = open.data_as().unwrap();
    assert_eq!(d.problem.state, Some(ProblemState::Open));
    assert_eq!(
        d.problem.problem_title.as_deref(),
        Some("Failure rate increase")
    );
    assert_eq!(d.common.project.unwrap().as_str(), "sockshop");
    assert_eq!(d.common.stage.unwrap().as_str(), "production");
    assert_eq!(d.common.service.unwrap().as_str(), "carts");

    post_alert(alert(Some(chrono::Utc::now()))).await;
    let closed = loop {
        let e = next_event(&mut rx, "problem closed").await;
        if e.ty == EventType::Problem {
            break e;
        }
    };
    let d: ProblemEventData = closed.data_as().unwrap();
    assert_eq!(d.problem.state, Some(ProblemState::Closed));
    assert_eq!(closed.shkeptncontext, open.shkeptncontext);
    child.kill().await.unwrap();
}
