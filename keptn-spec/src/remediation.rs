//! Remediation files (`remediation.yaml`): which actions to run for which problem.
//!
//! Two generations are read, both through [`RemediationFile::from_yaml_str`]:
//!
//! - the 0.6 list of Keptn's tutorial (no `apiVersion`): `remediations: - name, actions: - action, value`,
//!   matched by **prefix** of the problem title, as Keptn 0.6 did;
//! - `spec.keptn.sh/0.1.4` (`kind: Remediation`, `spec.remediations[].problemType`,
//!   `actionsOnOpen[]` with `name`, `action`, `description`, `value`), matched **exactly** on the
//!   problem's root cause, then its title, then `default` (Keptn 0.8.5+).
//!
//! An action `value` is either a string (`EnablePromotion:off`, `"+1"`) or a map
//! (`{EnablePromotion: off}`). Both are typed so that YAML 1.1 words such as `off` stay the
//! strings they were written as and never become booleans.
//!
//! ```
//! use keptn_spec::remediation::RemediationFile;
//!
//! let file = RemediationFile::from_yaml_str(
//!     "remediations:\n- name: Failure rate increase\n  actions:\n  - action: featuretoggle\n    value: EnablePromotion:off\n",
//! )?;
//! let rule = file.select("Failure rate increase on carts", None).expect("a match");
//! assert_eq!(rule.actions[0].action, "featuretoggle");
//! assert_eq!(rule.actions[0].value.as_ref().unwrap().as_text(), Some("EnablePromotion:off"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

mod select;
mod value;
pub use select::{LocatedAction, MatchKind, Selected};
pub use value::ActionValue;

/// The only `apiVersion` Keptn accepts for the structured remediation file.
pub const API_VERSION_0_1_4: &str = "spec.keptn.sh/0.1.4";

/// The `kind` of a structured remediation file.
pub const KIND: &str = "Remediation";

/// The problem type that matches any problem when nothing more specific does (0.1.4 format).
pub const DEFAULT_PROBLEM_TYPE: &str = "default";

/// A remediation file in either supported generation.
///
/// Deserializing detects the generation: a document with `apiVersion` is the 0.1.4 format (and
/// must say exactly `spec.keptn.sh/0.1.4` and `kind: Remediation`); a document with a top-level
/// `remediations` list is the 0.6 format. Serializing writes the same generation back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawRemediationFile", into = "RawRemediationFile")]
pub enum RemediationFile {
    /// The 0.6 list (`remediations: - name, actions`), as in the Keptn tutorial's
    /// `remediation_feature_toggle.yaml`.
    Legacy(LegacyRemediations),
    /// `apiVersion: spec.keptn.sh/0.1.4`, `kind: Remediation`.
    V014(Remediation),
}

/// The 0.6 remediation list (no `apiVersion`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LegacyRemediations {
    /// The remediations in file order; the first whose `name` prefixes the problem title wins.
    pub remediations: Vec<LegacyRemediation>,
}

/// One entry of the 0.6 list.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LegacyRemediation {
    /// A prefix of the problem titles this entry handles (empty matches every problem).
    #[serde(default)]
    pub name: String,
    /// The actions, in order.
    #[serde(default)]
    pub actions: Vec<LegacyAction>,
}

/// One action of the 0.6 list.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LegacyAction {
    /// The action's name (`featuretoggle`, `scaling`, …).
    pub action: String,
    /// The action's argument (`EnablePromotion:off`, `+1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ActionValue>,
}

/// The structured remediation file, `spec.keptn.sh/0.1.4`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Remediation {
    /// `metadata` (the file's name).
    #[serde(default)]
    pub metadata: Metadata,
    /// `spec`: the remediations.
    #[serde(default)]
    pub spec: RemediationSpec,
}

/// `metadata` of a structured remediation file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// The remediation's name, such as `carts-remediation`.
    #[serde(default)]
    pub name: String,
}

/// `spec` of a structured remediation file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RemediationSpec {
    /// One entry per problem type.
    #[serde(default)]
    pub remediations: Vec<ProblemRemediation>,
}

/// The actions for one problem type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProblemRemediation {
    /// The problem type: a root cause, a problem title, or `default`.
    #[serde(rename = "problemType")]
    pub problem_type: String,
    /// The actions to run when such a problem opens, in order.
    #[serde(rename = "actionsOnOpen", default)]
    pub actions_on_open: Vec<ActionSpec>,
}

