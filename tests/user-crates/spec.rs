//! Parse a shipyard with keptn-spec alone.
use keptn_spec::ParseOptions;
use keptn_spec::shipyard::Shipyard;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let parsed = Shipyard::parse("stages:\n  - name: dev\n", &ParseOptions::new())?;
    println!("{} stage(s)", parsed.value.stages().len());
    Ok(())
}
