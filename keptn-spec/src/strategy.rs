//! Deployment and test strategies, as a shipyard's `deployment` and `test` tasks name them.
//!
//! ```
//! use keptn_spec::shipyard::{DeploymentStrategy, TestStrategy};
//!
//! let s: DeploymentStrategy = "duplicate".parse()?; // helm-service's alias for blue/green
//! assert_eq!(s, DeploymentStrategy::BlueGreenService);
//! assert_eq!(s.deployment_name(), "canary");
//! assert_eq!(TestStrategy::from_wire(" performance "), Some(TestStrategy::Performance));
//! assert_eq!(TestStrategy::from_wire(""), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a new version of a service is rolled out in a stage (a `deployment` task's
/// `deploymentstrategy`).
///
/// A shipyard is read strictly (only the three canonical names). [`FromStr`] additionally accepts
/// the names Keptn's helm-service accepts: `blue_green`, `duplicate` and `canary` for blue/green,
/// and `user-managed`, case-insensitively. Unlike Keptn, an unknown or empty string is rejected
/// instead of silently meaning `direct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum DeploymentStrategy {
    /// Replace the running version in place (`direct`). Keptn's default.
    #[default]
    Direct,
    /// Blue/green (`blue_green_service`, helm-service's `duplicate`): run the new version as a
    /// canary beside the serving `{service}-primary`; promote makes it primary, rollback discards
    /// it; the primary keeps serving throughout.
    BlueGreenService,
    /// The user deploys; Keptn only records it (`user_managed`).
    UserManaged,
}

impl DeploymentStrategy {
    /// The canonical shipyard spelling: `direct`, `blue_green_service` or `user_managed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::BlueGreenService => "blue_green_service",
            Self::UserManaged => "user_managed",
        }
    }

    /// The `deploymentNames` entry Keptn reports for a fresh deployment with this strategy
    /// (`direct`, `canary`, `user-managed`).
    pub fn deployment_name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::BlueGreenService => "canary",
            Self::UserManaged => "user-managed",
        }
    }

    /// The canonical spellings, for error messages.
    pub(crate) const NAMES: &'static [&'static str] =
        &["direct", "blue_green_service", "user_managed"];

    /// Reads a canonical spelling exactly (as a shipyard is read).
    pub(crate) fn from_wire(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(Self::Direct),
            "blue_green_service" => Some(Self::BlueGreenService),
            "user_managed" => Some(Self::UserManaged),
            _ => None,
        }
    }
}

impl fmt::Display for DeploymentStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a known deployment strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} strategy `{value}`, expected one of: {expected}")]
#[non_exhaustive]
pub struct UnknownStrategy {
    /// `deployment`.
    pub what: &'static str,
    /// The rejected string.
    pub value: String,
    /// The accepted spellings.
    pub expected: &'static str,
}

impl FromStr for DeploymentStrategy {
    type Err = UnknownStrategy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "direct" => Ok(Self::Direct),
            "blue_green_service" | "blue_green" | "duplicate" | "canary" => {
                Ok(Self::BlueGreenService)
            }
            "user_managed" | "user-managed" => Ok(Self::UserManaged),
            _ => Err(UnknownStrategy {
                what: "deployment",
                value: s.to_owned(),
                expected: "direct, blue_green_service, user_managed",
            }),
        }
    }
}

impl TryFrom<String> for DeploymentStrategy {
    type Error = UnknownStrategy;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DeploymentStrategy> for String {
    fn from(s: DeploymentStrategy) -> String {
        s.as_str().to_owned()
    }
}

/// Which tests run after a deployment (a `test` task's `teststrategy`).
///
/// `functional` and `performance` are Keptn's built-in strategies and `real-user` the one Keptn
/// uses for remediation evaluations; any other non-empty name (such as `performance_peak`) is kept
/// as [`TestStrategy::Other`] so a test runner can decide what it means. An empty strategy means
/// "no tests" and is represented by `None` where a strategy is optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum TestStrategy {
    /// `functional`: a few requests validated strictly (any error fails).
    Functional,
    /// `performance`: load for a duration at a concurrency, judged by error rate.
    Performance,
    /// `real-user` (used for remediation evaluations: no synthetic load).
    RealUser,
    /// Any other strategy name, kept verbatim.
    Other(String),
}

impl TestStrategy {
    /// The shipyard spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Functional => "functional",
            Self::Performance => "performance",
            Self::RealUser => "real-user",
            Self::Other(s) => s,
        }
    }

    /// Reads a `teststrategy` (trimmed); empty means no tests (`None`).
    pub fn from_wire(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() {
            None
        } else {
            Some(Self::from(s.to_owned()))
        }
    }
}

impl From<String> for TestStrategy {
    fn from(s: String) -> Self {
        match s.as_str() {
            "functional" => Self::Functional,
            "performance" => Self::Performance,
            "real-user" => Self::RealUser,
            _ => Self::Other(s),
        }
    }
}

impl From<TestStrategy> for String {
    fn from(s: TestStrategy) -> String {
        s.as_str().to_owned()
    }
}

impl fmt::Display for TestStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keptn's aliases all map to blue/green and the canonical name round-trips.
    #[test]
    fn deployment_strategy_accepts_keptn_aliases() {
        for s in [
            "blue_green_service",
            "blue_green",
            "duplicate",
            "canary",
            "Blue_Green_Service",
        ] {
            assert_eq!(s.parse(), Ok(DeploymentStrategy::BlueGreenService), "{s}");
        }
        assert_eq!("direct".parse(), Ok(DeploymentStrategy::Direct));
        assert_eq!("user_managed".parse(), Ok(DeploymentStrategy::UserManaged));
        for s in [
            DeploymentStrategy::Direct,
            DeploymentStrategy::BlueGreenService,
            DeploymentStrategy::UserManaged,
        ] {
            assert_eq!(s.to_string().parse(), Ok(s));
            assert_eq!(DeploymentStrategy::from_wire(s.as_str()), Some(s));
        }
        assert_eq!(DeploymentStrategy::from_wire("duplicate"), None);
    }

    /// An unknown strategy is an error naming the accepted values, not a silent `direct`.
    #[test]
    fn unknown_deployment_strategy_is_rejected() {
        let err = "rolling".parse::<DeploymentStrategy>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown deployment strategy `rolling`, expected one of: direct, blue_green_service, user_managed"
        );
        assert!("".parse::<DeploymentStrategy>().is_err());
    }

    /// Empty test strategy means no tests; known names are typed, custom names are kept.
    #[test]
    fn test_strategy_from_wire() {
        assert_eq!(TestStrategy::from_wire(""), None);
        assert_eq!(TestStrategy::from_wire("  "), None);
        assert_eq!(
            TestStrategy::from_wire("performance"),
            Some(TestStrategy::Performance)
        );
        assert_eq!(
            TestStrategy::from_wire("real-user"),
            Some(TestStrategy::RealUser)
        );
        assert_eq!(
            TestStrategy::from_wire("performance_peak"),
            Some(TestStrategy::Other("performance_peak".into()))
        );
        for s in ["functional", "performance", "real-user", "x"] {
            assert_eq!(String::from(TestStrategy::from(s.to_owned())), s);
        }
    }
}
