//! Every Kubernetes API request of the deployer's flows, asserted against a scripted API server
//! (kube-rs's own `tower_test::mock::pair` pattern). Each scenario is awaited with a timeout so a
//! missing or extra request fails the test instead of hanging it.
#![cfg(feature = "kube")]

use std::time::Duration;

use hyper::{Request, Response};
use keptn_deploy::kubernetes::KubeDeployer;
use keptn_deploy::{
    Artifact, Deployer, DeploymentRequest, DeploymentStrategy, Error, StageService,
};
use kube::client::Body;
use serde_json::{Value, json};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;
type Send = tower_test::mock::SendResponse<Response<Body>>;

/// One request the deployer sent.
struct Call {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
    send: Send,
}

impl Call {
    #[track_caller]
    fn expect(&self, method: &str, path: &str) {
        assert_eq!(
            (self.method.as_str(), self.path.as_str()),
            (method, path),
            "unexpected request (query {})",
            self.query
        );
    }

    #[track_caller]
    fn expect_apply(&self, path: &str) {
        self.expect("PATCH", path);
        assert_eq!(
            self.content_type, "application/apply-patch+yaml",
            "server-side apply"
        );
        assert!(
            self.query.contains("fieldManager=keptn-rs"),
            "{}",
            self.query
        );
        assert!(self.query.contains("force=true"), "{}", self.query);
    }

    #[track_caller]
    #[allow(clippy::needless_pass_by_value)]
    fn expect_merge(&self, path: &str, body: Value) {
        self.expect("PATCH", path);
        assert_eq!(self.content_type, "application/merge-patch+json");
        assert_eq!(self.body, body);
    }

    fn respond(self, status: u16, body: &Value) {
        let resp = Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap();
        self.send.send_response(resp);
    }

    /// Answers an apply or patch with the object as the server would store it.
    fn echo(self) {
        let mut obj = self.body.clone();
        obj["metadata"]["resourceVersion"] = json!("1");
        self.respond(200, &obj);
    }

    fn not_found(self) {
        let name = self.path.rsplit('/').next().unwrap_or_default().to_owned();
        self.respond(
            404,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("\"{name}\" not found"), "reason": "NotFound", "code": 404}),
        );
    }
}

struct ApiServer(Handle);

impl ApiServer {
    async fn next(&mut self) -> Call {
        let (req, send) = self
            .0
            .next_request()
            .await
            .expect("the deployer sent no further request");
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let content_type = req
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = req.into_body().collect_bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("request body is JSON")
        };
        Call {
            method,
            path,
            query,
            content_type,
            body,
            send,
        }
    }
}

fn setup(timeout: Duration) -> (KubeDeployer, ApiServer) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    (
        KubeDeployer::new(client).with_rollout_timeout(timeout),
        ApiServer(handle),
    )
}

fn target(stage: &str) -> StageService {
    StageService::new(
        "sockshop".parse().unwrap(),
        stage.parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

fn request(stage: &str, tag: &str, strategy: DeploymentStrategy) -> DeploymentRequest {
    DeploymentRequest::new(
        target(stage),
        Artifact::new(format!("docker.io/keptnexamples/carts:{tag}")).unwrap(),
        strategy,
    )
}

/// A Deployment as the server reports it, with a status.
#[allow(clippy::needless_pass_by_value)]
fn deployment(name: &str, role: &str, image: &str, replicas: i64, status: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": "sockshop-staging", "generation": 1, "resourceVersion": "5",
                      "labels": { "keptn.sh/deployment": role },
                      "annotations": { "keptn.sh/image": image, "keptn.sh/deployment-strategy": "blue_green_service" } },
        "spec": { "replicas": replicas,
                  "selector": { "matchLabels": { "app.kubernetes.io/name": "carts", "keptn.sh/deployment": role } },
                  "template": { "metadata": { "labels": { "app.kubernetes.io/name": "carts", "keptn.sh/deployment": role } },
                                "spec": { "containers": [ { "name": "carts", "image": image,
                                    "env": [ { "name": "DT_CUSTOM_PROP", "value": format!("keptn_project=sockshop keptn_stage=staging keptn_service=carts keptn_deployment={role}") } ] } ] } } },
        "status": &status,
    })
}

