//! [`Shipyard::validate`]: the rules of a shipyard beyond its shape.

use std::collections::HashMap;

use super::{Selector, Shipyard, task::task_kind};
use crate::error::{FieldPath, Issue, Validation, did_you_mean};

impl Shipyard {
    /// Checks the rules beyond the shape: a supported `apiVersion`, at least one stage, no
    /// duplicate stages or sequences, every `triggeredOn` naming an existing sequence, typed
    /// properties of reserved tasks, understood selectors. Paths are those of the 0.2 form.
    pub fn validate(&self) -> Validation {
        let mut v = Validation::default();
        let root = FieldPath::root();
        check_api_version(&self.api_version, &root.key("apiVersion"), &mut v);
        if self.kind != "Shipyard" {
            v.warning(
                Issue::new(
                    root.key("kind"),
                    format!("kind is `{}`, expected `Shipyard`", self.kind),
                )
                .with_suggestion(did_you_mean(&self.kind, ["Shipyard"])),
            );
        }
        let stages_path = root.key("spec").key("stages");
        if self.spec.stages.is_empty() {
            v.error(Issue::new(
                stages_path.clone(),
                "a shipyard needs at least one stage",
            ));
        }
        let mut seen_stages: HashMap<&str, usize> = HashMap::new();
        // every `stage.sequence` that exists
        let mut existing: Vec<String> = Vec::new();
        for (si, stage) in self.spec.stages.iter().enumerate() {
            let sp = stages_path.index(si);
            if let Some(first) = seen_stages.insert(stage.name.as_str(), si) {
                seen_stages.insert(stage.name.as_str(), first);
                v.error(Issue::new(
                    sp.key("name"),
                    format!(
                        "duplicate stage `{}` (already defined at {})",
                        stage.name,
                        stages_path.index(first)
                    ),
                ));
            }
            // the built-in evaluation sequence exists in every stage
            existing.push(format!("{}.evaluation", stage.name));
            let mut seen_seq: HashMap<&str, usize> = HashMap::new();
            for (qi, seq) in stage.sequences.iter().enumerate() {
                let qp = sp.key("sequences").index(qi);
                if let Some(first) = seen_seq.insert(seq.name.as_str(), qi) {
                    seen_seq.insert(seq.name.as_str(), first);
                    v.error(Issue::new(
                        qp.key("name"),
                        format!(
                            "duplicate sequence `{}` in stage `{}` (already defined at {})",
                            seq.name,
                            stage.name,
                            sp.key("sequences").index(first)
                        ),
                    ));
                }
                existing.push(format!("{}.{}", stage.name, seq.name));
            }
        }
        for (si, stage) in self.spec.stages.iter().enumerate() {
            for (qi, seq) in stage.sequences.iter().enumerate() {
                let qp = stages_path.index(si).key("sequences").index(qi);
                if seq.tasks.is_empty() {
                    v.warning(Issue::new(
                        qp.key("tasks"),
                        format!(
                            "sequence `{}` has no tasks; it finishes at once with `pass`",
                            seq.name
                        ),
                    ));
                }
                for (ti, trig) in seq.triggered_on.iter().enumerate() {
                    let tp = qp.key("triggeredOn").index(ti);
                    let target = format!("{}.{}", trig.event.stage, trig.event.sequence);
                    if !existing.contains(&target) {
                        let suggestion = did_you_mean(&target, existing.iter().map(String::as_str))
                            .map(|s| format!("{s}.finished"));
                        v.error(
                            Issue::new(
                                tp.key("event"),
                                format!(
                                    "`{}` names no existing sequence (no sequence `{}` in {})",
                                    trig.event,
                                    trig.event.sequence,
                                    if self.stage(trig.event.stage.as_str()).is_some() {
                                        format!("stage `{}`", trig.event.stage)
                                    } else {
                                        format!("an unknown stage `{}`", trig.event.stage)
                                    }
                                ),
                            )
                            .with_suggestion(suggestion),
                        );
                    }
                    if let Some(sel) = &trig.selector {
                        check_selector(sel, &tp.key("selector").key("match"), &mut v);
                    }
                }
                for (ti, task) in seq.tasks.iter().enumerate() {
                    let tp = qp.key("tasks").index(ti);
                    let _ = task_kind(task, &tp, &mut v);
                }
            }
        }
        v
    }
}

fn check_selector(sel: &Selector, path: &FieldPath, v: &mut Validation) {
    for (key, value) in &sel.matches {
        let kp = path.key(key);
        if key != "result" && !key.ends_with(".result") {
            v.warning(
                Issue::new(
                    kp.clone(),
                    format!(
                        "selector key `{key}` is ignored: only `result` and `<task>.result` are \
                         understood"
                    ),
                )
                .with_suggestion(did_you_mean(key, ["result"])),
            );
        }
        match value.as_str() {
            "pass" | "warning" | "fail" => {}
            "failed" => v.warning(
                Issue::new(
                    kp,
                    "`failed` never matches: finished sequences report `fail`".to_owned(),
                )
                .with_suggestion(Some("fail".to_owned())),
            ),
            other => v.warning(
                Issue::new(
                    kp,
                    format!("`{other}` never matches: results are `pass`, `warning` or `fail`"),
                )
                .with_suggestion(did_you_mean(other, ["pass", "warning", "fail"])),
            ),
        }
    }
}

fn check_api_version(api: &str, path: &FieldPath, v: &mut Validation) {
    let Some(version) = api.strip_prefix("spec.keptn.sh/") else {
        v.error(Issue::new(
            path.clone(),
            format!("unsupported apiVersion `{api}` (expected `spec.keptn.sh/0.2.x`)"),
        ));
        return;
    };
    let mut parts = version.split('.');
    let nums: Vec<Option<u64>> = (0..3)
        .map(|_| {
            parts
                .next()
                .map(|p| p.parse::<u64>().ok())
                .unwrap_or(Some(0))
        })
        .collect();
    let ok = parts.next().is_none()
        && nums.iter().all(Option::is_some)
        && (nums[0].unwrap_or(0), nums[1].unwrap_or(0)) >= (0, 2);
    if !ok {
        v.error(Issue::new(
            path.clone(),
            format!(
                "unsupported apiVersion `{api}` (expected `spec.keptn.sh/` with a version of at \
                 least 0.2, such as `spec.keptn.sh/0.2.2`; convert older shipyards with \
                 `keptn upgrade project --shipyard` or use the 0.1 stage list without apiVersion)"
            ),
        ));
    }
}
