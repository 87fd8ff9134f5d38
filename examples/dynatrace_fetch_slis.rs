//! Fetches the SLIs of one evaluation window from Dynatrace and prints them as JSON.
//!
//! ```text
//! DT_TENANT=abc123.live.dynatrace.com DT_API_TOKEN=dt0c01.… \
//! cargo run -p keptn-examples --example dynatrace_fetch_slis -- \
//!   --project sockshop --stage staging --service carts --deployment canary \
//!   [--sli sli.yaml] [--slo slo.yaml] --start 2024-03-01T10:00:00Z --end 2024-03-01T10:10:00Z [--settle 120]
//! ```
//!
//! Which SLIs: the objectives of `--slo` (its `filter` map becomes the custom filters), else
//! every indicator of `--sli`, else Keptn's defaults (`throughput`, `error_rate`,
//! `response_time_p50/p90/p95`). Queries come from `--sli`, else Keptn's defaults.
//!
//! Output: a JSON array of `{"metric","value","success","message"}` (what `slo_evaluate --sli`
//! reads). Exit code 0 when every SLI succeeded, 1 otherwise, 2 on invalid input.
//! A tenant with an explicit `http://` is used as it is (that is how tests point it at a fake).

use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider};
use keptn_slo::{SliProvider, SliQuery};
use keptn_spec::sli::SliConfig;
use keptn_spec::{ProjectName, ServiceName, SliValue, Slo, StageName};
use secrecy::SecretString;

/// Fetch the SLIs of one evaluation window from Dynatrace (DT_TENANT, DT_API_TOKEN).
#[derive(Debug, Parser)]
struct Args {
    /// The Keptn project.
    #[arg(long)]
    project: String,
    /// The stage.
    #[arg(long)]
    stage: String,
    /// The service.
    #[arg(long)]
    service: String,
    /// The deployment (`canary`, `primary`, `direct`, …) for `$DEPLOYMENT` / `keptn_deployment`.
    #[arg(long)]
    deployment: Option<String>,
    /// The SLI configuration (`dynatrace/sli.yaml`).
    #[arg(long)]
    sli: Option<std::path::PathBuf>,
    /// The SLO file whose objectives name the SLIs to fetch.
    #[arg(long)]
    slo: Option<std::path::PathBuf>,
    /// Window start (RFC 3339).
    #[arg(long)]
    start: String,
    /// Window end (RFC 3339).
    #[arg(long)]
    end: String,
    /// Seconds to wait after the window's end for Dynatrace to ingest data (Keptn: 120).
    #[arg(long, default_value_t = 120)]
    settle: u64,
}

const DEFAULT_SLIS: [&str; 5] = [
    "throughput",
    "error_rate",
    "response_time_p50",
    "response_time_p90",
    "response_time_p95",
];

/// Everything the run needs, or why the input is invalid.
fn prepare(args: &Args) -> Result<(DynatraceSliProvider, SliQuery), String> {
    let tenant = std::env::var("DT_TENANT").map_err(|_| "DT_TENANT is not set".to_owned())?;
    let token = std::env::var("DT_API_TOKEN").map_err(|_| "DT_API_TOKEN is not set".to_owned())?;
    let project = ProjectName::new(args.project.as_str()).map_err(|e| format!("--project: {e}"))?;
    let stage = StageName::new(args.stage.as_str()).map_err(|e| format!("--stage: {e}"))?;
    let service = ServiceName::new(args.service.as_str()).map_err(|e| format!("--service: {e}"))?;
    let time = |flag: &str, s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("{flag} `{s}` is not an RFC 3339 time: {e}"))
    };
    let start = time("--start", &args.start)?;
    let end = time("--end", &args.end)?;
    if start > end {
        return Err(format!("--start {start} is after --end {end}"));
    }
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let sli_config = match &args.sli {
        Some(p) => {
            Some(SliConfig::from_yaml(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let slo = match &args.slo {
        Some(p) => {
            Some(Slo::from_yaml_str(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let indicators: Vec<String> = match (&slo, &sli_config) {
        (Some(slo), _) => slo.indicators(),
        (None, Some(c)) => c.indicators.keys().cloned().collect(),
        (None, None) => DEFAULT_SLIS.iter().map(|s| (*s).to_owned()).collect(),
    };
    let client = DynatraceClient::builder(tenant)
        .api_token(SecretString::from(token))
        .build()
        .map_err(|e| e.to_string())?;
    let mut provider =
        DynatraceSliProvider::new(client).with_settle_time(Duration::from_secs(args.settle));
    if let Some(c) = sli_config {
        provider = provider.with_sli_config(c);
    }
    let mut query = SliQuery::new(project, stage, service, start, end, indicators);
    if let Some(d) = &args.deployment {
        query = query.with_deployment(d.clone());
    }
    if let Some(slo) = slo {
        query = query.with_custom_filters(slo.filter);
    }
    Ok((provider, query))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let (provider, query) = match prepare(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let values = match provider.fetch_slis(&query).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            query
                .indicators
                .iter()
                .map(|sli| SliValue::failed(sli.clone(), e.message.clone()))
                .collect()
        }
    };
    match serde_json::to_string_pretty(&values) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("error: cannot write the result: {e}");
            return ExitCode::from(1);
        }
    }
    if values.iter().all(|v| v.success) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
