//! Validated Keptn entity names and Keptn's naming conventions.

use serde::{Deserialize, Serialize};

/// The longest project name Keptn accepts (its shipyard-controller's default
/// `PROJECT_NAME_MAX_SIZE`).
pub const MAX_PROJECT_NAME_LEN: usize = 200;

/// The longest stage name: a stage names a Kubernetes namespace, whose name is a DNS label of
/// at most 63 characters.
pub const MAX_STAGE_NAME_LEN: usize = 63;

/// The longest service name Keptn accepts (its shipyard-controller's default
/// `SERVICE_NAME_MAX_SIZE`): a blue/green service gets a Helm release `{service}-generated`,
/// and a Helm release name has at most 53 characters.
pub const MAX_SERVICE_NAME_LEN: usize = 43;

/// How much of a rejected name an error message repeats.
const SHOWN_CHARS: usize = 64;

/// Why a string is not a valid Keptn entity name. Its message repeats at most the first 64
/// characters of the name (an overlong name does not make an overlong message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a valid Keptn {what} name: {reason}", shortened(.name))]
pub struct InvalidName {
    /// The rejected string.
    pub name: String,
    /// Which kind of name it was meant to be (`project`, `stage`, `service`).
    pub what: &'static str,
    /// What rule it breaks.
    pub reason: &'static str,
}

/// `name` as an error message shows it: escaped, and cut after 64 characters with the full
/// length said.
fn shortened(name: &str) -> String {
    let count = name.chars().count();
    if count <= SHOWN_CHARS {
        return format!("`{}`", name.escape_debug());
    }
    let head: String = name.chars().take(SHOWN_CHARS).collect();
    format!("`{}…` ({count} characters)", head.escape_debug())
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

/// Checks a project name: [`validate_entity_name`] and at most [`MAX_PROJECT_NAME_LEN`]
/// characters.
///
/// # Errors
/// [`InvalidName`] saying which rule `name` breaks.
pub fn validate_project_name(name: &str, what: &'static str) -> Result<(), InvalidName> {
    validate_entity_name(name, what)?;
    check_len(
        name,
        what,
        MAX_PROJECT_NAME_LEN,
        "it is longer than 200 characters, Keptn's limit for a project name",
    )
}

/// Checks a stage name: [`validate_entity_name`] and at most [`MAX_STAGE_NAME_LEN`]
/// characters.
///
/// # Errors
/// [`InvalidName`] saying which rule `name` breaks.
pub fn validate_stage_name(name: &str, what: &'static str) -> Result<(), InvalidName> {
    validate_entity_name(name, what)?;
    check_len(
        name,
        what,
        MAX_STAGE_NAME_LEN,
        "it is longer than 63 characters, the limit for a stage name (a Kubernetes namespace label)",
    )
}

/// Checks a service name: [`validate_entity_name`] and at most [`MAX_SERVICE_NAME_LEN`]
/// characters.
///
/// # Errors
/// [`InvalidName`] saying which rule `name` breaks.
pub fn validate_service_name(name: &str, what: &'static str) -> Result<(), InvalidName> {
    validate_entity_name(name, what)?;
    check_len(
        name,
        what,
        MAX_SERVICE_NAME_LEN,
        "it is longer than 43 characters, Keptn's limit for a service name \
         (`{service}-generated` must fit a Helm release name)",
    )
}

/// `name` has passed [`validate_entity_name`], so it is ASCII: bytes are characters.
fn check_len(
    name: &str,
    what: &'static str,
    max: usize,
    reason: &'static str,
) -> Result<(), InvalidName> {
    if name.len() > max {
        return Err(InvalidName {
            name: name.to_owned(),
            what,
            reason,
        });
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
    /// A Keptn project name, such as `sockshop` (at most [`MAX_PROJECT_NAME_LEN`] characters).
    ProjectName,
    "project",
    validate_project_name,
    InvalidName
);
validated_name!(
    /// A Keptn stage name, such as `staging` (at most [`MAX_STAGE_NAME_LEN`] characters).
    StageName,
    "stage",
    validate_stage_name,
    InvalidName
);
validated_name!(
    /// A Keptn service name, such as `carts` (at most [`MAX_SERVICE_NAME_LEN`] characters).
    ServiceName,
    "service",
    validate_service_name,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of name is accepted up to its limit and refused one character past it, with
    /// the limit in the message.
    #[test]
    fn names_are_limited_in_length() {
        let of = |n: usize| format!("a{}", "b".repeat(n - 1));
        assert!(ProjectName::new(of(MAX_PROJECT_NAME_LEN)).is_ok());
        assert!(StageName::new(of(MAX_STAGE_NAME_LEN)).is_ok());
        assert!(ServiceName::new(of(MAX_SERVICE_NAME_LEN)).is_ok());
        let err = ProjectName::new(of(MAX_PROJECT_NAME_LEN + 1)).unwrap_err();
        assert_eq!(err.what, "project");
        assert!(
            err.to_string().contains("longer than 200 characters"),
            "{err}"
        );
        let err = StageName::new(of(MAX_STAGE_NAME_LEN + 1)).unwrap_err();
        assert!(
            err.to_string().contains("longer than 63 characters"),
            "{err}"
        );
        let err = ServiceName::new(of(MAX_SERVICE_NAME_LEN + 1)).unwrap_err();
        assert!(
            err.to_string().contains("longer than 43 characters"),
            "{err}"
        );
        // serde goes through the same check
        let json = format!("\"{}\"", of(44));
        assert!(serde_json::from_str::<ServiceName>(&json).is_err());
    }

    /// An overlong name is cut in the message (with its length said); a short one is shown whole.
    #[test]
    fn messages_cut_overlong_names() {
        let long = "x".repeat(1_000_000);
        let err = ProjectName::new(long.clone()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.len() < 300, "{} bytes", msg.len());
        assert!(msg.contains("(1000000 characters)"), "{msg}");
        assert_eq!(
            err.name, long,
            "the error keeps the whole name for the caller"
        );
        let msg = StageName::new("Dev").unwrap_err().to_string();
        assert_eq!(
            msg,
            "`Dev` is not a valid Keptn stage name: it must start with a lowercase letter"
        );
        // a look-alike (Cyrillic `а`) is refused, and the message escapes nothing it need not
        let msg = ServiceName::new("cаrts").unwrap_err().to_string();
        assert!(msg.contains("only lowercase letters"), "{msg}");
    }
}
