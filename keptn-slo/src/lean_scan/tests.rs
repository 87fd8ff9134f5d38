//! The scanner against the serde lean reader: the same previous evaluations whenever the
//! scanner answers, and an answer on every well-formed history.

use std::fmt::Write as _;
use std::path::PathBuf;

use proptest::prelude::*;

use super::scan_previous;
use crate::report::PreviousEvaluation;

/// The scanner's answer must be serde's; an error of serde must make the scanner step aside;
/// the public reader must give serde's answer (error text included).
fn check(text: &str) -> Option<Vec<PreviousEvaluation>> {
    let serde = PreviousEvaluation::baselines_from_json_str_serde(text);
    let scanned = scan_previous(text);
    match (&scanned, &serde) {
        (Some(s), Ok(v)) => assert_eq!(s, v, "scanner and serde differ on {text}"),
        (Some(s), Err(e)) => panic!("scanner accepted what serde rejects ({e}): {s:?}\n{text}"),
        (None, _) => {}
    }
    let public = PreviousEvaluation::baselines_from_json_str(text);
    match (&public, &serde) {
        (Ok(p), Ok(v)) => assert_eq!(p, v),
        (Err(p), Err(e)) => assert_eq!(p.to_string(), e.to_string()),
        _ => panic!("public reader and serde disagree on {text}"),
    }
    scanned
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/fixtures/slo")
}

#[test]
fn every_history_fixture_reads_as_serde_reads_it() {
    let mut read = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            check(&text);
            read += 1;
        }
    }
    assert!(
        read >= 3,
        "fixtures not found under {}",
        fixtures().display()
    );
}

#[test]
fn keptn_written_histories_take_the_fast_path() {
    for name in ["previous.json", "previous-keptn-null.json"] {
        let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
        let scanned = check(&text).unwrap_or_else(|| panic!("{name}: scanner stepped aside"));
        assert!(!scanned.is_empty(), "{name}");
    }
}

#[test]
fn value_null_is_a_placeholder_and_go_escapes_are_skipped() {
    let text = r#"[{"id":"e\u0031","result":"failed","evaluation":{"indicatorResults":[
        {"value":null,"passTargets":[{"criteria":"\u003c=+10%"}]},
        {"value":{"metric":"rt","value":-12.5e1,"success":true}},
        {"score":1}]}}]"#;
    let v = check(text).expect("scanner answers");
    let results = v[0].data.evaluation.indicator_results();
    assert_eq!(v[0].id.as_deref(), Some("e1"));
    assert_eq!(results.len(), 3);
    assert!(results[0].value.is_none() && results[2].value.is_none());
    let value = results[1].value.as_ref().unwrap();
    assert_eq!(
        (&*value.metric, value.value, value.success),
        ("rt", -125.0, true)
    );
}

#[test]
fn errors_keep_serde_line_column_and_field() {
    let missing = "[\n  {\"id\": \"e1\"}\n]";
    let e = PreviousEvaluation::baselines_from_json_str(missing).unwrap_err();
    assert_eq!(e.to_string(), "missing field `result` at line 2 column 14");
    let wrong = "[{\"result\":\"pass\",\"evaluation\":{\"indicatorResults\":[\n{\"value\":{\"metric\":\"a\",\"value\":\"1\"}}]}}]";
    let e = PreviousEvaluation::baselines_from_json_str(wrong).unwrap_err();
    assert_eq!(e.line(), 2);
    assert!(e.to_string().contains("expected f64"), "{e}");
}