fn ready(replicas: i64) -> Value {
    json!({ "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas })
}

/// The answer to the watcher's initial list of one Deployment.
fn list_of(obj: &Value) -> Value {
    json!({ "apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": { "resourceVersion": "10" }, "items": [obj] })
}

/// Answers the watcher's list request for `name` with `obj`.
#[track_caller]
fn expect_list(call: Call, ns: &str, name: &str, obj: &Value) {
    call.expect("GET", &format!("/apis/apps/v1/namespaces/{ns}/deployments"));
    assert!(
        call.query
            .contains(&format!("fieldSelector=metadata.name%3D{name}")),
        "watch by name: {}",
        call.query
    );
    call.respond(200, &list_of(obj));
}

fn service(selects: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": "carts", "namespace": "sockshop-staging" },
            "spec": { "selector": { "app.kubernetes.io/name": "carts", "keptn.sh/deployment": selects },
                      "ports": [ { "port": 8080 } ] } })
}

async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("scenario did not finish in time (a request is missing or unexpected)")
}

/// A first direct deployment: namespace, read previous, apply Deployment and Service, watch.
#[tokio::test]
async fn direct_deploy_requests() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        let c = api.next().await;
        c.expect_apply("/api/v1/namespaces/sockshop-dev");
        assert_eq!(c.body["kind"], "Namespace");
        assert_eq!(c.body["metadata"]["name"], "sockshop-dev");
        c.echo();

        let c = api.next().await;
        c.expect(
            "GET",
            "/apis/apps/v1/namespaces/sockshop-dev/deployments/carts",
        );
        c.not_found();

        let c = api.next().await;
        c.expect_apply("/apis/apps/v1/namespaces/sockshop-dev/deployments/carts");
        assert_eq!(
            c.body["spec"]["template"]["spec"]["containers"][0]["image"],
            "docker.io/keptnexamples/carts:0.11.1"
        );
        assert_eq!(
            c.body["spec"]["selector"]["matchLabels"]["keptn.sh/deployment"],
            "direct"
        );
        let mut applied = c.body.clone();
        c.echo();

        let c = api.next().await;
        c.expect_apply("/api/v1/namespaces/sockshop-dev/services/carts");
        assert_eq!(c.body["spec"]["selector"]["keptn.sh/deployment"], "direct");
        c.echo();

        applied["metadata"]["generation"] = json!(1);
        applied["status"] = ready(1);
        expect_list(api.next().await, "sockshop-dev", "carts", &applied);
    });
    let result = within(deployer.deploy(&request("dev", "0.11.1", DeploymentStrategy::Direct)))
        .await
        .unwrap();
    within(server).await.unwrap();
    assert_eq!(result.deployment_names, ["direct"]);
    assert_eq!(result.uris_local, ["http://carts.sockshop-dev:8080"]);
}

