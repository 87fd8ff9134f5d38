//! SLI configuration: the provider-specific `sli.yaml` that maps SLI names to queries.
//!
//! ```
//! use keptn_spec::sli::{Escaping, Placeholders, SliConfig};
//! use keptn_spec::{ProjectName, ServiceName, StageName};
//!
//! let config = SliConfig::from_yaml_str(r#"
//! spec_version: '1.0'
//! indicators:
//!   throughput: "metricSelector=builtin:service.requestCount.total:merge(0):sum&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_deployment:$DEPLOYMENT)"
//! "#)?;
//! let values = Placeholders::new(
//!     ProjectName::new("sockshop")?,
//!     StageName::new("staging")?,
//!     ServiceName::new("carts")?,
//! )
//! .with_deployment("canary");
//! let query = values.apply(config.query("throughput").unwrap(), Escaping::None);
//! assert!(query.ends_with("tag(keptn_project:sockshop),tag(keptn_deployment:canary)"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::names::{ProjectName, ServiceName, StageName};

/// An SLI configuration file (`dynatrace/sli.yaml`, `prometheus/sli.yaml`, …): SLI name → query.
///
/// Parsing is tolerant of unknown top-level keys (Keptn never validated this file, and
/// `spec_version` is not checked either); the query strings are kept verbatim, placeholders
/// included. Use [`Placeholders::apply`] to fill them in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SliConfig {
    /// The file's `spec_version`, such as `1.0` (never validated, as in Keptn). A number written
    /// without quotes (`spec_version: 1.0`) is read as its text.
    #[serde(default, deserialize_with = "string_or_number")]
    pub spec_version: String,
    /// SLI name → provider query, such as `throughput` →
    /// `metricSelector=builtin:service.requestCount.total:merge(0):sum&entitySelector=…`.
    #[serde(default)]
    pub indicators: BTreeMap<String, String>,
}

impl SliConfig {
    /// A configuration with the given indicators and `spec_version: "1.0"`.
    pub fn new(indicators: BTreeMap<String, String>) -> Self {
        Self {
            spec_version: "1.0".to_owned(),
            indicators,
        }
    }

    /// The query configured for `sli`, if any.
    pub fn query(&self, sli: &str) -> Option<&str> {
        self.indicators.get(sli).map(String::as_str)
    }

    /// Layers `other` over `self`: indicators in `other` replace those of the same name (Keptn
    /// reads the project-, then the stage-, then the service-level file).
    #[must_use]
    pub fn layered(mut self, other: &SliConfig) -> Self {
        for (name, query) in &other.indicators {
            self.indicators.insert(name.clone(), query.clone());
        }
        if !other.spec_version.is_empty() {
            self.spec_version.clone_from(&other.spec_version);
        }
        self
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        I(i64),
        F(f64),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::S(s) => s,
        Raw::I(i) => i.to_string(),
        Raw::F(f) => {
            let s = f.to_string();
            if s.contains('.') { s } else { format!("{s}.0") }
        }
    })
}

/// How placeholder values are written into a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Escaping {
    /// Values are inserted as they are. Use this when the query is split into parameters
    /// first and every parameter is URL-encoded afterwards (what `keptn-dynatrace` does).
    None,
    /// Values are URL-query-escaped as Keptn's dynatrace-sli-service 0.4+ did (Go's
    /// `url.QueryEscape`: unreserved characters kept, space → `+`, everything else `%XX`).
    /// Use this when the result is pasted into a URL as it is.
    Query,
}

/// The values that fill an SLI query's placeholders:
/// `$PROJECT`, `$STAGE`, `$SERVICE`, `$DEPLOYMENT`, `$LABEL.<name>`, and for each SLO `filter`
/// entry `key: value` both `$key` and `$KEY`.
///
/// Replacement order is Keptn's: filters first, then `$PROJECT`, `$STAGE`, `$SERVICE`,
/// `$DEPLOYMENT`, then labels. Quotes (`'`, `"`) are stripped from filter values. An unknown
/// placeholder is left as it is. `$DEPLOYMENT` without a deployment becomes empty, as in Keptn.
/// `$ENV.<name>` is deliberately not supported: this crate does not read the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders {
    project: ProjectName,
    stage: StageName,
    service: ServiceName,
    deployment: Option<String>,
    labels: BTreeMap<String, String>,
    filters: BTreeMap<String, String>,
}

