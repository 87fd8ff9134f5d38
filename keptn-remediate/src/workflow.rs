//! The remediation workflow: problem → matching remediation → actions one at a time → verify →
//! resolved, or next action → escalate.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use keptn_spec::event::{DiscardEventSink, EventSink, KeptnContext, KeptnEvent};
use keptn_spec::remediation::RemediationFile;
use keptn_spec::{Problem, ProjectName, ServiceName, StageName};
use serde::Serialize;
use tokio::sync::watch;

mod run;
use run::{Events, Run, millis};

use crate::action::ActionStatus;
use crate::error::{Error, Result};
use crate::notification::ProblemNotification;
use crate::registry::ActionRegistry;
use crate::report::StepReport;
use crate::verify::{ResolvedEventVerifier, ResolvedSignal, Verifier};

/// The name of the remediation sequence in event types (`sh.keptn.event.<stage>.remediation.*`).
pub const SEQUENCE: &str = "remediation";

/// Whether actions run or are only reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Run the actions.
    #[default]
    Execute,
    /// Report what would be done; change nothing and emit only the remediation sequence events.
    DryRun,
}

/// How a remediation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RemediationStatus {
    /// The problem is resolved: a verification said so, or the RESOLVED notification arrived.
    Resolved,
    /// Every action ran (or failed) and the problem is still open: people must act.
    Escalated,
    /// No remediation file, or no entry in it, matches the problem; nothing was done.
    NoMatch,
    /// A workflow for this problem (same PID) already ran or is running; nothing was done.
    Duplicate,
    /// Dry run: the report lists what would have been done.
    DryRun,
}

impl RemediationStatus {
    /// The kebab-case name, such as `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::Escalated => "escalated",
            Self::NoMatch => "no-match",
            Self::Duplicate => "duplicate",
            Self::DryRun => "dry-run",
        }
    }
}

impl fmt::Display for RemediationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The remediation that matched a problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MatchedRemediation {
    /// The file it came from (as given when it was added), when known.
    pub file: Option<String>,
    /// The `problemType` (0.1.4) or `name` (0.6) that matched.
    pub problem_type: String,
    /// How it matched (`root-cause`, `title`, `default`, `title-prefix`).
    pub matched_by: String,
    /// Its index in the file's list.
    pub index: usize,
    /// How many actions it has.
    pub actions: usize,
}

/// The record of one remediation: what matched, each step, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RemediationReport {
    /// The problem's PID.
    pub pid: String,
    /// The problem title.
    pub problem_title: String,
    /// The Keptn context of the events (derived from the PID, as Keptn's API does).
    pub keptn_context: String,
    /// How it ended.
    pub status: RemediationStatus,
    /// What matched, if anything.
    pub matched: Option<MatchedRemediation>,
    /// Each step, in order.
    pub steps: Vec<StepReport>,
    /// A summary for people.
    pub message: String,
    /// How long the whole remediation took, in milliseconds.
    pub elapsed_ms: u64,
}

impl RemediationReport {
    /// Whether every action that ran succeeded (vacuously false when none ran).
    pub fn actions_succeeded(&self) -> bool {
        !self.steps.is_empty()
            && self
                .steps
                .iter()
                .all(|s| s.outcome.status == ActionStatus::Succeeded)
    }
}

/// Where remediation files apply: a stage, or one service of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Scope {
    project: ProjectName,
    stage: StageName,
    service: Option<ServiceName>,
}

#[derive(Debug)]
struct LoadedFile {
    file: RemediationFile,
    name: Option<String>,
}

/// Builds a [`Remediator`].
#[must_use]
#[derive(Debug)]
pub struct RemediatorBuilder {
    registry: ActionRegistry,
    verifier: Option<Arc<dyn Verifier>>,
    sink: Arc<dyn EventSink>,
    wait: Duration,
    mode: Mode,
    remember: Duration,
}

impl RemediatorBuilder {
    /// Sets how to decide whether the problem is resolved after each action (default: whether
    /// the RESOLVED notification arrived during the wait, [`ResolvedEventVerifier`] with no
    /// extra timeout).
    pub fn verifier(mut self, verifier: impl Verifier + 'static) -> Self {
        self.verifier = Some(Arc::new(verifier));
        self
    }

