//! A user's sequence control: abort, pause, resume.

use keptn_spec::StageName;
use keptn_spec::event::{EventId, KeptnContext, Status, Verdict};

use super::state::{Controller, Effects};
use crate::model::{SequenceControl, SequenceState};
use crate::{Error, Result};

impl Controller {
    pub(super) fn on_control(
        &mut self,
        context: KeptnContext,
        stage: Option<&StageName>,
        control: SequenceControl,
        fx: &mut Effects,
    ) -> Result<()> {
        let targets: Vec<EventId> = self
            .active
            .values()
            .filter(|r| r.context == context && stage.is_none_or(|s| *s == r.stage))
            .map(|r| r.id.clone())
            .collect();
        if targets.is_empty() {
            return Err(Error::NotFound(format!(
                "an unfinished sequence in context {context}"
            )));
        }
        for id in targets {
            let Some(mut record) = self.active.get(&id).cloned() else {
                continue;
            };
            match control {
                SequenceControl::Abort => {
                    record.status = Status::Aborted;
                    record.result = Verdict::Fail;
                    record.message = "aborted by a user".to_owned();
                    self.finish(&mut record, SequenceState::Aborted, fx);
                }
                SequenceControl::Pause if record.state == SequenceState::Started => {
                    record.state = SequenceState::Paused;
                    fx.save(&record);
                    self.active.insert(id, record);
                }
                SequenceControl::Resume if record.state == SequenceState::Paused => {
                    record.state = SequenceState::Started;
                    if record.current.is_none() {
                        self.trigger_next(&mut record, fx);
                    } else {
                        fx.save(&record);
                    }
                    self.active.insert(id, record);
                }
                _ => {}
            }
        }
        Ok(())
    }
}
