//! The SLI provider and client against the fake tenant (Metrics API v2, SLO and problems API).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use keptn_dynatrace::testing::FakeTenant;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider, Error, MetricSeries, RetryPolicy};
use keptn_slo::SliProvider;
use keptn_spec::sli::SliConfig;
use secrecy::SecretString;

use crate::conformance::assert_documented;
use crate::support::{TOKEN, client, end, query, start, tenant};

const P95: &str = "builtin:service.response.time:merge(0):percentile(95)";
const THROUGHPUT: &str = "builtin:service.requestCount.total:merge(0):sum";
const ENTITY: &str = "type(SERVICE),tag(keptn_project:sockshop),tag(keptn_stage:staging),tag(keptn_service:carts),tag(keptn_deployment:canary)";

fn provider(t: &FakeTenant) -> DynatraceSliProvider {
    DynatraceSliProvider::new(client(&t.uri())).with_settle_time(Duration::ZERO)
}

/// Keptn's default queries: documented path and parameters, µs → ms for response times.
#[tokio::test]
async fn default_queries_yield_keptns_values() {
    let t = tenant().await;
    t.set_value(P95, Some(523_000.0));
    t.set_value(THROUGHPUT, Some(1200.0));
    t.set_value("builtin:service.errors.total.count:merge(0):avg", Some(0.5));
    t.set_value(
        "builtin:service.response.time:merge(0):percentile(50)",
        Some(100_000.0),
    );
    t.set_value(
        "builtin:service.response.time:merge(0):percentile(90)",
        Some(250_000.0),
    );
    let slis = [
        "throughput",
        "error_rate",
        "response_time_p50",
        "response_time_p90",
        "response_time_p95",
    ];
    let values = provider(&t).fetch_slis(&query(&slis)).await.unwrap();
    let got: Vec<(&str, f64, bool)> = values
        .iter()
        .map(|v| (v.metric.as_str(), v.value, v.success))
        .collect();
    assert_eq!(
        got,
        vec![
            ("throughput", 1200.0, true),
            ("error_rate", 0.5, true),
            ("response_time_p50", 100.0, true),
            ("response_time_p90", 250.0, true),
            ("response_time_p95", 523.0, true),
        ]
    );
    let reqs = t.requests();
    assert_eq!(reqs.len(), 5);
    let r = reqs.iter().find(|r| r.query[0].1 == P95).unwrap();
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/api/v2/metrics/query");
    let q: BTreeMap<&str, &str> = r
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(q["entitySelector"], ENTITY);
    assert_eq!(q["resolution"], "Inf");
    assert_eq!(q["from"], start().timestamp_millis().to_string());
    assert_eq!(q["to"], end().timestamp_millis().to_string());
    assert_documented(&reqs);
}

/// The older `<selector>?scope=…` form of 0.6-era sli.yaml files is scoped to services.
#[tokio::test]
async fn old_scope_format_is_translated() {
    let t = tenant().await;
    t.set_value(
        "builtin:service.requestCount.total:merge(0):count",
        Some(42.0),
    );
    let config = SliConfig::from_yaml_str(
        "spec_version: '1.0'\nindicators:\n  throughput: \"builtin:service.requestCount.total:merge(0):count?scope=tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)\"\n",
    )
    .unwrap();
    let p = provider(&t).with_sli_config(config);
    let v = p.fetch_slis(&query(&["throughput"])).await.unwrap();
    assert_eq!((v[0].value, v[0].success), (42.0, true), "{v:?}");
    let r = &t.requests()[0];
    assert_eq!(
        r.query
            .iter()
            .find(|(k, _)| k == "entitySelector")
            .unwrap()
            .1,
        "tag(keptn_project:sockshop),tag(keptn_stage:staging),tag(keptn_service:carts),tag(keptn_deployment:canary),type(SERVICE)"
    );
    assert!(!r.query.iter().any(|(k, _)| k == "scope"));
    assert_documented(&t.requests());
}

/// SLO filters and labels with URL-special characters arrive intact (encoded exactly once).
#[tokio::test]
async fn filters_and_labels_are_escaped_once() {
    let t = tenant().await;
    let selector = "calc:service.teststepresponsetime:filter(eq(Test Step,a&b=c d)):merge(0):avg";
    t.set_value(selector, Some(7.0));
    let config = SliConfig::new(BTreeMap::from([(
        "rt".to_owned(),
        "metricSelector=calc:service.teststepresponsetime:filter(eq(Test Step,$step)):merge(0):avg&entitySelector=type(SERVICE),tag(build:$LABEL.build)".to_owned(),
    )]));
    let q = query(&["rt"])
        .with_custom_filters(BTreeMap::from([("step".to_owned(), "a&b=c d".to_owned())]))
        .with_labels(BTreeMap::from([("build".to_owned(), "17+x%".to_owned())]));
    let v = provider(&t)
        .with_sli_config(config)
        .fetch_slis(&q)
        .await
        .unwrap();
    assert!(v[0].success, "{v:?}");
    assert_eq!(v[0].value, 7.0);
    let r = &t.requests()[0];
    assert_eq!(
        r.query[0],
        ("metricSelector".to_owned(), selector.to_owned())
    );
    assert_eq!(r.query[1].1, "type(SERVICE),tag(build:17+x%)");
}