    /// Sets a shared verifier.
    pub fn shared_verifier(mut self, verifier: Arc<dyn Verifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Sets where the Keptn events go (default: discarded).
    pub fn event_sink(mut self, sink: impl EventSink + 'static) -> Self {
        self.sink = Arc::new(sink);
        self
    }

    /// Sets how long to wait after an action before verifying (Keptn's `WAIT_TIME_MINUTES`,
    /// default 10 minutes). A RESOLVED notification ends the wait early.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Sets how long a problem's PID is remembered after its last OPEN or RESOLVED notification
    /// or the end of its workflow, whichever is later (default [`DEFAULT_REMEMBER_PROBLEMS`], 24 hours). Within that time a repeated
    /// notification starts nothing; after it, the PID is forgotten so memory stays bounded in
    /// a long-running process. A PID whose workflow is still running is never forgotten.
    pub fn remember_problems(mut self, remember: Duration) -> Self {
        self.remember = remember;
        self
    }

    /// Sets execute or dry-run mode (default [`Mode::Execute`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Builds the remediator.
    pub fn build(self) -> Remediator {
        Remediator {
            inner: Arc::new(Inner {
                registry: self.registry,
                verifier: self
                    .verifier
                    .unwrap_or_else(|| Arc::new(ResolvedEventVerifier::new(Duration::ZERO))),
                sink: self.sink,
                wait: self.wait,
                mode: self.mode,
                files: RwLock::new(BTreeMap::new()),
                problems: Mutex::new(SeenTable::new()),
                remember: self.remember,
            }),
        }
    }
}

#[derive(Debug)]
struct Inner {
    registry: ActionRegistry,
    verifier: Arc<dyn Verifier>,
    sink: Arc<dyn EventSink>,
    wait: Duration,
    mode: Mode,
    files: RwLock<BTreeMap<Scope, LoadedFile>>,
    /// Every PID seen (running, finished or resolved before it started) → its RESOLVED flag,
    /// forgotten [`RemediatorBuilder::remember_problems`] after it was last heard of (or its
    /// workflow ended) unless a workflow for it still runs.
    problems: Mutex<SeenTable>,
    remember: Duration,
}

/// What the remediator remembers of one PID.
#[derive(Debug)]
struct Seen {
    resolved: watch::Sender<bool>,
    last_heard: tokio::time::Instant,
}

impl Seen {
    fn new(resolved: bool) -> Self {
        Self {
            resolved: watch::channel(resolved).0,
            last_heard: tokio::time::Instant::now(),
        }
    }
}

impl Seen {
    /// Last heard of `remember` ago or longer, and no workflow running (a running workflow
    /// holds a receiver of its RESOLVED flag).
    fn expired(&self, now: tokio::time::Instant, remember: Duration) -> bool {
        self.resolved.receiver_count() == 0 && now.duration_since(self.last_heard) >= remember
    }
}

/// The PIDs the remediator remembers. Expired entries count as absent at once; the table is
/// swept of them at most once a minute (or once per retention, when shorter), so a
/// notification costs O(1) amortised however many PIDs are remembered.
#[derive(Debug)]
struct SeenTable {
    map: HashMap<String, Seen>,
    next_sweep: tokio::time::Instant,
}

impl SeenTable {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            next_sweep: tokio::time::Instant::now(),
        }
    }

    /// The entry of `pid`, unless it expired (then it is dropped).
    fn get_mut(&mut self, pid: &str, remember: Duration) -> Option<&mut Seen> {
        let now = tokio::time::Instant::now();
        if self.map.get(pid).is_some_and(|s| s.expired(now, remember)) {
            self.map.remove(pid);
        }
        self.map.get_mut(pid)
    }

    fn insert(&mut self, pid: String, seen: Seen, remember: Duration) {
        let now = tokio::time::Instant::now();
        if now >= self.next_sweep {
            self.map.retain(|_, s| !s.expired(now, remember));
            self.next_sweep = now + remember.min(Duration::from_secs(60));
        }
        self.map.insert(pid, seen);
    }
}

