//! What an evaluation runs in ([`EvaluationContext`]) and what it gives ([`Evaluation`],
//! [`FailedOn`]), with the shadow and inconclusive rewrites of a computed result.

use std::collections::BTreeMap;

use keptn_spec::evaluation::{EvaluationFinishedData, Status};
use keptn_spec::{ProjectName, ServiceName, StageName, Verdict};

use super::text::{GoFloat, base64};
use crate::report::SliReport;

/// Where an evaluation runs: the event fields copied into the result.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct EvaluationContext {
    /// The project (`None` when unknown; named in Keptn's "no SLO file" message).
    pub project: Option<ProjectName>,
    /// The stage (`None` when unknown).
    pub stage: Option<StageName>,
    /// The service (`None` when unknown).
    pub service: Option<ServiceName>,
    /// Labels of the triggering event.
    pub labels: BTreeMap<String, String>,
    /// Base64 of the SLO file as written (Keptn's `sloFileContent`); see [`base64`].
    pub slo_file_content: String,
}

/// A name as the evaluation event writes it: empty when unknown.
pub(super) fn name_or_empty(name: Option<&impl AsRef<str>>) -> String {
    name.map(|n| n.as_ref().to_owned()).unwrap_or_default()
}

impl EvaluationContext {
    /// A context for one service of one stage of a project (typed names, as in
    /// [`SliQuery`](crate::SliQuery)).
    pub fn new(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project: Some(project),
            stage: Some(stage),
            service: Some(service),
            ..Self::default()
        }
    }

    /// Records the raw SLO file (stored base64-encoded, as Keptn does since 0.7).
    #[must_use]
    pub fn with_slo_file(mut self, raw: &str) -> Self {
        self.slo_file_content = base64(raw.as_bytes());
        self
    }

    /// Sets the labels.
    #[must_use]
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }
}

/// The result of [`evaluate`](super::evaluate): Keptn's `evaluation.finished` data plus what
/// the explanation needs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Evaluation {
    /// Exactly what Keptn's lighthouse would send as `evaluation.finished` data.
    pub data: EvaluationFinishedData,
    /// Per indicator result: how many previous values formed its baseline.
    pub baseline_samples: Vec<u32>,
    /// For a failed evaluation, what failed: the build, the pipeline or the SLO.
    pub failed_on: Option<FailedOn>,
}

/// What a failed evaluation failed on. Keptn reports all three as `result: fail`; a caller
/// deciding whom to alert (the team that built, the team that runs monitoring, the author of
/// the SLO) needs to tell them apart.
///
/// ```
/// use keptn_slo::{evaluate, EvaluationContext, FailedOn, SliReport};
/// use keptn_spec::{Slo, SliValue};
///
/// let slo = Slo::from_yaml_str("objectives:\n  - sli: error_rate\n    pass: [{criteria: [\"<1\"]}]\ntotal_score: {pass: \"90%\"}\n")?;
/// let ctx = EvaluationContext::default();
/// let bad_build = evaluate(Some(&slo), &SliReport::succeeded(vec![SliValue::ok("error_rate", 3.0)]), &[], &ctx);
/// assert_eq!(bad_build.failed_on(), Some(FailedOn::Build));
/// let no_data = evaluate(Some(&slo), &SliReport::errored("Dynatrace answered 503"), &[], &ctx);
/// assert_eq!(no_data.failed_on(), Some(FailedOn::Pipeline));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailedOn {
    /// The objectives: the score is below the thresholds or a key SLI failed, on the values
    /// the provider returned.
    Build,
    /// The data: the SLI provider aborted, errored or reported `result: fail`, the previous
    /// evaluations could not be read, or the verdict rests on indicators without data (no
    /// value, or a value the provider marked failed) — with full marks for those the
    /// evaluation would not have failed. The build is not to blame.
    Pipeline,
    /// The SLO itself: `total_score` missing or unparsable, no objectives, or an unparsable
    /// pass criterion.
    Slo,
}

impl std::fmt::Display for FailedOn {
    /// `build`, `pipeline` or `slo`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailedOn::Build => "build",
            FailedOn::Pipeline => "pipeline",
            FailedOn::Slo => "slo",
        })
    }
}

impl Evaluation {
    /// The verdict (`result`).
    pub fn verdict(&self) -> Verdict {
        self.data.result
    }

    /// The total score in percent.
    pub fn score(&self) -> f64 {
        self.data.evaluation.score
    }

    /// The task status (`succeeded`, or `errored` when no evaluation could run).
    pub fn status(&self) -> Status {
        self.data.status
    }

    /// For a failed evaluation, whether the build, the pipeline or the SLO failed.
    pub fn failed_on(&self) -> Option<FailedOn> {
        self.failed_on
    }

