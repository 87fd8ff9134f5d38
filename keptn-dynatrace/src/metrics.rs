//! Metrics API v2 answers and the translation of Keptn SLI queries into API requests.

use std::collections::BTreeMap;

use keptn_spec::sli::{Escaping, Placeholders};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The answer of `GET /api/v2/metrics/query` (`MetricData` in the published API).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MetricData {
    /// The total number of primary entities in the result.
    #[serde(default)]
    pub total_count: i64,
    /// The timeslot resolution of the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// One entry per queried metric.
    #[serde(default)]
    pub result: Vec<MetricSeriesCollection>,
    /// Warnings of the query.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The data points of one metric (`MetricSeriesCollection`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MetricSeriesCollection {
    /// The metric key, transformations included.
    pub metric_id: String,
    /// One series per dimension tuple.
    #[serde(default)]
    pub data: Vec<MetricSeries>,
    /// Warnings for this metric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One series of data points (`MetricSeries`). Dynatrace sends `null` for a timeslot without
/// data, hence `Option<f64>`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MetricSeries {
    /// The dimension values of this series.
    #[serde(default)]
    pub dimensions: Vec<Option<String>>,
    /// Dimension key → value.
    #[serde(default)]
    pub dimension_map: BTreeMap<String, Option<String>>,
    /// Timestamps (UTC milliseconds).
    #[serde(default)]
    pub timestamps: Vec<i64>,
    /// Values; `None` where the timeslot has no data.
    #[serde(default)]
    pub values: Vec<Option<f64>>,
}

impl MetricSeries {
    /// A series with one dimension value and the given points.
    pub fn new(
        dimension: impl Into<String>,
        timestamps: Vec<i64>,
        values: Vec<Option<f64>>,
    ) -> Self {
        Self {
            dimensions: vec![Some(dimension.into())],
            dimension_map: BTreeMap::new(),
            timestamps,
            values,
        }
    }
}

/// Keptn's default queries (dynatrace-sli-service 0.7.0+), used when the SLI configuration does
/// not define the SLI.
///
/// Deliberate difference: Keptn put `tag(keptn_deployment:$DEPLOYMENT)` into every default query
/// even without a deployment, which then matched nothing; here the deployment tag is left out
/// when the query has no deployment.
pub fn default_query(sli: &str, with_deployment: bool) -> Option<String> {
    let metric = match sli {
        "throughput" => "builtin:service.requestCount.total:merge(0):sum",
        "error_rate" => "builtin:service.errors.total.count:merge(0):avg",
        "response_time_p50" => "builtin:service.response.time:merge(0):percentile(50)",
        "response_time_p90" => "builtin:service.response.time:merge(0):percentile(90)",
        "response_time_p95" => "builtin:service.response.time:merge(0):percentile(95)",
        _ => return None,
    };
    let deployment = if with_deployment {
        ",tag(keptn_deployment:$DEPLOYMENT)"
    } else {
        ""
    };
    Some(format!(
        "metricSelector={metric}&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE){deployment}"
    ))
}

/// How a metric value is scaled before it is reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scale {
    /// As Dynatrace reports it.
    None,
    /// Divided by this factor (µs → ms: 1000, bytes → KiB: 1024).
    Divide(f64),
}

impl Scale {
    pub(crate) fn apply(self, v: f64) -> f64 {
        match self {
            Scale::None => v,
            Scale::Divide(d) => v / d,
        }
    }
}

/// What one SLI query asks Dynatrace for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// `GET /api/v2/metrics/query` with these parameters (without `from`, `to`, `resolution`).
    Metrics {
        selector: String,
        params: Vec<(String, String)>,
        scale: Scale,
    },
    /// `GET /api/v2/slo/{id}` (`SLO;<id>`): the SLO's `evaluatedPercentage`.
    Slo { id: String },
    /// `GET /api/v2/problems` (`PV2;<params>`): the number of problems (`totalCount`).
    Problems { params: Vec<(String, String)> },
}

