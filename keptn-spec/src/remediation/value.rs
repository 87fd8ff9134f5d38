//! The argument of a remediation action ([`ActionValue`]): a string or a map of strings, read
//! so that YAML 1.1 words stay the strings they were written as.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The argument of an action: a string or a map of strings.
///
/// Map entries keep their file order (Keptn's unleash-service toggles them in that order).
/// Scalars are read as the strings they were written as: `off` stays `"off"` inside a map.
/// A bare top-level scalar that YAML reads as a number or boolean (`value: +1`, `value: yes`) is
/// kept in its canonical text (`"1"`, `"true"`): quote it (`"+1"`) to keep it verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActionValue {
    /// A string such as `EnablePromotion:off` or `+1`.
    Text(String),
    /// A map such as `{EnablePromotion: "off"}`, in file order.
    Map(Vec<(String, String)>),
}

impl ActionValue {
    /// The string, when this is [`ActionValue::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            Self::Map(_) => None,
        }
    }

    /// The entries, when this is [`ActionValue::Map`].
    pub fn as_map(&self) -> Option<&[(String, String)]> {
        match self {
            Self::Text(_) => None,
            Self::Map(entries) => Some(entries),
        }
    }

    /// Looks up `key` in a map value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for ActionValue {
    /// `EnablePromotion:off` for text; `{EnablePromotion: off, EnableItemCache: on}` for maps.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl From<&str> for ActionValue {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for ActionValue {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl Serialize for ActionValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(s) => serializer.serialize_str(s),
            Self::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// A map key or value, always read as the text it was written as (`off` stays `off`).
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(ScalarText)
    }
}

impl<'de> Deserialize<'de> for ActionValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = ActionValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string such as `EnablePromotion:off` or a map of strings such as `{EnablePromotion: off}`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v.to_string()))
            }

            fn visit_i128<E: de::Error>(self, v: i128) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v.to_string()))
            }

            fn visit_u128<E: de::Error>(self, v: u128) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ActionValue, E> {
                Ok(ActionValue::Text(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ActionValue, A::Error> {
                let mut entries: Vec<(String, String)> = Vec::new();
                while let Some(ScalarText(key)) = map.next_key::<ScalarText>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate key `{key}` in action value"
                        )));
                    }
                    let ScalarText(value) = map.next_value::<ScalarText>()?;
                    entries.push((key, value));
                }
                Ok(ActionValue::Map(entries))
            }
        }

        deserializer.deserialize_any(ValueVisitor)
    }
}
