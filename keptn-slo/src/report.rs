//! Engine inputs: what the SLI provider answered and the previous evaluations.

use chrono::{DateTime, Utc};
use keptn_spec::SliValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

use keptn_spec::Verdict;
use keptn_spec::evaluation::{
    EvaluationDetails, EvaluationFinishedData, IndicatorResult, IndicatorStatus, SliResult, Status,
};
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::Arc;

/// The outcome of `get-sli`: Keptn's `get-sli.finished` data (`status`, `result`, `message`,
/// `indicatorValues`), the engine's SLI input.
///
/// Reads both the flat shape (`{"status","result","message","indicatorValues":[…]}`) and the
/// gen-2 event shape with the values nested under `"get-sli"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SliReport {
    /// `succeeded`, or `errored`/`aborted` when the provider could not answer.
    pub status: Status,
    /// `pass`, or `fail` when the provider reports a failure (values are still evaluated).
    pub result: SliReportResult,
    /// The provider's message.
    pub message: String,
    /// The values, one per indicator.
    #[serde(rename = "indicatorValues")]
    pub values: Vec<SliValue>,
    /// Start of the measured window, when known.
    #[serde(skip)]
    pub start: Option<DateTime<Utc>>,
    /// End of the measured window, when known.
    #[serde(skip)]
    pub end: Option<DateTime<Utc>>,
}

/// The `result` of a `get-sli.finished` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SliReportResult {
    /// The provider delivered values.
    #[default]
    Pass,
    /// The provider reports a failure.
    #[serde(alias = "failed")]
    Fail,
    /// Warning (treated like pass by the lighthouse).
    Warning,
}

impl SliReport {
    /// A successful fetch with these values.
    pub fn succeeded(values: Vec<SliValue>) -> Self {
        Self {
            status: Status::Succeeded,
            result: SliReportResult::Pass,
            message: String::new(),
            values,
            start: None,
            end: None,
        }
    }

    /// A fetch that could not run at all (`status: errored`, `result: fail`).
    pub fn errored(message: impl Into<String>) -> Self {
        Self {
            status: Status::Errored,
            result: SliReportResult::Fail,
            message: message.into(),
            values: Vec::new(),
            start: None,
            end: None,
        }
    }

    /// Reads SLI values from JSON: an array of `{"metric","value","success","message"}` or a
    /// `get-sli.finished` data object (flat or with the values under `"get-sli"`), in one pass.
    ///
    /// # Errors
    /// The JSON error (with line and column) when the text is neither shape.
    ///
    /// ```
    /// use keptn_slo::SliReport;
    ///
    /// let list = SliReport::from_json_str(r#"[{"metric": "error_rate", "value": 0.2, "success": true}]"#)?;
    /// let event = SliReport::from_json_str(r#"{"status": "succeeded", "indicatorValues": [{"metric": "error_rate", "value": 0.2, "success": true}]}"#)?;
    /// assert_eq!(list, event);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_json_str(text: &str) -> Result<Self, serde_json::Error> {
        if text.trim_start().starts_with('[') {
            Ok(Self::succeeded(serde_json::from_str(text)?))
        } else {
            serde_json::from_str(text)
        }
    }

    /// Sets the measured window.
    #[must_use]
    pub fn with_window(mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        self.start = Some(start);
        self.end = Some(end);
        self
    }
}