/// Blue/green deploy beside a serving primary, then promote: the public Service never selects
/// a pod that is not ready, the primary gets the canary's image, the canary is scaled to zero.
#[tokio::test]
async fn blue_green_deploy_and_promote_requests() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        let ns = "/apis/apps/v1/namespaces/sockshop-staging/deployments";
        let c = api.next().await;
        c.expect_apply("/api/v1/namespaces/sockshop-staging");
        c.echo();
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.1",
                0,
                ready(0),
            ),
        );
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts-primary"));
        c.respond(
            200,
            &deployment(
                "carts-primary",
                "primary",
                "docker.io/keptnexamples/carts:0.11.1",
                1,
                ready(1),
            ),
        );

        let c = api.next().await;
        c.expect_apply(&format!("{ns}/carts"));
        assert_eq!(
            c.body["spec"]["template"]["spec"]["containers"][0]["image"],
            "docker.io/keptnexamples/carts:0.11.2"
        );
        assert_eq!(c.body["spec"]["replicas"], 1);
        c.echo();
        for (name, selects) in [
            ("carts-canary", "canary"),
            ("carts-primary", "primary"),
            ("carts", "primary"),
        ] {
            let c = api.next().await;
            c.expect_apply(&format!(
                "/api/v1/namespaces/sockshop-staging/services/{name}"
            ));
            assert_eq!(
                c.body["spec"]["selector"]["keptn.sh/deployment"], selects,
                "{name}"
            );
            c.echo();
        }
        let canary = deployment(
            "carts",
            "canary",
            "docker.io/keptnexamples/carts:0.11.2",
            1,
            ready(1),
        );
        expect_list(api.next().await, "sockshop-staging", "carts", &canary);

        // promote
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(200, &canary);
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts-primary"));
        c.respond(
            200,
            &deployment(
                "carts-primary",
                "primary",
                "docker.io/keptnexamples/carts:0.11.1",
                1,
                ready(1),
            ),
        );
        let c = api.next().await;
        c.expect_merge(
            "/api/v1/namespaces/sockshop-staging/services/carts",
            json!({"spec": {"selector": {"keptn.sh/deployment": "canary"}}}),
        );
        c.respond(200, &service("canary"));
        let c = api.next().await;
        c.expect_apply(&format!("{ns}/carts-primary"));
        assert_eq!(
            c.body["spec"]["template"]["spec"]["containers"][0]["image"],
            "docker.io/keptnexamples/carts:0.11.2"
        );
        assert_eq!(
            c.body["spec"]["selector"]["matchLabels"]["keptn.sh/deployment"],
            "primary"
        );
        assert!(
            c.body["metadata"].get("resourceVersion").is_none(),
            "applied objects carry no server fields"
        );
        c.echo();
        let primary = deployment(
            "carts-primary",
            "primary",
            "docker.io/keptnexamples/carts:0.11.2",
            1,
            ready(1),
        );
        expect_list(
            api.next().await,
            "sockshop-staging",
            "carts-primary",
            &primary,
        );
        let c = api.next().await;
        c.expect_merge(
            "/api/v1/namespaces/sockshop-staging/services/carts",
            json!({"spec": {"selector": {"keptn.sh/deployment": "primary"}}}),
        );
        c.respond(200, &service("primary"));
        let c = api.next().await;
        c.expect_merge(&format!("{ns}/carts"), json!({"spec": {"replicas": 0}}));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.2",
                0,
                ready(0),
            ),
        );

        // status after promote
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.2",
                0,
                ready(0),
            ),
        );
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts-primary"));
        c.respond(200, &primary);
        let c = api.next().await;
        c.expect("GET", "/api/v1/namespaces/sockshop-staging/services/carts");
        c.respond(200, &service("primary"));
    });
    let result = within(deployer.deploy(&request(
        "staging",
        "0.11.2",
        DeploymentStrategy::BlueGreenService,
    )))
    .await
    .unwrap();
    assert_eq!(result.deployment_names, ["canary"]);
    assert_eq!(
        result.uris_local,
        ["http://carts-canary.sockshop-staging:8080"]
    );
    let status = within(deployer.promote(&target("staging"))).await.unwrap();
    within(server).await.unwrap();
    assert_eq!(
        status.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.2")
    );
    assert_eq!(status.serving.as_ref().unwrap().name, "carts-primary");
    assert_eq!(status.canary, None);
}

/// Rollback points the public Service at the primary and scales the canary to zero.
#[tokio::test]
async fn rollback_requests() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        let ns = "/apis/apps/v1/namespaces/sockshop-staging/deployments";
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.2",
                1,
                ready(1),
            ),
        );
        let c = api.next().await;
        c.expect_merge(
            "/api/v1/namespaces/sockshop-staging/services/carts",
            json!({"spec": {"selector": {"keptn.sh/deployment": "primary"}}}),
        );
        c.respond(200, &service("primary"));
        let c = api.next().await;
        c.expect_merge(&format!("{ns}/carts"), json!({"spec": {"replicas": 0}}));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.2",
                0,
                ready(0),
            ),
        );
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.2",
                0,
                ready(0),
            ),
        );
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts-primary"));
        c.respond(
            200,
            &deployment(
                "carts-primary",
                "primary",
                "docker.io/keptnexamples/carts:0.11.1",
                1,
                ready(1),
            ),
        );
        let c = api.next().await;
        c.expect("GET", "/api/v1/namespaces/sockshop-staging/services/carts");
        c.respond(200, &service("primary"));
    });
    let status = within(deployer.rollback(&target("staging"))).await.unwrap();
    within(server).await.unwrap();
    assert_eq!(
        status.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(status.canary, None);
}

