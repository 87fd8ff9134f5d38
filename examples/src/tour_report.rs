//! What `full_tour` reports: per-artifact outcomes read from the control plane's typed
//! sequence outcomes, the per-stage timeline, the quality gate reports, the story check (did
//! it end as the seed says?) and the JSON summary.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use keptn_remediate::ActionStatus;
use keptn_remediate::unleash::FlagState;
use keptn_spec::EvaluationFinishedData;
use keptn_spec::evaluation::SliTarget;
use keptn_spec::event::Verdict;
use keptn_spec::shipyard::Shipyard;
use serde_json::{Value, json};

use crate::tour_dynatrace::TourProblem;

use keptn_control::report::indicator_value;
pub use keptn_control::report::{
    ActionRun, ArtifactOutcome, RecordedAction, RemediationOutcome, RemediationStatus,
    StageOutcome, image_tag as tag,
};

/// The measured `response_time_p95` of an evaluation.
pub fn p95_of(evaluation: &EvaluationFinishedData) -> Option<f64> {
    indicator_value(evaluation, "response_time_p95")
}

/// A production problem and what the control plane's `remediation` sequences did about it.
#[derive(Debug, Clone)]
pub struct ProblemOutcome {
    /// The problem.
    pub problem: TourProblem,
    /// The remediation sequences of its context and the actions they ran.
    pub remediation: RemediationOutcome,
}

impl ProblemOutcome {
    /// Where its remediation ended (resolved only once the problem closed).
    pub fn status(&self) -> RemediationStatus {
        self.remediation.status(self.problem.resolved_at.is_some())
    }

    fn action_text(run: &ActionRun) -> String {
        let value = run
            .step
            .value
            .as_ref()
            .and_then(|v| serde_json::to_value(v).ok())
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default();
        let ok = if run.outcome.status == ActionStatus::Succeeded {
            "✓"
        } else {
            "✗"
        };
        format!("{} {value} {ok}", run.step.action)
    }
}

fn mark(result: Verdict) -> &'static str {
    match result {
        Verdict::Pass => "✓",
        Verdict::Warning => "!",
        Verdict::Fail => "✗",
    }
}

/// The timeline per stage, like Keptn's Bridge.
pub fn timeline(
    shipyard: &Shipyard,
    artifacts: &[ArtifactOutcome],
    problems: &[ProblemOutcome],
) -> Vec<String> {
    let mut lines = vec!["\n== timeline per stage (like Keptn's Bridge)".to_owned()];
    for stage in shipyard.stages() {
        lines.push(format!("  {}", stage.name));
        for a in artifacts {
            let Some(s) = a.stage(stage.name.as_str()) else {
                continue;
            };
            let mut line = format!("    {:<9} {:<7}", a.service.as_str(), a.version);
            if s.tasks.is_empty() {
                lines.push(format!("{line} not delivered"));
                continue;
            }
            for (task, result) in &s.tasks {
                line.push_str(&format!(" {task} {}", mark(*result)));
                if let Some(e) = s.evaluation.as_ref().filter(|_| task == "evaluation")
                    && !e.evaluation.indicator_results().is_empty()
                {
                    let score = e.evaluation.score;
                    match p95_of(e) {
                        Some(p95) => line.push_str(&format!(" ({score:.0}, p95 {p95:.0} ms)")),
                        None => line.push_str(&format!(" ({score:.0})")),
                    }
                }
            }
            if s.rollback {
                line.push_str(" → rollback ✓");
            }
            line.push_str(&format!(
                "   serving {}",
                s.serving.as_ref().map_or("-", |v| v.as_str())
            ));
            lines.push(line);
        }
        if stage.sequence("remediation").is_none() {
            continue;
        }
        for p in problems {
            let actions: Vec<String> = p
                .remediation
                .actions
                .iter()
                .map(ProblemOutcome::action_text)
                .collect();
            lines.push(format!(
                "    problem {} \"{}\" opened {} → remediation {} → {}",
                p.problem.problem_id,
                p.problem.title,
                p.problem.opened_at.format("%H:%M:%S"),
                if actions.is_empty() {
                    "ran no action".to_owned()
                } else {
                    actions.join(", ")
                },
                match &p.problem.resolved_at {
                    Some(t) => format!("{} at {}", p.status(), t.format("%H:%M:%S")),
                    None => "still open".to_owned(),
                }
            ));
        }
    }
    lines
}

