//! The fake tenant's metric store, metric-selector subset and simplified Davis (feature
//! `testing`; see [`crate::testing`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::ingest::{MetricValue, ParsedLine};
use crate::metrics::MetricSeries;

/// One stored data point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) key: String,
    pub(crate) dims: BTreeMap<String, String>,
    pub(crate) value: MetricValue,
    pub(crate) ts: i64,
}

impl Point {
    pub(crate) fn new(line: ParsedLine, received_ms: i64) -> Self {
        Self {
            key: line.key,
            dims: line.dimensions,
            value: line.value,
            ts: line.timestamp.unwrap_or(received_ms),
        }
    }
}

/// A time aggregation of the selector subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Agg {
    Avg,
    Sum,
    Min,
    Max,
    Count,
}

/// A dimension condition of `:filter(…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Eq(String, String),
    Ne(String, String),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

impl Cond {
    fn holds(&self, dims: &BTreeMap<String, String>) -> bool {
        match self {
            Cond::Eq(k, v) => dims.get(k) == Some(v),
            Cond::Ne(k, v) => dims.get(k) != Some(v),
            Cond::And(c) => c.iter().all(|c| c.holds(dims)),
            Cond::Or(c) => c.iter().any(|c| c.holds(dims)),
            Cond::Not(c) => !c.holds(dims),
        }
    }
}

/// How dimensions are grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grouping {
    /// Keep every dimension.
    All,
    /// Drop these.
    Merge(Vec<String>),
    /// Keep only these.
    SplitBy(Vec<String>),
}

/// The supported subset of Dynatrace's metric selector:
/// `<key>[:filter(<cond>)][:merge(<dims>)|:splitBy(<dims>)][:avg|:sum|:min|:max|:count]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector {
    pub(crate) key: String,
    filters: Vec<Cond>,
    grouping: Grouping,
    agg: Option<Agg>,
}

/// The metric key of a selector (`builtin:`-style prefixes included), for routing.
pub(crate) fn selector_key(sel: &str) -> &str {
    let sel = sel.trim();
    let end = sel.find(':').unwrap_or(sel.len());
    if ["builtin", "calc", "ext", "func", "dsfm"].contains(&&sel[..end]) {
        let rest = &sel[end + 1..];
        return &sel[..end + 1 + rest.find(':').unwrap_or(rest.len())];
    }
    &sel[..end]
}

/// Splits `s` at top-level occurrences of `sep` (outside parentheses and quotes).
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '~' if quoted => {
                escaped = true;
                cur.push(c);
                continue;
            }
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// `"a~"b"` → `a"b`; unquoted values are taken as they are.
fn unquote(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => s.to_owned(),
    }
}

/// `name(args)` → (`name`, `args`).
fn call(s: &str) -> Option<(&str, &str)> {
    let s = s.trim();
    let open = s.find('(')?;
    let inner = s[open + 1..].strip_suffix(')')?;
    Some((&s[..open], inner))
}

fn parse_cond(s: &str) -> Result<Cond, String> {
    let (name, args) = call(s).ok_or_else(|| format!("`{s}` is not a condition"))?;
    let parts = split_top(args, ',');
    match name {
        "eq" | "ne" => {
            let [k, v] = parts.as_slice() else {
                return Err(format!("`{name}` takes a dimension key and a value: `{s}`"));
            };
            let (k, v) = (unquote(k), unquote(v));
            Ok(if name == "eq" {
                Cond::Eq(k, v)
            } else {
                Cond::Ne(k, v)
            })
        }
        "and" | "or" => {
            let c = parts
                .iter()
                .map(|p| parse_cond(p))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if name == "and" {
                Cond::And(c)
            } else {
                Cond::Or(c)
            })
        }
        "not" => Ok(Cond::Not(Box::new(parse_cond(args)?))),
        other => Err(format!(
            "the condition `{other}(…)` is not supported by the fake tenant (supported: eq, ne, and, or, not)"
        )),
    }
}

