//! The seed tutorial's three deliveries end to end, with in-memory fakes for Kubernetes, the
//! tests and the monitoring data, and the real quality gate engine:
//! 0.11.1 is promoted to production; the slow 0.11.2 fails the staging gate, is rolled back and
//! production keeps 0.11.1; 0.11.3 is promoted.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use keptn_deploy::delivery::{Delivery, DeliveryReport, DeliveryTrigger, GateEvaluator};
use keptn_deploy::testing::{DeployerCall, InMemoryDeployer, StaticTestRunner};
use keptn_deploy::{Artifact, DeploymentStrategy, JsonLinesSink, StageService, TestOutcome};
use keptn_slo::{InMemoryHistory, ProviderError, QualityGate, SliProvider, SliQuery};
use keptn_spec::event::{EventType, FanOut, KeptnEvent, MemoryEventSink, Phase, Status, Verdict};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{ParseOptions, SliValue, Slo};

/// The seed's shipyard (Keptn 0.6 format).
const SHIPYARD: &str = r#"
stages:
  - name: "dev"
    deployment_strategy: "direct"
    test_strategy: "functional"
  - name: "staging"
    deployment_strategy: "blue_green_service"
    test_strategy: "performance"
  - name: "production"
    deployment_strategy: "blue_green_service"
    remediation_strategy: "automated"
"#;

/// The seed's quality gate for carts in staging.
const SLO: &str = r#"
spec_version: "0.1.1"
comparison:
  aggregate_function: "avg"
  compare_with: "single_result"
  include_result_with_score: "pass"
  number_of_comparison_results: 1
filter:
objectives:
  - sli: "response_time_p95"
    key_sli: false
    pass:
      - criteria:
          - "<=+10%"
          - "<600"
    warning:
      - criteria:
          - "<=800"
    weight: 1
total_score:
  pass: "90%"
  warning: "75%"
"#;

/// Plays Dynatrace: the p95 response time of the version under test in a stage — the canary
/// if one waits, else the serving one. Build 0.11.2 has the seed's 1 s slowdown.
#[derive(Debug)]
struct SlowBuildMonitoring {
    deployer: InMemoryDeployer,
}

#[async_trait]
impl SliProvider for SlowBuildMonitoring {
    fn name(&self) -> &str {
        "in-memory-dynatrace"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        let target = StageService::new(
            query.project.clone(),
            query.stage.clone(),
            query.service.clone(),
        );
        let image = self
            .deployer
            .canary_image(&target)
            .or_else(|| self.deployer.serving_image(&target))
            .ok_or_else(|| {
                ProviderError::new("in-memory-dynatrace", "no data: nothing deployed", false)
            })?;
        let p95 = if image.ends_with(":0.11.2") {
            1320.0
        } else if image.ends_with(":0.11.3") {
            305.0
        } else {
            300.0
        };
        Ok(query
            .indicators
            .iter()
            .map(|i| SliValue::ok(i.clone(), p95))
            .collect())
    }
}

struct Tour {
    delivery: Delivery,
    deployer: InMemoryDeployer,
    events: MemoryEventSink,
    _dir: tempfile::TempDir,
    log: std::path::PathBuf,
}

fn tour() -> Tour {
    let shipyard = Shipyard::parse(SHIPYARD, &ParseOptions::new().file("shipyard.yaml"))
        .unwrap()
        .value;
    let deployer = InMemoryDeployer::new();
    let events = MemoryEventSink::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let sink = FanOut::new()
        .with(events.clone())
        .with(JsonLinesSink::append(&log).unwrap());
    let gate = QualityGate::new(
        Arc::new(SlowBuildMonitoring {
            deployer: deployer.clone(),
        }),
        Arc::new(InMemoryHistory::new()),
    );
    let evaluator = GateEvaluator::new(gate).with_slo(
        "staging".parse().unwrap(),
        "carts".parse().unwrap(),
        Slo::from_yaml_str(SLO).unwrap(),
    );
    let delivery = Delivery::new(shipyard, Arc::new(deployer.clone()), Arc::new(sink))
        .with_test_runner(Arc::new(StaticTestRunner::new(TestOutcome::Pass)))
        .with_evaluator(Arc::new(evaluator))
        .with_strategy_override("carts-db".parse().unwrap(), DeploymentStrategy::Direct);
    Tour {
        delivery,
        deployer,
        events,
        _dir: dir,
        log,
    }
}

