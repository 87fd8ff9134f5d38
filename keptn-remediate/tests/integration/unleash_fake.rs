//! The Unleash client and toggle action against a local fake (wiremock).
//!
//! The fake follows Unleash's published Admin API (as served by unleash-server 7.5 at
//! `/docs/openapi.json`: paths, `Authorization: <token>` header, `featureEnvironmentSchema`
//! with `enabled`, error bodies `{name, message}`) and, for the legacy toggle API that Unleash 7
//! no longer has, the Unleash 3.x API that Keptn's remediation-service called (:
//! `POST /api/admin/features/{name}/toggle/on|off`, HTTP Basic auth). It is used for what a
//! real server will not do on demand: 401, 429, 503 and slow answers. The code path is the same
//! as against the real server (see `unleash_real`).

use std::time::Duration;

use keptn_remediate::unleash::{FeatureToggleAction, FlagState, RetryPolicy, UnleashClient};
use keptn_remediate::{ActionContext, ActionStatus, Error, Problem, RemediationAction};
use keptn_spec::remediation::{ActionSpec, ActionValue};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "*:*.fake-admin-token";
const ENV_PATH: &str =
    "/api/admin/projects/default/features/EnablePromotion/environments/production";

fn client(server: &MockServer) -> UnleashClient {
    UnleashClient::builder(server.uri())
        .api_token(SecretString::from(TOKEN))
        .retry(RetryPolicy::new(
            4,
            Duration::from_millis(1),
            Duration::from_millis(1),
        ))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn env_state(enabled: bool) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "name": "production", "environment": "production", "featureName": "EnablePromotion",
        "enabled": enabled, "strategies": []
    }))
}

fn ctx(value: &str) -> ActionContext {
    let problem = Problem::new(
        "PID",
        "Failure rate increase",
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    );
    ActionContext::new(
        problem,
        ActionSpec {
            name: "toggle".into(),
            action: "featuretoggle".into(),
            description: String::new(),
            value: Some(ActionValue::Text(value.into())),
        },
    )
}

/// Toggling: read the state, POST `/on|off` with the token, read it back; the outcome lists
/// the change and an undo step.
#[tokio::test]
async fn toggle_reads_switches_and_reads_back() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ENV_PATH))
        .and(header("authorization", TOKEN))
        .respond_with(env_state(true))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ENV_PATH}/off")))
        .and(header("authorization", TOKEN))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ENV_PATH))
        .respond_with(env_state(false))
        .expect(1)
        .mount(&server)
        .await;
    let out = FeatureToggleAction::new(client(&server))
        .execute(&ctx("EnablePromotion:off"))
        .await;
    assert_eq!(out.status, ActionStatus::Succeeded, "{out:?}");
    assert_eq!(out.changes.len(), 1);
    assert_eq!(
        out.changes[0].target,
        "unleash:default/production/EnablePromotion"
    );
    assert_eq!(out.changes[0].before.as_deref(), Some("on"));
    assert_eq!(out.changes[0].after, "off");
    assert_eq!(
        out.undo.unwrap().value,
        Some(ActionValue::Map(vec![(
            "EnablePromotion".into(),
            "on".into()
        )]))
    );
}

/// A flag that does not change when switched fails the action.
#[tokio::test]
async fn flag_that_does_not_change_fails_the_action() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ENV_PATH))
        .respond_with(env_state(true))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ENV_PATH}/off")))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let out = FeatureToggleAction::new(client(&server))
        .execute(&ctx("EnablePromotion:off"))
        .await;
    assert_eq!(out.status, ActionStatus::Failed);
    assert_eq!(
        out.message,
        "flag `EnablePromotion` is still on after switching it off"
    );
}

