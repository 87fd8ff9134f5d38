//! A transparent `Deserializer` wrapper that tracks the field path while a model is being
//! deserialized. It records
//! - every mapping key the model ignored (an unknown key), with the keys the model knows there,
//! - the path of the innermost value whose deserialization failed.
//!
//! It changes nothing about what is deserialized.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::FieldPath;

/// One key that the model did not consume.
#[derive(Debug, Clone)]
pub(crate) struct IgnoredKey {
    /// Path of the ignored value (the parent mapping's path plus the key).
    pub(crate) path: FieldPath,
    /// The key as written.
    pub(crate) key: String,
    /// The keys the model accepts in that mapping, when it is a struct.
    pub(crate) expected: Option<&'static [&'static str]>,
}

/// What the recorder found.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) ignored: Vec<IgnoredKey>,
    pub(crate) error_path: Option<FieldPath>,
}

pub(crate) type Shared<'s> = &'s RefCell<Record>;

/// The wrapper around a deserializer positioned at `path`.
pub(crate) struct Recorder<'s, D> {
    de: D,
    path: FieldPath,
    state: Shared<'s>,
    /// Set when this value belongs to a mapping key of a struct: if the model ignores the value,
    /// the key is unknown.
    on_ignore: Option<(String, Option<&'static [&'static str]>)>,
}

impl<'s, D> Recorder<'s, D> {
    pub(crate) fn new(de: D, state: Shared<'s>) -> Self {
        Self {
            de,
            path: FieldPath::root(),
            state,
            on_ignore: None,
        }
    }
}

fn note_error<E>(state: Shared<'_>, path: &FieldPath, r: &Result<impl Sized, E>) {
    if r.is_err() {
        let mut st = state.borrow_mut();
        if st.error_path.is_none() {
            st.error_path = Some(path.clone());
        }
    }
}

macro_rules! forward_plain {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                let path = self.path.clone();
                let state = self.state;
                let r = self.de.$method(Wrap { visitor, path: self.path, state: self.state, fields: None });
                note_error(state, &path, &r);
                r
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Recorder<'_, D> {
    type Error = D::Error;

    forward_plain!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let path = self.path.clone();
        let state = self.state;
        let r = self.de.deserialize_unit_struct(
            name,
            Wrap {
                visitor,
                path: self.path,
                state,
                fields: None,
            },
        );
        note_error(state, &path, &r);
        r
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let path = self.path.clone();
        let state = self.state;
        let r = self.de.deserialize_newtype_struct(
            name,
            Wrap {
                visitor,
                path: self.path,
                state,
                fields: None,
            },
        );
        note_error(state, &path, &r);
        r
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let path = self.path.clone();
        let state = self.state;
        let r = self.de.deserialize_tuple(
            len,
            Wrap {
                visitor,
                path: self.path,
                state,
                fields: None,
            },
        );
        note_error(state, &path, &r);
        r
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let path = self.path.clone();
        let state = self.state;
        let r = self.de.deserialize_tuple_struct(
            name,
            len,
            Wrap {
                visitor,
                path: self.path,
                state,
                fields: None,
            },
        );
        note_error(state, &path, &r);
        r
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let path = self.path.clone();
        let state = self.state;
        let r = self.de.deserialize_struct(
            name,
            fields,
            Wrap {
                visitor,
                path: self.path,
                state,
                fields: Some(fields),
            },
        );
        note_error(state, &path, &r);
        r
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // Enum payloads are not tracked further; errors inside are located at the enum.
        let path = self.path.clone();
        let state = self.state;
        let r = self.de.deserialize_enum(name, variants, visitor);
        note_error(state, &path, &r);
        r
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if let Some((key, expected)) = self.on_ignore {
            self.state.borrow_mut().ignored.push(IgnoredKey {
                path: self.path.clone(),
                key,
                expected,
            });
        }
        self.de.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// Wraps the model's visitor so that nested maps and sequences are tracked too.
struct Wrap<'s, V> {
    visitor: V,
    path: FieldPath,
    state: Shared<'s>,
    fields: Option<&'static [&'static str]>,
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        self.visitor.visit_some(Recorder {
            de: d,
            path: self.path,
            state: self.state,
            on_ignore: None,
        })
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        self.visitor.visit_newtype_struct(Recorder {
            de: d,
            path: self.path,
            state: self.state,
            on_ignore: None,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(WrapSeq {
            seq,
            path: self.path,
            state: self.state,
            next: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(WrapMap {
            map,
            path: self.path,
            state: self.state,
            fields: self.fields,
            key: None,
        })
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(data)
    }
}

struct WrapSeq<'s, A> {
    seq: A,
    path: FieldPath,
    state: Shared<'s>,
    next: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WrapSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let path = self.path.index(self.next);
        self.next += 1;
        let r = self.seq.next_element_seed(Seeded {
            seed,
            path: path.clone(),
            state: self.state,
            on_ignore: None,
        });
        // errors raised after the element was read (such as `try_from` conversions)
        note_error(self.state, &path, &r);
        r
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct WrapMap<'s, A> {
    map: A,
    path: FieldPath,
    state: Shared<'s>,
    fields: Option<&'static [&'static str]>,
    key: Option<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WrapMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        self.key = None;
        let r = self.map.next_key_seed(CaptureKey {
            seed,
            key: &mut self.key,
        });
        if r.is_err() {
            let path = match &self.key {
                Some(k) => self.path.key(k),
                None => self.path.clone(),
            };
            note_error(self.state, &path, &r);
        }
        r
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let key = self
            .key
            .take()
            .unwrap_or_else(|| "<complex key>".to_owned());
        let path = self.path.key(&key);
        let on_ignore = self.fields.map(|f| (key, Some(f)));
        let r = self.map.next_value_seed(Seeded {
            seed,
            path: path.clone(),
            state: self.state,
            on_ignore,
        });
        // errors raised after the value was read (such as `try_from` conversions)
        note_error(self.state, &path, &r);
        r
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A seed that deserializes through a [`Recorder`] at `path`.
struct Seeded<'s, T> {
    seed: T,
    path: FieldPath,
    state: Shared<'s>,
    on_ignore: Option<(String, Option<&'static [&'static str]>)>,
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Seeded<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.seed.deserialize(Recorder {
            de: d,
            path: self.path,
            state: self.state,
            on_ignore: self.on_ignore,
        })
    }
}

