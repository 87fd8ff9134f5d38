//! A remediation registry with the scaling action, written against keptn-remediate alone.
use keptn_remediate::{ActionRegistry, ScaleError, Scaler, ScalingAction, async_trait};

#[derive(Debug)]
struct NoScaler;

#[async_trait]
impl Scaler for NoScaler {
    async fn replicas(&self, _namespace: &str, _deployment: &str) -> Result<u32, ScaleError> {
        Ok(1)
    }
    async fn set_replicas(
        &self,
        _namespace: &str,
        _deployment: &str,
        _replicas: u32,
    ) -> Result<(), ScaleError> {
        Ok(())
    }
}

fn main() {
    let registry = ActionRegistry::new().with(ScalingAction::new(NoScaler));
    println!("{registry:?}");
}