/// Turns a configured SLI query into a request plan, filling placeholders.
///
/// The query is split into parameters and each parameter is URL-decoded *before* placeholders
/// are filled, and encoded once when sent: a placeholder value (a label, an SLO filter) can
/// never break the query apart, which is what Keptn's escaping of values achieved.
pub(crate) fn plan(sli: &str, template: &str, values: &Placeholders) -> Result<Plan> {
    let template = template.trim();
    if let Some(rest) = template.strip_prefix("SLO;") {
        let id = fill(rest.trim(), values);
        if id.is_empty() {
            return Err(Error::sli(sli, "`SLO;` query without an SLO id"));
        }
        return Ok(Plan::Slo { id });
    }
    if let Some(rest) = template.strip_prefix("PV2;") {
        let params = fill_params(parse_params(rest), values);
        return Ok(Plan::Problems { params });
    }
    if template.starts_with("USQL;") {
        return Err(Error::sli(
            sli,
            "USQL (user session) queries are not supported by this provider",
        ));
    }
    let (query, unit_scale) = if let Some(rest) = template.strip_prefix("MV2;") {
        let Some((unit, query)) = rest.split_once(';') else {
            return Err(Error::sli(
                sli,
                "an `MV2;` query must be `MV2;<unit>;<query>`, e.g. `MV2;MicroSecond;metricSelector=…`",
            ));
        };
        let scale = match unit {
            "MicroSecond" => Scale::Divide(1000.0),
            "Byte" => Scale::Divide(1024.0),
            _ => Scale::None,
        };
        (query, Some(scale))
    } else {
        (template, None)
    };
    let query = query.strip_prefix('?').unwrap_or(query);
    let (selector, mut params) = match query.split_once('?') {
        // the older `<selector>?scope=…` form
        Some((selector, rest)) => (decode(selector), parse_params(rest)),
        None => {
            let params = parse_params(query);
            let selector = params
                .iter()
                .find(|(k, _)| k == "metricSelector")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (selector, params)
        }
    };
    params.retain(|(k, _)| !matches!(k.as_str(), "metricSelector" | "from" | "to" | "resolution"));
    let selector = fill(&selector, values);
    if selector.trim().is_empty() {
        return Err(Error::sli(
            sli,
            "the query has no metricSelector (expected `metricSelector=…&entitySelector=…` or `<selector>?scope=…`)",
        ));
    }
    let mut params = fill_params(params, values);
    // the old form's `scope` becomes the entitySelector, restricted to services
    if let Some(i) = params.iter().position(|(k, _)| k == "scope") {
        let (_, scope) = params.remove(i);
        if !params.iter().any(|(k, _)| k == "entitySelector") {
            let entity = if scope.contains("type(") {
                scope
            } else {
                format!("{scope},type(SERVICE)")
            };
            params.push(("entitySelector".to_owned(), entity));
        }
    }
    params.insert(0, ("metricSelector".to_owned(), selector.clone()));
    let scale = unit_scale.unwrap_or(if selector.contains("builtin:service.response.time") {
        Scale::Divide(1000.0)
    } else {
        Scale::None
    });
    Ok(Plan::Metrics {
        selector,
        params,
        scale,
    })
}

fn fill(s: &str, values: &Placeholders) -> String {
    values.apply(s, Escaping::None)
}

fn fill_params(params: Vec<(String, String)>, values: &Placeholders) -> Vec<(String, String)> {
    params
        .into_iter()
        .map(|(k, v)| (k, fill(&v, values)))
        .collect()
}

