//! Any Keptn file: detect what it is, then parse and validate it with the right model.
//!
//! ```
//! use keptn_spec::{ParseOptions, document::{Document, DocumentKind}};
//!
//! let src = "spec_version: '1.0'\nindicators:\n  throughput: builtin:service.requestCount.total\n";
//! assert_eq!(Document::detect(src), Some(DocumentKind::SliConfig));
//! let parsed = Document::parse(src, &ParseOptions::new().file("sli.yaml"))?;
//! assert!(matches!(parsed.value, Document::SliConfig(_)));
//! assert_eq!(parsed.value.kind().to_string(), "SLI config");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, FieldPath, Location, Result};
use crate::event::KeptnEvent;
use crate::parse::invalid_from;
use crate::remediation::RemediationFile;
use crate::shipyard::{Shipyard, ShipyardFormat};
use crate::sli::SliConfig;
use crate::slo::Slo;
use crate::webhook::WebhookConfig;
use crate::yaml::{ParseOptions, Parsed, SourceMap};

/// What kind of Keptn file a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DocumentKind {
    /// A shipyard, in either format.
    Shipyard(ShipyardFormat),
    /// An SLO file (`slo.yaml`).
    Slo,
    /// An SLI configuration (`sli.yaml`: `spec_version`, `indicators`).
    SliConfig,
    /// The Kubernetes ConfigMap of Keptn 0.6's prometheus-sli-service, whose
    /// `data.custom-queries` holds the indicators.
    PrometheusSliConfigMap,
    /// A remediation file (0.6 list or `spec.keptn.sh/0.1.4`).
    Remediation,
    /// A webhook configuration (`webhookconfig.keptn.sh`).
    Webhook,
    /// A Keptn CloudEvent (JSON).
    Event,
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Shipyard(ShipyardFormat::V01) => "shipyard 0.1",
            Self::Shipyard(_) => "shipyard 0.2",
            Self::Slo => "SLO",
            Self::SliConfig => "SLI config",
            Self::PrometheusSliConfigMap => "SLI config in a Prometheus ConfigMap",
            Self::Remediation => "remediation",
            Self::Webhook => "webhook config",
            Self::Event => "event",
        })
    }
}

/// A parsed and validated Keptn file of any kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Document {
    /// A shipyard (0.1 files are converted to the canonical 0.2 model).
    Shipyard {
        /// The format the file was written in.
        format: ShipyardFormat,
        /// The canonical shipyard.
        shipyard: Shipyard,
    },
    /// An SLO file.
    Slo(Slo),
    /// An SLI configuration (also from a Prometheus ConfigMap).
    SliConfig(SliConfig),
    /// A remediation file.
    Remediation(RemediationFile),
    /// A webhook configuration.
    Webhook(WebhookConfig),
    /// A Keptn CloudEvent.
    Event(Box<KeptnEvent>),
}

impl Document {
    /// Guesses the kind of `src` from its top-level keys (and `apiVersion`/`kind`):
    /// - `apiVersion: spec.keptn.sh/…` with `kind: Shipyard`, or a top-level `stages` list:
    ///   shipyard; `kind: Remediation` or a top-level `remediations` list: remediation;
    ///   `apiVersion: webhookconfig.keptn.sh/…`: webhook config;
    /// - `specversion` and `type`: event; `indicators`: SLI config; `objectives`,
    ///   `total_score` or `comparison`: SLO; `kind: ConfigMap` with `data.custom-queries`:
    ///   Prometheus SLI ConfigMap.
    ///
    /// `None` when it looks like none of them (or is not YAML/JSON).
    pub fn detect(src: &str) -> Option<DocumentKind> {
        detect_in(&SourceMap::build(src))
    }

    /// The kind of this document.
    pub fn kind(&self) -> DocumentKind {
        match self {
            Self::Shipyard { format, .. } => DocumentKind::Shipyard(*format),
            Self::Slo(_) => DocumentKind::Slo,
            Self::SliConfig(_) => DocumentKind::SliConfig,
            Self::Remediation(_) => DocumentKind::Remediation,
            Self::Webhook(_) => DocumentKind::Webhook,
            Self::Event(_) => DocumentKind::Event,
        }
    }

