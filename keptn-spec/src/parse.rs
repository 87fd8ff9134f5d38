//! The entry points every model offers, one pair per model:
//!
//! - `X::from_yaml_str(&str) -> Result<X>`: the read Keptn does at run time, for the common case;
//! - `X::parse(&str, &ParseOptions) -> Result<Parsed<X>>`: the checked read, for validators and
//!   tools that show where things are: the file name in messages, [`Strictness`](crate::Strictness),
//!   located warnings, and the model's own rules reported with line and column.
//!
//! Most models define both next to their type; this module holds the ones for models whose
//! `parse` needs the located post-parse check below, and that check itself.

use crate::error::{Diagnostic, Error, FieldPath, Result};
use crate::remediation::RemediationFile;
use crate::sli::SliConfig;
use crate::slo::Slo;
use crate::webhook::WebhookConfig;
use crate::yaml::{ParseOptions, Parsed};

impl Slo {
    /// Reads an SLO file with `options` and checks it ([`Slo::validate`]): every criterion
    /// parses, the `total_score` thresholds are numbers, comparison settings are known.
    /// Unknown keys are warnings (errors in strict mode).
    ///
    /// # Errors
    /// [`Error::Parse`] when the text is not an SLO file; [`Error::Invalid`] locating the first
    /// broken rule.
    pub fn parse(src: &str, options: &ParseOptions) -> Result<Parsed<Slo>> {
        let parsed = options.parse::<Slo>(src)?;
        if let Err(e) = parsed.value.validate() {
            return Err(invalid_from(e, &parsed));
        }
        Ok(parsed)
    }
}

impl SliConfig {
    /// Reads an `sli.yaml` document with `options`; unknown keys are warnings (errors in strict
    /// mode).
    ///
    /// # Errors
    /// [`Error::Parse`] with line and column when the text is not YAML or `indicators` is not a
    /// map of strings.
    pub fn parse(src: &str, options: &ParseOptions) -> Result<Parsed<SliConfig>> {
        options.parse(src)
    }

    /// Reads an `sli.yaml` document.
    ///
    /// # Errors
    /// As [`SliConfig::parse`].
    pub fn from_yaml_str(src: &str) -> Result<Self> {
        crate::from_yaml_str(src)
    }
}

impl RemediationFile {
    /// Reads a remediation file (the 0.6 list or `spec.keptn.sh/0.1.4`) with `options`; unknown
    /// keys are warnings (errors in strict mode).
    ///
    /// # Errors
    /// [`Error::Parse`] with line and column when the text is neither form.
    pub fn parse(src: &str, options: &ParseOptions) -> Result<Parsed<RemediationFile>> {
        options.parse(src)
    }

    /// Reads a remediation file (the 0.6 list or `spec.keptn.sh/0.1.4`).
    ///
    /// # Errors
    /// As [`RemediationFile::parse`].
    pub fn from_yaml_str(src: &str) -> Result<Self> {
        crate::from_yaml_str(src)
    }
}

impl WebhookConfig {
    /// Reads a `webhook.yaml` with `options`; unknown keys are warnings (errors in strict mode).
    ///
    /// # Errors
    /// [`Error::Parse`] with line and column when the text is not a webhook configuration.
    pub fn parse(src: &str, options: &ParseOptions) -> Result<Parsed<WebhookConfig>> {
        options.parse(src)
    }

    /// Reads a `webhook.yaml`.
    ///
    /// # Errors
    /// As [`WebhookConfig::parse`].
    pub fn from_yaml_str(src: &str) -> Result<Self> {
        crate::from_yaml_str(src)
    }
}

/// Turns an unlocated error from a model's own post-parse check (whose message may start with
/// a field path, `objectives[0].pass[0].criteria[1]: …`) into a located [`Error::Invalid`].
pub(crate) fn invalid_from<T>(e: Error, parsed: &Parsed<T>) -> Error {
    let (location, message) = match &e {
        Error::Parse {
            location, message, ..
        } => (*location, message.clone()),
        Error::Invalid { .. } => return with_file_opt(e, parsed.file()),
    };
    let (path, message) = match FieldPath::parse_prefix(&message) {
        Some((path, rest)) => (path, rest.to_owned()),
        None => (FieldPath::root(), message),
    };
    let location = location.or_else(|| (!path.is_root()).then(|| parsed.locate(&path)).flatten());
    Error::Invalid {
        file: parsed.file().map(str::to_owned),
        problems: vec![Diagnostic {
            file: parsed.file().map(str::to_owned),
            location,
            path,
            message,
            suggestion: None,
        }],
    }
}

fn with_file_opt(e: Error, file: Option<&str>) -> Error {
    match file {
        Some(f) => e.with_file(f),
        None => e,
    }
}
