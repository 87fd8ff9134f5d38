//! An SLI provider that reads values from a JSON file, for offline use.

use std::path::PathBuf;

use async_trait::async_trait;
use keptn_spec::SliValue;
use keptn_spec::evaluation::Status;

use crate::provider::{ProviderError, SliProvider, SliQuery};
use crate::report::SliReport;

/// Reads SLI values from a JSON file on every fetch: either an array of
/// `{"metric","value","success","message"}` or a Keptn `get-sli.finished` data object.
///
/// Every requested indicator that the file does not contain is returned as a failed value
/// (never as zero); a file whose `status` is `errored` or `aborted` is a provider error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSliProvider {
    path: PathBuf,
}

impl FileSliProvider {
    /// A provider reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Parses the contents of an SLI file (either accepted shape).
    ///
    /// # Errors
    /// The JSON error (with line and column) when the text is neither shape.
    pub fn parse(text: &str) -> Result<SliReport, serde_json::Error> {
        SliReport::from_json_str(text)
    }
}

#[async_trait]
impl SliProvider for FileSliProvider {
    fn name(&self) -> &str {
        "file"
    }

    async fn fetch_slis(&self, query: &SliQuery) -> Result<Vec<SliValue>, ProviderError> {
        let path = self.path.clone();
        let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
            .await
            .map_err(|e| ProviderError::new("file", e.to_string(), false))?
            .map_err(|e| {
                ProviderError::new(
                    "file",
                    format!("cannot read {}: {e}", self.path.display()),
                    false,
                )
            })?;
        let report = Self::parse(&text).map_err(|e| {
            ProviderError::new("file", format!("{}: {e}", self.path.display()), false)
        })?;
        if matches!(report.status, Status::Errored | Status::Aborted) {
            return Err(ProviderError::new("file", report.message, false));
        }
        let mut values = report.values;
        for sli in &query.indicators {
            if !values.iter().any(|v| &v.metric == sli) {
                values.push(SliValue::failed(
                    sli.clone(),
                    format!("no value for `{sli}` in {}", self.path.display()),
                ));
            }
        }
        Ok(values)
    }
}