impl Placeholders {
    /// Placeholder values for one service in one stage, without deployment, labels or filters.
    pub fn new(project: ProjectName, stage: StageName, service: ServiceName) -> Self {
        Self {
            project,
            stage,
            service,
            deployment: None,
            labels: BTreeMap::new(),
            filters: BTreeMap::new(),
        }
    }

    /// Sets the `$DEPLOYMENT` value (`canary`, `primary`, `direct`, …).
    #[must_use]
    pub fn with_deployment(mut self, deployment: impl Into<String>) -> Self {
        self.deployment = Some(deployment.into());
        self
    }

    /// Sets the `$LABEL.<name>` values.
    #[must_use]
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels = labels;
        self
    }

    /// Sets the SLO `filter` entries (Keptn's `customFilters`).
    #[must_use]
    pub fn with_filters(mut self, filters: BTreeMap<String, String>) -> Self {
        self.filters = filters;
        self
    }

    /// Replaces every known placeholder in `template`.
    pub fn apply(&self, template: &str, escaping: Escaping) -> String {
        let esc = |v: &str| match escaping {
            Escaping::None => v.to_owned(),
            Escaping::Query => query_escape(v),
        };
        let mut out = template.to_owned();
        for (key, value) in &self.filters {
            if key.is_empty() {
                continue;
            }
            let value = esc(&value.replace(['\'', '"'], ""));
            out = out.replace(&format!("${key}"), &value);
            out = out.replace(&format!("${}", key.to_uppercase()), &value);
        }
        out = out.replace("$PROJECT", &esc(self.project.as_str()));
        out = out.replace("$STAGE", &esc(self.stage.as_str()));
        out = out.replace("$SERVICE", &esc(self.service.as_str()));
        out = out.replace(
            "$DEPLOYMENT",
            &esc(self.deployment.as_deref().unwrap_or_default()),
        );
        for (name, value) in &self.labels {
            out = out.replace(&format!("$LABEL.{name}"), &esc(value));
        }
        out
    }
}

impl fmt::Display for Escaping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Escaping::None => "none",
            Escaping::Query => "query",
        })
    }
}

