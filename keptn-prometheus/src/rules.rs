//! Monitoring set-up: Prometheus alerting rules generated from SLOs, and the Alertmanager
//! configuration that posts their alerts to the control plane.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keptn_spec::criterion::{Op, Threshold};
use keptn_spec::slo::Objective;
use keptn_spec::{ProjectName, ServiceName, Slo, StageName};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::provider::PrometheusSliProvider;
use crate::queries::QueryScope;

/// The labels every generated alert carries, mapping it back to its service: `project`,
/// `stage`, `service` (Keptn's names) and `sli`.
pub const ALERT_LABELS: [&str; 4] = ["project", "stage", "service", "sli"];

/// A Prometheus rule file (`rule_files:`): groups of rules.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleFile {
    /// The rule groups.
    pub groups: Vec<RuleGroup>,
}

/// One rule group: Keptn named it `<service> <project>-<stage> alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// The alerting rules.
    pub rules: Vec<AlertRule>,
}

/// One alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AlertRule {
    /// The alert's name (`alertname`): the SLI, as in Keptn.
    pub alert: String,
    /// The PromQL that yields a series while the objective is violated.
    pub expr: String,
    /// How long the violation must last before the alert fires, such as `600s`.
    #[serde(rename = "for")]
    pub for_duration: String,
    /// Labels added to the alert ([`ALERT_LABELS`] and `severity: webhook`).
    pub labels: BTreeMap<String, String>,
    /// `summary` (the problem title) and `description`.
    pub annotations: BTreeMap<String, String>,
}

/// An objective for which no rule was generated, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedObjective {
    /// The stage.
    pub stage: StageName,
    /// The SLI.
    pub sli: String,
    /// Why.
    pub reason: String,
}

/// How rules are generated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleOptions {
    /// The range the queries look back over (`$DURATION_SECONDS`; Keptn: 180 s).
    pub window: Duration,
    /// How long a violation lasts before the alert fires (Keptn: 10 min).
    pub for_duration: Duration,
    /// The deployment the queries watch (Keptn: `primary`, the one serving users).
    pub deployment: String,
}

impl Default for RuleOptions {
    /// Keptn's values: a 180 s window, `for: 10m`, the `primary` deployment.
    fn default() -> Self {
        Self {
            window: Duration::from_secs(180),
            for_duration: Duration::from_secs(600),
            deployment: "primary".to_owned(),
        }
    }
}

impl RuleOptions {
    /// Sets the window.
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Sets how long a violation must last.
    #[must_use]
    pub fn with_for(mut self, for_duration: Duration) -> Self {
        self.for_duration = for_duration;
        self
    }
}

/// The problem title an alert of `sli` carries (its `summary`): Dynatrace's problem titles for
/// the SLIs they correspond to, so that the same `remediation.yaml` serves both providers.
pub fn problem_title(sli: &str) -> String {
    match sli {
        "error_rate" => "Failure rate increase".to_owned(),
        s if s.starts_with("response_time") => "Response time degradation".to_owned(),
        "throughput" => "Throughput decrease".to_owned(),
        other => format!("{other} violates its objective"),
    }
}

fn inverse(op: Op) -> &'static str {
    match op {
        Op::Lt => ">=",
        Op::Le => ">",
        Op::Eq => "!=",
        Op::Ge => "<",
        Op::Gt => "<=",
    }
}

/// The violation expression of one objective: for each pass block (OR) the query violating any
/// of its absolute criteria (AND), the blocks joined with `and`.
fn violation(expr: &str, objective: &Objective) -> std::result::Result<String, String> {
    let mut blocks = Vec::new();
    for set in &objective.pass {
        let mut parts = Vec::new();
        for entry in &set.criteria {
            let c = entry
                .criterion()
                .map_err(|e| format!("criterion `{}` does not parse: {e}", entry.text()))?;
            if let Threshold::Absolute(t) = c.threshold() {
                parts.push(format!("({expr}) {} {t}", inverse(c.op())));
            }
        }
        if parts.is_empty() {
            return Err("a pass block has only relative criteria; an alert cannot compare with previous evaluations".to_owned());
        }
        blocks.push(if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(") or ("))
        });
    }
    Ok(if blocks.len() == 1 {
        blocks.remove(0)
    } else {
        format!("({})", blocks.join(") and ("))
    })
}

