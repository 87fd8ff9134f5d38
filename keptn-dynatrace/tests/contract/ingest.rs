//! Metric ingest, queries over ingested data, metric events and the Problems API v2 against the
//! fake tenant (a real tenant cannot be reached from CI; the fake follows the published API).

use std::time::Duration;

use chrono::Utc;
use keptn_dynatrace::{
    Action, ConfigKind, DynatraceClient, DynatraceSliProvider, Error, MetricEvent, MetricLine,
    MonitoringSetup, RetryPolicy,
};
use keptn_slo::{SliProvider, SliQuery};
use keptn_spec::sli::SliConfig;
use secrecy::SecretString;

use crate::conformance::assert_documented;
use crate::support::{TOKEN, client, tenant};

fn line(key: &str, stage: &str, deployment: &str, v: f64) -> MetricLine {
    MetricLine::gauge(key, v)
        .unwrap()
        .with_dimension("keptn_project", "sockshop")
        .unwrap()
        .with_dimension("keptn_stage", stage)
        .unwrap()
        .with_dimension("keptn_service", "carts")
        .unwrap()
        .with_dimension("keptn_deployment", deployment)
        .unwrap()
        .at(Utc::now())
}

/// Ingest sends the line protocol as text/plain with the token, and gets the documented report.
#[tokio::test]
async fn ingest_is_documented_and_reports_lines() {
    let t = tenant().await;
    let c = client(&t.uri());
    let lines = vec![
        line("keptn.tour.response_time", "staging", "canary", 120.0),
        line("keptn.tour.response_time", "staging", "canary", 180.0),
        MetricLine::count_delta("keptn.tour.requests.count", 7.0).unwrap(),
    ];
    let report = c.ingest_metrics(&lines).await.unwrap();
    assert_eq!(report.lines_ok, 3);
    assert!(report.is_complete());
    assert_eq!(report.requests, 1);
    assert_eq!(t.ingested_points(), 3);
    let reqs = t.requests();
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/api/v2/metrics/ingest");
    let body = reqs[0].body.as_ref().unwrap().as_str().unwrap();
    assert_eq!(body.lines().count(), 3);
    assert!(
        body.starts_with(
            "keptn.tour.response_time,keptn_deployment=\"canary\",keptn_project=\"sockshop\""
        ),
        "{body}"
    );
    assert_documented(&reqs);
}

/// A batch over 1000 lines is split; line numbers of rejected lines refer to the whole input.
#[tokio::test]
async fn ingest_batches_and_reports_invalid_lines() {
    let t = tenant().await;
    let c = client(&t.uri());
    let mut lines: Vec<MetricLine> = (0..1500)
        .map(|i| line("keptn.tour.x", "dev", "direct", f64::from(i)))
        .collect();
    // an hour and a half old: Dynatrace rejects it, the rest is stored
    lines[1200] = lines[1200]
        .clone()
        .at(Utc::now() - chrono::Duration::minutes(90));
    let report = c.ingest_metrics(&lines).await.unwrap();
    assert_eq!(report.requests, 2);
    assert_eq!(report.lines_ok, 1499);
    assert_eq!(report.lines_invalid, 1);
    assert_eq!(report.invalid_lines[0].line, 1201);
    assert!(
        report.invalid_lines[0].error.contains("timestamp"),
        "{report:?}"
    );
    assert_eq!(t.ingested_points(), 1499);
}

