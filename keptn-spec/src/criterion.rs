//! SLO criteria such as `<=+10%` or `<600`, parsed with Keptn's grammar.
//!
//! Keptn 1.4.5's lighthouse reads a criterion string like this:
//!
//! 1. every space character is removed;
//! 2. the string must start with one of `<`, `=`, `>` (or `|`, a leftover of Keptn's regular
//!    expression), otherwise it is an *invalid criteria string*;
//! 3. the operator is the first of `<=`, `<`, `=`, `>=`, `>` that prefixes the string;
//! 4. a trailing `%` makes the criterion relative to the baseline (a percentage, an increase
//!    unless a `-` sign follows the operator): `<=10%` means `<=+10%`;
//! 5. a leading `-` after the operator makes it a relative decrease, a leading `+` a relative
//!    increase (an absolute delta unless `%` is present);
//! 6. the rest must be a number, otherwise Keptn reports *could not parse criteria target value*
//!    (`<600ms`, `=<5` and `<` are all rejected).
//!
//! A consequence (a Keptn quirk we keep): a negative absolute threshold such as `>-5` cannot be
//! written; a leading `-` always means "relative decrease".
//!
//! [`Criterion`] is a successfully parsed criterion; its [`Display`](fmt::Display) writes the
//! canonical form (`<=10%` is written `<=+10%`) which parses back to the same value.
//! [`CriterionEntry`] is one entry of an SLO `criteria:` list as written: it keeps the original
//! text (Keptn reports it verbatim) and either the parsed criterion or the parse error, so that
//! an SLO with an unparsable criterion still loads and is reported at evaluation time exactly as
//! Keptn does (see `DESIGN.md`); strict loading rejects it instead.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A comparison operator of a criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=` (exact floating-point equality, as in Keptn)
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Op {
    /// The operator as written in a criterion.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }

    /// Whether `value <op> target` holds.
    #[inline]
    pub fn holds(self, value: f64, target: f64) -> bool {
        match self {
            Op::Lt => value < target,
            Op::Le => value <= target,
            Op::Eq => value == target,
            Op::Ge => value >= target,
            Op::Gt => value > target,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The direction of a relative criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `+` (or no sign with `%`): the target is above the baseline.
    Increase,
    /// `-`: the target is below the baseline.
    Decrease,
}

/// The unit of a relative criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// `%`: a percentage of the baseline.
    Percent,
    /// No `%`: an absolute difference to the baseline.
    Delta,
}

/// What a criterion compares the measured value with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// A fixed number, such as `600` in `<600`. Never negative (see the module docs).
    Absolute(f64),
    /// A target computed from the baseline (the aggregate of previous values).
    Relative {
        /// Above or below the baseline.
        direction: Direction,
        /// Percentage or absolute delta.
        unit: Unit,
        /// The number as written after the sign (`10` in `<=+10%`).
        amount: f64,
    },
}

/// A parsed SLO criterion such as `<=+10%` (relative to the baseline) or `<600` (absolute).
///
/// ```
/// use keptn_spec::criterion::{Criterion, Op};
///
/// let c: Criterion = "<= 10%".parse()?;
/// assert_eq!(c.op(), Op::Le);
/// assert!(c.is_relative());
/// assert_eq!(c.to_string(), "<=+10%");
/// assert_eq!(c.target(Some(500.0)), 550.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criterion {
    op: Op,
    threshold: Threshold,
}

impl Criterion {
    /// A criterion from its parts.
    ///
    /// # Errors
    /// [`ParseCriterionError`] when `threshold` is an absolute value that Keptn's grammar cannot
    /// express (negative or NaN), so that every `Criterion` can be written and read back.
    pub fn new(op: Op, threshold: Threshold) -> Result<Self, ParseCriterionError> {
        if let Threshold::Absolute(v) = threshold
            && (v.is_nan() || v.is_sign_negative())
        {
            return Err(ParseCriterionError {
                text: format!("{op}{v}"),
                kind: ParseCriterionErrorKind::NegativeAbsolute,
            });
        }
        Ok(Self { op, threshold })
    }

    /// The comparison operator.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The threshold.
    pub fn threshold(&self) -> Threshold {
        self.threshold
    }

    /// Whether the target depends on previous evaluations.
    pub fn is_relative(&self) -> bool {
        matches!(self.threshold, Threshold::Relative { .. })
    }

