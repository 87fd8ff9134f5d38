//! The data of Keptn's `sh.keptn.event.evaluation.finished` event (gen-2 field names).
//!
//! These structs serialize to exactly the shape Keptn's lighthouse sends, so Keptn tooling
//! (Bridge, shipyard-controller, scripts) can read them, and they read such events back
//! tolerantly: unknown fields are ignored and the gen-1 result `failed` is read as
//! [`Verdict::Fail`].
//!
//! Lists that Keptn may leave unset (a Go nil slice, written as JSON `null`) are `Option`s, so
//! `null` and `[]` survive a round trip byte for byte; the accessor methods
//! ([`EvaluationDetails::indicator_results`], [`IndicatorResult::pass_targets`], …) read
//! either as a slice. An indicator result's `value` is `null` for an informational objective
//! that received no value.
//!
//! ```
//! use keptn_spec::evaluation::{EvaluationFinishedData, Status};
//! use keptn_spec::Verdict;
//!
//! let data: EvaluationFinishedData = serde_json::from_str(r#"{
//!   "status": "succeeded", "result": "pass", "message": "",
//!   "evaluation": {"result": "pass", "score": 100, "indicatorResults": [
//!     {"score": 1, "status": "pass", "keySli": false, "displayName": "",
//!      "value": {"metric": "response_time_p95", "value": 512.3, "success": true},
//!      "passTargets": [{"criteria": "<600", "targetValue": 600, "violated": false}],
//!      "warningTargets": null}]}
//! }"#)?;
//! assert_eq!(data.result, Verdict::Pass);
//! assert_eq!(data.status, Status::Succeeded);
//! let result = &data.evaluation.indicator_results()[0];
//! assert_eq!(result.value().map(|v| v.value), Some(512.3));
//! assert!(result.warning_targets.is_none()); // `null` stays `null` when written back
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod targets;

pub use targets::Targets;

/// The verdict of a quality gate (Keptn's `result`): closed set, so every `match` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The gate is open.
    Pass,
    /// The gate is open with a warning.
    Warning,
    /// The gate is closed (gen-1 `failed` is read as `fail`).
    #[serde(alias = "failed")]
    Fail,
}

impl Verdict {
    /// `pass`, `warning` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warning => "warning",
            Verdict::Fail => "fail",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a finished task (Keptn's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// The task ran (its `result` says how it went).
    Succeeded,
    /// The task could not run properly.
    Errored,
    /// The task was aborted.
    Aborted,
    /// Unknown or absent.
    #[default]
    #[serde(other)]
    Unknown,
}

impl Status {
    /// `succeeded`, `errored`, `aborted` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Errored => "errored",
            Status::Aborted => "aborted",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of one objective in an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorStatus {
    /// Pass criteria met: score = weight.
    Pass,
    /// Warning criteria met: score = weight / 2.
    Warning,
    /// Neither met, or no value: score 0.
    #[serde(alias = "failed")]
    Fail,
    /// No pass criteria: reported, never scored.
    Info,
}

impl IndicatorStatus {
    /// `pass`, `warning`, `fail` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorStatus::Pass => "pass",
            IndicatorStatus::Warning => "warning",
            IndicatorStatus::Fail => "fail",
            IndicatorStatus::Info => "info",
        }
    }
}

impl fmt::Display for IndicatorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data of an `evaluation.finished` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationFinishedData {
    /// The project (omitted when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// The stage (omitted when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stage: String,
    /// The service (omitted when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    /// The labels of the triggering event (omitted when empty).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `succeeded` for evaluations that ran, `errored` when they could not.
    #[serde(default)]
    pub status: Status,
    /// The verdict.
    pub result: Verdict,
    /// Why the verdict is what it is (empty for a plain pass).
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// The evaluation details.
    #[serde(default)]
    pub evaluation: EvaluationDetails,
    /// What keptn-rs found beyond Keptn (the `keptn-rs` key, absent when there is nothing to
    /// say, so Keptn's own evaluations stay byte-exact).
    #[serde(
        rename = "keptn-rs",
        default,
        skip_serializing_if = "KeptnRsExtension::is_empty"
    )]
    pub keptn_rs: KeptnRsExtension,
}

/// keptn-rs's additions to an `evaluation.finished` event, under the `keptn-rs` key that
/// Keptn's consumers ignore.
///
/// ```
/// use keptn_spec::evaluation::{EvaluationFinishedData, KeptnRsExtension, Status};
/// use keptn_spec::Verdict;
///
/// let mut data = EvaluationFinishedData::new(Status::Succeeded, Verdict::Fail, "no data");
/// data.keptn_rs.inconclusive = true;
/// let json = serde_json::to_string(&data)?;
/// assert!(json.contains(r#""keptn-rs":{"inconclusive":true}"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeptnRsExtension {
    /// The evaluation was inconclusive (an objective with the `inconclusive` no-data policy
    /// had no data): the event's `result` is `fail`, but the build is not to blame.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inconclusive: bool,
    /// The names of the shadow objectives: reported in `indicatorResults` with their status,
    /// never counted in the score or the result.
    #[serde(
        rename = "shadowObjectives",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub shadow_objectives: Vec<String>,
    /// For a shadow SLO, the verdict it would have given (the event itself says `pass`).
    #[serde(
        rename = "shadowResult",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub shadow_result: Option<Verdict>,
    /// For a shadow SLO, the score it would have given.
    #[serde(
        rename = "shadowScore",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub shadow_score: Option<f64>,
}