/// An empty result is a failed SLI ("no data"), never 0; so is a series of nulls.
#[tokio::test]
async fn empty_result_is_a_failed_sli() {
    let t = tenant().await;
    t.set_value(THROUGHPUT, None);
    let v = provider(&t)
        .fetch_slis(&query(&["response_time_p95", "throughput"]))
        .await
        .unwrap();
    for value in &v {
        assert!(!value.success, "{value:?}");
        assert_eq!(value.value, 0.0);
        assert!(
            value.message.as_deref().unwrap().contains("no data points"),
            "{value:?}"
        );
    }
}

/// Through the quality gate: no data from the tenant fails the evaluation as Keptn does, but on
/// the pipeline, not the build; a slow response time fails on the build.
#[tokio::test]
async fn no_data_fails_the_gate_on_the_pipeline() {
    use std::sync::Arc;

    use keptn_slo::{EvaluationContext, FailedOn, InMemoryHistory, QualityGate, Slo, Verdict};

    let t = tenant().await;
    let gate = QualityGate::new(Arc::new(provider(&t)), Arc::new(InMemoryHistory::new()));
    let slo = Slo::from_yaml_str(
        "objectives:\n  - sli: response_time_p95\n    pass: [{ criteria: [\"<600\"] }]\n\
         total_score: { pass: \"90%\" }\n",
    )
    .unwrap();
    let q = query(&[]);
    let ctx = EvaluationContext::from(&q);
    for (p95, verdict, failed_on) in [
        (Some(412_000.0), Verdict::Pass, None),
        (Some(1_412_000.0), Verdict::Fail, Some(FailedOn::Build)),
        (None, Verdict::Fail, Some(FailedOn::Pipeline)),
    ] {
        t.set_value(P95, p95);
        let e = gate.evaluate(Some(&slo), &q, &ctx, "b").await.unwrap();
        assert_eq!(
            (e.verdict(), e.failed_on()),
            (verdict, failed_on),
            "{p95:?}"
        );
    }
}

/// Several series fail the SLI with advice to add `:merge(…)`.
#[tokio::test]
async fn several_series_ask_for_merge() {
    let t = tenant().await;
    t.set_series(
        P95,
        vec![
            MetricSeries::new("SERVICE-1", vec![0], vec![Some(1000.0)]),
            MetricSeries::new("SERVICE-2", vec![0], vec![Some(2000.0)]),
        ],
    );
    let v = provider(&t)
        .fetch_slis(&query(&["response_time_p95"]))
        .await
        .unwrap();
    assert!(!v[0].success);
    let msg = v[0].message.as_deref().unwrap();
    assert!(msg.contains("2 series") && msg.contains(":merge("), "{msg}");
}

/// Unknown SLIs without a query fail alone; the others are still fetched.
#[tokio::test]
async fn unsupported_sli_fails_alone() {
    let t = tenant().await;
    t.set_value(THROUGHPUT, Some(5.0));
    let v = provider(&t)
        .fetch_slis(&query(&["cpu_usage", "throughput"]))
        .await
        .unwrap();
    assert!(!v[0].success);
    assert!(
        v[0].message
            .as_deref()
            .unwrap()
            .contains("unsupported SLI metric cpu_usage")
    );
    assert!(v[1].success);
}

