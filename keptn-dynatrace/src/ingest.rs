//! Metric ingest: `POST /api/v2/metrics/ingest` with Dynatrace's line protocol.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

use crate::client::{Body, DynatraceClient};
use crate::error::{Error, Result};

/// The most lines one ingest request carries (the client splits larger inputs).
pub const MAX_LINES_PER_REQUEST: usize = 1000;
/// The largest body one ingest request carries, in bytes (Dynatrace accepts up to 1 MB).
pub const MAX_BYTES_PER_REQUEST: usize = 1_000_000;

/// The payload of one data point.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum MetricValue {
    /// `gauge,<value>`: a measured value.
    Gauge(f64),
    /// `gauge,min=…,max=…,sum=…,count=…`: a summary of several measurements.
    Summary {
        /// The smallest measurement.
        min: f64,
        /// The largest measurement.
        max: f64,
        /// The sum of the measurements.
        sum: f64,
        /// How many measurements.
        count: u64,
    },
    /// `count,delta=<value>`: the increase of a counter since the last data point.
    CountDelta(f64),
}

/// One data point in Dynatrace's metric ingestion protocol (`metric.key,dim="v" payload ts`).
///
/// Keys and dimension keys are checked when the line is built, so a line that exists can be
/// sent: a metric key is 3–255 characters of sections separated by `.`, each of letters,
/// digits, `-` and `_`, not starting with a digit or `-`, and not in Dynatrace's reserved `dt.`
/// namespace; a dimension key is lowercase letters, digits, `-`, `_`, `.` and `:`, starting with
/// a letter or `_`. Dimension values are quoted and escaped when written.
///
/// ```
/// use keptn_dynatrace::MetricLine;
/// use chrono::{TimeZone, Utc};
///
/// let line = MetricLine::gauge("keptn.tour.response_time", 512.5)?
///     .with_dimension("keptn_stage", "staging")?
///     .at(Utc.timestamp_millis_opt(1_700_000_000_000).unwrap());
/// assert_eq!(
///     line.to_string(),
///     r#"keptn.tour.response_time,keptn_stage="staging" gauge,512.5 1700000000000"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine {
    key: String,
    dimensions: BTreeMap<String, String>,
    value: MetricValue,
    timestamp: Option<DateTime<Utc>>,
}

impl MetricLine {
    /// A data point with `value`.
    ///
    /// # Errors
    /// [`Error::MetricLine`] when the key is not a valid metric key or a number is not finite
    /// (or a summary's `count` is 0, or `min > max`).
    pub fn new(key: &str, value: MetricValue) -> Result<Self> {
        check_metric_key(key)?;
        let finite = match value {
            MetricValue::Gauge(v) | MetricValue::CountDelta(v) => v.is_finite(),
            MetricValue::Summary {
                min,
                max,
                sum,
                count,
            } => {
                if count == 0 || min > max {
                    return Err(Error::MetricLine {
                        message: format!(
                            "metric `{key}`: a summary needs count ≥ 1 and min ≤ max (got count {count}, min {min}, max {max})"
                        ),
                    });
                }
                min.is_finite() && max.is_finite() && sum.is_finite()
            }
        };
        if !finite {
            return Err(Error::MetricLine {
                message: format!("metric `{key}`: values must be finite numbers"),
            });
        }
        Ok(Self {
            key: key.to_owned(),
            dimensions: BTreeMap::new(),
            value,
            timestamp: None,
        })
    }

    /// A gauge data point (`gauge,<value>`).
    ///
    /// # Errors
    /// As [`MetricLine::new`].
    pub fn gauge(key: &str, value: f64) -> Result<Self> {
        Self::new(key, MetricValue::Gauge(value))
    }

    /// A counter increase (`count,delta=<delta>`).
    ///
    /// # Errors
    /// As [`MetricLine::new`].
    pub fn count_delta(key: &str, delta: f64) -> Result<Self> {
        Self::new(key, MetricValue::CountDelta(delta))
    }

    /// Adds (or replaces) a dimension.
    ///
    /// # Errors
    /// [`Error::MetricLine`] when `key` is not a valid dimension key, or the line already has
    /// 50 dimensions (Dynatrace's limit).
    pub fn with_dimension(mut self, key: &str, value: &str) -> Result<Self> {
        check_dimension_key(key)?;
        if self.dimensions.len() >= 50 && !self.dimensions.contains_key(key) {
            return Err(Error::MetricLine {
                message: format!("metric `{}`: more than 50 dimensions", self.key),
            });
        }
        self.dimensions.insert(key.to_owned(), value.to_owned());
        Ok(self)
    }