impl KeptnRsExtension {
    /// Whether there is nothing to report (the key is then left out).
    pub fn is_empty(&self) -> bool {
        !self.inconclusive && self.shadow_objectives.is_empty() && self.shadow_result.is_none()
    }
}

impl EvaluationFinishedData {
    /// A finished evaluation with the given status, verdict and message and empty details
    /// (whose `result` mirrors `result`).
    pub fn new(status: Status, result: Verdict, message: impl Into<String>) -> Self {
        Self {
            project: String::new(),
            stage: String::new(),
            service: String::new(),
            labels: BTreeMap::new(),
            status,
            result,
            message: message.into(),
            evaluation: EvaluationDetails {
                result: result.as_str().to_owned(),
                ..EvaluationDetails::default()
            },
            keptn_rs: KeptnRsExtension::default(),
        }
    }
}

/// The `evaluation` object of an `evaluation.finished` event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EvaluationDetails {
    /// Start of the evaluated window (`""` when unknown).
    #[serde(rename = "timeStart", default, with = "keptn_time")]
    pub time_start: Option<DateTime<Utc>>,
    /// End of the evaluated window (`""` when unknown).
    #[serde(rename = "timeEnd", default, with = "keptn_time")]
    pub time_end: Option<DateTime<Utc>>,
    /// `pass`, `warning` or `fail` (Keptn 0.8.0 sometimes put a message here; kept as text).
    #[serde(default, deserialize_with = "null_as_default")]
    pub result: String,
    /// The total score in percent, not rounded.
    #[serde(default, serialize_with = "go_float")]
    pub score: f64,
    /// Base64 of the SLO file (empty when unknown).
    #[serde(
        rename = "sloFileContent",
        default,
        deserialize_with = "null_as_default"
    )]
    pub slo_file_content: String,
    /// One result per objective, in SLO order (`null` when no objective was evaluated).
    #[serde(rename = "indicatorResults", default)]
    pub indicator_results: Option<Vec<IndicatorResult>>,
    /// The ids of the previous evaluations compared with (`null` when the comparison was not
    /// reached).
    #[serde(rename = "comparedEvents", default)]
    pub compared_events: Option<Vec<String>>,
    /// The git commit of the SLO configuration (empty when unknown).
    #[serde(rename = "gitCommit", default, deserialize_with = "null_as_default")]
    pub git_commit: String,
}

impl EvaluationDetails {
    /// The indicator results (empty when `null`).
    pub fn indicator_results(&self) -> &[IndicatorResult] {
        self.indicator_results.as_deref().unwrap_or_default()
    }

    /// The ids of the previous evaluations compared with (empty when `null`).
    pub fn compared_events(&self) -> &[String] {
        self.compared_events.as_deref().unwrap_or_default()
    }
}

/// The result of one objective (`indicatorResults[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorResult {
    /// Weight (pass), half the weight (warning) or 0.
    #[serde(default, serialize_with = "go_float")]
    pub score: f64,
    /// The SLI value that was evaluated (`null` for an informational objective without a
    /// value).
    #[serde(default)]
    pub value: Option<SliResult>,
    /// The objective's `displayName` (empty when none).
    #[serde(rename = "displayName", default, deserialize_with = "null_as_default")]
    pub display_name: String,
    /// The pass criteria with their targets (`null` when none was reported).
    #[serde(rename = "passTargets", default)]
    pub pass_targets: Option<Targets>,
    /// The warning criteria with their targets (`null` when none was reported).
    #[serde(rename = "warningTargets", default)]
    pub warning_targets: Option<Targets>,
    /// Whether the objective is a key SLI.
    #[serde(rename = "keySli", default)]
    pub key_sli: bool,
    /// `pass`, `warning`, `fail` or `info`.
    pub status: IndicatorStatus,
}

impl IndicatorResult {
    /// The SLI value, when one is reported.
    pub fn value(&self) -> Option<&SliResult> {
        self.value.as_ref()
    }

    /// The pass targets (empty when `null`).
    pub fn pass_targets(&self) -> &[SliTarget] {
        self.pass_targets.as_deref().unwrap_or_default()
    }

    /// The warning targets (empty when `null`).
    pub fn warning_targets(&self) -> &[SliTarget] {
        self.warning_targets.as_deref().unwrap_or_default()
    }
}

