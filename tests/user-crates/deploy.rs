//! "My own deployer": a Deployer that only logs, written against keptn-deploy alone.
use keptn_deploy::{
    Deployer, DeploymentRequest, DeploymentResult, Result, ServiceStatus, StageService,
    async_trait,
};

#[derive(Debug)]
struct LogDeployer;

#[async_trait]
impl Deployer for LogDeployer {
    fn name(&self) -> &str {
        "log"
    }
    async fn deploy(&self, request: &DeploymentRequest) -> Result<DeploymentResult> {
        println!("deploy {} to {}", request.artifact.image(), request.target.namespace());
        let names = vec![request.strategy.deployment_name().to_owned()];
        Ok(DeploymentResult::new(request.strategy, names, request.artifact.image().to_owned()))
    }
    async fn status(&self, target: &StageService) -> Result<ServiceStatus> {
        Ok(ServiceStatus::absent(target.clone()))
    }
}

fn main() {
    println!("{}", LogDeployer.name());
}