impl Selector {
    /// Parses the subset; anything else is an error message for a 400 answer.
    pub(crate) fn parse(sel: &str) -> Result<Self, String> {
        let key = selector_key(sel).to_owned();
        let rest = sel.trim()[key.len()..].to_owned();
        let mut s = Self {
            key,
            filters: Vec::new(),
            grouping: Grouping::All,
            agg: None,
        };
        let Some(rest) = rest.strip_prefix(':') else {
            if rest.is_empty() {
                return Ok(s);
            }
            return Err(format!("unexpected `{rest}` after the metric key"));
        };
        for t in split_top(rest, ':') {
            let t = t.trim();
            let agg = match t {
                "avg" => Some(Agg::Avg),
                "sum" => Some(Agg::Sum),
                "min" => Some(Agg::Min),
                "max" => Some(Agg::Max),
                "count" => Some(Agg::Count),
                _ => None,
            };
            if let Some(a) = agg {
                if s.agg.is_some() {
                    return Err("more than one aggregation".to_owned());
                }
                s.agg = Some(a);
                continue;
            }
            match call(t) {
                Some(("filter", c)) => s.filters.push(parse_cond(c)?),
                Some(("merge", d)) => {
                    s.grouping =
                        Grouping::Merge(split_top(d, ',').iter().map(|x| unquote(x)).collect());
                }
                Some(("splitBy", d)) => {
                    s.grouping = Grouping::SplitBy(
                        split_top(d, ',')
                            .iter()
                            .map(|x| unquote(x))
                            .filter(|x| !x.is_empty())
                            .collect(),
                    );
                }
                _ => {
                    return Err(format!(
                        "the transformation `:{t}` is not supported for the ingested metric `{}` (supported: filter, merge, splitBy, avg, sum, min, max, count)",
                        s.key
                    ));
                }
            }
        }
        Ok(s)
    }

    fn matches(&self, p: &Point) -> bool {
        p.key == self.key && self.filters.iter().all(|c| c.holds(&p.dims))
    }

    fn group_of(&self, dims: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        match &self.grouping {
            Grouping::All => dims.clone(),
            Grouping::Merge(drop) => dims
                .iter()
                .filter(|(k, _)| !drop.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Grouping::SplitBy(keep) => dims
                .iter()
                .filter(|(k, _)| keep.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// Aggregates points; `None` without points.
fn aggregate(points: &[&Point], agg: Agg) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    let mut n = 0.0;
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    for p in points {
        match p.value {
            MetricValue::Gauge(v) | MetricValue::CountDelta(v) => {
                sum += v;
                n += 1.0;
                min = min.min(v);
                max = max.max(v);
            }
            MetricValue::Summary {
                min: lo,
                max: hi,
                sum: s,
                count,
            } => {
                sum += s;
                #[allow(clippy::cast_precision_loss)]
                {
                    n += count as f64;
                }
                min = min.min(lo);
                max = max.max(hi);
            }
        }
    }
    Some(match agg {
        Agg::Avg => sum / n,
        Agg::Sum => sum,
        Agg::Min => min,
        Agg::Max => max,
        Agg::Count => n,
    })
}

fn default_agg(points: &[&Point]) -> Agg {
    if points
        .iter()
        .all(|p| matches!(p.value, MetricValue::CountDelta(_)))
    {
        Agg::Sum
    } else {
        Agg::Avg
    }
}

/// Answers a metric query from stored points: one series per group, one value per bucket of
/// `resolution_ms` (`None`: the whole window).
pub(crate) fn query(
    points: &[Point],
    sel: &Selector,
    from: i64,
    to: i64,
    resolution_ms: Option<i64>,
) -> Vec<MetricSeries> {
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<&Point>> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| sel.matches(p) && p.ts >= from && p.ts < to)
    {
        groups.entry(sel.group_of(&p.dims)).or_default().push(p);
    }
    groups
        .into_iter()
        .map(|(dims, pts)| {
            let agg = sel.agg.unwrap_or_else(|| default_agg(&pts));
            let (timestamps, values) = match resolution_ms {
                None => (vec![to], vec![aggregate(&pts, agg)]),
                Some(r) => {
                    let mut ts = Vec::new();
                    let mut vs = Vec::new();
                    let mut start = from - from.rem_euclid(r);
                    while start < to {
                        let bucket: Vec<&Point> = pts
                            .iter()
                            .copied()
                            .filter(|p| p.ts >= start && p.ts < start + r)
                            .collect();
                        ts.push(start + r);
                        vs.push(aggregate(&bucket, agg));
                        start += r;
                    }
                    (ts, vs)
                }
            };
            let mut s = MetricSeries::new("", timestamps, values);
            s.dimensions = dims.values().map(|v| Some(v.clone())).collect();
            s.dimension_map = dims.into_iter().map(|(k, v)| (k, Some(v))).collect();
            s
        })
        .collect()
}

/// A problem the fake's Davis opened.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FakeProblem {
    pub(crate) id: String,
    pub(crate) display_id: String,
    pub(crate) title: String,
    pub(crate) severity: String,
    pub(crate) event_id: String,
    pub(crate) start: i64,
    pub(crate) end: Option<i64>,
}

impl FakeProblem {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "problemId": self.id,
            "displayId": self.display_id,
            "title": self.title,
            "status": if self.end.is_some() { "CLOSED" } else { "OPEN" },
            "severityLevel": self.severity,
            "impactLevel": "ENVIRONMENT",
            "startTime": self.start,
            "endTime": self.end.unwrap_or(-1),
            "affectedEntities": [],
            "impactedEntities": [],
            "rootCauseEntity": null,
            "managementZones": [],
            "problemFilters": [],
            "entityTags": [],
            "evidenceDetails": {"totalCount": 1, "details": [{
                "evidenceType": "EVENT", "displayName": self.title, "groupingEntity": null,
                "rootCauseRelevant": true, "startTime": self.start,
                "data": {"eventType": "CUSTOM_ALERT", "title": self.title, "source": "metric event", "metricEventId": self.event_id}
            }]},
        })
    }
}

