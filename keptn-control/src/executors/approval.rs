//! The approval task, as Keptn's approval-service answers it.

use async_trait::async_trait;
use keptn_spec::event::{ApprovalTriggeredData, KeptnEvent, Payload, Status, Task, Verdict};

use super::answer::{common, errored};
use crate::executor::{ExecutorContext, TaskExecutor};

/// Answers `approval.triggered`: `pass` with `approval.pass: automatic` or `warning` with
/// `approval.warning: automatic` approves at once, `fail` fails at once, anything else (a
/// missing property counts as manual, as in Keptn) waits on the
/// [`ApprovalDesk`](crate::ApprovalDesk) for a person — through a restart too, since the
/// re-sent task waits again.
#[derive(Debug, Clone, Default)]
pub struct ApprovalExecutor;

/// The `source` of the approval executor's events.
pub const APPROVAL_SOURCE: &str = "approval-service";

#[async_trait]
impl TaskExecutor for ApprovalExecutor {
    fn task(&self) -> Task {
        Task::Approval
    }

    fn source(&self) -> &str {
        APPROVAL_SOURCE
    }

    async fn execute(&self, triggered: &KeptnEvent, cx: &ExecutorContext) -> Payload {
        let data: ApprovalTriggeredData = match triggered.data_as() {
            Ok(d) => d,
            Err(e) => return errored(format!("cannot read the approval request: {e}")),
        };
        let previous = data.common.result.unwrap_or(Verdict::Pass);
        let strategy = data.approval.clone().unwrap_or_default();
        let decided = |result: Verdict, message: &str| common(Status::Succeeded, result, message);
        if previous == Verdict::Fail {
            return decided(Verdict::Fail, "not approved: the previous task failed");
        }
        if strategy.approves_automatically(previous) {
            return decided(Verdict::Pass, "approved automatically");
        }
        match cx.approvals().wait_for(triggered.id.clone()).await {
            Ok(Verdict::Fail) => decided(Verdict::Fail, "rejected manually"),
            Ok(verdict) => decided(verdict, "approved manually"),
            Err(_) => errored("the approval was dropped"),
        }
    }
}
