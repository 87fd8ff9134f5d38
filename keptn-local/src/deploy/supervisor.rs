//! Running service versions as local processes: start, wait for readiness, stop, never leak.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::error::LocalError;

/// Lines of a process's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 20;

/// The environment variable every supervised process gets: the supervising process's id, so
/// the service can exit when its parent is no longer that process (see
/// [`CommandTemplate::spawn`]).
pub const SUPERVISOR_PID_ENV: &str = "KEPTN_SUPERVISOR_PID";

/// How to run one version of a service: a program, arguments and environment with the
/// placeholders `{port}` (the loopback port the supervisor picked), `{version}` and `{service}`,
/// plus the readiness probe.
///
/// ```
/// use keptn_local::CommandTemplate;
///
/// let carts = CommandTemplate::new("/usr/local/bin/carts")
///     .args(["--port", "{port}", "--version", "{version}"])
///     .env("UNLEASH_URL", "http://127.0.0.1:4242/api")
///     .ready_path("/health");
/// let (program, args, _env) = carts.render(8081, "0.11.1", "carts");
/// assert_eq!(program, "/usr/local/bin/carts");
/// assert_eq!(args, ["--port", "8081", "--version", "0.11.1"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CommandTemplate {
    program: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    ready_path: String,
    readiness_timeout: Duration,
    stop_grace: Duration,
}

impl CommandTemplate {
    /// A template running `program` (placeholders allowed), probing `GET /health` for readiness
    /// for up to 30 s and giving it 5 s to exit after `SIGTERM`.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            ready_path: "/health".to_owned(),
            readiness_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(5),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the process.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// The HTTP path probed for readiness (a 2xx answer means ready).
    pub fn ready_path(mut self, path: impl Into<String>) -> Self {
        self.ready_path = path.into();
        self
    }

    /// How long to wait for readiness before giving up.
    pub fn readiness_timeout(mut self, timeout: Duration) -> Self {
        self.readiness_timeout = timeout;
        self
    }

    /// How long a process may take to exit after `SIGTERM` before it is killed.
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    /// The program, arguments and environment with placeholders replaced.
    pub fn render(
        &self,
        port: u16,
        version: &str,
        service: &str,
    ) -> (String, Vec<String>, BTreeMap<String, String>) {
        let fill = |s: &str| {
            s.replace("{port}", &port.to_string())
                .replace("{version}", version)
                .replace("{service}", service)
        };
        (
            fill(&self.program),
            self.args.iter().map(|a| fill(a)).collect(),
            self.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect(),
        )
    }

