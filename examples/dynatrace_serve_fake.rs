//! Serves a fake Dynatrace tenant on 127.0.0.1 for trying the Dynatrace examples without a
//! tenant (and for the smoke runs of `scripts/test-all.sh`).
//!
//! ```text
//! cargo run -p keptn-examples --example dynatrace_serve_fake -- --token T [--latency-ms 0]
//! ```
//!
//! Prints the tenant URL (`http://127.0.0.1:<port>`) as the first line on stdout, then serves
//! until killed. Keptn's default SLI queries for any project/stage/service answer with sample
//! values (µs for response times, as Dynatrace reports them). It is a fake that follows the
//! published API documents, not Dynatrace (see `keptn_dynatrace::testing`).

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tenant = FakeTenant::start(&args.token).await;
    tenant.set_latency(Duration::from_millis(args.latency_ms));
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
