//! Replay (backtest): re-evaluates a recorded history under another SLO, in time order, each
//! evaluation against the baselines it would have had under that SLO, and reports which
//! verdicts change — "this SLO would have blocked 3 of the last 40 releases, these ones".
//!
//! A recorded history is read by [`read_recorded`] from any of:
//! * the JSON-lines file of `FileHistory` (`{"evaluation": {...}}` and `{"invalidated": "id"}`
//!   lines),
//! * Keptn's datastore answer to `GET /event` (`{"events": [...], "nextPageKey", "totalCount"}`),
//! * a JSON array or JSON lines of Keptn `evaluation.finished` CloudEvents.
//!
//! ```
//! use keptn_slo::replay::{read_recorded, replay};
//! use keptn_spec::{Slo, Verdict};
//!
//! let history = r#"{"events": [
//!   {"id": "e2", "type": "sh.keptn.event.evaluation.finished", "time": "2026-11-26T11:00:00Z",
//!    "data": {"result": "pass", "status": "succeeded", "evaluation": {"result": "pass", "score": 100,
//!      "indicatorResults": [{"score": 1, "status": "pass", "value": {"metric": "rt", "value": 450, "success": true}}]}}},
//!   {"id": "e1", "type": "sh.keptn.event.evaluation.finished", "time": "2026-11-26T10:00:00Z",
//!    "data": {"result": "pass", "status": "succeeded", "evaluation": {"result": "pass", "score": 100,
//!      "indicatorResults": [{"score": 1, "status": "pass", "value": {"metric": "rt", "value": 300, "success": true}}]}}}
//! ], "nextPageKey": "0", "totalCount": 2}"#;
//! let recorded = read_recorded(history)?;
//! let stricter = Slo::from_yaml_str("objectives:\n  - sli: rt\n    pass: [{criteria: [\"<400\"]}]\ntotal_score: {pass: \"90%\"}\n")?;
//! let r = replay(&stricter, &recorded);
//! assert_eq!(r.evaluations.len(), 2);
//! assert_eq!(r.evaluations[0].id.as_deref(), Some("e1")); // oldest first
//! let changed: Vec<_> = r.changed().collect();
//! assert_eq!(changed.len(), 1);
//! assert_eq!((changed[0].before, changed[0].after), (Verdict::Pass, Verdict::Fail));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use keptn_spec::evaluation::{EvaluationFinishedData, Status};
use keptn_spec::{ProjectName, ServiceName, SliValue, Slo, StageName, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::engine::{CompiledSlo, EvaluationContext, NO_VALUE_MESSAGE};
use crate::report::{PreviousEvaluation, SliReport};

/// The `type` of the events a replay reads; other event types are skipped.
pub const EVALUATION_FINISHED: &str = "sh.keptn.event.evaluation.finished";

/// One recorded evaluation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Recorded {
    /// The evaluation's id (the event id), when known.
    pub id: Option<String>,
    /// When it happened: the event's `time`, else the evaluated window's end.
    pub time: Option<DateTime<Utc>>,
    /// Whether it was invalidated (never a baseline, still replayed).
    pub invalidated: bool,
    /// The recorded `evaluation.finished` data.
    pub data: EvaluationFinishedData,
}

/// Why a recorded history could not be read: where (1-based line and column of the text) and
/// what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
#[non_exhaustive]
pub struct ReadError {
    /// The line of the text.
    pub line: usize,
    /// The column.
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

impl ReadError {
    fn json(e: &serde_json::Error, line_offset: usize) -> Self {
        let text = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        Self {
            line: e.line() + line_offset,
            column: e.column(),
            message: text.strip_suffix(&suffix).unwrap_or(&text).to_owned(),
        }
    }
}

/// One item of a history file as written: an event or a `FileHistory` line.
#[derive(Deserialize)]
struct ItemWire {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    time: Option<DateTime<Utc>>,
    #[serde(default, rename = "type")]
    ty: Option<String>,
    /// An event's data, kept as its JSON text until the event's type is known (it may come
    /// after `data`) and read as an evaluation only for `evaluation.finished` events.
    #[serde(default, deserialize_with = "raw_data")]
    data: Option<Box<RawValue>>,
    /// A `FileHistory` evaluation line.
    #[serde(default)]
    evaluation: Option<PreviousEvaluation>,
    /// A `FileHistory` invalidation line.
    #[serde(default)]
    invalidated: Option<String>,
}

/// `data` as written, `null` included (a `null` data is an error, as any other non-object).
fn raw_data<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// One item, checked: an evaluation (or `None` for an event of another type) and/or the id of
/// an invalidated evaluation.
#[derive(Deserialize)]
#[serde(try_from = "ItemWire")]
struct Item {
    evaluation: Option<(Option<String>, Option<DateTime<Utc>>, PreviousEvaluation)>,
    invalidated: Option<String>,
}

impl TryFrom<ItemWire> for Item {
    type Error = String;