fn carts(stage: &str) -> StageService {
    StageService::new(
        "sockshop".parse().unwrap(),
        stage.parse().unwrap(),
        "carts".parse().unwrap(),
    )
}

async fn deliver(t: &Tour, service: &str, image: &str) -> DeliveryReport {
    let trigger = DeliveryTrigger::new(
        "sockshop".parse().unwrap(),
        service.parse().unwrap(),
        Artifact::new(image).unwrap(),
    );
    t.delivery.deliver(trigger).await.unwrap()
}

fn ran(report: &DeliveryReport) -> Vec<String> {
    report
        .sequences
        .iter()
        .map(|s| format!("{}.{}", s.stage, s.sequence))
        .collect()
}

/// Every `.triggered` task event of the delivery has exactly one `.started` and one `.finished`
/// answer; sequence events pair up too; all share the delivery's context.
#[track_caller]
fn assert_event_pairs(events: &[KeptnEvent]) {
    let triggered: Vec<&KeptnEvent> = events.iter().filter(|e| e.ty.is_triggered()).collect();
    for t in &triggered {
        for phase in [Phase::Started, Phase::Finished] {
            let answers = events
                .iter()
                .filter(|e| e.triggeredid.as_ref() == Some(&t.id) && e.ty.phase() == Some(phase))
                .count();
            assert_eq!(answers, 1, "{} needs one .{phase}", t.ty);
        }
    }
    let contexts: BTreeSet<_> = events.iter().map(|e| e.shkeptncontext).collect();
    assert_eq!(contexts.len(), 1, "one keptn context per delivery");
}

/// The whole tour: carts-db direct everywhere; 0.11.1 reaches production; 0.11.2 stops at the
/// staging gate and is rolled back, production untouched; 0.11.3 is promoted.
#[tokio::test]
async fn seed_tour_three_deliveries() {
    let t = tour();

    // carts-db, direct in every stage despite the blue/green shipyard
    let report = deliver(&t, "carts-db", "docker.io/mongo:4.2.2").await;
    assert_eq!(
        ran(&report),
        ["dev.delivery", "staging.delivery", "production.delivery"]
    );
    for call in t.deployer.calls() {
        if let DeployerCall::Deploy {
            target, strategy, ..
        } = call
        {
            assert_eq!(strategy, DeploymentStrategy::Direct, "{target}");
        }
    }

    // 0.11.1: promoted to production
    let report = deliver(&t, "carts", "docker.io/keptnexamples/carts:0.11.1").await;
    assert_eq!(
        ran(&report),
        ["dev.delivery", "staging.delivery", "production.delivery"]
    );
    for s in &report.sequences {
        assert_eq!(
            (s.status, s.result),
            (Status::Succeeded, Verdict::Pass),
            "{s:?}"
        );
        let tasks: Vec<_> = s.tasks.iter().map(|t| t.name.as_str()).collect();
        // the 0.1 conversion adds `approval` only for stages with an `approval_strategy` and
        // `test` only for stages with a `test_strategy` (production has none)
        if s.stage.as_str() == "production" {
            assert_eq!(tasks, ["deployment", "evaluation", "release"]);
        } else {
            assert_eq!(tasks, ["deployment", "test", "evaluation", "release"]);
        }
    }
    let staging_eval = report
        .sequence("staging", "delivery")
        .unwrap()
        .task("evaluation")
        .unwrap();
    assert_eq!(staging_eval.data["score"], 100.0, "{staging_eval:?}");
    for stage in ["dev", "staging", "production"] {
        assert_eq!(
            t.deployer.serving_image(&carts(stage)).as_deref(),
            Some("docker.io/keptnexamples/carts:0.11.1")
        );
        assert_eq!(t.deployer.canary_image(&carts(stage)), None);
    }
    assert_event_pairs(&t.events.in_context(&report.context));

    // 0.11.2: the slow build fails the staging gate and is rolled back
    let report = deliver(&t, "carts", "docker.io/keptnexamples/carts:0.11.2").await;
    assert_eq!(
        ran(&report),
        ["dev.delivery", "staging.delivery", "staging.rollback"]
    );
    assert_eq!(
        t.deployer.serving_image(&carts("dev")).as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.2")
    );
    let staging = report.sequence("staging", "delivery").unwrap();
    assert_eq!(
        (staging.status, staging.result),
        (Status::Succeeded, Verdict::Fail)
    );
    let tasks: Vec<_> = staging.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        tasks,
        ["deployment", "test", "evaluation"],
        "the sequence stops at the failed gate"
    );
    let eval = staging.task("evaluation").unwrap();
    assert_eq!(eval.result, Verdict::Fail);
    assert_eq!(
        eval.data["indicatorResults"][0]["value"]["value"], 1320.0,
        "{eval:?}"
    );
    assert_eq!(
        report.sequence("staging", "rollback").unwrap().result,
        Verdict::Pass
    );
    assert_eq!(
        t.deployer.serving_image(&carts("staging")).as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.1")
    );
    assert_eq!(
        t.deployer.canary_image(&carts("staging")),
        None,
        "the slow canary is discarded"
    );
    assert_eq!(
        t.deployer.serving_image(&carts("production")).as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.1"),
        "production is untouched"
    );
    let events = t.events.in_context(&report.context);
    assert_event_pairs(&events);
    assert!(
        events.iter().all(|e| e.data["stage"] != "production"),
        "no production event for 0.11.2"
    );
    let finished = events
        .iter()
        .find(|e| e.ty.to_string() == "sh.keptn.event.staging.delivery.finished")
        .unwrap();
    assert_eq!(finished.data["result"], "fail");

    // 0.11.3: passes and is promoted (compared with 0.11.1, the last passing evaluation)
    let report = deliver(&t, "carts", "docker.io/keptnexamples/carts:0.11.3").await;
    assert_eq!(
        ran(&report),
        ["dev.delivery", "staging.delivery", "production.delivery"]
    );
    assert_eq!(
        report.sequence("staging", "delivery").unwrap().result,
        Verdict::Pass
    );
    assert_eq!(
        t.deployer.serving_image(&carts("production")).as_deref(),
        Some("docker.io/keptnexamples/carts:0.11.3")
    );

    // the JSON-lines timeline holds every event of the four deliveries
    let logged = JsonLinesSink::read(&t.log).unwrap();
    assert_eq!(logged, t.events.events());
}

