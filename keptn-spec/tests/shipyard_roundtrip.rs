//! Round trips: a shipyard written with `to_yaml_string` reads back equal (parse → serialize →
//! parse is the identity), for the canonical model, the 0.1 model and converted 0.1 shipyards.

use keptn_spec::shipyard::{
    ApprovalStrategyV01, Selector, Sequence, SequenceEvent, SequenceName, Shipyard, ShipyardV01,
    Stage, StageV01, Task, TaskName, Trigger,
};
use keptn_spec::{GoDuration, ParseOptions, StageName, from_yaml_str, to_yaml_string};
use proptest::prelude::*;
use serde_json::Value;

fn stage_name() -> impl Strategy<Value = StageName> {
    "[a-z][a-z0-9-]{0,10}[a-z0-9]".prop_map(|s| StageName::new(s).expect("valid by construction"))
}

fn sequence_name() -> impl Strategy<Value = SequenceName> {
    "[a-zA-Z0-9_-]{1,12}".prop_map(|s| SequenceName::new(s).expect("valid by construction"))
}

/// Text values, including YAML 1.1 words and strings that look like numbers.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,20}",
        proptest::sample::select(
            &[
                "off", "on", "yes", "no", "true", "1", "1.5", "~", "null", "", "10m", "#x", "- a",
                "a: b", "'q'", "\"dq\"", "ümlaut"
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

fn property() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn task() -> impl Strategy<Value = Task> {
    (
        prop_oneof![
            proptest::sample::select(
                &[
                    "deployment",
                    "test",
                    "evaluation",
                    "approval",
                    "release",
                    "rollback",
                    "get-action",
                    "action",
                    "my-task"
                ][..]
            )
            .prop_map(str::to_owned),
            "[a-z][a-z_-]{0,8}",
        ],
        proptest::option::of((0u64..100_000, 0u32..1_000_000_000)),
        proptest::collection::btree_map("[a-zA-Z_]{1,10}", property(), 0..3),
    )
        .prop_map(|(name, delay, properties)| Task {
            name: TaskName::new(name).expect("valid by construction"),
            triggered_after: delay.map(|(s, n)| GoDuration::new(std::time::Duration::new(s, n))),
            properties,
        })
}

fn trigger() -> impl Strategy<Value = Trigger> {
    (
        stage_name(),
        sequence_name(),
        proptest::option::of(proptest::collection::btree_map(
            prop_oneof![Just("result".to_owned()), "[a-z-]{1,8}\\.result"],
            text(),
            0..3,
        )),
    )
        .prop_map(|(stage, sequence, sel)| Trigger {
            event: SequenceEvent { stage, sequence },
            selector: sel.map(|matches| Selector { matches }),
        })
}

fn shipyard() -> impl Strategy<Value = Shipyard> {
    let sequence = (
        sequence_name(),
        proptest::collection::vec(trigger(), 0..3),
        proptest::collection::vec(task(), 0..5),
    )
        .prop_map(|(name, triggered_on, tasks)| {
            let mut s = Sequence::new(name, tasks);
            s.triggered_on = triggered_on;
            s
        });
    let stage =
        (stage_name(), proptest::collection::vec(sequence, 0..4)).prop_map(|(name, sequences)| {
            let mut st = Stage::new(name);
            st.sequences = sequences;
            st
        });
    (text(), proptest::collection::vec(stage, 0..4)).prop_map(|(name, stages)| {
        let mut s = Shipyard::new(&name);
        s.spec.stages = stages;
        s
    })
}

fn shipyard_v01() -> impl Strategy<Value = ShipyardV01> {
    let opt = || proptest::option::of(text());
    let stage = (
        stage_name(),
        opt(),
        opt(),
        opt(),
        proptest::option::of(
            (opt(), opt()).prop_map(|(pass, warning)| ApprovalStrategyV01 { pass, warning }),
        ),
    )
        .prop_map(
            |(
                name,
                deployment_strategy,
                test_strategy,
                remediation_strategy,
                approval_strategy,
            )| StageV01 {
                name,
                deployment_strategy,
                test_strategy,
                remediation_strategy,
                approval_strategy,
            },
        );
    proptest::collection::vec(stage, 0..5).prop_map(|stages| ShipyardV01 { stages })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Canonical shipyards survive serialize → parse unchanged.
    #[test]
    fn canonical_round_trips(s in shipyard()) {
        let yaml = to_yaml_string(&s).unwrap();
        let back: Shipyard = from_yaml_str(&yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(back, s, "{}", yaml);
    }

    /// 0.1 shipyards survive serialize → parse unchanged, and so do their conversions.
    #[test]
    fn v01_and_its_conversion_round_trip(s in shipyard_v01()) {
        let yaml = to_yaml_string(&s).unwrap();
        let back: ShipyardV01 = from_yaml_str(&yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(&back, &s, "{}", yaml);
        let canonical = s.to_canonical();
        let yaml = to_yaml_string(&canonical).unwrap();
        let back: Shipyard = from_yaml_str(&yaml).map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(back, canonical, "{}", yaml);
    }

    /// A converted 0.1 shipyard without duplicate stages is always valid.
    #[test]
    fn conversions_of_distinct_stages_are_valid(s in shipyard_v01()) {
        let mut names: Vec<&str> = s.stages.iter().map(|st| st.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        prop_assume!(names.len() == s.stages.len() && !s.stages.is_empty());
        let v = s.to_canonical().validate();
        prop_assert!(v.is_valid(), "{:?}", v.errors);
    }
}

/// Our own fixtures round-trip through `Shipyard::parse` and back.
#[test]
fn fixtures_round_trip() {
    for name in ["shipyard-v02.yaml", "shipyard-v01.yaml"] {
        let path = format!("{}/tests/fixtures/valid/{name}", env!("CARGO_MANIFEST_DIR"));
        let src = std::fs::read_to_string(&path).unwrap();
        let parsed = Shipyard::parse(&src, &ParseOptions::new().file(name)).unwrap();
        assert!(parsed.warnings.is_empty(), "{name}: {:?}", parsed.warnings);
        let yaml = to_yaml_string(&parsed.value).unwrap();
        let again = Shipyard::parse(&yaml, &ParseOptions::new().strict()).unwrap();
        assert_eq!(again.value, parsed.value, "{name}");
        assert!(again.warnings.is_empty(), "{name}: {:?}", again.warnings);
    }
}
