//! Against a real Unleash (unleash-server 7.5 on PostgreSQL, started by `scripts/unleash.sh up`,
//! which `scripts/test-all.sh` runs). Skipped, with a message, when `UNLEASH_URL` is not set.
//!
//! Each test creates its own flags (unique names) through the Admin API, runs the remediation
//! and reads the state back from Unleash with plain HTTP calls, independent of our client.

use std::time::{Duration, Instant};

use keptn_remediate::unleash::{FeatureToggleAction, FlagState, FlagStateVerifier, UnleashClient};
use keptn_remediate::{ActionRegistry, ActionStatus, Mode, Problem, RemediationStatus, Remediator};
use keptn_spec::event::MemoryEventSink;
use secrecy::{ExposeSecret, SecretString};

struct Real {
    url: String,
    token: SecretString,
}

fn real_unleash(test: &str) -> Option<Real> {
    match (std::env::var("UNLEASH_URL"), std::env::var("UNLEASH_TOKEN")) {
        (Ok(url), Ok(token)) if !url.is_empty() => Some(Real {
            url,
            token: SecretString::from(token),
        }),
        _ => {
            eprintln!(
                "skipping {test}: UNLEASH_URL/UNLEASH_TOKEN not set (run `eval \"$(scripts/unleash.sh up)\"` to test against a real Unleash)"
            );
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

impl Real {
    fn client(&self, environment: &str) -> UnleashClient {
        UnleashClient::builder(&self.url)
            .api_token(self.token.clone())
            .project("default")
            .environment(environment)
            .build()
            .unwrap()
    }

    /// Reads `enabled` of a flag in an environment with a plain HTTP call.
    async fn enabled(&self, flag: &str, environment: &str) -> bool {
        let url = format!(
            "{}/api/admin/projects/default/features/{flag}/environments/{environment}",
            self.url
        );
        let body: serde_json::Value = reqwest::Client::new()
            .get(url)
            .header("authorization", self.token.expose_secret())
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        body["enabled"].as_bool().expect("`enabled` in the answer")
    }

    /// Creates a flag and switches it on in production, as the Keptn tutorial's user did.
    async fn flag_on(&self, flag: &str) {
        let client = self.client("production");
        client.create_flag(flag).await.unwrap();
        client.set_flag(flag, FlagState::On).await.unwrap();
        assert!(self.enabled(flag, "production").await);
    }

    fn remediator(&self, environment: &str, sink: &MemoryEventSink) -> Remediator {
        let client = self.client(environment);
        Remediator::builder(ActionRegistry::new().with(FeatureToggleAction::new(client.clone())))
            .verifier(FlagStateVerifier::new(client))
            .event_sink(sink.clone())
            .wait(Duration::ZERO)
            .build()
    }
}

fn problem(pid: &str, title: &str) -> Problem {
    Problem::new(
        pid,
        title,
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
    )
    .with_service("carts".parse().unwrap())
}

/// The Keptn tutorial's finale against a real Unleash: the 0.6 remediation file, problem "Failure rate
/// increase" → the promotion flag is turned off, verified by reading it back; a duplicate
/// notification (same PID) does nothing, even after the flag was turned on again.
#[tokio::test]
async fn seed_remediation_turns_promotion_off_in_real_unleash() {
    let Some(real) = real_unleash("seed_remediation_turns_promotion_off_in_real_unleash") else {
        return;
    };
    let promotion = unique("EnablePromotion");
    let cache = unique("EnableItemCache");
    real.flag_on(&promotion).await;
    real.client("production").create_flag(&cache).await.unwrap();

    let sink = MemoryEventSink::new();
    let remediator = real.remediator("production", &sink);
    let yaml = format!(
        "remediations:\n- name: \"Response time degradation\"\n  actions:\n    - action: featuretoggle\n      value: {cache}:on\n- name: \"Failure rate increase\"\n  actions:\n    - action: featuretoggle\n      value: {promotion}:off\n"
    );
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            Some("carts".parse().unwrap()),
            &yaml,
            Some("remediation_feature_toggle.yaml"),
        )
        .unwrap();

    let pid = unique("PID");
    let started = Instant::now();
    let report = remediator
        .on_problem_open(problem(&pid, "Failure rate increase"))
        .await;
    let round = started.elapsed();
    eprintln!(
        "remediation round against real Unleash: {round:?} (action {} ms)",
        report.steps[0].action_ms
    );
    assert_eq!(report.status, RemediationStatus::Resolved, "{report:#?}");
    assert_eq!(report.steps[0].outcome.status, ActionStatus::Succeeded);
    assert!(
        !real.enabled(&promotion, "production").await,
        "flag must be off"
    );
    assert!(
        !real.enabled(&cache, "production").await,
        "the other entry must not run"
    );
    assert_eq!(sink.last().unwrap().data["result"], "pass");

    // Someone turns the promotion on again; the same problem notification arrives again.
    real.client("production")
        .set_flag(&promotion, FlagState::On)
        .await
        .unwrap();
    let again = remediator
        .on_problem_open(problem(&pid, "Failure rate increase"))
        .await;
    assert_eq!(again.status, RemediationStatus::Duplicate);
    assert!(
        real.enabled(&promotion, "production").await,
        "no second action may run"
    );
}

/// The 0.1.4 map form with several flags, toggled in file order, in the configured
/// environment only.
#[tokio::test]
async fn structured_file_toggles_several_flags_in_one_environment() {
    let Some(real) = real_unleash("structured_file_toggles_several_flags_in_one_environment")
    else {
        return;
    };
    let promotion = unique("EnablePromotion");
    let cache = unique("EnableItemCache");
    real.flag_on(&promotion).await;
    real.client("production").create_flag(&cache).await.unwrap();
    // Turn the promotion on in development too: the remediation must leave it alone there.
    real.client("development")
        .set_flag(&promotion, FlagState::On)
        .await
        .unwrap();

    let sink = MemoryEventSink::new();
    let remediator = real.remediator("production", &sink);
    let yaml = format!(
        "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata:\n  name: carts-remediation\nspec:\n  remediations:\n    - problemType: Failure rate increase\n      actionsOnOpen:\n        - action: toggle-feature\n          name: Toggle feature flags\n          value:\n            {promotion}: off\n            {cache}: on\n"
    );
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            &yaml,
            None,
        )
        .unwrap();
    let report = remediator
        .on_problem_open(problem(&unique("PID"), "Failure rate increase"))
        .await;
    assert_eq!(report.status, RemediationStatus::Resolved, "{report:#?}");
    let changes = &report.steps[0].outcome.changes;
    assert_eq!(changes.len(), 2);
    assert_eq!(
        changes[0].target,
        format!("unleash:default/production/{promotion}")
    );
    assert_eq!(
        changes[1].target,
        format!("unleash:default/production/{cache}")
    );
    assert!(!real.enabled(&promotion, "production").await);
    assert!(real.enabled(&cache, "production").await);
    assert!(
        real.enabled(&promotion, "development").await,
        "development untouched"
    );
}

/// A flag that does not exist: the action fails with Unleash's reason and the remediation
/// escalates instead of claiming success.
#[tokio::test]
async fn missing_flag_fails_and_escalates() {
    let Some(real) = real_unleash("missing_flag_fails_and_escalates") else {
        return;
    };
    let missing = unique("NoSuchFlag");
    let sink = MemoryEventSink::new();
    let remediator = real.remediator("production", &sink);
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            &format!("remediations:\n- name: Failure rate\n  actions:\n  - action: featuretoggle\n    value: {missing}:off\n"),
            None,
        )
        .unwrap();
    let report = remediator
        .on_problem_open(problem(&unique("PID"), "Failure rate increase"))
        .await;
    assert_eq!(report.status, RemediationStatus::Escalated);
    let out = &report.steps[0].outcome;
    assert_eq!(out.status, ActionStatus::Failed);
    assert!(
        out.message.starts_with(&format!(
            "feature flag `{missing}` not found in Unleash project `default`"
        )),
        "{}",
        out.message
    );
}

