//! The one retry policy of every HTTP client in the family: how many attempts, exponential
//! backoff with a cap and jitter, `Retry-After`, and which failures are worth another attempt.
//!
//! The policy is pure: it decides, the client sleeps. A client reports each failed attempt as a
//! [`Failure`], says whether its request may be repeated ([`RequestKind`]), and passes a random
//! number for the jitter, so the same inputs always give the same answer.
//!
//! ```
//! use std::time::Duration;
//! use keptn_spec::retry::{Failure, RequestKind, RetryPolicy};
//!
//! let policy = RetryPolicy::default();
//! // A 503 after the first attempt of a GET: retry after 125..=250 ms (equal jitter).
//! let wait = policy.next_wait(1, Failure::Status(503), RequestKind::Idempotent, None, 0.0);
//! assert_eq!(wait, Some(Duration::from_millis(125)));
//! // `Retry-After: 2` wins over the backoff.
//! let wait = policy.next_wait(1, Failure::Status(429), RequestKind::Idempotent,
//!                             Some(Duration::from_secs(2)), 0.5);
//! assert_eq!(wait, Some(Duration::from_secs(2)));
//! // A 400 is not retried, and neither is anything after the last attempt.
//! assert_eq!(policy.next_wait(1, Failure::Status(400), RequestKind::Idempotent, None, 0.5), None);
//! assert_eq!(policy.next_wait(4, Failure::Connect, RequestKind::Idempotent, None, 0.5), None);
//! ```

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How failed requests are retried.
///
/// Attempt `n + 1` follows a failed attempt `n` when `n < max_attempts` and the failure is
/// retryable for the request ([`RetryPolicy::is_retryable`]). The wait before it is the
/// server's `Retry-After` (at most [`max_retry_after`](Self::max_retry_after)) or else the
/// backoff `initial_backoff × 2ⁿ⁻¹`, capped at `max_backoff`, with "equal jitter": a value
/// between half of it and all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first included (`1` = no retries).
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles for each further retry.
    pub initial_backoff: Duration,
    /// The largest backoff between two attempts (not applied to `Retry-After`).
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one waits this long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts; backoff 250 ms, 500 ms, 1 s (each with jitter), at most 5 s;
    /// `Retry-After` honoured up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// What went wrong in one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// No connection was made: the server certainly did not see the request.
    Connect,
    /// The attempt timed out; the server may have acted on it.
    Timeout,
    /// Sending the request or reading the answer failed after connecting.
    Transport,
    /// The server answered with this non-success status.
    Status(u16),
    /// Anything a new attempt cannot fix (a bad request built locally, an undecodable body).
    Permanent,
}

/// Whether a request may be repeated without changing its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// Repeating it does no harm (reads, puts, setting a flag to a state, at-least-once
    /// deliveries).
    Idempotent,
    /// It creates something: repeated only when it certainly had no effect (no connection,
    /// `429`, `503`).
    NonIdempotent,
}

impl RetryPolicy {
    /// A policy with the given number of attempts (at least 1) and backoff bounds; `Retry-After`
    /// is honoured up to the default 30 s.
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff: max_backoff.max(initial_backoff),
            ..Self::default()
        }
    }

    /// One attempt, no retries.
    pub fn none() -> Self {
        Self::new(1, Duration::ZERO, Duration::ZERO)
    }

    /// The same policy with another longest honoured `Retry-After`.
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Whether `failure` is worth another attempt of a request of this kind: connection
    /// failures, `429` and `503` always; timeouts, other transport failures, `408` and other
    /// `5xx` only when the request is idempotent.
    pub fn is_retryable(failure: Failure, kind: RequestKind) -> bool {
        let idempotent = kind == RequestKind::Idempotent;
        match failure {
            Failure::Connect => true,
            Failure::Timeout | Failure::Transport => idempotent,
            Failure::Status(429 | 503) => true,
            Failure::Status(status) => {
                idempotent && (status == 408 || (500..600).contains(&status))
            }
            Failure::Permanent => false,
        }
    }

    /// The backoff before retry number `retry` (1-based), for `jitter` in `[0, 1]` (out-of-range
    /// values are clamped): between half and all of `initial_backoff × 2^(retry-1)`, capped at
    /// `max_backoff`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        half + (capped - half).mul_f64(jitter)
    }

    /// How long to wait before the attempt after failed attempt `attempt` (1-based), or `None`
    /// when there is none: the attempts are used up or the failure is not retryable.
    /// `retry_after` is the server's `Retry-After`; `jitter` a random number in `[0, 1]`.
    pub fn next_wait(
        &self,
        attempt: u32,
        failure: Failure,
        kind: RequestKind,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts || !Self::is_retryable(failure, kind) {
            return None;
        }
        Some(match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => self.backoff(attempt, jitter),
        })
    }
}

/// Reads a `Retry-After` header value: delay-seconds (`"3"`) or an HTTP date, which is measured
/// from `now` (a date in the past is zero). Anything else is `None`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (when.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backoff doubles, is capped, and stays within [half, full] of its nominal value.
    #[test]
    fn backoff_bounds() {
        let p = RetryPolicy::new(5, Duration::from_millis(100), Duration::from_millis(300));
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(50));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 0.0), Duration::from_millis(100));
        assert_eq!(p.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(p.backoff(4, 0.0), Duration::from_millis(150));
        assert_eq!(p.backoff(4, 1.0), Duration::from_millis(300));
        assert_eq!(p.backoff(40, 2.0), Duration::from_millis(300));
        assert_eq!(p.backoff(1, f64::NAN), Duration::from_millis(50));
    }

    /// Which failures are retried for idempotent and non-idempotent requests.
    #[test]
    fn retryable_failures() {
        use Failure::*;
        use RequestKind::*;
        for f in [Connect, Status(429), Status(503)] {
            assert!(RetryPolicy::is_retryable(f, NonIdempotent), "{f:?}");
            assert!(RetryPolicy::is_retryable(f, Idempotent), "{f:?}");
        }
        for f in [Timeout, Transport, Status(408), Status(500), Status(502)] {
            assert!(!RetryPolicy::is_retryable(f, NonIdempotent), "{f:?}");
            assert!(RetryPolicy::is_retryable(f, Idempotent), "{f:?}");
        }
        for f in [
            Permanent,
            Status(400),
            Status(401),
            Status(404),
            Status(600),
        ] {
            assert!(!RetryPolicy::is_retryable(f, Idempotent), "{f:?}");
        }
    }

    /// Retry-After wins over the backoff, up to its cap; the last attempt is never followed.
    #[test]
    fn next_wait_rules() {
        let p = RetryPolicy::new(3, Duration::from_millis(100), Duration::from_secs(1))
            .with_max_retry_after(Duration::from_secs(10));
        let kind = RequestKind::Idempotent;
        let ra = Some(Duration::from_secs(60));
        assert_eq!(
            p.next_wait(1, Failure::Status(429), kind, ra, 0.0),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            p.next_wait(2, Failure::Timeout, kind, None, 1.0),
            Some(Duration::from_millis(200))
        );
        assert_eq!(p.next_wait(3, Failure::Timeout, kind, None, 1.0), None);
        assert_eq!(
            RetryPolicy::none().next_wait(1, Failure::Connect, kind, None, 0.0),
            None
        );
        assert_eq!(
            RetryPolicy::new(0, Duration::ZERO, Duration::ZERO).max_attempts,
            1
        );
    }

    /// `Retry-After` is read as seconds or as an HTTP date relative to `now`.
    #[test]
    fn retry_after_forms() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