/// One action of a remediation: what to run and with which argument.
///
/// This is the 0.1.4 shape (`name`, `action`, `description`, `value`); actions of the 0.6 list
/// are presented in this shape too (with `name` set to the action, `description` empty).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActionSpec {
    /// A human-readable name of the step, such as `Toggle feature flag`.
    #[serde(default)]
    pub name: String,
    /// The action to run, looked up by name (`toggle-feature`, `featuretoggle`, `scaling`, …).
    pub action: String,
    /// What the step does, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The action's argument.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ActionValue>,
}

/// The wire shape shared by both generations; [`RemediationFile`] is built from it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RawRemediationFile {
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<RemediationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remediations: Option<Vec<LegacyRemediation>>,
}

/// Why a parsed document is not a remediation file of either generation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShapeError(String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<RawRemediationFile> for RemediationFile {
    type Error = ShapeError;

    fn try_from(raw: RawRemediationFile) -> Result<Self, ShapeError> {
        match raw.api_version {
            Some(version) => {
                if version != API_VERSION_0_1_4 {
                    return Err(ShapeError(format!(
                        "field `apiVersion`: remediation.yaml file does not conform to remediation spec \
                         {API_VERSION_0_1_4} (found `{version}`)"
                    )));
                }
                match raw.kind.as_deref() {
                    Some(KIND) => {}
                    Some(other) => {
                        return Err(ShapeError(format!(
                            "field `kind`: expected `{KIND}`, found `{other}`"
                        )));
                    }
                    None => {
                        return Err(ShapeError(format!(
                            "field `kind` is missing: expected `kind: {KIND}`"
                        )));
                    }
                }
                if raw.remediations.is_some() {
                    return Err(ShapeError(format!(
                        "field `remediations`: a {API_VERSION_0_1_4} file lists its remediations under \
                         `spec.remediations`, not at the top level"
                    )));
                }
                let Some(spec) = raw.spec else {
                    return Err(ShapeError(
                        "field `spec` is missing: expected `spec.remediations`".to_owned(),
                    ));
                };
                Ok(Self::V014(Remediation {
                    metadata: raw.metadata.unwrap_or_default(),
                    spec,
                }))
            }
            None => {
                if raw.spec.is_some() || raw.kind.is_some() {
                    return Err(ShapeError(format!(
                        "field `apiVersion` is missing: a file with `kind`/`spec` must say \
                         `apiVersion: {API_VERSION_0_1_4}`"
                    )));
                }
                match raw.remediations {
                    Some(remediations) => Ok(Self::Legacy(LegacyRemediations { remediations })),
                    None => Err(ShapeError(format!(
                        "not a remediation file: expected `apiVersion: {API_VERSION_0_1_4}` with \
                         `spec.remediations`, or a top-level `remediations` list"
                    ))),
                }
            }
        }
    }
}

