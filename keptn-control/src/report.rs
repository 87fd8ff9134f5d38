//! What one artifact's delivery did in every stage of a shipyard: the typed sequence outcomes
//! of its context, stage by stage, with the version serving in each stage afterwards. What a
//! delivery report (a terminal table, a JSON summary, a story check) is built from.

use std::collections::BTreeMap;
use std::fmt;

use keptn_deploy::{Deployer, StageService};
use keptn_spec::evaluation::IndicatorResult;
use keptn_spec::event::{KeptnContext, Verdict};
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{EvaluationFinishedData, ServiceName, StageName};
use serde::{Serialize, Serializer};

use crate::SequenceOutcome;

mod actions;
mod remediation;

pub use actions::{ActionRun, RecordedAction};
pub use remediation::{RemediationOutcome, RemediationStatus};

/// How a delivery ended in one stage: its sequence's result, or that it did not run there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageResult {
    /// The stage's delivery sequence finished with this result.
    Done(Verdict),
    /// The delivery never reached the stage.
    NotRun,
}

impl StageResult {
    /// The sequence's result, when it ran.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Self::Done(v) => Some(v),
            Self::NotRun => None,
        }
    }

    /// `pass`, `warning`, `fail` or `not run`.
    pub fn as_str(self) -> &'static str {
        self.verdict().map_or("not run", Verdict::as_str)
    }
}

impl fmt::Display for StageResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for StageResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The version of an image: its tag (`0.11.2` of `docker.io/keptnexamples/carts:0.11.2`), or
/// the whole reference when it has no tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ImageVersion(String);

impl ImageVersion {
    /// The version of `image`.
    pub fn of_image(image: &str) -> Self {
        let last = image.rsplit('/').next().unwrap_or(image);
        match last.split_once(':') {
            Some((_, tag)) => Self(tag.to_owned()),
            None => Self(image.to_owned()),
        }
    }

    /// The version as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl PartialEq<str> for ImageVersion {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ImageVersion {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// What one delivery did in one stage.
#[derive(Debug, Clone)]
pub struct StageOutcome {
    /// The stage.
    pub stage: StageName,
    /// The delivery's tasks with their results (empty when it did not run here).
    pub tasks: Vec<(String, Verdict)>,
    /// The delivery sequence's result here.
    pub result: StageResult,
    /// The evaluation's details, when the gate evaluated objectives.
    pub evaluation: Option<EvaluationFinishedData>,
    /// Whether the stage's `rollback` sequence ran.
    pub rollback: bool,
    /// The version serving afterwards.
    pub serving: Option<ImageVersion>,
}

impl StageOutcome {
    /// The value the gate measured for indicator `metric`, when it had one.
    pub fn indicator_value(&self, metric: &str) -> Option<f64> {
        indicator_value(self.evaluation.as_ref()?, metric)
    }
}

/// The value `evaluation` measured for indicator `metric`, when it had one (an indicator
/// without a value, such as one whose query failed, has none).
pub fn indicator_value(evaluation: &EvaluationFinishedData, metric: &str) -> Option<f64> {
    evaluation
        .evaluation
        .indicator_results()
        .iter()
        .filter_map(IndicatorResult::value)
        .find(|v| &*v.metric == metric && v.success)
        .map(|v| v.value)
}

/// What one artifact's delivery did in every stage.
#[derive(Debug, Clone)]
pub struct ArtifactOutcome {
    /// The service.
    pub service: ServiceName,
    /// The version (the image's tag).
    pub version: ImageVersion,
    /// The image.
    pub image: String,
    /// The Keptn context of the delivery (`None` when no sequence of it was found).
    pub context: Option<KeptnContext>,
    /// One outcome per stage of the shipyard, in order.
    pub stages: Vec<StageOutcome>,
}

/// The tag of an image: its version, as text (see [`ImageVersion::of_image`]).
pub fn image_tag(image: &str) -> String {
    ImageVersion::of_image(image).0
}

impl ArtifactOutcome {
    /// Reads the outcome of `image`'s delivery from the sequences of its context, and the
    /// version serving in each stage afterwards from `deployer`.
    pub async fn read(
        service: &ServiceName,
        image: &str,
        shipyard: &Shipyard,
        sequences: &[SequenceOutcome],
        deployer: &dyn Deployer,
    ) -> Self {
        let mut serving = BTreeMap::new();
        for stage in shipyard.stages() {
            let Some(project) = sequences.first().map(|s| s.project.clone()) else {
                break;
            };
            let target = StageService::new(project, stage.name.clone(), service.clone());
            if let Ok(status) = deployer.status(&target).await
                && let Some(image) = status.serving_image()
            {
                serving.insert(stage.name.clone(), ImageVersion::of_image(image));
            }
        }
        let find = |stage: &StageName, name: &str| {
            sequences
                .iter()
                .find(|s| &s.stage == stage && s.sequence == name)
        };
        let stages = shipyard
            .stages()
            .iter()
            .map(|st| {
                let name = &st.name;
                let delivery = find(name, "delivery");
                StageOutcome {
                    stage: name.clone(),
                    tasks: delivery
                        .map(|d| d.tasks.iter().map(|t| (t.task.clone(), t.result)).collect())
                        .unwrap_or_default(),
                    result: delivery.map_or(StageResult::NotRun, |d| StageResult::Done(d.result)),
                    evaluation: delivery
                        .and_then(|d| d.task("evaluation"))
                        .and_then(|t| t.evaluation.as_deref().cloned()),
                    rollback: find(name, "rollback").is_some(),
                    serving: serving.get(name).cloned(),
                }
            })
            .collect();
        Self {
            service: service.clone(),
            version: ImageVersion::of_image(image),
            image: image.to_owned(),
            context: sequences.first().map(|s| s.context),
            stages,
        }
    }

