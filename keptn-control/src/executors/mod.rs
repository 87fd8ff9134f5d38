//! Built-in executors: what Keptn's control plane and its core services did themselves.

mod approval;
mod deploy;
mod lighthouse;
mod remediation;
mod sli;

pub use approval::{APPROVAL_SOURCE, ApprovalExecutor};
pub use deploy::{
    DEPLOY_SOURCE, DeploymentExecutor, ReleaseExecutor, RollbackExecutor, TestExecutor,
};
pub use lighthouse::{LIGHTHOUSE_SOURCE, Lighthouse, SLO_URI};
pub use remediation::{ActionExecutor, GetActionExecutor, REMEDIATION_SOURCE, REMEDIATION_URI};
pub use sli::SliProviderExecutor;

use keptn_spec::event::{EventData, Payload, Status, Verdict};

/// A payload with only the outcome.
pub(crate) fn common(status: Status, result: Verdict, message: impl Into<String>) -> Payload {
    let mut data = EventData::default();
    data.status = Some(status);
    data.result = Some(result);
    data.message = Some(message.into());
    Payload::Common(data)
}

/// An `errored`/`fail` payload with a message.
pub(crate) fn errored(message: impl Into<String>) -> Payload {
    common(Status::Errored, Verdict::Fail, message)
}