    /// The target value for a baseline (Keptn's `targetValue`).
    ///
    /// Absolute criteria return their number. Relative criteria with a baseline compute
    /// `baseline × (100 ± amount) / 100` (percent) or `baseline ± amount` (delta); without a
    /// baseline (`None`) they return `0`, as Keptn reports them.
    #[inline]
    pub fn target(&self, baseline: Option<f64>) -> f64 {
        match self.threshold {
            Threshold::Absolute(v) => v,
            Threshold::Relative {
                direction,
                unit,
                amount,
            } => {
                let Some(agg) = baseline else { return 0.0 };
                match (unit, direction) {
                    (Unit::Percent, Direction::Increase) => (agg * (100.0 + amount)) / 100.0,
                    (Unit::Percent, Direction::Decrease) => (agg * (100.0 - amount)) / 100.0,
                    (Unit::Delta, Direction::Increase) => agg + amount,
                    (Unit::Delta, Direction::Decrease) => agg - amount,
                }
            }
        }
    }

    /// Whether `value` satisfies this criterion given a baseline.
    ///
    /// A relative criterion without a baseline is satisfied (Keptn: "if no comparison values
    /// are available, the evaluation passes").
    #[inline]
    pub fn is_satisfied_by(&self, value: f64, baseline: Option<f64>) -> bool {
        if self.is_relative() && baseline.is_none() {
            return true;
        }
        self.op.holds(value, self.target(baseline))
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op.as_str())?;
        match self.threshold {
            Threshold::Absolute(v) => write!(f, "{v}"),
            Threshold::Relative {
                direction,
                unit,
                amount,
            } => {
                let sign = match direction {
                    Direction::Increase => '+',
                    Direction::Decrease => '-',
                };
                let pct = match unit {
                    Unit::Percent => "%",
                    Unit::Delta => "",
                };
                write!(f, "{sign}{amount}{pct}")
            }
        }
    }
}

/// Why a criterion string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid criterion `{text}`: {}", self.kind.detail())]
pub struct ParseCriterionError {
    text: String,
    kind: ParseCriterionErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParseCriterionErrorKind {
    /// Does not start with an operator.
    NoOperator,
    /// The number after operator and sign is not a number.
    BadNumber,
    /// The number is too large for a 64-bit float.
    OutOfRange,
    /// Constructed through the API with a negative absolute value.
    NegativeAbsolute,
}

impl ParseCriterionErrorKind {
    fn detail(self) -> &'static str {
        match self {
            Self::NoOperator => {
                "expected an operator `<`, `<=`, `=`, `>=` or `>` followed by a number, optionally signed (`+`/`-`, relative) and with `%` (percent)"
            }
            Self::BadNumber => {
                "expected a number after the operator and optional sign, such as `<600`, `<=+10%` or `>=-5`"
            }
            Self::OutOfRange => "the number is out of the range of a 64-bit float",
            Self::NegativeAbsolute => {
                "an absolute threshold cannot be negative or NaN in Keptn's grammar (a leading `-` means a relative decrease)"
            }
        }
    }
}

impl ParseCriterionError {
    /// The criterion text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The error text Keptn's lighthouse produces for this criterion (`invalid criteria string`
    /// or `could not parse criteria target value`), used in Keptn-exact evaluation messages.
    pub fn keptn_message(&self) -> &'static str {
        match self.kind {
            ParseCriterionErrorKind::NoOperator => "invalid criteria string",
            ParseCriterionErrorKind::BadNumber
            | ParseCriterionErrorKind::OutOfRange
            | ParseCriterionErrorKind::NegativeAbsolute => "could not parse criteria target value",
        }
    }
}

impl FromStr for Criterion {
    type Err = ParseCriterionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |kind| ParseCriterionError {
            text: s.to_owned(),
            kind,
        };
        // 1. Keptn removes every space character (only U+0020).
        let owned;
        let compact: &str = if s.contains(' ') {
            owned = s.replace(' ', "");
            &owned
        } else {
            s
        };
        // 2. The gate: Keptn's regex is anchored at the start only and its first group is the
        //    character class `[<|=>]`; everything after it may match empty.
        if !compact.starts_with(['<', '|', '=', '>']) {
            return Err(err(ParseCriterionErrorKind::NoOperator));
        }
        // 3. The operator: first prefix of `<=`, `<`, `=`, `>=`, `>`.
        let (op, mut rest) = if let Some(r) = compact.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = compact.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = compact.strip_prefix('=') {
            (Op::Eq, r)
        } else if let Some(r) = compact.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = compact.strip_prefix('>') {
            (Op::Gt, r)
        } else {
            // Only `|` passes the gate without an operator; Keptn then fails on the number.
            return Err(err(ParseCriterionErrorKind::BadNumber));
        };
        // 4. A trailing `%`: relative percentage increase.
        let mut relative = None;
        let mut unit = Unit::Delta;
        if let Some(r) = rest.strip_suffix('%') {
            rest = r;
            unit = Unit::Percent;
            relative = Some(Direction::Increase);
        }
        // 5. A leading sign: relative decrease or increase.
        if let Some(r) = rest.strip_prefix('-') {
            rest = r;
            relative = Some(Direction::Decrease);
        } else if let Some(r) = rest.strip_prefix('+') {
            rest = r;
            relative = Some(Direction::Increase);
        }
        // 6. The number (Go's ParseFloat: out-of-range values are errors).
        let amount = parse_go_float(rest).map_err(err)?;
        let threshold = match relative {
            Some(direction) => Threshold::Relative {
                direction,
                unit,
                amount,
            },
            None => Threshold::Absolute(amount),
        };
        Ok(Self { op, threshold })
    }
}

