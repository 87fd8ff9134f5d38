//! The built-in HTTP test runner: functional checks and load, like Keptn's jmeter-service
//! workloads (`basiccheck.jmx`, `load.jmx`) without JMeter.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{FuturesUnordered, StreamExt};

use super::{Progress, TestOutcome, TestProgress, TestReport, TestRequest, TestRunner};
use crate::{Error, Result, StageService, TestStrategy};

/// One HTTP request and what its response must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct HttpCheck {
    method: String,
    path: String,
    body: Option<String>,
    expect_status: Option<u16>,
    body_contains: Vec<String>,
}

impl HttpCheck {
    /// `GET path`, expecting any 2xx status.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: "GET".into(),
            path: path.into(),
            body: None,
            expect_status: None,
            body_contains: Vec::new(),
        }
    }

    /// `POST path` with a JSON `body`, expecting any 2xx status.
    pub fn post_json(path: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            method: "POST".into(),
            body: Some(body.into()),
            ..Self::get(path)
        }
    }

    /// Requires exactly `status`.
    pub fn expect_status(mut self, status: u16) -> Self {
        self.expect_status = Some(status);
        self
    }

    /// Requires the response body to contain `fragment`.
    pub fn expect_body(mut self, fragment: impl Into<String>) -> Self {
        self.body_contains.push(fragment.into());
        self
    }

    /// The path.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// How much load, for how long, and what counts as passing.
///
/// Keptn's jmeter-service defaults are [`Workload::functional`] (1 user × 1 loop, any error
/// fails) and [`Workload::performance`] (10 users × 500 loops, 250 ms think time, fails above
/// 10 % errors).
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Workload {
    checks: Vec<HttpCheck>,
    users: u32,
    iterations: Option<u32>,
    duration: Option<Duration>,
    rate: Option<f64>,
    think_time: Duration,
    accepted_error_rate: f64,
    max_mean_latency: Option<Duration>,
    request_timeout: Duration,
}