/// `MV2;Byte;…` divides by 1024; `SLO;<id>` reads evaluatedPercentage; `PV2;…` counts problems.
#[tokio::test]
async fn mv2_slo_and_problem_queries() {
    let t = tenant().await;
    t.set_value(
        "builtin:containers.memory.residentSetBytes:merge(0):avg",
        Some(2048.0),
    );
    t.set_slo("7d07efde-b714-3e6e-ad95-08490e2540c4", 99.25);
    t.set_problem_count(3);
    let config = SliConfig::new(BTreeMap::from([
        ("mem".to_owned(), "MV2;Byte;metricSelector=builtin:containers.memory.residentSetBytes:merge(0):avg&entitySelector=type(CONTAINER_GROUP_INSTANCE)".to_owned()),
        ("slo".to_owned(), "SLO;7d07efde-b714-3e6e-ad95-08490e2540c4".to_owned()),
        ("problems".to_owned(), "PV2;problemSelector=status(open)&entitySelector=type(SERVICE),tag(keptn_service:$SERVICE)".to_owned()),
    ]));
    let v = provider(&t)
        .with_sli_config(config)
        .fetch_slis(&query(&["mem", "slo", "problems"]))
        .await
        .unwrap();
    let got: Vec<(f64, bool)> = v.iter().map(|v| (v.value, v.success)).collect();
    assert_eq!(got, vec![(2.0, true), (99.25, true), (3.0, true)], "{v:?}");
    let reqs = t.requests();
    let slo = reqs
        .iter()
        .find(|r| r.path.starts_with("/api/v2/slo/"))
        .unwrap();
    assert!(
        slo.query
            .contains(&("timeFrame".to_owned(), "GTF".to_owned()))
    );
    assert_documented(&reqs);
}

/// 503 then 200: the SLI succeeds after a retry.
#[tokio::test]
async fn retries_503_then_succeeds() {
    let t = tenant().await;
    t.set_value(P95, Some(1000.0));
    t.fail_next(503, None);
    t.fail_next(502, None);
    let v = provider(&t)
        .fetch_slis(&query(&["response_time_p95"]))
        .await
        .unwrap();
    assert_eq!((v[0].value, v[0].success), (1.0, true), "{v:?}");
    assert_eq!(t.requests().len(), 3);
}

/// 429 with `Retry-After: 1` waits at least one second, then succeeds.
#[tokio::test]
async fn honours_retry_after_on_429() {
    let t = tenant().await;
    t.set_value(P95, Some(1000.0));
    t.fail_next(429, Some(1));
    let started = Instant::now();
    let v = provider(&t)
        .fetch_slis(&query(&["response_time_p95"]))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "did not wait for Retry-After"
    );
    assert!(v[0].success, "{v:?}");
    assert_eq!(t.requests().len(), 2);
}

/// A 429 whose Retry-After passes the total timeout is not waited for: the call fails early
/// with a transient error.
#[tokio::test]
async fn retry_after_beyond_budget_fails_fast() {
    let t = tenant().await;
    t.fail_next(429, Some(3600));
    let c = client(&t.uri());
    let started = Instant::now();
    let err = c_query(&c).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_transient(), "{err}");
    assert!(
        matches!(
            err,
            Error::Status {
                status: 429,
                retry_after: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
}

async fn c_query(c: &DynatraceClient) -> keptn_dynatrace::Result<f64> {
    DynatraceSliProvider::new(c.clone())
        .fetch_one("response_time_p95", &query(&[]))
        .await
}

/// Persistent 5xx gives up after the policy's attempts with Dynatrace's message, transient.
#[tokio::test]
async fn gives_up_after_max_attempts() {
    let t = tenant().await;
    for _ in 0..10 {
        t.fail_next(500, None);
    }
    let err = c_query(&client(&t.uri())).await.unwrap_err();
    assert_eq!(t.requests().len(), 4);
    assert!(err.is_transient());
    assert_eq!(
        err.to_string(),
        "Dynatrace GET /api/v2/metrics/query answered 500: scripted failure of the fake tenant"
    );
}

/// A wrong token fails the whole fetch (not transient) with Dynatrace's message, and the
/// token appears nowhere in the error.
#[tokio::test]
async fn wrong_token_fails_the_fetch_without_leaking_it() {
    let t = tenant().await;
    let c = DynatraceClient::builder(t.uri())
        .api_token(SecretString::from("dt0c01.WRONG-SECRET"))
        .build()
        .unwrap();
    let p = DynatraceSliProvider::new(c).with_settle_time(Duration::ZERO);
    let err = p
        .fetch_slis(&query(&["throughput", "error_rate"]))
        .await
        .unwrap_err();
    assert!(!err.transient);
    assert!(
        err.message.contains("401") && err.message.contains("Token Authentication failed"),
        "{err}"
    );
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("WRONG-SECRET") && !shown.contains(TOKEN),
        "{shown}"
    );
}

/// An attempt slower than the per-attempt timeout is retried, and the whole call is bounded
/// by the total timeout; the error says it timed out and holds no token.
#[tokio::test]
async fn slow_answers_time_out_within_the_budget() {
    let t = tenant().await;
    t.set_value(P95, Some(1.0));
    t.set_latency(Duration::from_secs(5));
    let c = DynatraceClient::builder(t.uri())
        .api_token(SecretString::from(TOKEN))
        .timeout(Duration::from_millis(200))
        .total_timeout(Duration::from_millis(700))
        .retry(RetryPolicy::new(
            10,
            Duration::from_millis(10),
            Duration::from_millis(20),
        ))
        .build()
        .unwrap();
    let p = DynatraceSliProvider::new(c).with_settle_time(Duration::ZERO);
    let started = Instant::now();
    let err = p
        .fetch_slis(&query(&["response_time_p95"]))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "not bounded: {:?}",
        started.elapsed()
    );
    assert!(err.transient, "{err}");
    assert!(
        err.message.contains("timed out") || err.message.contains("no answer within"),
        "{err}"
    );
    assert!(!format!("{err:?}").contains(TOKEN));
    assert!(t.requests().len() >= 2, "the slow attempt was not retried");
}

