//! [`Targets`]: an objective's pass or warning targets, stored inline while there are few.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;

use super::SliTarget;

/// How many targets a list holds without a heap allocation: Keptn's usual objective has one or
/// two pass criteria and one warning criterion.
const INLINE: usize = 2;

/// The targets of an objective's pass or warning criteria (`passTargets`, `warningTargets`).
///
/// A list of [`SliTarget`]s that keeps up to two targets inside the indicator result itself,
/// so an evaluation does not allocate per objective; longer lists move to the heap. It reads
/// as a slice (`Deref<Target = [SliTarget]>`), converts from and into a `Vec`, and is written
/// as a JSON array, exactly as a `Vec` would be.
///
/// ```
/// use std::sync::Arc;
/// use keptn_spec::evaluation::{SliTarget, Targets};
///
/// let mut targets = Targets::new();
/// targets.push(SliTarget::new(Arc::from("<600"), 600.0, false));
/// assert_eq!(targets.len(), 1);
/// assert_eq!(&*targets[0].criteria, "<600");
/// assert_eq!(serde_json::to_string(&targets)?, r#"[{"criteria":"<600","targetValue":600,"violated":false}]"#);
/// let back: Targets = serde_json::from_str(r#"[{"criteria":"<600","targetValue":600,"violated":false}]"#)?;
/// assert_eq!(back, targets);
/// assert_eq!(Vec::from(back), vec![SliTarget::new(Arc::from("<600"), 600.0, false)]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Targets(SmallVec<[SliTarget; INLINE]>);

impl Targets {
    /// An empty list (no allocation).
    #[inline]
    pub fn new() -> Self {
        Self(SmallVec::new())
    }

    /// An empty list with room for `n` targets (allocates only beyond two).
    #[inline]
    pub fn with_capacity(n: usize) -> Self {
        Self(SmallVec::with_capacity(n))
    }

    /// Appends a target.
    #[inline]
    pub fn push(&mut self, target: SliTarget) {
        self.0.push(target);
    }

    /// The targets as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[SliTarget] {
        &self.0
    }

    /// The targets as a `Vec`.
    pub fn into_vec(self) -> Vec<SliTarget> {
        self.0.into_vec()
    }
}

impl fmt::Debug for Targets {
    /// Written as the list of targets, as a `Vec` would be.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Deref for Targets {
    type Target = [SliTarget];

    #[inline]
    fn deref(&self) -> &[SliTarget] {
        &self.0
    }
}

impl DerefMut for Targets {
    #[inline]
    fn deref_mut(&mut self) -> &mut [SliTarget] {
        &mut self.0
    }
}

impl From<Vec<SliTarget>> for Targets {
    fn from(v: Vec<SliTarget>) -> Self {
        Self(SmallVec::from_vec(v))
    }
}

impl From<Targets> for Vec<SliTarget> {
    fn from(t: Targets) -> Self {
        t.into_vec()
    }
}

impl FromIterator<SliTarget> for Targets {
    fn from_iter<I: IntoIterator<Item = SliTarget>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Extend<SliTarget> for Targets {
    fn extend<I: IntoIterator<Item = SliTarget>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl<'t> IntoIterator for &'t Targets {
    type Item = &'t SliTarget;
    type IntoIter = std::slice::Iter<'t, SliTarget>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl PartialEq<[SliTarget]> for Targets {
    fn eq(&self, other: &[SliTarget]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<SliTarget>> for Targets {
    fn eq(&self, other: &Vec<SliTarget>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Serialize for Targets {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Targets {
    /// Reads a JSON array straight into the list (no intermediate `Vec`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Targets;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of targets")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Targets, A::Error> {
                // The hint comes from the input: capped, so a forged length cannot reserve
                // memory.
                let mut out = Targets::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(t) = seq.next_element()? {
                    out.push(t);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(List)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn t(c: &str, v: f64) -> SliTarget {
        SliTarget::new(Arc::from(c), v, false)
    }

    /// Inline and spilled lists write and read the same JSON as a `Vec` does.
    #[test]
    fn serializes_like_a_vec() {
        for n in 0..5 {
            let v: Vec<SliTarget> = (0..n).map(|i| t(&format!("<{i}"), f64::from(i))).collect();
            let targets = Targets::from(v.clone());
            assert_eq!(targets, v);
            let json = serde_json::to_string(&targets).unwrap();
            assert_eq!(json, serde_json::to_string(&v).unwrap());
            let back: Targets = serde_json::from_str(&json).unwrap();
            assert_eq!(back.into_vec(), v);
            assert_eq!(format!("{targets:?}"), format!("{v:?}"));
        }
    }

    /// Anything but an array is refused with serde's message.
    #[test]
    fn rejects_non_lists() {
        let err = serde_json::from_str::<Targets>("{}").unwrap_err();
        assert!(err.to_string().contains("a list of targets"), "{err}");
    }
}
