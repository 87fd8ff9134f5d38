//! Property: **a remediation never reports success it did not verify** — with Unleash down,
//! hanging, or gone between the switch and the verification, `keptn-remediate`'s workflow
//! escalates instead of reporting the problem resolved. A healthy run resolves, so the tests
//! can fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keptn_remediate::unleash::{
    FeatureToggleAction, FlagStateVerifier, RetryPolicy, UnleashClient,
};
use keptn_remediate::{ActionRegistry, Problem, RemediationReport, RemediationStatus, Remediator};
use keptn_testkit::{Fault, FaultServer, Reply, Request};
use secrecy::SecretString;

const ENV_PATH: &str =
    "/api/admin/projects/default/features/EnablePromotion/environments/production";
const BOUND: Duration = Duration::from_secs(5);

/// An Unleash that holds one flag (on); after `healthy_requests` requests it answers `down`.
fn unleash(server: &FaultServer, healthy_requests: usize, down: Fault) {
    let enabled = Arc::new(AtomicBool::new(true));
    let seen = Arc::new(AtomicUsize::new(0));
    server.route_with("/*", move |r: &Request| {
        if seen.fetch_add(1, Ordering::SeqCst) >= healthy_requests {
            return down.clone();
        }
        let state = |on: bool| {
            Fault::Reply(Reply::json(
                200,
                format!(
                    r#"{{"name":"production","environment":"production","featureName":"EnablePromotion","enabled":{on},"strategies":[]}}"#
                ),
            ))
        };
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", ENV_PATH) => state(enabled.load(Ordering::SeqCst)),
            ("POST", p) if p == format!("{ENV_PATH}/off") => {
                enabled.store(false, Ordering::SeqCst);
                Fault::Reply(Reply::json(200, "{}"))
            }
            ("POST", p) if p == format!("{ENV_PATH}/on") => {
                enabled.store(true, Ordering::SeqCst);
                Fault::Reply(Reply::json(200, "{}"))
            }
            _ => Fault::Reply(Reply::json(404, r#"{"name":"NotFoundError","message":"no"}"#)),
        }
    });
}

async fn remediate(url: &str) -> (RemediationReport, Duration) {
    let client = UnleashClient::builder(url)
        .api_token(SecretString::from("*:*.faults-admin-token"))
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy::new(
            2,
            Duration::from_millis(20),
            Duration::from_millis(20),
        ))
        .build()
        .unwrap();
    let remediator =
        Remediator::builder(ActionRegistry::new().with(FeatureToggleAction::new(client.clone())))
            .verifier(FlagStateVerifier::new(client))
            .wait(Duration::ZERO)
            .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            Some("carts".parse().unwrap()),
            "remediations:\n- name: \"Failure rate increase\"\n  actions:\n    - action: featuretoggle\n      value: EnablePromotion:off\n",
            Some("remediation.yaml"),
        )
        .unwrap();
    let problem = Problem::new(
        "PID-faults",
        "Failure rate increase",
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap());
    let started = Instant::now();
    let report = remediator.on_problem_open(problem).await;
    (report, started.elapsed())
}

#[tokio::test]
async fn remediation_resolves_when_unleash_answers_and_the_flag_reads_back() {
    let server = FaultServer::start().await;
    unleash(&server, usize::MAX, Fault::Close);
    let (report, _) = remediate(&server.url()).await;
    assert_eq!(report.status, RemediationStatus::Resolved, "{report:#?}");
}

#[tokio::test]
async fn remediation_never_reports_success_when_unleash_is_down() {
    let server = FaultServer::start().await;
    unleash(&server, 0, Fault::Reply(Reply::status(503)));
    let (report, took) = remediate(&server.url()).await;
    assert_eq!(report.status, RemediationStatus::Escalated, "{report:#?}");
    assert!(!report.actions_succeeded());
    assert!(took < BOUND, "{took:?}");
}

#[tokio::test]
async fn remediation_never_reports_success_when_unleash_refuses_connections() {
    // a port nothing listens on any more
    let url = {
        let server = FaultServer::start().await;
        server.url()
    };
    let (report, took) = remediate(&url).await;
    assert_eq!(report.status, RemediationStatus::Escalated, "{report:#?}");
    assert!(took < BOUND, "{took:?}");
}

#[tokio::test]
async fn remediation_never_reports_success_when_unleash_hangs_after_the_headers() {
    let server = FaultServer::start().await;
    unleash(&server, 0, Fault::HangAfterHeaders);
    let (report, took) = remediate(&server.url()).await;
    assert_eq!(report.status, RemediationStatus::Escalated, "{report:#?}");
    assert!(took < BOUND, "{took:?}");
}

/// The flag was switched and read back by the action (three requests), then Unleash goes
/// down: the verification cannot read it, so the problem is not reported resolved.
#[tokio::test]
async fn remediation_never_reports_success_when_unleash_goes_down_before_verification() {
    let server = FaultServer::start().await;
    unleash(&server, 3, Fault::Close);
    let (report, took) = remediate(&server.url()).await;
    assert!(
        report.actions_succeeded(),
        "the switch itself worked: {report:#?}"
    );
    assert_ne!(report.status, RemediationStatus::Resolved, "{report:#?}");
    assert_eq!(report.status, RemediationStatus::Escalated, "{report:#?}");
    assert!(took < BOUND, "{took:?}");
}