/// Generates one alerting rule per objective with a pass criterion, per stage, for `service`
/// of `project`: `stages` pairs each stage with its SLO. Queries come from `provider` (its
/// SLI configuration, else Keptn's defaults) for the deployment and window of `options`.
/// Objectives without pass criteria, with only relative criteria in a block, or without a
/// query are reported as skipped.
pub fn alert_rules(
    provider: &PrometheusSliProvider,
    project: &ProjectName,
    service: &ServiceName,
    stages: &[(StageName, Slo)],
    options: &RuleOptions,
) -> (RuleFile, Vec<SkippedObjective>) {
    let mut file = RuleFile::default();
    let mut skipped = Vec::new();
    for (stage, slo) in stages {
        let scope = QueryScope::new(
            project.clone(),
            stage.clone(),
            service.clone(),
            options.window,
        )
        .with_deployment(options.deployment.clone())
        .with_custom_filters(slo.filter.clone());
        let mut group = RuleGroup {
            name: format!("{service} {project}-{stage} alerts"),
            rules: Vec::new(),
        };
        for objective in &slo.objectives {
            let skip = |reason: String| SkippedObjective {
                stage: stage.clone(),
                sli: objective.sli.clone(),
                reason,
            };
            if objective.pass.is_empty() {
                skipped.push(skip(
                    "no pass criteria (informational objective)".to_owned(),
                ));
                continue;
            }
            let Some(expr) = provider.query_for(&objective.sli, &scope) else {
                skipped.push(skip(format!(
                    "no query for SLI {} in the SLI configuration and no Keptn default",
                    objective.sli
                )));
                continue;
            };
            let expr = match violation(&expr, objective) {
                Ok(e) => e,
                Err(reason) => {
                    skipped.push(skip(reason));
                    continue;
                }
            };
            let criteria: Vec<String> = objective
                .pass
                .iter()
                .map(|s| {
                    let texts: Vec<&str> = s.criteria.iter().map(|c| c.text()).collect();
                    texts.join(" and ")
                })
                .collect();
            let labels = BTreeMap::from([
                ("project".to_owned(), project.to_string()),
                ("stage".to_owned(), stage.to_string()),
                ("service".to_owned(), service.to_string()),
                ("sli".to_owned(), objective.sli.clone()),
                ("severity".to_owned(), "webhook".to_owned()),
            ]);
            let annotations = BTreeMap::from([
                ("summary".to_owned(), problem_title(&objective.sli)),
                (
                    "description".to_owned(),
                    format!(
                        "{} of {service} in {project}/{stage} is {{{{ $value }}}}, outside its pass criteria {}",
                        objective.display_name.as_deref().unwrap_or(&objective.sli),
                        criteria.join(" or ")
                    ),
                ),
            ]);
            group.rules.push(AlertRule {
                alert: objective.sli.clone(),
                expr,
                for_duration: format!("{}s", options.for_duration.as_secs()),
                labels,
                annotations,
            });
        }
        if !group.rules.is_empty() {
            file.groups.push(group);
        }
    }
    (file, skipped)
}

impl RuleFile {
    /// The file as Prometheus reads it.
    ///
    /// # Errors
    /// [`Error::Setup`] when YAML cannot be written (not expected for these types).
    pub fn to_yaml(&self) -> Result<String> {
        keptn_spec::to_yaml_string(self).map_err(|e| Error::Setup {
            message: e.to_string(),
        })
    }
}

/// Alertmanager's configuration with one route and one webhook receiver that posts every alert
/// group (firing and resolved) to the control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlertmanagerConfig {
    /// Where the webhook posts (the control plane's problem intake).
    pub url: String,
    /// A file holding a bearer token for the webhook, if the control plane wants one
    /// (Alertmanager reads it; the token is never in the configuration).
    pub credentials_file: Option<PathBuf>,
    /// How long Alertmanager waits to group the first alerts (Keptn: 10 s).
    pub group_wait: Duration,
    /// How long before a changed group is sent again, resolutions included.
    pub group_interval: Duration,
    /// How often a still-firing group is re-sent (Keptn: 30 min).
    pub repeat_interval: Duration,
}