    /// The outcome in stage `name`.
    pub fn stage(&self, name: &str) -> Option<&StageOutcome> {
        self.stages.iter().find(|s| s.stage == name)
    }

    /// Whether the delivery passed in every stage.
    pub fn passed_everywhere(&self) -> bool {
        self.stages
            .iter()
            .all(|s| s.result == StageResult::Done(Verdict::Pass))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Image tags are the versions reports show.
    #[test]
    fn tags() {
        assert_eq!(image_tag("docker.io/keptnexamples/carts:0.11.2"), "0.11.2");
        assert_eq!(image_tag("docker.io/mongo:4.2.2"), "4.2.2");
        assert_eq!(image_tag("carts"), "carts");
        // a registry port is not a tag
        assert_eq!(
            ImageVersion::of_image("localhost:5000/carts"),
            "localhost:5000/carts"
        );
        assert_eq!(
            ImageVersion::of_image("localhost:5000/carts:0.11.3"),
            "0.11.3"
        );
    }

    /// Results read as today's strings, on the terminal and in JSON.
    #[test]
    fn stage_results() {
        assert_eq!(StageResult::Done(Verdict::Pass).to_string(), "pass");
        assert_eq!(StageResult::Done(Verdict::Warning).to_string(), "warning");
        assert_eq!(StageResult::Done(Verdict::Fail).to_string(), "fail");
        assert_eq!(StageResult::NotRun.to_string(), "not run");
        assert_eq!(StageResult::NotRun.verdict(), None);
        // widths apply, as they did to the strings these replace
        assert_eq!(
            format!("{:<8}|", StageResult::Done(Verdict::Pass)),
            "pass    |"
        );
        assert_eq!(
            format!("{:<7}|", ImageVersion::of_image("c:1.2")),
            "1.2    |"
        );
        assert_eq!(
            serde_json::to_string(&StageResult::NotRun).unwrap(),
            "\"not run\""
        );
        assert_eq!(
            serde_json::to_string(&ImageVersion::of_image("mongo:4.2.2")).unwrap(),
            "\"4.2.2\""
        );
    }
}
