//! Keptn's payload merge for task `.triggered` events (shipyard-controller `Merge`).

use serde_json::Value;

/// Deep-merges `from` into `into` with Keptn's rule: maps merge recursively; for a key present
/// in both, the **existing** (earlier) scalar wins; arrays are concatenated.
pub(crate) fn merge_earlier_wins(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                    Some(existing) => merge_earlier_wins(existing, v),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => a.extend(b.iter().cloned()),
        // a null placeholder does not hide a later value
        (slot @ Value::Null, v) => *slot = v.clone(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Earlier scalars win, maps merge, arrays concatenate.
    #[test]
    fn keptn_merge_rule() {
        let mut a = json!({"stage": "staging", "deployment": {"deploymentstrategy": "blue_green_service"}, "uris": ["a"]});
        let b = json!({"stage": "dev", "deployment": {"deploymentURIsLocal": ["http://x"], "deploymentstrategy": "direct"}, "uris": ["b"], "new": 1});
        merge_earlier_wins(&mut a, &b);
        assert_eq!(
            a,
            json!({"stage": "staging", "deployment": {"deploymentstrategy": "blue_green_service", "deploymentURIsLocal": ["http://x"]}, "uris": ["a", "b"], "new": 1})
        );
    }
}
