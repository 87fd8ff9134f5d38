//! Name a Slack target with keptn-notify alone (its re-exported secret type).
use keptn_notify::{SecretString, Target};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::slack(SecretString::from("https://hooks.slack.com/services/T/B/X"))?;
    println!("{}", target.name());
    Ok(())
}
