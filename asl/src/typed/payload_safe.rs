//! Which types may travel in a state payload ([`PayloadSafe`]), each with its worst-case size as
//! compact JSON, and the records (structs) made of them ([`record!`](crate::record),
//! [`payload_safe!`](crate::payload_safe)).

use schemars::JsonSchema;

/// A type whose values may travel in a state payload: ids, counts, URIs, dates, and structs made
/// only of those, each with a worst-case size known at compile time. Sensitive values (SSNs, keys,
/// secrets) must never implement it: a payload is visible in the execution history, the logs and
/// the console. Neither does anything that grows with the data (`Vec`, `String`): the design
/// note's state grew with the chunks until Step Functions refused it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` may not travel in a state payload",
    label = "`{Self}` is not `PayloadSafe`",
    note = "only ids, counts, URIs and dates go in a payload; a sensitive value (an SSN, a key) stays in the chunk store or the warehouse and travels by id",
    note = "a `Vec` or a `String` grows with the data; store it in S3 and pass an `S3Items<T>` (a short list of known length: `BoundedVec<T, N>`; free text: `BoundedString<N>`)"
)]
pub trait PayloadSafe {
    /// The most bytes a value can take as compact JSON (UTF-8). A record's is the sum of its
    /// fields' and keys'; [`record!`](crate::record) refuses one over Step Functions' limit.
    const MAX_JSON_BYTES: usize;
}

macro_rules! payload_safe_std {
    ($($ty:ty => $max:expr),*) => { $(impl PayloadSafe for $ty { const MAX_JSON_BYTES: usize = $max; })* };
}
// The longest decimal of each; a date as chrono writes its widest year (`"+262142-12-31"`).
payload_safe_std!(bool => 5, u8 => 3, u16 => 5, u32 => 10, u64 => 20, i32 => 11, i64 => 20,
    chrono::NaiveDate => 15);

impl<T: PayloadSafe> PayloadSafe for Option<T> {
    const MAX_JSON_BYTES: usize = max(T::MAX_JSON_BYTES, "null".len());
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

/// The most bytes of a JSON string holding at most `chars` characters: every character escaped
/// (`\u001f`, six bytes) at worst.
pub const fn json_string_bytes(chars: usize) -> usize {
    2 + 6 * chars
}

/// A struct whose fields the model knows by name, declared with [`record!`](crate::record).
pub trait Record: PayloadSafe + JsonSchema {
    /// The Rust field names, all of them, in declaration order.
    const FIELD_NAMES: &'static [&'static str];
}

/// Declares that a struct's values may travel in a payload, listing every field with its type.
/// The expansion contains a never-called construction of the struct from every field, so adding,
/// removing or retyping a field of the struct breaks compilation here. Every field type must
/// itself be `PayloadSafe` (its bound is part of the record's), and a record whose worst case
/// passes Step Functions' 256 KiB payload limit does not compile.
#[macro_export]
macro_rules! record {
    ($ty:ident { $($field:ident : $field_ty:ty),* $(,)? }) => {
        impl $crate::typed::PayloadSafe for $ty {
            // `{`, `}`, and per field its quoted key, `:`, value and `,` (one comma too many).
            const MAX_JSON_BYTES: usize = 2 $(+ stringify!($field).len() + 4
                + <$field_ty as $crate::typed::PayloadSafe>::MAX_JSON_BYTES)*;
        }
        const _: () = assert!(
            <$ty as $crate::typed::PayloadSafe>::MAX_JSON_BYTES
                <= $crate::limits::PAYLOAD_BYTES,
            concat!(
                "`", stringify!($ty), "` can serialize to more than 256 KiB, Step Functions' ",
                "payload limit: bound its lists and strings tighter, or store the data in S3 ",
                "and pass an `S3Items<T>`"
            )
        );
        impl $crate::typed::Record for $ty {
            const FIELD_NAMES: &'static [&'static str] = &[$(stringify!($field)),*];
        }
        const _: () = {
            // A construction, not a destructure: rustc then names the missing field (E0063),
            // the unknown one (E0560) or the retyped one (E0308) at this macro call.
            #[allow(dead_code)]
            fn every_field_listed_with_its_type() -> $ty {
                $ty { $($field: $crate::typed::__private::never::<$field_ty>()),* }
            }
        };
    };
}

/// Declares opaque types (newtypes with private fields: ids, names, URIs) payload-safe, each
/// with the most bytes of JSON its constructor lets a value take:
/// `payload_safe!(ChunkId => u32::MAX_JSON_BYTES)`.
#[macro_export]
macro_rules! payload_safe {
    ($($ty:ty => $max:expr),* $(,)?) => {
        $(impl $crate::typed::PayloadSafe for $ty { const MAX_JSON_BYTES: usize = $max; })*
    };
}