/// Parses a number the way Go's `strconv.ParseFloat(s, 64)` does for decimal input.
fn parse_go_float(s: &str) -> Result<f64, ParseCriterionErrorKind> {
    // Rust accepts a few spellings Go does not (none relevant) and vice versa (hex floats,
    // digit separators after a base prefix); both are documented in DESIGN.md.
    let v: f64 = s.parse().map_err(|_| ParseCriterionErrorKind::BadNumber)?;
    if v.is_infinite() {
        let lower = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if lower != "inf" && lower != "infinity" {
            return Err(ParseCriterionErrorKind::OutOfRange);
        }
    }
    Ok(v)
}

impl TryFrom<&str> for Criterion {
    type Error = ParseCriterionError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl Serialize for Criterion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Criterion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One entry of an SLO `criteria:` list as written: the original text and its parse result.
///
/// Keptn reports the original text in `passTargets[].criteria`; an entry that does not parse is
/// kept (tolerant loading) and handled at evaluation time exactly as Keptn 1.4.5 does;
/// [`Slo::parse`](crate::slo::Slo::parse) rejects it with its line and column instead.
///
/// ```
/// use keptn_spec::criterion::CriterionEntry;
///
/// let ok = CriterionEntry::new("< 600");
/// assert_eq!(ok.text(), "< 600");
/// assert_eq!(ok.criterion().unwrap().to_string(), "<600");
///
/// let bad = CriterionEntry::new("<600ms");
/// assert_eq!(bad.criterion().unwrap_err().keptn_message(), "could not parse criteria target value");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CriterionEntry {
    text: Arc<str>,
    parsed: Result<Criterion, ParseCriterionError>,
}

impl CriterionEntry {
    /// Parses `text` and keeps it with its result.
    pub fn new(text: impl Into<String>) -> Self {
        let text: String = text.into();
        let parsed = text.parse();
        Self {
            text: Arc::from(text),
            parsed,
        }
    }

    /// The criterion text exactly as written in the file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text as a shared string (cheap to clone into evaluation results).
    pub fn shared_text(&self) -> &Arc<str> {
        &self.text
    }

    /// The parsed criterion, or why it does not parse.
    ///
    /// # Errors
    /// The [`ParseCriterionError`] of the text.
    pub fn criterion(&self) -> Result<&Criterion, &ParseCriterionError> {
        self.parsed.as_ref()
    }
}

impl From<Criterion> for CriterionEntry {
    fn from(c: Criterion) -> Self {
        Self {
            text: Arc::from(c.to_string()),
            parsed: Ok(c),
        }
    }
}

