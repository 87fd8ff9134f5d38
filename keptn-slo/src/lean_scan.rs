//! A hand-written scanner for the part of a previous-evaluations array the engine reads.
//!
//! [`PreviousEvaluation::baselines_from_json_str`] reads a JSON array of previous evaluations
//! but needs only `id`, `invalidated`, `result` and every indicator result's `value`
//! (`metric`, `value`, `success`). The typed serde reader still walks every byte through its
//! generic machinery; this scanner validates the skipped parts with tight byte loops and builds
//! only what is kept.
//!
//! It answers only when it is sure the serde reader gives the same answer: it accepts exactly
//! the JSON grammar serde_json accepts (including its rules for ignored strings, numbers and
//! nesting), and on anything outside the common shape — a field of the wrong type, a duplicate
//! or missing field, an escaped key, a number with an exponent, invalid JSON — it returns
//! `None`, and the caller runs the serde reader, which produces the same value or the located
//! error (line, column, field). Strings with escapes and unusual numbers are decoded by
//! serde_json itself, one token at a time.

use std::sync::Arc;

use keptn_spec::Verdict;
use keptn_spec::evaluation::{IndicatorResult, SliResult};

use crate::report::{PreviousEvaluation, lean_indicator, lean_previous, lean_sli};

/// Reads a JSON array of previous evaluations as the serde lean reader does, or `None` when
/// the text is not in the shape this scanner decides alone (the caller then runs serde).
pub(crate) fn scan_previous(text: &str) -> Option<Vec<PreviousEvaluation>> {
    let mut s = Scanner {
        text,
        b: text.as_bytes(),
        i: 0,
    };
    s.ws();
    s.eat(b'[')?;
    let mut out = Vec::new();
    s.ws();
    if s.peek() == Some(b']') {
        s.i += 1;
    } else {
        loop {
            s.ws();
            out.push(s.entry()?);
            s.ws();
            match s.next()? {
                b',' => {}
                b']' => break,
                _ => return None,
            }
        }
    }
    s.ws();
    (s.i == s.b.len()).then_some(out)
}

/// Sets `slot` once; a second occurrence of a field is serde's "duplicate field" error.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// `10^k` for the exactly representable powers, as serde_json divides by them.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Whether the byte ends a run of plain string content: `"`, `\` or a control character.
fn is_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// `0x01` in every byte of a word.
const LO: u64 = u64::from_le_bytes([1; 8]);
/// `0x80` in every byte of a word.
const HI: u64 = LO << 7;

/// The bytes of `w` that are [`is_special`], flagged with their high bit. Only the lowest flag
/// is exact (a borrow can flag a byte above a flagged one), which is the one used.
#[inline]
fn special_bytes(w: u64) -> u64 {
    let below = |x: u64, n: u8| x.wrapping_sub(LO * u64::from(n)) & !x;
    let quote = w ^ (LO * u64::from(b'"'));
    let backslash = w ^ (LO * u64::from(b'\\'));
    (below(quote, 1) | below(backslash, 1) | below(w, 0x20)) & HI
}

struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// The 8 bytes at `at` as one little-endian word (`None` near the end of the text).
    #[inline]
    fn word(&self, at: usize) -> Option<u64> {
        let chunk: [u8; 8] = self.b.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(chunk))
    }

    /// Skips JSON whitespace (space, tab, CR, LF); runs of spaces (indentation) are skipped a
    /// word at a time.
    #[inline]
    fn ws(&mut self) {
        // Most tokens follow their predecessor directly.
        if self.peek().is_none_or(|c| c > b' ') {
            return;
        }
        loop {
            while let Some(w) = self.word(self.i) {
                let other = w ^ (LO * u64::from(b' '));
                if other != 0 {
                    // The first byte that is not a space.
                    self.i += (other.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            match self.peek() {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.i += 1,
                _ => return,
            }
        }
    }

    /// A string whose opening quote is next: its raw content (between the quotes) and whether
    /// it holds escapes. Validates as serde_json's `ignore_str` does: control characters are
    /// errors, escapes are `\" \\ \/ \b \f \n \r \t` or `\u` with four hex digits.
    #[inline]
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            // Plain content, a word at a time, then byte by byte near the end of the text.
            while let Some(w) = self.word(self.i) {
                let found = special_bytes(w);
                if found != 0 {
                    self.i += (found.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            while self.peek().is_some_and(|c| !is_special(c)) {
                self.i += 1;
            }
            match self.next()? {
                b'"' => return Some((start, self.i - 1, escaped)),
                b'\\' => {
                    escaped = true;
                    match self.next()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.b.get(self.i..self.i + 4)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 4;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// A string value decoded as serde_json decodes it (escapes through serde_json itself,
    /// which rejects lone surrogates).
    fn decoded(&mut self) -> Option<std::borrow::Cow<'a, str>> {
        let open = self.i;
        let (start, end, escaped) = self.string()?;
        if escaped {
            serde_json::from_str::<String>(&self.text[open..=end])
                .ok()
                .map(std::borrow::Cow::Owned)
        } else {
            Some(std::borrow::Cow::Borrowed(&self.text[start..end]))
        }
    }

    /// A key of an object read into a struct: plain text only (an escaped key is decoded by
    /// serde before matching, so it is left to serde).
    fn key(&mut self) -> Option<&'a [u8]> {
        let (start, end, escaped) = self.string()?;
        if escaped {
            return None;
        }
        self.ws();
        self.eat(b':')?;
        self.ws();
        Some(&self.b[start..end])
    }

    /// The fields of an object read into a struct (`{` next), each handed to `field` with the
    /// scanner before its value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.key()?;
            field(self, key)?;
            self.ws();
            match self.next()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    /// Whether `null` is next (and skips it).
    fn null(&mut self) -> bool {
        self.literal(b"null").is_some()
    }

    /// A number token, checked against JSON's grammar: `(start, end, fast)` where `fast` is
    /// `Some(value)` when the token has at most 15 digits and no exponent (then one exact
    /// division gives the value, as serde_json computes it).
    fn number(&mut self) -> Option<(usize, usize, Option<f64>)> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let mut significand = 0u64;
        let mut digits = 1u32;
        match self.next()? {
            b'0' => {
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return None;
                }
            }
            c @ b'1'..=b'9' => {
                significand = u64::from(c - b'0');
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    self.i += 1;
                    digits += 1;
                    significand = significand
                        .wrapping_mul(10)
                        .wrapping_add(u64::from(c - b'0'));
                }
            }
            _ => return None,
        }
        let mut fraction = 0usize;
        if self.peek() == Some(b'.') {
            self.i += 1;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                self.i += 1;
                fraction += 1;
                digits += 1;
                significand = significand
                    .wrapping_mul(10)
                    .wrapping_add(u64::from(c - b'0'));
            }
            if fraction == 0 {
                return None;
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return None;
            }
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        }
        // serde_json reads `-0` as the integer 0: left to it, like every long or exponent form.
        let fast = (!exponent && digits <= 15 && !(negative && significand == 0)).then(|| {
            // At most 15 digits: the significand and 10^fraction are exact in an f64.
            #[allow(clippy::cast_precision_loss)]
            let magnitude = significand as f64 / POW10[fraction];
            if negative { -magnitude } else { magnitude }
        });
        Some((start, self.i, fast))
    }

    /// A number read into an `f64` field, as serde_json reads it.
    fn float(&mut self) -> Option<f64> {
        let (start, end, fast) = self.number()?;
        match fast {
            Some(v) => Some(v),
            None => serde_json::from_str::<f64>(&self.text[start..end]).ok(),
        }
    }

    /// Skips any JSON value as serde_json's `ignore_value` does. Nesting is tracked in a
    /// 128-bit stack (1: object, 0: array); deeper values are left to serde (which has no
    /// nesting limit for ignored values).
    fn skip(&mut self) -> Option<()> {
        let mut stack = 0u128;
        let mut depth = 0u32;
        loop {
            // A value.
            self.ws();
            match self.peek()? {
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                b'"' => {
                    self.string()?;
                }
                open @ (b'[' | b'{') => {
                    self.i += 1;
                    self.ws();
                    let object = open == b'{';
                    if self.peek() == Some(if object { b'}' } else { b']' }) {
                        self.i += 1;
                    } else {
                        if depth == 128 {
                            return None;
                        }
                        stack = (stack << 1) | u128::from(object);
                        depth += 1;
                        if object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // After a value: a comma (then the next element) or closing brackets.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let object = stack & 1 == 1;
                self.ws();
                match self.next()? {
                    b',' => {
                        if object {
                            self.ws();
                            self.skip_key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                stack >>= 1;
                depth -= 1;
            }
        }
    }

    /// An ignored object's key and its colon.
    fn skip_key(&mut self) -> Option<()> {
        self.string()?;
        self.ws();
        self.eat(b':')
    }

    /// One previous evaluation (`{` next).
    fn entry(&mut self) -> Option<PreviousEvaluation> {
        let mut id: Option<Option<String>> = None;
        let mut invalidated = None;
        let mut result = None;
        let mut evaluation: Option<Option<Vec<IndicatorResult>>> = None;
        self.object(|s, key| match key {
            b"id" => {
                let v = if s.null() {
                    None
                } else {
                    Some(s.decoded()?.into_owned())
                };
                once(&mut id, v)
            }
            b"invalidated" => {
                let v = s.boolean()?;
                once(&mut invalidated, v)
            }
            b"result" => {
                let v = s.verdict()?;
                once(&mut result, v)
            }
            b"evaluation" => {
                let v = s.evaluation()?;
                once(&mut evaluation, v)
            }
            _ => s.skip(),
        })?;
        Some(lean_previous(
            id.flatten(),
            invalidated.unwrap_or(false),
            result?,
            evaluation.flatten(),
        ))
    }

    fn verdict(&mut self) -> Option<Verdict> {
        let (start, end, escaped) = self.string()?;
        if escaped {
            return None;
        }
        match &self.b[start..end] {
            b"pass" => Some(Verdict::Pass),
            b"warning" => Some(Verdict::Warning),
            b"fail" | b"failed" => Some(Verdict::Fail),
            _ => None,
        }
    }

    /// The `evaluation` object: its `indicatorResults` (`None` when absent or `null`).
    fn evaluation(&mut self) -> Option<Option<Vec<IndicatorResult>>> {
        let mut results: Option<Option<Vec<IndicatorResult>>> = None;
        self.object(|s, key| match key {
            b"indicatorResults" => {
                let v = if s.null() { None } else { Some(s.results()?) };
                once(&mut results, v)
            }
            _ => s.skip(),
        })?;
        Some(results.flatten())
    }

    /// The `indicatorResults` array (`[` next).
    fn results(&mut self) -> Option<Vec<IndicatorResult>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Some(out);
        }
        loop {
            self.ws();
            out.push(lean_indicator(self.result()?));
            self.ws();
            match self.next()? {
                b',' => {}
                b']' => return Some(out),
                _ => return None,
            }
        }
    }

    /// One indicator result: its `value` (`None` when absent or `null`).
    fn result(&mut self) -> Option<Option<SliResult>> {
        let mut value: Option<Option<SliResult>> = None;
        self.object(|s, key| match key {
            b"value" => {
                let v = if s.null() { None } else { Some(s.sli()?) };
                once(&mut value, v)
            }
            _ => s.skip(),
        })?;
        Some(value.flatten())
    }

    /// An indicator result's `value` object: `metric` (required), `value`, `success`.
    fn sli(&mut self) -> Option<SliResult> {
        let mut metric: Option<Arc<str>> = None;
        let mut value = None;
        let mut success = None;
        self.object(|s, key| match key {
            b"metric" => {
                let v = Arc::from(&*s.decoded()?);
                once(&mut metric, v)
            }
            b"value" => {
                let v = s.float()?;
                once(&mut value, v)
            }
            b"success" => {
                let v = s.boolean()?;
                once(&mut success, v)
            }
            _ => s.skip(),
        })?;
        Some(lean_sli(
            metric?,
            value.unwrap_or(0.0),
            success.unwrap_or(false),
        ))
    }
}

#[cfg(test)]
mod tests;
