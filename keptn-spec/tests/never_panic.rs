//! No parser panics, whatever the input: arbitrary text, and arbitrary YAML built from the keys
//! and values Keptn files use (so the generated documents get deep into every model).

use keptn_spec::document::Document;
use keptn_spec::event::KeptnEvent;
use keptn_spec::remediation::RemediationFile;
use keptn_spec::shipyard::{Shipyard, ShipyardFormat};
use keptn_spec::sli::SliConfig;
use keptn_spec::slo::Slo;
use keptn_spec::webhook::WebhookConfig;
use keptn_spec::{ParseOptions, from_yaml_str};
use proptest::prelude::*;
use serde_json::Value;

/// Runs `src` through every parser in tolerant and strict mode.
fn parse_everything(src: &str) {
    for options in [
        ParseOptions::new().file("f.yaml"),
        ParseOptions::new().strict(),
    ] {
        let _ = Document::parse(src, &options);
        let _ = Shipyard::parse(src, &options);
        let _ = options.parse::<Slo>(src);
        let _ = options.parse::<SliConfig>(src);
        let _ = options.parse::<RemediationFile>(src);
        let _ = options.parse::<WebhookConfig>(src);
    }
    let _ = Document::detect(src);
    let _ = ShipyardFormat::detect(src);
    let _ = Slo::parse(src, &ParseOptions::new());
    let _ = from_yaml_str::<Value>(src);
    let _ = KeptnEvent::from_json_str(src);
    if let Ok(slo) = Slo::from_yaml_str(src) {
        let _ = slo.validate();
    }
}

const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "spec",
    "stages",
    "sequences",
    "tasks",
    "triggeredOn",
    "triggers",
    "event",
    "selector",
    "match",
    "result",
    "evaluation.result",
    "properties",
    "deploymentstrategy",
    "teststrategy",
    "pass",
    "warning",
    "timeframe",
    "triggeredAfter",
    "deployment_strategy",
    "test_strategy",
    "remediation_strategy",
    "approval_strategy",
    "spec_version",
    "indicators",
    "objectives",
    "sli",
    "criteria",
    "weight",
    "key_sli",
    "displayName",
    "total_score",
    "comparison",
    "compare_with",
    "aggregate_function",
    "number_of_comparison_results",
    "include_result_with_score",
    "filter",
    "remediations",
    "actions",
    "action",
    "value",
    "problemType",
    "actionsOnOpen",
    "webhooks",
    "requests",
    "type",
    "specversion",
    "id",
    "source",
    "data",
    "shkeptncontext",
    "custom-queries",
    "project",
    "stage",
    "service",
];

const SCALARS: &[&str] = &[
    "",
    "dev",
    "staging",
    "Dev",
    "-x",
    "delivery",
    "dev.delivery.finished",
    "a.b.c.d",
    "x.delivery.triggered",
    "deployment",
    "test",
    "evaluation",
    "approval",
    "release",
    "rollback",
    "get-action",
    "custom task",
    "direct",
    "blue_green_service",
    "user_managed",
    "automatic",
    "manual",
    "10m",
    "1h30m",
    "-5m",
    "10",
    "fail",
    "failed",
    "pass",
    "off",
    "on",
    "yes",
    "~",
    "null",
    "<=+10%",
    "<600",
    ">=-80%",
    "=",
    "%",
    "90%",
    "spec.keptn.sh/0.2.2",
    "spec.keptn.sh/0.1.4",
    "spec.keptn.sh/0.1.0",
    "webhookconfig.keptn.sh/v1beta1",
    "Shipyard",
    "Remediation",
    "WebhookConfig",
    "ConfigMap",
    "1.0",
    "avg",
    "p95",
    "single_result",
    "sh.keptn.event.dev.delivery.triggered",
    "sh.keptn.event.test.finished",
    "EnablePromotion:off",
    "{{.data.project}}",
    "$PROJECT",
    "🚀",
    "\u{0}",
];

fn yaml_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        proptest::sample::select(SCALARS).prop_map(|s| Value::String(s.to_owned())),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        (-1e9f64..1e9).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Arbitrary text never panics any parser.
    #[test]
    fn arbitrary_text_never_panics(src in ".{0,400}") {
        parse_everything(&src);
    }

    /// Arbitrary text made of YAML punctuation and Keptn words never panics any parser.
    #[test]
    fn yaml_like_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(&[":", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",",
                    "\"", "'", "&a ", "*a", "? ", "|", ">", "#", "---\n", "!!str ", "<<: "][..])
                    .prop_map(str::to_owned),
                proptest::sample::select(KEYS).prop_map(str::to_owned),
                proptest::sample::select(SCALARS).prop_map(str::to_owned),
            ],
            0..80,
        )
    ) {
        parse_everything(&parts.concat());
    }

    /// Arbitrary YAML documents shaped like Keptn files never panic any parser, as YAML or JSON.
    #[test]
    fn arbitrary_yaml_never_panics(v in yaml_value()) {
        if let Ok(yaml) = keptn_spec::to_yaml_string(&v) {
            parse_everything(&yaml);
        }
        parse_everything(&v.to_string());
    }
}

/// Deep nesting and alias bombs are rejected, not followed into a crash.
#[test]
fn hostile_documents_are_rejected_without_panicking() {
    let deep = format!("{}1{}", "[".repeat(3_000), "]".repeat(3_000));
    parse_everything(&deep);
    let deep_map = (0..500)
        .map(|i| format!("{}k:\n", "  ".repeat(i)))
        .collect::<String>();
    parse_everything(&deep_map);
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n\
                e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e]\n\
                stages: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    parse_everything(bomb);
    let err = from_yaml_str::<Value>(bomb).unwrap_err();
    assert!(err.to_string().contains("alias"), "{err}");
}