/// Dry run against the real server: the report names the flag, Unleash is unchanged.
#[tokio::test]
async fn dry_run_leaves_real_flags_alone() {
    let Some(real) = real_unleash("dry_run_leaves_real_flags_alone") else {
        return;
    };
    let promotion = unique("EnablePromotion");
    real.flag_on(&promotion).await;
    let client = real.client("production");
    let remediator =
        Remediator::builder(ActionRegistry::new().with(FeatureToggleAction::new(client)))
            .mode(Mode::DryRun)
            .build();
    remediator
        .add_remediation_yaml(
            "sockshop".parse().unwrap(),
            "production".parse().unwrap(),
            None,
            &format!("remediations:\n- name: Failure rate increase\n  actions:\n  - action: featuretoggle\n    value: {promotion}:off\n"),
            None,
        )
        .unwrap();
    let report = remediator
        .on_problem_open(problem(&unique("PID"), "Failure rate increase"))
        .await;
    assert_eq!(report.status, RemediationStatus::DryRun);
    assert_eq!(
        report.steps[0].outcome.message,
        format!("dry run: would set unleash:default/production/{promotion} off in Unleash")
    );
    assert!(real.enabled(&promotion, "production").await);
}

/// The legacy toggle API (Basic auth, `/api/admin/features/{name}/toggle/off`) does not work
/// with Unleash 7: the legacy client reports the refusal (401 for Basic auth, 404 for the
/// path) instead of pretending, which is why the legacy API is tested against a fake.
#[tokio::test]
async fn legacy_endpoint_is_gone_in_unleash_7() {
    let Some(real) = real_unleash("legacy_endpoint_is_gone_in_unleash_7") else {
        return;
    };
    let legacy = UnleashClient::builder(format!("{}/api", real.url))
        .legacy_basic_auth("keptn", real.token.clone())
        .build()
        .unwrap();
    let err = legacy
        .set_flag(&unique("F"), FlagState::Off)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            keptn_remediate::Error::Status {
                status: 401 | 404,
                ..
            } | keptn_remediate::Error::FlagNotFound { .. }
        ),
        "{err:?}"
    );
}
