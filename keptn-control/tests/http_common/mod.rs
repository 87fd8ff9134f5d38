//! Shared helpers of the HTTP tests: a client with the token, a server on a loopback port, and
//! a remote executor that answers tasks only through the API.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use keptn_control::ControlPlane;
use keptn_control::http::{ApiConfig, ApiToken};
use serde_json::{Value, json};

pub const TOKEN: &str = "test-token-5b1c";

/// Serves `plane` on a free loopback port; returns the base URL.
pub async fn serve(plane: ControlPlane, config: ApiConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(keptn_control::http::serve(
        listener,
        plane,
        config,
        std::future::pending(),
    ));
    url
}

pub fn config() -> ApiConfig {
    ApiConfig::new(ApiToken::new(TOKEN).unwrap())
}

pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A client of one server, sending the token.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        // Retries transport errors: a pooled connection may point at a server killed by a test.
        let mut attempts = 0;
        loop {
            match self.try_call(method, path, body.clone()).await {
                Ok(answer) => return answer,
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    eprintln!("retrying {method} {path}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{method} {path}: {e}"),
            }
        }
    }

    pub async fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-token", TOKEN)
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Creates `sockshop` with the seed's shipyard, services carts and carts-db, and the
    /// seed's slo.yaml at staging/carts.
    pub async fn seed_project(&self, shipyard: &str, slo: &str) {
        let (s, _) = self
            .call(
                "POST",
                "/api/controlPlane/v1/project",
                Some(json!({"name": "sockshop", "shipyard": b64(shipyard)})),
            )
            .await;
        assert_eq!(s, 201);
        for service in ["carts", "carts-db"] {
            let (s, _) = self
                .call(
                    "POST",
                    "/api/controlPlane/v1/project/sockshop/service",
                    Some(json!({"serviceName": service})),
                )
                .await;
            assert_eq!(s, 200);
        }
        let (s, body) = self
            .call(
                "POST",
                "/api/resource-service/v1/project/sockshop/stage/staging/service/carts/resource",
                Some(json!({"resources": [{"resourceURI": "slo.yaml", "resourceContent": b64(slo)}]})),
            )
            .await;
        assert_eq!(s, 201, "{body}");
    }
}

/// What the remote executor did.
#[derive(Debug, Default)]
pub struct ExecutorLog {
    /// Task events answered: (task, stage, triggered id).
    pub answered: Vec<(String, String, String)>,
    /// Image deployed per stage.
    pub images: BTreeMap<String, String>,
}

/// Runs between an executor's `.started` and `.finished` with the task and the stage.
pub type Hook = Arc<dyn Fn(&str, &str) + Send + Sync>;

pub const TASKS: [&str; 5] = ["deployment", "test", "release", "rollback", "get-sli"];

/// Polls the API for open tasks and answers `.started` then `.finished` with ids derived from
/// the `.triggered` id (so an answer sent again after a restart is the same event). `before_finish`
/// runs between the two and may return false to stop the executor (simulating a crash of the
/// server under it).
pub async fn remote_executor(api: Api, log: Arc<Mutex<ExecutorLog>>, before_finish: Hook) {
    loop {
        for task in TASKS {
            let path = format!(
                "/api/controlPlane/v1/event/triggered/sh.keptn.event.{task}.triggered?project=sockshop"
            );
            let Ok((200, page)) = api.try_call("GET", &path, None).await else {
                continue;
            };
            for event in page["events"].as_array().cloned().unwrap_or_default() {
                answer(&api, &log, task, &event, &before_finish).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn post_until_ok(api: &Api, event: &Value) {
    loop {
        if let Ok((200, _)) = api
            .try_call("POST", "/api/v1/event", Some(event.clone()))
            .await
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn answer(
    api: &Api,
    log: &Arc<Mutex<ExecutorLog>>,
    task: &str,
    event: &Value,
    before_finish: &Hook,
) {
    let id = event["id"].as_str().unwrap().to_owned();
    let stage = event["data"]["stage"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let common = json!({
        "project": event["data"]["project"], "stage": stage, "service": event["data"]["service"],
    });
    let answer = |phase: &str, data: Value| {
        json!({
            "specversion": "1.0", "id": format!("{id}.{phase}.remote-executor"),
            "source": "remote-executor", "type": format!("sh.keptn.event.{task}.{phase}"),
            "shkeptncontext": event["shkeptncontext"], "triggeredid": id, "data": data,
        })
    };
    post_until_ok(api, &answer("started", common.clone())).await;
    before_finish(task, &stage);
    let mut data = common;
    data["status"] = json!("succeeded");
    data["result"] = json!("pass");
    match task {
        "deployment" => {
            let image = event["data"]["configurationChange"]["values"]["image"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            log.lock()
                .unwrap()
                .images
                .insert(stage.clone(), image.clone());
            data["deployment"] = json!({"deploymentstrategy": event["data"]["deployment"]["deploymentstrategy"], "deploymentNames": ["carts"], "deploymentURIsLocal": [], "image": image});
        }
        "get-sli" => {
            let image = log
                .lock()
                .unwrap()
                .images
                .get(&stage)
                .cloned()
                .unwrap_or_default();
            let p95 = if image.ends_with(":0.11.2") {
                1050.0
            } else {
                310.0
            };
            let values: Vec<Value> = event["data"]["get-sli"]["indicators"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|m| json!({"metric": m, "value": p95, "success": true}))
                .collect();
            data["get-sli"] = json!({
                "start": event["data"]["get-sli"]["start"], "end": event["data"]["get-sli"]["end"],
                "indicatorValues": values,
            });
        }
        _ => {}
    }
    post_until_ok(api, &answer("finished", data)).await;
    log.lock()
        .unwrap()
        .answered
        .push((task.to_owned(), stage, id));
}