/// Connection refused: retried, then a transient "unreachable" error without the token,
/// also in the error's source chain.
#[tokio::test]
async fn connect_errors_are_transient_and_redacted() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = client(&format!("http://127.0.0.1:{port}"));
    let err = c_query(&c).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport { connect: true, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    let mut chain = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    assert!(
        !chain.contains(TOKEN) && !chain.contains("SECRET"),
        "{chain}"
    );
    let p = DynatraceSliProvider::new(c).with_settle_time(Duration::ZERO);
    let err = p.fetch_slis(&query(&["throughput"])).await.unwrap_err();
    assert!(
        err.transient && err.message.contains("unreachable"),
        "{err}"
    );
}

/// The provider waits for the settle time after the window's end before querying, and
/// rejects windows far in the future or reversed.
#[tokio::test]
async fn settle_time_and_window_checks() {
    let t = tenant().await;
    t.set_value(THROUGHPUT, Some(1.0));
    let p =
        DynatraceSliProvider::new(client(&t.uri())).with_settle_time(Duration::from_millis(600));
    let now = chrono::Utc::now();
    let mut q = query(&["throughput"]);
    q.start = now - chrono::Duration::minutes(5);
    q.end = now;
    let started = Instant::now();
    assert!(p.fetch_slis(&q).await.unwrap()[0].success);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "did not settle: {:?}",
        started.elapsed()
    );

    // no indicators: no request and no wait
    let before = t.requests().len();
    let mut empty = q.clone();
    empty.indicators.clear();
    let started = Instant::now();
    assert!(p.fetch_slis(&empty).await.unwrap().is_empty());
    assert!(started.elapsed() < Duration::from_millis(300));
    assert_eq!(t.requests().len(), before);

    q.end = now + chrono::Duration::hours(1);
    let err = p.fetch_slis(&q).await.unwrap_err();
    assert!(err.message.contains("in the future"), "{err}");
    q.start = q.end + chrono::Duration::minutes(1);
    assert!(
        p.fetch_slis(&q)
            .await
            .unwrap_err()
            .message
            .contains("after it ends")
    );
}

/// The fake rejects what the real API rejects: no or wrong auth header, a missing
/// metricSelector, malformed encoding or selectors, an entitySelector without type/entityId.
#[tokio::test]
async fn fake_rejects_what_the_api_rejects() {
    let t = tenant().await;
    let http = reqwest::Client::new();
    let get = |q: &str, auth: Option<&str>| {
        let mut r = http.get(format!("{}/api/v2/metrics/query?{q}", t.uri()));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send()
    };
    let auth = format!("Api-Token {TOKEN}");
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(get("metricSelector=a", None).await.unwrap()), 401);
    assert_eq!(
        status(
            get("metricSelector=a", Some(&format!("Bearer {TOKEN}")))
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            get("metricSelector=a", Some("Api-Token nope"))
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(get("metricSelector=a", Some(&auth)).await.unwrap()),
        200
    );
    let r = get("entitySelector=type(SERVICE)", Some(&auth))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["constraintViolations"][0]["path"],
        "metricSelector"
    );
    assert_eq!(
        status(get("metricSelector=a%zz", Some(&auth)).await.unwrap()),
        400
    );
    assert_eq!(
        status(
            get("metricSelector=builtin%253Aservice", Some(&auth))
                .await
                .unwrap()
        ),
        400
    );
    assert_eq!(
        status(get("metricSelector=a:merge(0", Some(&auth)).await.unwrap()),
        400
    );
    assert_eq!(
        status(
            get("metricSelector=a&entitySelector=tag(x)", Some(&auth))
                .await
                .unwrap()
        ),
        400
    );
    assert_eq!(
        status(
            get("metricSelector=a&from=10&to=5", Some(&auth))
                .await
                .unwrap()
        ),
        400
    );
    let r = http
        .get(format!("{}/api/v2/nope", t.uri()))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}
