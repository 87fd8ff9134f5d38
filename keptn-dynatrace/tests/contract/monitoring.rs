//! The monitoring set-up against the fake tenant (Configuration API v1).

use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{Action, ConfigKind, KeptnEndpoint, Mode, MonitoringSetup, SetupReport};
use secrecy::SecretString;
use serde_json::json;

use crate::conformance::assert_documented;
use crate::support::{client, tenant};

fn setup(t: &FakeTenant, endpoint: &str) -> MonitoringSetup {
    MonitoringSetup::new(client(&t.uri()))
        .with_project(
            "sockshop".parse().unwrap(),
            ["dev", "staging", "production"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect(),
        )
        .with_keptn_endpoint(
            KeptnEndpoint::new(endpoint).with_token(SecretString::from("KEPTN-API-TOKEN")),
        )
}

fn actions(r: &SetupReport) -> Vec<(ConfigKind, String, Action)> {
    r.items
        .iter()
        .map(|i| (i.kind, i.name.clone(), i.action.clone()))
        .collect()
}

/// The first run creates Keptn's objects with the documented bodies; a second run changes
/// nothing and sends no write.
#[tokio::test]
async fn first_run_creates_second_run_changes_nothing() {
    let t = tenant().await;
    let s = setup(&t, "https://keptn.example.com/api/v1/event");
    let first = s.run().await;
    assert!(first.is_success(), "{first}");
    assert_eq!(first.items.len(), 4 + 1 + 1 + 4 + 1, "{first}");
    assert!(
        first.items.iter().all(|i| i.action == Action::Created),
        "{first}"
    );
    let names: Vec<String> = t
        .config_objects("autoTags")
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "keptn_project",
            "keptn_stage",
            "keptn_service",
            "keptn_deployment"
        ]
    );
    let tag = &t.config_objects("autoTags")[1];
    assert_eq!(
        tag["rules"][0]["valueFormat"],
        "{ProcessGroup:Environment:keptn_stage}"
    );
    assert_eq!(
        tag["rules"][0]["conditions"][0]["key"]["dynamicKey"],
        json!({"source": "ENVIRONMENT", "key": "keptn_stage"})
    );
    let profile = &t.config_objects("alertingProfiles")[0];
    assert_eq!(profile["displayName"], "Keptn");
    assert_eq!(profile["rules"].as_array().unwrap().len(), 6);
    assert!(
        profile["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["delayInMinutes"] == 0)
    );
    let n = &t.config_objects("notifications")[0];
    assert_eq!(n["name"], "Keptn Problem Notification");
    assert_eq!(n["type"], "WEBHOOK");
    assert_eq!(n["alertingProfile"], profile["id"]);
    assert_eq!(n["url"], "https://keptn.example.com/api/v1/event");
    assert_eq!(
        n["headers"][0],
        json!({"name": "x-token", "value": "KEPTN-API-TOKEN"})
    );
    assert!(n["payload"].as_str().unwrap().contains("\"PID\":\"{PID}\""));
    let zones: Vec<String> = t
        .config_objects("managementZones")
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        zones,
        [
            "Keptn: sockshop",
            "Keptn: sockshop dev",
            "Keptn: sockshop staging",
            "Keptn: sockshop production"
        ]
    );
    let dash = &t.config_objects("dashboards")[0];
    assert_eq!(
        dash["dashboardMetadata"]["name"],
        "sockshop@keptn: Digital Delivery & Operations Dashboard"
    );
    assert_eq!(
        dash["dashboardMetadata"]["dashboardFilter"]["timeframe"],
        "l_7_DAYS"
    );
    let stage_zone = &t.config_objects("managementZones")[2];
    assert!(
        dash["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|tile| tile["tileFilter"]["managementZone"]["id"] == stage_zone["id"])
    );

    let writes = t.config_writes();
    let second = s.run().await;
    assert!(second.is_success(), "{second}");
    assert!(
        second.items.iter().all(|i| i.action == Action::Unchanged),
        "{second}"
    );
    assert!(!second.changed_anything());
    assert_eq!(
        t.config_writes(),
        writes,
        "the second run wrote to Dynatrace"
    );
    assert_documented(&t.requests());
}

/// A dry run reads and reports but writes nothing.
#[tokio::test]
async fn dry_run_only_reports() {
    let t = tenant().await;
    let report = setup(&t, "https://keptn/api/v1/event")
        .with_mode(Mode::DryRun)
        .run()
        .await;
    assert!(report.dry_run && report.is_success(), "{report}");
    assert!(
        report.items.iter().all(|i| i.action == Action::Created),
        "{report}"
    );
    assert!(report.to_string().contains("would be created"), "{report}");
    assert_eq!(t.config_writes(), 0);
    assert!(t.requests().iter().all(|r| r.method == "GET"));
}

/// A changed endpoint updates the notification in place; duplicates are deleted; everything
/// else is left alone.
#[tokio::test]
async fn changes_update_in_place_and_duplicates_go() {
    let t = tenant().await;
    assert!(
        setup(&t, "https://old/api/v1/event")
            .run()
            .await
            .is_success()
    );
    // a duplicate notification, as an older tool might have left
    let mut dup = t.config_objects("notifications")[0].clone();
    dup.as_object_mut().unwrap().remove("id");
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/config/v1/notifications", t.uri()))
        .header(
            "Authorization",
            format!("Api-Token {}", crate::support::TOKEN),
        )
        .json(&dup)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(t.config_objects("notifications").len(), 2);

    let report = setup(&t, "https://new/api/v1/event").run().await;
    assert!(report.is_success(), "{report}");
    let changed: Vec<_> = actions(&report)
        .into_iter()
        .filter(|(_, _, a)| *a != Action::Unchanged)
        .collect();
    assert_eq!(
        changed,
        vec![(
            ConfigKind::ProblemNotification,
            "Keptn Problem Notification".to_owned(),
            Action::Updated
        )]
    );
    let ns = t.config_objects("notifications");
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0]["url"], "https://new/api/v1/event");
    assert_documented(&t.requests());
}

/// Existing auto-tagging rules are left alone even when they differ (users may have tuned them).
#[tokio::test]
async fn existing_tagging_rules_are_left_alone() {
    let t = tenant().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/config/v1/autoTags", t.uri()))
        .header(
            "Authorization",
            format!("Api-Token {}", crate::support::TOKEN),
        )
        .json(&json!({"name": "keptn_stage", "rules": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let report = MonitoringSetup::new(client(&t.uri())).run().await;
    assert_eq!(report.items[1].name, "keptn_stage");
    assert_eq!(report.items[1].action, Action::Unchanged);
    assert_eq!(t.config_objects("autoTags")[0]["rules"], json!([]));
    // without an endpoint the notification step is skipped, not failed
    let n = report
        .items
        .iter()
        .find(|i| i.kind == ConfigKind::ProblemNotification)
        .unwrap();
    assert!(matches!(n.action, Action::Skipped(_)), "{report}");
}

/// A failing step is reported and the later steps still run.
#[tokio::test]
async fn failures_are_reported_and_later_steps_run() {
    let t = tenant().await;
    for _ in 0..4 {
        t.fail_next(500, None);
    }
    let report = setup(&t, "https://keptn/api/v1/event").run().await;
    assert!(!report.is_success());
    assert!(
        matches!(&report.items[0].action, Action::Failed(m) if m.contains("500")),
        "{report}"
    );
    assert!(
        report.items[1..]
            .iter()
            .all(|i| i.action == Action::Created),
        "{report}"
    );
    assert!(report.to_string().contains("FAILED"), "{report}");
}