    /// Whether the evaluation was inconclusive (beyond Keptn: an objective whose no-data
    /// policy is `inconclusive` had no data, or every scored objective was left out by
    /// `ignore`). Its [`verdict`](Self::verdict) is then `fail` (what the event says, so Keptn
    /// consumers stay safe) and [`failed_on`](Self::failed_on) the pipeline.
    ///
    /// ```
    /// use keptn_slo::{evaluate, EvaluationContext, FailedOn, SliReport};
    /// use keptn_spec::{Slo, SliValue, Verdict};
    ///
    /// let slo = Slo::from_yaml_str(r#"
    /// no_data: inconclusive
    /// objectives:
    ///   - sli: error_rate
    ///     pass: [{ criteria: ["<1"] }]
    ///   - sli: rt
    ///     pass: [{ criteria: ["<600"] }]
    /// total_score: { pass: "90%" }
    /// "#)?;
    /// let sli = SliReport::succeeded(vec![SliValue::ok("rt", 420.0), SliValue::failed("error_rate", "timeout")]);
    /// let e = evaluate(Some(&slo), &sli, &[], &EvaluationContext::default());
    /// assert!(e.is_inconclusive());
    /// assert_eq!(e.verdict(), Verdict::Fail);
    /// assert_eq!(e.failed_on(), Some(FailedOn::Pipeline));
    /// assert_eq!(e.data.message, "evaluation inconclusive: no data for error_rate");
    /// assert!(keptn_slo::render::json(&e).contains(r#""keptn-rs": {
    ///     "inconclusive": true
    ///   }"#));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_inconclusive(&self) -> bool {
        self.data.keptn_rs.inconclusive
    }

    /// The verdict a shadow SLO would have given (beyond Keptn: `shadow: true` at the top of
    /// `slo.yaml`); `None` for an SLO that gates. The evaluation itself then passes.
    ///
    /// ```
    /// use keptn_slo::{evaluate, EvaluationContext, SliReport};
    /// use keptn_spec::{Slo, SliValue, Verdict};
    ///
    /// let slo = Slo::from_yaml_str("shadow: true\nobjectives:\n  - sli: rt\n    pass: [{criteria: [\"<300\"]}]\ntotal_score: {pass: \"90%\"}\n")?;
    /// let e = evaluate(Some(&slo), &SliReport::succeeded(vec![SliValue::ok("rt", 420.0)]), &[], &EvaluationContext::default());
    /// assert_eq!(e.verdict(), Verdict::Pass);
    /// assert_eq!(e.shadow_verdict(), Some(Verdict::Fail));
    /// assert_eq!(e.data.keptn_rs.shadow_score, Some(0.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shadow_verdict(&self) -> Option<Verdict> {
        self.data.keptn_rs.shadow_result
    }

    /// A shadow SLO's evaluation: the computed verdict and score move to the `keptn-rs`
    /// extension and the message; the event passes with score 100 (nothing was gated).
    pub(super) fn into_shadow(mut self) -> Self {
        let d = &mut self.data;
        let would = if d.keptn_rs.inconclusive {
            "inconclusive".to_owned()
        } else {
            d.result.to_string()
        };
        let why = if d.message.is_empty() {
            String::new()
        } else {
            format!(": {}", d.message)
        };
        d.message = format!(
            "shadow SLO, blocks nothing: it would have given {would} with score {}{why}",
            GoFloat(d.evaluation.score)
        );
        d.keptn_rs.shadow_result = Some(d.result);
        d.keptn_rs.shadow_score = Some(d.evaluation.score);
        d.keptn_rs.inconclusive = false;
        d.status = Status::Succeeded;
        d.result = Verdict::Pass;
        d.evaluation.result = Verdict::Pass.as_str().to_owned();
        d.evaluation.score = 100.0;
        self.failed_on = None;
        self
    }

    /// Makes a computed evaluation inconclusive: `fail` in the event, with `message`.
    pub(super) fn inconclusive(&mut self, message: String) {
        self.data.result = Verdict::Fail;
        self.data.evaluation.result = Verdict::Fail.as_str().to_owned();
        self.data.message = message;
        self.data.keptn_rs.inconclusive = true;
        self.failed_on = Some(FailedOn::Pipeline);
    }

    /// An evaluation that ended before any objective was scored.
    pub(super) fn early(
        ctx: &EvaluationContext,
        sli: &SliReport,
        status: Status,
        result: Verdict,
        message: String,
    ) -> Self {
        let mut data = EvaluationFinishedData::new(status, result, message);
        data.project = name_or_empty(ctx.project.as_ref());
        data.stage = name_or_empty(ctx.stage.as_ref());
        data.service = name_or_empty(ctx.service.as_ref());
        data.labels.clone_from(&ctx.labels);
        data.evaluation.time_start = sli.start;
        data.evaluation.time_end = sli.end;
        data.evaluation
            .slo_file_content
            .clone_from(&ctx.slo_file_content);
        Self {
            data,
            baseline_samples: Vec::new(),
            failed_on: None,
        }
    }

    #[must_use]
    pub(super) fn failing_on(mut self, on: FailedOn) -> Self {
        self.failed_on = Some(on);
        self
    }
}