/// The quality gate reports of every evaluation that had objectives.
pub fn gate_reports(artifacts: &[ArtifactOutcome]) -> Vec<String> {
    let mut lines = vec!["\n== quality gate reports".to_owned()];
    for a in artifacts {
        for s in &a.stages {
            let Some(e) = &s.evaluation else { continue };
            let results = e.evaluation.indicator_results();
            if results.is_empty() {
                continue;
            }
            lines.push(format!(
                "  {} {} in {}: {} (score {:.0}/100)",
                a.service, a.version, s.stage, e.result, e.evaluation.score
            ));
            for r in results {
                let targets = |ts: &[SliTarget]| {
                    if ts.is_empty() {
                        return "-".to_owned();
                    }
                    let shown: Vec<String> = ts
                        .iter()
                        .map(|t| format!("{} {}", t.criteria, if t.violated { "✗" } else { "✓" }))
                        .collect();
                    shown.join(", ")
                };
                let (metric, shown) = match r.value() {
                    Some(v) if v.success => (v.metric.to_string(), format!("{:.1}", v.value)),
                    Some(v) => (v.metric.to_string(), format!("no value ({})", v.message)),
                    None => (r.display_name.clone(), "no value ()".to_owned()),
                };
                lines.push(format!(
                    "    {:<18} = {:<10} pass: {:<22} warning: {:<12} → {}",
                    metric,
                    shown,
                    targets(r.pass_targets()),
                    targets(r.warning_targets()),
                    r.status
                ));
            }
        }
    }
    lines
}

/// The whole report: the timeline, the gate reports and the story check.
pub fn report(
    shipyard: &Shipyard,
    artifacts: &[ArtifactOutcome],
    problems: &[ProblemOutcome],
    checks: &[Check],
) -> Vec<String> {
    let mut lines = timeline(shipyard, artifacts, problems);
    lines.extend(gate_reports(artifacts));
    lines.push("\n== did the story end as the seed says?".to_owned());
    for (name, pass, detail) in checks {
        let mark = if *pass { "ok" } else { "FAILED" };
        lines.push(format!("   [{mark}] {name}: {detail}"));
    }
    lines
}

/// One line of the story check: what, whether it held, the details.
pub type Check = (String, bool, String);

fn artifact<'a>(
    artifacts: &'a [ArtifactOutcome],
    service: &str,
    version: &str,
) -> Option<&'a ArtifactOutcome> {
    artifacts
        .iter()
        .find(|a| a.service == service && a.version == version)
}

/// Did the story end as the seed says? `remediation` is whether production remediates.
pub fn story_checks(
    artifacts: &[ArtifactOutcome],
    shows_v3: bool,
    problems: &[ProblemOutcome],
    flag_after: Option<FlagState>,
    remediation: bool,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |name: &str, pass: bool, detail: String| {
        checks.push((name.to_owned(), pass, detail));
    };
    let results = |a: Option<&ArtifactOutcome>| {
        a.map_or_else(
            || "not delivered".to_owned(),
            |a| {
                let r: Vec<String> = a
                    .stages
                    .iter()
                    .map(|s| format!("{} {}", s.stage, s.result))
                    .collect();
                r.join(", ")
            },
        )
    };
    let all_pass = |a: Option<&ArtifactOutcome>| a.is_some_and(ArtifactOutcome::passed_everywhere);
    // one carts-db delivery: the seed's 4.2.2, or the tag of --carts-db-image
    let db = artifacts.iter().find(|a| a.service == "carts-db");
    let db_version = db.map_or("4.2.2", |a| a.version.as_str());
    check(
        &format!("carts-db {db_version} runs in every stage"),
        all_pass(db)
            && db.is_some_and(|a| {
                a.stages
                    .iter()
                    .all(|s| s.serving.as_ref().is_some_and(|v| v == db_version))
            }),
        results(db),
    );
    let v1 = artifact(artifacts, "carts", "0.11.1");
    check(
        "carts 0.11.1 is delivered to all stages",
        all_pass(v1),
        results(v1),
    );
    let v2 = artifact(artifacts, "carts", "0.11.2");
    let v2_staging = v2.and_then(|a| a.stage("staging"));
    let v2_production = v2.and_then(|a| a.stage("production"));
    let v2_eval = v2_staging.and_then(|s| s.evaluation.as_ref());
    let v2_p95 = v2_eval.and_then(p95_of);
    check(
        "carts 0.11.2 fails the staging gate on response_time_p95",
        v2_eval.is_some_and(|e| e.result == Verdict::Fail) && v2_p95.is_some_and(|p| p >= 600.0),
        format!(
            "evaluation {}, p95 {}",
            v2_eval.map_or("missing".to_owned(), |e| e.result.to_string()),
            v2_p95.map_or("missing".to_owned(), |p| format!(
                "{p:.0} ms (SLO < 600 ms)"
            ))
        ),
    );
    let serving =
        |s: Option<&StageOutcome>| s.and_then(|s| s.serving.as_ref().map(ToString::to_string));
    check(
        "carts 0.11.2 is rolled back in staging and never reaches production",
        v2_staging.is_some_and(|s| s.rollback && serving(Some(s)).as_deref() == Some("0.11.1"))
            && v2_production.is_some_and(|s| {
                s.tasks.is_empty() && serving(Some(s)).as_deref() == Some("0.11.1")
            }),
        format!(
            "staging serving {}, production serving {}",
            serving(v2_staging).unwrap_or_else(|| "-".into()),
            serving(v2_production).unwrap_or_else(|| "-".into())
        ),
    );
    let v3 = artifact(artifacts, "carts", "0.11.3");
    check(
        "carts 0.11.3 is promoted to production and shows Version: v3",
        all_pass(v3)
            && serving(v3.and_then(|a| a.stage("production"))).as_deref() == Some("0.11.3")
            && shows_v3,
        format!("{}; page shows v3: {shows_v3}", results(v3)),
    );
    if remediation {
        let promo = problems
            .iter()
            .find(|p| p.problem.title == "Failure rate increase");
        let toggled = promo.is_some_and(|p| {
            p.remediation.actions.iter().any(|r| {
                r.outcome.status == ActionStatus::Succeeded
                    && r.outcome
                        .changes
                        .iter()
                        .any(|c| c.target.ends_with("EnablePromotion") && c.after == "off")
            })
        });
        check(
            "EnablePromotion raises \"Failure rate increase\", remediation turns it off, the problem resolves",
            promo.is_some_and(|p| p.status() == RemediationStatus::Resolved)
                && toggled
                && flag_after == Some(FlagState::Off),
            match promo {
                Some(p) => format!(
                    "{} opened at {:.1} % errors, remediation {}, flag now {}",
                    p.problem.problem_id,
                    p.problem.value_at_open * 100.0,
                    p.status(),
                    flag_after.map_or("unknown", FlagState::as_str)
                ),
                None => "no problem opened".to_owned(),
            },
        );
    }
    checks
}

