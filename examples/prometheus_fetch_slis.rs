//! Fetches the SLIs of one evaluation window from Prometheus and prints them as JSON.
//!
//! ```text
//! [PROMETHEUS_TOKEN=… | PROMETHEUS_USER=… PROMETHEUS_PASSWORD=…] \
//! cargo run -p keptn-examples --example prometheus_fetch_slis -- --url http://127.0.0.1:9090 \
//!   --project sockshop --stage staging --service carts [--deployment canary] \
//!   [--sli sli.yaml] [--slo slo.yaml] --start 2024-03-01T10:00:00Z --end 2024-03-01T10:10:00Z
//! ```
//!
//! Which SLIs: the objectives of `--slo` (its `filter` map becomes the custom filters), else
//! every indicator of `--sli`, else Keptn's defaults (`throughput`, `error_rate`,
//! `response_time_p50/p90/p95`). Queries come from `--sli` (PromQL with Keptn's placeholders),
//! else Keptn's defaults.
//!
//! Output: a JSON array of `{"metric","value","success","message"}` (what `slo_evaluate --sli`
//! reads, the same as `dynatrace_fetch_slis`). Exit code 0 when every SLI succeeded, 1
//! otherwise, 2 on invalid input. Credentials are never printed.

use std::process::ExitCode;

use clap::Parser;
use keptn_examples::sli_fetch::{Window, fetch_and_print, prepare};
use keptn_prometheus::{Auth, PrometheusClient, PrometheusSliProvider};
use secrecy::SecretString;

/// Fetch the SLIs of one evaluation window from Prometheus (auth from PROMETHEUS_TOKEN or
/// PROMETHEUS_USER / PROMETHEUS_PASSWORD).
#[derive(Debug, Parser)]
struct Args {
    /// Prometheus' base URL, such as `http://127.0.0.1:9090`.
    #[arg(long)]
    url: String,
    #[command(flatten)]
    window: Window,
}

fn auth_from_env() -> Result<Auth, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("PROMETHEUS_TOKEN"),
        var("PROMETHEUS_USER"),
        var("PROMETHEUS_PASSWORD"),
    ) {
        (Some(_), Some(_), _) => Err(
            "set either PROMETHEUS_TOKEN or PROMETHEUS_USER/PROMETHEUS_PASSWORD, not both"
                .to_owned(),
        ),
        (Some(token), None, _) => Ok(Auth::Bearer(SecretString::from(token))),
        (None, Some(user), Some(password)) => Ok(Auth::Basic {
            user,
            password: SecretString::from(password),
        }),
        (None, Some(_), None) => {
            Err("PROMETHEUS_USER is set but PROMETHEUS_PASSWORD is not".to_owned())
        }
        (None, None, _) => Ok(Auth::None),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let prepared = prepare(&args.window).and_then(|(query, config)| {
        let client = PrometheusClient::builder(args.url.as_str())
            .auth(auth_from_env()?)
            .build()
            .map_err(|e| format!("--url: {e}"))?;
        let mut provider = PrometheusSliProvider::new(client);
        if let Some(c) = config {
            provider = provider.with_sli_config(c);
        }
        Ok((provider, query))
    });
    match prepared {
        Ok((provider, query)) => fetch_and_print(&provider, &query).await,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
