//! "My own delivery tool": a deployer that only logs, driven through dev → staging (with the
//! quality gate) → production by keptn-control's ControlPlane.
use std::sync::Arc;
use std::time::Duration;

use keptn_control::ControlPlane;
use keptn_control::executors::{Lighthouse, TestExecutor};
use keptn_control::keptn_spec::Verdict;
use keptn_deploy::runner::HttpTestRunner;
use keptn_deploy::{
    Deployer, DeploymentRequest, DeploymentResult, Result, RunningVersion, ServiceStatus,
    StageService, async_trait,
};

#[derive(Debug)]
struct LogDeployer;

#[async_trait]
impl Deployer for LogDeployer {
    fn name(&self) -> &str {
        "log"
    }
    async fn deploy(&self, request: &DeploymentRequest) -> Result<DeploymentResult> {
        println!("deploy {} to {}", request.artifact, request.target);
        let names = vec![request.strategy.deployment_name().to_owned()];
        Ok(DeploymentResult::new(
            request.strategy,
            names,
            request.artifact.to_string(),
        ))
    }
    // promote, rollback and scale keep their defaults: nothing to switch without a canary.
    async fn status(&self, target: &StageService) -> Result<ServiceStatus> {
        let mut status = ServiceStatus::absent(target.clone());
        status.serving = Some(RunningVersion::new("primary", "unknown", 1, 1));
        Ok(status)
    }
}

const SHIPYARD: &str = "stages:\n- {name: dev, deployment_strategy: direct}\n\
                        - {name: staging, deployment_strategy: blue_green_service}\n\
                        - {name: production, deployment_strategy: blue_green_service}\n";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let plane = ControlPlane::builder()
        .project("sockshop".parse()?, SHIPYARD)
        .deployer(Arc::new(LogDeployer))
        .executor(TestExecutor::new(Arc::new(HttpTestRunner::new())))
        .executor(Lighthouse::new("none"))
        .build()
        .await?;
    let context = plane
        .trigger_delivery(
            &"sockshop".parse()?,
            &"dev".parse()?,
            "delivery",
            &"carts".parse()?,
            "carts:0.11.1",
        )
        .await?;
    for outcome in plane.wait(context, Duration::from_secs(30)).await? {
        println!("{} {}: {}", outcome.stage, outcome.sequence, outcome.result);
        assert_eq!(outcome.result, Verdict::Pass, "{outcome:?}");
    }
    Ok(())
}
