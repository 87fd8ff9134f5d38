//! The `TestRunner` port (Keptn's jmeter-service role) and the built-in HTTP runner.

#[cfg(feature = "http-runner")]
mod http;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "http-runner")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-runner")))]
pub use http::{HttpCheck, HttpTestRunner, RequestSample, Workload};

use crate::{Result, StageService, TestStrategy};

/// What to test: Keptn's `test.triggered` for one service.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TestRequest {
    /// The service under test.
    pub target: StageService,
    /// Which tests (`functional`, `performance`, …).
    pub strategy: TestStrategy,
    /// Where the new version answers (Keptn's `deploymentURIsLocal`, else `deploymentURIsPublic`);
    /// runners use the first.
    pub uris: Vec<String>,
}

impl TestRequest {
    /// A request to run `strategy` against `uris`.
    pub fn new(target: StageService, strategy: TestStrategy, uris: Vec<String>) -> Self {
        Self {
            target,
            strategy,
            uris,
        }
    }
}

/// Whether the tests passed (Keptn's `test.finished` `result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestOutcome {
    /// Every criterion of the workload held.
    Pass,
    /// Some check failed or the error rate was too high.
    Fail,
}

impl TestOutcome {
    /// `pass` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
        }
    }
}

/// The result of one test run, with every latency and error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestReport {
    /// The strategy that ran.
    pub strategy: TestStrategy,
    /// When the run started (Keptn's `test.start`).
    pub start: DateTime<Utc>,
    /// When it ended (Keptn's `test.end`); evaluations use `start..end` as their window.
    pub end: DateTime<Utc>,
    /// Pass or fail.
    pub outcome: TestOutcome,
    /// Requests sent.
    pub requests: u64,
    /// Requests that failed (transport error, unexpected status, missing body fragment).
    pub errors: u64,
    /// The latency of every request, in the order they completed.
    #[serde(with = "latency_millis")]
    pub latencies: Vec<Duration>,
    /// The first error messages (at most 20), for the report.
    pub failures: Vec<String>,
    /// A one-line summary.
    pub message: String,
}

impl TestReport {
    /// A report of a run that sent nothing and passed (no tests configured).
    pub fn skipped(strategy: TestStrategy, at: DateTime<Utc>, message: impl Into<String>) -> Self {
        Self {
            strategy,
            start: at,
            end: at,
            outcome: TestOutcome::Pass,
            requests: 0,
            errors: 0,
            latencies: Vec::new(),
            failures: Vec::new(),
            message: message.into(),
        }
    }

    /// Errors divided by requests (0 when nothing was sent).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// The `p`-th percentile latency (nearest rank, `p` in 0..=100), `None` without requests.
    pub fn latency_percentile(&self, p: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
    }

    /// The mean latency, `None` without requests.
    pub fn mean_latency(&self) -> Option<Duration> {
        let n = u32::try_from(self.latencies.len())
            .ok()
            .filter(|n| *n > 0)?;
        Some(self.latencies.iter().sum::<Duration>() / n)
    }
}

mod latency_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let ms = Vec::<f64>::deserialize(d)?;
        Ok(ms
            .into_iter()
            .map(|m| Duration::from_secs_f64((m.max(0.0)) / 1000.0))
            .collect())
    }
}

/// Where a run is: passed to the [`Progress`] callback after every request.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TestProgress {
    /// Requests completed.
    pub done: u64,
    /// Requests planned, when the workload is count-based.
    pub total: Option<u64>,
    /// Errors so far.
    pub errors: u64,
    /// Time since the run started.
    pub elapsed: Duration,
    /// Planned duration, when the workload is time-based.
    pub planned: Option<Duration>,
}

type ProgressFn = dyn Fn(&TestProgress) + Send + Sync;

/// A progress callback, e.g. to drive a progress bar; [`Progress::none`] ignores progress.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<ProgressFn>>);

impl Progress {
    /// No progress reporting.
    pub fn none() -> Self {
        Self(None)
    }

    /// Calls `f` after every request. It must be quick; it runs on the test's task.
    pub fn new(f: impl Fn(&TestProgress) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    /// Reports `p` to the callback, if any.
    pub fn report(&self, p: &TestProgress) {
        if let Some(f) = &self.0 {
            f(p);
        }
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Progress")
            .field(&if self.0.is_some() { "callback" } else { "none" })
            .finish()
    }
}

/// Runs tests against a deployed service: Keptn's jmeter-service role.
///
/// Contract: a failed test is a [`TestReport`] with [`TestOutcome::Fail`]; `Err` means the
/// tests could not run at all (no URI, no workload for the strategy, a broken runner).
/// Implementations bound their own time and never block a thread.
///
/// Implementing it (with the re-exported [`async_trait`](crate::async_trait)):
///
/// ```
/// use keptn_deploy::{Error, Progress, Result, TestReport, TestRequest, TestRunner, async_trait};
///
/// /// Refuses to run anything: a stand-in for a runner that calls an external tool.
/// #[derive(Debug)]
/// struct NoTests;
///
/// #[async_trait]
/// impl TestRunner for NoTests {
///     fn name(&self) -> &str {
///         "none"
///     }
///     async fn run(&self, request: &TestRequest, _progress: &Progress) -> Result<TestReport> {
///         Err(Error::Test { message: format!("no tests for {}", request.strategy) })
///     }
/// }
///
/// let runner: Box<dyn TestRunner> = Box::new(NoTests);
/// assert_eq!(runner.name(), "none");
/// ```
#[async_trait]
pub trait TestRunner: Send + Sync + fmt::Debug {
    /// A short name for events and logs (`http`, `jmeter`, …).
    fn name(&self) -> &str;

    /// Runs the tests of `request.strategy` against `request.uris`.
    ///
    /// # Errors
    /// [`crate::Error::Test`] when the tests cannot run.
    async fn run(&self, request: &TestRequest, progress: &Progress) -> Result<TestReport>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(latencies_ms: &[u64]) -> TestReport {
        let mut r = TestReport::skipped(TestStrategy::Performance, Utc::now(), "");
        r.latencies = latencies_ms
            .iter()
            .map(|m| Duration::from_millis(*m))
            .collect();
        r.requests = r.latencies.len() as u64;
        r
    }

    /// Nearest-rank percentiles and the mean over recorded latencies.
    #[test]
    fn percentiles() {
        let r = report(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(r.latency_percentile(95.0), Some(Duration::from_millis(100)));
        assert_eq!(r.latency_percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(r.latency_percentile(0.0), Some(Duration::from_millis(10)));
        assert_eq!(r.mean_latency(), Some(Duration::from_millis(55)));
        assert_eq!(report(&[]).latency_percentile(95.0), None);
    }

    /// Reports serialize latencies as milliseconds and round-trip.
    #[test]
    fn report_round_trips() {
        let r = report(&[5, 7]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["latencies"][1], 7.0);
        assert_eq!(v["outcome"], "pass");
        let back: TestReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }
}