/// Values an ignored field may hold (valid JSON, with escapes serde only checks loosely).
fn junk() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("-0".to_owned()),
        Just("1.5e-3".to_owned()),
        Just("\"\"".to_owned()),
        Just(r#""\u003c=+10% \"q\" \\ \/ \b\f\n\r\t \ud800""#.to_owned()),
        Just("\"caf\u{e9} \u{1F600}\"".to_owned()),
        any::<i64>().prop_map(|v| v.to_string()),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z\\\\\"]{0,3}", inner), 0..4).prop_map(|v| {
                let fields: Vec<String> = v
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

/// A number token: the fast forms, the ones left to serde_json, and every finite `f64`.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|v| v.to_string()),
        (any::<i32>(), 0u32..1_000_000).prop_map(|(a, f)| format!("{a}.{f}")),
        (0u32..100, 0u32..1000).prop_map(|(a, f)| format!("{a}.{f:03}")),
        prop::num::f64::NORMAL.prop_map(|v| format!("{v}")),
        prop::num::f64::NORMAL.prop_map(|v| format!("{v:e}")),
        Just("-0".to_owned()),
        Just("-0.0".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
        Just("0.1234567890123456789".to_owned()),
        Just("1E+2".to_owned()),
    ]
}

/// Tokens for a field: `clean` ones the scanner must read itself, or any (wrong types too).
fn token(clean: Vec<String>, faulty: Vec<&'static str>) -> impl Strategy<Value = (bool, String)> {
    let faulty: Vec<String> = faulty.into_iter().map(str::to_owned).collect();
    prop_oneof![
        4 => prop::sample::select(clean).prop_map(|t| (true, t)),
        1 => prop::sample::select(faulty).prop_map(|t| (false, t)),
    ]
}

/// One object: its fields (`None`: left out), junk fields, a rotation of the order and
/// whether a field is repeated. Returns whether it is clean and its text.
fn object(
    fields: Vec<(&'static str, Option<(bool, String)>)>,
    extra: Vec<(String, String)>,
    rotate: usize,
    repeat: bool,
    sp: &str,
) -> (bool, String) {
    let mut clean = true;
    let mut parts: Vec<String> = Vec::new();
    for (key, value) in fields {
        if let Some((ok, text)) = value {
            clean &= ok;
            parts.push(format!("\"{key}\"{sp}:{sp}{text}"));
        }
    }
    for (key, value) in extra {
        parts.push(format!(
            "{}:{sp}{value}",
            serde_json::to_string(&key).unwrap()
        ));
    }
    if let (true, Some(first)) = (repeat, parts.first().cloned()) {
        // A repeated field is serde's error, a repeated unknown one is not: not asserted.
        clean = false;
        parts.push(first);
    }
    if !parts.is_empty() {
        let n = rotate % parts.len();
        parts.rotate_left(n);
    }
    let mut out = String::from("{");
    for (i, p) in parts.iter().enumerate() {
        let _ = write!(out, "{}{sp}{p}", if i > 0 { "," } else { "" });
    }
    let _ = write!(out, "{sp}}}");
    (clean, out)
}

fn extras() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        ("(status|message|score|displayName|x[a-z]{0,4})", junk()),
        0..3,
    )
}

fn optional<T: Strategy>(s: T) -> impl Strategy<Value = Option<T::Value>> {
    prop::option::weighted(0.85, s)
}

fn shape() -> impl Strategy<Value = (usize, bool)> {
    (any::<usize>(), prop::bool::weighted(0.05))
}

