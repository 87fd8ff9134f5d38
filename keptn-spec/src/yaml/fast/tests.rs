//! The fast reader answers exactly what the general parser answers, or not at all.

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;

use super::from_str;
use crate::Slo;

/// The general parser's answer (what `Slo::from_yaml_str` gave before the fast reader).
fn full(src: &str) -> Option<Slo> {
    crate::from_yaml_str::<Slo>(src).ok()
}

/// Asserts that the fast reader agrees with the general parser; returns whether it answered.
fn agrees(src: &str) -> bool {
    let fast = from_str::<Slo>(src);
    let answered = fast.is_some();
    if answered {
        assert_eq!(fast, full(src), "fast reader differs on:\n{src}");
    }
    answered
}

fn slo_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "../fuzz/corpus/slo",
        "../examples/fixtures/slo",
        "tests/fixtures/valid",
        "tests/fixtures/invalid",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains("slo") && name.ends_with(".yaml") {
                let text = std::fs::read_to_string(e.path()).unwrap();
                files.push((format!("{dir}/{name}"), text));
            }
        }
    }
    files
}

#[test]
fn agrees_with_the_general_parser_on_every_slo_fixture() {
    let files = slo_files();
    assert!(files.len() >= 20, "fixtures not found: {}", files.len());
    let mut fallbacks = Vec::new();
    for (name, text) in &files {
        if !agrees(text) {
            fallbacks.push(name.as_str());
        }
    }
    // Only the files the general parser rejects (or that leave the subset) fall back.
    for name in &fallbacks {
        let text = &files.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(
            full(text).is_none() || name.contains("invalid"),
            "{name} is within Keptn's usual YAML but fell back"
        );
    }
}

#[test]
fn reads_keptn_style_files() {
    let src = "---\n# comment\nspec_version: '0.1.1'\ncomparison:\n  compare_with: \"single_result\"  # c\n  number_of_comparison_results: 3\n  aggregate_function: avg\nfilter:\nobjectives:\n- sli: response_time_p95\n  displayName: Response time P95\n  pass:             # pass if\n  - criteria:\n    - \"<=+10%\"  # relative\n    - <600\n  warning:\n    - criteria: [\"<=800\", '<+20%']\n  weight: 2\n  key_sli: true\n-\n- sli: error_rate\ntotal_score: { pass: 90%, warning: \"75%\" }\n";
    assert!(agrees(src));
    let slo = from_str::<Slo>(src).unwrap();
    assert_eq!(slo.objectives.len(), 2);
    assert_eq!(slo.objectives[0].weight_raw, Some(2));
}

