//! The `slo_evaluate` contract, through the library function the binary calls.

use keptn_examples::slo_cli::run;

const F: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/slo");

fn cli(args: &[&str]) -> keptn_examples::slo_cli::Output {
    let mut all = vec!["slo_evaluate".to_owned()];
    all.extend(args.iter().map(|a| a.replace("$F", F)));
    run(all, false)
}

/// Pass → exit 0, json by default when stdout is not a terminal, with Keptn's fields.
#[test]
fn pass_exits_0_with_json_by_default() {
    let out = cli(&[
        "--slo",
        "$F/slo.yaml",
        "--sli",
        "$F/sli-0.11.1.json",
        "--previous",
        "$F/previous.json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["result"], "pass");
    assert_eq!(v["evaluation"]["result"], "pass");
    assert_eq!(v["evaluation"]["score"], 100);
    assert_eq!(
        v["evaluation"]["comparedEvents"][0],
        "3b5c5a87-6f43-4a0e-9d2a-1f0c6a4f8e21"
    );
    assert_eq!(
        v["evaluation"]["indicatorResults"][0]["value"]["comparedValue"],
        400
    );
    assert!(out.stderr.is_empty());
}

/// Table is the default on a terminal.
#[test]
fn table_is_the_default_on_a_terminal() {
    let args = [
        "slo_evaluate".to_owned(),
        "--slo".into(),
        format!("{F}/slo.yaml"),
        "--sli".into(),
        format!("{F}/sli-0.11.1.json"),
    ];
    let out = run(args, true);
    assert!(out.stdout.starts_with("result: pass"), "{}", out.stdout);
}

/// Fail → exit 1; the table explains baseline, targets, margins and the passing value.
#[test]
fn fail_exits_1_with_table_explanation() {
    let out = cli(&[
        "--slo",
        "$F/slo.yaml",
        "--sli",
        "$F/sli-0.11.2.json",
        "--previous",
        "$F/previous.json",
        "--format",
        "table",
    ]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stdout, @r"
    result: fail  score: 0  status: succeeded
    message: Evaluation failed since the calculated score of 0 is below the warning value of 75
    thresholds: pass >= 90%  warning >= 75%
    compared with: 3b5c5a87-6f43-4a0e-9d2a-1f0c6a4f8e21

    response_time_p95  [fail]  score 0/1
      value     1412.3
      baseline  400 (1 previous value)
      pass      <=+10%  target 440  margin -972.3  violated
      pass      <600    target 600  margin -812.3  violated
      warning   <=800   target 800  margin -612.3  violated
      would pass with a value <= 440
    ");
}

/// Warning → exit 0, or 1 with `--fail-on-warning`; JUnit output for CI systems.
#[test]
fn warning_exits_0_or_1_with_fail_on_warning_and_junit() {
    let out = cli(&[
        "--slo",
        "$F/slo-two-objectives.yaml",
        "--sli",
        "$F/sli-warning.json",
        "--format",
        "junit",
    ]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(out.stdout, @r#"
    <?xml version="1.0" encoding="UTF-8"?>
    <testsuites name="keptn quality gate" tests="3" failures="0">
      <testsuite name="slo" tests="3" failures="0" skipped="0">
        <testcase classname="slo" name="Response time P95">
          <system-out>warning: value 620; pass &lt;=+10% target 0 met; pass &lt;600 target 600 violated; warning &lt;=800 target 800 met</system-out>
        </testcase>
        <testcase classname="slo" name="Error rate"/>
        <testcase classname="slo" name="total score">
          <system-out>result warning score 75 Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 75</system-out>
        </testcase>
      </testsuite>
    </testsuites>
    "#);
    let out = cli(&[
        "--slo",
        "$F/slo-two-objectives.yaml",
        "--sli",
        "$F/sli-warning.json",
        "--fail-on-warning",
    ]);
    assert_eq!(out.code, 1);
}

/// `--slo` absent means "no SLO file": pass without evaluation.
#[test]
fn absent_slo_means_no_slo_file() {
    let out = cli(&["--sli", "$F/sli-0.11.1.json"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("no evaluation performed by lighthouse because no SLO file configured"),
        "{}",
        out.stdout
    );
}

/// Both SLI shapes are accepted: an array of values and a get-sli.finished object.
#[test]
fn both_sli_shapes_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let errored = dir.path().join("errored.json");
    std::fs::write(
        &errored,
        r#"{"status":"errored","result":"fail","message":"token expired","indicatorValues":[]}"#,
    )
    .unwrap();
    let out = cli(&["--slo", "$F/slo.yaml", "--sli", errored.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["status"], "errored");
    assert_eq!(
        v["message"],
        "evaluation performed by lighthouse received an unexpected error: token expired"
    );
}

/// Invalid input → exit 2 with a located message on stderr.
#[test]
fn invalid_input_exits_2_with_location() {
    let out = cli(&[
        "--slo",
        "$F/invalid-slo.yaml",
        "--sli",
        "$F/sli-0.11.1.json",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    let stderr = out.stderr.replace(F, "$F");
    insta::assert_snapshot!(stderr, @"error: $F/invalid-slo.yaml:3:13: objectives[0].weight: invalid i32, found `heavy`");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("sli.json");
    std::fs::write(&bad, "[\n  {\"metric\": \"a\", \"value\": \"fast\"}\n]").unwrap();
    let out = cli(&["--sli", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    let stderr = out.stderr.replace(bad.to_str().unwrap(), "SLI.json");
    insta::assert_snapshot!(stderr, @r#"error: SLI.json:2:33: invalid type: string "fast", expected f64"#);

    let out = cli(&["--sli", "$F/does-not-exist.json"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot read"), "{}", out.stderr);
}

/// Usage errors are clap's: exit 2 on stderr.
#[test]
fn usage_errors_exit_2() {
    let out = cli(&["--slo", "$F/slo.yaml"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--sli"), "{}", out.stderr);
    let out = cli(&["--sli", "x", "--format", "xml"]);
    assert_eq!(out.code, 2);
}

/// A history written by Keptn, with `"value": null` results and `null` lists, is read; the
/// `null` result is skipped for the baseline.
#[test]
fn keptn_written_history_with_null_values_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let previous = dir.path().join("previous.json");
    std::fs::write(
        &previous,
        r#"[{"id":"p1","status":"succeeded","result":"pass","message":"","evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":100,"sloFileContent":"","indicatorResults":[{"score":0,"value":null,"displayName":"","passTargets":[],"warningTargets":[],"keySli":false,"status":"info"},{"score":1,"value":{"metric":"response_time_p95","value":400,"comparedValue":0,"success":true},"displayName":"","passTargets":null,"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":null,"gitCommit":""}}]"#,
    )
    .unwrap();
    let out = cli(&[
        "--slo",
        "$F/slo.yaml",
        "--sli",
        "$F/sli-0.11.1.json",
        "--previous",
        previous.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.stderr, "");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["evaluation"]["comparedEvents"], serde_json::json!(["p1"]));
    assert_eq!(
        v["evaluation"]["indicatorResults"][0]["value"]["comparedValue"],
        400
    );
}

/// Beyond Keptn: with `no_data: inconclusive`, a failed SLI exits 3; the JSON says `fail` with
/// a message and the `keptn-rs` extension. With data, the same SLO passes (exit 0).
#[test]
fn inconclusive_exits_3() {
    let out = cli(&[
        "--slo",
        "$F/slo-inconclusive.yaml",
        "--sli",
        "$F/sli-no-data.json",
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["result"], "fail");
    assert_eq!(
        v["message"],
        "evaluation inconclusive: no data for response_time_p95"
    );
    assert_eq!(v["keptn-rs"], serde_json::json!({"inconclusive": true}));
    let out = cli(&[
        "--slo",
        "$F/slo-inconclusive.yaml",
        "--sli",
        "$F/sli-0.11.1.json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    // Keptn's rule without the key: the same data fails the build
    let out = cli(&["--slo", "$F/slo.yaml", "--sli", "$F/sli-no-data.json"]);
    assert_eq!(out.code, 1, "{out:?}");
}

/// Issue 16: `--format table` on a criterion longer than 65,535 characters exited 101 (panic).
#[test]
fn table_with_a_huge_criterion_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let slo = dir.path().join("slo.yaml");
    std::fs::write(
        &slo,
        format!(
            "objectives:\n  - sli: response_time_p95\n    pass: [{{criteria: [\"<={}600\"]}}]\ntotal_score: {{pass: \"90%\"}}\n",
            "0".repeat(70_000)
        ),
    )
    .unwrap();
    let out = cli(&[
        "--slo",
        slo.to_str().unwrap(),
        "--sli",
        "$F/sli-0.11.1.json",
        "--format",
        "table",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("target 600"));
}

/// Replay of the recorded tour history (Keptn's datastore export, newest first): 0.11.2 failed
/// under the tour's SLO; it also fails under a stricter SLO (which additionally blocks 0.11.1)
/// and passes under a looser one.
#[test]
fn replay_the_tour_history() {
    let out = cli(&[
        "--replay",
        "$F/tour-history.json",
        "--slo",
        "$F/slo.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["total"], 4);
    assert_eq!(v["changed"], 0);
    let evaluations = v["evaluations"].as_array().unwrap();
    assert_eq!(evaluations[0]["id"], "tour-0.11.0");
    assert_eq!(evaluations[2]["id"], "tour-0.11.2");
    assert_eq!(evaluations[2]["before"], "fail");

    let out = cli(&[
        "--replay",
        "$F/tour-history.json",
        "--slo",
        "$F/slo-stricter.yaml",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let after: Vec<&str> = v["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["after"].as_str().unwrap())
        .collect();
    assert_eq!(after, ["pass", "fail", "fail", "pass"], "{}", out.stdout);
    assert_eq!(v["changed"], 1);
    assert_eq!(v["newlyBlocked"], 1);

    let out = cli(&[
        "--replay",
        "$F/tour-history.json",
        "--slo",
        "$F/slo-looser.yaml",
        "--format",
        "table",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with(
            "1 of 4 verdicts change; the new SLO would have blocked 0 that were not blocked\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("tour-0.11.2  2026-11-26T12:01:00+00:00  fail -> pass"),
        "{}",
        out.stdout
    );
}

/// `--replay` needs `--slo`, excludes `--sli`, and locates bad history input.
#[test]
fn replay_usage_and_bad_input() {
    assert_eq!(cli(&["--replay", "$F/tour-history.json"]).code, 2);
    assert_eq!(
        cli(&[
            "--replay",
            "$F/tour-history.json",
            "--slo",
            "$F/slo.yaml",
            "--sli",
            "$F/sli-0.11.1.json"
        ])
        .code,
        2
    );
    let out = cli(&["--replay", "$F/sli-0.11.1.json", "--slo", "$F/slo.yaml"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("sli-0.11.1.json:"), "{}", out.stderr);
}
