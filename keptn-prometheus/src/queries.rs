//! PromQL for SLIs: Keptn's default queries, the default label filter and the placeholders.

use std::collections::BTreeMap;
use std::time::Duration;

use keptn_spec::sli::{Escaping, Placeholders};
use keptn_spec::{ProjectName, ServiceName, StageName};

/// The SLIs with a default query: `throughput`, `error_rate`, `response_time_p50`,
/// `response_time_p90`, `response_time_p95`.
pub const DEFAULT_SLIS: [&str; 5] = [
    "throughput",
    "error_rate",
    "response_time_p50",
    "response_time_p90",
    "response_time_p95",
];

/// Everything that fills a query's placeholders and the default filter: one service in one
/// stage, measured over one window.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryScope {
    /// The project.
    pub project: ProjectName,
    /// The stage.
    pub stage: StageName,
    /// The service.
    pub service: ServiceName,
    /// The deployment (`canary`, `primary`, `direct`, …), when known.
    pub deployment: Option<String>,
    /// The window length (`$DURATION_SECONDS`, and the range of the default queries).
    pub window: Duration,
    /// The SLO's `filter` map (Keptn's `customFilters`).
    pub custom_filters: BTreeMap<String, String>,
    /// Free labels (`$LABEL.<name>`).
    pub labels: BTreeMap<String, String>,
}

impl QueryScope {
    /// A scope without deployment, filters or labels.
    pub fn new(
        project: ProjectName,
        stage: StageName,
        service: ServiceName,
        window: Duration,
    ) -> Self {
        Self {
            project,
            stage,
            service,
            deployment: None,
            window,
            custom_filters: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    /// Sets the deployment.
    #[must_use]
    pub fn with_deployment(mut self, deployment: impl Into<String>) -> Self {
        self.deployment = Some(deployment.into());
        self
    }

    /// Sets the custom filters.
    #[must_use]
    pub fn with_custom_filters(mut self, filters: BTreeMap<String, String>) -> Self {
        self.custom_filters = filters;
        self
    }

    /// Sets the labels.
    #[must_use]
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }

    /// `$DURATION_SECONDS`: the window in whole seconds, rounded up, with an `s` (`600s`), as
    /// Keptn wrote it; at least `1s` so that a range selector stays valid.
    pub fn duration_seconds(&self) -> String {
        let secs = self.window.as_secs() + u64::from(self.window.subsec_nanos() > 0);
        format!("{}s", secs.max(1))
    }

    /// The scrape job the default queries select: `<service>-<project>-<stage>-<deployment>`
    /// as Keptn's scrape jobs were named; without a deployment `-canary` (what Keptn's SLI
    /// queries always used); for `direct` no suffix (Keptn's job of directly deployed services).
    pub fn job(&self) -> String {
        let base = format!("{}-{}-{}", self.service, self.project, self.stage);
        match self.deployment.as_deref() {
            None | Some("") => format!("{base}-canary"),
            Some("direct") => base,
            Some(d) => format!("{base}-{d}"),
        }
    }

    /// The label matchers of the default queries: `job='<job>'` (unless a `job` filter is
    /// given), then each custom filter as `key='value'` (quotes stripped) or, when the value
    /// starts with an operator (`=`, `!=`, `=~`, `!~`), as `key<value>` with `"` turned into `'`.
    pub fn filter_expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.custom_filters.contains_key("job") {
            parts.push(format!("job='{}'", self.job()));
        }
        for (key, value) in &self.custom_filters {
            if ["=", "!=", "=~", "!~"]
                .iter()
                .any(|op| value.starts_with(op))
            {
                parts.push(format!("{key}{}", value.replace('"', "'")));
            } else {
                parts.push(format!("{key}='{}'", value.replace(['\'', '"'], "")));
            }
        }
        parts.join(",")
    }

    /// Fills `template`'s placeholders: the SLO filters (`$key`, `$KEY`), `$PROJECT`,
    /// `$STAGE`, `$SERVICE`, `$DEPLOYMENT`, `$LABEL.<name>`, then `$DURATION_SECONDS` (Keptn's
    /// order).
    pub fn apply(&self, template: &str) -> String {
        let mut values = Placeholders::new(
            self.project.clone(),
            self.stage.clone(),
            self.service.clone(),
        )
        .with_labels(self.labels.clone())
        .with_filters(self.custom_filters.clone());
        if let Some(d) = &self.deployment {
            values = values.with_deployment(d.clone());
        }
        values
            .apply(template, Escaping::None)
            .replace("$DURATION_SECONDS", &self.duration_seconds())
    }