#[test]
fn edge_cases_agree_or_fall_back() {
    let cases = [
        "spec_version: 1.0\nobjectives: []\n",
        "spec_version: 1\n",
        "objectives:\n  - sli: a\n    pass: [{criteria: [600]}]\n",
        "objectives:\n  - sli: a\n    pass: [{criteria: [-5]}]\n",
        "objectives:\n  - sli: a\n    weight: \"2\"\n",
        "objectives:\n  - sli: a\n    weight: 2.5\n",
        "objectives:\n  - sli: a\n    weight: 99999999999\n",
        "objectives:\n  - sli: a\n    key_sli: yes\n",
        "objectives:\n  - sli: a\n    key_sli: ~\n",
        "objectives:\n  - sli: true\n",
        "objectives:\n  - sli: null\n",
        "objectives:\n  - sli: 12\n",
        "objectives:\n  - sli: a#b\n",
        "objectives:\n  - sli: a\n    sli: b\n",
        "objectives:\n  - sli: \"a\\tb\"\n",
        "objectives:\n  - sli: 'it''s'\n",
        "objectives:\n  - sli: a\n    no_data: inconclusive\n",
        "objectives:\n  - sli: a\n    no_data: bogus\n",
        "objectives:\n  - sli: a\n    shadow: true\n",
        "shadow: true\nno_data: warn\n",
        "objectives:\n  -\n  - sli: a\n",
        "objectives:\n  - sli: multi\n    line\n",
        "objectives:\n  - sli: &x a\n",
        "total_score:\n  pass: 90%\n  warning: 75.5%\n",
        "total_score:\n  pass: >\n    90%\n",
        "total_score: {pass: 90, warning: 7e1}\n",
        "comparison: {compare_with: several_results, number_of_comparison_results: 5}\n",
        "comparison:\n  number_of_comparison_results: -1\n",
        "filter:\n  handler: ItemsController.addToCart\n  id: 12\n",
        "filter: {}\nobjectives: []\n",
        "unknown_key: [1, {a: b}]\nobjectives: []\n",
        "objectives:\n  - sli: a\n    pass:\n      - criteria:\n          - \"<=+10%\"\n        extra: x\n",
        "objectives:\n- sli: a\n  pass:\n  - criteria:\n    - <1\n",
        "objectives:\n  - sli: a\n   pass: []\n",
        "",
        "---\n---\n",
        "objectives: [\n]\n",
        "objectives:\n  - sli: a # trailing\n    displayName: \"A b\" # trailing\n",
        "objectives:\n  - sli: a\n    displayName: A: b\n",
        "objectives:\n  - sli: a\n    displayName: http://x/y\n",
    ];
    let deep_flow = format!(
        "objectives: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_items = format!("objectives:\n{}a\n", "- ".repeat(100_000));
    let deep_block: String = (0..5_000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    for src in [deep_flow, deep_items, deep_block] {
        assert!(
            from_str::<Slo>(&src).is_none(),
            "deep nesting is left to the general parser"
        );
    }
    for src in cases {
        agrees(src);
    }
}

/// How a generated SLO is written.
#[derive(Debug, Clone)]
struct Style {
    indented_lists: bool,
    flow_criteria: bool,
    quote: u8,
    comments: bool,
    marker: bool,
}

#[derive(Debug, Clone)]
struct GenObjective {
    sli: String,
    display: Option<String>,
    pass: Vec<Vec<&'static str>>,
    warning: Vec<Vec<&'static str>>,
    weight: Option<i32>,
    key_sli: Option<bool>,
    no_data: Option<&'static str>,
}

const CRITERIA: [&str; 9] = [
    "<=+10%", "<600", "<=800", "<+15", ">=-5%", "=0", "bogus", ">100", "<=+0.5%",
];

fn criterion_text(c: &str, quote: u8) -> String {
    let must_quote = c.starts_with(['>', '=']) || c.contains(' ');
    match quote % 3 {
        0 => format!("\"{c}\""),
        1 => format!("'{c}'"),
        _ if must_quote => format!("\"{c}\""),
        _ => c.to_owned(),
    }
}

fn render(objectives: &[GenObjective], total: Option<(u8, u8)>, style: &Style) -> String {
    let mut y = String::new();
    if style.marker {
        y.push_str("---\n");
    }
    if style.comments {
        y.push_str("# generated\n");
    }
    y.push_str("spec_version: \"1.0\"\ncomparison:\n  compare_with: several_results\n  number_of_comparison_results: 3\n");
    y.push_str("objectives:\n");
    let (item, body) = if style.indented_lists {
        ("  - ", "    ")
    } else {
        ("- ", "  ")
    };
    for o in objectives {
        let _ = writeln!(y, "{item}sli: {}", o.sli);
        if let Some(d) = &o.display {
            let _ = writeln!(y, "{body}displayName: \"{d}\"");
        }
        for (name, sets) in [("pass", &o.pass), ("warning", &o.warning)] {
            if sets.is_empty() {
                continue;
            }
            let c = if style.comments { "   # sets" } else { "" };
            let _ = writeln!(y, "{body}{name}:{c}");
            for set in sets {
                let texts: Vec<String> =
                    set.iter().map(|c| criterion_text(c, style.quote)).collect();
                if style.flow_criteria || set.is_empty() {
                    let _ = writeln!(y, "{body}{item}criteria: [{}]", texts.join(", "));
                } else {
                    let _ = writeln!(y, "{body}{item}criteria:");
                    for t in texts {
                        let _ = writeln!(y, "{body}{body}{item}{t}");
                    }
                }
            }
        }
        if let Some(w) = o.weight {
            let _ = writeln!(y, "{body}weight: {w}");
        }
        if let Some(k) = o.key_sli {
            let _ = writeln!(y, "{body}key_sli: {k}");
        }
        if let Some(n) = o.no_data {
            let _ = writeln!(y, "{body}no_data: {n}");
        }
    }
    if let Some((p, w)) = total {
        if style.flow_criteria {
            let _ = writeln!(y, "total_score: {{ pass: \"{p}%\", warning: {w}% }}");
        } else {
            let _ = writeln!(y, "total_score:\n  pass: \"{p}%\"\n  warning: {w}%");
        }
    }
    y
}

fn objective() -> impl Strategy<Value = GenObjective> {
    let sets = || {
        prop::collection::vec(
            prop::collection::vec(prop::sample::select(&CRITERIA[..]), 0..3),
            0..3,
        )
    };
    (
        "[a-z_][a-z0-9_]{0,10}",
        prop::option::of("[A-Za-z][A-Za-z0-9 ]{0,12}"),
        sets(),
        sets(),
        prop::option::of(-3i32..5),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(
            &["fail", "warn", "ignore", "inconclusive"][..],
        )),
    )
        .prop_map(
            |(sli, display, pass, warning, weight, key_sli, no_data)| GenObjective {
                sli,
                display,
                pass,
                warning,
                weight,
                key_sli,
                no_data,
            },
        )
}

fn style() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(indented_lists, flow_criteria, quote, comments, marker)| Style {
                indented_lists,
                flow_criteria,
                quote,
                comments,
                marker,
            },
        )
}

proptest! {
    /// Generated SLOs in the styles Keptn files use are read by the fast reader, with the
    /// general parser's value.
    #[test]
    fn fast_reader_equals_general_parser(
        objectives in prop::collection::vec(objective(), 0..6),
        total in prop::option::of((0u8..100, 0u8..100)),
        style in style(),
    ) {
        let src = render(&objectives, total, &style);
        // Words that YAML could read as booleans or null leave the subset.
        let ambiguous = objectives.iter().any(|o| classify_is_ambiguous(&o.sli));
        let answered = agrees(&src);
        prop_assert!(answered || ambiguous, "fell back on:\n{}", src);
    }
}

fn classify_is_ambiguous(s: &str) -> bool {
    super::classify(s) != Some(super::Kind::Str)
}
