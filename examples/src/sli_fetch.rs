//! What `dynatrace_fetch_slis` and `prometheus_fetch_slis` share: reading the window, the SLO
//! and the SLI file into an [`SliQuery`], and printing the fetched values with the exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use keptn_slo::{SliProvider, SliQuery};
use keptn_spec::sli::SliConfig;
use keptn_spec::{ProjectName, ServiceName, SliValue, Slo, StageName};

/// Keptn's default SLIs (the same five for every provider), fetched when neither an SLO nor an
/// SLI file names any.
pub use keptn_prometheus::DEFAULT_SLIS;

/// The command-line values both programs take; each flattens it into its own arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Window {
    /// The Keptn project.
    #[arg(long)]
    pub project: String,
    /// The stage.
    #[arg(long)]
    pub stage: String,
    /// The service.
    #[arg(long)]
    pub service: String,
    /// The deployment (`canary`, `primary`, `direct`, …) for `$DEPLOYMENT` and the provider's
    /// deployment filter.
    #[arg(long)]
    pub deployment: Option<String>,
    /// The provider's SLI configuration (`dynatrace/sli.yaml`, `prometheus/sli.yaml`).
    #[arg(long)]
    pub sli: Option<PathBuf>,
    /// The SLO file whose objectives name the SLIs to fetch.
    #[arg(long)]
    pub slo: Option<PathBuf>,
    /// Window start (RFC 3339).
    #[arg(long)]
    pub start: String,
    /// Window end (RFC 3339).
    #[arg(long)]
    pub end: String,
}

/// The query and the SLI configuration, or why the input is invalid (the message names the flag
/// or file). Which SLIs: the objectives of `--slo` (its `filter` map becomes the custom
/// filters), else every indicator of `--sli`, else [`DEFAULT_SLIS`].
///
/// # Errors
/// A message for invalid names, times, or unreadable/invalid files.
pub fn prepare(w: &Window) -> Result<(SliQuery, Option<SliConfig>), String> {
    let project = ProjectName::new(&w.project).map_err(|e| format!("--project: {e}"))?;
    let stage = StageName::new(&w.stage).map_err(|e| format!("--stage: {e}"))?;
    let service = ServiceName::new(&w.service).map_err(|e| format!("--service: {e}"))?;
    let time = |flag: &str, s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("{flag} `{s}` is not an RFC 3339 time: {e}"))
    };
    let start = time("--start", &w.start)?;
    let end = time("--end", &w.end)?;
    if start > end {
        return Err(format!("--start {start} is after --end {end}"));
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let sli_config = match w.sli.as_deref() {
        Some(p) => {
            Some(SliConfig::from_yaml_str(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let slo = match w.slo.as_deref() {
        Some(p) => {
            Some(Slo::from_yaml_str(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let indicators: Vec<String> = match (&slo, &sli_config) {
        (Some(slo), _) => slo.indicators(),
        (None, Some(c)) => c.indicators.keys().cloned().collect(),
        (None, None) => DEFAULT_SLIS.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut query = SliQuery::new(project, stage, service, start, end, indicators);
    if let Some(d) = w.deployment.as_deref() {
        query = query.with_deployment(d);
    }
    if let Some(slo) = slo {
        query = query.with_custom_filters(slo.filter);
    }
    Ok((query, sli_config))
}

/// Fetches, prints the values as a JSON array of `{"metric","value","success","message"}`
/// (what `slo_evaluate --sli` reads) and returns 0 when every SLI succeeded, else 1. A failed
/// fetch prints every SLI as failed with the provider's message.
pub async fn fetch_and_print(provider: &dyn SliProvider, query: &SliQuery) -> ExitCode {
    let values = match provider.fetch_slis(query).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            query
                .indicators
                .iter()
                .map(|sli| SliValue::failed(sli.clone(), e.message.clone()))
                .collect()
        }
    };
    match serde_json::to_string_pretty(&values) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("error: cannot write the result: {e}");
            return ExitCode::from(1);
        }
    }
    if values.iter().all(|v| v.success) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
