//! The control plane's API request bodies, sent through its real axum router (in process, no
//! socket) with the token: whatever the body, the answer is a 2xx or a 4xx, never a 5xx.

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use keptn_control::ControlPlane;
use keptn_control::http::{ApiConfig, ApiToken, router};
use tower::ServiceExt as _;

const TOKEN: &str = "fuzz-token";
const SHIPYARD: &str = include_str!("../../../examples/fixtures/tour/shipyard.yaml");

/// The endpoints that read a body; the input's first byte picks one.
const ENDPOINTS: &[(Method, &str)] = &[
    (Method::POST, "/api/v1/event"),
    (Method::POST, "/api/controlPlane/v1/project"),
    (
        Method::POST,
        "/api/controlPlane/v1/project/sockshop/service",
    ),
    (
        Method::POST,
        "/api/controlPlane/v1/project/sockshop/stage/staging/service/carts/evaluation",
    ),
    (
        Method::POST,
        "/api/controlPlane/v1/sequence/sockshop/7e9ed5d2-1f3c-4a4b-9d4e-0c0c2b0f3a11/control",
    ),
    (
        Method::PUT,
        "/api/resource-service/v1/project/sockshop/resource",
    ),
    (
        Method::POST,
        "/api/resource-service/v1/project/sockshop/stage/staging/service/carts/resource",
    ),
];

struct Api {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let router = runtime.block_on(async {
            let plane = ControlPlane::builder()
                .project("sockshop".parse().expect("a project name"), SHIPYARD)
                .build()
                .await
                .expect("the tour's shipyard builds a control plane");
            let config = ApiConfig::new(ApiToken::new(TOKEN).expect("a token"));
            let router = router(plane, config);
            let status = send(
                &router,
                Method::POST,
                ENDPOINTS[2].1,
                br#"{"serviceName":"carts"}"#.to_vec(),
            )
            .await;
            assert!(status < 300, "creating the service answered {status}");
            router
        });
        Api { runtime, router }
    })
}

async fn send(router: &Router, method: Method, path: &str, body: Vec<u8>) -> u16 {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-token", TOKEN)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("a valid request");
    match router.clone().oneshot(request).await {
        Ok(response) => response.status().as_u16(),
        Err(never) => match never {},
    }
}

/// Sends the bytes after the first as the body of the endpoint the first byte picks.
///
/// # Panics
/// When the API answers 5xx: a request body, however broken, is the client's fault (4xx).
pub fn control_http(data: &[u8]) {
    let Some((first, body)) = data.split_first() else {
        return;
    };
    let (method, path) = &ENDPOINTS[usize::from(*first) % ENDPOINTS.len()];
    let api = api();
    let status = api
        .runtime
        .block_on(send(&api.router, method.clone(), path, body.to_vec()));
    assert!(status < 500, "{method} {path} answered {status}");
}
