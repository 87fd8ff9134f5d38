//! Go-style duration strings (`"10m"`, `"1h30m"`, `"90s"`), as Keptn uses them for
//! `triggeredAfter` and evaluation `timeframe`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A duration written the way Go's `time.ParseDuration` reads it: one or more decimal numbers
/// with a unit each (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), such as `"15m"` or `"1h30m"`.
/// Negative durations are rejected.
///
/// `Display` writes the shortest form with `h`, `m`, `s`, `ms`, `us`, `ns` parts that parses back
/// to the same value (`"1h30m"`, `"2m"`, `"1s500ms"`, `"0s"`).
///
/// ```
/// use keptn_spec::GoDuration;
/// use std::time::Duration;
///
/// let d: GoDuration = "1h30m".parse()?;
/// assert_eq!(d.as_duration(), Duration::from_secs(5400));
/// assert_eq!("90m".parse::<GoDuration>()?.to_string(), "1h30m");
/// assert!("10 minutes".parse::<GoDuration>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct GoDuration(Duration);

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a duration: {reason} (expected a Go duration such as `10m`, `1h30m` or `90s`)"
)]
pub struct InvalidDuration {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl GoDuration {
    /// Wraps a [`Duration`].
    pub fn new(d: Duration) -> Self {
        Self(d)
    }

    /// The duration.
    pub fn as_duration(&self) -> Duration {
        self.0
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Self {
        d.0
    }
}

impl FromStr for GoDuration {
    type Err = InvalidDuration;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| InvalidDuration {
            input: s.to_owned(),
            reason,
        };
        let mut rest = s;
        if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        }
        if rest.starts_with('-') {
            return Err(fail("negative durations are not allowed"));
        }
        if rest == "0" {
            return Ok(Self(Duration::ZERO));
        }
        if rest.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut total_ns: u128 = 0;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let num = &rest[..num_len];
            if num.is_empty() || num == "." || num.matches('.').count() > 1 {
                return Err(fail("a number is missing or malformed"));
            }
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let unit_ns: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "" => return Err(fail("a unit is missing")),
                _ => return Err(fail("unknown unit")),
            };
            let (int, frac) = num.split_once('.').unwrap_or((num, ""));
            let int: u128 = if int.is_empty() {
                0
            } else {
                int.parse().map_err(|_| fail("the number is too large"))?
            };
            let mut part = int
                .checked_mul(unit_ns)
                .ok_or_else(|| fail("the number is too large"))?;
            // fractional part, to nanosecond precision
            let mut scale = unit_ns;
            for d in frac.chars().take(18) {
                scale /= 10;
                part += u128::from(d.to_digit(10).unwrap_or(0)) * scale;
            }
            total_ns = total_ns
                .checked_add(part)
                .ok_or_else(|| fail("the number is too large"))?;
        }
        let secs =
            u64::try_from(total_ns / 1_000_000_000).map_err(|_| fail("the number is too large"))?;
        let nanos = u32::try_from(total_ns % 1_000_000_000).unwrap_or(0);
        Ok(Self(Duration::new(secs, nanos)))
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        if total == 0 && nanos == 0 {
            return f.write_str("0s");
        }
        let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        let (ms, us, ns) = (nanos / 1_000_000, (nanos / 1_000) % 1_000, nanos % 1_000);
        if ms > 0 {
            write!(f, "{ms}ms")?;
        }
        if us > 0 {
            write!(f, "{us}us")?;
        }
        if ns > 0 {
            write!(f, "{ns}ns")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for GoDuration {
    type Error = InvalidDuration;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<GoDuration> for String {
    fn from(d: GoDuration) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Go's forms parse to the right value, malformed ones are rejected.
    #[test]
    fn parses_go_durations() {
        let p = |s: &str| s.parse::<GoDuration>().map(|d| d.as_duration());
        assert_eq!(p("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(p("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(p("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(p("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(p("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "10",
            "m",
            "10x",
            "-5m",
            "1..5s",
            "10 m",
            "99999999999999999999999h",
        ] {
            assert!(p(bad).is_err(), "{bad} accepted");
        }
    }

    proptest! {
        /// Display output parses back to the same duration.
        #[test]
        fn display_round_trips(secs in 0u64..10_000_000, nanos in 0u32..1_000_000_000) {
            let d = GoDuration::new(Duration::new(secs, nanos));
            prop_assert_eq!(d.to_string().parse::<GoDuration>(), Ok(d));
        }

        /// Arbitrary text never panics the parser.
        #[test]
        fn never_panics(s in ".*") {
            let _ = s.parse::<GoDuration>();
        }
    }
}
