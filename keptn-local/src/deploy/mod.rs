//! The local deployer and its pieces: process supervisor, stage proxy, request recorder and the
//! SLI provider over the recordings.

mod deployer;
mod error;
mod histogram;
mod metrics;
mod proxy;
mod recorder;
mod sli;
mod supervisor;

pub use deployer::{LocalDeployer, deployment};
pub use error::LocalError;
pub use metrics::{
    CONTENT_TYPE as METRICS_CONTENT_TYPE, LATENCY_BUCKETS_MS, LATENCY_METRIC, METRICS_PATH,
    REQUESTS_METRIC,
};
pub use proxy::{StageProxy, Upstream};
pub use recorder::{RequestRecorder, WindowStats};
pub use sli::{LocalSliProvider, SUPPORTED_SLIS};
pub use supervisor::{CommandTemplate, SUPERVISOR_PID_ENV, ServiceProcess, process_is_running};
