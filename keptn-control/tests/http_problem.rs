//! Problem intake over HTTP: `sh.keptn.event.problem.open` sent to `POST /api/v1/event` starts
//! the remediation sequence (its context derived from the problem's PID), its `get-action` task is
//! offered to remote executors, and the resolved `sh.keptn.events.problem` closes it.
#![cfg(feature = "http")]

mod http_common;

use std::time::{Duration, Instant};

use http_common::{Api, b64, config, serve};
use keptn_control::ControlPlane;
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
            - name: evaluation
";

fn problem(ty: &str, state: &str) -> Value {
    json!({"source": "dynatrace", "type": ty,
           "data": {"State": state, "PID": "PID-93", "ProblemTitle": "Failure rate increase",
                    "project": "sockshop", "stage": "production", "service": "carts"}})
}

async fn state_of(api: &Api, ctx: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, body) = api
            .call(
                "GET",
                &format!("/api/controlPlane/v1/sequence/sockshop?keptnContext={ctx}"),
                None,
            )
            .await;
        assert_eq!(s, 200);
        if body["states"][0]["state"] == want {
            return body["states"][0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "state never became {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problem_open_starts_remediation_and_resolved_closes_it() {
    let plane = ControlPlane::builder().build().await.unwrap();
    let api = Api::new(&serve(plane, config()).await);
    let (s, _) = api
        .call(
            "POST",
            "/api/controlPlane/v1/project",
            Some(json!({"name": "sockshop", "shipyard": b64(SHIPYARD)})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, body) = api
        .call(
            "POST",
            "/api/v1/event",
            Some(problem("sh.keptn.event.problem.open", "OPEN")),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let ctx = body["keptnContext"].as_str().unwrap().to_owned();
    let st = state_of(&api, &ctx, "started").await;
    assert_eq!(st["name"], "remediation");
    assert_eq!(st["problemTitle"], "Failure rate increase");
    assert_eq!(st["stages"][0]["name"], "production");
    let (s, open) = api
        .call("GET", "/api/controlPlane/v1/event/triggered/sh.keptn.event.get-action.triggered?project=sockshop&stage=production", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(open["events"].as_array().unwrap().len(), 1, "{open}");
    assert_eq!(open["events"][0]["shkeptncontext"], ctx.as_str());
    // Leased to this poller: a second poll does not get it again.
    let (_, again) = api
        .call(
            "GET",
            "/api/controlPlane/v1/event/triggered/sh.keptn.event.get-action.triggered",
            None,
        )
        .await;
    assert_eq!(again["events"], json!([]));

    let (s, body) = api
        .call(
            "POST",
            "/api/v1/event",
            Some(problem("sh.keptn.events.problem", "RESOLVED")),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["keptnContext"], ctx.as_str());
    state_of(&api, &ctx, "finished").await;
}
