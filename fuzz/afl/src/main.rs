//! The AFL++ harness: `keptn-fuzz-afl TARGET` fuzzes one target of `keptn-fuzz-targets`
//! (`scripts/fuzz.sh TARGET SECONDS` builds and runs it).

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = keptn_fuzz_targets::target(&name) else {
        let names: Vec<&str> = keptn_fuzz_targets::TARGETS.iter().map(|t| t.name).collect();
        eprintln!("usage: keptn-fuzz-afl TARGET (one of: {})", names.join(", "));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        (target.run)(data);
    });
}
