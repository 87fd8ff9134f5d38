//! The SLO file (`slo.yaml`, `spec_version` 0.1.x and 1.0) and Keptn's defaults for it.
//!
//! The types mirror the file field by field (`key_sli` next to `displayName`, as Keptn writes
//! them). Unknown keys are not rejected here (the YAML layer reports them as warnings); every
//! key that Keptn reads is typed, so YAML 1.1 scalars such as `spec_version: 1.0` or
//! `warning: 75%` stay strings.
//!
//! Defaults that Keptn applies after parsing are available through
//! [`Slo::comparison_settings`] and [`Objective::weight`], never written into the model, so that
//! an SLO serializes back to what the user wrote.
//!
//! ```
//! use keptn_spec::slo::{AggregateFunction, Slo};
//!
//! let slo = Slo::from_yaml_str(r#"
//! spec_version: "1.0"
//! comparison:
//!   aggregate_function: avg
//!   compare_with: single_result
//!   include_result_with_score: pass
//! objectives:
//!   - sli: response_time_p95
//!     displayName: Response time P95
//!     pass:
//!       - criteria: ["<=+10%", "<600"]
//!     warning:
//!       - criteria: ["<=800"]
//! total_score: { pass: "90%", warning: "75%" }
//! "#)?;
//! let settings = slo.comparison_settings();
//! assert_eq!(settings.aggregate_function, AggregateFunction::Avg);
//! assert_eq!(settings.number_of_results, 1);
//! assert_eq!(slo.objectives[0].weight(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::criterion::CriterionEntry;
use crate::error::{Error, Result};

mod policy;
mod shared_name;
pub use policy::NoDataPolicy;

/// A service-level objective file (`slo.yaml`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Slo {
    /// Informational only; Keptn never checks it (`"0.1.0"`, `"0.1.1"`, `"1.0"` are all seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_version: Option<String>,
    /// Forwarded to the SLI provider as `customFilters`. `filter:` with no value is empty.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub filter: BTreeMap<String, String>,
    /// How previous evaluations are compared; absent (or `comparison:` with no value) means
    /// Keptn's defaults for a missing block (see [`Slo::comparison_settings`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// The objectives in file order. `null` entries are dropped (Keptn 0.10+).
    #[serde(default, deserialize_with = "objectives_without_nulls")]
    pub objectives: Vec<Objective>,
    /// The score thresholds of the whole evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_score: Option<TotalScore>,
    /// Beyond Keptn: what an objective without data means, SLO-wide (absent: Keptn's `fail`);
    /// see [`NoDataPolicy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data: Option<NoDataPolicy>,
    /// Beyond Keptn: a shadow SLO is evaluated and reported with the verdict it would give,
    /// but blocks nothing: the event says `pass` and carries that verdict under
    /// `"keptn-rs": {"shadowResult": ...}`. To trial a new SLO before it gates anyone.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub shadow: bool,
}

impl Slo {
    /// Parses an SLO file tolerantly, like Keptn: an unparsable criterion is kept and fails the
    /// evaluation later exactly as Keptn 1.4.5 does.
    ///
    /// # Errors
    /// [`Error::Parse`] with line and column when the text is not YAML or a field has the wrong
    /// type (e.g. `weight: "2"`).
    pub fn from_yaml_str(src: &str) -> Result<Self> {
        // The plain YAML that SLO files are written in is read by a fast reader; anything else
        // (and every error) goes through the general parser.
        match crate::yaml::fast::from_str(src) {
            Some(slo) => Ok(slo),
            None => crate::from_yaml_str(src),
        }
    }