impl Workload {
    /// Runs every check once with one user; any error fails the run.
    pub fn functional(checks: Vec<HttpCheck>) -> Self {
        Self {
            checks,
            users: 1,
            iterations: Some(1),
            duration: None,
            rate: None,
            think_time: Duration::ZERO,
            accepted_error_rate: 0.0,
            max_mean_latency: None,
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Keptn's performance default: 10 users × 500 loops of `checks`, 250 ms think time,
    /// at most 10 % errors.
    pub fn performance(checks: Vec<HttpCheck>) -> Self {
        Self {
            users: 10,
            iterations: Some(500),
            think_time: Duration::from_millis(250),
            accepted_error_rate: 0.1,
            ..Self::functional(checks)
        }
    }

    /// `users` concurrent virtual users (at least 1).
    pub fn users(mut self, users: u32) -> Self {
        self.users = users.max(1);
        self
    }

    /// Each user runs the checks `n` times (clears [`Workload::duration`]).
    pub fn iterations(mut self, n: u32) -> Self {
        self.iterations = Some(n);
        self.duration = None;
        self
    }

    /// Users run the checks repeatedly for `d` (clears [`Workload::iterations`]).
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self.iterations = None;
        self
    }

    /// Caps the total request rate at `per_second` across all users.
    pub fn rate(mut self, per_second: f64) -> Self {
        self.rate = (per_second.is_finite() && per_second > 0.0).then_some(per_second);
        self
    }

    /// A pause after each request of a user.
    pub fn think_time(mut self, d: Duration) -> Self {
        self.think_time = d;
        self
    }

    /// The highest error rate (0.0..=1.0) that still passes.
    pub fn accepted_error_rate(mut self, rate: f64) -> Self {
        self.accepted_error_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Fails the run when the mean latency is above `d` (Keptn's `avgrtvalidation`).
    pub fn max_mean_latency(mut self, d: Duration) -> Self {
        self.max_mean_latency = Some(d);
        self
    }

    /// Timeout of a single request (default 10 s); a timeout counts as an error.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
}

/// A [`TestRunner`] that drives HTTP checks and load with its own client.
///
/// A health check (Keptn's `basiccheck.jmx`) can run first; if it fails the run fails without
/// load. Strategies without a workload are an error, except that a missing workload for a
/// strategy the runner was told to skip passes with no requests.
///
/// ```
/// use keptn_deploy::runner::{HttpCheck, HttpTestRunner, Workload};
/// use keptn_deploy::TestStrategy;
/// use std::time::Duration;
///
/// let runner = HttpTestRunner::new()
///     .health_check(vec![HttpCheck::get("/health").expect_status(200)])
///     .workload(TestStrategy::Functional, Workload::functional(vec![
///         HttpCheck::get("/carts/1/items").expect_body("items"),
///     ]))
///     .workload(TestStrategy::Performance, Workload::performance(vec![HttpCheck::get("/carts/1/items")])
///         .users(10)
///         .duration(Duration::from_secs(60))
///         .think_time(Duration::from_millis(250)));
/// # let _ = runner;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct HttpTestRunner {
    health: Option<Workload>,
    workloads: BTreeMap<String, Workload>,
    skip: Vec<String>,
    observer: Option<Observer>,
}

/// One request the [`HttpTestRunner`] sent, as its observer sees it: a client-side
/// measurement (the latency includes the network between runner and service).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestSample<'a> {
    /// The service under test.
    pub target: &'a StageService,
    /// The base URL the run tested (the first of [`TestRequest::uris`]).
    pub base: &'a str,
    /// When the request was sent.
    pub started_at: DateTime<Utc>,
    /// Time until the answer (or the transport error).
    pub latency: Duration,
    /// The HTTP status, `None` when no answer came (connection failed, timeout).
    pub status: Option<u16>,
    /// Whether the request met its check (status and body expectations).
    pub passed: bool,
}

impl<'a> RequestSample<'a> {
    /// A sample (for observers under test and for runners other than [`HttpTestRunner`]).
    pub fn new(
        target: &'a StageService,
        base: &'a str,
        started_at: DateTime<Utc>,
        latency: Duration,
        status: Option<u16>,
        passed: bool,
    ) -> Self {
        Self {
            target,
            base,
            started_at,
            latency,
            status,
            passed,
        }
    }
}

type ObserverFn = dyn Fn(&RequestSample<'_>) + Send + Sync;

#[derive(Clone)]
struct Observer(Arc<ObserverFn>);

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

impl HttpTestRunner {
    /// A runner with no workloads.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `checks` once before every workload; any failure fails the run.
    pub fn health_check(mut self, checks: Vec<HttpCheck>) -> Self {
        self.health = Some(Workload::functional(checks));
        self
    }

    /// The workload for `strategy`.
    pub fn workload(mut self, strategy: TestStrategy, workload: Workload) -> Self {
        self.workloads.insert(String::from(strategy), workload);
        self
    }

    /// Treats `strategy` as "no tests" (passes without requests), as Keptn's jmeter-service
    /// does for `real-user`.
    pub fn skip(mut self, strategy: TestStrategy) -> Self {
        self.skip.push(String::from(strategy));
        self
    }

    /// Calls `observer` after every request (health checks included) with what the client
    /// measured, e.g. to feed client-side SLIs when no server-side monitoring exists. It must be
    /// quick; it runs on the test's task.
    pub fn observer(
        mut self,
        observer: impl Fn(&RequestSample<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Observer(Arc::new(observer)));
        self
    }
}

#[derive(Default)]
struct Tally {
    requests: u64,
    errors: u64,
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

struct Run<'a> {
    client: reqwest::Client,
    base: String,
    workload: &'a Workload,
    tally: Mutex<Tally>,
    next_slot: Mutex<Option<Instant>>,
    started: Instant,
    progress: &'a Progress,
    offset: (u64, u64),
    target: &'a StageService,
    observer: Option<&'a Observer>,
}

impl Run<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn wait_for_slot(&self) {
        let Some(rate) = self.workload.rate else {
            return;
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let at = {
            let mut next = self
                .next_slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + interval);
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }

    async fn one(&self, check: &HttpCheck) {
        self.wait_for_slot().await;
        let url = format!("{}{}", self.base.trim_end_matches('/'), check.path);
        let started = Instant::now();
        let started_at = Utc::now();
        let mut status_seen = None;
        let mut req = match check.method.as_str() {
            "POST" => self.client.post(&url),
            "PUT" => self.client.put(&url),
            "DELETE" => self.client.delete(&url),
            _ => self.client.get(&url),
        };
        if let Some(body) = &check.body {
            req = req
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let outcome: std::result::Result<(), String> = match req.send().await {
            Err(e) => Err(format!("{} {url}: {}", check.method, transport_message(&e))),
            Ok(resp) => {
                let status = resp.status().as_u16();
                status_seen = Some(status);
                let status_ok = match check.expect_status {
                    Some(s) => s == status,
                    None => (200..300).contains(&status),
                };
                if !status_ok {
                    Err(format!(
                        "{} {url}: status {status}, expected {}",
                        check.method,
                        check
                            .expect_status
                            .map_or("2xx".to_owned(), |s| s.to_string())
                    ))
                } else if check.body_contains.is_empty() {
                    Ok(())
                } else {
                    match resp.text().await {
                        Err(e) => Err(format!(
                            "{} {url}: reading the body: {}",
                            check.method,
                            transport_message(&e)
                        )),
                        Ok(text) => match check
                            .body_contains
                            .iter()
                            .find(|f| !text.contains(f.as_str()))
                        {
                            Some(missing) => Err(format!(
                                "{} {url}: body does not contain `{missing}`",
                                check.method
                            )),
                            None => Ok(()),
                        },
                    }
                }
            }
        };
        let latency = started.elapsed();
        if let Some(observer) = self.observer {
            (observer.0)(&RequestSample {
                target: self.target,
                base: &self.base,
                started_at,
                latency,
                status: status_seen,
                passed: outcome.is_ok(),
            });
        }
        let snapshot = {
            let mut t = self.lock();
            t.requests += 1;
            t.latencies.push(latency);
            if let Err(msg) = outcome {
                t.errors += 1;
                if t.failures.len() < 20 {
                    t.failures.push(msg);
                }
            }
            TestProgress {
                done: self.offset.0 + t.requests,
                total: self.workload.iterations.map(|i| {
                    self.offset.0
                        + u64::from(i)
                            * u64::from(self.workload.users)
                            * self.workload.checks.len() as u64
                }),
                errors: self.offset.1 + t.errors,
                elapsed: self.started.elapsed(),
                planned: self.workload.duration,
            }
        };
        self.progress.report(&snapshot);
    }

    async fn user(&self, deadline: Option<Instant>) {
        let mut i = 0u32;
        loop {
            if let Some(n) = self.workload.iterations
                && i >= n
            {
                return;
            }
            for check in &self.workload.checks {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return;
                }
                self.one(check).await;
                if !self.workload.think_time.is_zero() {
                    tokio::time::sleep(self.workload.think_time).await;
                }
            }
            i = i.saturating_add(1);
            if self.workload.checks.is_empty() {
                return;
            }
        }
    }

    async fn execute(&self) {
        let deadline = self.workload.duration.map(|d| self.started + d);
        let mut users: FuturesUnordered<_> = (0..self.workload.users)
            .map(|_| self.user(deadline))
            .collect();
        while users.next().await.is_some() {}
    }
}

/// The error text of a reqwest error with its causes, without the URL (it is printed anyway)
/// and never a credential (test URLs carry none).
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

impl HttpTestRunner {
    async fn run_workload(
        &self,
        target: &StageService,
        base: &str,
        workload: &Workload,
        progress: &Progress,
        offset: (u64, u64),
    ) -> Result<Tally> {
        let client = reqwest::Client::builder()
            .timeout(workload.request_timeout)
            .build()
            .map_err(|e| Error::Test {
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let run = Run {
            client,
            base: base.to_owned(),
            workload,
            tally: Mutex::new(Tally::default()),
            next_slot: Mutex::new(None),
            started: Instant::now(),
            progress,
            offset,
            target,
            observer: self.observer.as_ref(),
        };
        run.execute().await;
        Ok(run
            .tally
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[async_trait]
impl TestRunner for HttpTestRunner {
    fn name(&self) -> &str {
        "http"
    }

    async fn run(&self, request: &TestRequest, progress: &Progress) -> Result<TestReport> {
        let start = Utc::now();
        let key = request.strategy.as_str();
        if self.skip.iter().any(|s| s == key) {
            return Ok(TestReport::skipped(
                request.strategy.clone(),
                start,
                format!("test strategy `{key}` runs no tests"),
            ));
        }
        let Some(workload) = self.workloads.get(key) else {
            return Err(Error::Test {
                message: format!("no workload configured for test strategy `{key}`"),
            });
        };
        let Some(base) = request.uris.first() else {
            return Err(Error::Test {
                message: format!("no deployment URI to test for {}", request.target),
            });
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Test {
                message: format!("deployment URI `{base}` is not an http(s) URL"),
            });
        }
        let mut all = Tally::default();
        let mut verdict: Option<String> = None;
        if let Some(health) = &self.health {
            let t = self
                .run_workload(&request.target, base, health, progress, (0, 0))
                .await?;
            if t.errors > 0 {
                verdict = Some(format!(
                    "health check failed: {} of {} requests failed",
                    t.errors, t.requests
                ));
            }
            merge(&mut all, t);
        }
        if verdict.is_none() {
            let t = self
                .run_workload(
                    &request.target,
                    base,
                    workload,
                    progress,
                    (all.requests, all.errors),
                )
                .await?;
            let rate = if t.requests == 0 {
                0.0
            } else {
                t.errors as f64 / t.requests as f64
            };
            let mean = (!t.latencies.is_empty()).then(|| {
                t.latencies.iter().sum::<Duration>()
                    / u32::try_from(t.latencies.len()).unwrap_or(u32::MAX)
            });
            if t.requests == 0 {
                verdict = Some("the workload sent no requests".into());
            } else if rate > workload.accepted_error_rate {
                verdict = Some(format!(
                    "{} of {} requests failed ({:.1} % > accepted {:.1} %)",
                    t.errors,
                    t.requests,
                    rate * 100.0,
                    workload.accepted_error_rate * 100.0
                ));
            } else if let (Some(max), Some(mean)) = (workload.max_mean_latency, mean)
                && mean > max
            {
                verdict = Some(format!("mean latency {mean:?} above {max:?}"));
            }
            merge(&mut all, t);
        }
        let end = Utc::now();
        let outcome = if verdict.is_some() {
            TestOutcome::Fail
        } else {
            TestOutcome::Pass
        };
        let message =
            verdict.unwrap_or_else(|| format!("{} requests, {} errors", all.requests, all.errors));
        Ok(TestReport {
            strategy: request.strategy.clone(),
            start,
            end,
            outcome,
            requests: all.requests,
            errors: all.errors,
            latencies: all.latencies,
            failures: all.failures,
            message,
        })
    }
}

fn merge(into: &mut Tally, from: Tally) {
    into.requests += from.requests;
    into.errors += from.errors;
    into.latencies.extend(from.latencies);
    for f in from.failures {
        if into.failures.len() < 20 {
            into.failures.push(f);
        }
    }
}
