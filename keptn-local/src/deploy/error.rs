//! Errors of the local deployer.

use std::time::Duration;

/// What can go wrong running services locally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// No free loopback port could be reserved.
    #[error("could not reserve a loopback port")]
    Bind {
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The program of a command template could not be started.
    #[error("could not start `{program}`")]
    Spawn {
        /// The rendered program.
        program: String,
        /// The spawn error.
        #[source]
        source: std::io::Error,
    },
    /// The process exited before answering its readiness probe.
    #[error(
        "{service} {version} exited ({status}) before it was ready; last stderr lines:\n{stderr}"
    )]
    Exited {
        /// The service.
        service: String,
        /// The version.
        version: String,
        /// How it exited.
        status: String,
        /// The last lines of its stderr.
        stderr: String,
    },
    /// The readiness probe did not succeed in time (the process was killed).
    #[error(
        "{service} {version} was not ready at {url} after {waited:?}; last stderr lines:\n{stderr}"
    )]
    NotReady {
        /// The service.
        service: String,
        /// The version.
        version: String,
        /// The probed URL.
        url: String,
        /// How long it waited.
        waited: Duration,
        /// The last lines of its stderr.
        stderr: String,
    },
    /// The readiness probe's HTTP client could not be built.
    #[error("could not build the readiness probe client: {message}")]
    Probe {
        /// Why.
        message: String,
    },
    /// Stopping a process failed.
    #[error("could not stop process {pid}: {message}")]
    Stop {
        /// The process id.
        pid: u32,
        /// Why.
        message: String,
    },
    /// The service has no command template.
    #[error("service `{service}` has no command template in the local deployer")]
    UnknownService {
        /// The service.
        service: String,
    },
    /// The stage proxy could not bind its public port.
    #[error("could not bind the public port of {service} in {project}/{stage}")]
    Proxy {
        /// The project.
        project: String,
        /// The stage.
        stage: String,
        /// The service.
        service: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}