/// A seed that remembers the text of a mapping key while the model reads it.
struct CaptureKey<'k, T> {
    seed: T,
    key: &'k mut Option<String>,
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for CaptureKey<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.seed.deserialize(KeyDeserializer {
            de: d,
            key: self.key,
        })
    }
}

struct KeyDeserializer<'k, D> {
    de: D,
    key: &'k mut Option<String>,
}

macro_rules! forward_key {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.de.$method(KeyVisitor { visitor, key: self.key })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyDeserializer<'_, D> {
    type Error = D::Error;

    forward_key!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.de.deserialize_unit_struct(
            name,
            KeyVisitor {
                visitor,
                key: self.key,
            },
        )
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.de.deserialize_newtype_struct(
            name,
            KeyVisitor {
                visitor,
                key: self.key,
            },
        )
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.de.deserialize_tuple(
            len,
            KeyVisitor {
                visitor,
                key: self.key,
            },
        )
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.de.deserialize_tuple_struct(
            name,
            len,
            KeyVisitor {
                visitor,
                key: self.key,
            },
        )
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.de.deserialize_struct(
            name,
            fields,
            KeyVisitor {
                visitor,
                key: self.key,
            },
        )
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.de.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct KeyVisitor<'k, V> {
    visitor: V,
    key: &'k mut Option<String>,
}

macro_rules! capture_visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                *self.key = Some(v.to_string());
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    capture_visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_f64(f64),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
    );

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        *self.key = Some(v.clone());
        self.visitor.visit_string(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        *self.key = Some(String::from_utf8_lossy(v).into_owned());
        self.visitor.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        *self.key = Some(String::from_utf8_lossy(v).into_owned());
        self.visitor.visit_borrowed_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        *self.key = Some(String::from_utf8_lossy(&v).into_owned());
        self.visitor.visit_byte_buf(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        *self.key = Some(String::new());
        self.visitor.visit_unit()
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        self.visitor.visit_some(d)
    }

    fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        self.visitor.visit_newtype_struct(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(map)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(data)
    }
}