/// Answers the first requests of a blue/green deploy over an existing primary (namespace,
/// reads, canary apply, three Services).
async fn blue_green_prelude(api: &mut ApiServer) {
    let ns = "/apis/apps/v1/namespaces/sockshop-staging/deployments";
    let c = api.next().await;
    c.expect_apply("/api/v1/namespaces/sockshop-staging");
    c.echo();
    let c = api.next().await;
    c.expect("GET", &format!("{ns}/carts"));
    c.not_found();
    let c = api.next().await;
    c.expect("GET", &format!("{ns}/carts-primary"));
    c.respond(
        200,
        &deployment(
            "carts-primary",
            "primary",
            "docker.io/keptnexamples/carts:0.11.1",
            1,
            ready(1),
        ),
    );
    let c = api.next().await;
    c.expect_apply(&format!("{ns}/carts"));
    c.echo();
    for _ in 0..3 {
        let c = api.next().await;
        assert!(
            c.path
                .starts_with("/api/v1/namespaces/sockshop-staging/services/")
        );
        c.echo();
    }
}

/// A canary whose rollout the controller reports as failed is scaled to zero, the public
/// Service is never switched, and the error says why.
#[tokio::test]
async fn failed_rollout_rolls_back_and_reports_why() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        blue_green_prelude(&mut api).await;
        let failing = deployment(
            "carts",
            "canary",
            "docker.io/keptnexamples/carts:0.11.2",
            1,
            json!({
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0,
            "conditions": [{ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                             "message": "ReplicaSet \"carts-7d\" has timed out progressing." }] }),
        );
        expect_list(api.next().await, "sockshop-staging", "carts", &failing);
        let c = api.next().await;
        c.expect_merge(
            "/apis/apps/v1/namespaces/sockshop-staging/deployments/carts",
            json!({"spec": {"replicas": 0}}),
        );
        c.echo();
    });
    let err = within(deployer.deploy(&request(
        "staging",
        "0.11.2",
        DeploymentStrategy::BlueGreenService,
    )))
    .await
    .unwrap_err();
    within(server).await.unwrap();
    assert!(err.is_rollout_failure());
    assert_eq!(
        err.to_string(),
        "rollout of Deployment sockshop-staging/carts failed: ReplicaSet \"carts-7d\" has timed out progressing. (rolled back; the serving version is untouched)"
    );
    assert!(matches!(
        err,
        Error::RolloutFailed {
            rolled_back: true,
            ..
        }
    ));
}

/// A canary that never becomes ready within the rollout timeout is scaled to zero and the
/// error reports the last observed state.
#[tokio::test]
async fn timed_out_rollout_rolls_back() {
    let (deployer, mut api) = setup(Duration::from_millis(300));
    let server = tokio::spawn(async move {
        blue_green_prelude(&mut api).await;
        let pending = deployment(
            "carts",
            "canary",
            "docker.io/keptnexamples/carts:0.11.2",
            1,
            json!({
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0 }),
        );
        expect_list(api.next().await, "sockshop-staging", "carts", &pending);
        // the watcher now watches; hold the request open, as a quiet API server would
        let watch = api.next().await;
        watch.expect(
            "GET",
            "/apis/apps/v1/namespaces/sockshop-staging/deployments",
        );
        assert!(watch.query.contains("watch=true"), "{}", watch.query);
        let c = api.next().await;
        c.expect_merge(
            "/apis/apps/v1/namespaces/sockshop-staging/deployments/carts",
            json!({"spec": {"replicas": 0}}),
        );
        c.echo();
        drop(watch);
    });
    let err = within(deployer.deploy(&request(
        "staging",
        "0.11.2",
        DeploymentStrategy::BlueGreenService,
    )))
    .await
    .unwrap_err();
    within(server).await.unwrap();
    assert!(
        matches!(
            err,
            Error::RolloutTimedOut {
                rolled_back: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "rollout of Deployment sockshop-staging/carts not ready after 300ms: 0 of 1 updated replicas available (rolled back; the serving version is untouched)"
    );
}

/// Promote without a running canary is an error and changes nothing.
#[tokio::test]
async fn promote_without_canary_is_an_error() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        let c = api.next().await;
        c.expect(
            "GET",
            "/apis/apps/v1/namespaces/sockshop-staging/deployments/carts",
        );
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.2",
                0,
                ready(0),
            ),
        );
    });
    let err = within(deployer.promote(&target("staging")))
        .await
        .unwrap_err();
    within(server).await.unwrap();
    assert_eq!(
        err.to_string(),
        "sockshop/staging/carts has no pending canary to promote"
    );
}

