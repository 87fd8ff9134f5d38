//! What one artifact's delivery did in every stage of a shipyard: the typed sequence outcomes
//! of its context, stage by stage, with the version serving in each stage afterwards. What a
//! delivery report (a terminal table, a JSON summary, a story check) is built from.

use std::collections::BTreeMap;

use keptn_deploy::{Deployer, StageService};
use keptn_spec::event::Verdict;
use keptn_spec::shipyard::Shipyard;
use keptn_spec::{EvaluationFinishedData, ServiceName};

use crate::SequenceOutcome;

/// What one delivery did in one stage.
#[derive(Debug, Clone)]
pub struct StageOutcome {
    /// The stage.
    pub stage: String,
    /// The delivery's tasks with their results (empty when it did not run here).
    pub tasks: Vec<(String, Verdict)>,
    /// `pass`, `warning`, `fail` or `not run`.
    pub result: String,
    /// The evaluation's details, when the gate evaluated objectives.
    pub evaluation: Option<EvaluationFinishedData>,
    /// Whether the stage's `rollback` sequence ran.
    pub rollback: bool,
    /// The version serving afterwards (the image's tag).
    pub serving: Option<String>,
}

/// What one artifact's delivery did in every stage.
#[derive(Debug, Clone)]
pub struct ArtifactOutcome {
    /// The service.
    pub service: String,
    /// The version (the image's tag).
    pub version: String,
    /// The image.
    pub image: String,
    /// The Keptn context of the delivery.
    pub context: String,
    /// One outcome per stage of the shipyard, in order.
    pub stages: Vec<StageOutcome>,
}

/// The tag of an image: its version.
pub fn image_tag(image: &str) -> String {
    image.rsplit(':').next().unwrap_or(image).to_owned()
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
                serving.insert(stage.name.to_string(), image_tag(image));
            }
        }
        let find = |stage: &str, name: &str| {
            sequences
                .iter()
                .find(|s| s.stage.as_str() == stage && s.sequence == name)
        };
        let stages = shipyard
            .stages()
            .iter()
            .map(|st| {
                let name = st.name.as_str();
                let delivery = find(name, "delivery");
                StageOutcome {
                    stage: name.to_owned(),
                    tasks: delivery
                        .map(|d| d.tasks.iter().map(|t| (t.task.clone(), t.result)).collect())
                        .unwrap_or_default(),
                    result: delivery.map_or("not run".to_owned(), |d| d.result.to_string()),
                    evaluation: delivery
                        .and_then(|d| d.task("evaluation"))
                        .and_then(|t| t.evaluation.as_deref().cloned()),
                    rollback: find(name, "rollback").is_some(),
                    serving: serving.get(name).cloned(),
                }
            })
            .collect();
        Self {
            service: service.to_string(),
            version: image_tag(image),
            image: image.to_owned(),
            context: sequences
                .first()
                .map(|s| s.context.to_string())
                .unwrap_or_default(),
            stages,
        }
    }

    /// The outcome in stage `name`.
    pub fn stage(&self, name: &str) -> Option<&StageOutcome> {
        self.stages.iter().find(|s| s.stage == name)
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
    }
}
