//! Serves a fake Dynatrace tenant on 127.0.0.1 for trying the Dynatrace examples without a
//! tenant (and for the smoke runs of `scripts/test-all.sh`).
//!
//! ```text
//! cargo run -p keptn-examples --example dynatrace_serve_fake -- --token T [--latency-ms 0] \
//!     [--sample-seconds 60]
//! ```
//!
//! Prints the tenant URL (`http://127.0.0.1:<port>`) as the first line on stdout, then serves
//! until killed. Keptn's default SLI queries for any project/stage/service answer with sample
//! values (µs for response times, as Dynatrace reports them). It also stores ingested metrics,
//! answers queries over them and opens problems from metric events, so it can back a
//! `full_tour` run: start it with `--sample-seconds 1`, then run
//! `DT_TENANT=<url> DT_API_TOKEN=T full_tour --dt-settle 7 --dt-poll 1`. It is a fake that
//! follows the published API documents, not Dynatrace (see `keptn_dynatrace::testing`).

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use keptn_dynatrace::testing::FakeTenant;

/// Serve a fake Dynatrace tenant.
#[derive(Debug, Parser)]
struct Args {
    /// The API token the fake accepts.
    #[arg(long)]
    token: String,
    /// Latency added to every metrics answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Length of the fake Davis's samples for metric events, in seconds (Dynatrace: 60; a
    /// tour run against the fake uses 1 so that problems open within seconds).
    #[arg(long, default_value_t = 60.0)]
    sample_seconds: f64,
    /// How long after a sample's end the fake's Davis evaluates it, in seconds: data arriving
    /// later does not count for that sample (the tour sends each second's data 5 s after it).
    #[arg(long, default_value_t = 10.0)]
    evaluation_delay_seconds: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tenant = FakeTenant::start(&args.token).await;
    tenant.set_latency(Duration::from_millis(args.latency_ms));
    anyhow::ensure!(
        args.sample_seconds.is_finite() && args.sample_seconds > 0.0,
        "--sample-seconds must be a positive number"
    );
    tenant.set_sample_interval(Duration::from_secs_f64(args.sample_seconds));
    anyhow::ensure!(
        args.evaluation_delay_seconds.is_finite() && args.evaluation_delay_seconds >= 0.0,
        "--evaluation-delay-seconds must be a number ≥ 0"
    );
    tenant.set_evaluation_delay(Duration::from_secs_f64(args.evaluation_delay_seconds));
    for (selector, value) in [
        ("builtin:service.requestCount.total:merge(0):sum", 1830.0),
        ("builtin:service.errors.total.count:merge(0):avg", 0.0),
        (
            "builtin:service.response.time:merge(0):percentile(50)",
            210_000.0,
        ),
        (
            "builtin:service.response.time:merge(0):percentile(90)",
            390_000.0,
        ),
        (
            "builtin:service.response.time:merge(0):percentile(95)",
            455_000.0,
        ),
    ] {
        tenant.set_value(selector, Some(value));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", tenant.uri())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