impl AlertmanagerConfig {
    /// A configuration posting to `url` with Keptn's timing (10 s, 1 min, 30 min).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            credentials_file: None,
            group_wait: Duration::from_secs(10),
            group_interval: Duration::from_secs(60),
            repeat_interval: Duration::from_secs(1800),
        }
    }

    /// Sets the three timings.
    #[must_use]
    pub fn with_timing(mut self, wait: Duration, interval: Duration, repeat: Duration) -> Self {
        self.group_wait = wait;
        self.group_interval = interval;
        self.repeat_interval = repeat;
        self
    }

    /// The `alertmanager.yml` text: alerts grouped by `alertname`, `project`, `stage` and
    /// `service` (one group per SLI and service: one Keptn problem), resolutions sent.
    ///
    /// # Errors
    /// [`Error::Setup`] when the URL is not `http(s)://`.
    pub fn to_yaml(&self) -> Result<String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(Error::Setup {
                message: format!("webhook URL `{}`: expected http:// or https://", self.url),
            });
        }
        let secs = |d: Duration| format!("{}s", d.as_secs().max(1));
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        let mut out = String::new();
        out.push_str("route:\n  receiver: keptn\n");
        out.push_str("  group_by: [alertname, project, stage, service]\n");
        out.push_str(&format!("  group_wait: {}\n", secs(self.group_wait)));
        out.push_str(&format!(
            "  group_interval: {}\n",
            secs(self.group_interval)
        ));
        out.push_str(&format!(
            "  repeat_interval: {}\n",
            secs(self.repeat_interval)
        ));
        out.push_str("receivers:\n  - name: keptn\n    webhook_configs:\n");
        out.push_str(&format!(
            "      - url: {}\n        send_resolved: true\n",
            q(&self.url)
        ));
        if let Some(f) = &self.credentials_file {
            out.push_str(&format!(
                "        http_config:\n          authorization:\n            type: Bearer\n            credentials_file: {}\n",
                q(&f.display().to_string())
            ));
        }
        Ok(out)
    }
}