impl Serialize for CriterionEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CriterionEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(CriterionEntry::new(String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Criterion {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Absolute criteria keep their literal number.
    #[test]
    fn rule_2_3_absolute_criteria_use_the_literal_number() {
        for (s, op, v) in [
            ("<600", Op::Lt, 600.0),
            ("<=800", Op::Le, 800.0),
            ("=0", Op::Eq, 0.0),
            (">=5", Op::Ge, 5.0),
            (">1.5", Op::Gt, 1.5),
        ] {
            let c = parse(s);
            assert_eq!(c.op(), op, "{s}");
            assert_eq!(c.threshold(), Threshold::Absolute(v), "{s}");
            assert_eq!(c.target(Some(123.0)), v);
        }
    }

    /// A `%` without sign is a relative increase.
    #[test]
    fn rule_2_3_percent_without_sign_is_relative_increase() {
        assert_eq!(parse("<=10%"), parse("<=+10%"));
        assert_eq!(parse("<=10%").target(Some(500.0)), 550.0);
    }

    /// Relative percentage and delta targets.
    #[test]
    fn rule_2_3_relative_targets() {
        assert_eq!(parse(">=-5%").target(Some(200.0)), 190.0);
        assert_eq!(parse("<=+10").target(Some(200.0)), 210.0);
        assert_eq!(parse("<=-10").target(Some(200.0)), 190.0);
        assert_eq!(parse("<=+10%").target(None), 0.0);
    }

    /// Keptn quirk: a leading `-` always means relative decrease, never a negative number.
    #[test]
    fn rule_2_3_negative_threshold_is_a_relative_decrease() {
        let c = parse(">-5");
        assert!(c.is_relative());
        assert_eq!(c.target(Some(10.0)), 5.0);
    }

    /// Spaces are removed before parsing.
    #[test]
    fn rule_2_3_spaces_are_removed() {
        assert_eq!(parse("< 10"), parse("<10"));
        assert_eq!(parse(" <= + 10 % "), parse("<=+10%"));
    }

    /// Trailing garbage and odd operators are rejected like Keptn does.
    #[test]
    fn rule_2_3_unparsable_criteria_are_rejected() {
        for s in ["<600ms", "=<5", "<", "==5", "|5", "<%", "<1e400"] {
            let e = s.parse::<Criterion>().unwrap_err();
            assert_eq!(
                e.keptn_message(),
                "could not parse criteria target value",
                "{s}"
            );
        }
        for s in ["600", "", "ms<5", "!5"] {
            let e = s.parse::<Criterion>().unwrap_err();
            assert_eq!(e.keptn_message(), "invalid criteria string", "{s}");
        }
    }

    /// Operator precedence `<=`, `<`, `=`, `>=`, `>`.
    #[test]
    fn rule_2_3_operator_prefix_order() {
        assert_eq!(parse(">=5").op(), Op::Ge);
        assert_eq!(parse(">5").op(), Op::Gt);
        assert_eq!(parse("<=5").op(), Op::Le);
    }

    /// `=` is exact float equality.
    #[test]
    fn rule_2_3_equality_is_exact() {
        let c = parse("=0");
        assert!(c.is_satisfied_by(0.0, None));
        assert!(!c.is_satisfied_by(0.000_001, None));
    }

    /// Display writes the canonical form, which parses back to the same criterion.
    #[test]
    fn display_round_trips() {
        for s in [
            "<600", "<=+10%", "<=10%", ">=-5%", "<=+-5", "=0", ">1.5", "< 10",
        ] {
            let c = parse(s);
            assert_eq!(parse(&c.to_string()), c, "{s} -> {c}");
        }
        assert_eq!(parse("<=10%").to_string(), "<=+10%");
    }

    /// The error message names the criterion and says what was expected.
    #[test]
    fn error_message_is_precise() {
        let e = "<600ms".parse::<Criterion>().unwrap_err();
        insta::assert_snapshot!(e, @"invalid criterion `<600ms`: expected a number after the operator and optional sign, such as `<600`, `<=+10%` or `>=-5`");
    }

    /// A negative absolute threshold cannot be built, because it could not be written.
    #[test]
    fn new_rejects_negative_absolute() {
        assert!(Criterion::new(Op::Lt, Threshold::Absolute(-1.0)).is_err());
        assert!(Criterion::new(Op::Lt, Threshold::Absolute(1.0)).is_ok());
    }

    proptest::proptest! {
        /// Parsing never panics on arbitrary strings.
        #[test]
        fn parse_never_panics(s in "\\PC{0,12}") {
            let _ = s.parse::<Criterion>();
        }

        /// Display/FromStr round trip for every criterion.
        #[test]
        fn prop_display_round_trip(
            op in proptest::sample::select(vec![Op::Lt, Op::Le, Op::Eq, Op::Ge, Op::Gt]),
            kind in 0u8..5,
            amount in -1.0e12f64..1.0e12,
        ) {
            let threshold = match kind {
                0 => Threshold::Absolute(amount.abs()),
                1 => Threshold::Relative { direction: Direction::Increase, unit: Unit::Percent, amount },
                2 => Threshold::Relative { direction: Direction::Decrease, unit: Unit::Percent, amount },
                3 => Threshold::Relative { direction: Direction::Increase, unit: Unit::Delta, amount },
                _ => Threshold::Relative { direction: Direction::Decrease, unit: Unit::Delta, amount },
            };
            let c = Criterion::new(op, threshold).unwrap();
            let back: Criterion = c.to_string().parse().unwrap();
            proptest::prop_assert_eq!(back, c);
        }
    }
}
