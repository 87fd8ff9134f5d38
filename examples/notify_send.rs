//! Sends Keptn events to Slack, Microsoft Teams and webhook.yaml receivers — or, with
//! `--print`, shows the messages they would get, offline.
//!
//! ```text
//! cargo run -p keptn-examples --example notify_send -- --print slack
//! SLACK_WEBHOOK_URL=https://hooks.slack.com/services/… \
//!   cargo run -p keptn-examples --example notify_send -- --events events.jsonl
//! cargo run -p keptn-examples --example notify_send -- --webhook webhook.yaml
//! ```
//!
//! Events are CloudEvents as JSON lines (the event log a delivery run writes); by default a
//! recorded story: a slow build failing its quality gate in staging and being rolled back, then
//! a production problem remediated by a feature toggle.
//!
//! Exit codes: 0 every message delivered (or printed); 1 some delivery failed or was dropped;
//! 2 bad arguments, events file or configuration.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use keptn_notify::{ChatFormat, MessageBuilder};
use keptn_spec::event::{EventSink, KeptnEvent};

const DEFAULT_EVENTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/notify/tour-events.jsonl"
);

#[derive(Parser, Debug)]
#[command(about = "Send Keptn events as Slack/Teams messages and webhook.yaml requests")]
struct Args {
    /// Keptn events as JSON lines (default: a recorded tour).
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// A Keptn webhook.yaml (apiVersion webhookconfig.keptn.sh/v1beta1).
    #[arg(long, value_name = "FILE")]
    webhook: Option<PathBuf>,
    /// Print the messages in this format instead of sending anything.
    #[arg(long, value_enum, value_name = "FORMAT")]
    print: Option<PrintFormat>,
    /// Seconds to wait for deliveries before giving up.
    #[arg(long, default_value_t = 30)]
    wait: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PrintFormat {
    /// One line per message: kind and title.
    Summary,
    /// Slack incoming-webhook JSON.
    Slack,
    /// Teams MessageCard JSON.
    Teams,
    /// Teams Workflows Adaptive Card JSON.
    Adaptive,
}

fn read_events(path: &std::path::Path) -> anyhow::Result<Vec<KeptnEvent>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read events file {}: {e}", path.display()))?;
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event = KeptnEvent::from_json_str(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        events.push(event);
    }
    Ok(events)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let path = args
        .events
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_EVENTS));
    let events = match read_events(&path) {
        Ok(events) => events,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };

    if let Some(format) = args.print {
        let mut messages = MessageBuilder::new();
        for event in &events {
            let Ok(value) = serde_json::to_value(event) else {
                continue;
            };
            let Some(message) = messages.push(&value) else {
                continue;
            };
            let line = match format {
                PrintFormat::Summary => format!("{:?}: {}", message.kind, message.title),
                PrintFormat::Slack => ChatFormat::Slack.payload(&message).to_string(),
                PrintFormat::Teams => ChatFormat::TeamsMessageCard.payload(&message).to_string(),
                PrintFormat::Adaptive => {
                    ChatFormat::TeamsAdaptiveCard.payload(&message).to_string()
                }
            };
            println!("{line}");
        }
        return ExitCode::SUCCESS;
    }

    let notifier = match keptn_notify::from_env_and_file(args.webhook.as_deref()) {
        Ok(Some(n)) => n,
        Ok(None) => {
            eprintln!(
                "error: nothing to send to: set SLACK_WEBHOOK_URL or TEAMS_WEBHOOK_URL, pass \
                 --webhook FILE, or use --print"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            return ExitCode::from(2);
        }
    };
    for event in &events {
        notifier.emit(event);
    }
    let flushed = notifier.shutdown(Duration::from_secs(args.wait)).await;
    let stats = notifier.stats();
    println!("{stats}");
    if let Err(e) = flushed {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    for t in &stats.targets {
        if let Some(err) = &t.last_error {
            eprintln!("{}: last error: {err}", t.name);
        }
    }
    if stats.failed() > 0 || stats.dropped() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