/// A direct service cannot silently become blue/green.
#[tokio::test]
async fn strategy_switch_is_refused() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        let c = api.next().await;
        c.expect_apply("/api/v1/namespaces/sockshop-staging");
        c.echo();
        let c = api.next().await;
        c.expect(
            "GET",
            "/apis/apps/v1/namespaces/sockshop-staging/deployments/carts",
        );
        c.respond(
            200,
            &deployment(
                "carts",
                "direct",
                "docker.io/keptnexamples/carts:0.11.1",
                1,
                ready(1),
            ),
        );
    });
    let err = within(deployer.deploy(&request(
        "staging",
        "0.11.2",
        DeploymentStrategy::BlueGreenService,
    )))
    .await
    .unwrap_err();
    within(server).await.unwrap();
    assert!(
        err.to_string()
            .contains("exists as `direct`; switching strategies needs it deleted first"),
        "{err}"
    );
}

/// With Istio routing, promote moves the VirtualService weights (canary 100, then back to the
/// primary) around the primary's rollout, and the Service selector follows.
#[tokio::test]
async fn istio_promote_moves_virtual_service_weights() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let deployer = deployer
        .with_traffic_routing(keptn_deploy::kubernetes::TrafficRouting::IstioVirtualService);
    let server = tokio::spawn(async move {
        let ns = "/apis/apps/v1/namespaces/sockshop-staging/deployments";
        let vs =
            "/apis/networking.istio.io/v1beta1/namespaces/sockshop-staging/virtualservices/carts";
        let canary = deployment(
            "carts",
            "canary",
            "docker.io/keptnexamples/carts:0.11.3",
            1,
            ready(1),
        );
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(200, &canary);
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts-primary"));
        c.respond(
            200,
            &deployment(
                "carts-primary",
                "primary",
                "docker.io/keptnexamples/carts:0.11.1",
                1,
                ready(1),
            ),
        );
        let c = api.next().await;
        c.expect_apply(vs);
        let route = &c.body["spec"]["http"][0]["route"];
        assert_eq!(
            route[0]["destination"]["host"],
            "carts-canary.sockshop-staging.svc.cluster.local"
        );
        assert_eq!(
            (route[0]["weight"].clone(), route[1]["weight"].clone()),
            (json!(100), json!(0))
        );
        c.echo();
        let c = api.next().await;
        c.expect_merge(
            "/api/v1/namespaces/sockshop-staging/services/carts",
            json!({"spec": {"selector": {"keptn.sh/deployment": "canary"}}}),
        );
        c.respond(200, &service("canary"));
        let c = api.next().await;
        c.expect_apply(&format!("{ns}/carts-primary"));
        c.echo();
        let primary = deployment(
            "carts-primary",
            "primary",
            "docker.io/keptnexamples/carts:0.11.3",
            1,
            ready(1),
        );
        expect_list(
            api.next().await,
            "sockshop-staging",
            "carts-primary",
            &primary,
        );
        let c = api.next().await;
        c.expect_apply(vs);
        assert_eq!(c.body["spec"]["http"][0]["route"][0]["weight"], 0);
        assert_eq!(c.body["spec"]["http"][0]["route"][1]["weight"], 100);
        c.echo();
        let c = api.next().await;
        c.expect_merge(
            "/api/v1/namespaces/sockshop-staging/services/carts",
            json!({"spec": {"selector": {"keptn.sh/deployment": "primary"}}}),
        );
        c.respond(200, &service("primary"));
        let c = api.next().await;
        c.expect_merge(&format!("{ns}/carts"), json!({"spec": {"replicas": 0}}));
        c.echo();
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.3",
                0,
                ready(0),
            ),
        );
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts-primary"));
        c.respond(200, &primary);
        let c = api.next().await;
        c.expect("GET", "/api/v1/namespaces/sockshop-staging/services/carts");
        c.respond(200, &service("primary"));
    });
    let status = within(deployer.promote(&target("staging"))).await.unwrap();
    within(server).await.unwrap();
    assert_eq!(
        status.serving_image(),
        Some("docker.io/keptnexamples/carts:0.11.3")
    );
}

