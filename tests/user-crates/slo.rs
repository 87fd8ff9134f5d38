//! Use keptn-slo alone: the engine's types resolve with and without the default `gate` feature.
fn main() {
    println!("{}", std::any::type_name::<keptn_slo::CompiledSlo>());
}
