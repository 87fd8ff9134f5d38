//! Property tests: round trips of the envelope, the event types and the payloads, and
//! "never panics" for parsing arbitrary input.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use keptn_spec::SliValue;
use keptn_spec::event::*;
use keptn_spec::names::{ProjectName, ServiceName, StageName};

fn name() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,10}[a-z0-9])?"
}

fn project() -> impl Strategy<Value = ProjectName> {
    name().prop_map(|n| ProjectName::new(n).unwrap())
}

fn stage() -> impl Strategy<Value = StageName> {
    name().prop_map(|n| StageName::new(n).unwrap())
}

fn service() -> impl Strategy<Value = ServiceName> {
    name().prop_map(|n| ServiceName::new(n).unwrap())
}

/// Times at millisecond precision (Keptn writes milliseconds).
fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800_000).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
}

/// Floats that survive a JSON round trip exactly.
fn exact_f64() -> impl Strategy<Value = f64> {
    (-4_000_000i32..4_000_000).prop_map(|n| f64::from(n) / 4.0)
}

/// Arbitrary JSON (floats limited to exactly representable ones).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        exact_f64().prop_map(Value::from),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-zA-Z_-]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn non_null_json() -> impl Strategy<Value = Value> {
    json_value().prop_filter("not null", |v| !v.is_null())
}

/// Unknown fields: keys that no Keptn type knows (`x-…`).
fn extra() -> impl Strategy<Value = BTreeMap<String, Value>> {
    btree_map("x-[a-z]{1,6}", json_value(), 0..3)
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map("[a-zA-Z]{1,8}", ".{0,8}", 0..3)
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Succeeded),
        Just(Status::Errored),
        Just(Status::Aborted),
        Just(Status::Unknown),
    ]
}

fn verdict() -> impl Strategy<Value = Verdict> {
    prop_oneof![
        Just(Verdict::Pass),
        Just(Verdict::Warning),
        Just(Verdict::Fail)
    ]
}

fn event_data() -> impl Strategy<Value = EventData> {
    (
        option::of(project()),
        option::of(stage()),
        option::of(service()),
        labels(),
        option::of(status()),
        option::of(verdict()),
        option::of(".{0,12}"),
    )
        .prop_map(
            |(project, stage, service, labels, status, result, message)| {
                build!(EventData {
                    project,
                    stage,
                    service,
                    labels,
                    status,
                    result,
                    message,
                })
            },
        )
}

fn task() -> impl Strategy<Value = Task> {
    prop_oneof![
        Just(Task::Deployment),
        Just(Task::Test),
        Just(Task::Evaluation),
        Just(Task::Approval),
        Just(Task::Release),
        Just(Task::Rollback),
        Just(Task::Remediation),
        Just(Task::GetAction),
        Just(Task::Action),
        Just(Task::GetSli),
        Just(Task::ConfigureMonitoring),
        Just(Task::ProjectCreate),
        Just(Task::ProjectDelete),
        Just(Task::ServiceCreate),
        Just(Task::ServiceDelete),
        "[a-zA-Z0-9_-]{1,12}".prop_map(|s| s.parse::<Task>().unwrap()),
    ]
}

fn phase() -> impl Strategy<Value = Phase> {
    prop_oneof![
        Just(Phase::Triggered),
        Just(Phase::Started),
        Just(Phase::StatusChanged),
        Just(Phase::Finished),
        Just(Phase::Invalidated),
    ]
}

fn event_type() -> impl Strategy<Value = EventType> {
    prop_oneof![
        (task(), phase())
            .prop_filter("phase exists for task", |(t, p)| t.allows(*p))
            .prop_map(|(task, phase)| EventType::task(task, phase)),
        (
            stage(),
            "[a-zA-Z0-9_-]{1,12}",
            prop_oneof![
                Just(Phase::Triggered),
                Just(Phase::Started),
                Just(Phase::Finished)
            ]
        )
            .prop_filter_map("not a known dotted task", |(stage, seq, phase)| {
                let ty = EventType::sequence(stage, seq, phase).ok()?;
                // `project.create.triggered` etc. are tasks, never sequences.
                matches!(ty.to_string().parse(), Ok(EventType::Sequence { .. })).then_some(ty)
            }),
        Just(EventType::ProblemOpen),
        Just(EventType::Problem),
        proptest::sample::select(Gen1Type::ALL.to_vec()).prop_map(EventType::Gen1),
    ]
}

fn event_id() -> impl Strategy<Value = EventId> {
    ".{1,12}".prop_map(|s| EventId::new(s).unwrap())
}

