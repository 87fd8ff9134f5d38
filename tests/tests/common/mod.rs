//! What the tests that run the `full_tour` example share.

use std::path::PathBuf;
use std::process::Command;

/// Builds the `full_tour` example with the same cargo and profile as the tests and returns its
/// path.
pub(crate) fn full_tour_binary() -> PathBuf {
    let cargo = env!("CARGO");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-p", "keptn-examples", "--example", "full_tour"])
        .status()
        .expect("cannot run cargo to build the full_tour example");
    assert!(status.success(), "building full_tour failed");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let exe = target.join("debug").join("examples").join("full_tour");
    assert!(exe.exists(), "{} missing after the build", exe.display());
    exe
}

/// Processes whose `KEPTN_SUPERVISOR_PID` is `supervisor`: the services one tour started (the
/// local supervisor gives every child that variable); other tours running on the same machine
/// do not count.
pub(crate) fn children_of(supervisor: u32) -> Vec<u32> {
    let needle = format!("KEPTN_SUPERVISOR_PID={supervisor}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .collect()
}