/// The tour's run as a whole, for the summary.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// When the tour started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub wall: Duration,
    /// Production traffic: requests that succeeded and failed.
    pub traffic: (u64, u64),
    /// `embedded` or `unleash`.
    pub flags: &'static str,
    /// `local` or `kubernetes`.
    pub deployer: &'static str,
    /// The SLI source's name, or the Dynatrace ingest figures.
    pub monitoring: Value,
    /// The control plane's state file.
    pub state: String,
}

/// The JSON summary (`--summary`).
pub fn summary_json(
    facts: &RunFacts,
    artifacts: &[ArtifactOutcome],
    problems: &[ProblemOutcome],
    checks: &[Check],
) -> Value {
    let artifacts: Vec<Value> = artifacts
        .iter()
        .map(|a| {
            let stages: BTreeMap<&str, Value> = a
                .stages
                .iter()
                .map(|s| {
                    let evaluation = s.evaluation.as_ref().map(|e| {
                        json!({"result": e.result, "score": e.evaluation.score,
                               "response_time_p95": p95_of(e)})
                    });
                    let tasks: Vec<Value> = s
                        .tasks
                        .iter()
                        .map(|(t, r)| json!({"task": t, "result": r}))
                        .collect();
                    let stage = json!({"result": s.result, "tasks": tasks, "evaluation": evaluation,
                                       "rolledBack": s.rollback, "servingAfter": s.serving});
                    (s.stage.as_str(), stage)
                })
                .collect();
            let context = a.context.map(|c| c.to_string()).unwrap_or_default();
            json!({"service": a.service, "version": a.version, "image": a.image,
                   "keptnContext": context, "stages": stages})
        })
        .collect();
    let problems: Vec<Value> = problems
        .iter()
        .map(|p| {
            let q = &p.problem;
            let actions: Vec<Value> = p
                .remediation
                .actions
                .iter()
                .map(|r| {
                    json!({"action": r.step.action, "value": r.step.value,
                           "status": r.outcome.status.as_str(), "message": r.outcome.message,
                           "changes": r.outcome.changes})
                })
                .collect();
            json!({
                "problemId": q.problem_id, "pid": q.pid, "title": q.title, "stage": q.stage,
                "service": q.service, "sli": q.sli, "threshold": q.threshold,
                "valueAtOpen": q.value_at_open, "openedAt": q.opened_at,
                "valueAtResolve": q.value_at_resolve, "resolvedAt": q.resolved_at,
                "outcome": p.status().to_string(),
                "keptnContext": p.remediation.context().map(|c| c.to_string()),
                "actions": actions,
            })
        })
        .collect();
    let checks: Vec<Value> = checks
        .iter()
        .map(|(n, p, d)| json!({"check": n, "ok": p, "detail": d}))
        .collect();
    json!({
        "project": "sockshop",
        "startedAt": facts.started_at,
        "wallSeconds": facts.wall.as_secs_f64(),
        "ok": checks.iter().all(|c| c["ok"] == true),
        "flags": facts.flags,
        "deployer": facts.deployer,
        "monitoring": facts.monitoring,
        "state": facts.state,
        "artifacts": artifacts,
        "problems": problems,
        "productionTraffic": {"ok": facts.traffic.0, "failed": facts.traffic.1},
        "checks": checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No problem, no remediation: the remediation check fails, naming what is missing.
    #[test]
    fn missing_problem_fails_the_story() {
        let checks = story_checks(&[], false, &[], Some(FlagState::Off), true);
        let last = checks.last().unwrap();
        assert!(!last.1);
        assert_eq!(last.2, "no problem opened");
        assert!(checks.iter().all(|c| !c.1), "{checks:?}");
    }
}
