//! Choosing the remediation for a problem ([`RemediationFile::select`]) and listing a file's
//! actions with their paths ([`RemediationFile::actions`]).

use std::fmt;

use super::{ActionSpec, ActionValue, DEFAULT_PROBLEM_TYPE, RemediationFile};

/// How a [`Selected`] remediation matched the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatchKind {
    /// `problemType` equals the problem's root cause (0.1.4).
    RootCause,
    /// `problemType` equals the problem title (0.1.4).
    Title,
    /// `problemType: default` (0.1.4).
    Default,
    /// The 0.6 entry's `name` is a prefix of the problem title.
    TitlePrefix,
}

impl MatchKind {
    /// A short lowercase name: `root-cause`, `title`, `default`, `title-prefix`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RootCause => "root-cause",
            Self::Title => "title",
            Self::Default => "default",
            Self::TitlePrefix => "title-prefix",
        }
    }
}

impl fmt::Display for MatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The remediation chosen for a problem: its problem type (or 0.6 name) and its actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The `problemType` (0.1.4) or `name` (0.6) that matched.
    pub problem_type: String,
    /// How it matched.
    pub matched_by: MatchKind,
    /// Its index in the file's list.
    pub index: usize,
    /// The actions to run, in order.
    pub actions: Vec<ActionSpec>,
}

/// One action of a file, with where it is, for load-time checks (see [`RemediationFile::actions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedAction<'a> {
    /// The path of the action in the file, such as `spec.remediations[1].actionsOnOpen[0]`.
    pub path: String,
    /// The problem type (or 0.6 name) it belongs to.
    pub problem_type: &'a str,
    /// The action's name.
    pub action: &'a str,
    /// The action's argument.
    pub value: Option<&'a ActionValue>,
}

impl RemediationFile {
    /// The file's name (`metadata.name`), when it has one (0.1.4 only).
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Legacy(_) => None,
            Self::V014(r) => Some(r.metadata.name.as_str()).filter(|n| !n.is_empty()),
        }
    }

    /// Every action of the file with its location, in file order.
    pub fn actions(&self) -> Vec<LocatedAction<'_>> {
        let mut out = Vec::new();
        match self {
            Self::Legacy(list) => {
                for (i, r) in list.remediations.iter().enumerate() {
                    for (j, a) in r.actions.iter().enumerate() {
                        out.push(LocatedAction {
                            path: format!("remediations[{i}].actions[{j}]"),
                            problem_type: &r.name,
                            action: &a.action,
                            value: a.value.as_ref(),
                        });
                    }
                }
            }
            Self::V014(rem) => {
                for (i, r) in rem.spec.remediations.iter().enumerate() {
                    for (j, a) in r.actions_on_open.iter().enumerate() {
                        out.push(LocatedAction {
                            path: format!("spec.remediations[{i}].actionsOnOpen[{j}]"),
                            problem_type: &r.problem_type,
                            action: &a.action,
                            value: a.value.as_ref(),
                        });
                    }
                }
            }
        }
        out
    }

    /// Chooses the remediation for a problem with this `title` and, when known, `root_cause`
    /// (a [`Problem`](crate::Problem)'s `title` and `root_cause`).
    ///
    /// - 0.1.4: the first entry whose `problemType` **equals** the root cause, else the first that
    ///   equals the title, else the first `default` entry (Keptn 0.8.5+).
    /// - 0.6 list: the first entry whose `name` is a **prefix** of the title (an empty name
    ///   matches every problem), as Keptn 0.6 did. Unlike Keptn 0.6, which ran only the first
    ///   action, all actions are returned; the workflow runs them one at a time.
    ///
    /// `None` when nothing matches.
    pub fn select(&self, title: &str, root_cause: Option<&str>) -> Option<Selected> {
        match self {
            Self::Legacy(list) => list
                .remediations
                .iter()
                .enumerate()
                .find(|(_, r)| title.starts_with(r.name.as_str()))
                .map(|(index, r)| Selected {
                    problem_type: r.name.clone(),
                    matched_by: MatchKind::TitlePrefix,
                    index,
                    actions: r
                        .actions
                        .iter()
                        .map(|a| ActionSpec {
                            name: a.action.clone(),
                            action: a.action.clone(),
                            description: String::new(),
                            value: a.value.clone(),
                        })
                        .collect(),
                }),
            Self::V014(rem) => {
                let find = |wanted: &str, kind: MatchKind| {
                    rem.spec
                        .remediations
                        .iter()
                        .enumerate()
                        .find(|(_, r)| r.problem_type == wanted)
                        .map(|(index, r)| Selected {
                            problem_type: r.problem_type.clone(),
                            matched_by: kind,
                            index,
                            actions: r.actions_on_open.clone(),
                        })
                };
                root_cause
                    .and_then(|rc| find(rc, MatchKind::RootCause))
                    .or_else(|| find(title, MatchKind::Title))
                    .or_else(|| find(DEFAULT_PROBLEM_TYPE, MatchKind::Default))
            }
        }
    }
}
