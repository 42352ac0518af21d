//! `Limit<T>`: a number given in the definition, read from the input by its `*Path` twin
//! (JSONPath) or computed by a JSONata string, and the serde of each `Key`/`KeyPath` pair.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserializer, Serialize, Serializer};

use crate::path::ReferencePath;
use crate::query::{Evaluated, JsonataString};

/// A limit given in the definition (`MaxItems: 100`) or read from the state's input when the
/// state starts (`MaxItemsPath: "$.limit"`). AWS takes one of the two keys, never both, and so
/// does this type.
#[derive(Clone, Debug, PartialEq)]
pub enum Limit<T> {
    /// A value written in the definition (`"MaxItems": 100`).
    Fixed(T),
    /// JSONPath: a path read from the state's input (`"MaxItemsPath": "$.limit"`).
    Path(ReferencePath),
    /// JSONata: computed when the state starts (`"MaxItems": "{% $states.input.n %}"`).
    Expression(JsonataString),
}

impl<T> Limit<T> {
    /// The number given in the definition, when it is one.
    pub fn fixed(&self) -> Option<&T> {
        match self {
            Limit::Fixed(value) => Some(value),
            Limit::Path(_) | Limit::Expression(_) => None,
        }
    }

    /// The path the limit is read from at run time, when it is one.
    pub fn path(&self) -> Option<&ReferencePath> {
        match self {
            Limit::Path(path) => Some(path),
            Limit::Fixed(_) | Limit::Expression(_) => None,
        }
    }

    /// The key this limit is written under, `name` or `<name>Path`.
    pub fn key(&self, name: &str) -> String {
        match self {
            Limit::Fixed(_) | Limit::Expression(_) => name.to_owned(),
            Limit::Path(_) => format!("{name}Path"),
        }
    }
}

/// Writes an `Option<Limit<T>>` flattened into its object as `Key` or `KeyPath`, and reads it
/// back. A flattened `Option` would read a malformed value as `None` (serde drops the error), so
/// the pair is read as a two-key struct instead, as `Transition` is.
mod limit_keys {
    use super::*;

    pub fn serialize<T: Serialize, S: Serializer>(
        limit: &Option<Limit<T>>,
        keys: &'static [&'static str; 2],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(usize::from(limit.is_some())))?;
        match limit {
            Some(Limit::Fixed(value)) => map.serialize_entry(keys[0], value)?,
            Some(Limit::Expression(expression)) => map.serialize_entry(keys[0], expression)?,
            Some(Limit::Path(path)) => map.serialize_entry(keys[1], path)?,
            None => {}
        }
        map.end()
    }

    pub fn deserialize<'de, T: de::DeserializeOwned, D: Deserializer<'de>>(
        deserializer: D,
        keys: &'static [&'static str; 2],
    ) -> Result<Option<Limit<T>>, D::Error> {
        struct LimitVisitor<T> {
            keys: &'static [&'static str; 2],
            value: std::marker::PhantomData<T>,
        }
        impl<'de, T: de::DeserializeOwned> Visitor<'de> for LimitVisitor<T> {
            type Value = Option<Limit<T>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "`{}` or `{}`", self.keys[0], self.keys[1])
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let [fixed_key, path_key] = *self.keys;
                let mut fixed: Option<Evaluated<T>> = None;
                let mut path: Option<ReferencePath> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == fixed_key {
                        let value = map.next_value::<serde_json::Value>()?;
                        fixed = Some(Evaluated::from_json(value).map_err(de::Error::custom)?);
                    } else if key == path_key {
                        path = Some(map.next_value()?);
                    } else {
                        map.next_value::<de::IgnoredAny>()?;
                    }
                }
                match (fixed, path) {
                    (Some(_), Some(_)) => Err(de::Error::custom(format!(
                        "`{fixed_key}` and `{path_key}` cannot both be given: keep one"
                    ))),
                    (Some(Evaluated::Fixed(value)), None) => Ok(Some(Limit::Fixed(value))),
                    (Some(Evaluated::Expression(expression)), None) => {
                        Ok(Some(Limit::Expression(expression)))
                    }
                    (None, Some(path)) => Ok(Some(Limit::Path(path))),
                    (None, None) => Ok(None),
                }
            }
        }
        // A struct request, so that a flattening parent hands over only these two keys.
        deserializer.deserialize_struct(
            "Limit",
            keys,
            LimitVisitor {
                keys,
                value: std::marker::PhantomData,
            },
        )
    }
}

/// Declares the serde `with` module of one `Key`/`KeyPath` pair.
macro_rules! limit_field {
    ($module:ident, $key:literal) => {
        pub(crate) mod $module {
            use super::*;

            const KEYS: &[&str; 2] = &[$key, concat!($key, "Path")];

            pub fn serialize<T: Serialize, S: Serializer>(
                limit: &Option<Limit<T>>,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                limit_keys::serialize(limit, KEYS, serializer)
            }

            pub fn deserialize<'de, T: de::DeserializeOwned, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Option<Limit<T>>, D::Error> {
                limit_keys::deserialize(deserializer, KEYS)
            }
        }
    };
}

limit_field!(timeout_seconds, "TimeoutSeconds");
limit_field!(heartbeat_seconds, "HeartbeatSeconds");
limit_field!(max_concurrency, "MaxConcurrency");
limit_field!(tolerated_failure_percentage, "ToleratedFailurePercentage");
limit_field!(tolerated_failure_count, "ToleratedFailureCount");
limit_field!(max_items, "MaxItems");
limit_field!(max_items_per_batch, "MaxItemsPerBatch");
limit_field!(max_input_bytes_per_batch, "MaxInputBytesPerBatch");