fn sli(sp: &'static str) -> impl Strategy<Value = (bool, String)> {
    let metric = token(
        vec![
            "\"rt\"".into(),
            "\"sli_1\"".into(),
            r#""r\u0074 \"p95\"""#.into(),
        ],
        vec!["null", "1", r#""\ud800""#],
    );
    let value =
        number().prop_flat_map(|n| token(vec![n], vec!["null", "\"1\"", "01", "1.", "-", "true"]));
    let success = token(
        vec!["true".into(), "false".into()],
        vec!["null", "0", "\"true\""],
    );
    (
        prop::option::weighted(0.95, metric),
        optional(value),
        optional(success),
        extras(),
        shape(),
    )
        .prop_map(move |(m, v, s, extra, (rotate, repeat))| {
            let missing_metric = m.is_none();
            let (clean, text) = object(
                vec![("metric", m), ("value", v), ("success", s)],
                extra,
                rotate,
                repeat,
                sp,
            );
            (clean && !missing_metric, text)
        })
}

fn result(sp: &'static str) -> impl Strategy<Value = (bool, String)> {
    let value = prop_oneof![
        1 => Just((true, "null".to_owned())),
        6 => sli(sp),
        1 => prop::sample::select(vec!["1", "\"x\"", "[]", "nul"]).prop_map(|t| (false, t.to_owned())),
    ];
    (optional(value), extras(), shape()).prop_map(move |(v, extra, (rotate, repeat))| {
        object(vec![("value", v)], extra, rotate, repeat, sp)
    })
}

fn entry(sp: &'static str) -> impl Strategy<Value = (bool, String)> {
    let id = token(
        vec!["\"e1\"".into(), "null".into(), r#""\u00e9v\n""#.into()],
        vec!["1", "{}", r#""\udc00""#],
    );
    let invalidated = token(vec!["true".into(), "false".into()], vec!["null", "1"]);
    let verdict = token(
        ["\"pass\"", "\"warning\"", "\"fail\"", "\"failed\""]
            .map(str::to_owned)
            .to_vec(),
        vec!["\"bogus\"", "null", "\"p\\u0061ss\"", "{\"pass\":null}"],
    );
    let list = prop::collection::vec(result(sp), 0..5).prop_map(move |rs| {
        let clean = rs.iter().all(|(c, _)| *c);
        let texts: Vec<String> = rs.into_iter().map(|(_, t)| t).collect();
        (
            clean,
            format!("[{sp}{}{sp}]", texts.join(&format!(",{sp}"))),
        )
    });
    let results = prop_oneof![1 => Just((true, "null".to_owned())), 6 => list, 1 => Just((false, "{}".to_owned()))];
    let evaluation =
        (optional(results), extras(), shape()).prop_map(move |(r, extra, (rotate, repeat))| {
            object(vec![("indicatorResults", r)], extra, rotate, repeat, sp)
        });
    let evaluation = prop_oneof![6 => evaluation, 1 => Just((false, "null".to_owned())), 1 => Just((false, "[]".to_owned()))];
    (
        optional(id),
        optional(invalidated),
        prop::option::weighted(0.95, verdict),
        optional(evaluation),
        extras(),
        shape(),
    )
        .prop_map(move |(i, inv, verdict, ev, extra, (rotate, repeat))| {
            let missing_result = verdict.is_none();
            let (clean, text) = object(
                vec![
                    ("id", i),
                    ("invalidated", inv),
                    ("result", verdict),
                    ("evaluation", ev),
                ],
                extra,
                rotate,
                repeat,
                sp,
            );
            (clean && !missing_result, text)
        })
}

fn history() -> impl Strategy<Value = (bool, String)> {
    prop::sample::select(vec!["", " ", "\n", "\n            ", "\t\r\n  "]).prop_flat_map(|sp| {
        prop::collection::vec(entry(sp), 0..4).prop_map(move |es| {
            let clean = es.iter().all(|(c, _)| *c);
            let texts: Vec<String> = es.into_iter().map(|(_, t)| t).collect();
            (
                clean,
                format!("{sp}[{sp}{}{sp}]{sp}", texts.join(&format!(",{sp}"))),
            )
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random histories (`"value": null`, missing and repeated fields, wrong types, escapes,
    /// every number form): the scanner gives serde's previous evaluations, steps aside on
    /// serde's errors, and reads every clean history itself.
    #[test]
    fn scanner_agrees_with_serde((clean, text) in history()) {
        let scanned = check(&text);
        if clean {
            prop_assert!(scanned.is_some(), "scanner stepped aside on a clean history:\n{}", text);
        }
    }

    /// Damaged text (cut short, a byte inserted): never accepted where serde fails.
    #[test]
    fn damaged_histories_stay_serde_errors((_, text) in history(), cut in any::<prop::sample::Index>(), byte in prop::sample::select(vec![",", "}", "]", "[", "\"", "\\", "\u{1}", "x", ":", "0"]), insert in any::<bool>()) {
        let at = cut.index(text.len() + 1);
        let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        let damaged = if insert {
            format!("{}{byte}{}", &text[..at], &text[at..])
        } else {
            text[..at].to_owned()
        };
        check(&damaged);
    }
}