    /// Checks what Keptn only notices at evaluation time: every criterion parses, the
    /// `total_score` thresholds are numbers, and comparison settings are known values.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the field (by path, e.g. `objectives[0].pass[0].criteria[1]`) and
    /// what was expected.
    pub fn validate(&self) -> Result<()> {
        let fail = |path: String, message: String| {
            Err(Error::Parse {
                file: None,
                location: None,
                message: format!("{path}: {message}"),
            })
        };
        for (i, o) in self.objectives.iter().enumerate() {
            for (list, sets) in [("pass", &o.pass), ("warning", &o.warning)] {
                for (j, set) in sets.iter().enumerate() {
                    for (k, c) in set.criteria.iter().enumerate() {
                        if let Err(e) = c.criterion() {
                            return fail(
                                format!("objectives[{i}].{list}[{j}].criteria[{k}]"),
                                e.to_string(),
                            );
                        }
                    }
                }
            }
        }
        if let Some(ts) = &self.total_score {
            if let Some(p) = &ts.pass
                && parse_score(p).is_none()
            {
                return fail(
                    "total_score.pass".into(),
                    format!("expected a percentage such as \"90%\", found {p:?}"),
                );
            }
            if let Some(w) = ts.warning.as_deref().filter(|w| !w.is_empty())
                && parse_score(w).is_none()
            {
                return fail(
                    "total_score.warning".into(),
                    format!("expected a percentage such as \"75%\", found {w:?}"),
                );
            }
        }
        if let Some(c) = &self.comparison {
            if let Some(AggregateFunction::Other(f)) = &c.aggregate_function
                && !f.is_empty()
            {
                return fail(
                    "comparison.aggregate_function".into(),
                    format!("expected one of avg, p50, p90, p95, found {f:?}"),
                );
            }
            if let Some(CompareWith::Other(f)) = &c.compare_with {
                return fail(
                    "comparison.compare_with".into(),
                    format!("expected single_result or several_results, found {f:?}"),
                );
            }
            if let Some(IncludeResultWithScore::Other(f)) = &c.include_result_with_score
                && !f.is_empty()
            {
                return fail(
                    "comparison.include_result_with_score".into(),
                    format!("expected pass, pass_or_warn or all, found {f:?}"),
                );
            }
        }
        Ok(())
    }

    /// The comparison settings after Keptn's defaults, including the number of previous
    /// evaluations to compare with.
    pub fn comparison_settings(&self) -> ComparisonSettings {
        match &self.comparison {
            None => ComparisonSettings {
                aggregate_function: AggregateFunction::Avg,
                compare_with: Some(CompareWith::SingleResult),
                include_result_with_score: IncludeResultWithScore::All,
                number_of_results: 1,
            },
            Some(c) => {
                let aggregate_function = match &c.aggregate_function {
                    None => AggregateFunction::Avg,
                    Some(AggregateFunction::Other(s)) if s.is_empty() => AggregateFunction::Avg,
                    Some(f) => f.clone(),
                };
                let include_result_with_score = match &c.include_result_with_score {
                    None => IncludeResultWithScore::All,
                    Some(IncludeResultWithScore::Other(s)) if s.is_empty() => {
                        IncludeResultWithScore::All
                    }
                    Some(f) => f.clone(),
                };
                let configured = match c.number_of_comparison_results {
                    None | Some(0) => 3,
                    Some(n) => n as usize,
                };
                let number_of_results = match c.compare_with {
                    Some(CompareWith::SingleResult) => 1,
                    Some(CompareWith::SeveralResults) => configured,
                    // QUIRK: absent or unknown `compare_with` in a present block → 3.
                    _ => 3,
                };
                ComparisonSettings {
                    aggregate_function,
                    compare_with: c.compare_with.clone(),
                    include_result_with_score,
                    number_of_results,
                }
            }
        }
    }

    /// The no-data policy of `objective`: its own `no_data`, else the SLO's, else `fail`.
    pub fn no_data_policy(&self, objective: &Objective) -> NoDataPolicy {
        objective.no_data.or(self.no_data).unwrap_or_default()
    }