/// Go's `url.QueryEscape`: `A–Z a–z 0–9 - _ . ~` kept, space → `+`, other bytes → `%XX`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values() -> Placeholders {
        Placeholders::new(
            ProjectName::new("sockshop").unwrap(),
            StageName::new("staging").unwrap(),
            ServiceName::new("carts").unwrap(),
        )
    }

    /// The Dynatrace SLI file of the onboarding-carts example parses with every indicator.
    #[test]
    fn parses_keptn_dynatrace_sli_file() {
        let c = SliConfig::from_yaml_str(
            r#"---
spec_version: '1.0'
indicators:
  throughput: "builtin:service.requestCount.total:merge(0):sum?scope=tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE)"
  response_time_p95: "metricSelector=builtin:service.response.time:merge(\"dt.entity.service\"):percentile(95)&entitySelector=type(SERVICE)"
"#,
        )
        .unwrap();
        assert_eq!(c.spec_version, "1.0");
        assert_eq!(c.indicators.len(), 2);
        assert_eq!(
            c.query("response_time_p95"),
            Some(
                "metricSelector=builtin:service.response.time:merge(\"dt.entity.service\"):percentile(95)&entitySelector=type(SERVICE)"
            )
        );
        assert_eq!(c.query("nope"), None);
    }

    /// An unquoted `spec_version: 1.0` is read as the text `1.0`, not rejected.
    #[test]
    fn unquoted_spec_version_is_text() {
        let c = SliConfig::from_yaml_str("spec_version: 1.0\nindicators: {}\n").unwrap();
        assert_eq!(c.spec_version, "1.0");
        let c = SliConfig::from_yaml_str("spec_version: 1\n").unwrap();
        assert_eq!(c.spec_version, "1");
    }

    /// Unknown top-level keys are tolerated (Keptn never validated this file).
    #[test]
    fn unknown_keys_are_tolerated() {
        let c = SliConfig::from_yaml_str("spec_version: '1.0'\nfoo: bar\nindicators:\n  a: b\n")
            .unwrap();
        assert_eq!(c.query("a"), Some("b"));
    }

    /// A non-map `indicators` is an error with a location, not a panic.
    #[test]
    fn indicators_must_be_a_map() {
        let err =
            SliConfig::from_yaml_str("spec_version: '1.0'\nindicators:\n  - a\n").unwrap_err();
        let crate::Error::Parse { location, .. } = &err else {
            panic!("expected a parse error: {err:?}")
        };
        assert_eq!(location.map(|l| l.line), Some(3), "{err}");
    }

    /// Project, stage, service and deployment placeholders are replaced.
    #[test]
    fn replaces_entity_placeholders() {
        let q = values().with_deployment("canary").apply(
            "tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)",
            Escaping::None,
        );
        assert_eq!(
            q,
            "tag(keptn_project:sockshop),tag(keptn_stage:staging),tag(keptn_service:carts),tag(keptn_deployment:canary)"
        );
    }

    /// Without a deployment, `$DEPLOYMENT` becomes empty (Keptn's behaviour).
    #[test]
    fn missing_deployment_is_empty() {
        assert_eq!(values().apply("d=$DEPLOYMENT;", Escaping::None), "d=;");
    }

    /// SLO filters replace `$key` and `$KEY`, with quotes stripped, before the built-ins.
    #[test]
    fn filters_replace_lower_and_upper_case_keys_first() {
        let filters = BTreeMap::from([
            ("mz_id".to_owned(), "'4711'".to_owned()),
            ("project".to_owned(), "other".to_owned()),
        ]);
        let q = values()
            .with_filters(filters)
            .apply("mz=$mz_id,MZ=$MZ_ID,p=$PROJECT", Escaping::None);
        assert_eq!(q, "mz=4711,MZ=4711,p=other");
    }

    /// `$LABEL.<name>` takes the label's value; unknown placeholders stay.
    #[test]
    fn labels_and_unknown_placeholders() {
        let labels = BTreeMap::from([("buildnr".to_owned(), "17".to_owned())]);
        let q = values()
            .with_labels(labels)
            .apply("b=$LABEL.buildnr,x=$LABEL.other,$ENV.HOME", Escaping::None);
        assert_eq!(q, "b=17,x=$LABEL.other,$ENV.HOME");
    }

    /// With query escaping, values are escaped as Go's `url.QueryEscape` does.
    #[test]
    fn query_escaping_matches_go() {
        let labels = BTreeMap::from([("x".to_owned(), "a b&c=d/é".to_owned())]);
        let q = values()
            .with_labels(labels)
            .apply("v=$LABEL.x", Escaping::Query);
        assert_eq!(q, "v=a+b%26c%3Dd%2F%C3%A9");
    }

    /// Layering replaces indicators of the same name and keeps the others.
    #[test]
    fn layering_overrides_by_name() {
        let project = SliConfig::new(BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]));
        let service = SliConfig::new(BTreeMap::from([("b".to_owned(), "3".to_owned())]));
        let merged = project.layered(&service);
        assert_eq!(merged.query("a"), Some("1"));
        assert_eq!(merged.query("b"), Some("3"));
    }

    proptest! {
        /// serialize → parse gives back the same configuration.
        #[test]
        fn yaml_round_trip(
            version in "[0-9]\\.[0-9]",
            indicators in proptest::collection::btree_map(
                "[a-z_][a-z0-9_]{0,12}",
                "[ -~]{0,60}",
                0..6,
            ),
        ) {
            let c = SliConfig { spec_version: version, indicators };
            let yaml = serde_saphyr::to_string(&c).unwrap();
            let back = SliConfig::from_yaml_str(&yaml).unwrap();
            prop_assert_eq!(back, c);
        }

        /// Parsing arbitrary text never panics.
        #[test]
        fn parse_never_panics(src in "\\PC{0,200}") {
            let _ = SliConfig::from_yaml_str(&src);
        }
    }
}
