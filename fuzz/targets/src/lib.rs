//! The bodies of keptn-rs' fuzz targets: one function per parser that takes outside input.
//!
//! Each function takes the raw bytes a fuzzer (or a saved corpus file) gives it, feeds them to
//! the parser the way the program that reads them would, and returns normally whatever the bytes
//! are. A panic is a finding. The same functions run in two places:
//!
//! * `fuzz/afl` (outside the workspace, built with `cargo afl`): the coverage-guided targets that
//!   `scripts/fuzz.sh TARGET SECONDS` runs;
//! * `tests/replay.rs` (this crate, an ordinary `cargo test`): every file of the saved, minimised
//!   corpora under `fuzz/corpus/TARGET/` and every crash under `fuzz/regressions/TARGET/`.
//!
//! ```
//! // every target accepts any bytes: invalid YAML is an error, never a panic
//! for target in keptn_fuzz_targets::TARGETS {
//!     (target.run)(b"stages: [{name: \"x");
//! }
//! assert!(keptn_fuzz_targets::target("shipyard").is_some());
//! ```

mod answers;
mod control;
mod documents;
mod payloads;

pub use answers::{dynatrace_answers, unleash_answers};
pub use control::control_http;
pub use documents::{remediation, shipyard, sli_config, slo, webhook_config};
pub use payloads::{alertmanager, cloudevent, dynatrace_problem};

/// One fuzz target: its name (the corpus folder and the argument of `scripts/fuzz.sh`) and body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name, such as `shipyard`.
    pub name: &'static str,
    /// The body: feeds the bytes to the parser; panics only on a bug.
    pub run: fn(&[u8]),
}

/// Every target, in the order `scripts/fuzz.sh all` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "shipyard",
        run: shipyard,
    },
    Target {
        name: "slo",
        run: slo,
    },
    Target {
        name: "sli_config",
        run: sli_config,
    },
    Target {
        name: "remediation",
        run: remediation,
    },
    Target {
        name: "webhook_config",
        run: webhook_config,
    },
    Target {
        name: "cloudevent",
        run: cloudevent,
    },
    Target {
        name: "dynatrace_problem",
        run: dynatrace_problem,
    },
    Target {
        name: "dynatrace_answers",
        run: dynatrace_answers,
    },
    Target {
        name: "unleash_answers",
        run: unleash_answers,
    },
    Target {
        name: "alertmanager",
        run: alertmanager,
    },
    Target {
        name: "control_http",
        run: control_http,
    },
];

/// The target called `name`, if there is one.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The bytes as text, or `None`: every parser here reads UTF-8 (the programs reject other bytes
/// before parsing, with their own message).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
