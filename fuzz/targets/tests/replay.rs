//! Replays the saved fuzz corpora and every crash the fuzzer found (now fixed) through the same
//! target functions the AFL++ harness calls: no afl needed, seconds in CI.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use keptn_fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every file of `kind/TARGET/` through its target; returns the files that panicked.
fn replay(kind: &str) -> (usize, Vec<String>) {
    let mut count = 0;
    let mut failed = Vec::new();
    for target in TARGETS {
        for file in files(&fuzz_dir().join(kind).join(target.name)) {
            let data = std::fs::read(&file).expect("a readable corpus file");
            count += 1;
            if catch_unwind(AssertUnwindSafe(|| (target.run)(&data))).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    (count, failed)
}

#[test]
fn every_target_has_a_saved_corpus() {
    for target in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target.name);
        assert!(
            !files(&dir).is_empty(),
            "no saved corpus for target `{}` in {}",
            target.name,
            dir.display()
        );
    }
}

#[test]
fn saved_corpora_replay_without_panic() {
    let (count, failed) = replay("corpus");
    assert!(count > 0, "no corpus files found");
    assert!(failed.is_empty(), "these inputs panic: {failed:#?}");
}

#[test]
fn fixed_crashes_stay_fixed() {
    let (_, failed) = replay("regressions");
    assert!(
        failed.is_empty(),
        "these former crashes panic again: {failed:#?}"
    );
}