/// The evaluation state of one metric event.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventState {
    /// The last slot evaluated.
    pub(crate) last_slot: Option<i64>,
    /// The index (in the problem list) of the problem it holds open.
    pub(crate) open: Option<usize>,
}

/// Davis, simplified, for one static-threshold metric event: evaluates every slot completed
/// since the last call (slots of `slot_ms`; a slot is evaluated once `delay_ms` have passed
/// after its end, plus `queryOffset` slots when the event sets one, to let data arrive — for
/// ingestion), opening a problem when `violatingSamples` of the last `samples` slots violate
/// the threshold and closing it when `dealertingSamples` of them do not. A slot's value is the
/// selector's aggregation (default: average) over its points; a slot without data counts as
/// violating only with `alertingOnMissingData`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn evaluate(
    event: &Value,
    state: &mut EventState,
    points: &[Point],
    problems: &mut Vec<FakeProblem>,
    next_problem: &mut u64,
    slot_ms: i64,
    delay_ms: i64,
    now: i64,
) {
    let strategy = &event["monitoringStrategy"];
    if event["enabled"] != true || strategy["type"] != "STATIC_THRESHOLD" {
        return;
    }
    let Some(sel) = event["metricSelector"]
        .as_str()
        .and_then(|s| Selector::parse(s).ok())
    else {
        return;
    };
    let num = |k: &str| strategy[k].as_f64();
    let (Some(threshold), Some(samples), Some(violating), Some(dealerting)) = (
        num("threshold"),
        num("samples"),
        num("violatingSamples"),
        num("dealertingSamples"),
    ) else {
        return;
    };
    #[allow(clippy::cast_possible_truncation)]
    let samples = samples as i64;
    let above = strategy["alertCondition"] != "BELOW";
    let missing_violates = strategy["alertingOnMissingData"] == true;
    let offset = event["queryOffset"].as_i64().unwrap_or(0).clamp(0, 60);
    let newest = (now - delay_ms).div_euclid(slot_ms) - 1 - offset;
    let first = state.last_slot.map_or(newest, |l| l + 1);
    // a long pause: only the last window matters
    let first = first.max(newest - samples);
    let slot_violates = |slot: i64| -> bool {
        let (from, to) = (slot * slot_ms, (slot + 1) * slot_ms);
        let pts: Vec<&Point> = points
            .iter()
            .filter(|p| sel.matches(p) && p.ts >= from && p.ts < to)
            .collect();
        let agg = sel.agg.unwrap_or_else(|| default_agg(&pts));
        match aggregate(&pts, agg) {
            None => missing_violates,
            Some(v) if above => v > threshold,
            Some(v) => v < threshold,
        }
    };
    for slot in first..=newest {
        #[allow(clippy::cast_precision_loss)]
        let bad = (slot - samples + 1..=slot)
            .filter(|s| slot_violates(*s))
            .count() as f64;
        #[allow(clippy::cast_precision_loss)]
        let good = samples as f64 - bad;
        let end_of_slot = (slot + 1) * slot_ms;
        match state.open {
            None if bad >= violating => {
                *next_problem += 1;
                let n = *next_problem;
                problems.push(FakeProblem {
                    id: format!("-{n}_{end_of_slot}V2"),
                    display_id: format!("P-{n}"),
                    title: event["name"].as_str().unwrap_or("Metric event").to_owned(),
                    severity: event["severity"]
                        .as_str()
                        .unwrap_or("CUSTOM_ALERT")
                        .to_owned(),
                    event_id: event["id"].as_str().unwrap_or_default().to_owned(),
                    start: end_of_slot,
                    end: None,
                });
                state.open = Some(problems.len() - 1);
            }
            Some(i) if good >= dealerting => {
                problems[i].end = Some(end_of_slot);
                state.open = None;
            }
            _ => {}
        }
        state.last_slot = Some(slot);
    }
}