impl<'de> Deserialize<'de> for SliReport {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Nested {
            #[serde(rename = "indicatorValues", default)]
            values: Option<Vec<SliValue>>,
            #[serde(default)]
            start: Option<String>,
            #[serde(default)]
            end: Option<String>,
        }
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            status: Option<Status>,
            #[serde(default)]
            result: Option<SliReportResult>,
            #[serde(default)]
            message: Option<String>,
            #[serde(rename = "indicatorValues", default)]
            values: Option<Vec<SliValue>>,
            #[serde(rename = "get-sli", default)]
            get_sli: Option<Nested>,
        }
        let w = Wire::deserialize(d)?;
        let nested_values = w.get_sli.as_ref().and_then(|n| n.values.clone());
        let parse_time = |s: Option<&String>| {
            s.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let (start, end) = match &w.get_sli {
            Some(n) => (parse_time(n.start.as_ref()), parse_time(n.end.as_ref())),
            None => (None, None),
        };
        let values = match (w.values, nested_values) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => {
                return Err(serde::de::Error::custom(
                    "expected `indicatorValues` (a list of {metric, value, success, message})",
                ));
            }
        };
        Ok(Self {
            status: match w.status {
                None | Some(Status::Unknown) => Status::Succeeded,
                Some(s) => s,
            },
            result: w.result.unwrap_or_default(),
            message: w.message.unwrap_or_default(),
            values,
            start,
            end,
        })
    }
}

/// A previous evaluation as stored in the history: the `evaluation.finished` data, the event
/// id (reported in `comparedEvents`) and whether it was invalidated.
///
/// Written as the event data with `id` (and `"invalidated": true`) beside its fields; read
/// the same way, field by field (no intermediate buffering: histories are large).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PreviousWire")]
#[non_exhaustive]
pub struct PreviousEvaluation {
    /// The id of the `evaluation.finished` event, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether an `evaluation.invalidated` event retracted it (it is then never compared with).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invalidated: bool,
    /// The event data.
    #[serde(flatten)]
    pub data: EvaluationFinishedData,
}

impl PreviousEvaluation {
    /// A previous evaluation with an id.
    pub fn new(id: impl Into<String>, data: EvaluationFinishedData) -> Self {
        Self {
            id: Some(id.into()),
            invalidated: false,
            data,
        }
    }
}

impl PreviousEvaluation {
    /// Reads a JSON array of previous evaluations (as [`PreviousEvaluation`]'s own
    /// `Deserialize` does), keeping only what an evaluation reads from them: `id`,
    /// `invalidated`, `result` and every indicator result's `value` (`metric`, `value`,
    /// `success`; a `null` value stays a placeholder, since the engine matches results by
    /// position too). Everything else is skipped without being built, which makes reading a
    /// large history several times faster; the other fields are left at their defaults, so
    /// use the full `Deserialize` to show or re-send the evaluations.
    ///
    /// ```
    /// use keptn_slo::{evaluate, EvaluationContext, PreviousEvaluation, SliReport};
    /// use keptn_spec::{Slo, SliValue};
    ///
    /// let text = r#"[{"id": "e1", "result": "pass", "status": "succeeded", "message": "",
    ///   "evaluation": {"result": "pass", "score": 100, "indicatorResults": [
    ///     {"score": 1, "status": "pass", "displayName": "RT", "passTargets": [],
    ///      "value": {"metric": "rt", "value": 400, "comparedValue": 0, "success": true}}]}}]"#;
    /// let lean = PreviousEvaluation::baselines_from_json_str(text)?;
    /// let full: Vec<PreviousEvaluation> = serde_json::from_str(text)?;
    /// let slo = Slo::from_yaml_str("objectives:\n  - sli: rt\n    pass: [{criteria: [\"<=+10%\"]}]\ntotal_score: {pass: \"90%\"}\n")?;
    /// let sli = SliReport::succeeded(vec![SliValue::ok("rt", 430.0)]);
    /// let ctx = EvaluationContext::default();
    /// assert_eq!(evaluate(Some(&slo), &sli, &lean, &ctx), evaluate(Some(&slo), &sli, &full, &ctx));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The JSON error (with line and column) when the text is not such an array.
    pub fn baselines_from_json_str(text: &str) -> Result<Vec<Self>, serde_json::Error> {
        // The scanner answers alone only where it gives serde's answer; anything else (and
        // every error, with its line, column and field) goes through serde.
        if let Some(previous) = crate::lean_scan::scan_previous(text) {
            return Ok(previous);
        }
        Self::baselines_from_json_str_serde(text)
    }

