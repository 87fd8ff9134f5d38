//! A monitoring stack for local runs: a real Prometheus and Alertmanager as child processes on
//! free loopback ports, with configuration generated from the stage proxies to scrape, the rules
//! of the project's SLOs and the webhook to post alerts to.
//!
//! # Wiring it into a tour (`--monitoring prometheus`)
//!
//! 1. start an [`AlertReceiver`](crate::AlertReceiver) on `127.0.0.1:0`; forward each event of
//!    its channel to the control plane (`ControlPlane::send`);
//! 2. for each stage and service, a [`ScrapeTarget`] at the address of the proxy that serves
//!    its traffic (keptn-local's public proxy: its `/metrics` carries every deployment of the
//!    slot, so scrape one proxy per slot, not the canary proxy too);
//! 3. [`alert_rules`](crate::alert_rules) from the production SLO (a short
//!    [`RuleOptions`](crate::RuleOptions) window and `for`), added with [`MonitoringStackBuilder::rules`];
//! 4. [`MonitoringStackBuilder::start`]; register a [`PrometheusSliProvider`](crate::PrometheusSliProvider)
//!    over [`MonitoringStack::client`] as the `get-sli` executor (provider name `prometheus`)
//!    and the lighthouse with the same name;
//! 5. keep the stack alive until the tour ends: dropping it stops both processes and removes
//!    its temporary directory.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use keptn_spec::{ProjectName, ServiceName, StageName};
use tokio::process::{Child, Command};

use crate::client::{PrometheusClient, QueryResult};
use crate::error::{Error, Result};
use crate::rules::{AlertmanagerConfig, RuleFile, write_monitoring_files};

/// The variable naming the Prometheus binary (else `prometheus` on `PATH`).
pub const PROMETHEUS_BIN_ENV: &str = "PROMETHEUS_BIN";
/// The variable naming the Alertmanager binary (else `prometheus-alertmanager` or `alertmanager`
/// on `PATH`).
pub const ALERTMANAGER_BIN_ENV: &str = "ALERTMANAGER_BIN";

/// The two binaries a [`MonitoringStack`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Binaries {
    /// Prometheus.
    pub prometheus: PathBuf,
    /// Alertmanager.
    pub alertmanager: PathBuf,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn find_one(var: &str, names: &[&str], package: &str) -> Result<PathBuf> {
    if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::Setup {
                message: format!("{var}={} is not a file", p.display()),
            })
        };
    }
    on_path(names).ok_or_else(|| Error::Setup {
        message: format!(
            "{} not found: set {var} or put it on PATH (Debian: apt-get install {package})",
            names.join(" or ")
        ),
    })
}

impl Binaries {
    /// Finds both binaries: [`PROMETHEUS_BIN_ENV`] / [`ALERTMANAGER_BIN_ENV`] when set, else on
    /// `PATH`.
    ///
    /// # Errors
    /// [`Error::Setup`] naming the missing binary, the variable and the Debian package to
    /// install (`prometheus`, `prometheus-alertmanager`).
    pub fn find() -> Result<Self> {
        Ok(Self {
            prometheus: find_one(PROMETHEUS_BIN_ENV, &["prometheus"], "prometheus")?,
            alertmanager: find_one(
                ALERTMANAGER_BIN_ENV,
                &["prometheus-alertmanager", "alertmanager"],
                "prometheus-alertmanager",
            )?,
        })
    }
}

/// One `/metrics` endpoint of one service in one stage (a stage proxy).
///
/// Its scrape job is named `<service>-<project>-<stage>`, and each sample's `job` label is
/// rewritten from its `deployment` label to `<service>-<project>-<stage>-<deployment>`
/// (`direct`: no suffix), the jobs keptn-prometheus' default queries select.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScrapeTarget {
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
    /// The loopback address serving `/metrics`.
    pub addr: SocketAddr,
}

impl ScrapeTarget {
    /// A target.
    pub fn new(
        project: ProjectName,
        stage: StageName,
        service: ServiceName,
        addr: SocketAddr,
    ) -> Self {
        Self {
            project,
            stage,
            service,
            addr,
        }
    }

    fn job(&self) -> String {
        format!("{}-{}-{}", self.service, self.project, self.stage)
    }
}