fn context() -> impl Strategy<Value = KeptnContext> {
    any::<u128>().prop_map(|n| KeptnContext::from_uuid(uuid::Uuid::from_u128(n)))
}

prop_compose! {
    fn keptn_event()(
        specversion in prop_oneof![Just("1.0".to_owned()), Just("0.2".to_owned())],
        id in event_id(),
        source in ".{0,12}",
        ty in event_type(),
        time in option::of(time()),
        datacontenttype in option::of(Just("application/json".to_owned())),
        shkeptncontext in option::of(context()),
        triggeredid in option::of(event_id()),
        shkeptnspecversion in option::of("0\\.2\\.[0-9]"),
        gitcommitid in option::of("[0-9a-f]{7,12}"),
        data in json_value(),
        extra in extra(),
    ) -> KeptnEvent {
        let mut event = KeptnEvent::new(ty, source, KeptnContext::new_random(), &data);
        event.specversion = specversion;
        event.id = id;
        event.time = time;
        event.datacontenttype = datacontenttype;
        event.shkeptncontext = shkeptncontext;
        event.triggeredid = triggeredid;
        event.shkeptnspecversion = shkeptnspecversion;
        event.gitcommitid = gitcommitid;
        event.extra = extra;
        event
    }
}

fn deployment_details() -> impl Strategy<Value = DeploymentDetails> {
    (
        option::of(prop_oneof![
            Just("direct".to_owned()),
            Just("blue_green_service".to_owned()),
            Just("user_managed".to_owned())
        ]),
        vec("http://[a-z.]{1,12}", 0..3),
        vec("https://[a-z.]{1,12}", 0..3),
        vec(
            prop_oneof![Just("canary".to_owned()), Just("primary".to_owned())],
            0..2,
        ),
        option::of("[0-9a-f]{7}"),
        extra(),
    )
        .prop_map(|(strategy, local, public, names, git, extra)| {
            build!(DeploymentDetails {
                deploymentstrategy: strategy,
                deployment_uris_local: local,
                deployment_uris_public: public,
                deployment_names: names,
                git_commit: git,
                extra,
            })
        })
}

fn test_details() -> impl Strategy<Value = TestDetails> {
    (
        option::of("[a-z-]{1,12}"),
        option::of(time()),
        option::of(time()),
        option::of("[0-9a-f]{7}"),
        extra(),
    )
        .prop_map(|(teststrategy, start, end, git_commit, extra)| {
            build!(TestDetails {
                teststrategy,
                start,
                end,
                git_commit,
                extra,
            })
        })
}

fn problem() -> impl Strategy<Value = ProblemDetails> {
    (
        option::of(prop_oneof![
            Just(ProblemState::Open),
            Just(ProblemState::Resolved),
            Just(ProblemState::Closed),
            "[A-Z]{1,8}".prop_map(ProblemState::from),
        ]),
        option::of("[0-9]{1,6}"),
        option::of("-?[0-9]{1,19}_[0-9]{13}V2"),
        option::of(".{0,20}"),
        option::of(non_null_json()),
        option::of("https://[a-z.]{1,12}"),
        option::of(".{0,12}"),
        option::of(non_null_json()),
        option::of("[a-z_]{1,10}:[a-z]{1,8}(, [a-z_]{1,10}:[a-z]{1,8})?"),
        option::of(".{0,12}"),
    )
        .prop_map(
            |(state, id, pid, title, details, url, entity, entities, tags, root_cause)| {
                build!(ProblemDetails {
                    state,
                    problem_id: id,
                    pid,
                    problem_title: title,
                    problem_details: details,
                    problem_url: url,
                    impacted_entity: entity,
                    impacted_entities: entities,
                    tags,
                    root_cause,
                })
            },
        )
}

fn action_details() -> impl Strategy<Value = ActionDetails> {
    (
        ".{0,12}",
        "[a-z-]{0,12}",
        ".{0,12}",
        option::of(non_null_json()),
        option::of("[0-9a-f]{7}"),
        extra(),
    )
        .prop_map(|(name, action, description, value, git_commit, extra)| {
            build!(ActionDetails {
                name,
                action,
                description,
                value,
                git_commit,
                extra,
            })
        })
}

fn sli_value() -> impl Strategy<Value = SliValue> {
    (
        "[a-z_0-9]{1,16}",
        exact_f64(),
        any::<bool>(),
        option::of(".{0,12}"),
    )
        .prop_map(|(metric, value, success, message)| SliValue {
            metric,
            value,
            success,
            message,
        })
}

