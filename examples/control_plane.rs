//! Serves Keptn 1.4.5's REST API over a `keptn-control` control plane with its state in a
//! SQLite file, so Keptn's CLI, CI jobs and remote execution-plane services can talk to it.
//!
//! ```text
//! cargo run -p keptn-examples --example control_plane -- --listen 127.0.0.1:8080 \
//!     --state ./keptn-state.db [--token-file FILE] [--sli-provider dynatrace|local|remote] \
//!     [--task-timeout SECS] [--dynatrace-webhook PATH] [--alertmanager-webhook PATH]
//! ```
//!
//! The API token comes from `KEPTN_API_TOKEN` or `--token-file` and is never printed. Prints
//! `control plane listening on http://ADDR` once it listens; stops on SIGTERM or Ctrl-C. No
//! deployer is built in: deployment, test, release and rollback are left to remote executors
//! polling `GET /api/controlPlane/v1/event/triggered/<task>.triggered`. The quality gate
//! (lighthouse) runs here and asks for SLIs with `get-sli`: `--sli-provider remote` (default)
//! leaves `get-sli` to a remote SLI provider, `dynatrace` answers it here from `DT_TENANT` /
//! `DT_API_TOKEN`, `local` answers it from this process's local request recorders (none without
//! built-in deployers, so every SLI is missing and a gate with objectives fails). Restarting on
//! the same state file keeps every project, resource, sequence and event and resumes what was
//! in flight.
//!
//! Problems arrive as Keptn events at `POST /api/v1/event`, and, when asked for, as a monitoring
//! tool's own notification: `--dynatrace-webhook /problems/dynatrace` takes Dynatrace's problem
//! notification (configure it with `dynatrace_configure_monitoring --keptn-endpoint
//! http://ADDR/problems/dynatrace` and `KEPTN_API_TOKEN`, which Dynatrace then sends as
//! `x-token`); `--alertmanager-webhook /problems/alertmanager` takes Alertmanager's webhook
//! (the receiver `keptn_prometheus::AlertmanagerConfig` writes, with the token in its
//! `credentials_file`, sent as `Authorization: Bearer`). Open problems start the remediation
//! sequence; resolved ones close it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use keptn_control::executors::{Lighthouse, SliProviderExecutor};
use keptn_control::http::{ApiConfig, ApiToken, ProblemWebhook};
use keptn_control::{ControlPlane, SqliteStore};

/// Where the lighthouse's `get-sli` requests are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SliSource {
    /// Dynatrace (`DT_TENANT`, `DT_API_TOKEN`), answered in this process.
    Dynatrace,
    /// The local request recorders of this process.
    Local,
    /// A remote SLI provider polling the API.
    Remote,
}

/// Serve the Keptn API over a durable control plane.
#[derive(Debug, Parser)]
struct Args {
    /// The address to listen on, such as 127.0.0.1:8080.
    #[arg(long)]
    listen: String,
    /// The SQLite state file (created when missing).
    #[arg(long, default_value = "./keptn-state.db")]
    state: PathBuf,
    /// A file holding the API token (instead of KEPTN_API_TOKEN).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Who answers `get-sli`.
    #[arg(long, value_enum, default_value_t = SliSource::Remote)]
    sli_provider: SliSource,
    /// Seconds a triggered task may wait to be started, and how long one poller holds it.
    #[arg(long, default_value_t = 120)]
    task_timeout: u64,
    /// Serve Dynatrace's problem notification at this path (such as /problems/dynatrace).
    #[arg(long)]
    dynatrace_webhook: Option<String>,
    /// Serve Alertmanager's webhook at this path (such as /problems/alertmanager).
    #[arg(long)]
    alertmanager_webhook: Option<String>,
}

/// The API configuration: token, task lease and the problem webhooks asked for.
fn api_config(args: &Args, token: ApiToken, lease: Duration) -> anyhow::Result<ApiConfig> {
    let mut config = ApiConfig::new(token).task_lease(lease);
    if let Some(path) = &args.dynatrace_webhook {
        let hook = ProblemWebhook::new(path, |body| {
            keptn_dynatrace::ProblemNotification::parse(body)
                .and_then(|n| n.to_keptn_event())
                .map_err(|e| e.to_string())
        })
        .map_err(|e| anyhow::anyhow!("--dynatrace-webhook: {}", e.message))?;
        config = config.problem_webhook(hook);
    }
    if let Some(path) = &args.alertmanager_webhook {
        let hook = ProblemWebhook::new(path, |body| {
            keptn_prometheus::WebhookPayload::parse(body)
                .and_then(|p| p.to_problem_event())
                .map_err(|e| e.to_string())
        })
        .map_err(|e| anyhow::anyhow!("--alertmanager-webhook: {}", e.message))?;
        config = config.problem_webhook(hook);
    }
    Ok(config)
}

fn token(args: &Args) -> anyhow::Result<ApiToken> {
    let raw = match (&args.token_file, std::env::var("KEPTN_API_TOKEN")) {
        (Some(file), _) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the token file {}", file.display()))?,
        (None, Ok(token)) => token,
        (None, Err(_)) => bail!("no API token: set KEPTN_API_TOKEN or pass --token-file FILE"),
    };
    ApiToken::new(raw).map_err(|e| anyhow::anyhow!("the API token: {}", e.message))
}

fn sli_executor(source: SliSource) -> anyhow::Result<Option<SliProviderExecutor>> {
    Ok(match source {
        SliSource::Remote => None,
        SliSource::Local => Some(SliProviderExecutor::new(Arc::new(
            keptn_local::LocalSliProvider::new(),
        ))),
        SliSource::Dynatrace => {
            let tenant =
                std::env::var("DT_TENANT").context("--sli-provider dynatrace needs DT_TENANT")?;
            let dt_token = std::env::var("DT_API_TOKEN")
                .context("--sli-provider dynatrace needs DT_API_TOKEN")?;
            let client = keptn_dynatrace::DynatraceClient::builder(tenant)
                .api_token(dt_token.into())
                .build()?;
            Some(SliProviderExecutor::new(Arc::new(
                keptn_dynatrace::DynatraceSliProvider::new(client),
            )))
        }
    })
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let token = token(&args)?;
    let timeout = Duration::from_secs(args.task_timeout.max(1));
    let config = api_config(&args, token, timeout)?;
    let store = SqliteStore::open(&args.state)
        .with_context(|| format!("cannot open the state file {}", args.state.display()))?;
    let provider = match args.sli_provider {
        SliSource::Dynatrace => "dynatrace",
        SliSource::Local => "local",
        SliSource::Remote => "remote",
    };
    let mut builder = ControlPlane::builder()
        .store(Arc::new(store))
        .task_start_timeout(timeout)
        .executor(Lighthouse::new(provider));
    if let Some(sli) = sli_executor(args.sli_provider)? {
        builder = builder.executor(sli);
    }
    let plane = builder.build().await?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!(
        "control plane listening on http://{}",
        listener.local_addr()?
    );
    keptn_control::http::serve(listener, plane, config, shutdown_signal()).await?;
    println!("control plane stopped");
    Ok(())
}