    fn try_from(w: ItemWire) -> Result<Self, String> {
        let evaluation = match (w.data, w.evaluation) {
            (Some(_), _) if w.ty.as_deref().is_some_and(|t| t != EVALUATION_FINISHED) => None,
            (Some(data), _) => {
                let p = serde_json::from_str::<PreviousEvaluation>(data.get()).map_err(|e| {
                    let text = e.to_string();
                    let suffix = format!(" at line {} column {}", e.line(), e.column());
                    let text = text.strip_suffix(&suffix).unwrap_or(&text);
                    format!("data of an evaluation.finished event: {text}")
                })?;
                Some((w.id, w.time, p))
            }
            (None, Some(p)) => Some((p.id.clone(), w.time, p)),
            (None, None) if w.invalidated.is_some() || w.ty.is_some() => None,
            (None, None) => {
                return Err(
                    "expected an evaluation.finished event (with `data`) or a history \
                            line (with `evaluation` or `invalidated`)"
                        .into(),
                );
            }
        };
        Ok(Self {
            evaluation,
            invalidated: w.invalidated,
        })
    }
}

#[derive(Deserialize)]
struct Export {
    events: Vec<Item>,
}

/// Reads a recorded history (see the [module](self) for the accepted shapes), in time order
/// (oldest first; file order when a time is missing).
///
/// # Errors
/// [`ReadError`] with the line and column of the first item that is not JSON (where the
/// JSON breaks) or not an evaluation (where the item ends).
pub fn read_recorded(text: &str) -> Result<Vec<Recorded>, ReadError> {
    let trimmed = text.trim_start();
    let items: Vec<Item> = if trimmed.starts_with('[') {
        serde_json::from_str(text).map_err(|e| ReadError::json(&e, 0))?
    } else {
        match json_lines(text) {
            Ok(items) => items,
            // One document over several lines: the datastore's answer.
            Err(first) if first.line == 1 && trimmed.starts_with('{') => {
                serde_json::from_str::<Export>(text)
                    .map_err(|e| ReadError::json(&e, 0))?
                    .events
            }
            Err(e) => return Err(e),
        }
    };
    let mut out: Vec<Recorded> = Vec::with_capacity(items.len());
    for item in items {
        if let Some(id) = &item.invalidated {
            for r in &mut out {
                if r.id.as_deref() == Some(id.as_str()) {
                    r.invalidated = true;
                }
            }
        }
        let Some((id, time, p)) = item.evaluation else {
            continue;
        };
        out.push(Recorded {
            id,
            time: time.or(p.data.evaluation.time_end),
            invalidated: p.invalidated,
            data: p.data,
        });
    }
    if out.iter().all(|r| r.time.is_some()) {
        out.sort_by_key(|r| r.time);
    }
    Ok(out)
}

fn json_lines(text: &str) -> Result<Vec<Item>, ReadError> {
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        items.push(serde_json::from_str(line).map_err(|e| ReadError::json(&e, i))?);
    }
    Ok(items)
}

/// One evaluation replayed: what was recorded and what the other SLO gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Replayed {
    /// The evaluation's id, when known.
    pub id: Option<String>,
    /// When it happened, when known.
    pub time: Option<DateTime<Utc>>,
    /// The recorded verdict.
    pub before: Verdict,
    /// The verdict under the other SLO.
    pub after: Verdict,
    /// The recorded score.
    pub score_before: f64,
    /// The score under the other SLO.
    pub score_after: f64,
    /// Whether the replayed evaluation is inconclusive (its `after` is then `fail`).
    pub inconclusive: bool,
}

impl Replayed {
    /// Whether the verdict changed.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// The result of [`replay`]: every evaluation, oldest first.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct Replay {
    /// Every replayed evaluation, oldest first.
    pub evaluations: Vec<Replayed>,
}

