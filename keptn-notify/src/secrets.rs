//! Where the values of a webhook's `envFrom` secrets come from.

use std::collections::HashMap;
use std::fmt;

use keptn_spec::webhook::SecretRef;
use secrecy::SecretString;

/// Resolves `envFrom` secret references (`secretRef {name, key}`) to values.
///
/// In Keptn these were Kubernetes secrets; keptn-rs reads them from the environment
/// ([`EnvSecrets`]) or from a map ([`StaticSecrets`]), and programs can plug in their own
/// source (Kubernetes, Vault, …).
pub trait SecretSource: Send + Sync + fmt::Debug {
    /// The value of `secret`, or `None` when it does not exist.
    fn secret(&self, secret: &SecretRef) -> Option<SecretString>;

    /// Where [`secret`](Self::secret) looked, for error messages (never the value).
    fn describe(&self, secret: &SecretRef) -> String;
}

/// Reads `secretRef {name, key}` from the environment variable `<NAME>_<KEY>`: both upper-cased,
/// every character other than a letter or digit replaced by `_`. So `{name: my-webhook-secret,
/// key: my-key}` is read from `MY_WEBHOOK_SECRET_MY_KEY`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnvSecrets;

impl EnvSecrets {
    /// The environment variable [`EnvSecrets`] reads for `secret`.
    pub fn variable(secret: &SecretRef) -> String {
        format!("{}_{}", secret.name, secret.key)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl SecretSource for EnvSecrets {
    fn secret(&self, secret: &SecretRef) -> Option<SecretString> {
        std::env::var(Self::variable(secret))
            .ok()
            .map(SecretString::from)
    }

    fn describe(&self, secret: &SecretRef) -> String {
        format!("environment variable {}", Self::variable(secret))
    }
}

/// Secrets from a map, for programs that have them at hand and for tests.
///
/// ```
/// use keptn_notify::{SecretSource, StaticSecrets};
/// use keptn_spec::webhook::SecretRef;
/// use secrecy::ExposeSecret;
///
/// let reference = SecretRef { name: "slack".into(), key: "token".into() };
/// let secrets = StaticSecrets::new().with(reference.clone(), "T000/B000/XXX");
/// assert_eq!(secrets.secret(&reference).unwrap().expose_secret(), "T000/B000/XXX");
/// assert!(!format!("{secrets:?}").contains("T000"));
/// ```
#[derive(Clone, Default)]
pub struct StaticSecrets {
    values: HashMap<SecretRef, SecretString>,
}

impl StaticSecrets {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) one secret.
    #[must_use]
    pub fn with(mut self, secret: SecretRef, value: impl Into<String>) -> Self {
        self.values.insert(secret, SecretString::from(value.into()));
        self
    }
}

impl fmt::Debug for StaticSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<String> = self
            .values
            .keys()
            .map(|r| format!("{}/{}", r.name, r.key))
            .collect();
        keys.sort();
        f.debug_struct("StaticSecrets")
            .field("secrets", &keys)
            .field("values", &"[REDACTED]")
            .finish()
    }
}

impl SecretSource for StaticSecrets {
    fn secret(&self, secret: &SecretRef) -> Option<SecretString> {
        self.values.get(secret).cloned()
    }

    fn describe(&self, secret: &SecretRef) -> String {
        format!("the static secret {}/{}", secret.name, secret.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment variable name is derived from secret name and key.
    #[test]
    fn env_variable_name() {
        let r = SecretRef {
            name: "my-webhook-secret".into(),
            key: "my.key".into(),
        };
        assert_eq!(EnvSecrets::variable(&r), "MY_WEBHOOK_SECRET_MY_KEY");
        assert_eq!(
            EnvSecrets.describe(&r),
            "environment variable MY_WEBHOOK_SECRET_MY_KEY"
        );
    }
}