impl From<RemediationFile> for RawRemediationFile {
    fn from(file: RemediationFile) -> Self {
        match file {
            RemediationFile::Legacy(list) => Self {
                remediations: Some(list.remediations),
                ..Self::default()
            },
            RemediationFile::V014(r) => Self {
                api_version: Some(API_VERSION_0_1_4.to_owned()),
                kind: Some(KIND.to_owned()),
                metadata: Some(r.metadata),
                spec: Some(r.spec),
                remediations: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEED_06: &str = r#"remediations:
- name: "Response time degradation"
  actions:
  - action: featuretoggle
    value: EnableItemCache:on
- name: "Failure rate increase"
  actions:
  - action: featuretoggle
    value: EnablePromotion:off
"#;

    const V014: &str = r#"apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata:
  name: carts-remediation
spec:
  remediations:
    - problemType: Response time degradation
      actionsOnOpen:
        - action: scaling
          name: scaling
          description: Scale up
          value: "1"
    - problemType: Failure rate increase
      actionsOnOpen:
        - action: toggle-feature
          name: Toggle feature flag
          description: Toggle feature flag EnablePromotion to OFF
          value:
            EnablePromotion: off
    - problemType: default
      actionsOnOpen:
        - action: toggle-feature
          name: Toggle feature flag
          value:
            EnableItemCache: "on"
            EnablePromotion: no
"#;

    #[track_caller]
    fn parse(src: &str) -> RemediationFile {
        RemediationFile::from_yaml_str(src).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The Keptn tutorial's 0.6 list parses and `off` in `EnablePromotion:off` stays part of the string.
    #[test]
    fn seed_list_parses_with_string_values() {
        let file = parse(SEED_06);
        let RemediationFile::Legacy(list) = &file else {
            panic!("expected the 0.6 list, got {file:?}")
        };
        assert_eq!(list.remediations.len(), 2);
        assert_eq!(
            list.remediations[1].actions[0].value,
            Some(ActionValue::Text("EnablePromotion:off".into()))
        );
    }

    /// An unquoted `off` as a map value stays the string `off` and never becomes a boolean.
    #[test]
    fn unquoted_off_in_map_stays_a_string() {
        let file = parse(V014);
        let sel = file.select("Failure rate increase", None).unwrap();
        assert_eq!(
            sel.actions[0].value,
            Some(ActionValue::Map(vec![(
                "EnablePromotion".into(),
                "off".into()
            )]))
        );
        let def = file.select("Something else", None).unwrap();
        assert_eq!(
            def.actions[0].value,
            Some(ActionValue::Map(vec![
                ("EnableItemCache".into(), "on".into()),
                ("EnablePromotion".into(), "no".into()),
            ]))
        );
    }

    /// The 0.6 list matches the first entry whose name prefixes the title.
    #[test]
    fn legacy_list_matches_by_title_prefix() {
        let file = parse(SEED_06);
        let sel = file
            .select("Failure rate increase on Web request /carts", None)
            .unwrap();
        assert_eq!(sel.problem_type, "Failure rate increase");
        assert_eq!(sel.matched_by, MatchKind::TitlePrefix);
        assert_eq!(sel.index, 1);
        assert_eq!(sel.actions[0].action, "featuretoggle");
        assert!(file.select("CPU saturation", None).is_none());
    }

    /// An empty 0.6 name matches every problem, as `strings.HasPrefix(title, "")` did; a bare
    /// `+1` is a YAML integer and reads as `1`.
    #[test]
    fn legacy_empty_name_matches_everything() {
        let file = parse("remediations:\n- actions:\n  - action: scaling\n    value: +1\n");
        let sel = file.select("anything", None).unwrap();
        assert_eq!(sel.actions[0].value, Some(ActionValue::Text("1".into())));
    }

    /// 0.1.4 matching is exact: root cause first, then title, then `default`.
    #[test]
    fn structured_file_matches_root_cause_then_title_then_default() {
        let file = parse(V014);
        let by_rc = file
            .select("Failure rate increase", Some("Response time degradation"))
            .unwrap();
        assert_eq!(by_rc.matched_by, MatchKind::RootCause);
        assert_eq!(by_rc.actions[0].action, "scaling");

        let by_title = file
            .select("Failure rate increase", Some("unknown"))
            .unwrap();
        assert_eq!(by_title.matched_by, MatchKind::Title);
        assert_eq!(by_title.index, 1);

        // Exact, not prefix: a longer title falls through to `default`.
        let by_default = file.select("Failure rate increase on carts", None).unwrap();
        assert_eq!(by_default.matched_by, MatchKind::Default);
        assert_eq!(by_default.index, 2);
    }

    /// Without a `default` entry an unmatched problem selects nothing.
    #[test]
    fn structured_file_without_default_selects_nothing() {
        let file = parse(
            "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nspec:\n  remediations:\n  - problemType: a\n    actionsOnOpen: []\n",
        );
        assert!(file.select("b", None).is_none());
    }

    /// A wrong apiVersion is rejected with Keptn's message and the version found.
    #[test]
    fn wrong_api_version_is_rejected() {
        let err = RemediationFile::from_yaml_str(
            "apiVersion: spec.keptn.sh/0.2.0\nkind: Remediation\nspec:\n  remediations: []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("does not conform to remediation spec spec.keptn.sh/0.1.4"),
            "{err}"
        );
        assert!(err.contains("spec.keptn.sh/0.2.0"), "{err}");
    }

    /// A wrong kind, a missing spec and a document of neither shape are rejected with the field.
    #[test]
    fn malformed_documents_name_the_field() {
        let cases = [
            (
                "apiVersion: spec.keptn.sh/0.1.4\nkind: Shipyard\nspec: {}\n",
                "field `kind`",
            ),
            (
                "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\n",
                "field `spec` is missing",
            ),
            ("stages: []\n", "not a remediation file"),
            (
                "kind: Remediation\nspec:\n  remediations: []\n",
                "field `apiVersion` is missing",
            ),
        ];
        for (src, want) in cases {
            let err = RemediationFile::from_yaml_str(src).unwrap_err().to_string();
            assert!(err.contains(want), "{src:?}: {err}");
        }
    }

    /// A missing `action` is a located error naming the field.
    #[test]
    fn missing_action_field_is_located() {
        let err = RemediationFile::from_yaml_str(
            "remediations:\n- name: x\n  actions:\n  - value: a:on\n",
        )
        .unwrap_err();
        #[allow(irrefutable_let_patterns)] // `Error` may grow more variants
        let crate::Error::Parse {
            location, message, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(message.contains("action"), "{message}");
        assert_eq!(location.map(|l| l.line), Some(4), "{err}");
    }

    /// A map value with a nested map is rejected, not flattened.
    #[test]
    fn nested_map_value_is_rejected() {
        let err = RemediationFile::from_yaml_str(
            "remediations:\n- name: x\n  actions:\n  - action: a\n    value:\n      F:\n        deep: on\n",
        );
        assert!(err.is_err(), "{err:?}");
    }

    /// A bare numeric value keeps its text; a quoted one too.
    #[test]
    fn numeric_values_become_text() {
        let file = parse(
            "remediations:\n- name: x\n  actions:\n  - action: scaling\n    value: 2\n  - action: scaling\n    value: \"+1\"\n",
        );
        let sel = file.select("x", None).unwrap();
        assert_eq!(sel.actions[0].value, Some(ActionValue::Text("2".into())));
        assert_eq!(sel.actions[1].value, Some(ActionValue::Text("+1".into())));
    }

    /// Every action is listed with its path, for load-time validation.
    #[test]
    fn actions_are_listed_with_paths() {
        let file = parse(V014);
        let actions = file.actions();
        assert_eq!(actions.len(), 3);
        assert_eq!(actions[1].path, "spec.remediations[1].actionsOnOpen[0]");
        assert_eq!(actions[1].action, "toggle-feature");
        assert_eq!(actions[1].problem_type, "Failure rate increase");
        assert_eq!(file.name(), Some("carts-remediation"));
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("off".to_owned()),
            Just("on".to_owned()),
            Just("no".to_owned()),
            Just("+1".to_owned()),
            Just("1".to_owned()),
            Just("EnablePromotion:off".to_owned()),
            Just("null".to_owned()),
            Just("~".to_owned()),
            Just(String::new()),
            "[A-Za-z0-9 :_+.#-]{0,16}",
        ]
    }

    fn value() -> impl Strategy<Value = ActionValue> {
        prop_oneof![
            text().prop_map(ActionValue::Text),
            proptest::collection::btree_map("[A-Za-z][A-Za-z0-9]{0,8}", text(), 0..4)
                .prop_map(|m| ActionValue::Map(m.into_iter().collect())),
        ]
    }

    fn action_spec() -> impl Strategy<Value = ActionSpec> {
        (
            text(),
            "[a-z][a-z-]{0,12}",
            text(),
            proptest::option::of(value()),
        )
            .prop_map(|(name, action, description, value)| ActionSpec {
                name,
                action,
                description,
                value,
            })
    }

    fn file() -> impl Strategy<Value = RemediationFile> {
        let legacy = proptest::collection::vec(
            (
                text(),
                proptest::collection::vec(
                    ("[a-z][a-z-]{0,12}", proptest::option::of(value()))
                        .prop_map(|(action, value)| LegacyAction { action, value }),
                    0..3,
                ),
            )
                .prop_map(|(name, actions)| LegacyRemediation { name, actions }),
            0..4,
        )
        .prop_map(|remediations| RemediationFile::Legacy(LegacyRemediations { remediations }));
        let v014 = (
            text(),
            proptest::collection::vec(
                (text(), proptest::collection::vec(action_spec(), 0..3)).prop_map(
                    |(problem_type, actions_on_open)| ProblemRemediation {
                        problem_type,
                        actions_on_open,
                    },
                ),
                0..4,
            ),
        )
            .prop_map(|(name, remediations)| {
                RemediationFile::V014(Remediation {
                    metadata: Metadata { name },
                    spec: RemediationSpec { remediations },
                })
            });
        prop_oneof![legacy, v014]
    }

    proptest! {
        /// parse(serialize(file)) == file, for both generations and tricky scalars like `off`.
        #[test]
        fn round_trips_through_yaml(file in file()) {
            let yaml = serde_saphyr::to_string(&file).unwrap();
            let back = RemediationFile::from_yaml_str(&yaml)
                .unwrap_or_else(|e| panic!("{e}\n---\n{yaml}"));
            prop_assert_eq!(back, file, "yaml:\n{}", yaml);
        }

        /// Parsing arbitrary text never panics.
        #[test]
        fn parse_never_panics(src in "\\PC{0,200}") {
            let _ = RemediationFile::from_yaml_str(&src);
        }
    }
}