/// The problem-selector criteria the fake understands, as a filter.
#[derive(Debug, Default)]
pub(crate) struct ProblemFilter {
    status: Option<bool>,
    ids: Vec<String>,
    text: Option<String>,
    severities: Vec<String>,
}

impl ProblemFilter {
    pub(crate) fn parse(sel: &str) -> Result<Self, String> {
        let mut f = Self::default();
        for part in split_top(sel, ',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, args) = call(part).ok_or_else(|| format!("`{part}` is not a criterion"))?;
            let values: Vec<String> = split_top(args, ',').iter().map(|v| unquote(v)).collect();
            match name {
                "status" => match values.as_slice() {
                    [v] if v.eq_ignore_ascii_case("open") => f.status = Some(true),
                    [v] if v.eq_ignore_ascii_case("closed") => f.status = Some(false),
                    _ => return Err(format!("`{part}`: status must be \"open\" or \"closed\"")),
                },
                "problemId" => f.ids.extend(values),
                "text" => f.text = values.into_iter().next().map(|t| t.to_lowercase()),
                "severityLevel" => f.severities.extend(values),
                other => {
                    return Err(format!(
                        "the problem selector criterion `{other}` is not supported by the fake tenant (supported: status, problemId, text, severityLevel)"
                    ));
                }
            }
        }
        Ok(f)
    }

