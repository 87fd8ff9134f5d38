//! Keptn's payload merge (`Merge` in shipyard-controller's utils).

use serde_json::Value;

/// Keptn's payload merge of task results: maps merge recursively, for a key in both the value
/// already in `into` wins, arrays are concatenated.
pub(crate) fn merge_earlier_wins(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge_earlier_wins(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => a.extend(b.iter().cloned()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Earlier values win for scalars, maps merge, arrays concatenate (Keptn's `Merge`).
    #[test]
    fn merge_keeps_earlier_scalars_and_concatenates_arrays() {
        let mut a = json!({"a": 1, "m": {"x": 1}, "l": [1]});
        merge_earlier_wins(
            &mut a,
            &json!({"a": 2, "m": {"x": 2, "y": 3}, "l": [2], "n": 4}),
        );
        assert_eq!(
            a,
            json!({"a": 1, "m": {"x": 1, "y": 3}, "l": [1, 2], "n": 4})
        );
    }
}