    /// Sets the data point's time (without one, Dynatrace uses the time it receives the line).
    #[must_use]
    pub fn at(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The metric key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The dimensions.
    pub fn dimensions(&self) -> &BTreeMap<String, String> {
        &self.dimensions
    }

    /// The payload.
    pub fn value(&self) -> MetricValue {
        self.value
    }

    /// The time, if set.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        self.timestamp
    }
}

impl fmt::Display for MetricLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)?;
        for (k, v) in &self.dimensions {
            write!(f, ",{k}=\"")?;
            for c in v.chars() {
                match c {
                    '"' | '\\' => write!(f, "\\{c}")?,
                    // a line must stay one line
                    '\n' | '\r' => f.write_str(" ")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        match self.value {
            MetricValue::Gauge(v) => write!(f, " gauge,{v}")?,
            MetricValue::Summary {
                min,
                max,
                sum,
                count,
            } => write!(f, " gauge,min={min},max={max},sum={sum},count={count}")?,
            MetricValue::CountDelta(v) => write!(f, " count,delta={v}")?,
        }
        if let Some(t) = self.timestamp {
            write!(f, " {}", t.timestamp_millis())?;
        }
        Ok(())
    }
}

fn check_metric_key(key: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::MetricLine {
            message: format!("invalid metric key `{key}`: {why}"),
        })
    };
    if !(3..=255).contains(&key.len()) {
        return bad("it must be 3 to 255 characters long");
    }
    if key.starts_with("dt.") {
        return bad("the `dt.` prefix is reserved by Dynatrace");
    }
    for section in key.split('.') {
        let Some(first) = section.chars().next() else {
            return bad("it has an empty section (`..` or a leading or trailing `.`)");
        };
        if first.is_ascii_digit() || first == '-' {
            return bad("sections must not start with a digit or `-`");
        }
        if !section
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("allowed are letters, digits, `-` and `_` in sections separated by `.`");
        }
    }
    Ok(())
}

fn check_dimension_key(key: &str) -> Result<()> {
    let ok = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && key.len() <= 100
        && key.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | ':')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::MetricLine {
            message: format!(
                "invalid dimension key `{key}`: expected lowercase letters, digits, `-`, `_`, `.` and `:`, starting with a letter or `_`"
            ),
        })
    }
}

/// One line Dynatrace rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidLine {
    /// The line's number (1-based) in the slice given to [`DynatraceClient::ingest_metrics`].
    pub line: usize,
    /// Dynatrace's reason.
    pub error: String,
}

/// What Dynatrace made of an ingest call (the published `ValidationResponse`, summed over the
/// requests of one call).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestReport {
    /// Lines accepted.
    pub lines_ok: u64,
    /// Lines rejected.
    pub lines_invalid: u64,
    /// The rejected lines and why (as far as Dynatrace listed them).
    pub invalid_lines: Vec<InvalidLine>,
    /// How many HTTP requests were sent.
    pub requests: usize,
}

