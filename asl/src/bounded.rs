//! Short lists and text with a length limit in their type, for the rare payload field that needs
//! one: [`BoundedVec<T, N>`] and [`BoundedString<N>`]. Their worst-case JSON size is known at
//! compile time, so a record holding them is bounded like any other (see `typed::PayloadSafe`).
//! A list that grows with the data is not one of these: it belongs in S3, behind an `S3Items`.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::typed::{PayloadSafe, json_string_bytes};

/// A value longer than its type allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong {
    /// The limit: items of a list, characters of a string.
    pub limit: usize,
    /// What was given.
    pub length: usize,
}

impl fmt::Display for TooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is over the limit of {}", self.length, self.limit)
    }
}

impl std::error::Error for TooLong {}

/// A list of at most `N` items.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BoundedVec<T, const N: usize>(Vec<T>);

impl<T, const N: usize> BoundedVec<T, N> {
    /// The list, or [`TooLong`] when it holds more than `N` items.
    pub fn new(items: Vec<T>) -> Result<Self, TooLong> {
        if items.len() <= N {
            Ok(Self(items))
        } else {
            Err(TooLong {
                limit: N,
                length: items.len(),
            })
        }
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: PayloadSafe, const N: usize> PayloadSafe for BoundedVec<T, N> {
    // `[`, `]`, and per item its value and `,`.
    const MAX_JSON_BYTES: usize = 2 + N * (T::MAX_JSON_BYTES + 1);
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for BoundedVec<T, N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(Vec::deserialize(deserializer)?).map_err(|TooLong { limit, length }| {
            serde::de::Error::custom(format!(
                "a list of {length} items, over the limit of {limit}"
            ))
        })
    }
}

impl<T: JsonSchema, const N: usize> JsonSchema for BoundedVec<T, N> {
    fn schema_name() -> Cow<'static, str> {
        format!("BoundedVec_{}_{N}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "array", "items": generator.subschema_for::<T>(), "maxItems": N})
    }
}

/// Text of at most `N` characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoundedString<const N: usize>(String);

impl<const N: usize> BoundedString<N> {
    /// The text, or [`TooLong`] when it has more than `N` characters.
    pub fn new(text: impl Into<String>) -> Result<Self, TooLong> {
        let text = text.into();
        let length = text.chars().count();
        if length <= N {
            Ok(Self(text))
        } else {
            Err(TooLong { limit: N, length })
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const N: usize> PayloadSafe for BoundedString<N> {
    const MAX_JSON_BYTES: usize = json_string_bytes(N);
}

impl<const N: usize> Serialize for BoundedString<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const N: usize> Deserialize<'de> for BoundedString<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::new(String::deserialize(deserializer)?).map_err(|TooLong { limit, length }| {
            serde::de::Error::custom(format!(
                "a text of {length} characters, over the limit of {limit}"
            ))
        })
    }
}

impl<const N: usize> JsonSchema for BoundedString<N> {
    fn schema_name() -> Cow<'static, str> {
        format!("BoundedString_{N}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "maxLength": N})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound holds for the worst value of each: every item at its own worst, every character
    /// escaped.
    #[test]
    fn the_worst_values_serialize_within_their_bound() {
        let worst_text = BoundedString::<5>::new("\u{1}\u{2}\u{3}\u{4}\u{5}").unwrap();
        let json = serde_json::to_string(&worst_text).unwrap();
        assert_eq!(json.len(), BoundedString::<5>::MAX_JSON_BYTES);
        let worst_list = BoundedVec::<u64, 3>::new(vec![u64::MAX; 3]).unwrap();
        let json = serde_json::to_string(&worst_list).unwrap();
        assert!(json.len() <= BoundedVec::<u64, 3>::MAX_JSON_BYTES, "{json}");
        let date = chrono::NaiveDate::MAX;
        assert!(serde_json::to_string(&date).unwrap().len() <= chrono::NaiveDate::MAX_JSON_BYTES);
        let number = serde_json::to_string(&i64::MIN).unwrap();
        assert_eq!(number.len(), i64::MAX_JSON_BYTES);
    }

    #[test]
    fn a_value_over_its_limit_is_refused_when_built_and_when_read() {
        assert_eq!(
            BoundedVec::<u8, 2>::new(vec![1, 2, 3]),
            Err(TooLong {
                limit: 2,
                length: 3
            })
        );
        assert!(BoundedString::<3>::new("äöü").is_ok());
        let error = serde_json::from_str::<BoundedString<2>>("\"abc\"").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a text of 3 characters, over the limit of 2"),
            "{error}"
        );
        let error = serde_json::from_str::<BoundedVec<u8, 1>>("[1,2]").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a list of 2 items, over the limit of 1"),
            "{error}"
        );
    }
}