/// Writes `rules` as `<dir>/keptn-<project>-<service>.yml` (matched by a `rule_files:` glob
/// such as `<dir>/*.yml`) and, when given, `alertmanager` as `<dir>/alertmanager.yml`; returns
/// the paths written. Files are replaced atomically (written aside, then renamed), so a
/// Prometheus reloading at that moment sees the old or the new file, never half of one.
///
/// # Errors
/// [`Error::Setup`] naming the file that could not be written.
pub fn write_monitoring_files(
    dir: &Path,
    project: &ProjectName,
    service: &ServiceName,
    rules: &RuleFile,
    alertmanager: Option<&AlertmanagerConfig>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut files = vec![(
        dir.join(format!("keptn-{project}-{service}.yml")),
        rules.to_yaml()?,
    )];
    if let Some(am) = alertmanager {
        files.push((dir.join("alertmanager.yml"), am.to_yaml()?));
    }
    for (path, text) in files {
        let tmp = path.with_extension("yml.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::Setup {
                message: format!("cannot write {}: {e}", path.display()),
            })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::PrometheusClient;

    const SLO: &str = r#"
spec_version: "0.1.1"
filter:
  handler: ItemsController
objectives:
  - sli: response_time_p95
    displayName: Response time P95
    pass: [{ criteria: ["<=+10%", "<600"] }]
  - sli: error_rate
    pass: [{ criteria: ["<=0.05"] }, { criteria: [">=0.5", "<0.9"] }]
  - sli: throughput
  - sli: response_time_p50
    pass: [{ criteria: ["<=+10%"] }]
  - sli: cpu
    pass: [{ criteria: ["<1"] }]
total_score: { pass: "90%", warning: "75%" }
"#;

    fn generate() -> (RuleFile, Vec<SkippedObjective>) {
        let provider = PrometheusSliProvider::new(
            PrometheusClient::builder("http://127.0.0.1:1")
                .build()
                .unwrap(),
        );
        alert_rules(
            &provider,
            &"sockshop".parse().unwrap(),
            &"carts".parse().unwrap(),
            &[(
                "production".parse().unwrap(),
                Slo::from_yaml_str(SLO).unwrap(),
            )],
            &RuleOptions::default(),
        )
    }

    /// One rule per objective with an absolute pass criterion: the criteria inverted, blocks
    /// combined, labelled back to project/stage/service; the others are reported.
    #[test]
    fn rules_from_an_slo() {
        let (file, skipped) = generate();
        insta::assert_snapshot!(file.to_yaml().unwrap(), @r#"
        groups:
        - name: carts sockshop-production alerts
          rules:
          - alert: response_time_p95
            expr: >-
              (histogram_quantile(0.95,sum(rate(http_response_time_milliseconds_bucket{job='carts-sockshop-production-primary',handler='ItemsController'}[180s]))by(le))) >= 600
            for: 600s
            labels:
              project: sockshop
              service: carts
              severity: webhook
              sli: response_time_p95
              stage: production
            annotations:
              description: >-
                Response time P95 of carts in sockshop/production is {{ $value }}, outside its
                pass criteria <=+10% and <600
              summary: Response time degradation
          - alert: error_rate
            expr: >-
              (((sum(rate(http_requests_total{job='carts-sockshop-production-primary',handler='ItemsController',status!~'2..'}[180s])) or vector(0))/sum(rate(http_requests_total{job='carts-sockshop-production-primary',handler='ItemsController'}[180s]))) > 0.05) and ((((sum(rate(http_requests_total{job='carts-sockshop-production-primary',handler='ItemsController',status!~'2..'}[180s])) or vector(0))/sum(rate(http_requests_total{job='carts-sockshop-production-primary',handler='ItemsController'}[180s]))) < 0.5) or (((sum(rate(http_requests_total{job='carts-sockshop-production-primary',handler='ItemsController',status!~'2..'}[180s])) or vector(0))/sum(rate(http_requests_total{job='carts-sockshop-production-primary',handler='ItemsController'}[180s]))) >= 0.9))
            for: 600s
            labels:
              project: sockshop
              service: carts
              severity: webhook
              sli: error_rate
              stage: production
            annotations:
              description: >-
                error_rate of carts in sockshop/production is {{ $value }}, outside its pass
                criteria <=0.05 or >=0.5 and <0.9
              summary: Failure rate increase
    "#);
        let reasons: Vec<(&str, &str)> = skipped
            .iter()
            .map(|s| (s.sli.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].1.contains("informational"));
        assert!(reasons[1].1.contains("only relative criteria"));
        assert!(reasons[2].1.contains("no query for SLI cpu"));
    }

    /// The tour's SLO (`examples/fixtures/slo/slo.yaml`: p95 `<=+10%` and `<600`) gives one
    /// rule per stage: the absolute half of the criterion, over production's primary.
    #[test]
    fn rules_for_the_tour_slo() {
        let slo = Slo::from_yaml_str(include_str!("../../examples/fixtures/slo/slo.yaml")).unwrap();
        let provider = PrometheusSliProvider::new(
            PrometheusClient::builder("http://127.0.0.1:1")
                .build()
                .unwrap(),
        );
        let (file, skipped) = alert_rules(
            &provider,
            &"sockshop".parse().unwrap(),
            &"carts".parse().unwrap(),
            &[("production".parse().unwrap(), slo)],
            &RuleOptions::default(),
        );
        assert!(skipped.is_empty(), "{skipped:?}");
        let rule = &file.groups[0].rules[0];
        assert_eq!(file.groups[0].name, "carts sockshop-production alerts");
        assert_eq!(rule.alert, "response_time_p95");
        assert_eq!(
            rule.expr,
            "(histogram_quantile(0.95,sum(rate(http_response_time_milliseconds_bucket{job='carts-sockshop-production-primary'}[180s]))by(le))) >= 600"
        );
        assert_eq!(rule.annotations["summary"], "Response time degradation");
    }

    /// The Alertmanager configuration routes every group to the webhook with resolutions.
    #[test]
    fn alertmanager_configuration() {
        let mut c = AlertmanagerConfig::new("http://127.0.0.1:8080/problems");
        c.credentials_file = Some(PathBuf::from("/etc/keptn/token"));
        insta::assert_snapshot!(c.to_yaml().unwrap(), @r#"
        route:
          receiver: keptn
          group_by: [alertname, project, stage, service]
          group_wait: 10s
          group_interval: 60s
          repeat_interval: 1800s
        receivers:
          - name: keptn
            webhook_configs:
              - url: "http://127.0.0.1:8080/problems"
                send_resolved: true
                http_config:
                  authorization:
                    type: Bearer
                    credentials_file: "/etc/keptn/token"
        "#);
        assert!(AlertmanagerConfig::new("ftp://x").to_yaml().is_err());
    }

    /// The files land where `rule_files` globs find them.
    #[test]
    fn writes_files() {
        let dir = tempfile::tempdir().unwrap();
        let (file, _) = generate();
        let paths = write_monitoring_files(
            dir.path(),
            &"sockshop".parse().unwrap(),
            &"carts".parse().unwrap(),
            &file,
            Some(&AlertmanagerConfig::new("http://127.0.0.1:1/")),
        )
        .unwrap();
        assert!(paths[0].ends_with("keptn-sockshop-carts.yml"));
        let back: RuleFile =
            keptn_spec::from_yaml_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
        assert_eq!(back, file);
        assert!(paths[1].ends_with("alertmanager.yml"));
    }
}