#[track_caller]
fn assert_round_trip<T>(value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(&back, value, "{json}");
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Envelope: parse → serialize → parse is the identity, unknown attributes included.
    #[test]
    fn envelope_round_trips(event in keptn_event()) {
        let json = event.to_json_string();
        let back = KeptnEvent::from_json_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        prop_assert_eq!(&back, &event);
        prop_assert_eq!(back.to_json_string(), json);
    }

    /// Every event type prints as a string that parses back to it.
    #[test]
    fn event_type_display_parses_back(ty in event_type()) {
        let s = ty.to_string();
        prop_assert_eq!(s.parse::<EventType>().unwrap(), ty);
    }

    /// Any accepted type string prints back exactly; parsing never panics.
    #[test]
    fn accepted_type_strings_print_back(s in "sh\\.keptn\\.(event|events|internal\\.event)\\.[a-zA-Z0-9._-]{0,40}") {
        if let Ok(ty) = s.parse::<EventType>() {
            prop_assert_eq!(ty.to_string(), s);
        }
    }

    /// `from_json_str` never panics on arbitrary text, and whatever it accepts can be mapped,
    /// typed and validated without panicking.
    #[test]
    fn from_json_str_never_panics_on_text(s in "\\PC{0,200}") {
        if let Ok(ev) = KeptnEvent::from_json_str(&s) {
            let _ = ev.to_gen2();
            let _ = ev.validate();
        }
    }

    /// `from_json_str` never panics on arbitrary JSON, including objects shaped like events.
    #[test]
    fn from_json_str_never_panics_on_json(
        value in json_value(),
        ty in prop_oneof![event_type().prop_map(|t| json!(t.to_string())), json_value()],
        data in json_value(),
        context in prop_oneof![context().prop_map(|c| json!(c.to_string())), json_value()],
    ) {
        let _ = KeptnEvent::from_json_str(&value.to_string());
        let shaped = json!({"specversion": "1.0", "id": "1", "source": "s", "type": ty,
                            "shkeptncontext": context, "data": data});
        if let Ok(ev) = KeptnEvent::from_json_str(&shaped.to_string()) {
            let _ = ev.to_gen2();
            let _ = ev.payload();
            let _ = ev.validate();
        }
    }

    /// Typed data of every event type reads and maps without panicking, whatever its shape.
    #[test]
    fn typed_reading_never_panics(ty in event_type(), data in json_value(), gen1 in any::<bool>()) {
        let mut ev = KeptnEvent::new(ty, "s", KeptnContext::new_random(), &data);
        if gen1 {
            ev.specversion = "0.2".into();
        }
        let _ = ev.payload();
        let g2 = ev.to_gen2();
        prop_assert_eq!(g2.to_gen2(), g2.clone(), "to_gen2 is idempotent");
    }

    /// The derived context is deterministic and always a version-4 RFC 4122 UUID.
    #[test]
    fn derived_context_is_deterministic_v4(seed in "\\PC{1,40}") {
        let a = KeptnContext::derive(&seed);
        prop_assert_eq!(a, KeptnContext::derive(&seed));
        prop_assert_eq!(a.as_uuid().get_version_num(), 4);
        prop_assert_eq!(a.as_uuid().get_variant(), uuid::Variant::RFC4122);
    }

    /// Common data round-trips.
    #[test]
    fn event_data_round_trips(d in event_data()) {
        assert_round_trip(&d);
    }

    /// Deployment payloads round-trip.
    #[test]
    fn deployment_data_round_trips(
        common in event_data(),
        values in btree_map("[a-z]{1,8}", json_value(), 0..3),
        dep in option::of(deployment_details()),
        extra in extra(),
    ) {
        let triggered = build!(DeploymentTriggeredData {
            common: common.clone(),
            configuration_change: Some(build!(ConfigurationChange { values, extra: extra.clone() })),
            deployment: dep.clone(),
            extra: extra.clone(),
        });
        assert_round_trip(&triggered);
        assert_round_trip(&build!(DeploymentFinishedData { common, deployment: dep, extra }));
    }

    /// Test, evaluation and release payloads round-trip.
    #[test]
    fn test_evaluation_release_data_round_trip(
        common in event_data(),
        test in option::of(test_details()),
        dep in option::of(deployment_details()),
        window in option::of((option::of(time()), option::of(time()), option::of("[0-9]{1,2}[smh]"), extra())),
        git in option::of("[0-9a-f]{7}"),
        extra in extra(),
    ) {
        assert_round_trip(&build!(TestTriggeredData {
            common: common.clone(), test: test.clone(), deployment: dep.clone(), extra: extra.clone(),
        }));
        assert_round_trip(&build!(TestFinishedData { common: common.clone(), test: test.clone(), extra: extra.clone() }));
        assert_round_trip(&build!(EvaluationTriggeredData {
            common: common.clone(),
            test,
            evaluation: window.map(|(start, end, timeframe, extra)| build!(EvaluationWindow { start, end, timeframe, extra })),
            deployment: dep.clone(),
            extra: extra.clone(),
        }));
        assert_round_trip(&build!(ReleaseTriggeredData { common: common.clone(), deployment: dep, extra: extra.clone() }));
        assert_round_trip(&build!(ReleaseFinishedData {
            common,
            release: git.map(|g| build!(ReleaseDetails { git_commit: Some(g), extra: BTreeMap::new() })),
            extra,
        }));
    }

    /// get-sli payloads round-trip.
    #[test]
    fn get_sli_data_round_trips(
        common in event_data(),
        provider in "[a-z]{0,10}",
        start in option::of(time()),
        end in option::of(time()),
        indicators in vec("[a-z_]{1,12}", 0..4),
        filters in vec(("[a-z_]{1,6}", ".{0,6}"), 0..3),
        deployment in option::of("[a-z]{1,8}"),
        values in vec(sli_value(), 0..4),
        extra in extra(),
    ) {
        assert_round_trip(&build!(GetSliTriggeredData {
            common: common.clone(),
            get_sli: build!(GetSliRequest {
                sli_provider: provider,
                start,
                end,
                indicators,
                custom_filters: filters.into_iter().map(|(key, value)| CustomFilter { key, value }).collect(),
                extra: extra.clone(),
            }),
            deployment,
            extra: extra.clone(),
        }));
        assert_round_trip(&build!(GetSliFinishedData {
            common,
            get_sli: build!(GetSliResult { start, end, indicator_values: values, extra: extra.clone() }),
            extra,
        }));
    }

    /// Problem, remediation, get-action and action payloads round-trip.
    #[test]
    fn remediation_data_round_trips(
        common in event_data(),
        problem in problem(),
        action in action_details(),
        index in 0u32..10,
        approval in option::of((option::of("automatic|manual"), option::of("automatic|manual"))),
        extra in extra(),
    ) {
        assert_round_trip(&build!(ProblemEventData { problem: problem.clone(), common: common.clone(), extra: extra.clone() }));
        assert_round_trip(&build!(RemediationTriggeredData { common: common.clone(), problem: problem.clone(), extra: extra.clone() }));
        assert_round_trip(&build!(RemediationStatusChangedData {
            common: common.clone(),
            remediation: Some(build!(RemediationProgress {
                status: Some(Status::Succeeded),
                result: Some(build!(RemediationActionRef { action_index: index, action_name: action.action.clone() })),
                extra: BTreeMap::new(),
            })),
            extra: extra.clone(),
        }));
        assert_round_trip(&build!(GetActionTriggeredData { common: common.clone(), problem: problem.clone(), action_index: index, extra: extra.clone() }));
        assert_round_trip(&build!(GetActionFinishedData { common: common.clone(), action: Some(action.clone()), action_index: index + 1, extra: extra.clone() }));
        assert_round_trip(&build!(ActionTriggeredData { common: common.clone(), action: action.clone(), problem: Some(problem), extra: extra.clone() }));
        assert_round_trip(&build!(ActionFinishedData { common: common.clone(), action: Some(action), extra: extra.clone() }));
        assert_round_trip(&build!(ApprovalTriggeredData {
            common,
            approval: approval.map(|(pass, warning)| build!(ApprovalStrategy { pass, warning, extra: BTreeMap::new() })),
            extra,
        }));
    }

    /// Payloads put into an event come back out typed, through the whole envelope.
    #[test]
    fn payload_survives_the_envelope(common in event_data(), dep in option::of(deployment_details())) {
        let data = build!(DeploymentFinishedData { common, deployment: dep, extra: BTreeMap::new() });
        let triggered = KeptnEvent::new(
            EventType::task(Task::Deployment, Phase::Triggered), "s", KeptnContext::new_random(), &json!({}));
        let ev = triggered.finished("helm-service", &data).unwrap();
        let back = KeptnEvent::from_json_str(&ev.to_json_string()).unwrap();
        prop_assert_eq!(back.validate().unwrap(), Payload::DeploymentFinished(data));
    }
}