impl Replay {
    /// The evaluations whose verdict changed.
    pub fn changed(&self) -> impl Iterator<Item = &Replayed> {
        self.evaluations.iter().filter(|r| r.changed())
    }

    /// How many recorded evaluations did not fail and fail under the other SLO.
    pub fn newly_blocked(&self) -> usize {
        self.changed().filter(|r| r.after == Verdict::Fail).count()
    }
}

impl fmt::Display for Replay {
    /// The readable report: a summary line, then one line per changed verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let changed = self.changed().count();
        writeln!(
            f,
            "{changed} of {} verdicts change; the new SLO would have blocked {} that were not blocked",
            self.evaluations.len(),
            self.newly_blocked()
        )?;
        for r in self.changed() {
            let time = r.time.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into());
            let after = if r.inconclusive {
                "inconclusive".to_owned()
            } else {
                r.after.to_string()
            };
            writeln!(
                f,
                "{}  {time}  {} -> {after}  score {} -> {}",
                r.id.as_deref().unwrap_or("-"),
                r.before,
                r.score_before,
                r.score_after
            )?;
        }
        Ok(())
    }
}

/// The SLI values a recorded evaluation received: each indicator result's value (first per
/// metric), without the ones Keptn marked "no value received" (missing, not failed). A
/// recorded provider failure (errored or aborted without results) is replayed as such.
fn sli_of(data: &EvaluationFinishedData) -> SliReport {
    let results = data.evaluation.indicator_results();
    if results.is_empty() && matches!(data.status, Status::Errored | Status::Aborted) {
        let mut r = SliReport::errored(data.message.clone());
        r.status = data.status;
        return r;
    }
    let mut values: Vec<SliValue> = Vec::with_capacity(results.len());
    for v in results.iter().filter_map(|r| r.value()) {
        let missing = !v.success && v.message == NO_VALUE_MESSAGE;
        if missing || values.iter().any(|x| x.metric == *v.metric) {
            continue;
        }
        let mut value = SliValue::ok(v.metric.to_string(), v.value);
        value.success = v.success;
        value.message = (!v.message.is_empty()).then(|| v.message.clone());
        values.push(value);
    }
    let mut sli = SliReport::succeeded(values);
    sli.start = data.evaluation.time_start;
    sli.end = data.evaluation.time_end;
    sli
}

/// Re-evaluates `recorded` (oldest first, as [`read_recorded`] returns it) under `slo`: each
/// evaluation with the SLI values it received, against the previous evaluations as `slo` would
/// have judged them (`include_result_with_score` applies to the new verdicts; invalidated
/// evaluations are never baselines).
pub fn replay(slo: &Slo, recorded: &[Recorded]) -> Replay {
    let compiled = CompiledSlo::new(slo);
    let settings = slo.comparison_settings();
    // The candidates for the next evaluation's baseline, newest first: the last N evaluations
    // that the comparison settings admit, which is all `select_previous` would pick.
    let mut window: Vec<PreviousEvaluation> = Vec::new();
    let mut evaluations = Vec::with_capacity(recorded.len());
    for r in recorded {
        // Recorded names are copied as written; one that is not a valid name (or empty) is
        // left unknown, which the result writes as an empty string again.
        let mut ctx = EvaluationContext::default().with_labels(r.data.labels.clone());
        ctx.project = ProjectName::new(r.data.project.as_str()).ok();
        ctx.stage = StageName::new(r.data.stage.as_str()).ok();
        ctx.service = ServiceName::new(r.data.service.as_str()).ok();
        let e = compiled.evaluate(&sli_of(&r.data), &window, &ctx);
        evaluations.push(Replayed {
            id: r.id.clone(),
            time: r.time,
            before: r.data.result,
            after: e.verdict(),
            score_before: r.data.evaluation.score,
            score_after: e.score(),
            inconclusive: e.is_inconclusive(),
        });
        if !r.invalidated
            && settings
                .include_result_with_score
                .includes(e.verdict().as_str())
            && settings.number_of_results > 0
        {
            if window.len() == settings.number_of_results {
                window.pop();
            }
            let mut p = PreviousEvaluation::new(r.id.clone().unwrap_or_default(), e.data);
            if r.id.is_none() {
                p.id = None;
            }
            window.insert(0, p);
        }
    }
    Replay { evaluations }
}