/// A wrong token is a 401 error that never shows the token.
#[tokio::test]
async fn ingest_with_a_bad_token_is_an_auth_error() {
    let t = tenant().await;
    let c = DynatraceClient::builder(t.uri())
        .api_token(SecretString::from("dt0c01.WRONG-SECRET"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = c
        .ingest_metrics(&[MetricLine::gauge("a.b.c", 1.0).unwrap()])
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("WRONG-SECRET") && !shown.contains(TOKEN));
}

/// A 503 on ingest is retried (it certainly had no effect); the data arrives once.
#[tokio::test]
async fn ingest_retries_503() {
    let t = tenant().await;
    t.fail_next(503, None);
    let c = client(&t.uri());
    let r = c
        .ingest_metrics(&[line("keptn.tour.x", "dev", "direct", 1.0)])
        .await
        .unwrap();
    assert_eq!(r.lines_ok, 1);
    assert_eq!(t.ingested_points(), 1);
    assert_eq!(t.requests().len(), 2);
}

const TOUR_SLI: &str = r#"
spec_version: '1.0'
indicators:
  response_time_p95: "metricSelector=keptn.tour.response_time:filter(and(eq(keptn_project,$PROJECT),eq(keptn_stage,$STAGE),eq(keptn_service,$SERVICE),eq(keptn_deployment,$DEPLOYMENT))):max"
  throughput: "metricSelector=keptn.tour.requests.count:filter(and(eq(keptn_project,$PROJECT),eq(keptn_stage,$STAGE),eq(keptn_service,$SERVICE),eq(keptn_deployment,$DEPLOYMENT))):sum"
  unsupported: "metricSelector=keptn.tour.response_time:percentile(95)"
"#;

/// The SLI provider answers from ingested data with the selector subset; unsupported
/// transformations are a 400 that fails only that SLI.
#[tokio::test]
async fn slis_come_from_ingested_data() {
    let t = tenant().await;
    let c = client(&t.uri());
    let start = Utc::now() - chrono::Duration::seconds(5);
    let mut lines = vec![
        line("keptn.tour.response_time", "staging", "canary", 300.0),
        line("keptn.tour.response_time", "staging", "canary", 1100.0),
        line("keptn.tour.response_time", "staging", "primary", 5000.0),
        line("keptn.tour.response_time", "dev", "canary", 9000.0),
    ];
    for n in [4.0, 6.0] {
        lines.push(
            MetricLine::count_delta("keptn.tour.requests.count", n)
                .unwrap()
                .with_dimension("keptn_project", "sockshop")
                .unwrap()
                .with_dimension("keptn_stage", "staging")
                .unwrap()
                .with_dimension("keptn_service", "carts")
                .unwrap()
                .with_dimension("keptn_deployment", "canary")
                .unwrap()
                .at(Utc::now()),
        );
    }
    c.ingest_metrics(&lines).await.unwrap();
    let config: SliConfig = keptn_spec::from_yaml_str(TOUR_SLI).unwrap();
    let provider = DynatraceSliProvider::new(c)
        .with_sli_config(config)
        .with_settle_time(Duration::ZERO);
    let q = SliQuery::new(
        "sockshop".parse().unwrap(),
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        start,
        Utc::now() + chrono::Duration::seconds(1),
        vec![
            "response_time_p95".to_owned(),
            "throughput".to_owned(),
            "unsupported".to_owned(),
        ],
    )
    .with_deployment("canary");
    let v = provider.fetch_slis(&q).await.unwrap();
    assert_eq!((v[0].value, v[0].success), (1100.0, true), "{v:?}");
    assert_eq!((v[1].value, v[1].success), (10.0, true), "{v:?}");
    assert!(!v[2].success, "{v:?}");
    assert!(
        v[2].message.as_deref().unwrap_or("").contains("percentile"),
        "{v:?}"
    );
    // no data for another deployment is a failed SLI, never 0
    let q2 = SliQuery::new(
        "sockshop".parse().unwrap(),
        "production".parse().unwrap(),
        "carts".parse().unwrap(),
        start,
        Utc::now(),
        vec!["response_time_p95".to_owned()],
    )
    .with_deployment("primary");
    let v = provider.fetch_slis(&q2).await.unwrap();
    assert!(
        !v[0].success && v[0].message.as_deref().unwrap_or("").contains("no data"),
        "{v:?}"
    );
    assert_documented(&t.requests());
}

/// A metric event is created once through `MonitoringSetup` (idempotent), opens a problem
/// from ingested data, and the problem closes when the data recovers; the Problems API lists
/// it in the documented shape and it turns into Keptn problem events.
#[tokio::test]
async fn metric_event_opens_and_closes_a_problem() {
    let t = tenant().await;
    t.set_sample_interval(Duration::from_millis(200));
    let c = client(&t.uri());
    let event = MetricEvent::static_threshold(
        "Failure rate increase",
        "keptn.tour.error_rate:filter(and(eq(keptn_stage,production),eq(keptn_service,carts)))",
        10.0,
    )
    .with_samples(3, 2, 3);
    let setup = MonitoringSetup::new(c.clone()).with_metric_event(event.clone());
    let first = setup.run().await;
    assert!(first.is_success(), "{first:?}");
    let item = first
        .items
        .iter()
        .find(|i| i.kind == ConfigKind::MetricEvent)
        .unwrap();
    assert_eq!(item.action, Action::Created);
    let writes = t.config_writes();
    let second = setup.run().await;
    assert!(
        second
            .items
            .iter()
            .any(|i| i.kind == ConfigKind::MetricEvent && i.action == Action::Unchanged)
    );
    assert_eq!(t.config_writes(), writes, "the second run changed nothing");

    let push = |v: f64| {
        let c = c.clone();
        async move {
            c.ingest_metrics(&[line("keptn.tour.error_rate", "production", "primary", v)])
                .await
                .unwrap();
        }
    };
    let open = loop_until(&c, &push, 30.0, |ps| ps.iter().any(|p| p.is_open())).await;
    let p = open.iter().find(|p| p.is_open()).unwrap().clone();
    assert_eq!(p.title, "Failure rate increase");
    assert_eq!(p.severity_level, "ERROR");
    assert!(p.end_time == -1);
    let one = c.problem(&p.problem_id).await.unwrap();
    assert_eq!(one.problem_id, p.problem_id);
    let closed = loop_until(&c, &push, 0.0, |ps| {
        ps.iter()
            .any(|q| q.problem_id == p.problem_id && !q.is_open())
    })
    .await;
    let done = closed
        .iter()
        .find(|q| q.problem_id == p.problem_id)
        .unwrap();
    assert!(done.ended_at().is_some());
    let scope = "keptn_project:sockshop, keptn_stage:production, keptn_service:carts";
    let opened = p
        .to_notification(&t.uri(), Some(scope))
        .to_keptn_event()
        .unwrap();
    let resolved = done
        .to_notification(&t.uri(), Some(scope))
        .to_keptn_event()
        .unwrap();
    assert_eq!(opened.ty.to_string(), "sh.keptn.event.problem.open");
    assert_eq!(resolved.data["State"], "CLOSED");
    assert_eq!(opened.shkeptncontext, resolved.shkeptncontext);
    // only open ones with status("open")
    let open_now = c.problems(Some("status(\"open\")"), None).await.unwrap();
    assert!(open_now.iter().all(|q| q.problem_id != p.problem_id));
    assert_documented(&t.requests());
}

/// Pushes `value` every 100 ms and lists problems until `done` holds (at most 10 s).
async fn loop_until<F, Fut>(
    c: &DynatraceClient,
    push: &F,
    value: f64,
    done: impl Fn(&[keptn_dynatrace::DynatraceProblem]) -> bool,
) -> Vec<keptn_dynatrace::DynatraceProblem>
where
    F: Fn(f64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        push(value).await;
        let ps = c.problems(None, None).await.unwrap();
        if done(&ps) {
            return ps;
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {ps:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Invalid metric events and problem selectors are rejected with Dynatrace's error envelope.
#[tokio::test]
async fn invalid_metric_events_and_selectors_are_400() {
    let t = tenant().await;
    let c = client(&t.uri());
    let bad = MetricEvent::static_threshold("x", "keptn.tour.e:percentile(95)", 1.0);
    let r = MonitoringSetup::new(c.clone())
        .with_metric_event(bad)
        .run()
        .await;
    let item = r
        .items
        .iter()
        .find(|i| i.kind == ConfigKind::MetricEvent)
        .unwrap();
    assert!(
        matches!(&item.action, Action::Failed(m) if m.contains("400")),
        "{item:?}"
    );
    let too_few = MetricEvent::static_threshold("y", "keptn.tour.e", 1.0).with_samples(5, 3, 2);
    let r = MonitoringSetup::new(c.clone())
        .with_metric_event(too_few)
        .run()
        .await;
    let item = r
        .items
        .iter()
        .find(|i| i.kind == ConfigKind::MetricEvent)
        .unwrap();
    assert!(
        matches!(&item.action, Action::Failed(m) if m.contains("dealertingSamples")),
        "{item:?}"
    );
    let err = c
        .problems(Some("managementZones(\"x\")"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err}");
    let err = c.problem("-1_1V2").await.unwrap_err();
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err}");
}
