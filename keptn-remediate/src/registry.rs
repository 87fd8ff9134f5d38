//! [`ActionRegistry`]: actions by name, and load-time checks of remediation files.

use std::collections::BTreeMap;
use std::sync::Arc;

use keptn_spec::remediation::RemediationFile;

use crate::action::RemediationAction;
use crate::error::{ActionIssue, Error, Result};

/// The actions a [`Remediator`](crate::Remediator) can run, by name (and alias).
///
/// ```
/// use keptn_remediate::{ActionRegistry, ScalingAction};
/// # #[cfg(feature = "testing")] {
/// use keptn_remediate::testing::InMemoryScaler;
///
/// let registry = ActionRegistry::new().with(ScalingAction::new(InMemoryScaler::new()));
/// let file = keptn_spec::remediation::RemediationFile::from_yaml_str(
///     "remediations:\n- name: High load\n  actions:\n  - action: scaling\n    value: \"+1\"\n  - action: restart\n",
/// )?;
/// let err = registry.check(&file, Some("remediation.yaml")).unwrap_err();
/// assert!(err.to_string().contains("remediations[0].actions[1]: action `restart`: unknown action"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ActionRegistry {
    actions: BTreeMap<String, Arc<dyn RemediationAction>>,
}

impl ActionRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an action under its name and aliases (replacing earlier actions of those names).
    #[must_use]
    pub fn with(mut self, action: impl RemediationAction + 'static) -> Self {
        self.register(Arc::new(action));
        self
    }

    /// Adds a shared action under its name and aliases.
    pub fn register(&mut self, action: Arc<dyn RemediationAction>) {
        for alias in action.aliases() {
            self.actions
                .insert((*alias).to_owned(), Arc::clone(&action));
        }
        self.actions.insert(action.name().to_owned(), action);
    }

    /// The action registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn RemediationAction>> {
        self.actions.get(name)
    }

    /// Every registered name (names and aliases), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.actions.keys().map(String::as_str)
    }

    /// Checks that every action of `file` is registered and accepts its value.
    ///
    /// # Errors
    /// [`Error::InvalidRemediation`] listing every unknown action and every bad value, with its
    /// path in the file.
    pub fn check(&self, file: &RemediationFile, file_name: Option<&str>) -> Result<()> {
        let mut issues = Vec::new();
        for located in file.actions() {
            match self.get(located.action) {
                None => issues.push(ActionIssue {
                    path: located.path.clone(),
                    action: located.action.to_owned(),
                    reason: format!(
                        "unknown action (registered: {})",
                        self.names().collect::<Vec<_>>().join(", ")
                    ),
                }),
                Some(action) => {
                    if let Err(reason) = action.check(located.value) {
                        issues.push(ActionIssue {
                            path: located.path.clone(),
                            action: located.action.to_owned(),
                            reason,
                        });
                    }
                }
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidRemediation {
                file: file_name.map(str::to_owned),
                issues,
            })
        }
    }
}