/// How to start a [`MonitoringStack`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MonitoringStackBuilder {
    binaries: Option<Binaries>,
    targets: Vec<ScrapeTarget>,
    rules: Vec<(ProjectName, ServiceName, RuleFile)>,
    webhook: Option<AlertmanagerConfig>,
    scrape_interval: Duration,
    ready_timeout: Duration,
}

/// A running Prometheus and Alertmanager (see the [module docs](self) for the wiring).
///
/// Prometheus scrapes every target and evaluates the rules every `scrape_interval` (1 s by
/// default) and sends alerts to the Alertmanager, whose one receiver posts to the webhook URL
/// (grouped by alert name, project, stage and service; 1 s group wait and interval).
/// Dropping the stack kills both processes and removes the temporary directory holding their
/// configuration, data and logs.
#[derive(Debug)]
pub struct MonitoringStack {
    prometheus: Child,
    alertmanager: Child,
    prometheus_addr: SocketAddr,
    alertmanager_addr: SocketAddr,
    dir: PathBuf,
}

impl MonitoringStack {
    /// A builder with nothing to scrape, no rules and no webhook.
    pub fn builder() -> MonitoringStackBuilder {
        MonitoringStackBuilder {
            binaries: None,
            targets: Vec::new(),
            rules: Vec::new(),
            webhook: None,
            scrape_interval: Duration::from_secs(1),
            ready_timeout: Duration::from_secs(30),
        }
    }

    /// `http://<addr>` of Prometheus.
    pub fn prometheus_url(&self) -> String {
        format!("http://{}", self.prometheus_addr)
    }

    /// `http://<addr>` of Alertmanager.
    pub fn alertmanager_url(&self) -> String {
        format!("http://{}", self.alertmanager_addr)
    }

    /// A client of this Prometheus (the workspace's retry policy and default timeouts).
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn client(&self) -> Result<PrometheusClient> {
        PrometheusClient::builder(self.prometheus_url()).build()
    }