/// An SLI value inside an evaluation (`indicatorResults[].value`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliResult {
    /// The SLI name (shared: an evaluation reports every objective's name without copying it).
    #[serde(with = "shared_str")]
    pub metric: Arc<str>,
    /// The measured value (0 when not measured).
    #[serde(default, serialize_with = "go_float")]
    pub value: f64,
    /// The baseline relative criteria were compared with (0 when none; Keptn 0.12+).
    #[serde(rename = "comparedValue", default, serialize_with = "go_float")]
    pub compared_value: f64,
    /// Whether the value was measured.
    #[serde(default)]
    pub success: bool,
    /// Why it was not measured (omitted when empty).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub message: String,
}

impl SliResult {
    /// A result from a provider's value, with no baseline.
    pub fn from_value(v: &crate::SliValue) -> Self {
        Self {
            metric: Arc::from(v.metric.as_str()),
            value: v.value,
            compared_value: 0.0,
            success: v.success,
            message: v.message.clone().unwrap_or_default(),
        }
    }
}

/// One criterion of an objective with its computed target (`passTargets[]`, `warningTargets[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliTarget {
    /// The criterion exactly as written in the SLO.
    #[serde(with = "shared_str")]
    pub criteria: Arc<str>,
    /// The value the measurement was compared with.
    #[serde(rename = "targetValue", default, serialize_with = "go_float")]
    pub target_value: f64,
    /// Whether the criterion was not met.
    #[serde(default)]
    pub violated: bool,
}

impl SliTarget {
    /// A target for a criterion text.
    pub fn new(criteria: Arc<str>, target_value: f64, violated: bool) -> Self {
        Self {
            criteria,
            target_value,
            violated,
        }
    }
}

/// Writes a float the way Go's `encoding/json` does for whole numbers (`700`, not `700.0`).
#[allow(clippy::trivially_copy_pass_by_ref)]
fn go_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.fract() == 0.0 && v.abs() < EXACT && !(*v == 0.0 && v.is_sign_negative()) {
        #[allow(clippy::cast_possible_truncation)]
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

mod shared_str {
    use super::*;

    pub(super) fn serialize<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    /// Reads the text straight into the shared allocation (no intermediate `String` when the
    /// input can lend the text).
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Arc<str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Arc<str>, E> {
                Ok(Arc::from(v))
            }
        }
        d.deserialize_str(Text)
    }
}

/// Keptn's time format (`2019-11-18T11:21:06.000Z`), `""` for none.
mod keptn_time {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        v: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => s.serialize_str(""),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s.as_deref() {
            None | Some("") => Ok(None),
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| serde::de::Error::custom(format!("expected an RFC 3339 time such as 2019-11-18T11:21:06.000Z, found {t:?}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"{ "project":"sockshop","stage":"staging","service":"carts","labels":{"buildnr":"17"},
  "status":"succeeded","result":"warning","message":"",
  "evaluation":{
    "timeStart":"2019-11-18T11:21:06.000Z","timeEnd":"2019-11-18T11:29:36.000Z","result":"warning","score":50,
    "sloFileContent":"","comparedEvents":["a1"],"gitCommit":"",
    "indicatorResults":[
      {"score":0.5,"status":"warning","displayName":"Response time P95","keySli":false,
       "value":{"metric":"response_time_p95","value":700,"success":true,"message":"","comparedValue":520},
       "passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],
       "warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false}]}]}}"#;

    /// The gen-2 example reads and writes back to the same JSON.
    #[test]
    fn rule_2_10_gen2_shape_round_trips() {
        let data: EvaluationFinishedData = serde_json::from_str(SPEC_EXAMPLE).unwrap();
        assert_eq!(data.result, Verdict::Warning);
        assert_eq!(
            data.evaluation.indicator_results()[0]
                .value()
                .map(|v| v.compared_value),
            Some(520.0)
        );
        let json = serde_json::to_value(&data).unwrap();
        let mut expected: serde_json::Value = serde_json::from_str(SPEC_EXAMPLE).unwrap();
        // `message: ""` is omitted on SLI values, as go-utils does (`omitempty`).
        expected["evaluation"]["indicatorResults"][0]["value"]
            .as_object_mut()
            .unwrap()
            .remove("message");
        assert_eq!(json, expected);
    }

    /// Gen-1 `failed` is accepted on input; `null` lists read as empty through the accessors
    /// and are written back as `null`.
    #[test]
    fn rule_2_10_tolerant_input() {
        let data: EvaluationFinishedData = serde_json::from_str(
            r#"{"result":"failed","status":"errored","evaluation":{"indicatorResults":null,"timeStart":"","comparedEvents":null},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(data.result, Verdict::Fail);
        assert_eq!(data.status, Status::Errored);
        assert!(data.evaluation.indicator_results().is_empty());
        assert_eq!(data.evaluation.indicator_results, None);
        assert_eq!(data.evaluation.time_start, None);
        let json = serde_json::to_string(&data.evaluation).unwrap();
        assert!(json.contains(r#""indicatorResults":null"#), "{json}");
        assert!(json.contains(r#""comparedEvents":null"#), "{json}");
    }
}
