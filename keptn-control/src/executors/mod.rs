//! Built-in executors: what Keptn's control plane and its core services did themselves.

mod answer;
mod approval;
mod deploy;
mod lighthouse;
mod providers;
mod remediation;
mod sli;

pub use approval::{APPROVAL_SOURCE, ApprovalExecutor};
pub use deploy::{
    DEPLOY_SOURCE, DEPLOYMENT_RESULT_URI, DeploymentExecutor, ReleaseExecutor, RollbackExecutor,
    TestExecutor,
};
pub use lighthouse::{LIGHTHOUSE_SOURCE, Lighthouse, SLO_URI};
pub use remediation::{ActionExecutor, GetActionExecutor, REMEDIATION_SOURCE, REMEDIATION_URI};
pub use sli::SliProviderExecutor;