    /// Keptn's default query for `sli`, or `None` for a name without one. The metrics are the
    /// ones Keptn's prometheus-service assumed: the counter `http_requests_total` with a
    /// `status` label and the histogram `http_response_time_milliseconds`.
    ///
    /// `error_rate` differs from Keptn on purpose: the failed-request rate is `or vector(0)`,
    /// so a service that served requests without a single failure has an error rate of `0`
    /// (in Keptn the empty vector became `0` by accident of the client), while a window without
    /// any request still has no value.
    pub fn default_query(&self, sli: &str) -> Option<String> {
        let f = self.filter_expression();
        let d = self.duration_seconds();
        let quantile = |q: &str| {
            format!(
                "histogram_quantile(0.{q},sum(rate(http_response_time_milliseconds_bucket{{{f}}}[{d}]))by(le))"
            )
        };
        Some(match sli {
            "throughput" => format!("sum(rate(http_requests_total{{{f}}}[{d}]))"),
            "error_rate" => format!(
                "(sum(rate(http_requests_total{{{f},status!~'2..'}}[{d}])) or vector(0))/sum(rate(http_requests_total{{{f}}}[{d}]))"
            ),
            "response_time_p50" => quantile("50"),
            "response_time_p90" => quantile("90"),
            "response_time_p95" => quantile("95"),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> QueryScope {
        QueryScope::new(
            "sockshop".parse().unwrap(),
            "staging".parse().unwrap(),
            "carts".parse().unwrap(),
            Duration::from_secs(600),
        )
    }

    /// The five defaults, exactly as sent (Keptn's metric names, job and window).
    #[test]
    fn default_queries() {
        let s = scope();
        insta::assert_snapshot!(s.default_query("throughput").unwrap(), @"sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[600s]))");
        insta::assert_snapshot!(s.default_query("error_rate").unwrap(), @"(sum(rate(http_requests_total{job='carts-sockshop-staging-canary',status!~'2..'}[600s])) or vector(0))/sum(rate(http_requests_total{job='carts-sockshop-staging-canary'}[600s]))");
        insta::assert_snapshot!(s.default_query("response_time_p95").unwrap(), @"histogram_quantile(0.95,sum(rate(http_response_time_milliseconds_bucket{job='carts-sockshop-staging-canary'}[600s]))by(le))");
        assert!(
            s.default_query("response_time_p50")
                .unwrap()
                .starts_with("histogram_quantile(0.50,")
        );
        assert!(
            s.default_query("response_time_p90")
                .unwrap()
                .starts_with("histogram_quantile(0.90,")
        );
        assert_eq!(s.default_query("cpu"), None);
    }

    /// Filters: plain values quoted, operator values kept, a `job` filter replaces the job.
    #[test]
    fn custom_filters_and_job() {
        let filters = BTreeMap::from([
            ("handler".to_owned(), "\"ItemsController\"".to_owned()),
            ("path".to_owned(), "=~\"/carts/.*\"".to_owned()),
        ]);
        let s = scope()
            .with_deployment("primary")
            .with_custom_filters(filters);
        assert_eq!(
            s.filter_expression(),
            "job='carts-sockshop-staging-primary',handler='ItemsController',path=~'/carts/.*'"
        );
        let s = s.with_custom_filters(BTreeMap::from([("job".to_owned(), "api".to_owned())]));
        assert_eq!(s.filter_expression(), "job='api'");
        assert_eq!(
            scope().with_deployment("direct").job(),
            "carts-sockshop-staging"
        );
    }

    /// Every placeholder is filled; the window is rounded up to whole seconds.
    #[test]
    fn placeholders() {
        let mut s = scope()
            .with_deployment("canary")
            .with_labels(BTreeMap::from([("region".to_owned(), "eu".to_owned())]))
            .with_custom_filters(BTreeMap::from([("handler".to_owned(), "'add'".to_owned())]));
        s.window = Duration::from_millis(90_500);
        assert_eq!(
            s.apply("x{p='$PROJECT',s='$STAGE',v='$SERVICE',d='$DEPLOYMENT',r='$LABEL.region',h='$handler',H='$HANDLER'}[$DURATION_SECONDS]"),
            "x{p='sockshop',s='staging',v='carts',d='canary',r='eu',h='add',H='add'}[91s]"
        );
        s.window = Duration::ZERO;
        assert_eq!(s.duration_seconds(), "1s");
    }
}