/// A missing flag is a failed action with Unleash's reason; nothing is switched.
#[tokio::test]
async fn missing_flag_is_a_failed_action() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ENV_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "name": "NotFoundError",
            "message": "There's no feature named \"EnablePromotion\" in project \"default\"."
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let out = FeatureToggleAction::new(client(&server))
        .execute(&ctx("EnablePromotion:off"))
        .await;
    assert_eq!(out.status, ActionStatus::Failed);
    assert_eq!(
        out.message,
        "feature flag `EnablePromotion` not found in Unleash project `default`: \
         There's no feature named \"EnablePromotion\" in project \"default\"."
    );
}

/// 401 is not retried, and the error never shows the token.
#[tokio::test]
async fn unauthorized_is_not_retried_and_hides_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "name": "UnauthorizedError", "message": "You must log in to use Unleash."
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .flag_state("EnablePromotion")
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("fake-admin-token"), "{text}");
    assert_eq!(
        err.to_string(),
        format!("Unleash GET {ENV_PATH} answered 401: You must log in to use Unleash.")
    );
    assert!(!err.is_transient());
}

/// 503 is retried; the request succeeds when Unleash recovers.
#[tokio::test]
async fn server_errors_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{ENV_PATH}/on")))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ENV_PATH}/on")))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .set_flag("EnablePromotion", FlagState::On)
        .await
        .unwrap();
}

/// Retries stop after the configured number; the last error is reported.
#[tokio::test]
async fn retries_give_up_with_the_last_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .expect(4)
        .mount(&server)
        .await;
    let err = client(&server)
        .set_flag("EnablePromotion", FlagState::On)
        .await
        .unwrap_err();
    assert!(err.is_transient());
    assert_eq!(
        err.to_string(),
        format!("Unleash POST {ENV_PATH}/on answered 503: upstream down")
    );
}

/// 429 with `Retry-After` waits and retries.
#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(env_state(false))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let state = client(&server).flag_state("EnablePromotion").await.unwrap();
    assert_eq!(state, FlagState::Off);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honoured"
    );
}

/// A slow Unleash times out; the action fails with a transport error instead of hanging.
#[tokio::test]
async fn slow_answers_time_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(env_state(true).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let slow = UnleashClient::builder(server.uri())
        .api_token(SecretString::from(TOKEN))
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy::new(
            2,
            Duration::from_millis(1),
            Duration::from_millis(1),
        ))
        .build()
        .unwrap();
    let err = slow.flag_state("EnablePromotion").await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(
        err.to_string(),
        format!("request to Unleash GET {ENV_PATH} failed")
    );
    let out = FeatureToggleAction::new(slow)
        .execute(&ctx("EnablePromotion:off"))
        .await;
    assert_eq!(out.status, ActionStatus::Failed);
}

/// The legacy API of the Keptn tutorial's Unleash (3.x) and Keptn 0.6: toggle with Basic auth under a
/// base URL ending in `/api`, as Keptn's `UNLEASH_SERVER_URL` did.
#[tokio::test]
async fn legacy_api_toggles_with_basic_auth() {
    let server = MockServer::start().await;
    // "keptn:keptn" in Basic auth, as in the seed's secret.
    let basic = "Basic a2VwdG46a2VwdG4=";
    Mock::given(method("GET"))
        .and(path("/api/admin/features/EnableItemCache"))
        .and(header("authorization", basic))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "EnableItemCache", "enabled": false, "strategies": [{"name": "default"}]
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/admin/features/EnableItemCache/toggle/on"))
        .and(header("authorization", basic))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "name": "EnableItemCache", "enabled": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/admin/features/EnableItemCache"))
        .and(header("authorization", basic))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "EnableItemCache", "enabled": true, "strategies": [{"name": "default"}]
        })))
        .mount(&server)
        .await;
    let legacy = UnleashClient::builder(format!("{}/api", server.uri()))
        .legacy_basic_auth("keptn", SecretString::from("keptn"))
        .build()
        .unwrap();
    let out = FeatureToggleAction::new(legacy)
        .execute(&ctx("EnableItemCache:on"))
        .await;
    assert_eq!(out.status, ActionStatus::Succeeded, "{out:?}");
    assert_eq!(out.changes[0].target, "unleash:EnableItemCache");
}