    /// The SLI names of all objectives in file order, duplicates kept (Keptn's `indicators`).
    pub fn indicators(&self) -> Vec<String> {
        self.objectives.iter().map(|o| o.sli.clone()).collect()
    }
}

/// The `comparison` block as written.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Comparison {
    /// `avg | p50 | p90 | p95`; empty or absent means `avg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate_function: Option<AggregateFunction>,
    /// `single_result | several_results`; not defaulted by Keptn (absent → 3 results, a quirk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare_with: Option<CompareWith>,
    /// `pass | pass_or_warn | all`; empty or absent means `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_result_with_score: Option<IncludeResultWithScore>,
    /// Used with `several_results`; `0` or absent means **3** (Keptn's code, not its spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_comparison_results: Option<u32>,
}

/// The comparison settings in effect, after Keptn's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComparisonSettings {
    /// How previous values are aggregated into the baseline.
    pub aggregate_function: AggregateFunction,
    /// As written (`None` when the comparison block has no `compare_with`).
    pub compare_with: Option<CompareWith>,
    /// Which previous evaluations count, by their overall result.
    pub include_result_with_score: IncludeResultWithScore,
    /// How many previous evaluations to compare with (Keptn's `N`).
    pub number_of_results: usize,
}

macro_rules! keyword_enum {
    ($(#[$doc:meta])* $ty:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $ty {
            $($(#[$vdoc])* $variant,)*
            /// Any other value, kept as written (Keptn's behaviour for it is documented on the type).
            Other(String),
        }

        impl $ty {
            /// The value as written in the file.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $ty {
            fn from(s: &str) -> Self {
                match s {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from(s.as_str()))
            }
        }
    };
}

keyword_enum!(
    /// How previous values are aggregated into the baseline of relative criteria.
    ///
    /// Keptn QUIRK: any other function name aggregates to `0`.
    AggregateFunction {
        /// Arithmetic mean.
        Avg => "avg",
        /// Median (Keptn's percentile interpolation).
        P50 => "p50",
        /// 90th percentile.
        P90 => "p90",
        /// 95th percentile.
        P95 => "p95",
    }
);

keyword_enum!(
    /// How many previous evaluations are compared.
    ///
    /// Keptn QUIRK: any other value (and an absent one in a present comparison block) means 3.
    CompareWith {
        /// One previous evaluation (ignores `number_of_comparison_results`).
        SingleResult => "single_result",
        /// `number_of_comparison_results` previous evaluations.
        SeveralResults => "several_results",
    }
);

keyword_enum!(
    /// Which previous evaluations count, by their overall result. Keptn lower-cases the value;
    /// any other value means "no filter" (like `all`).
    IncludeResultWithScore {
        /// Only passed evaluations.
        Pass => "pass",
        /// Passed and warning evaluations.
        PassOrWarn => "pass_or_warn",
        /// Every evaluation.
        All => "all",
    }
);

impl IncludeResultWithScore {
    /// Whether a previous evaluation with overall result `result` (`pass`, `warning`, `fail`)
    /// counts, as Keptn's datastore query filters it (case-insensitive setting).
    pub fn includes(&self, result: &str) -> bool {
        match self {
            Self::Pass => result == "pass",
            Self::PassOrWarn => result == "pass" || result == "warning",
            Self::All => true,
            Self::Other(s) => match s.to_ascii_lowercase().as_str() {
                "pass" => result == "pass",
                "pass_or_warn" => result == "pass" || result == "warning",
                _ => true,
            },
        }
    }
}

/// One objective: an SLI, its pass and warning criteria, its weight.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Objective {
    /// The SLI name as the provider knows it.
    pub sli: String,
    /// A human-readable name (Keptn 0.8+).
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// Pass criteria: blocks combined with OR, criteria inside a block with AND. Empty or
    /// absent makes the objective informational.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub pass: Vec<CriteriaSet>,
    /// Warning criteria, same structure as `pass`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub warning: Vec<CriteriaSet>,
    /// The weight as written: a signed integer, as in Keptn (`0` or absent means 1; negative
    /// weights are taken as they are; see [`Objective::weight`]).
    #[serde(rename = "weight", default, skip_serializing_if = "Option::is_none")]
    pub weight_raw: Option<i32>,
    /// A failing key SLI fails the whole evaluation.
    #[serde(default, deserialize_with = "null_as_default")]
    pub key_sli: bool,
    /// Beyond Keptn: this objective's own no-data policy (absent: the SLO's); see
    /// [`Slo::no_data_policy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_data: Option<NoDataPolicy>,
    /// Beyond Keptn: a shadow objective is evaluated and reported with its status, but never
    /// counts in the score or the result (a key SLI that is a shadow fails nothing): to trial
    /// an objective before it blocks anyone.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub shadow: bool,
    /// The SLI name as a shared string, made on first use (see [`Objective::shared_sli`]).
    #[serde(skip)]
    shared_sli: shared_name::SharedName,
}

impl Objective {
    /// An objective for `sli` with no criteria (informational), weight 1, not a key SLI.
    pub fn new(sli: impl Into<String>) -> Self {
        Self {
            sli: sli.into(),
            display_name: None,
            pass: Vec::new(),
            warning: Vec::new(),
            weight_raw: None,
            key_sli: false,
            no_data: None,
            shadow: false,
            shared_sli: shared_name::SharedName::default(),
        }
    }

    /// The SLI name as a shared string, cheap to put into every evaluation result (as
    /// [`CriterionEntry::shared_text`] is for criteria): made on the first call and handed out
    /// by every later one, on this objective and its clones.
    pub fn shared_sli(&self) -> std::sync::Arc<str> {
        self.shared_sli.get(&self.sli)
    }

    /// The weight in effect: `0` or absent means `1` (Keptn's default); a negative weight is
    /// kept as written, as Keptn does.
    pub fn weight(&self) -> i32 {
        match self.weight_raw {
            None | Some(0) => 1,
            Some(w) => w,
        }
    }

    /// The name Keptn uses in messages: `displayName` when set and non-empty, else `sli`.
    pub fn name(&self) -> &str {
        self.display_name
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or(&self.sli)
    }

    /// Whether the objective is informational (no pass criteria): it is reported, never scored.
    pub fn is_info(&self) -> bool {
        self.pass.is_empty()
    }
}

/// One `- criteria:` block: all criteria must hold.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CriteriaSet {
    /// The criteria, combined with AND.
    #[serde(default, deserialize_with = "null_as_default")]
    pub criteria: Vec<CriterionEntry>,
}