/// The task `.triggered` data follows Keptn's merge: the test sees the deployment's URIs and the
/// image; every event names the stage it belongs to.
#[tokio::test]
async fn task_payloads_carry_earlier_results() {
    let t = tour();
    let report = deliver(&t, "carts", "docker.io/keptnexamples/carts:0.11.1").await;
    let events = t.events.in_context(&report.context);
    let test_triggered: Vec<_> = events
        .iter()
        .filter(|e| e.ty.to_string() == "sh.keptn.event.test.triggered")
        .collect();
    assert_eq!(
        test_triggered.len(),
        2,
        "dev and staging test; production has no test strategy"
    );
    let staging = test_triggered
        .iter()
        .find(|e| e.data["stage"] == "staging")
        .unwrap();
    assert_eq!(staging.data["test"]["teststrategy"], "performance");
    assert_eq!(
        staging.data["deployment"]["deploymentURIsLocal"][0],
        "http://carts-canary.sockshop-staging"
    );
    assert_eq!(
        staging.data["configurationChange"]["values"]["image"],
        "docker.io/keptnexamples/carts:0.11.1"
    );
    assert_eq!(staging.data["result"], "pass");
    let seq: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.ty, EventType::Sequence { .. }))
        .map(|e| e.ty.to_string())
        .collect();
    assert_eq!(
        seq,
        [
            "sh.keptn.event.dev.delivery.triggered",
            "sh.keptn.event.dev.delivery.started",
            "sh.keptn.event.dev.delivery.finished",
            "sh.keptn.event.staging.delivery.triggered",
            "sh.keptn.event.staging.delivery.started",
            "sh.keptn.event.staging.delivery.finished",
            "sh.keptn.event.production.delivery.triggered",
            "sh.keptn.event.production.delivery.started",
            "sh.keptn.event.production.delivery.finished",
        ]
    );
}