    /// [`baselines_from_json_str`](Self::baselines_from_json_str) through serde alone (the
    /// scanner's fallback, and the reference it is tested against).
    pub(crate) fn baselines_from_json_str_serde(
        text: &str,
    ) -> Result<Vec<Self>, serde_json::Error> {
        let lean: Vec<LeanWire<'_>> = serde_json::from_str(text)?;
        Ok(lean.into_iter().map(Self::from).collect())
    }
}

/// What [`PreviousEvaluation::baselines_from_json_str`] reads of a previous evaluation.
#[derive(Deserialize)]
struct LeanWire<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    invalidated: bool,
    result: Verdict,
    #[serde(default, borrow)]
    evaluation: LeanDetails<'a>,
}

#[derive(Deserialize, Default)]
struct LeanDetails<'a> {
    #[serde(rename = "indicatorResults", default, borrow)]
    indicator_results: Option<Vec<LeanResult<'a>>>,
}

#[derive(Deserialize)]
struct LeanResult<'a> {
    #[serde(default, borrow)]
    value: Option<LeanValue<'a>>,
}

#[derive(Deserialize)]
struct LeanValue<'a> {
    /// Borrowed from the text unless it holds escapes: one allocation (the shared `Arc<str>`)
    /// per name instead of two.
    #[serde(borrow)]
    metric: Cow<'a, str>,
    #[serde(default)]
    value: f64,
    #[serde(default)]
    success: bool,
}

impl From<LeanWire<'_>> for PreviousEvaluation {
    fn from(w: LeanWire<'_>) -> Self {
        let results = w.evaluation.indicator_results.map(|results| {
            results
                .into_iter()
                .map(|r| {
                    lean_indicator(
                        r.value
                            .map(|v| lean_sli(Arc::from(&*v.metric), v.value, v.success)),
                    )
                })
                .collect()
        });
        lean_previous(w.id, w.invalidated, w.result, results)
    }
}

/// A lean reader's SLI value: what the engine reads of it, the rest at its default.
pub(crate) fn lean_sli(metric: Arc<str>, value: f64, success: bool) -> SliResult {
    SliResult {
        metric,
        value,
        compared_value: 0.0,
        success,
        message: String::new(),
    }
}

/// A lean reader's indicator result: its value, the rest at its default.
pub(crate) fn lean_indicator(value: Option<SliResult>) -> IndicatorResult {
    IndicatorResult {
        score: 0.0,
        value,
        display_name: String::new(),
        pass_targets: None,
        warning_targets: None,
        key_sli: false,
        status: IndicatorStatus::Pass,
    }
}

/// A lean reader's previous evaluation: what the engine reads of it, the rest at its default.
pub(crate) fn lean_previous(
    id: Option<String>,
    invalidated: bool,
    result: Verdict,
    indicator_results: Option<Vec<IndicatorResult>>,
) -> PreviousEvaluation {
    let mut data = EvaluationFinishedData::new(Status::Succeeded, result, "");
    data.evaluation.indicator_results = indicator_results;
    PreviousEvaluation {
        id,
        invalidated,
        data,
    }
}

/// The wire form of [`PreviousEvaluation`]: the event data's fields and `id`/`invalidated` side
/// by side, read in one pass.
#[derive(Deserialize)]
struct PreviousWire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    invalidated: bool,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    status: Status,
    result: Verdict,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    evaluation: EvaluationDetails,
}

impl From<PreviousWire> for PreviousEvaluation {
    fn from(w: PreviousWire) -> Self {
        let mut data =
            EvaluationFinishedData::new(w.status, w.result, w.message.unwrap_or_default());
        data.project = w.project.unwrap_or_default();
        data.stage = w.stage.unwrap_or_default();
        data.service = w.service.unwrap_or_default();
        data.labels = w.labels.unwrap_or_default();
        data.evaluation = w.evaluation;
        Self {
            id: w.id,
            invalidated: w.invalidated,
            data,
        }
    }
}
