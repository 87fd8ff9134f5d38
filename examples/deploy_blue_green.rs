//! Deploy, promote or roll back one service on the cluster of the current KUBECONFIG context,
//! with Keptn's blue/green (or direct) strategy, and print the resulting state as JSON.
//!
//! ```text
//! cargo run -p keptn-examples --example deploy_blue_green -- \
//!     --project sockshop --stage staging --service carts \
//!     --image docker.io/keptnexamples/carts:0.11.2 [--strategy direct|blue_green_service] \
//!     [--port 8080] [--service-port 80] [--readiness-path /health] [--promote | --rollback] \
//!     [--timeout 300]
//! ```
//!
//! Without `--promote`/`--rollback` the image is deployed (blue/green: as canary beside the
//! serving `{service}-primary`) and the rollout awaited. `--promote` makes the pending canary
//! serve, `--rollback` discards it; `--image` must then name the canary's image.
//!
//! Exit codes: 0 success; 1 a failed or timed-out rollout (rolled back first) or a failed
//! promote/rollback; 2 invalid input.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use keptn_deploy::kubernetes::{KubeDeployer, ServiceTemplate};
use keptn_deploy::{
    Artifact, Deployer, DeploymentRequest, DeploymentStrategy, RunningVersion, ServiceStatus,
    StageService,
};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "Keptn-style blue/green deployment of one service on Kubernetes")]
struct Args {
    /// Keptn project (namespace prefix).
    #[arg(long)]
    project: String,
    /// Stage (namespace suffix).
    #[arg(long)]
    stage: String,
    /// Service name (Deployment/Service name).
    #[arg(long)]
    service: String,
    /// Image with tag, e.g. docker.io/keptnexamples/carts:0.11.2.
    #[arg(long)]
    image: String,
    /// `direct` or `blue_green_service`.
    #[arg(long, default_value = "blue_green_service")]
    strategy: String,
    /// Port the service listens on (Service and container).
    #[arg(long, default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,
    /// Port of the Service (default: the same as --port).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    service_port: Option<u16>,
    /// HTTP path of a readiness probe on --port: a pod gets traffic, and a rollout completes,
    /// only once it answers there.
    #[arg(long, value_name = "PATH")]
    readiness_path: Option<String>,
    /// Promote the pending canary instead of deploying.
    #[arg(long, conflicts_with = "rollback")]
    promote: bool,
    /// Roll back (discard) the pending canary instead of deploying.
    #[arg(long)]
    rollback: bool,
    /// Rollout timeout in seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

/// Input that is well-formed for clap but not valid for Keptn.
struct Invalid(String);

struct Input {
    target: StageService,
    artifact: Artifact,
    strategy: DeploymentStrategy,
}

fn validate(args: &Args) -> Result<Input, Invalid> {
    let bad = |e: &dyn std::fmt::Display| Invalid(e.to_string());
    let target = StageService::new(
        args.project.parse().map_err(|e| bad(&e))?,
        args.stage.parse().map_err(|e| bad(&e))?,
        args.service.parse().map_err(|e| bad(&e))?,
    );
    let artifact = Artifact::new(args.image.clone()).map_err(|e| bad(&e))?;
    let strategy: DeploymentStrategy = args.strategy.parse().map_err(|e| bad(&e))?;
    if strategy == DeploymentStrategy::UserManaged {
        return Err(Invalid(
            "strategy `user_managed` deploys nothing; use direct or blue_green_service".into(),
        ));
    }
    Ok(Input {
        target,
        artifact,
        strategy,
    })
}

fn version(v: Option<&RunningVersion>) -> Value {
    v.map_or(Value::Null, |v| {
        json!({ "deployment": v.name, "image": v.image, "replicas": v.replicas, "readyReplicas": v.ready_replicas })
    })
}

fn state(action: &str, status: &ServiceStatus, extra: Value) -> Value {
    let mut out = json!({
        "action": action,
        "project": status.target.project,
        "stage": status.target.stage,
        "service": status.target.service,
        "namespace": status.target.namespace(),
        "strategy": status.strategy,
        "serving": version(status.serving.as_ref()),
        "canary": version(status.canary.as_ref()),
    });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
        o.extend(e);
    }
    out
}

fn print(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let input = match validate(&args) {
        Ok(i) => i,
        Err(Invalid(msg)) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    let client = match keptn_deploy::kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "error: cannot connect to the cluster of the current KUBECONFIG context: {e}"
            );
            return ExitCode::from(1);
        }
    };
    let mut template =
        ServiceTemplate::new().service_port(args.service_port.unwrap_or(args.port), args.port);
    if let Some(path) = &args.readiness_path {
        template = template.readiness_path(path.clone());
    }
    // after each switch of a promotion: wait (at most 10 s) for the Service's Endpoints, then
    // 1 s for kube-proxy, before the pods it left are replaced or scaled down
    let deployer = KubeDeployer::new(client)
        .with_rollout_timeout(Duration::from_secs(args.timeout))
        .with_switch_drain(Duration::from_secs(10), Duration::from_secs(1))
        .with_default_template(template);
    let target = &input.target;

    if args.promote || args.rollback {
        let action = if args.promote { "promote" } else { "rollback" };
        let before = match deployer.status(target).await {
            Ok(s) => s,
            Err(e) => return fail(action, target, &e, &deployer).await,
        };
        match before.canary_image() {
            Some(img) if img == input.artifact.image() => {}
            Some(img) => {
                eprintln!(
                    "error: the pending canary of {target} runs `{img}`, not `{}`",
                    input.artifact
                );
                return ExitCode::from(2);
            }
            None => {
                eprintln!("error: {target} has no pending canary to {action}");
                return ExitCode::from(2);
            }
        }
        let result = if args.promote {
            deployer.promote(target).await
        } else {
            deployer.rollback(target).await
        };
        return match result {
            Ok(status) => {
                print(&state(action, &status, json!({ "result": "success" })));
                ExitCode::SUCCESS
            }
            Err(e) => fail(action, target, &e, &deployer).await,
        };
    }

    let request = DeploymentRequest::new(target.clone(), input.artifact.clone(), input.strategy);
    match deployer.deploy(&request).await {
        Ok(result) => match deployer.status(target).await {
            Ok(status) => {
                print(&state(
                    "deploy",
                    &status,
                    json!({
                        "result": "success",
                        "deploymentNames": result.deployment_names,
                        "deploymentURIsLocal": result.uris_local,
                    }),
                ));
                ExitCode::SUCCESS
            }
            Err(e) => fail("deploy", target, &e, &deployer).await,
        },
        Err(e) => fail("deploy", target, &e, &deployer).await,
    }
}

/// Reports a failure: the error on stderr, the state after it as JSON on stdout, exit 1.
async fn fail(
    action: &str,
    target: &StageService,
    err: &keptn_deploy::Error,
    deployer: &KubeDeployer,
) -> ExitCode {
    let mut msg = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    eprintln!("error: {msg}");
    let status = deployer
        .status(target)
        .await
        .unwrap_or_else(|_| ServiceStatus::absent(target.clone()));
    print(&state(
        action,
        &status,
        json!({ "result": "failed", "error": msg }),
    ));
    ExitCode::from(1)
}
