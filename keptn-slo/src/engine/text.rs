//! Text helpers of the engine: Go's number formats, base64, the SLI-name hasher.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A float written as Go's `fmt` writes `%v` (Keptn's messages): the shortest digits that
/// read back to the same number, in exponent form (`1e-05`, `1.5e+06`) when the decimal
/// exponent is below -4 or at least 6.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GoFloat(pub(crate) f64);

impl std::fmt::Display for GoFloat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("NaN");
        }
        if x.is_infinite() {
            return f.write_str(if x > 0.0 { "+Inf" } else { "-Inf" });
        }
        if x == 0.0 {
            return f.write_str(if x.is_sign_negative() { "-0" } else { "0" });
        }
        let sci = format!("{x:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if (-4..6).contains(&exp) {
            write!(f, "{x}")
        } else {
            let sign = if exp < 0 { '-' } else { '+' };
            write!(f, "{mantissa}e{sign}{:02}", exp.unsigned_abs())
        }
    }
}

/// A float written as Go's `%f` (six decimals; `NaN`, `+Inf`, `-Inf` as Go writes them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GoFixed(pub(crate) f64);

impl std::fmt::Display for GoFixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x.is_nan() {
            f.write_str("NaN")
        } else if x.is_infinite() {
            f.write_str(if x > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            write!(f, "{x:.6}")
        }
    }
}

/// Standard base64 (RFC 4648, with padding), as Keptn encodes `sloFileContent`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether two SLI names are equal; inlined word-wise comparison (names are short and the hot
/// path compares one per value and per previous result).
#[inline]
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        if n < 4 {
            return a.iter().zip(b).all(|(x, y)| x == y);
        }
        // Two (possibly overlapping) 4-byte words cover 4..=7 bytes.
        let word = |s: &[u8], i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&s[i..i + 4]);
            u32::from_ne_bytes(w)
        };
        return word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4);
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_ne_bytes(w)
    };
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last (possibly overlapping) word.
    word(a, n - 8) == word(b, n - 8)
}

/// A fast, non-cryptographic hasher for SLI names (the hot path hashes each name once).
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash map keyed by SLI names.
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Keptn's message naming SLI values that no objective consumed.
pub(crate) fn additional_slis_message<'s>(names: impl Iterator<Item = &'s str>) -> String {
    let mut message =
        String::from("Lighthouse received additional SLIs, which are not specified as SLO: ");
    for (i, name) in names.enumerate() {
        if i > 0 {
            message.push_str(", ");
        }
        message.push_str(name);
    }
    message.push_str(" . Please consider using them as an SLO.");
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 test vectors.
    #[test]
    fn base64_matches_rfc_4648() {
        for (input, out) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }

    /// Go's `%v` for float64 (Keptn's messages): shortest digits, exponent form outside
    /// 1e-4 ≤ |x| < 1e6 with a signed two-digit exponent.
    #[test]
    fn go_float_matches_go_v() {
        for (x, go) in [
            (50.0, "50"),
            (0.0, "0"),
            (-0.0, "-0"),
            (66.66666666666667, "66.66666666666667"),
            (33.3, "33.3"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (1.5e-300, "1.5e-300"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(GoFloat(x).to_string(), go, "{x:?}");
        }
    }

    /// Go's `%f`: six decimals.
    #[test]
    fn go_fixed_matches_go_f() {
        for (x, go) in [
            (0.0, "0.000000"),
            (0.5, "0.500000"),
            (-2.0, "-2.000000"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(GoFixed(x).to_string(), go, "{x:?}");
        }
    }

    /// The inline name comparison agrees with `==` for every length and every differing byte.
    #[test]
    fn same_name_agrees_with_eq() {
        let base: String = "response_time_p95_ab".into();
        for n in 0..=base.len() {
            let a = &base[..n];
            assert!(same_name(a, a));
            for i in 0..n {
                let mut b = a.as_bytes().to_vec();
                b[i] ^= 1;
                let b = String::from_utf8(b).unwrap();
                assert!(!same_name(a, &b), "{a:?} vs {b:?}");
            }
            if n > 0 {
                assert!(!same_name(a, &base[..n - 1]));
            }
        }
    }
}
