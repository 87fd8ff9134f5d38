//! `full_tour`'s command line: the options, the roles it runs itself in as a child process,
//! and the checks of the options before the tour starts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::tour_dynatrace::DtSettings;
use crate::tour_kube::{self, ServiceUrls};

/// Keptn's full tour on one machine.
#[derive(Debug, Parser)]
#[command(name = "full_tour")]
pub struct Args {
    /// The role of a child process (none: the tour itself).
    #[command(subcommand)]
    pub role: Option<Role>,
    /// Length of each performance test in staging, in seconds.
    #[arg(long, default_value_t = 8.0)]
    pub test_duration: f64,
    /// Virtual users of the performance tests.
    #[arg(long, default_value_t = 10)]
    pub users: u32,
    /// Write every Keptn CloudEvent as JSON lines to this file (replaced if it exists).
    #[arg(long)]
    pub events: Option<PathBuf>,
    /// Write a JSON summary of the outcome to this file.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// The control plane's SQLite state file (default: a temporary one, removed at the end).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Longest wait for the problem to open and resolve, in seconds.
    #[arg(long, default_value_t = 90.0)]
    pub remediation_timeout: f64,
    /// Deploy to the cluster of the current KUBECONFIG context instead of local processes.
    #[arg(long)]
    pub kube: bool,
    /// With --kube: how this program reaches a Service of the cluster; placeholders
    /// `{service}` (e.g. `carts-canary`), `{namespace}` (`sockshop-staging`), `{port}`.
    #[arg(long, value_name = "TEMPLATE", default_value = tour_kube::DEFAULT_TEMPLATE)]
    pub kube_url: String,
    /// With --kube: reach Service NAME in NAMESPACE at URL instead (e.g. a `kubectl
    /// port-forward`), as `NAME.NAMESPACE=URL`; repeatable.
    #[arg(long, value_name = "NAME.NAMESPACE=URL")]
    pub kube_url_for: Vec<String>,
    /// With --kube: how Services are reached: `url` (--kube-url, --kube-url-for) or
    /// `cluster-ip` (each Service's ClusterIP read from the API server, for a machine that is a
    /// node of the cluster; --kube-url-for still wins).
    #[arg(long, value_enum, default_value_t = KubeReachMode::Url)]
    pub kube_reach: KubeReachMode,
    /// With --kube and the embedded flag store: serve the store on this address of this
    /// machine (one the pods can reach, such as the node's bridge) and give carts its URL.
    #[arg(long, value_name = "IP")]
    pub kube_flags_listen: Option<std::net::IpAddr>,
    /// The repository of the carts images; the versions 0.11.1, 0.11.2, 0.11.3 are its tags.
    #[arg(
        long,
        value_name = "REPOSITORY",
        default_value = "docker.io/keptnexamples/carts"
    )]
    pub carts_image: String,
    /// The carts-db image.
    #[arg(long, value_name = "IMAGE", default_value = "docker.io/mongo:4.2.2")]
    pub carts_db_image: String,
    /// With --kube: longest wait for a rollout, in seconds (then it is rolled back).
    #[arg(long, default_value_t = 300)]
    pub kube_rollout_timeout: u64,
    /// No progress bars (event lines and the report are still printed).
    #[arg(long)]
    pub no_progress: bool,
    /// Send the tour's events to the webhooks of this Keptn `webhook.yaml` (Slack and Teams
    /// messages are sent when `SLACK_WEBHOOK_URL` / `TEAMS_WEBHOOK_URL` are set).
    #[arg(long)]
    pub notify: Option<PathBuf>,
    /// With DT_TENANT: the Dynatrace sli.yaml of the staging gate (default: the tour's, over
    /// the metrics the tour sends; use the seed's builtin:service.* file for OneAgent-monitored
    /// deployments).
    #[arg(long, value_name = "FILE")]
    pub dt_sli: Option<PathBuf>,
    /// With DT_TENANT: seconds the gate waits after a test window for Dynatrace to ingest its
    /// data (the tour sends a second's data 5 s after it; a real tenant then needs about a
    /// minute more, the fake tenant none: use 7 with the fake).
    #[arg(long, default_value_t = 90.0)]
    pub dt_settle: f64,
    /// With DT_TENANT: seconds between two reads of the Problems API (Dynatrace rate-limits
    /// its APIs; the fake tenant does not, use 1 with it).
    #[arg(long, default_value_t = 5.0)]
    pub dt_poll: f64,
    /// Where the staging gate's SLIs and production's problems come from: `local` (the proxies'
    /// recordings and the embedded monitor), `dynatrace` (DT_TENANT + DT_API_TOKEN) or
    /// `prometheus` (a real Prometheus and Alertmanager the tour starts; PROMETHEUS_BIN /
    /// ALERTMANAGER_BIN or PATH). Default: dynatrace when DT_TENANT is set, else local.
    #[arg(long, value_enum, value_name = "MODE")]
    pub monitoring: Option<MonitoringMode>,
}

