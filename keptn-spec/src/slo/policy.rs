//! Gate keys beyond Keptn: what a missing or failed SLI means (`no_data`), and objectives that
//! are evaluated without counting (`shadow`). Keptn's parser skips keys it does not know, so an
//! SLO using them still loads in Keptn, which then applies its own rules (`fail`, counted).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an objective without data means: its SLI was not returned by the provider, or
/// returned as failed (`success: false`).
///
/// Set SLO-wide with a top-level `no_data:` key and per objective with `no_data:` in the
/// objective (the objective's key wins).
///
/// ```
/// use keptn_spec::slo::{NoDataPolicy, Slo};
///
/// let slo = Slo::from_yaml_str(r#"
/// no_data: inconclusive
/// objectives:
///   - sli: error_rate
///     pass: [{ criteria: ["<1"] }]
///   - sli: throughput
///     no_data: ignore
///     pass: [{ criteria: [">100"] }]
/// total_score: { pass: "90%" }
/// "#)?;
/// assert_eq!(slo.no_data_policy(&slo.objectives[0]), NoDataPolicy::Inconclusive);
/// assert_eq!(slo.no_data_policy(&slo.objectives[1]), NoDataPolicy::Ignore);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoDataPolicy {
    /// Keptn's rule, the default: the objective fails (score 0, counted in the maximum).
    #[default]
    Fail,
    /// The objective is a warning: half its weight, as a met warning criterion scores.
    Warn,
    /// The objective is left out of the maximum score (reported with status `info`). When
    /// every scored objective is left out, the evaluation is inconclusive: a gate never
    /// passes on missing data.
    Ignore,
    /// The whole evaluation is inconclusive instead of pass or fail: a flaky provider stops a
    /// promotion without blaming the build. The event still says `result: fail` (so Keptn
    /// consumers stay safe) and adds `"keptn-rs": {"inconclusive": true}`.
    Inconclusive,
}

impl NoDataPolicy {
    /// The value as written in `slo.yaml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Ignore => "ignore",
            Self::Inconclusive => "inconclusive",
        }
    }
}

impl fmt::Display for NoDataPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use crate::slo::{NoDataPolicy, Slo};

    /// The keys parse at both levels, the objective's wins, absent means Keptn's `fail`, and
    /// a misspelt policy is a located error listing the policies.
    #[test]
    fn no_data_and_shadow_keys() {
        let slo = Slo::from_yaml_str(
            "no_data: warn\nobjectives:\n  - sli: a\n  - sli: b\n    no_data: inconclusive\n    shadow: true\n",
        )
        .unwrap();
        assert_eq!(slo.no_data, Some(NoDataPolicy::Warn));
        assert_eq!(slo.no_data_policy(&slo.objectives[0]), NoDataPolicy::Warn);
        assert_eq!(
            slo.no_data_policy(&slo.objectives[1]),
            NoDataPolicy::Inconclusive
        );
        assert!(!slo.objectives[0].shadow && slo.objectives[1].shadow);
        let plain = Slo::from_yaml_str("objectives:\n  - sli: a\n").unwrap();
        assert_eq!(
            plain.no_data_policy(&plain.objectives[0]),
            NoDataPolicy::Fail
        );
        let err = Slo::from_yaml_str("objectives:\n  - sli: a\n    no_data: inconclusiv\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "3:14: objectives[0].no_data: unknown variant `inconclusiv`, expected one of fail, warn, ignore, inconclusive"
        );
    }
}
