//! The main error and warning messages, locked as snapshots: their text is part of the API.

use keptn_spec::ParseOptions;
use keptn_spec::document::Document;
use keptn_spec::shipyard::Shipyard;

fn shipyard_err(src: &str) -> String {
    Shipyard::parse(src, &ParseOptions::new().file("shipyard.yaml"))
        .unwrap_err()
        .to_string()
}

fn document_err(name: &str, src: &str) -> String {
    Document::parse(src, &ParseOptions::new().file(name))
        .unwrap_err()
        .to_string()
}

fn warnings(src: &str) -> String {
    let parsed = Document::parse(src, &ParseOptions::new().file("shipyard.yaml")).unwrap();
    parsed
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

const HEAD: &str =
    "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n";

/// An invalid entity name is located at the value, with the rule it breaks.
#[test]
fn invalid_stage_name() {
    insta::assert_snapshot!(shipyard_err(&format!("{HEAD}    - name: Dev\n")), @"shipyard.yaml:7:13: spec.stages[0].name: `Dev` is not a valid Keptn stage name: it must start with a lowercase letter");
}

/// A wrong type says what was expected and what was found.
#[test]
fn wrong_type() {
    let src = format!(
        "{HEAD}    - name: dev\n      sequences:\n        - name: delivery\n          tasks: oops\n"
    );
    insta::assert_snapshot!(shipyard_err(&src), @"shipyard.yaml:10:18: spec.stages[0].sequences[0].tasks: expected sequence start, found `oops`");
}

/// Only `.finished` events can trigger sequences.
#[test]
fn trigger_on_a_non_finished_event() {
    let src = format!(
        "{HEAD}    - name: dev\n      sequences:\n        - name: delivery\n          triggeredOn:\n            - event: dev.delivery.triggered\n          tasks: []\n"
    );
    insta::assert_snapshot!(shipyard_err(&src), @"shipyard.yaml:11:22: spec.stages[0].sequences[0].triggeredOn[0].event: `dev.delivery.triggered` is not a sequence event: only `finished` events trigger sequences, not `triggered` (expected `<stage>.<sequence>.finished`)");
}

/// `triggeredAfter` must be a Go duration.
#[test]
fn bad_duration() {
    let src = format!(
        "{HEAD}    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: evaluation\n              triggeredAfter: 10 minutes\n"
    );
    insta::assert_snapshot!(shipyard_err(&src), @"shipyard.yaml:12:31: spec.stages[0].sequences[0].tasks[0].triggeredAfter: `10 minutes` is not a duration: unknown unit (expected a Go duration such as `10m`, `1h30m` or `90s`)");
}

/// Shipyards older than 0.2 with an apiVersion are rejected with the way out.
#[test]
fn old_api_version() {
    let src =
        "apiVersion: spec.keptn.sh/0.1.0\nkind: Shipyard\nspec:\n  stages:\n    - name: dev\n";
    insta::assert_snapshot!(shipyard_err(src), @"shipyard.yaml:1:13: apiVersion: unsupported apiVersion `spec.keptn.sh/0.1.0` (expected `spec.keptn.sh/` with a version of at least 0.2, such as `spec.keptn.sh/0.2.2`; convert older shipyards with `keptn upgrade project --shipyard` or use the 0.1 stage list without apiVersion)");
}

/// The list form of `approval_strategy` (0.1 spec text) never worked in Keptn; say so.
#[test]
fn approval_strategy_as_list() {
    let src = "stages:\n  - name: dev\n    approval_strategy:\n      - pass: automatic\n";
    insta::assert_snapshot!(shipyard_err(src), @"shipyard.yaml:4:7: stages[0].approval_strategy: expected mapping start, found a sequence (write `approval_strategy: {pass: …, warning: …}`; Keptn never accepted the list form of the 0.1 spec text)");
}

/// Every broken rule is listed, one per line, each located, with suggestions.
#[test]
fn several_rule_violations() {
    let src = format!(
        "{HEAD}    - name: qa\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n    - name: qa\n      sequences:\n        - name: delivery\n          triggeredOn:\n            - event: qa.delivry.finished\n          tasks:\n            - name: approval\n              properties:\n                pass: automatik\n                warning: manual\n"
    );
    insta::assert_snapshot!(shipyard_err(&src), @r"
    shipyard.yaml:12:13: spec.stages[1].name: duplicate stage `qa` (already defined at spec.stages[0])
    shipyard.yaml:16:22: spec.stages[1].sequences[0].triggeredOn[0].event: `qa.delivry.finished` names no existing sequence (no sequence `delivry` in stage `qa`) (did you mean `qa.delivery.finished`?)
    shipyard.yaml:20:23: spec.stages[1].sequences[0].tasks[0].properties.pass: unknown approval mode `automatik` (expected `automatic` or `manual`) (did you mean `automatic`?)
    ");
}

/// 0.1 shipyards: no stages, duplicate stages.
#[test]
fn v01_rules() {
    insta::assert_snapshot!(shipyard_err("stages: []\n"), @"shipyard.yaml:1:9: stages: a shipyard needs at least one stage");
    insta::assert_snapshot!(shipyard_err("stages:\n  - name: dev\n  - name: dev\n"), @"shipyard.yaml:3:11: stages[1].name: duplicate stage `dev` (already defined at stages[0])");
}

/// YAML syntax errors are located.
#[test]
fn syntax_error() {
    insta::assert_snapshot!(shipyard_err("stages:\n  - name: \"dev\n"), @"shipyard.yaml:2:11: stages[0].name: unclosed quote");
}

/// Unknown keys are warnings with a "did you mean".
#[test]
fn unknown_key_warning() {
    insta::assert_snapshot!(warnings(&format!("{HEAD}    - name: dev\n      sequnces: []\n")), @"shipyard.yaml:8:7: spec.stages[0].sequnces: unknown key `sequnces` (did you mean `sequences`?)");
}

/// Accepted-but-suspicious values are warnings: misspelt reserved tasks and properties,
/// selectors that never match.
#[test]
fn suspicious_values_warn() {
    let src = format!(
        "{HEAD}    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deploymnet\n            - name: deployment\n              properties:\n                deploymentStrategy: blue_green_service\n        - name: rollback\n          triggeredOn:\n            - event: dev.delivery.finished\n              selector:\n                match:\n                  result: failed\n          tasks:\n            - name: rollback\n"
    );
    insta::assert_snapshot!(warnings(&src), @r"
    shipyard.yaml:11:21: spec.stages[0].sequences[0].tasks[0].name: `deploymnet` is not a reserved task; it runs as a custom task (did you mean `deployment`?)
    shipyard.yaml:14:37: spec.stages[0].sequences[0].tasks[1].properties.deploymentStrategy: `deployment` tasks do not read the property `deploymentStrategy`; it is passed on unchanged (did you mean `deploymentstrategy`?)
    shipyard.yaml:20:27: spec.stages[0].sequences[1].triggeredOn[0].selector.match.result: `failed` never matches: finished sequences report `fail` (did you mean `fail`?)
    ");
    insta::assert_snapshot!(warnings("stages:\n  - name: dev\n    deployment_strategy: bluegreen\n    remediation_strategy: automatic\n"), @r"
    shipyard.yaml:3:26: stages[0].deployment_strategy: unknown deployment strategy `bluegreen`; Keptn deployed it `direct`
    shipyard.yaml:4:27: stages[0].remediation_strategy: remediation_strategy `automatic` does not enable remediation (only `automated` does) (did you mean `automated`?)
    ");
}

/// Other kinds go through the same layer: located type errors and located rule violations.
#[test]
fn other_kinds_are_located_too() {
    insta::assert_snapshot!(document_err("slo.yaml", "objectives:\n  - sli: rt\n    weight: two\n"), @"slo.yaml:3:13: objectives[0].weight: invalid i32, found `two`");
    insta::assert_snapshot!(document_err("slo.yaml", "objectives:\n  - sli: rt\n    pass:\n      - criteria:\n          - \"<=600ms\"\n"), @"slo.yaml:5:13: objectives[0].pass[0].criteria[0]: invalid criterion `<=600ms`: expected a number after the operator and optional sign, such as `<600`, `<=+10%` or `>=-5`");
    insta::assert_snapshot!(document_err("x.yaml", "title: x\n"), @"x.yaml:1:1: cannot tell what kind of Keptn file this is (expected a shipyard, SLO, SLI config, remediation, webhook config or event)");
}

/// Strict mode lists every unknown key as an error.
#[test]
fn strict_mode_errors() {
    let src = "registry: sockshop\nstages:\n  - name: dev\n    test_stratgy: functional\n";
    let err =
        Shipyard::parse(src, &ParseOptions::new().file("shipyard.yaml").strict()).unwrap_err();
    insta::assert_snapshot!(err, @r"
    shipyard.yaml:1:1: registry: unknown key `registry` (known keys here: `stages`)
    shipyard.yaml:4:5: stages[0].test_stratgy: unknown key `test_stratgy` (did you mean `test_strategy`?)
    ");
}