/// Where the staging gate's SLIs and production's problems come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MonitoringMode {
    /// The proxies' recordings (or client-side measurements with --kube) and the tour's monitor.
    Local,
    /// A Dynatrace tenant.
    Dynatrace,
    /// A real Prometheus and Alertmanager, started by the tour.
    Prometheus,
}

/// How `--kube` reaches the cluster's Services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KubeReachMode {
    /// `--kube-url` and `--kube-url-for`.
    Url,
    /// Each Service's ClusterIP from the API server.
    ClusterIp,
}

/// The roles the tour runs itself in as a child process.
#[derive(Debug, Subcommand)]
pub enum Role {
    /// Serve the carts sample service.
    #[command(name = "carts-service", hide = true)]
    CartsService {
        /// The port to listen on.
        #[arg(long)]
        port: u16,
        /// The version to serve.
        #[arg(long)]
        version: String,
    },
    /// Serve the carts-db stand-in.
    #[command(name = "carts-db", hide = true)]
    CartsDb {
        /// The port to listen on.
        #[arg(long)]
        port: u16,
        /// The version to serve.
        #[arg(long)]
        version: String,
    },
}

impl Args {
    /// The `--kube-url` template with the `--kube-url-for` overrides.
    ///
    /// # Errors
    /// A template or override that is not a URL, or an override not of the form
    /// `NAME.NAMESPACE=URL`.
    pub fn kube_urls(&self) -> Result<ServiceUrls, String> {
        self.kube_url_for
            .iter()
            .try_fold(ServiceUrls::new(&self.kube_url)?, |urls, spec| {
                urls.with_override(spec)
            })
    }

    /// Checks the options of a tour; returns the Dynatrace settings (with
    /// `--monitoring dynatrace`, or `DT_TENANT` set without `--monitoring`) and whether the tour
    /// monitors with Prometheus.
    ///
    /// # Errors
    /// What is wrong, for the terminal (the tour exits with status 2).
    pub fn check(&self) -> Result<(Option<DtSettings>, bool), String> {
        self.kube_urls()?;
        if self
            .carts_image
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
            || self.carts_image.contains('@')
        {
            return Err(format!(
                "--carts-image `{}` must be a repository without tag (the tags are the versions 0.11.1, 0.11.2, 0.11.3)",
                self.carts_image
            ));
        }
        if !(self.dt_poll.is_finite() && self.dt_poll >= 0.1) {
            return Err("--dt-poll must be at least 0.1 seconds".to_owned());
        }
        if !(self.dt_settle.is_finite() && self.dt_settle >= 0.0) {
            return Err("--dt-settle must be a number of seconds ≥ 0".to_owned());
        }
        let mode = self.monitoring.unwrap_or(
            if std::env::var_os("DT_TENANT").is_some_and(|v| !v.is_empty()) {
                MonitoringMode::Dynatrace
            } else {
                MonitoringMode::Local
            },
        );
        if mode == MonitoringMode::Prometheus {
            if self.kube {
                return Err("--monitoring prometheus runs with the local deployer only (Prometheus scrapes the local stage proxies): leave out --kube".to_owned());
            }
            if let Err(e) = keptn_prometheus::stack::Binaries::find() {
                return Err(format!(
                    "--monitoring prometheus needs Prometheus and Alertmanager: {e}"
                ));
            }
        }
        let dt = if mode != MonitoringMode::Dynatrace {
            None
        } else {
            match DtSettings::from_env(self.dt_sli.clone(), Duration::from_secs_f64(self.dt_settle))
                .and_then(|dt| {
                    if let Some(d) = &dt {
                        d.sli_config()?;
                        d.client()?;
                    }
                    Ok(dt)
                }) {
                Ok(Some(dt)) => Some(dt),
                Ok(None) => {
                    return Err(
                        "--monitoring dynatrace needs DT_TENANT and DT_API_TOKEN".to_owned()
                    );
                }
                Err(e) => return Err(format!("{e:#}")),
            }
        };
        if !(self.test_duration.is_finite() && self.test_duration > 0.0) {
            return Err("--test-duration must be a positive number of seconds".to_owned());
        }
        Ok((dt, mode == MonitoringMode::Prometheus))
    }
}