impl CriteriaSet {
    /// A block of criteria.
    pub fn new(criteria: Vec<CriterionEntry>) -> Self {
        Self { criteria }
    }
}

/// The `total_score` block: percentage thresholds of the whole evaluation, kept as strings like
/// Keptn (a trailing `%` is stripped when they are read).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TotalScore {
    /// The pass threshold, such as `"90%"` (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// The warning threshold, such as `"75%"` (inclusive); empty or absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl TotalScore {
    /// Thresholds from numbers (written as `"<n>%"`).
    pub fn new(pass: f64, warning: Option<f64>) -> Self {
        Self {
            pass: Some(format!("{pass}%")),
            warning: warning.map(|w| format!("{w}%")),
        }
    }
}

/// Reads a `total_score` threshold the way Keptn does: strip one trailing `%`, parse a float.
pub fn parse_score(s: &str) -> Option<f64> {
    s.strip_suffix('%').unwrap_or(s).parse().ok()
}

fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn objectives_without_nulls<'de, D>(d: D) -> std::result::Result<Vec<Objective>, D::Error>
where
    D: Deserializer<'de>,
{
    let list: Option<Vec<Option<Objective>>> = Option::deserialize(d)?;
    Ok(list.unwrap_or_default().into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParseOptions;

    const SEED: &str = r#"---
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
    pass:             # pass if (relative change <= 10% AND absolute value is < 600ms)
      - criteria:
          - "<=+10%"  # relative values require a prefixed sign (plus or minus)
          - "<600"    # absolute values only require a logical operator
    warning:          # if the response time is below 800ms, the result should be a warning
      - criteria:
          - "<=800"
    weight: 1
total_score:
  pass: "90%"
  warning: "75%"
"#;

    /// The tutorial's SLO parses with every field.
    #[test]
    fn rule_2_1_seed_slo_parses() {
        let slo = Slo::from_yaml_str(SEED).unwrap();
        assert_eq!(slo.spec_version.as_deref(), Some("0.1.1"));
        assert!(slo.filter.is_empty());
        assert_eq!(slo.objectives.len(), 1);
        let o = &slo.objectives[0];
        assert_eq!(o.sli, "response_time_p95");
        assert_eq!(o.pass[0].criteria.len(), 2);
        assert_eq!(o.pass[0].criteria[0].text(), "<=+10%");
        assert_eq!(o.warning[0].criteria[0].text(), "<=800");
        assert_eq!(o.weight(), 1);
        assert_eq!(
            slo.total_score.as_ref().unwrap().pass.as_deref(),
            Some("90%")
        );
    }

    /// YAML 1.1 scalars in string fields stay strings (`1.0`, `75%`, `4711`).
    #[test]
    fn rule_2_1_typed_string_fields_stay_strings() {
        let slo = Slo::from_yaml_str(
            "spec_version: 1.0\nfilter:\n  mz_id: 4711\n  on: off\nobjectives: []\ntotal_score:\n  pass: 90\n  warning: 75%\n",
        )
        .unwrap();
        assert_eq!(slo.spec_version.as_deref(), Some("1.0"));
        assert_eq!(slo.filter["mz_id"], "4711");
        assert_eq!(slo.filter["on"], "off");
        let ts = slo.total_score.unwrap();
        assert_eq!(ts.pass.as_deref(), Some("90"));
        assert_eq!(ts.warning.as_deref(), Some("75%"));
    }

    /// A type mismatch such as `weight: "2"` makes the file unparsable, with a location.
    #[test]
    fn rule_2_1_type_mismatch_is_a_located_error() {
        let err = Slo::from_yaml_str("objectives:\n  - sli: a\n    weight: two\n").unwrap_err();
        let Error::Parse { location, .. } = &err else {
            panic!("expected a parse error: {err:?}")
        };
        assert_eq!(location.map(|l| l.line), Some(3), "{err}");
    }

    /// An absent comparison block gets Keptn's defaults.
    #[test]
    fn rule_2_2_absent_comparison_defaults() {
        let slo = Slo::from_yaml_str("objectives: []\n").unwrap();
        let s = slo.comparison_settings();
        assert_eq!(s.aggregate_function, AggregateFunction::Avg);
        assert_eq!(s.compare_with, Some(CompareWith::SingleResult));
        assert_eq!(s.include_result_with_score, IncludeResultWithScore::All);
        assert_eq!(s.number_of_results, 1);
    }

    /// In a present block, empty values default, `number_of_comparison_results: 0` → 3.
    #[test]
    fn rule_2_2_present_comparison_defaults() {
        let slo = Slo::from_yaml_str(
            "comparison:\n  compare_with: several_results\n  include_result_with_score: \"\"\n  aggregate_function: \"\"\n",
        )
        .unwrap();
        let s = slo.comparison_settings();
        assert_eq!(s.aggregate_function, AggregateFunction::Avg);
        assert_eq!(s.include_result_with_score, IncludeResultWithScore::All);
        assert_eq!(s.number_of_results, 3);
    }

    /// `single_result` ignores `number_of_comparison_results`; `several_results` uses it.
    #[test]
    fn rule_2_2_number_of_results_follows_compare_with() {
        let single = Slo::from_yaml_str(
            "comparison:\n  compare_with: single_result\n  number_of_comparison_results: 5\n",
        )
        .unwrap();
        assert_eq!(single.comparison_settings().number_of_results, 1);
        let several = Slo::from_yaml_str(
            "comparison:\n  compare_with: several_results\n  number_of_comparison_results: 5\n",
        )
        .unwrap();
        assert_eq!(several.comparison_settings().number_of_results, 5);
    }

    /// Keptn quirk: a present comparison block without `compare_with` compares with 3 results.
    #[test]
    fn rule_2_2_absent_compare_with_in_present_block_means_three() {
        let slo = Slo::from_yaml_str(
            "comparison:\n  aggregate_function: avg\n  number_of_comparison_results: 1\n",
        )
        .unwrap();
        assert_eq!(slo.comparison_settings().number_of_results, 3);
        let odd = Slo::from_yaml_str("comparison:\n  compare_with: last_result\n").unwrap();
        assert_eq!(odd.comparison_settings().number_of_results, 3);
    }

    /// Weight 0 or absent → 1.
    #[test]
    fn rule_2_2_weight_defaults_to_one() {
        let slo = Slo::from_yaml_str(
            "objectives:\n  - sli: a\n    weight: 0\n  - sli: b\n  - sli: c\n    weight: 3\n",
        )
        .unwrap();
        let w: Vec<i32> = slo.objectives.iter().map(Objective::weight).collect();
        assert_eq!(w, [1, 1, 3]);
        let negative = Slo::from_yaml_str("objectives:\n  - sli: a\n    weight: -2\n").unwrap();
        assert_eq!(negative.objectives[0].weight(), -2);
    }

    /// Null entries in the objectives list are dropped; `objectives:` null is empty.
    #[test]
    fn rule_2_2_null_objectives_are_dropped() {
        let slo = Slo::from_yaml_str("objectives:\n  -\n  - sli: a\n  - ~\n").unwrap();
        assert_eq!(slo.objectives.len(), 1);
        let empty =
            Slo::from_yaml_str("spec_version: '0.1.0'\ncomparison:\nobjectives:\n").unwrap();
        assert!(empty.objectives.is_empty());
        assert!(empty.comparison.is_none());
    }

    /// Tolerant loading keeps an unparsable criterion; the checked read rejects it with its line.
    #[test]
    fn checked_parse_locates_unparsable_criteria() {
        let src = "objectives:\n  - sli: a\n    pass:\n      - criteria:\n          - \"<600ms\"\n";
        let slo = Slo::from_yaml_str(src).unwrap();
        assert!(slo.objectives[0].pass[0].criteria[0].criterion().is_err());
        let err = Slo::parse(src, &ParseOptions::new()).unwrap_err();
        let Error::Invalid { problems, .. } = &err else {
            panic!("expected a located rule error: {err:?}")
        };
        assert_eq!(problems[0].location.map(|l| l.line), Some(5), "{err}");
        assert!(err.to_string().contains("<600ms"), "{err}");
    }

    /// The checked read also checks total_score and comparison keywords.
    #[test]
    fn checked_parse_checks_scores_and_keywords() {
        let err = Slo::parse("total_score:\n  pass: lots\n", &ParseOptions::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"total_score.pass: expected a percentage such as "90%", found "lots""#),
            "{err}"
        );
        let err = Slo::parse(
            "comparison:\n  aggregate_function: p99\n",
            &ParseOptions::new(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"expected one of avg, p50, p90, p95, found "p99""#),
            "{err}"
        );
    }

    /// Parse → serialize → parse gives the same SLO.
    #[test]
    fn round_trip() {
        let slo = Slo::from_yaml_str(SEED).unwrap();
        let text = serde_saphyr::to_string(&slo).unwrap();
        let back = Slo::from_yaml_str(&text).unwrap();
        assert_eq!(back, slo);
    }
}
