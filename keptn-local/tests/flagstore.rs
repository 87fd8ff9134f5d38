//! The embedded flag store over real loopback HTTP: its Unleash-compatible API, and the
//! remediation's own Unleash client, toggle action and verifier running against it unchanged.

use std::net::SocketAddr;
use std::time::Duration;

use keptn_local::flagstore::{FlagStore, FlagStoreServer};
use keptn_remediate::unleash::{FeatureToggleAction, FlagState, FlagStateVerifier, UnleashClient};
use keptn_remediate::{ActionRegistry, ActionStatus, Problem, RemediationStatus, Remediator};
use keptn_spec::event::MemoryEventSink;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

const ADMIN: &str = "*:*.flagstore-test-admin";

async fn serve() -> FlagStoreServer {
    FlagStore::builder()
        .admin_token(SecretString::from(ADMIN))
        .flag("EnableItemCache", "carts")
        .flag("EnablePromotion", "carts")
        .build()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn call(
    method: reqwest::Method,
    url: String,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http().request(method, url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn enabled_in(features: &Value, name: &str) -> bool {
    features["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing in {features}"))["enabled"]
        .as_bool()
        .unwrap()
}

/// Health, client features per environment, admin create/read/switch, and Unleash's error codes.
#[tokio::test]
async fn serves_unleash_client_and_admin_api() {
    use reqwest::Method;
    let server = serve().await;
    let store = server.store().clone();
    let url = server.url();
    let prod = store.client_token("production").unwrap();
    let dev = store.client_token("development").unwrap();
    assert!(prod.expose_secret().starts_with("default:production."));

    let (status, body) = call(Method::GET, format!("{url}/health"), None, None).await;
    assert_eq!((status, body), (200, json!({"health": "GOOD"})));

    // Auth: none, wrong, client token on the admin API.
    let features = format!("{url}/api/client/features");
    assert_eq!(call(Method::GET, features.clone(), None, None).await.0, 401);
    assert_eq!(
        call(Method::GET, features.clone(), Some("nope"), None)
            .await
            .0,
        401
    );
    let flag_url = format!("{url}/api/admin/projects/default/features/EnablePromotion");
    let (status, body) = call(
        Method::GET,
        flag_url.clone(),
        Some(prod.expose_secret()),
        None,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["name"], "NoAccessError");

    // Switch on in production only; each client token sees its environment.
    let on = format!("{flag_url}/environments/production/on");
    assert_eq!(call(Method::POST, on, Some(ADMIN), None).await.0, 200);
    let (status, prod_view) = call(
        Method::GET,
        features.clone(),
        Some(prod.expose_secret()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(prod_view["version"], 2);
    assert!(enabled_in(&prod_view, "EnablePromotion"));
    assert!(!enabled_in(&prod_view, "EnableItemCache"));
    let bearer = format!("Bearer {}", dev.expose_secret());
    let (_, dev_view) = call(Method::GET, features, Some(&bearer), None).await;
    assert!(!enabled_in(&dev_view, "EnablePromotion"));

    // Read back, per flag and per environment.
    let (status, flag) = call(Method::GET, flag_url.clone(), Some(ADMIN), None).await;
    assert_eq!(status, 200);
    assert_eq!(flag["name"], "EnablePromotion");
    let envs = flag["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    assert!(
        envs.iter()
            .any(|e| e["name"] == "production" && e["enabled"] == true)
    );
    let (status, env) = call(
        Method::GET,
        format!("{flag_url}/environments/production"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(env["enabled"], true);
    assert_eq!(env["featureName"], "EnablePromotion");

    // Create: 201, then 409; a bad name is 400; unknown flag/project/environment are 404.
    let create = format!("{url}/api/admin/projects/default/features");
    let (status, created) = call(
        Method::POST,
        create.clone(),
        Some(ADMIN),
        Some(json!({"name": "NewFlag", "type": "release"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["name"], "NewFlag");
    let (status, body) = call(
        Method::POST,
        create.clone(),
        Some(ADMIN),
        Some(json!({"name": "NewFlag"})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["message"], "feature flag `NewFlag` already exists");
    assert_eq!(
        call(
            Method::POST,
            create,
            Some(ADMIN),
            Some(json!({"name": "a b"}))
        )
        .await
        .0,
        400
    );
    let missing =
        format!("{url}/api/admin/projects/default/features/Nope/environments/production/on");
    let (status, body) = call(Method::POST, missing, Some(ADMIN), None).await;
    assert_eq!(status, 404);
    assert_eq!(body["name"], "NotFoundError");
    let other = format!("{url}/api/admin/projects/other/features/EnablePromotion");
    assert_eq!(call(Method::GET, other, Some(ADMIN), None).await.0, 404);
    let staging = format!("{flag_url}/environments/staging/on");
    assert_eq!(call(Method::POST, staging, Some(ADMIN), None).await.0, 404);

    // The legacy API of Keptn 0.6 (Basic auth, default environment).
    let basic = "Basic a2VwdG46KjoqLmZsYWdzdG9yZS10ZXN0LWFkbWlu"; // keptn:*:*.flagstore-test-admin
    let (status, body) = call(
        Method::POST,
        format!("{url}/api/admin/features/EnableItemCache/toggle/on"),
        Some(basic),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], true);
    assert_eq!(
        store.get("default", "EnableItemCache", "development"),
        Some(true)
    );
    assert_eq!(
        call(
            Method::GET,
            format!("{url}/api/admin/features/EnableItemCache"),
            Some("Basic a2VwdG46a2VwdG4="),
            None
        )
        .await
        .0,
        401
    );

    let history = store.history();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[0].flag.as_str(), history[0].enabled),
        ("EnablePromotion", true)
    );
}

fn client(server: &FlagStoreServer) -> UnleashClient {
    UnleashClient::builder(server.url())
        .api_token(SecretString::from(ADMIN))
        .project("default")
        .environment("production")
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// The remediation's Unleash client works against the store: create, read, switch.
#[tokio::test]
async fn unleash_client_works_against_the_store() {
    let server = serve().await;
    let c = client(&server);
    assert_eq!(
        c.flag_state("EnablePromotion").await.unwrap(),
        FlagState::Off
    );
    c.set_flag("EnablePromotion", FlagState::On).await.unwrap();
    assert_eq!(
        c.flag_state("EnablePromotion").await.unwrap(),
        FlagState::On
    );
    c.create_flag("EnableSomething").await.unwrap();
    assert_eq!(
        c.flag_state("EnableSomething").await.unwrap(),
        FlagState::Off
    );
    assert!(c.create_flag("EnableSomething").await.is_err());
    let err = c.flag_state("Nope").await.unwrap_err();
    assert!(err.to_string().contains("Nope"), "{err}");
}

/// The Keptn tutorial's finale against the store: problem "Failure rate increase" → the remediation
/// workflow's toggle action turns EnablePromotion off, verified by reading it back.
#[tokio::test]
async fn seed_remediation_turns_promotion_off_in_the_store() {
    let server = serve().await;
    let store = server.store().clone();
    store
        .set("default", "EnablePromotion", "production", true)
        .unwrap();
    let c = client(&server);
    let sink = MemoryEventSink::new();
    let remediator =
        Remediator::builder(ActionRegistry::new().with(FeatureToggleAction::new(c.clone())))
            .verifier(FlagStateVerifier::new(c))
            .event_sink(sink.clone())
            .wait(Duration::ZERO)
            .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            Some("carts".parse().unwrap()),
            "remediations:\n- name: \"Response time degradation\"\n  actions:\n    - action: featuretoggle\n      value: EnableItemCache:on\n- name: \"Failure rate increase\"\n  actions:\n    - action: featuretoggle\n      value: EnablePromotion:off\n",
            Some("remediation.yaml"),
        )
        .unwrap();
    let problem = Problem::new(
        "PID-1",
        "Failure rate increase",
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap());
    let report = remediator.on_problem_open(problem).await;
    assert_eq!(report.status, RemediationStatus::Resolved, "{report:#?}");
    assert_eq!(report.steps[0].outcome.status, ActionStatus::Succeeded);
    assert_eq!(
        store.get("default", "EnablePromotion", "production"),
        Some(false)
    );
    assert_eq!(
        store.get("default", "EnableItemCache", "production"),
        Some(false)
    );
    assert!(!sink.is_empty());
}