/// A primary that fails to roll out during promote is restored to its previous spec and the
/// traffic goes back to it; the error says so.
#[tokio::test]
async fn failed_promote_restores_the_previous_primary() {
    let (deployer, mut api) = setup(Duration::from_secs(5));
    let server = tokio::spawn(async move {
        let ns = "/apis/apps/v1/namespaces/sockshop-staging/deployments";
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts"));
        c.respond(
            200,
            &deployment(
                "carts",
                "canary",
                "docker.io/keptnexamples/carts:0.11.3",
                1,
                ready(1),
            ),
        );
        let c = api.next().await;
        c.expect("GET", &format!("{ns}/carts-primary"));
        c.respond(
            200,
            &deployment(
                "carts-primary",
                "primary",
                "docker.io/keptnexamples/carts:0.11.1",
                1,
                ready(1),
            ),
        );
        let c = api.next().await;
        c.expect_merge(
            "/api/v1/namespaces/sockshop-staging/services/carts",
            json!({"spec": {"selector": {"keptn.sh/deployment": "canary"}}}),
        );
        c.respond(200, &service("canary"));
        let c = api.next().await;
        c.expect_apply(&format!("{ns}/carts-primary"));
        assert_eq!(
            c.body["spec"]["template"]["spec"]["containers"][0]["image"],
            "docker.io/keptnexamples/carts:0.11.3"
        );
        c.echo();
        let failing = deployment(
            "carts-primary",
            "primary",
            "docker.io/keptnexamples/carts:0.11.3",
            1,
            json!({
            "observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1,
            "conditions": [{ "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                             "message": "ReplicaSet \"carts-primary-9f\" has timed out progressing." }] }),
        );
        expect_list(
            api.next().await,
            "sockshop-staging",
            "carts-primary",
            &failing,
        );
        // the public Service goes back to the primary first, whatever happens next
        let c = api.next().await;
        c.expect_merge(
            "/api/v1/namespaces/sockshop-staging/services/carts",
            json!({"spec": {"selector": {"keptn.sh/deployment": "primary"}}}),
        );
        c.respond(200, &service("primary"));
        // the previous primary spec is re-applied without server fields
        let c = api.next().await;
        c.expect_apply(&format!("{ns}/carts-primary"));
        assert_eq!(
            c.body["spec"]["template"]["spec"]["containers"][0]["image"],
            "docker.io/keptnexamples/carts:0.11.1"
        );
        assert!(
            c.body.get("status").is_none() && c.body["metadata"].get("resourceVersion").is_none()
        );
        c.echo();
        let restored = deployment(
            "carts-primary",
            "primary",
            "docker.io/keptnexamples/carts:0.11.1",
            1,
            ready(1),
        );
        expect_list(
            api.next().await,
            "sockshop-staging",
            "carts-primary",
            &restored,
        );
    });
    let err = within(deployer.promote(&target("staging")))
        .await
        .unwrap_err();
    within(server).await.unwrap();
    assert_eq!(
        err.to_string(),
        "rollout of Deployment sockshop-staging/carts-primary failed: ReplicaSet \"carts-primary-9f\" has timed out progressing. (rolled back; the serving version is untouched)"
    );
}