    /// Starts `version` of `service` on a free loopback port and waits until it answers its
    /// readiness probe.
    ///
    /// The process runs in its own process group with `kill_on_drop`; its stdout is discarded and
    /// the last lines of its stderr are kept for error messages. Its environment has
    /// `KEPTN_SUPERVISOR_PID` (this process's id): `kill_on_drop` and the stop on Ctrl-C cannot
    /// run when this process is killed with `SIGKILL`, so a service that must not outlive it
    /// compares its parent's pid with that variable and exits when they differ (the tour's
    /// `carts` does).
    ///
    /// # Errors
    /// [`LocalError::Spawn`] when the program cannot start, [`LocalError::Exited`] when it exits
    /// before it is ready, [`LocalError::NotReady`] when the probe does not succeed in time (the
    /// process is killed in both cases).
    pub async fn spawn(&self, service: &str, version: &str) -> Result<ServiceProcess, LocalError> {
        // A freshly picked port can be taken by someone else before the child binds it: retry
        // with a new port when the child exits early.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.spawn_once(service, version).await {
                Err(LocalError::Exited { .. }) if attempt < 3 => continue,
                other => return other,
            }
        }
    }

    async fn spawn_once(&self, service: &str, version: &str) -> Result<ServiceProcess, LocalError> {
        let port = free_port().map_err(|source| LocalError::Bind { source })?;
        let (program, args, env) = self.render(port, version, service);
        let mut command = Command::new(&program);
        command
            .args(&args)
            .envs(&env)
            .env(SUPERVISOR_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|source| LocalError::Spawn {
            program: program.clone(),
            source,
        })?;
        let pid = child.id().unwrap_or(0);
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let tail = tail.clone();
            let label = format!("{service} {version}");
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(process = %label, "{line}");
                    let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == STDERR_TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        let mut process = ServiceProcess {
            child: Some(child),
            pid,
            addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)),
            service: service.to_owned(),
            version: version.to_owned(),
            stop_grace: self.stop_grace,
            stderr_tail: tail,
        };
        match process
            .wait_ready(&self.ready_path, self.readiness_timeout)
            .await
        {
            Ok(()) => Ok(process),
            Err(e) => {
                process.kill().await;
                Err(e)
            }
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// One running service version, started by [`CommandTemplate::spawn`].
///
/// Stop it with [`ServiceProcess::stop`] (`SIGTERM` to its process group, then `SIGKILL` after the
/// grace period). Dropping it without stopping kills the process group at once, so a panic or an
/// early return never leaks a process.
pub struct ServiceProcess {
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
    service: String,
    version: String,
    stop_grace: Duration,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl fmt::Debug for ServiceProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceProcess")
            .field("service", &self.service)
            .field("version", &self.version)
            .field("pid", &self.pid)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServiceProcess {
    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The loopback address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The version it runs.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn stderr_tail(&self) -> String {
        let tail = self
            .stderr_tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    async fn wait_ready(&mut self, path: &str, timeout: Duration) -> Result<(), LocalError> {
        let url = format!("http://{}{path}", self.addr);
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| LocalError::Probe {
                message: e.to_string(),
            })?;
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                // Give the stderr reader a moment to collect the last words.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(LocalError::Exited {
                    service: self.service.clone(),
                    version: self.version.clone(),
                    status: status.to_string(),
                    stderr: self.stderr_tail(),
                });
            }
            if let Ok(resp) = client.get(&url).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() >= timeout {
                return Err(LocalError::NotReady {
                    service: self.service.clone(),
                    version: self.version.clone(),
                    url,
                    waited: timeout,
                    stderr: self.stderr_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn signal_group(&self, signal: rustix::process::Signal) {
        let Some(pid) = i32::try_from(self.pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return;
        };
        // The group may already be gone; that is what we want.
        let _ = rustix::process::kill_process_group(pid, signal);
    }

    async fn kill(&mut self) {
        self.signal_group(rustix::process::Signal::KILL);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Stops the process: `SIGTERM` to its process group, then `SIGKILL` when it has not exited
    /// within the template's grace period. Returns how it exited.
    ///
    /// # Errors
    /// [`LocalError::Stop`] when waiting for the process fails.
    pub async fn stop(mut self) -> Result<ExitStatus, LocalError> {
        let Some(mut child) = self.child.take() else {
            return Err(LocalError::Stop {
                pid: self.pid,
                message: "already stopped".to_owned(),
            });
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(status);
        }
        self.signal_group(rustix::process::Signal::TERM);
        match tokio::time::timeout(self.stop_grace, child.wait()).await {
            Ok(Ok(status)) => {
                // Children the service started itself go with it.
                self.signal_group(rustix::process::Signal::KILL);
                Ok(status)
            }
            Ok(Err(e)) => Err(LocalError::Stop {
                pid: self.pid,
                message: e.to_string(),
            }),
            Err(_) => {
                tracing::warn!(pid = self.pid, "process ignored SIGTERM; killing it");
                self.signal_group(rustix::process::Signal::KILL);
                child.kill().await.map_err(|e| LocalError::Stop {
                    pid: self.pid,
                    message: e.to_string(),
                })?;
                child.wait().await.map_err(|e| LocalError::Stop {
                    pid: self.pid,
                    message: e.to_string(),
                })
            }
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_group(rustix::process::Signal::KILL);
            // kill_on_drop also does this; tokio reaps the child in the background.
            let _ = child.start_kill();
        }
    }
}

/// Whether a process with this id is still running (not gone and not a zombie) — Linux only;
/// elsewhere it answers `false`. Tests use it to check that no process leaks.
pub fn process_is_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z' | 'X') | None)
        }
        Err(_) => false,
    }
}