    /// Detects the kind of `src`, then parses and validates it with that kind's model.
    ///
    /// # Errors
    /// [`Error::Parse`] when the kind cannot be told or the text does not have that kind's
    /// shape; [`Error::Invalid`] when it parsed but breaks a rule of its kind.
    pub fn parse(src: &str, options: &ParseOptions) -> Result<Parsed<Document>> {
        let map = SourceMap::build(src);
        let Some(kind) = detect_in(&map) else {
            let message = if map.get(&FieldPath::root()).is_none() {
                // not even YAML: let the parser say why
                match options.parse::<serde::de::IgnoredAny>(src) {
                    Err(e) => return Err(e),
                    Ok(_) => "the document is empty".to_owned(),
                }
            } else {
                "cannot tell what kind of Keptn file this is (expected a shipyard, SLO, SLI \
                 config, remediation, webhook config or event)"
                    .to_owned()
            };
            return Err(Error::Parse {
                file: options.file_name().map(str::to_owned),
                location: Some(Location { line: 1, column: 1 }),
                message,
            });
        };
        Self::parse_as(kind, src, options)
    }

    /// Detects the kind of `src`, then parses and validates it, as [`Document::parse`] with
    /// default options, without the warnings.
    ///
    /// # Errors
    /// As [`Document::parse`].
    pub fn from_yaml_str(src: &str) -> Result<Self> {
        Ok(Self::parse(src, &ParseOptions::new())?.value)
    }

    /// Parses and validates `src` as a document of `kind`.
    ///
    /// # Errors
    /// As [`Document::parse`].
    pub fn parse_as(
        kind: DocumentKind,
        src: &str,
        options: &ParseOptions,
    ) -> Result<Parsed<Document>> {
        match kind {
            DocumentKind::Shipyard(_) => Ok(Shipyard::parse_with_format(src, options)?
                .map(|(format, shipyard)| Document::Shipyard { format, shipyard })),
            DocumentKind::Slo => Ok(Slo::parse(src, options)?.map(Document::Slo)),
            DocumentKind::SliConfig => Ok(SliConfig::parse(src, options)?.map(Document::SliConfig)),
            DocumentKind::PrometheusSliConfigMap => parse_prometheus_config_map(src, options),
            DocumentKind::Remediation => {
                Ok(RemediationFile::parse(src, options)?.map(Document::Remediation))
            }
            DocumentKind::Webhook => Ok(WebhookConfig::parse(src, options)?.map(Document::Webhook)),
            DocumentKind::Event => {
                let event = KeptnEvent::from_json_str(src).map_err(|e| with_file(e, options))?;
                // the same text through the YAML layer, for positions of later problems
                let parsed = match options.parse::<serde::de::IgnoredAny>(src) {
                    Ok(p) => p.map(|_| ()),
                    Err(_) => Parsed::unlocated((), options.file_name()),
                };
                if let Err(e) = event.validate() {
                    return Err(invalid_from(e, &parsed));
                }
                Ok(parsed.map(|()| Document::Event(Box::new(event))))
            }
        }
    }
}

fn with_file(e: Error, options: &ParseOptions) -> Error {
    match options.file_name() {
        Some(f) => e.with_file(f),
        None => e,
    }
}

fn detect_in(map: &SourceMap) -> Option<DocumentKind> {
    let root = FieldPath::root();
    let keys = map.keys(&root);
    let has = |k: &str| keys.contains(&k);
    let scalar = |k: &str| map.scalar(&root.key(k)).unwrap_or("");
    let api = scalar("apiVersion");
    let kind = scalar("kind");
    if has("specversion") && has("type") {
        return Some(DocumentKind::Event);
    }
    if api.starts_with("webhookconfig.keptn.sh/") || kind == "WebhookConfig" || kind == "Webhook" {
        return Some(DocumentKind::Webhook);
    }
    if kind == "Remediation" || has("remediations") {
        return Some(DocumentKind::Remediation);
    }
    if kind == "Shipyard" {
        return Some(DocumentKind::Shipyard(ShipyardFormat::V02));
    }
    if kind == "ConfigMap" && map.get(&root.key("data").key("custom-queries")).is_some() {
        return Some(DocumentKind::PrometheusSliConfigMap);
    }
    if api.starts_with("spec.keptn.sh/") && has("spec") {
        // a spec.keptn.sh document without a known kind: read it as a shipyard (which
        // reports a wrong kind as a warning) when it has stages, else as a remediation
        if map.get(&root.key("spec").key("stages")).is_some() {
            return Some(DocumentKind::Shipyard(ShipyardFormat::V02));
        }
        if map.get(&root.key("spec").key("remediations")).is_some() {
            return Some(DocumentKind::Remediation);
        }
    }
    if has("stages") {
        return Some(DocumentKind::Shipyard(ShipyardFormat::V01));
    }
    if has("indicators") {
        return Some(DocumentKind::SliConfig);
    }
    if has("objectives") || has("total_score") || has("comparison") {
        return Some(DocumentKind::Slo);
    }
    None
}