/// How long a PID is remembered by default after it was last heard of.
pub const DEFAULT_REMEMBER_PROBLEMS: Duration = Duration::from_secs(24 * 60 * 60);

/// Runs remediations for problems: Keptn's remediation loop.
///
/// On [`on_problem_open`](Self::on_problem_open) it picks the remediation file of the problem's
/// service (or else its stage), selects the entry for the problem (0.1.4: exact root cause →
/// title → `default`; 0.6 list: title prefix), then runs the entry's actions one at a time.
/// After each successful action it waits (see [`RemediatorBuilder::wait`]) and asks the
/// [`Verifier`]; it stops as soon as the problem is resolved, and escalates when the actions are
/// exhausted. A RESOLVED notification ([`on_problem_resolved`](Self::on_problem_resolved))
/// stops the workflow before its next step. A second notification for the same PID never
/// starts a second workflow. Every step emits Keptn events: the `remediation` sequence
/// (`sh.keptn.event.<stage>.remediation.triggered/started/finished`) and, per step, `action`
/// and `evaluation` `triggered/started/finished`, all in the context derived from the PID.
///
/// Cheap to clone; clones share state, so one clone can handle RESOLVED notifications while
/// another runs the workflow.
///
/// # Deliberate differences from Keptn
/// - A failed action is reported and the next action runs without waiting; Keptn waited and
///   evaluated after any `action.finished`.
/// - The 0.6 list runs all actions of the matching entry in order (Keptn 0.6 ran only the first).
/// - Unknown actions and bad values are rejected when a file is added, not when a problem arrives.
#[derive(Debug, Clone)]
pub struct Remediator {
    inner: Arc<Inner>,
}

impl Remediator {
    /// A builder with the actions the workflow may run.
    pub fn builder(registry: ActionRegistry) -> RemediatorBuilder {
        RemediatorBuilder {
            registry,
            verifier: None,
            sink: Arc::new(DiscardEventSink),
            wait: Duration::from_secs(600),
            mode: Mode::Execute,
            remember: DEFAULT_REMEMBER_PROBLEMS,
        }
    }

    /// The action registry.
    pub fn registry(&self) -> &ActionRegistry {
        &self.inner.registry
    }

