//! The published Keptn example files (SLO, SLI, remediation) parse. They live outside this
//! crate: set `KEPTN_SHARED_DIR` to the directory holding `fixtures/keptn-examples`
//! (`scripts/test-all.sh` does); without it these tests are skipped with a message.

use std::path::PathBuf;

use keptn_spec::remediation::RemediationFile;
use keptn_spec::sli::SliConfig;
use keptn_spec::{ParseOptions, Slo};

/// The example files whose name contains `needle`, or `None` (with a message) when the shared
/// fixtures are not available.
fn example_files(test: &str, needle: &str) -> Option<Vec<(String, String)>> {
    let Some(shared) = std::env::var_os("KEPTN_SHARED_DIR") else {
        eprintln!("skipping {test}: set KEPTN_SHARED_DIR to the shared directory");
        return None;
    };
    let dir = PathBuf::from(shared).join("fixtures/keptn-examples");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("KEPTN_SHARED_DIR is set but {}: {e}", dir.display()));
    let mut files: Vec<(String, String)> = entries
        .map(|e| e.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            name.contains(needle)
                .then(|| (name, std::fs::read_to_string(&path).unwrap()))
        })
        .collect();
    files.sort();
    Some(files)
}

/// Every SLO file of keptn/examples parses strictly and round-trips.
#[test]
fn keptn_example_slos_parse() {
    let Some(files) = example_files("keptn_example_slos_parse", "slo") else {
        return;
    };
    let mut n = 0;
    for (name, src) in files.iter().filter(|(name, _)| name.ends_with(".yaml")) {
        let slo = Slo::parse(src, &ParseOptions::new())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .value;
        let text = keptn_spec::to_yaml_string(&slo).unwrap();
        assert_eq!(Slo::from_yaml_str(&text).unwrap(), slo, "{name}");
        n += 1;
    }
    assert!(n >= 20, "only {n} SLO files found");
}

/// Every SLI file of keptn/examples parses (the Prometheus ConfigMap form is not an sli.yaml).
#[test]
fn keptn_example_sli_files_parse() {
    let Some(files) = example_files("keptn_example_sli_files_parse", "sli") else {
        return;
    };
    let mut n = 0;
    for (name, src) in files
        .iter()
        .filter(|(name, _)| !name.contains("prometheus-sli-config"))
    {
        let c = SliConfig::from_yaml_str(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!c.indicators.is_empty(), "{name}");
        assert_eq!(c.spec_version, "1.0", "{name}");
        n += 1;
    }
    assert!(
        n >= 10,
        "expected the SLI files of keptn/examples, found {n}"
    );
}

/// Every remediation file of keptn/examples parses; the tutorial's feature-toggle files select
/// `EnablePromotion:off` for "Failure rate increase".
#[test]
fn keptn_example_remediation_files_parse() {
    let Some(files) = example_files("keptn_example_remediation_files_parse", "remediation") else {
        return;
    };
    let mut seen = 0;
    for (name, src) in &files {
        let file = RemediationFile::from_yaml_str(src).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!file.actions().is_empty(), "{name}");
        seen += 1;
        let title = "Failure rate increase";
        if name.starts_with("onboarding-carts_remediation_feature_toggle@0.6.0") {
            let sel = file.select(title, None).unwrap();
            let value = sel.actions[0].value.as_ref().unwrap();
            assert_eq!(value.to_string(), "EnablePromotion:off");
        }
        if name.starts_with("onboarding-carts_remediation_feature_toggle@0.10.0") {
            let sel = file.select(title, None).unwrap();
            let value = sel.actions[0].value.as_ref().unwrap();
            assert_eq!(value.get("EnablePromotion"), Some("off"));
        }
    }
    assert!(seen >= 7, "only {seen} remediation fixtures found");
}
