//! Configure the local deployer with keptn-local alone.
use keptn_local::{CommandTemplate, LocalDeployer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let deployer = LocalDeployer::new()
        .with_service(&"carts".parse()?, CommandTemplate::new("./carts").args(["{port}"]));
    println!("{deployer:?}");
    Ok(())
}
