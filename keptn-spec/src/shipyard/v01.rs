//! The 0.1 shipyard of Keptn 0.6/0.7 (a list of stages with strategies) and its conversion to
//! the canonical 0.2 model.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::{
    ApprovalMode, DeploymentStrategy, Selector, Sequence, SequenceEvent, SequenceName, Shipyard,
    Stage, Task, Trigger,
};
use crate::duration::GoDuration;
use crate::error::{FieldPath, Issue, Validation, did_you_mean};
use crate::names::StageName;

/// A shipyard in the 0.1 form of Keptn 0.6/0.7: a list of stages with strategies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipyardV01 {
    /// The stages in promotion order.
    #[serde(default)]
    pub stages: Vec<StageV01>,
}

/// One stage of a 0.1 shipyard. All strategies are free strings, as in Keptn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageV01 {
    /// The stage name.
    pub name: StageName,
    /// `direct` or `blue_green_service` (Keptn also mapped `blue_green` and `canary` to
    /// blue/green; anything else, or nothing, meant direct).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_strategy: Option<String>,
    /// `functional`, `performance`, another test service's strategy, or empty for no tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_strategy: Option<String>,
    /// `automated` enables remediation in this stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation_strategy: Option<String>,
    /// Keptn 0.7: how results are approved before this stage is deployed (a map; the list form
    /// of the 0.1 spec text never worked in Keptn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_strategy: Option<ApprovalStrategyV01>,
}

/// `approval_strategy` of a 0.1 stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStrategyV01 {
    /// `automatic` or `manual` for `pass` results (missing or unknown = automatic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// `automatic` or `manual` for `warning` results (missing or unknown = automatic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl ApprovalStrategyV01 {
    /// Keptn 0.7's reading: case-insensitive, anything but `manual` is automatic.
    fn mode(value: Option<&str>) -> ApprovalMode {
        match value {
            Some(s) if s.eq_ignore_ascii_case("manual") => ApprovalMode::Manual,
            _ => ApprovalMode::Automatic,
        }
    }
}

impl StageV01 {
    /// The deployment strategy as Keptn 0.6's helm-service read it.
    pub fn deployment(&self) -> DeploymentStrategy {
        match self.deployment_strategy.as_deref() {
            Some("blue_green_service" | "blue_green" | "canary") => {
                DeploymentStrategy::BlueGreenService
            }
            _ => DeploymentStrategy::Direct,
        }
    }

    /// Whether remediation is enabled (`remediation_strategy: automated`, exactly).
    pub fn remediation_enabled(&self) -> bool {
        self.remediation_strategy.as_deref() == Some("automated")
    }
}

impl ShipyardV01 {
    /// Checks a 0.1 shipyard: at least one stage, no duplicate stages; warns about strategy
    /// values Keptn would silently have read as something else.
    pub fn validate(&self) -> Validation {
        let mut v = Validation::default();
        let stages = FieldPath::root().key("stages");
        if self.stages.is_empty() {
            v.error(Issue::new(
                stages.clone(),
                "a shipyard needs at least one stage",
            ));
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, st) in self.stages.iter().enumerate() {
            let p = stages.index(i);
            if let Some(first) = seen.insert(st.name.as_str(), i) {
                seen.insert(st.name.as_str(), first);
                v.error(Issue::new(
                    p.key("name"),
                    format!(
                        "duplicate stage `{}` (already defined at {})",
                        st.name,
                        stages.index(first)
                    ),
                ));
            }
            if let Some(d) = st.deployment_strategy.as_deref()
                && !["direct", "blue_green_service", "blue_green", "canary", ""].contains(&d)
            {
                v.warning(
                    Issue::new(
                        p.key("deployment_strategy"),
                        format!("unknown deployment strategy `{d}`; Keptn deployed it `direct`"),
                    )
                    .with_suggestion(did_you_mean(d, ["direct", "blue_green_service"])),
                );
            }
            if let Some(r) = st.remediation_strategy.as_deref()
                && r != "automated"
            {
                v.warning(
                    Issue::new(
                        p.key("remediation_strategy"),
                        format!(
                            "remediation_strategy `{r}` does not enable remediation (only \
                             `automated` does)"
                        ),
                    )
                    .with_suggestion(did_you_mean(r, ["automated"])),
                );
            }
            if let Some(a) = &st.approval_strategy {
                for (key, value) in [("pass", &a.pass), ("warning", &a.warning)] {
                    if let Some(val) = value.as_deref()
                        && !val.eq_ignore_ascii_case("automatic")
                        && !val.eq_ignore_ascii_case("manual")
                    {
                        v.warning(
                            Issue::new(
                                p.key("approval_strategy").key(key),
                                format!(
                                    "unknown approval mode `{val}`; Keptn read it as `automatic`"
                                ),
                            )
                            .with_suggestion(did_you_mean(val, ["automatic", "manual"])),
                        );
                    }
                }
            }
        }
        v
    }

