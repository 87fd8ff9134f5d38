//! Use keptn-slo alone: its crate name and error type resolve.
fn main() {
    println!("{}", std::any::type_name::<keptn_slo::ProviderError>());
}