/// Splits `a=b&c=d` into decoded pairs (form decoding: `+` is a space, `%XX` a byte).
fn parse_params(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Form-decodes one query component. A `%` not followed by two hex digits is kept as it is.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Picks the single value of a metrics answer for `selector`.
///
/// Exactly one series with a value is required: no series or only `null` values is "no data"
/// (an error, never 0), several series ask the user to merge dimensions.
pub(crate) fn single_value(sli: &str, selector: &str, data: &MetricData) -> Result<f64> {
    let collection =
        data.result
            .iter()
            .find(|c| c.metric_id == selector)
            .or(if data.result.len() == 1 {
                data.result.first()
            } else {
                None
            });
    let Some(collection) = collection else {
        return Err(Error::sli(
            sli,
            format!(
                "Dynatrace returned no data points for `{selector}` (the metric answered nothing for this window)"
            ),
        ));
    };
    match collection.data.as_slice() {
        [] => Err(Error::sli(
            sli,
            format!(
                "Dynatrace returned no data points for `{selector}`: no entity matched the query in this window (check the tags and the time frame)"
            ),
        )),
        [series] => series
            .values
            .iter()
            .flatten()
            .next()
            .copied()
            .ok_or_else(|| {
                Error::sli(
                    sli,
                    format!(
                        "Dynatrace returned no data points for `{selector}` (only null values)"
                    ),
                )
            }),
        many => Err(Error::sli(
            sli,
            format!(
                "Dynatrace returned {} series for `{selector}`; exactly one is needed — add a `:merge(…)` transformation (e.g. `:merge(\"dt.entity.service\")` or `:merge(0)`) to the metricSelector",
                many.len()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keptn_spec::{ProjectName, ServiceName, StageName};

    fn values() -> Placeholders {
        Placeholders::new(
            ProjectName::new("sockshop").unwrap(),
            StageName::new("staging").unwrap(),
            ServiceName::new("carts").unwrap(),
        )
        .with_deployment("canary")
    }

    fn metrics(p: Plan) -> (String, Vec<(String, String)>, Scale) {
        match p {
            Plan::Metrics {
                selector,
                params,
                scale,
            } => (selector, params, scale),
            other => panic!("not a metrics plan: {other:?}"),
        }
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    /// The new `metricSelector=…&entitySelector=…` form is split and filled.
    #[test]
    fn new_format() {
        let q = default_query("response_time_p95", true).unwrap();
        let (sel, params, scale) = metrics(plan("response_time_p95", &q, &values()).unwrap());
        assert_eq!(sel, "builtin:service.response.time:merge(0):percentile(95)");
        assert_eq!(
            params,
            pairs(&[
                (
                    "metricSelector",
                    "builtin:service.response.time:merge(0):percentile(95)"
                ),
                (
                    "entitySelector",
                    "type(SERVICE),tag(keptn_project:sockshop),tag(keptn_stage:staging),tag(keptn_service:carts),tag(keptn_deployment:canary)"
                ),
            ])
        );
        assert_eq!(scale, Scale::Divide(1000.0));
    }

    /// The old `<selector>?scope=…` form becomes metricSelector + entitySelector with type(SERVICE).
    #[test]
    fn old_format() {
        let q = "builtin:service.requestCount.total:merge(0):sum?scope=tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE)";
        let (sel, params, scale) = metrics(plan("throughput", q, &values()).unwrap());
        assert_eq!(sel, "builtin:service.requestCount.total:merge(0):sum");
        assert_eq!(
            params,
            pairs(&[
                (
                    "metricSelector",
                    "builtin:service.requestCount.total:merge(0):sum"
                ),
                (
                    "entitySelector",
                    "tag(keptn_project:sockshop),tag(keptn_stage:staging),type(SERVICE)"
                ),
            ])
        );
        assert_eq!(scale, Scale::None);
    }

    /// A filter value with `&` and `=` cannot break the query apart.
    #[test]
    fn placeholder_values_cannot_inject_parameters() {
        let v = values().with_filters(BTreeMap::from([(
            "mz".to_owned(),
            "a&resolution=1m".to_owned(),
        )]));
        let (_, params, _) = metrics(
            plan(
                "x",
                "metricSelector=m:merge(0)&entitySelector=type(SERVICE),mzName($MZ)",
                &v,
            )
            .unwrap(),
        );
        assert_eq!(params[1].1, "type(SERVICE),mzName(a&resolution=1m)");
        assert_eq!(params.len(), 2);
    }

    /// Percent-escapes and `+` in the configured query are decoded once (they are re-encoded
    /// when sent); user-given from/to/resolution are dropped.
    #[test]
    fn decodes_and_drops_window_params() {
        let (sel, params, _) = metrics(
            plan(
                "x",
                "?metricSelector=calc:service.x:filter(eq(Test%20Step,invoke))&resolution=1m&from=now-2h&entitySelector=type(SERVICE)",
                &values(),
            )
            .unwrap(),
        );
        assert_eq!(sel, "calc:service.x:filter(eq(Test Step,invoke))");
        assert_eq!(
            params,
            pairs(&[
                (
                    "metricSelector",
                    "calc:service.x:filter(eq(Test Step,invoke))"
                ),
                ("entitySelector", "type(SERVICE)"),
            ])
        );
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("a+b%2Bc"), "a b+c");
    }

    /// `MV2;<unit>;` sets the scaling explicitly.
    #[test]
    fn mv2_units() {
        let (_, _, s) = metrics(
            plan(
                "x",
                "MV2;Byte;metricSelector=builtin:host.mem.used",
                &values(),
            )
            .unwrap(),
        );
        assert_eq!(s, Scale::Divide(1024.0));
        let (_, _, s) = metrics(
            plan(
                "x",
                "MV2;MicroSecond;metricSelector=calc:service.rt",
                &values(),
            )
            .unwrap(),
        );
        assert_eq!(s, Scale::Divide(1000.0));
        let (_, _, s) = metrics(
            plan(
                "x",
                "MV2;Percent;metricSelector=builtin:service.response.time",
                &values(),
            )
            .unwrap(),
        );
        assert_eq!(s, Scale::None);
        assert!(plan("x", "MV2;metricSelector=a", &values()).is_err());
    }

    /// `SLO;`, `PV2;` and `USQL;` prefixes.
    #[test]
    fn prefixes() {
        assert_eq!(
            plan("x", "SLO;7d07efde-b714-3e6e-ad95-08490e2540c4", &values()).unwrap(),
            Plan::Slo {
                id: "7d07efde-b714-3e6e-ad95-08490e2540c4".to_owned()
            }
        );
        assert_eq!(
            plan(
                "x",
                "PV2;problemSelector=status(open)&entitySelector=tag(keptn_service:$SERVICE)",
                &values()
            )
            .unwrap(),
            Plan::Problems {
                params: pairs(&[
                    ("problemSelector", "status(open)"),
                    ("entitySelector", "tag(keptn_service:carts)")
                ])
            }
        );
        let e = plan("x", "USQL;COLUMN_CHART;country;SELECT 1", &values()).unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    /// A query without a metricSelector is a per-SLI error that names the expected forms.
    #[test]
    fn missing_selector() {
        let e = plan("x", "entitySelector=type(SERVICE)", &values()).unwrap_err();
        assert!(e.to_string().contains("no metricSelector"), "{e}");
    }

    /// Without a deployment, Keptn's default queries leave the deployment tag out.
    #[test]
    fn defaults_without_deployment() {
        let q = default_query("throughput", false).unwrap();
        assert!(!q.contains("keptn_deployment"), "{q}");
        assert!(default_query("cpu", true).is_none());
    }

    fn data(series: Vec<MetricSeries>) -> MetricData {
        MetricData {
            total_count: 1,
            resolution: Some("Inf".to_owned()),
            result: vec![MetricSeriesCollection {
                metric_id: "m".to_owned(),
                data: series,
                warnings: vec![],
            }],
            warnings: vec![],
        }
    }

    /// One series gives its value; none, nulls or several are errors with advice.
    #[test]
    fn series_rules() {
        let one = data(vec![MetricSeries::new("S-1", vec![1], vec![Some(42.5)])]);
        assert_eq!(single_value("x", "m", &one).unwrap(), 42.5);
        let none = data(vec![]);
        assert!(
            single_value("x", "m", &none)
                .unwrap_err()
                .to_string()
                .contains("no data")
        );
        let null = data(vec![MetricSeries::new("S-1", vec![1], vec![None])]);
        assert!(
            single_value("x", "m", &null)
                .unwrap_err()
                .to_string()
                .contains("no data")
        );
        let two = data(vec![
            MetricSeries::new("S-1", vec![1], vec![Some(1.0)]),
            MetricSeries::new("S-2", vec![1], vec![Some(2.0)]),
        ]);
        let e = single_value("x", "m", &two).unwrap_err().to_string();
        assert!(e.contains("2 series") && e.contains(":merge("), "{e}");
        let empty = MetricData::default();
        assert!(single_value("x", "m", &empty).is_err());
    }
}