    pub(crate) fn matches(&self, p: &FakeProblem) -> bool {
        self.status.is_none_or(|open| open == p.end.is_none())
            && (self.ids.is_empty() || self.ids.contains(&p.id))
            && self.text.as_ref().is_none_or(|t| {
                p.title.to_lowercase().contains(t) || p.display_id.to_lowercase().contains(t)
            })
            && (self.severities.is_empty() || self.severities.contains(&p.severity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(key: &str, stage: &str, v: f64, ts: i64) -> Point {
        Point {
            key: key.to_owned(),
            dims: BTreeMap::from([("keptn_stage".to_owned(), stage.to_owned())]),
            value: MetricValue::Gauge(v),
            ts,
        }
    }

    /// Filters, aggregations and grouping of the supported subset.
    #[test]
    fn selector_subset() {
        let pts = vec![
            point("a.b.c", "staging", 1.0, 1000),
            point("a.b.c", "staging", 3.0, 2000),
            point("a.b.c", "prod", 10.0, 2000),
        ];
        let q = |s: &str| query(&pts, &Selector::parse(s).unwrap(), 0, 10_000, None);
        let r = q(r#"a.b.c:filter(eq("keptn_stage","staging")):avg"#);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].values, vec![Some(2.0)]);
        assert_eq!(
            q("a.b.c:filter(eq(keptn_stage,staging)):max")[0].values,
            vec![Some(3.0)]
        );
        assert_eq!(q("a.b.c:sum").len(), 2);
        assert_eq!(
            q("a.b.c:merge(\"keptn_stage\"):sum")[0].values,
            vec![Some(14.0)]
        );
        assert_eq!(q("a.b.c:splitBy():count")[0].values, vec![Some(3.0)]);
        assert_eq!(
            q("a.b.c:filter(and(eq(keptn_stage,prod),not(eq(keptn_stage,staging))))")[0].values,
            vec![Some(10.0)]
        );
        assert!(Selector::parse("a.b.c:percentile(95)").is_err());
        assert!(Selector::parse("a.b.c:filter(in(x,y))").is_err());
        assert_eq!(
            selector_key("builtin:service.response.time:avg"),
            "builtin:service.response.time"
        );
        let r = query(
            &pts,
            &Selector::parse("a.b.c:filter(eq(keptn_stage,staging))").unwrap(),
            0,
            3000,
            Some(1000),
        );
        assert_eq!(r[0].values, vec![None, Some(1.0), Some(3.0)]);
    }

    /// A static threshold opens after the violating samples and closes after the dealerting ones.
    #[test]
    fn davis_opens_and_closes() {
        let event = json!({"id": "e1", "name": "Failure rate increase", "enabled": true, "severity": "ERROR",
            "metricSelector": "a.b.c:filter(eq(keptn_stage,prod))",
            "monitoringStrategy": {"type": "STATIC_THRESHOLD", "alertCondition": "ABOVE", "threshold": 10.0,
                "samples": 5, "violatingSamples": 3, "dealertingSamples": 5}});
        let mut pts = Vec::new();
        // slots of 1 s: 0..5 normal, 5..10 violating, 10..20 normal
        for s in 0..20 {
            let v = if (5..10).contains(&s) { 30.0 } else { 1.0 };
            pts.push(point("a.b.c", "prod", v, s * 1000 + 500));
        }
        let mut st = EventState::default();
        let mut problems = Vec::new();
        let mut n = 0;
        let mut opened_at = None;
        let mut closed_at = None;
        for now in (3000..23_000).step_by(1000) {
            evaluate(
                &event,
                &mut st,
                &pts,
                &mut problems,
                &mut n,
                1000,
                1000,
                now,
            );
            if opened_at.is_none() && !problems.is_empty() {
                opened_at = Some(now);
            }
            if closed_at.is_none() && problems.first().is_some_and(|p| p.end.is_some()) {
                closed_at = Some(now);
            }
        }
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].title, "Failure rate increase");
        // slot 7 (third violating) is evaluated at now = 9000..10000
        assert_eq!(problems[0].start, 8000);
        assert_eq!(opened_at, Some(9000));
        // five normal slots 10..14 → closed at the end of slot 14
        assert_eq!(problems[0].end, Some(15_000));
        assert_eq!(closed_at, Some(16_000));
        // data arriving 6 s late (as the tour's): too late for a window of 5 one-second samples
        // evaluated 1 s after their end, counted with a 7 s delay or a queryOffset of 6 samples
        let late = |delay: i64, event: &Value| {
            let mut st = EventState::default();
            let mut problems = Vec::new();
            let mut n = 0;
            let mut arrived = Vec::new();
            for now in (3000..40_000).step_by(1000) {
                arrived.extend(
                    pts.iter()
                        .filter(|p| p.ts + 6000 <= now && p.ts + 6000 > now - 1000)
                        .cloned(),
                );
                evaluate(
                    event,
                    &mut st,
                    &arrived,
                    &mut problems,
                    &mut n,
                    1000,
                    delay,
                    now,
                );
            }
            problems.len()
        };
        assert_eq!(late(1000, &event), 0);
        assert_eq!(late(7000, &event), 1);
        let mut offset = event.clone();
        offset["queryOffset"] = json!(6);
        assert_eq!(late(1000, &offset), 1);
        let f = ProblemFilter::parse("status(\"closed\"),text(\"failure\")").unwrap();
        assert!(f.matches(&problems[0]));
        assert!(
            !ProblemFilter::parse("status(\"open\")")
                .unwrap()
                .matches(&problems[0])
        );
        assert!(ProblemFilter::parse("managementZones(\"x\")").is_err());
    }
}