    /// Converts to the canonical 0.2 form the way `keptn upgrade project --shipyard` did
    ///, for each stage:
    /// - `delivery`: `deployment` (`deploymentstrategy`), `test` (`teststrategy`, only when a
    ///   test strategy is set), `evaluation`, `approval` (`pass`/`warning`, only when
    ///   `approval_strategy` is set), `release`;
    /// - `delivery-direct`: the same with `deploymentstrategy: direct`;
    /// - from the second stage on, both triggered by the previous stage's same sequence;
    /// - blue/green stages: `rollback` (one `rollback` task) on `<stage>.delivery.finished`
    ///   with `result: fail`;
    /// - `remediation_strategy: automated` (which the upgrade dropped; we keep its meaning):
    ///   `remediation` with `get-action`, `action` and an `evaluation` 10 minutes later over a
    ///   10-minute timeframe, re-triggered on `<stage>.remediation.finished` with
    ///   `evaluation.result: fail` (the 0.8.4+ self-healing sequence).
    ///
    /// Note the shift Keptn's upgrade made: a 0.7 approval of stage X gated promotion *into*
    /// X; converted, it runs inside X after evaluation and before release.
    pub fn to_canonical(&self) -> Shipyard {
        let mut shipyard = Shipyard::new("");
        let mut prev: Option<&StageName> = None;
        for st in &self.stages {
            let mut stage = Stage::new(st.name.clone());
            for (seq_name, strategy) in [
                ("delivery", st.deployment()),
                ("delivery-direct", DeploymentStrategy::Direct),
            ] {
                let mut tasks = vec![
                    Task::reserved("deployment")
                        .with_property("deploymentstrategy", strategy.as_str()),
                ];
                if let Some(ts) = st.test_strategy.as_deref().filter(|s| !s.is_empty()) {
                    tasks.push(Task::reserved("test").with_property("teststrategy", ts));
                }
                tasks.push(Task::reserved("evaluation"));
                if let Some(a) = &st.approval_strategy {
                    tasks.push(
                        Task::reserved("approval")
                            .with_property(
                                "pass",
                                ApprovalStrategyV01::mode(a.pass.as_deref()).as_str(),
                            )
                            .with_property(
                                "warning",
                                ApprovalStrategyV01::mode(a.warning.as_deref()).as_str(),
                            ),
                    );
                }
                tasks.push(Task::reserved("release"));
                let mut seq = Sequence::new(SequenceName(seq_name.to_owned()), tasks);
                if let Some(p) = prev {
                    seq.triggered_on.push(Trigger {
                        event: SequenceEvent {
                            stage: p.clone(),
                            sequence: SequenceName(seq_name.to_owned()),
                        },
                        selector: None,
                    });
                }
                stage.sequences.push(seq);
            }
            if st.deployment() == DeploymentStrategy::BlueGreenService {
                let mut seq = Sequence::new(
                    SequenceName("rollback".to_owned()),
                    vec![Task::reserved("rollback")],
                );
                seq.triggered_on.push(Trigger {
                    event: SequenceEvent {
                        stage: st.name.clone(),
                        sequence: SequenceName("delivery".to_owned()),
                    },
                    selector: Some(Selector {
                        matches: BTreeMap::from([("result".to_owned(), "fail".to_owned())]),
                    }),
                });
                stage.sequences.push(seq);
            }
            if st.remediation_enabled() {
                let mut evaluation = Task::reserved("evaluation").with_property("timeframe", "10m");
                evaluation.triggered_after =
                    Some(GoDuration::new(std::time::Duration::from_secs(600)));
                let mut seq = Sequence::new(
                    SequenceName("remediation".to_owned()),
                    vec![
                        Task::reserved("get-action"),
                        Task::reserved("action"),
                        evaluation,
                    ],
                );
                seq.triggered_on.push(Trigger {
                    event: SequenceEvent {
                        stage: st.name.clone(),
                        sequence: SequenceName("remediation".to_owned()),
                    },
                    selector: Some(Selector {
                        matches: BTreeMap::from([(
                            "evaluation.result".to_owned(),
                            "fail".to_owned(),
                        )]),
                    }),
                });
                stage.sequences.push(seq);
            }
            shipyard.spec.stages.push(stage);
            prev = Some(&st.name);
        }
        shipyard
    }
}
