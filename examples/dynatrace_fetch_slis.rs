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

use clap::Parser;
use keptn_dynatrace::{DynatraceClient, DynatraceSliProvider};
use keptn_examples::sli_fetch::{Window, fetch_and_print, prepare};
use secrecy::SecretString;

/// Fetch the SLIs of one evaluation window from Dynatrace (DT_TENANT, DT_API_TOKEN).
#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    window: Window,
    /// Seconds to wait after the window's end for Dynatrace to ingest data (Keptn: 120).
    #[arg(long, default_value_t = 120)]
    settle: u64,
}

/// Everything the run needs, or why the input is invalid.
fn provider(args: &Args) -> Result<(DynatraceSliProvider, keptn_slo::SliQuery), String> {
    let tenant = std::env::var("DT_TENANT").map_err(|_| "DT_TENANT is not set".to_owned())?;
    let token = std::env::var("DT_API_TOKEN").map_err(|_| "DT_API_TOKEN is not set".to_owned())?;
    let (query, config) = prepare(&args.window)?;
    let client = DynatraceClient::builder(tenant)
        .api_token(SecretString::from(token))
        .build()
        .map_err(|e| e.to_string())?;
    let mut provider =
        DynatraceSliProvider::new(client).with_settle_time(Duration::from_secs(args.settle));
    if let Some(c) = config {
        provider = provider.with_sli_config(c);
    }
    Ok((provider, query))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match provider(&args) {
        Ok((provider, query)) => fetch_and_print(&provider, &query).await,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
