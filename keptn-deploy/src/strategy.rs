//! Deployment and test strategies as the shipyard names them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How a new version of a service is rolled out in a stage (the shipyard's `deploymentstrategy`).
///
/// Parsing accepts the names Keptn's helm-service accepts: `direct`, `blue_green_service`, and
/// the aliases `blue_green`, `duplicate` and `canary` for blue/green, plus `user_managed`.
/// Unlike Keptn, an unknown or empty string is rejected instead of silently meaning `direct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum DeploymentStrategy {
    /// Replace the running version in place (Keptn's `direct`).
    Direct,
    /// Run the new version as a canary beside the serving `{service}-primary`; promote makes it
    /// primary, rollback discards it; the primary keeps serving throughout
    /// (Keptn's `blue_green_service`, helm-service's `duplicate`).
    BlueGreenService,
    /// The deployment is done elsewhere; the deployer only records it (Keptn's `user_managed`).
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
}

impl fmt::Display for DeploymentStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a known deployment or test strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} strategy `{value}`, expected one of: {expected}")]
pub struct UnknownStrategy {
    /// `deployment` or `test`.
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

/// Which tests run after a deployment (the shipyard's `teststrategy`).
///
/// `functional` and `performance` are Keptn's built-in strategies; any other non-empty name
/// (`real-user`, a custom one) is kept as [`TestStrategy::Other`] so a [`crate::TestRunner`] can
/// decide what it means. An empty strategy means "no tests" and is represented by `None` where a
/// strategy is optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum TestStrategy {
    /// A few requests validated strictly (any error fails), like the Keptn tutorial's `basiccheck.jmx`.
    Functional,
    /// Load for a duration at a concurrency, judged by error rate, like the Keptn tutorial's `load.jmx`.
    Performance,
    /// Any other strategy name, kept verbatim.
    Other(String),
}

impl TestStrategy {
    /// The shipyard spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Functional => "functional",
            Self::Performance => "performance",
            Self::Other(s) => s,
        }
    }

    /// Parses a shipyard `teststrategy`; empty means no tests (`None`).
    pub fn from_shipyard(s: &str) -> Option<Self> {
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
        ] {
            assert_eq!(s.to_string().parse(), Ok(s));
        }
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

    /// Empty test strategy means no tests; custom names are kept.
    #[test]
    fn test_strategy_from_shipyard() {
        assert_eq!(TestStrategy::from_shipyard(""), None);
        assert_eq!(
            TestStrategy::from_shipyard("performance"),
            Some(TestStrategy::Performance)
        );
        assert_eq!(
            TestStrategy::from_shipyard("real-user"),
            Some(TestStrategy::Other("real-user".into()))
        );
    }
}
