//! Build a Dynatrace client with keptn-dynatrace alone (its re-exported secret type).
use keptn_dynatrace::{DynatraceClient, SecretString};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = DynatraceClient::builder("abc123.live.dynatrace.com")
        .api_token(SecretString::from("dt0c01.example"))
        .build()?;
    println!("{client:?}");
    Ok(())
}