/// Keptn 0.6's prometheus-sli-service read its queries from a ConfigMap whose
/// `data.custom-queries` is a YAML text of `name: query` lines.
fn parse_prometheus_config_map(src: &str, options: &ParseOptions) -> Result<Parsed<Document>> {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)] // the other fields are read only so that they are not unknown keys
    struct ConfigMap {
        #[serde(rename = "apiVersion", default)]
        api_version: String,
        #[serde(default)]
        kind: String,
        #[serde(default)]
        metadata: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        data: BTreeMap<String, String>,
    }
    let parsed = options.parse::<ConfigMap>(src)?;
    let path = FieldPath::root().key("data").key("custom-queries");
    let text = parsed
        .value
        .data
        .get("custom-queries")
        .cloned()
        .unwrap_or_default();
    let queries: BTreeMap<String, String> = match crate::from_yaml_str(&text) {
        Ok(q) => q,
        Err(e) => {
            return Err(Error::Parse {
                file: parsed.file().map(str::to_owned),
                location: parsed.locate(&path),
                message: format!("{path}: the embedded queries are not a map of name: query ({e})"),
            });
        }
    };
    Ok(parsed.map(|_| Document::SliConfig(SliConfig::new(queries))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind is recognised from its own keys.
    #[test]
    fn detects_each_kind() {
        let cases = [
            (
                "stages:\n  - name: dev\n",
                Some(DocumentKind::Shipyard(ShipyardFormat::V01)),
            ),
            (
                "apiVersion: spec.keptn.sh/0.2.0\nkind: Shipyard\nspec: {stages: []}\n",
                Some(DocumentKind::Shipyard(ShipyardFormat::V02)),
            ),
            ("objectives: []\n", Some(DocumentKind::Slo)),
            (
                "spec_version: '1.0'\nindicators: {}\n",
                Some(DocumentKind::SliConfig),
            ),
            ("remediations: []\n", Some(DocumentKind::Remediation)),
            (
                "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nspec: {remediations: []}\n",
                Some(DocumentKind::Remediation),
            ),
            (
                "apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\nspec: {}\n",
                Some(DocumentKind::Webhook),
            ),
            (
                r#"{"specversion": "1.0", "type": "sh.keptn.event.test.triggered"}"#,
                Some(DocumentKind::Event),
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\ndata:\n  custom-queries: |\n    a: b\n",
                Some(DocumentKind::PrometheusSliConfigMap),
            ),
            ("hello: world\n", None),
            ("", None),
            ("[: not yaml", None),
        ];
        for (src, kind) in cases {
            assert_eq!(Document::detect(src), kind, "{src}");
        }
    }

    /// An unknown document is a parse error that says what was expected.
    #[test]
    fn unknown_kind_is_a_parse_error() {
        let err =
            Document::parse("hello: world\n", &ParseOptions::new().file("x.yaml")).unwrap_err();
        assert!(err.is_parse());
        assert_eq!(
            err.to_string(),
            "x.yaml:1:1: cannot tell what kind of Keptn file this is (expected a shipyard, SLO, \
             SLI config, remediation, webhook config or event)"
        );
    }

    /// The queries of a Prometheus ConfigMap become an SLI config.
    #[test]
    fn reads_prometheus_config_map() {
        let src = "apiVersion: v1\nkind: ConfigMap\ndata:\n  custom-queries: |\n    cpu: avg(x)\n    rt: sum(y)\nmetadata:\n  name: m\n";
        let doc = Document::parse(src, &ParseOptions::new()).unwrap();
        let Document::SliConfig(sli) = doc.value else {
            panic!("not an SLI config")
        };
        assert_eq!(sli.query("rt"), Some("sum(y)"));
    }
}
