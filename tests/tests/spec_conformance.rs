//! Conformance: every real Keptn file of `../shared/fixtures/keptn-examples/` (published Keptn
//! examples, not part of this repository) is detected and accepted by `keptn_spec::document`.
//! Skips, saying so on stderr, when that folder is not beside the checkout.

use std::path::PathBuf;

use keptn_spec::ParseOptions;
use keptn_spec::document::Document;

fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("KEPTN_SHARED_DIR") {
        Some(shared) => PathBuf::from(shared).join("fixtures/keptn-examples"),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/keptn-examples")
        }
    };
    dir.is_dir().then_some(dir)
}

/// Every real Keptn file parses and validates as the kind it is.
#[test]
fn every_real_keptn_file_is_accepted() {
    let Some(dir) = fixtures_dir() else {
        eprintln!(
            "SKIPPED every_real_keptn_file_is_accepted: ../shared/fixtures/keptn-examples not found \
             (set KEPTN_SHARED_DIR to the shared folder)"
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 64,
        "expected the 64 fixtures, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let src = std::fs::read_to_string(f).expect("read fixture");
        match Document::parse(&src, &ParseOptions::new().file(name.clone())) {
            Ok(doc) => {
                // the detected kind matches the file name's kind
                let kind = doc.value.kind().to_string().to_lowercase();
                let expected = if name.contains("shipyard") {
                    "shipyard"
                } else if name.contains("remediation") {
                    "remediation"
                } else if name.contains("sli") {
                    "sli config"
                } else {
                    "slo"
                };
                if !kind.starts_with(expected) {
                    failures.push(format!("{name}: detected as {kind}, expected {expected}"));
                }
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
