//! An objective's SLI name as a shared string, made once and handed to every evaluation
//! result that reports it.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::Objective;

/// The `Arc<str>` of an objective's SLI name, filled on first use. Not part of the objective's
/// value: it is never serialized, always compares equal and is left out of `Debug`.
#[derive(Clone, Default)]
pub(super) struct SharedName(OnceLock<Arc<str>>);

impl SharedName {
    /// `text` as a shared string: the stored one when it still says `text` (the `sli` field
    /// is public and may have changed since), else a fresh one.
    pub(super) fn get(&self, text: &str) -> Arc<str> {
        let shared = self.0.get_or_init(|| Arc::from(text));
        if **shared == *text {
            Arc::clone(shared)
        } else {
            Arc::from(text)
        }
    }
}

impl PartialEq for SharedName {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for Objective {
    /// The objective's fields as written (the shared name is a cache, not shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Objective")
            .field("sli", &self.sli)
            .field("display_name", &self.display_name)
            .field("pass", &self.pass)
            .field("warning", &self.warning)
            .field("weight_raw", &self.weight_raw)
            .field("key_sli", &self.key_sli)
            .field("no_data", &self.no_data)
            .field("shadow", &self.shadow)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One allocation serves every call and every clone; a changed name gets its own.
    #[test]
    fn shares_until_the_name_changes() {
        let mut o = Objective::new("rt");
        let a = o.shared_sli();
        let b = o.clone().shared_sli();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, "rt");
        o.sli = "error_rate".to_owned();
        assert_eq!(&*o.shared_sli(), "error_rate");
        assert_eq!(o, Objective::new("error_rate"));
        assert!(!format!("{o:?}").contains("SharedName"));
    }
}