impl IngestReport {
    /// Whether every line was accepted.
    pub fn is_complete(&self) -> bool {
        self.lines_invalid == 0
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ValidationResponse {
    #[serde(default)]
    lines_ok: Option<u64>,
    #[serde(default)]
    lines_invalid: Option<u64>,
    #[serde(default)]
    error: Option<IngestError>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct IngestError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    invalid_lines: Vec<WireInvalidLine>,
}

#[derive(Deserialize)]
struct WireInvalidLine {
    #[serde(default)]
    line: Option<i64>,
    #[serde(default)]
    error: Option<String>,
}

/// Splits `lines` into bodies of at most [`MAX_LINES_PER_REQUEST`] lines and
/// [`MAX_BYTES_PER_REQUEST`] bytes; returns (index of the first line, body).
fn batches(lines: &[MetricLine]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut body = String::new();
    let mut first = 0;
    let mut count = 0;
    for (i, line) in lines.iter().enumerate() {
        let text = line.to_string();
        if count > 0
            && (count == MAX_LINES_PER_REQUEST
                || body.len() + 1 + text.len() > MAX_BYTES_PER_REQUEST)
        {
            out.push((first, std::mem::take(&mut body)));
            first = i;
            count = 0;
        }
        if count > 0 {
            body.push('\n');
        }
        body.push_str(&text);
        count += 1;
    }
    if count > 0 {
        out.push((first, body));
    }
    out
}

impl DynatraceClient {
    /// Sends data points to `POST /api/v2/metrics/ingest` (token scope `metrics.ingest`).
    ///
    /// Lines are sent in batches of at most [`MAX_LINES_PER_REQUEST`] lines and
    /// [`MAX_BYTES_PER_REQUEST`] bytes, one after the other, with the client's retry policy
    /// (ingest is a `POST`: retried after connection failures, `429` and `503`). Dynatrace
    /// answers `202` when every line was accepted and `400` when some were not — the valid lines
    /// of a `400` are still stored — so both are a report, not an error; check
    /// [`IngestReport::is_complete`]. Data becomes queryable after Dynatrace's ingestion delay
    /// (typically under a minute on a real tenant).
    ///
    /// # Errors
    /// Client errors ([`Error::Status`] for `401`/`403`/`413`/…, [`Error::Transport`],
    /// [`Error::Deadline`]) of the first batch that failed; earlier batches stay ingested.
    pub async fn ingest_metrics(&self, lines: &[MetricLine]) -> Result<IngestReport> {
        const PATH: &str = "/api/v2/metrics/ingest";
        let mut report = IngestReport::default();
        for (first, body) in batches(lines) {
            let answer = self
                .send_body(Method::POST, PATH, &[], Body::Text(&body), &[400])
                .await?;
            report.requests += 1;
            let v: ValidationResponse = if answer.body.is_null() {
                ValidationResponse::default()
            } else {
                serde_json::from_value(answer.body).map_err(|e| Error::Decode {
                    endpoint: PATH.to_owned(),
                    message: e.to_string(),
                })?
            };
            let sent = body.lines().count() as u64;
            let invalid = v.lines_invalid.unwrap_or(if answer.status == 400 {
                sent.saturating_sub(v.lines_ok.unwrap_or(0))
            } else {
                0
            });
            report.lines_ok += v.lines_ok.unwrap_or(sent.saturating_sub(invalid));
            report.lines_invalid += invalid;
            if let Some(e) = v.error {
                if e.invalid_lines.is_empty() && answer.status == 400 && invalid > 0 {
                    tracing::warn!(
                        message = e.message.as_deref().unwrap_or(""),
                        "Dynatrace rejected metric lines"
                    );
                }
                for l in e.invalid_lines {
                    let n = l.line.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
                    report.invalid_lines.push(InvalidLine {
                        line: first + n.max(1),
                        error: l
                            .error
                            .or_else(|| e.message.clone())
                            .unwrap_or_else(|| "invalid line".to_owned()),
                    });
                }
            }
        }
        Ok(report)
    }
}

/// A line as the fake tenant reads it.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedLine {
    pub(crate) key: String,
    pub(crate) dimensions: BTreeMap<String, String>,
    pub(crate) value: MetricValue,
    pub(crate) timestamp: Option<i64>,
}

/// Reads one line of the ingestion protocol (what the fake tenant accepts).
#[cfg(feature = "testing")]
pub(crate) fn parse_line(line: &str) -> std::result::Result<ParsedLine, String> {
    let line = line.trim();
    // key and dimensions end at the first space outside quotes
    let mut in_quotes = false;
    let mut escaped = false;
    let mut split = None;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ' ' if !in_quotes => {
                split = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(split) = split else {
        return Err(
            "missing payload: expected `metric.key[,dimensions] payload [timestamp]`".into(),
        );
    };
    let (head, rest) = line.split_at(split);
    let (key, dims) = head.split_once(',').unwrap_or((head, ""));
    check_metric_key(key).map_err(|e| e.to_string())?;
    let mut dimensions = BTreeMap::new();
    let mut chars = dims.chars().peekable();
    while chars.peek().is_some() {
        let dkey: String = chars.by_ref().take_while(|c| *c != '=').collect();
        check_dimension_key(&dkey).map_err(|e| e.to_string())?;
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!("dimension `{dkey}`: unterminated quote"));
            }
            match chars.next() {
                None | Some(',') => {}
                Some(c) => {
                    return Err(format!(
                        "dimension `{dkey}`: unexpected `{c}` after the value"
                    ));
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        dimensions.insert(dkey, value);
    }
    let mut parts = rest.split_whitespace();
    let payload = parts.next().ok_or("missing payload")?;
    let timestamp = match parts.next() {
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| format!("invalid timestamp `{t}` (expected UTC milliseconds)"))?,
        ),
        None => None,
    };
    if parts.next().is_some() {
        return Err("unexpected text after the timestamp".into());
    }
    let number = |s: &str| {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("invalid number `{s}`"))
    };
    let value = if let Some(v) = payload.strip_prefix("gauge,") {
        if v.contains('=') {
            let mut f = BTreeMap::new();
            for kv in v.split(',') {
                let (k, v) = kv.split_once('=').ok_or("invalid gauge summary")?;
                f.insert(k, number(v)?);
            }
            let get = |k: &str| {
                f.get(k)
                    .copied()
                    .ok_or(format!("gauge summary without `{k}`"))
            };
            let count = get("count")?;
            if count < 1.0 || count.fract() != 0.0 {
                return Err("gauge summary `count` must be a whole number ≥ 1".into());
            }
            MetricValue::Summary {
                min: get("min")?,
                max: get("max")?,
                sum: get("sum")?,
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                count: count as u64,
            }
        } else {
            MetricValue::Gauge(number(v)?)
        }
    } else if let Some(v) = payload.strip_prefix("count,delta=") {
        MetricValue::CountDelta(number(v)?)
    } else if payload.starts_with("count,") {
        return Err("count payloads must be `count,delta=<value>`".into());
    } else {
        MetricValue::Gauge(number(payload)?)
    };
    Ok(ParsedLine {
        key: key.to_owned(),
        dimensions,
        value,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Keys are checked as the protocol says; dimension values are escaped.
    #[test]
    fn keys_and_escaping() {
        for bad in [
            "ab", "dt.x.y", "a..b", "1a.b", "a.-b", "a b.c", "a.b.", "ö.ab",
        ] {
            assert!(MetricLine::gauge(bad, 1.0).is_err(), "{bad}");
        }
        assert!(MetricLine::gauge("keptn.tour.x", f64::NAN).is_err());
        let l = MetricLine::count_delta("keptn.tour.requests.count", 3.0)
            .unwrap()
            .with_dimension("b", "say \"hi\"\\")
            .unwrap()
            .with_dimension("a", "x,y z")
            .unwrap();
        assert_eq!(
            l.to_string(),
            r#"keptn.tour.requests.count,a="x,y z",b="say \"hi\"\\" count,delta=3"#
        );
        assert!(l.clone().with_dimension("Bad", "x").is_err());
        assert!(l.with_dimension("9x", "x").is_err());
    }

    /// Batches respect the line limit and keep line numbers.
    #[test]
    fn batching() {
        let t = Utc.timestamp_millis_opt(1).unwrap();
        let lines: Vec<MetricLine> = (0..2500)
            .map(|i| MetricLine::gauge("a.b.c", f64::from(i)).unwrap().at(t))
            .collect();
        let b = batches(&lines);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].0, 0);
        assert_eq!(b[1].0, 1000);
        assert_eq!(b[2].0, 2000);
        assert_eq!(b[2].1.lines().count(), 500);
        assert!(batches(&[]).is_empty());
    }

    /// What the client writes, the fake's reader reads back.
    #[cfg(feature = "testing")]
    #[test]
    fn written_lines_parse_back() {
        let l = MetricLine::new(
            "keptn.tour.rt",
            MetricValue::Summary {
                min: 1.0,
                max: 3.0,
                sum: 4.0,
                count: 2,
            },
        )
        .unwrap()
        .with_dimension("keptn_stage", "a \"b\" c")
        .unwrap()
        .at(Utc.timestamp_millis_opt(1_700_000_000_000).unwrap());
        let p = parse_line(&l.to_string()).unwrap();
        assert_eq!(p.key, "keptn.tour.rt");
        assert_eq!(p.dimensions["keptn_stage"], "a \"b\" c");
        assert_eq!(p.value, l.value());
        assert_eq!(p.timestamp, Some(1_700_000_000_000));
        assert!(parse_line("a.b.c").is_err());
        assert!(parse_line("a.b.c count,5").is_err());
        assert!(parse_line("a.b.c,x=\"y 1").is_err());
        assert_eq!(
            parse_line("a.b.c,x=y 5").unwrap().value,
            MetricValue::Gauge(5.0)
        );
    }
}
