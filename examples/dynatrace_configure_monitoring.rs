//! Configures a Dynatrace tenant for Keptn, like `keptn configure monitoring dynatrace`.
//!
//! ```text
//! DT_TENANT=abc123.live.dynatrace.com DT_API_TOKEN=dt0c01.… [KEPTN_API_TOKEN=…] \
//! cargo run -p keptn-examples --example dynatrace_configure_monitoring -- \
//!   --project sockshop [--stages dev,staging,production] [--dry-run] [--keptn-endpoint URL]
//! ```
//!
//! Creates (when missing) the `keptn_*` auto-tagging rules, the `Keptn` alerting profile, the
//! problem notification to `--keptn-endpoint` (with `x-token: $KEPTN_API_TOKEN` when set), the
//! project's and stages' management zones and the project dashboard, and prints one line per
//! object: created, updated or left alone. A second run changes nothing. `--dry-run` only
//! reports. Exit code 0 on success, 1 when a step failed, 2 on invalid input.

use std::process::ExitCode;

use clap::Parser;
use keptn_dynatrace::{DynatraceClient, KeptnEndpoint, Mode, MonitoringSetup};
use keptn_spec::{ProjectName, StageName};
use secrecy::SecretString;

/// Configure Dynatrace monitoring for a Keptn project (DT_TENANT, DT_API_TOKEN).
#[derive(Debug, Parser)]
struct Args {
    /// The Keptn project (management zones and dashboard are created for it).
    #[arg(long)]
    project: String,
    /// The project's stages, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "dev,staging,production")]
    stages: Vec<String>,
    /// Only report what would be done.
    #[arg(long)]
    dry_run: bool,
    /// Where Dynatrace sends problem notifications: the `control_plane` example's
    /// `--dynatrace-webhook` path (such as `http://HOST:PORT/problems/dynatrace`), or Keptn's
    /// `…/v1/event`; without it the notification step is skipped.
    #[arg(long)]
    keptn_endpoint: Option<String>,
}

fn prepare(args: &Args) -> Result<MonitoringSetup, String> {
    let tenant = std::env::var("DT_TENANT").map_err(|_| "DT_TENANT is not set".to_owned())?;
    let token = std::env::var("DT_API_TOKEN").map_err(|_| "DT_API_TOKEN is not set".to_owned())?;
    let project = ProjectName::new(args.project.as_str()).map_err(|e| format!("--project: {e}"))?;
    let stages = args
        .stages
        .iter()
        .map(|s| StageName::new(s.trim()).map_err(|e| format!("--stages: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let client = DynatraceClient::builder(tenant)
        .api_token(SecretString::from(token))
        .build()
        .map_err(|e| e.to_string())?;
    let mut setup = MonitoringSetup::new(client).with_project(project, stages);
    if let Some(url) = &args.keptn_endpoint {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "--keptn-endpoint `{url}` must be an http:// or https:// URL"
            ));
        }
        let mut endpoint = KeptnEndpoint::new(url.clone());
        if let Ok(t) = std::env::var("KEPTN_API_TOKEN") {
            endpoint = endpoint.with_token(SecretString::from(t));
        }
        setup = setup.with_keptn_endpoint(endpoint);
    }
    if args.dry_run {
        setup = setup.with_mode(Mode::DryRun);
    }
    Ok(setup)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let setup = match prepare(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = setup.run().await;
    print!("{report}");
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