    /// The directory holding the configuration, data and logs (`prometheus.log`,
    /// `alertmanager.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits until the instant query `expr` returns at least one series (such as
    /// `http_requests_total{job='carts-sockshop-staging-canary'}`: the proxy's traffic has been
    /// scraped), polling every 200 ms.
    ///
    /// # Errors
    /// [`Error::Setup`] when no series appeared within `timeout`, with the last query error if
    /// there was one.
    pub async fn wait_for_series(&self, expr: &str, timeout: Duration) -> Result<()> {
        let client = self.client()?;
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match client.query(expr, chrono::Utc::now()).await {
                Ok(QueryResult::Vector(v)) if !v.is_empty() => return Ok(()),
                Ok(_) => {}
                Err(e) => last_error = Some(e.to_string()),
            }
            if Instant::now() >= deadline {
                return Err(Error::Setup {
                    message: format!(
                        "Prometheus at {} has no series for `{expr}` after {timeout:?}{}",
                        self.prometheus_url(),
                        last_error.map_or(String::new(), |e| format!(" (last error: {e})"))
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The process ids of Prometheus and Alertmanager (while they run).
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        (self.prometheus.id(), self.alertmanager.id())
    }
}

impl Drop for MonitoringStack {
    fn drop(&mut self) {
        let _ = self.prometheus.start_kill();
        let _ = self.alertmanager.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<SocketAddr> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| Error::Setup {
            message: format!("cannot find a free loopback port: {e}"),
        })
}

fn setup(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Setup {
        message: format!("{what}: {e}"),
    }
}

/// A directory of its own under the system's temporary directory.
fn fresh_dir() -> Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "keptn-monitoring-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["rules", "prometheus-data", "alertmanager-data"] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| setup(&format!("cannot create {}", dir.display()), e))?;
    }
    Ok(dir)
}

/// The `prometheus.yml` text.
fn prometheus_yaml(
    targets: &[ScrapeTarget],
    interval: Duration,
    rules_dir: &Path,
    alertmanager: SocketAddr,
) -> String {
    let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let secs = format!("{}ms", interval.as_millis().max(100));
    let mut out = format!(
        "global:\n  scrape_interval: {secs}\n  scrape_timeout: {secs}\n  evaluation_interval: {secs}\n\
         rule_files:\n  - {}\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [{}]\n\
         scrape_configs:\n",
        q(&rules_dir.join("*.yml").display().to_string()),
        q(&alertmanager.to_string()),
    );
    for t in targets {
        let job = t.job();
        out.push_str(&format!(
            "  - job_name: {}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [{}]\n        labels: {{project: {}, stage: {}, service: {}}}\n    metric_relabel_configs:\n      - source_labels: [deployment]\n        regex: '(.+)'\n        target_label: job\n        replacement: {}\n      - source_labels: [deployment]\n        regex: direct\n        target_label: job\n        replacement: {}\n",
            q(&job),
            q(&t.addr.to_string()),
            q(t.project.as_ref()),
            q(t.stage.as_ref()),
            q(t.service.as_ref()),
            q(&format!("{job}-$1")),
            q(&job),
        ));
    }
    out
}

impl MonitoringStackBuilder {
    /// Uses these binaries instead of [`Binaries::find`].
    pub fn binaries(mut self, binaries: Binaries) -> Self {
        self.binaries = Some(binaries);
        self
    }

    /// Scrapes `target`.
    pub fn scrape(mut self, target: ScrapeTarget) -> Self {
        self.targets.push(target);
        self
    }

    /// Loads `rules` (from [`alert_rules`](crate::alert_rules)) for `service` of `project`.
    pub fn rules(mut self, project: ProjectName, service: ServiceName, rules: RuleFile) -> Self {
        self.rules.push((project, service, rules));
        self
    }

    /// Alertmanager posts every alert group to `url` (firing and resolved), with 1 s group wait
    /// and interval; without a webhook, alerts go nowhere.
    pub fn webhook(mut self, url: impl Into<String>) -> Self {
        self.webhook = Some(AlertmanagerConfig::new(url).with_timing(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(3600),
        ));
        self
    }

    /// Uses `config` (its own timing, a credentials file) for the webhook.
    pub fn webhook_config(mut self, config: AlertmanagerConfig) -> Self {
        self.webhook = Some(config);
        self
    }

    /// How often Prometheus scrapes and evaluates rules (default 1 s, at least 100 ms).
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        self.scrape_interval = interval;
        self
    }

    /// How long [`start`](Self::start) waits for both to be ready (default 30 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Writes the configuration, starts Alertmanager and Prometheus on free loopback ports and
    /// waits until both answer `/-/ready`.
    ///
    /// # Errors
    /// [`Error::Setup`]: a binary is missing (naming the Debian package), a file cannot be
    /// written, a process does not start, exits or is not ready in time (with the end of its
    /// log).
    pub async fn start(mut self) -> Result<MonitoringStack> {
        let binaries = match self.binaries.take() {
            Some(b) => b,
            None => Binaries::find()?,
        };
        let dir = fresh_dir()?;
        let started = self.start_in(binaries, dir.clone()).await;
        if started.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    async fn start_in(self, binaries: Binaries, dir: PathBuf) -> Result<MonitoringStack> {
        for (project, service, rules) in &self.rules {
            write_monitoring_files(&dir.join("rules"), project, service, rules, None)?;
        }
        let am_config = match &self.webhook {
            Some(w) => w.to_yaml()?,
            None => "route:\n  receiver: none\nreceivers:\n  - name: none\n".to_owned(),
        };
        let am_file = dir.join("alertmanager.yml");
        std::fs::write(&am_file, am_config)
            .map_err(|e| setup(&format!("cannot write {}", am_file.display()), e))?;
        let am_addr = free_port()?;
        let alertmanager = spawn(
            &binaries.alertmanager,
            &[
                format!("--config.file={}", am_file.display()),
                format!("--storage.path={}", dir.join("alertmanager-data").display()),
                format!("--web.listen-address={am_addr}"),
                "--cluster.listen-address=".to_owned(),
            ],
            &dir.join("alertmanager.log"),
        )?;
        let prom_addr = free_port()?;
        let prom_file = dir.join("prometheus.yml");
        std::fs::write(
            &prom_file,
            prometheus_yaml(
                &self.targets,
                self.scrape_interval,
                &dir.join("rules"),
                am_addr,
            ),
        )
        .map_err(|e| setup(&format!("cannot write {}", prom_file.display()), e))?;
        let prometheus = spawn(
            &binaries.prometheus,
            &[
                format!("--config.file={}", prom_file.display()),
                format!(
                    "--storage.tsdb.path={}",
                    dir.join("prometheus-data").display()
                ),
                format!("--web.listen-address={prom_addr}"),
                "--web.enable-lifecycle".to_owned(),
            ],
            &dir.join("prometheus.log"),
        )?;
        let mut stack = MonitoringStack {
            prometheus,
            alertmanager,
            prometheus_addr: prom_addr,
            alertmanager_addr: am_addr,
            dir,
        };
        let deadline = Instant::now() + self.ready_timeout;
        wait_ready(&mut stack, deadline).await?;
        Ok(stack)
    }
}

fn spawn(bin: &Path, args: &[String], log: &Path) -> Result<Child> {
    let out = std::fs::File::create(log)
        .map_err(|e| setup(&format!("cannot create {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| setup(&format!("cannot open {}", log.display()), e))?;
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| setup(&format!("cannot start {}", bin.display()), e))
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

async fn wait_ready(stack: &mut MonitoringStack, deadline: Instant) -> Result<()> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| setup("cannot build an HTTP client", e))?;
    for (name, addr, log) in [
        ("Alertmanager", stack.alertmanager_addr, "alertmanager.log"),
        ("Prometheus", stack.prometheus_addr, "prometheus.log"),
    ] {
        let url = format!("http://{addr}/-/ready");
        loop {
            let child = if name == "Prometheus" {
                &mut stack.prometheus
            } else {
                &mut stack.alertmanager
            };
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Error::Setup {
                    message: format!(
                        "{name} exited ({status}) before it was ready; its log ends:\n{}",
                        log_tail(&stack.dir.join(log))
                    ),
                });
            }
            if http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if Instant::now() >= deadline {
                return Err(Error::Setup {
                    message: format!(
                        "{name} was not ready at {url} in time; its log ends:\n{}",
                        log_tail(&stack.dir.join(log))
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job is rewritten per deployment; the rules glob and Alertmanager address are set.
    #[test]
    fn prometheus_yaml_relabels_jobs_by_deployment() {
        let target = ScrapeTarget::new(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
            "127.0.0.1:4000".parse().unwrap(),
        );
        let yaml = prometheus_yaml(
            &[target],
            Duration::from_secs(1),
            Path::new("/tmp/x/rules"),
            "127.0.0.1:4001".parse().unwrap(),
        );
        let doc: serde_json::Value = keptn_spec::from_yaml_str(&yaml).unwrap();
        assert_eq!(doc["global"]["scrape_interval"], "1000ms");
        assert_eq!(doc["rule_files"][0], "/tmp/x/rules/*.yml");
        assert_eq!(
            doc["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0],
            "127.0.0.1:4001"
        );
        let job = &doc["scrape_configs"][0];
        assert_eq!(job["job_name"], "carts-sockshop-staging");
        assert_eq!(job["static_configs"][0]["targets"][0], "127.0.0.1:4000");
        assert_eq!(job["static_configs"][0]["labels"]["stage"], "staging");
        let relabel = &job["metric_relabel_configs"];
        assert_eq!(relabel[0]["replacement"], "carts-sockshop-staging-$1");
        assert_eq!(relabel[1]["regex"], "direct");
        assert_eq!(relabel[1]["replacement"], "carts-sockshop-staging");
    }

    /// A binary that exits at once is reported with its exit status, and nothing is left behind.
    #[tokio::test]
    async fn a_binary_that_exits_is_reported() {
        let Some(false_bin) = on_path(&["false"]) else {
            eprintln!("skipping: no `false` on PATH");
            return;
        };
        let err = MonitoringStack::builder()
            .binaries(Binaries {
                prometheus: false_bin.clone(),
                alertmanager: false_bin,
            })
            .ready_timeout(Duration::from_secs(10))
            .start()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("Alertmanager exited"), "{err}");
        assert!(err.contains("before it was ready"), "{err}");
    }

    /// A variable naming a missing file is an error naming the variable.
    #[test]
    fn missing_binary_names_the_variable() {
        let err = find_one(
            "KEPTN_TEST_NO_SUCH_VAR_SET",
            &["keptn-no-such-binary"],
            "pkg",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("KEPTN_TEST_NO_SUCH_VAR_SET"), "{err}");
        assert!(err.contains("apt-get install pkg"), "{err}");
    }
}
