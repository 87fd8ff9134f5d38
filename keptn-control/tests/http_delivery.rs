//! The seed's delivery driven only over HTTP: project, services and slo.yaml are created through
//! the API, the delivery event is sent to `POST /api/v1/event`, and a remote executor answers
//! deployment, test, release, rollback and get-sli by polling. carts:0.11.2 is slow in staging,
//! so the gate fails and rollback runs. The server is a child process on a SQLite file; one run
//! SIGKILLs it in the middle of the staging tests and starts it again on the same file.
#![cfg(feature = "http")]

mod common;
mod http_common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{CARTS, SEED_SHIPYARD, SEED_SLO};
use http_common::{Api, ExecutorLog, remote_executor};
use keptn_control::executors::Lighthouse;
use keptn_control::{ControlPlane, SqliteStore};
use serde_json::{Value, json};

const CHILD_STATE: &str = "KEPTN_API_CHILD_STATE";
const CHILD_ADDR: &str = "KEPTN_API_CHILD_ADDR";

/// Not a test on its own: the server process of the tests below (runs only with the env set).
#[test]
fn child_server() {
    let (Ok(state), Ok(addr)) = (std::env::var(CHILD_STATE), std::env::var(CHILD_ADDR)) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let plane = ControlPlane::builder()
            .store(Arc::new(SqliteStore::open(&state).unwrap()))
            .task_start_timeout(Duration::from_secs(60))
            .executor(Lighthouse::new("remote").sli_timeout(Duration::from_secs(60)))
            .build()
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
        println!("LISTENING");
        let config = http_common::config().task_lease(Duration::from_secs(60));
        keptn_control::http::serve(listener, plane, config, std::future::pending())
            .await
            .unwrap();
    });
}