    /// Adds the remediation file of a stage (`service: None`) or of one service, after checking
    /// that every action is registered and accepts its value. Replaces an earlier file of the
    /// same scope.
    ///
    /// # Errors
    /// [`Error::InvalidRemediation`] listing unknown actions and bad values.
    pub fn add_remediation(
        &self,
        project: ProjectName,
        stage: StageName,
        service: Option<ServiceName>,
        file: RemediationFile,
        file_name: Option<&str>,
    ) -> Result<()> {
        self.inner.registry.check(&file, file_name)?;
        let scope = Scope {
            project,
            stage,
            service,
        };
        self.inner
            .files
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                scope,
                LoadedFile {
                    file,
                    name: file_name.map(str::to_owned),
                },
            );
        Ok(())
    }

    /// Parses `yaml` (either remediation format) and adds it like
    /// [`add_remediation`](Self::add_remediation).
    ///
    /// # Errors
    /// [`Error::Parse`] with the line and column, or [`Error::InvalidRemediation`].
    pub fn add_remediation_yaml(
        &self,
        project: ProjectName,
        stage: StageName,
        service: Option<ServiceName>,
        yaml: &str,
        file_name: Option<&str>,
    ) -> Result<()> {
        let file = RemediationFile::from_yaml_str(yaml).map_err(|source| Error::Parse {
            file: file_name.map(str::to_owned),
            source,
        })?;
        self.add_remediation(project, stage, service, file, file_name)
    }

    /// Records the problem's RESOLVED (or CLOSED) notification. A running workflow for it stops
    /// before its next step; a later OPEN notification with this PID starts nothing.
    ///
    /// Returns whether the PID was already known (a workflow ran or is running for it).
    pub fn on_problem_resolved(&self, pid: &str) -> bool {
        let mut problems = self
            .inner
            .problems
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let remember = self.inner.remember;
        match problems.get_mut(pid, remember) {
            Some(seen) => {
                seen.resolved.send_replace(true);
                seen.last_heard = tokio::time::Instant::now();
                true
            }
            None => {
                problems.insert(pid.to_owned(), Seen::new(true), remember);
                false
            }
        }
    }

    /// Handles one Keptn event: an OPEN problem runs the remediation (see
    /// [`ProblemNotification::from_event`] for the events understood), a RESOLVED/CLOSED one
    /// stops it; other events are ignored (`Ok(None)`).
    ///
    /// # Errors
    /// [`Error::InvalidProblem`] when a problem event lacks what remediation needs.
    pub async fn handle_event(&self, event: &KeptnEvent) -> Result<Option<RemediationReport>> {
        match ProblemNotification::from_event(event)? {
            Some(ProblemNotification::Open(problem)) => {
                Ok(Some(self.on_problem_open(problem).await))
            }
            Some(ProblemNotification::Resolved { pid }) => {
                self.on_problem_resolved(&pid);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Runs the remediation for a newly opened problem and reports what happened.
    ///
    /// Returns at once with [`RemediationStatus::Duplicate`] when this PID was seen before.
    pub async fn on_problem_open(&self, problem: Problem) -> RemediationReport {
        let started = Instant::now();
        let context = KeptnContext::from_ingress(&problem.pid);
        let signal = {
            let mut problems = self
                .inner
                .problems
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(seen) = problems.get_mut(&problem.pid, self.inner.remember) {
                seen.last_heard = tokio::time::Instant::now();
                let message = if *seen.resolved.borrow() {
                    "the problem was already resolved; no remediation started"
                } else {
                    "a remediation for this problem (same PID) already ran or is running"
                };
                tracing::info!(pid = %problem.pid, "{message}");
                return RemediationReport {
                    pid: problem.pid.clone(),
                    problem_title: problem.title.clone(),
                    keptn_context: context.to_string(),
                    status: RemediationStatus::Duplicate,
                    matched: None,
                    steps: Vec::new(),
                    message: message.to_owned(),
                    elapsed_ms: 0,
                };
            }
            let seen = Seen::new(false);
            let signal = ResolvedSignal::from_sender(&seen.resolved);
            problems.insert(problem.pid.clone(), seen, self.inner.remember);
            signal
        };
        let run = Run {
            inner: &self.inner,
            events: Events::new(Arc::clone(&self.inner.sink), context, &problem),
            problem: &problem,
            signal,
        };
        let mut report = run.execute().await;
        if let Some(seen) = self
            .inner
            .problems
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .get_mut(&problem.pid)
        {
            // Refreshed unconditionally: the memory runs from the end of the workflow.
            seen.last_heard = tokio::time::Instant::now();
        }
        report.elapsed_ms = millis(started.elapsed());
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expired PIDs count as absent at once and are swept from the table at the next insert
    /// a minute on; a PID whose workflow runs (a receiver is alive) is never swept.
    #[tokio::test(start_paused = true)]
    async fn the_seen_table_stays_bounded() {
        let remember = Duration::from_secs(600);
        let mut table = SeenTable::new();
        let running = Seen::new(false);
        let _workflow = running.resolved.subscribe();
        table.insert("running".to_owned(), running, remember);
        for i in 0..1000 {
            table.insert(format!("P{i}"), Seen::new(false), remember);
        }
        assert_eq!(table.map.len(), 1001);
        tokio::time::advance(Duration::from_secs(599)).await;
        assert!(table.get_mut("P1", remember).is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(table.get_mut("P2", remember).is_none(), "expired");
        // The next insert sweeps every other expired PID.
        table.insert("new".to_owned(), Seen::new(false), remember);
        assert!(table.map.contains_key("running"));
        assert!(table.map.contains_key("new"));
        assert_eq!(table.map.len(), 2, "everything else expired");
    }
}
