//! Where a payload is evaluated ([`Scope`]: a state's input, its result, a Map's item), the typed
//! values read there ([`Value`]) and the payloads built from them as a whole struct
//! ([`selector!`](crate::selector)).

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Serialize;

use super::context;
use super::{Path, PayloadSafe, Variable};
use crate::bounded::BoundedString;
use crate::path::{ContextValue, ReferencePath};
use crate::payload::{PayloadTemplate, PayloadValue};

/// `Self` can be read from the context value `C` (for instance a validated execution-name type
/// from `$$.Execution.Name`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from the context value `{C}`",
    note = "implement `asl::typed::FromContext<{C}>` for `{Self}` if every value of `{C}` is a valid `{Self}`"
)]
pub trait FromContext<C> {}
// Step Functions' limits: an ARN 2,048 characters, a name 80, a timestamp as AWS writes it
// (`2026-12-05T10:28:05.123Z`) 24.
impl FromContext<context::ExecutionId> for BoundedString<{ crate::limits::ARN_CHARS }> {}
impl FromContext<context::ExecutionName> for BoundedString<{ crate::limits::NAME_CHARS }> {}
impl FromContext<context::ExecutionStartTime> for BoundedString<24> {}
impl FromContext<context::StateMachineName> for BoundedString<{ crate::limits::NAME_CHARS }> {}
impl FromContext<context::StateName> for BoundedString<{ crate::limits::NAME_CHARS }> {}
impl FromContext<context::StateEnteredTime> for BoundedString<24> {}
impl FromContext<context::StateRetryCount> for u32 {}

/// What `$` means where a payload is evaluated, and which extra values exist there.
pub trait Scope: Sized {
    /// The type of `$`.
    type Input: JsonSchema;

    /// A value read from this scope's input (`"key.$": "$.a.b"`).
    fn input<T: PayloadSafe>(&self, path: Path<Self::Input, T>) -> Value<Self, T> {
        Value::new(PayloadValue::Path(path.reference()))
    }

    /// A value read from the context object (`"key.$": "$$.Execution.Name"`).
    fn context<C: context::ContextField, T: FromContext<C> + PayloadSafe>(
        &self,
        _value: C,
    ) -> Value<Self, T> {
        Value::new(PayloadValue::Context(C::VALUE.into()))
    }

    /// The value of a workflow variable (`"key.$": "$name"`).
    fn variable<T: PayloadSafe>(&self, variable: &Variable<T>) -> Value<Self, T> {
        Value::new(PayloadValue::Path(ReferencePath::of_variable(
            variable.name.clone(),
        )))
    }

    /// A value inside a workflow variable's value (`"key.$": "$name.a.b"`), by a typed path from
    /// the variable's type.
    fn variable_at<T: JsonSchema, U: PayloadSafe>(
        &self,
        variable: &Variable<T>,
        path: Path<T, U>,
    ) -> Value<Self, U> {
        Value::new(PayloadValue::Path(
            path.reference_from(ReferencePath::of_variable(variable.name.clone())),
        ))
    }
}

/// The payload of a Task, Pass or Parallel: `$` is the state's input, of type `In`.
pub struct StateInput<In>(PhantomData<fn() -> In>);

impl<In> StateInput<In> {
    /// The scope of a state whose input is an `In`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<In> Default for StateInput<In> {
    fn default() -> Self {
        Self::new()
    }
}

impl<In: JsonSchema> Scope for StateInput<In> {
    type Input = In;
}

/// What `$` is in the `Assign` of a state with a result (a Task, Map or Parallel; a Pass with
/// `Result` or `Parameters`): the result, after ResultSelector, of type `R`. In the `Assign` of a
/// state without one (Choice, Wait, a plain Pass) `$` is the input: use [`StateInput`].
pub struct StateResult<R>(PhantomData<fn() -> R>);

impl<R> StateResult<R> {
    /// The scope of an `Assign` whose `$` is a result of type `R`.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<R> Default for StateResult<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: JsonSchema> Scope for StateResult<R> {
    type Input = R;
}

/// A Map's ItemSelector: `$` is the Map's input (`In`), and the current item is a value of type
/// `Item` reachable only through [`MapItem::item`].
pub struct MapItem<In, Item>(pub(super) PhantomData<fn() -> (In, Item)>);

impl<In: JsonSchema, Item> Scope for MapItem<In, Item> {
    type Input = In;
}

impl<In, Item: PayloadSafe> MapItem<In, Item> {
    /// The current item: `$$.Map.Item.Value`.
    pub fn item(&self) -> Value<Self, Item> {
        Value::new(PayloadValue::Context(ContextValue::MapItemValue.into()))
    }
}

/// A payload value of type `T`, evaluated in scope `S`: a literal, a path into the scope's input,
/// a context value, the Map item, or a whole selector.
pub struct Value<S, T> {
    pub(super) value: PayloadValue,
    _types: PhantomData<fn() -> (S, T)>,
}

impl<S, T> Value<S, T> {
    fn new(value: PayloadValue) -> Self {
        Self {
            value,
            _types: PhantomData,
        }
    }

    /// The untyped value, to place in a payload template.
    pub fn into_payload(self) -> PayloadValue {
        self.value
    }
}

impl<S, T: Serialize + PayloadSafe> Value<S, T> {
    /// A value fixed at synth time.
    pub fn literal(value: &T) -> Self {
        Self::new(PayloadValue::literal(
            serde_json::to_value(value).expect("payload literals serialize to JSON"),
        ))
    }
}

impl<S, T> From<Selector<S, T>> for Value<S, T> {
    fn from(selector: Selector<S, T>) -> Self {
        Self::new(PayloadValue::Object(selector.template))
    }
}

/// A payload template that builds a `T` in scope `S`, made by [`selector!`](crate::selector).
pub struct Selector<S, T> {
    pub(super) template: PayloadTemplate,
    pub(super) _types: PhantomData<fn() -> (S, T)>,
}

/// Builds a payload as a whole `Type`: `selector!(Type { field: value, ... })`, each value a
/// [`Value`] of the field's type. A never-run construction of `Type` from the values' types makes
/// a missing field, an unknown field or a wrong type a compile error.
#[macro_export]
macro_rules! selector {
    ($ty:ident { $($field:ident : $value:expr),* $(,)? }) => {{
        // Evaluate every value before binding any name, so no value sees another's binding.
        let ($($field,)*) = ($($value,)*);
        #[allow(unreachable_code, clippy::diverging_sub_expression)]
        if false {
            // Each value's type, under the field's name, so that a mismatch points at the field.
            $(let $field = $crate::typed::__private::value_type(&$field);)*
            let _: $ty = $ty { $($field),* };
        }
        let scope = ::std::marker::PhantomData;
        $crate::typed::__private::selector::<_, $ty>(
            scope,
            vec![$($crate::typed::__private::entry(scope, stringify!($field), $field),)*],
        )
    }};
}