fn spawn_server(state: &Path, addr: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env(CHILD_STATE, state)
        .env(CHILD_ADDR, addr)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("LISTENING") => break,
            Some(_) => {}
            None => panic!("the server child exited before listening"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// Every event of `context` from the datastore, all pages.
async fn all_events(api: &Api, context: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut key = String::new();
    loop {
        let (s, page) = api
            .call(
                "GET",
                &format!("/api/mongodb-datastore/event?keptnContext={context}&pageSize=7&nextPageKey={key}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{page}");
        out.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["nextPageKey"].as_str() {
            Some(k) => key = k.to_owned(),
            None => break,
        }
    }
    out
}

async fn wait_done(api: &Api, context: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (s, body) = api
            .call(
                "GET",
                &format!("/api/controlPlane/v1/sequence/sockshop?keptnContext={context}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let states = body["states"].as_array().unwrap();
        let rolled_back = states.iter().any(|st| {
            st["stages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["name"] == "staging")
                .count()
                >= 2
                && st["state"] == "finished"
        });
        if rolled_back {
            return body;
        }
        assert!(Instant::now() < deadline, "delivery did not finish: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run(kill_mid_sequence: bool) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("keptn-state.db");
    let addr = free_addr();
    let mut server = spawn_server(&state, &addr);
    let api = Api::new(&format!("http://{addr}"));
    api.seed_project(SEED_SHIPYARD, SEED_SLO).await;

    let staging_tests = Arc::new(AtomicUsize::new(0));
    let kill_now = Arc::new(AtomicBool::new(false));
    let hook = {
        let staging_tests = staging_tests.clone();
        let kill_now = kill_now.clone();
        Arc::new(move |task: &str, stage: &str| {
            // The second staging test is 0.11.2's.
            if kill_mid_sequence
                && task == "test"
                && stage == "staging"
                && staging_tests.fetch_add(1, Ordering::SeqCst) == 1
            {
                kill_now.store(true, Ordering::SeqCst);
                // Give the parent time to kill the server before `.finished` goes out.
                std::thread::sleep(Duration::from_millis(300));
            }
        }) as http_common::Hook
    };
    let log = Arc::new(Mutex::new(ExecutorLog::default()));
    let executor = tokio::spawn(remote_executor(api.clone(), log.clone(), hook));

    // Deliver 0.11.1 first (the passing baseline), then 0.11.2.
    let mut contexts = Vec::new();
    for version in ["0.11.1", "0.11.2"] {
        let event = json!({
            "specversion": "1.0", "source": "ci", "type": "sh.keptn.event.dev.delivery.triggered",
            "data": {"project": "sockshop", "stage": "dev", "service": "carts",
                     "configurationChange": {"values": {"image": format!("{CARTS}:{version}")}}},
        });
        let (s, body) = api.call("POST", "/api/v1/event", Some(event)).await;
        assert_eq!(s, 200, "{body}");
        let context = body["keptnContext"].as_str().unwrap().to_owned();
        assert!(body["token"].is_string());
        if version == "0.11.1" {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let (_, b) = api
                    .call(
                        "GET",
                        &format!("/api/controlPlane/v1/sequence/sockshop?keptnContext={context}"),
                        None,
                    )
                    .await;
                let stages: Vec<&Value> = b["states"][0]["stages"]
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                if stages
                    .iter()
                    .any(|s| s["name"] == "production" && s["state"] == "finished")
                {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "0.11.1 did not reach production: {b}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        contexts.push(context);
    }
    let context = contexts[1].clone();

    if kill_mid_sequence {
        while !kill_now.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        server = spawn_server(&state, &addr);
    }

    let body = wait_done(&api, &context).await;
    executor.abort();
    let st = &body["states"][0];
    assert_eq!(st["name"], "delivery");
    assert_eq!(st["state"], "finished");
    let stages = st["stages"].as_array().unwrap();
    let staging: Vec<&Value> = stages.iter().filter(|s| s["name"] == "staging").collect();
    assert_eq!(staging[0]["latestEvaluation"]["result"], "fail", "{body}");
    assert!(staging[0]["latestFailedEvent"]["type"].is_string());
    assert!(!stages.iter().any(|s| s["name"] == "production"), "{body}");

    // The executor ran rollback in staging; the datastore holds every event once.
    let answered = log.lock().unwrap().answered.clone();
    assert!(
        answered
            .iter()
            .any(|(t, s, _)| t == "rollback" && s == "staging"),
        "{answered:?}"
    );
    let events = all_events(&api, &context).await;
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        *ids.entry(e["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert!(ids.values().all(|n| *n == 1), "duplicated events: {ids:?}");
    for task in ["deployment", "test", "release", "rollback"] {
        let triggered: Vec<&Value> = events
            .iter()
            .filter(|e| e["type"] == format!("sh.keptn.event.{task}.triggered"))
            .collect();
        for t in &triggered {
            for phase in ["started", "finished"] {
                let n = events
                    .iter()
                    .filter(|e| {
                        e["type"] == format!("sh.keptn.event.{task}.{phase}")
                            && e["triggeredid"] == t["id"]
                    })
                    .count();
                assert_eq!(
                    n, 1,
                    "{task}.{phase} for {} in {}",
                    t["id"], t["data"]["stage"]
                );
            }
        }
    }
    let deployments = events
        .iter()
        .filter(|e| e["type"] == "sh.keptn.event.deployment.triggered")
        .count();
    assert_eq!(deployments, 2, "dev and staging each deploy 0.11.2 once");
    let (s, svc) = api
        .call(
            "GET",
            "/api/controlPlane/v1/project/sockshop/stage/dev/service/carts",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(svc["deployedImage"], format!("{CARTS}:0.11.2"));
    assert!(
        svc["lastEventTypes"]["sh.keptn.event.deployment.finished"]["keptnContext"].is_string()
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The delivery over HTTP only: the gate fails in staging, rollback runs, the sequence shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_over_http_with_remote_executor() {
    run(false).await;
}

/// SIGKILL of the server during the staging tests; restarted on the same file, the sequence
/// finishes with no event lost or duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_sequence_resumes() {
    run(true).await;
}
