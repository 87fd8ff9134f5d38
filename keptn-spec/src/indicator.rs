//! SLI values as SLI providers deliver them.

use serde::{Deserialize, Serialize};

/// One SLI value as delivered by an SLI provider: an entry of Keptn's `indicatorValues`
/// (`{"metric", "value", "success", "message"}`).
///
/// A failed value (`success: false`) carries the reason in `message`; its `value` is meaningless
/// (Keptn sends `0`) and a quality gate must never treat it as a measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliValue {
    /// The SLI name, such as `response_time_p95`.
    pub metric: String,
    /// The measured value (meaningless when `success` is false).
    #[serde(default)]
    pub value: f64,
    /// Whether the provider could measure this SLI.
    #[serde(default)]
    pub success: bool,
    /// Why the value could not be measured (or a provider note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl SliValue {
    /// A successfully measured value.
    pub fn ok(metric: impl Into<String>, value: f64) -> Self {
        Self {
            metric: metric.into(),
            value,
            success: true,
            message: None,
        }
    }

    /// A value that could not be measured, with the reason.
    pub fn failed(metric: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            metric: metric.into(),
            value: 0.0,
            success: false,
            message: Some(message.into()),
        }
    }
}
