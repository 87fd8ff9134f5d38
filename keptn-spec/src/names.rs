//! Validated Keptn entity names and Keptn's naming conventions.

use serde::{Deserialize, Serialize};

/// Why a string is not a valid Keptn entity name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a valid Keptn {what} name: {reason}")]
pub struct InvalidName {
    /// The rejected string.
    pub name: String,
    /// Which kind of name it was meant to be (`project`, `stage`, `service`).
    pub what: &'static str,
    /// What rule it breaks.
    pub reason: &'static str,
}

/// Checks Keptn's entity-name rule: lowercase ASCII letters, digits and `-`, starting with a
/// letter and not ending with `-` (`^[a-z][a-z0-9-]*[a-z0-9]$` or a single letter).
///
/// # Errors
/// [`InvalidName`] saying which rule `name` breaks.
pub fn validate_entity_name(name: &str, what: &'static str) -> Result<(), InvalidName> {
    let fail = |reason| {
        Err(InvalidName {
            name: name.to_owned(),
            what,
            reason,
        })
    };
    let Some(first) = name.chars().next() else {
        return fail("it is empty");
    };
    if !first.is_ascii_lowercase() {
        return fail("it must start with a lowercase letter");
    }
    if name
        .chars()
        .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        return fail("only lowercase letters, digits and `-` are allowed");
    }
    if name.ends_with('-') {
        return fail("it must not end with `-`");
    }
    Ok(())
}

/// Defines a validated name newtype: `$check(name, $what)` decides, `$err` says why not.
/// Used for entity names here and for task and sequence names in `shipyard`.
macro_rules! validated_name {
    ($(#[$doc:meta])* $ty:ident, $what:literal, $check:path, $err:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// Validates `name` and wraps it.
            ///
            /// # Errors
            #[doc = concat!("[`", stringify!($err), "`] when `name` is not a valid ", $what, " name.")]
            pub fn new(name: impl Into<String>) -> Result<Self, $err> {
                let name = name.into();
                $check(&name, $what)?;
                Ok(Self(name))
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $err;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}
pub(crate) use validated_name;

validated_name!(
    /// A Keptn project name, such as `sockshop`.
    ProjectName,
    "project",
    validate_entity_name,
    InvalidName
);
validated_name!(
    /// A Keptn stage name, such as `staging`.
    StageName,
    "stage",
    validate_entity_name,
    InvalidName
);
validated_name!(
    /// A Keptn service name, such as `carts`.
    ServiceName,
    "service",
    validate_entity_name,
    InvalidName
);

/// Keptn's Kubernetes namespace for a project's stage: `{project}-{stage}`.
pub fn namespace(project: &ProjectName, stage: &StageName) -> String {
    format!("{project}-{stage}")
}

/// The name of the primary (serving) Deployment of a blue/green service: `{service}-primary`.
pub fn primary_name(service: &ServiceName) -> String {
    format!("{service}-primary")
}

/// The name of the canary (new, not yet promoted) Deployment of a blue/green service:
/// the service name itself, as Keptn's helm-service named it.
pub fn canary_name(service: &ServiceName) -> String {
    service.as_str().to_owned()
}
