//! Runs Keptn's remediation for one problem against an Unleash server and prints the outcome
//! as JSON.
//!
//! ```text
//! UNLEASH_URL=http://127.0.0.1:4242 UNLEASH_TOKEN='*:*.admin-token' \
//! cargo run -p keptn-examples --example remediate_unleash_toggle -- \
//!     --remediation examples/fixtures/remediation_feature_toggle.yaml \
//!     --problem "Failure rate increase" --project sockshop --stage production --service carts
//! ```
//!
//! Environment: `UNLEASH_URL`, `UNLEASH_TOKEN` (an admin API token), `UNLEASH_PROJECT`
//! (default `default`), `UNLEASH_ENVIRONMENT` (default `production`). The workflow verifies by
//! reading the flags back from Unleash. `--dry-run` reports what would be done and changes
//! nothing.
//!
//! Exit status: 0 when the actions succeeded (or, with `--dry-run`, a remediation matched),
//! 1 when an action failed, the problem stayed open or no remediation matched, 2 on invalid
//! input (arguments, remediation file, environment).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use keptn_remediate::unleash::secrecy::SecretString;
use keptn_remediate::unleash::{
    FeatureToggleAction, FlagStateVerifier, TOGGLE_ACTION_NAMES, UnleashClient, parse_toggles,
};
use keptn_remediate::{
    ActionRegistry, ActionStatus, Mode, Problem, RemediationReport, RemediationStatus, Remediator,
};
use keptn_spec::{ProjectName, ServiceName, StageName};
use serde_json::json;

/// Remediate one problem with Unleash feature toggles, as Keptn's remediation does.
#[derive(Debug, Parser)]
#[command(name = "remediate_unleash_toggle")]
struct Args {
    /// The remediation file (Keptn 0.6 list or `spec.keptn.sh/0.1.4`).
    #[arg(long, value_name = "FILE")]
    remediation: PathBuf,
    /// The problem title, such as "Failure rate increase".
    #[arg(long, value_name = "TITLE")]
    problem: String,
    /// The Keptn project.
    #[arg(long, value_name = "P")]
    project: ProjectName,
    /// The stage.
    #[arg(long, value_name = "S")]
    stage: StageName,
    /// The service.
    #[arg(long, value_name = "SVC")]
    service: ServiceName,
    /// Report what would be done without doing it.
    #[arg(long)]
    dry_run: bool,
}

fn invalid(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };

    let Some(url) = std::env::var("UNLEASH_URL").ok().filter(|v| !v.is_empty()) else {
        return invalid(
            "UNLEASH_URL is not set (the Unleash server, such as http://127.0.0.1:4242)",
        );
    };
    let Some(token) = std::env::var("UNLEASH_TOKEN")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return invalid("UNLEASH_TOKEN is not set (an Unleash admin API token)");
    };
    let client = match UnleashClient::builder(url)
        .api_token(SecretString::from(token))
        .project(env_or("UNLEASH_PROJECT", "default"))
        .environment(env_or("UNLEASH_ENVIRONMENT", "production"))
        .build()
    {
        Ok(c) => c,
        Err(e) => return invalid(e),
    };

    let file_name = args.remediation.display().to_string();
    let yaml = match std::fs::read_to_string(&args.remediation) {
        Ok(y) => y,
        Err(e) => return invalid(format!("cannot read {file_name}: {e}")),
    };
    let registry = ActionRegistry::new().with(FeatureToggleAction::new(client.clone()));
    let remediator = Remediator::builder(registry)
        .verifier(FlagStateVerifier::new(client.clone()))
        .wait(Duration::ZERO)
        .mode(if args.dry_run {
            Mode::DryRun
        } else {
            Mode::Execute
        })
        .build();
    if let Err(e) = remediator.add_remediation_yaml(
        args.project.clone(),
        args.stage.clone(),
        Some(args.service.clone()),
        &yaml,
        Some(&file_name),
    ) {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        return invalid(message);
    }

    let pid = format!(
        "example-{}",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let problem = Problem::new(pid, &args.problem, args.project.clone(), args.stage.clone())
        .with_service(args.service.clone());
    let report = remediator.on_problem_open(problem.clone()).await;
    let flags = final_flags(&client, &report).await;

    let output = json!({
        "problem": {
            "title": problem.title,
            "pid": problem.pid,
            "project": problem.project,
            "stage": problem.stage,
            "service": problem.service,
        },
        "dryRun": args.dry_run,
        "unleash": {"project": client.project(), "environment": client.environment()},
        "status": report.status,
        "matched": report.matched,
        "actions": report.steps.iter().map(|s| json!({
            "index": s.index,
            "name": s.step.name,
            "action": s.step.action,
            "value": s.step.value,
            "result": s.outcome.status,
            "message": s.outcome.message,
            "changes": s.outcome.changes,
            "undo": s.outcome.undo,
            "durationMs": s.action_ms,
            "verification": s.verification,
        })).collect::<Vec<_>>(),
        "finalState": {"flags": flags},
        "message": report.message,
        "elapsedMs": report.elapsed_ms,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&output).unwrap_or_else(|_| output.to_string())
    );

    let ok = match report.status {
        RemediationStatus::Resolved => report.actions_succeeded(),
        RemediationStatus::DryRun => true,
        _ => false,
    };
    if ok
        && report
            .steps
            .iter()
            .all(|s| s.outcome.status != ActionStatus::Failed)
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The state of every flag the matched remediation names, read back from Unleash after the run
/// (`"missing"` or the error when it cannot be read).
async fn final_flags(
    client: &UnleashClient,
    report: &RemediationReport,
) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    for step in &report.steps {
        if !TOGGLE_ACTION_NAMES.contains(&step.step.action.as_str()) {
            continue;
        }
        let Ok(toggles) = parse_toggles(step.step.value.as_ref()) else {
            continue;
        };
        for (flag, _) in toggles {
            let state = match client.flag_state(&flag).await {
                Ok(s) => s.to_string(),
                Err(keptn_remediate::Error::FlagNotFound { .. }) => "missing".to_owned(),
                Err(e) => format!("unknown ({e})"),
            };
            flags.insert(flag, state);
        }
    }
    flags
}
