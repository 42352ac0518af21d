//! The typed, compile-time-checked layer over the model: paths that know the type they start from
//! and the type they reach, payload values of a known type, selectors built as a whole struct, and
//! a Map whose item is a value of the array's element type.
//!
//! What rustc checks here (each promise has a `tests/ui` case):
//! - a path is built from field lenses (`path!(Root.a.b)`), so it names real fields and has the
//!   type of the last one; `ItemsPath` accepts only a path to a `BoundedVec<Item, N>`, and a Distributed
//!   Map's ItemReader only a path to a typed S3 object of `Item`s ([`S3ItemsObject`]);
//! - the Map item (`$$.Map.Item.Value`) is a value of type `Item`, a path into the Map's input is
//!   another type, so `$` cannot be passed where the item is needed;
//! - `selector!` builds a payload as a whole struct: every field present, no other field, each
//!   value of the field's type; a Map's processor must take exactly the selector's type, or with
//!   an ItemBatcher exactly an [`ItemBatch`] of it;
//! - only `PayloadSafe` types travel in a payload, each with a worst-case JSON size, and a record
//!   over Step Functions' 256 KiB does not compile ([`crate::bounded`] for short lists and text);
//! - a workflow variable holds one type: reading a [`Variable<T>`] gives a value of type `T`,
//!   [`Assignments::set`] takes only a value of the variable's type read in the state's scope, only
//!   `PayloadSafe` types can be variables, and `variable!` refuses a name AWS would refuse.
//!
//! What rustc cannot check (the JSON names serde gives the fields) synth checks against each
//! path's schema root (see `validate`).
//!
//! - `payload_safe`: which types may travel in a payload, and their worst-case JSON size
//!   (`record!`, `payload_safe!`);
//! - `paths`: field lenses and typed paths (`field!`, `path!`), and where a Map reads its items;
//! - [`context`]: the context object's values as types;
//! - `scope`: what `$` is where a payload is evaluated, typed values and whole selectors
//!   (`selector!`);
//! - `variables`: typed workflow variables and a state's `Assign` (`variable!`);
//! - `map`: Maps (`map_over`, `distributed_map_over`), their processors and item batches.

pub mod context;
mod map;
mod paths;
mod payload_safe;
mod scope;
#[cfg(test)]
mod tests;
mod variables;

pub use map::{
    BatchLimits, Distributed, Inline, ItemBatch, MapOver, MapSelecting, Processor, ProcessorTypes,
    TakesSelector, distributed_map_over, map_over,
};
pub use paths::{Field, ItemsPath, Path, S3ItemsObject};
pub use payload_safe::{PayloadSafe, Record, json_string_bytes};
pub use scope::{FromContext, MapItem, Scope, Selector, StateInput, StateResult, Value};
pub use variables::{Assignments, Variable};

#[doc(hidden)]
pub mod __private {
    use std::marker::PhantomData;

    use super::{PayloadSafe, Selector, Value};
    use crate::payload::{PayloadTemplate, PayloadValue};
    use crate::query::VariableName;

    /// Never called: gives the value's type to the exhaustive construction in `selector!`.
    pub fn value_type<S, T: PayloadSafe>(_: &Value<S, T>) -> T {
        unreachable!("only used inside `if false`")
    }

    /// Whether AWS accepts `name` as a workflow variable's (see [`VariableName`]), at compile time.
    pub const fn is_variable_name(name: &str) -> bool {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > crate::limits::NAME_CHARS || is_reserved(bytes) {
            return false;
        }
        if !(bytes[0].is_ascii_alphabetic() || bytes[0] == b'_') {
            return false;
        }
        let mut at = 1;
        while at < bytes.len() {
            if !(bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                return false;
            }
            at += 1;
        }
        true
    }

    /// Whether `name` is one of [`VariableName::RESERVED`] (`==` is not `const`).
    const fn is_reserved(name: &[u8]) -> bool {
        let mut index = 0;
        while index < VariableName::RESERVED.len() {
            let reserved = VariableName::RESERVED[index].as_bytes();
            if reserved.len() == name.len() {
                let mut at = 0;
                while at < name.len() && name[at] == reserved[at] {
                    at += 1;
                }
                if at == name.len() {
                    return true;
                }
            }
            index += 1;
        }
        false
    }

    /// Never called: a value of any type for the exhaustive construction in `record!`.
    pub fn never<T>() -> T {
        unreachable!("only used in functions that are never called")
    }

    /// Ties every entry of one selector to the same scope.
    pub fn entry<S, T>(
        _scope: PhantomData<S>,
        name: &'static str,
        value: Value<S, T>,
    ) -> (&'static str, PayloadValue) {
        (name, value.value)
    }

    pub fn selector<S, T: PayloadSafe>(
        _scope: PhantomData<S>,
        entries: Vec<(&'static str, PayloadValue)>,
    ) -> Selector<S, T> {
        let mut template = PayloadTemplate::new();
        for (name, value) in entries {
            template.insert(name, value);
        }
        Selector {
            template,
            _types: PhantomData,
        }
    }
}
