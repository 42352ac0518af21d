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

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Serialize;

use super::bounded::{BoundedString, BoundedVec};
use super::path::{ContextValue, ReferencePath, SchemaRoot};
use super::payload::{PayloadTemplate, PayloadValue};
use super::query::{Assign, VariableName};
use super::state::{
    Branch, ExecutionType, ItemBatcher, ItemReader, Limit, MapState, ProcessorConfig,
    ProcessorMode, ReaderConfig, ReaderInputType, S3_GET_OBJECT, Transition,
};

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

/// A lens: the field of `Owner` whose JSON name is `name` and whose type is `T`. Built by
/// [`field!`](crate::field) from an accessor, which is what proves the field exists with that type.
pub struct Field<Owner, T> {
    name: &'static str,
    _types: PhantomData<fn(&Owner) -> &T>,
}

impl<Owner, T> Field<Owner, T> {
    #[doc(hidden)]
    pub fn new(name: &'static str, _accessor: fn(&Owner) -> &T) -> Self {
        Self {
            name,
            _types: PhantomData,
        }
    }

    /// The field's name, the key a path step through it writes.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The field lens `name` of whatever type the context expects: `field!(chunk_ids)`.
#[macro_export]
macro_rules! field {
    ($name:ident) => {
        $crate::typed::Field::new(stringify!($name), |owner| &owner.$name)
    };
}

/// A path from a value of type `Root` to a value of type `T` inside it.
pub struct Path<Root, T> {
    fields: Vec<&'static str>,
    _types: PhantomData<fn(&Root) -> &T>,
}

impl<Root, T> Clone for Path<Root, T> {
    fn clone(&self) -> Self {
        Self {
            fields: self.fields.clone(),
            _types: PhantomData,
        }
    }
}

impl<Root> Path<Root, Root> {
    /// `$`: the whole value.
    pub fn root() -> Self {
        Self {
            fields: Vec::new(),
            _types: PhantomData,
        }
    }
}

impl<Root, T> Path<Root, T> {
    /// One field further.
    pub fn at<U>(mut self, field: Field<T, U>) -> Path<Root, U> {
        self.fields.push(field.name);
        Path {
            fields: self.fields,
            _types: PhantomData,
        }
    }
}

impl<Root: JsonSchema, T> Path<Root, T> {
    /// The rendered path, annotated with `Root` so synth can resolve it in `Root`'s schema.
    pub fn reference(&self) -> ReferencePath {
        self.reference_from(ReferencePath::root())
    }

    /// The rendered path from `start` (`$` or a variable's `$name`), where a `Root` is.
    fn reference_from(&self, start: ReferencePath) -> ReferencePath {
        self.fields
            .iter()
            .fold(start, |path, name| path.field(*name))
            .with_schema_root(SchemaRoot::of::<Root>())
    }
}

/// A typed path: `path!(Task02State.task02_chunks.chunk_ids)` is a
/// `Path<Task02State, S3Items<ChunkId>>`.
#[macro_export]
macro_rules! path {
    ($root:ident $(. $field:ident)*) => {
        $crate::typed::Path::<$root, $root>::root() $(.at($crate::field!($field)))*
    };
}

/// Where a Map reads its items: only a path to a `BoundedVec<Item, N>` qualifies (a list that
/// can grow with the data belongs in S3, read by `distributed_map_over`).
#[diagnostic::on_unimplemented(
    message = "ItemsPath must point at an array, but `{Self}` does not",
    label = "not a path to a `BoundedVec<_, N>`",
    note = "end the path at a `BoundedVec<Item, N>` field; each iteration then gets one `Item` (items stored in S3 are read by `distributed_map_over`)"
)]
pub trait ItemsPath {
    /// The type the path starts from: the Map's input.
    type Input;
    /// The array's element type: what each iteration gets.
    type Item;
    /// The path as the Map's `ItemsPath`.
    fn reference(&self) -> ReferencePath;
}

impl<In: JsonSchema, Item, const N: usize> ItemsPath for Path<In, BoundedVec<Item, N>> {
    type Input = In;
    type Item = Item;
    fn reference(&self) -> ReferencePath {
        Path::reference(self)
    }
}

/// A JSON object naming one S3 object whose content is an array of `Item`s, such as a handle a
/// handler returns: a Distributed Map's ItemReader takes its `Bucket` and `Key` from it, and the
/// Map's item is then an `Item`. Implement it for the handle type with its bucket and key fields.
#[diagnostic::on_unimplemented(
    message = "a Distributed Map reads its items from a typed S3 object, but `{Self}` is not one",
    label = "not a path to an `S3ItemsObject`",
    note = "end the path at a field whose type implements `asl::typed::S3ItemsObject` (a handle naming the bucket and key of a JSON array of items)"
)]
pub trait S3ItemsObject: Sized {
    /// The type of each element of the stored array: the Map's item.
    type Item;
    /// How the object stores its items.
    const INPUT_TYPE: ReaderInputType;
    /// The field holding the bucket's name.
    fn bucket() -> Field<Self, String>;
    /// The field holding the object's key.
    fn key() -> Field<Self, String>;
}

/// The context object's values, as types, so that a payload field reads one by type.
pub mod context {
    use super::ContextValue;

    /// A value of the context object.
    pub trait ContextField {
        /// The context object value this type reads.
        const VALUE: ContextValue;
    }

    macro_rules! context_fields {
        ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug)]
            pub struct $name;
            impl ContextField for $name {
                const VALUE: ContextValue = ContextValue::$name;
            }
        )*};
    }

    context_fields!(
        /// `$$.Execution.Id`: the execution's ARN.
        ExecutionId,
        /// `$$.Execution.Name`: unique among the machine's executions.
        ExecutionName,
        /// `$$.Execution.StartTime`.
        ExecutionStartTime,
        /// `$$.StateMachine.Name`.
        StateMachineName,
        /// `$$.State.Name`.
        StateName,
        /// `$$.State.EnteredTime`.
        StateEnteredTime,
        /// `$$.State.RetryCount`.
        StateRetryCount,
    );
}

/// `Self` can be read from the context value `C` (for instance a validated execution-name type
/// from `$$.Execution.Name`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from the context value `{C}`",
    note = "implement `asl::typed::FromContext<{C}>` for `{Self}` if every value of `{C}` is a valid `{Self}`"
)]
pub trait FromContext<C> {}
// Step Functions' limits: an ARN 2,048 characters, a name 80, a timestamp as AWS writes it
// (`2026-12-05T10:28:05.123Z`) 24.
impl FromContext<context::ExecutionId> for BoundedString<2048> {}
impl FromContext<context::ExecutionName> for BoundedString<80> {}
impl FromContext<context::ExecutionStartTime> for BoundedString<24> {}
impl FromContext<context::StateMachineName> for BoundedString<80> {}
impl FromContext<context::StateName> for BoundedString<80> {}
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
pub struct MapItem<In, Item>(PhantomData<fn() -> (In, Item)>);

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
    value: PayloadValue,
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
    template: PayloadTemplate,
    _types: PhantomData<fn() -> (S, T)>,
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Never called: gives the value's type to the exhaustive construction in `selector!`.
    pub fn value_type<S, T: PayloadSafe>(_: &Value<S, T>) -> T {
        unreachable!("only used inside `if false`")
    }

    /// Whether AWS accepts `name` as a workflow variable's (see [`VariableName`]), at compile time.
    pub const fn is_variable_name(name: &str) -> bool {
        let bytes = name.as_bytes();
        if bytes.is_empty() || bytes.len() > 80 || is_reserved(bytes) {
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

/// A workflow variable holding a `T`, read as `$name` once a state's `Assign` has set it. Made
/// by [`variable!`](crate::variable), which checks the name at compile time, or [`Variable::new`].
pub struct Variable<T> {
    name: VariableName,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Variable<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: PayloadSafe> Variable<T> {
    /// Panics when AWS would refuse `name` (not a letter or `_` then letters, digits and `_`,
    /// over 80 characters, or the reserved `states`): synth stops with the reason rather than
    /// writing a definition that fails to deploy. [`variable!`](crate::variable) makes such a
    /// name a compile error instead.
    pub fn new(name: &str) -> Self {
        let name = VariableName::new(name).unwrap_or_else(|problem| panic!("{problem}"));
        assert!(
            !name.is_reserved(),
            "`${name}` is reserved by AWS and cannot be a workflow variable"
        );
        Self {
            name,
            _type: PhantomData,
        }
    }
}

impl<T> Variable<T> {
    /// The variable's name, read as `$name`.
    pub fn name(&self) -> &VariableName {
        &self.name
    }
}

/// A typed workflow variable: `variable!(total: u64)` is a `Variable<u64>` named `total`. A name
/// AWS would refuse (`states`, a non-ASCII letter, over 80 characters) fails to compile.
#[macro_export]
macro_rules! variable {
    ($name:ident : $ty:ty) => {{
        // A constant item, so rustc evaluates the check when it compiles the call.
        const _: () = ::std::assert!(
            $crate::typed::__private::is_variable_name(::std::stringify!($name)),
            "a workflow variable's name is an ASCII letter or `_`, then ASCII letters, digits or \
             `_`, at most 80 characters, and not `states` (reserved by AWS)"
        );
        $crate::typed::Variable::<$ty>::new(::std::stringify!($name))
    }};
}

/// A state's `Assign`, built with types: each variable gets a value of its own type, evaluated in
/// the scope `S` the Assign is evaluated in ([`StateResult`] for a state with a result,
/// [`StateInput`] otherwise).
pub struct Assignments<S> {
    /// By variable name, in the order first set.
    values: PayloadTemplate,
    _scope: PhantomData<fn() -> S>,
}

impl<S: Scope> Assignments<S> {
    /// An `Assign` that sets no variable yet.
    pub fn new() -> Self {
        Self {
            values: PayloadTemplate::new(),
            _scope: PhantomData,
        }
    }

    /// Sets `variable` to `value` (again: the later value replaces the earlier).
    pub fn set<T>(mut self, variable: &Variable<T>, value: Value<S, T>) -> Self {
        self.values.insert(variable.name.as_str(), value.value);
        self
    }

    /// The `Assign` as JSONPath writes it: `"name.$": "$.a"` for a value read from a path or the
    /// context object, `"name": json` for a literal or an object.
    pub fn build(self) -> Assign {
        Assign(
            self.values
                .iter()
                .map(|(name, value)| {
                    // A payload template renders `.$` keys exactly as a payload does.
                    let entry = PayloadTemplate::new().with(name, value.clone());
                    match serde_json::to_value(&entry) {
                        Ok(serde_json::Value::Object(object)) => object
                            .into_iter()
                            .next()
                            .expect("a template of one entry renders one member"),
                        other => unreachable!("a payload template renders an object: {other:?}"),
                    }
                })
                .collect(),
        )
    }
}

impl<S: Scope> Default for Assignments<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// The states a Map runs for each item, taking input of type `Input`; `Task` names what runs
/// first (a handler, for instance) so that a mismatch names it.
pub struct Processor<Input, Task> {
    branch: Branch,
    _types: PhantomData<fn(Input) -> Task>,
}

impl<Input, Task> Processor<Input, Task> {
    /// `branch` must start with a state that takes an `Input`.
    pub fn new(branch: Branch) -> Self {
        Self {
            branch,
            _types: PhantomData,
        }
    }
}

/// The processor's input type must be what the ItemSelector builds (with an ItemBatcher, an
/// [`ItemBatch`] of it). `Self` is the processor's input, so that rustc waits until the processor
/// is known before checking (a bound on the selector's type would let inference equate the two
/// and report a bare type mismatch).
#[diagnostic::on_unimplemented(
    message = "the Map passes its processor `{Sel}` but `{Task}` takes `{Self}`",
    label = "this processor does not take `{Sel}`",
    note = "build `{Self}` in the ItemSelector (`selector!({Self} {{ .. }})`), or give the Map a processor that takes `{Sel}`; after an ItemBatcher the processor takes `ItemBatch<what the ItemSelector builds, what the BatchInput builds>`"
)]
pub trait TakesSelector<Sel, Task> {}
impl<T, Task> TakesSelector<T, Task> for T {}

/// What each child execution of a batching Distributed Map receives: a batch of items, each built
/// by the ItemSelector, and the `BatchInput` built once from the Map's input. AWS's JSON shape
/// `{"Items": [...], "BatchInput": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize, JsonSchema)]
pub struct ItemBatch<Item, BatchInput> {
    /// `Items`: the batch's items, each built by the ItemSelector.
    #[serde(rename = "Items")]
    pub items: Vec<Item>,
    /// `BatchInput`: built once from the Map's input, the same for every batch.
    #[serde(rename = "BatchInput")]
    pub batch_input: BatchInput,
}

/// AWS caps a batch (`MaxInputBytesPerBatch`, and a child's input) at the payload limit.
impl<Item: PayloadSafe, BatchInput: PayloadSafe> PayloadSafe for ItemBatch<Item, BatchInput> {
    const MAX_JSON_BYTES: usize = crate::limits::PAYLOAD_BYTES;
}

/// How large a batch may grow (at least one of the two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchLimits {
    /// `MaxItemsPerBatch`: the most items in one batch.
    pub max_items: Option<u32>,
    /// `MaxInputBytesPerBatch`: the most bytes of JSON in one batch (at most 256 KiB).
    pub max_input_bytes: Option<u32>,
}

/// Marks a Map running its iterations in the parent execution.
pub enum Inline {}
/// Marks a Map running each item (or batch) as a child execution, reading its items from S3.
pub enum Distributed {}

/// Where a Map's items come from.
enum Items {
    /// An array in the Map's input (`ItemsPath`).
    Path(ReferencePath),
    /// An S3 object (`ItemReader`).
    Reader(ItemReader),
}

/// A Map under construction: `map_over(items)` (inline) or `distributed_map_over(items)`, then
/// `.item_selector(..)`, optionally `.item_batcher(..)` (distributed only), then `.processor(..)`.
pub struct MapOver<In, Item, Mode> {
    items: Items,
    _types: PhantomData<Types3<In, Item, Mode>>,
}

/// Starts an inline Map over the array at `items`.
pub fn map_over<P: ItemsPath>(items: P) -> MapOver<P::Input, P::Item, Inline> {
    MapOver {
        items: Items::Path(items.reference()),
        _types: PhantomData,
    }
}

/// Starts a Distributed Map over the items of the S3 object that `items` (a path in the Map's
/// input) names: an ItemReader (`arn:aws:states:::s3:getObject`) takes the object's bucket and key
/// from the handle at run time, and each child execution gets one `Object::Item`.
pub fn distributed_map_over<In: JsonSchema, Object: S3ItemsObject>(
    items: Path<In, Object>,
) -> MapOver<In, Object::Item, Distributed> {
    let handle = items.reference();
    let field = |name: &'static str| PayloadValue::Path(handle.clone().field(name));
    let reader = ItemReader {
        resource: S3_GET_OBJECT.into(),
        reader_config: Some(ReaderConfig {
            input_type: Some(Object::INPUT_TYPE),
            csv_header_location: None,
            csv_headers: None,
            csv_delimiter: None,
            max_items: None,
        }),
        arguments: None,
        parameters: Some(
            PayloadTemplate::new()
                .with("Bucket", field(Object::bucket().name()))
                .with("Key", field(Object::key().name())),
        ),
    };
    MapOver {
        items: Items::Reader(reader),
        _types: PhantomData,
    }
}

impl<In, Item, Mode> MapOver<In, Item, Mode> {
    /// What each iteration receives, built from the Map's input and the item.
    pub fn item_selector<Sel>(
        self,
        build: impl FnOnce(&MapItem<In, Item>) -> Selector<MapItem<In, Item>, Sel>,
    ) -> MapSelecting<In, Item, Sel, Mode> {
        MapSelecting {
            items: self.items,
            item_selector: build(&MapItem(PhantomData)).template,
            batcher: None,
            _types: PhantomData,
        }
    }
}

/// A Map with its ItemSelector, waiting for its processor.
pub struct MapSelecting<In, Item, Sel, Mode> {
    items: Items,
    item_selector: PayloadTemplate,
    batcher: Option<ItemBatcher>,
    _types: PhantomData<Types4<In, Item, Sel, Mode>>,
}

/// Marks types as used without owning a value of any.
type Types3<A, B, C> = fn() -> (A, B, C);
type Types4<A, B, C, D> = fn() -> (A, B, C, D);

impl<In, Item, Sel> MapSelecting<In, Item, Sel, Distributed> {
    /// Groups the selected items into batches under `limits`; each child execution then takes an
    /// [`ItemBatch`] of them with `batch_input`, built once from the Map's input.
    pub fn item_batcher<B>(
        self,
        limits: BatchLimits,
        batch_input: impl FnOnce(&StateInput<In>) -> Selector<StateInput<In>, B>,
    ) -> MapSelecting<In, Item, ItemBatch<Sel, B>, Distributed> {
        let batch_input = batch_input(&StateInput::new()).template;
        MapSelecting {
            items: self.items,
            item_selector: self.item_selector,
            batcher: Some(ItemBatcher {
                max_items_per_batch: limits.max_items.map(Limit::Fixed),
                max_input_bytes_per_batch: limits.max_input_bytes.map(Limit::Fixed),
                batch_input: Some(batch_input),
            }),
            _types: PhantomData,
        }
    }
}

impl<In, Item, Sel, Mode> MapSelecting<In, Item, Sel, Mode> {
    /// The states run per item (per batch with an ItemBatcher); they must take exactly what the
    /// ItemSelector (or the batcher) builds. A Distributed Map's children run as STANDARD
    /// executions unless the caller sets another `ExecutionType`.
    pub fn processor<P: ProcessorTypes>(self, processor: P, transition: Transition) -> MapState
    where
        P::Input: TakesSelector<Sel, P::Task>,
    {
        let mut map = MapState::inline(processor.into_branch(), transition);
        match self.items {
            Items::Path(path) => map.items_path = Some(path.into()),
            Items::Reader(reader) => {
                map.item_reader = Some(reader);
                map.item_processor.processor_config = Some(ProcessorConfig {
                    mode: ProcessorMode::Distributed,
                    execution_type: Some(ExecutionType::Standard),
                });
            }
        }
        map.item_selector = Some(self.item_selector);
        map.item_batcher = self.batcher;
        map
    }
}

/// A processor's input and task types as associated types: taken from the argument, they are
/// known before the selector is compared with them, so a mismatch is reported by
/// [`TakesSelector`]'s message rather than as a plain type mismatch.
pub trait ProcessorTypes {
    /// What each iteration receives: the processor's input type.
    type Input;
    /// What runs first in the processor, named when the selector does not match.
    type Task;
    /// The processor's states, untyped.
    fn into_branch(self) -> Branch;
}

impl<Input, Task> ProcessorTypes for Processor<Input, Task> {
    type Input = Input;
    type Task = Task;
    fn into_branch(self) -> Branch {
        self.branch
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;
    use crate::state::{PassState, State, StateMachine, StateName, States};
    use crate::validate::validate;

    /// Names an S3 object holding a JSON Lines list of ids.
    #[derive(Serialize, JsonSchema)]
    struct IdList {
        bucket: String,
        key: String,
    }

    impl S3ItemsObject for IdList {
        type Item = u32;
        const INPUT_TYPE: ReaderInputType = ReaderInputType::Jsonl;
        fn bucket() -> Field<Self, String> {
            crate::field!(bucket)
        }
        fn key() -> Field<Self, String> {
            crate::field!(key)
        }
    }

    /// The Map's input.
    #[derive(Serialize, JsonSchema)]
    struct Run {
        run: Text,
        ids: IdList,
        inline_ids: BoundedVec<u32, 10>,
    }

    /// What each iteration works on.
    #[derive(Serialize, JsonSchema)]
    struct Work {
        run: Text,
        id: u32,
    }

    /// What a batch shares.
    #[derive(Serialize, JsonSchema)]
    struct Shared {
        run: Text,
    }

    /// A run's name in these tests.
    type Text = crate::BoundedString<40>;

    impl PayloadSafe for Work {
        const MAX_JSON_BYTES: usize = 400;
    }
    impl PayloadSafe for Shared {
        const MAX_JSON_BYTES: usize = 400;
    }

    fn processor<Input>() -> Processor<Input, ()> {
        let name = StateName::new("Work").unwrap();
        let pass = State::Pass(PassState::new(Transition::End));
        Processor::new(Branch {
            comment: None,
            start_at: name.clone(),
            states: States::from_iter([(name, pass)]),
        })
    }

    fn rendered(map: &MapState) -> Json {
        serde_json::to_value(map).unwrap()
    }

    /// The typed paths of `map` resolve in their schema roots, and nothing else is wrong.
    fn assert_valid(map: MapState) {
        let name = StateName::new("Each").unwrap();
        let machine = StateMachine {
            query_language: None,
            comment: None,
            version: None,
            start_at: name.clone(),
            timeout_seconds: None,
            states: States::from_iter([(name, State::Map(map))]),
        };
        assert!(validate(&machine).is_ok(), "{:?}", validate(&machine));
    }

    fn work_selector(item: &MapItem<Run, u32>) -> Selector<MapItem<Run, u32>, Work> {
        crate::selector!(Work {
            run: item.input(crate::path!(Run.run)),
            id: item.item(),
        })
    }

    #[test]
    fn distributed_map_over_reads_the_object_the_handle_names() {
        let map = distributed_map_over(crate::path!(Run.ids))
            .item_selector(work_selector)
            .processor(processor::<Work>(), Transition::End);
        let json = rendered(&map);
        assert_eq!(
            json["ItemReader"],
            json!({
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSONL"},
                "Parameters": {"Bucket.$": "$.ids.bucket", "Key.$": "$.ids.key"},
            })
        );
        assert_eq!(
            json["ItemProcessor"]["ProcessorConfig"],
            json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
        );
        assert_eq!(
            json["ItemSelector"],
            json!({"run.$": "$.run", "id.$": "$$.Map.Item.Value"})
        );
        assert!(json.get("ItemsPath").is_none() && json.get("ItemBatcher").is_none());
        assert_valid(map);
    }

    #[test]
    fn item_batcher_renders_its_limits_and_batch_input() {
        let map = distributed_map_over(crate::path!(Run.ids))
            .item_selector(work_selector)
            .item_batcher(
                BatchLimits {
                    max_items: Some(50),
                    max_input_bytes: None,
                },
                |input| {
                    crate::selector!(Shared {
                        run: input.input(crate::path!(Run.run)),
                    })
                },
            )
            .processor(processor::<ItemBatch<Work, Shared>>(), Transition::End);
        assert_eq!(
            rendered(&map)["ItemBatcher"],
            json!({"MaxItemsPerBatch": 50, "BatchInput": {"run.$": "$.run"}})
        );
        assert_valid(map);
    }

    /// A variable's value: a run's counts.
    #[derive(Serialize, JsonSchema)]
    struct Totals {
        rows: u64,
    }

    impl PayloadSafe for Totals {
        const MAX_JSON_BYTES: usize = 40;
    }

    /// What a later state builds from variables.
    #[derive(Serialize, JsonSchema)]
    struct Report {
        run: Text,
        rows: u64,
        totals: Totals,
    }

    impl PayloadSafe for Report {
        const MAX_JSON_BYTES: usize = 400;
    }

    #[test]
    fn reading_a_variable_renders_a_path_from_its_name() {
        let run = crate::variable!(run: Text);
        let totals = crate::variable!(totals: Totals);
        let state = StateInput::<Run>::new();
        let report = crate::selector!(Report {
            run: state.variable(&run),
            rows: state.variable_at(&totals, crate::path!(Totals.rows)),
            totals: state.variable(&totals),
        });
        let rendered = serde_json::to_value(&report.template).unwrap();
        assert_eq!(
            rendered,
            json!({"run.$": "$run", "rows.$": "$totals.rows", "totals.$": "$totals"})
        );
        // The path into the variable resolves in the variable type's schema, like any typed path.
        let rows = report.template.get("rows").unwrap().reference_paths()[0].clone();
        assert_eq!(rows.variable().map(VariableName::as_str), Some("totals"));
        assert_eq!(rows.schema_root().unwrap().type_name(), "Totals");
    }

    #[test]
    fn assignments_render_paths_context_values_literals_and_objects_as_aws_reads_them() {
        let run = crate::variable!(run: Text);
        let rows = crate::variable!(rows: u64);
        let retries = crate::variable!(retries: u32);
        let totals = crate::variable!(totals: Totals);
        let from_result = StateResult::<Run>::new();
        let assign = Assignments::new()
            .set(&run, from_result.input(crate::path!(Run.run)))
            .set(&retries, from_result.context(context::StateRetryCount))
            .set(&rows, Value::literal(&0))
            .set(
                &totals,
                crate::selector!(Totals {
                    rows: Value::literal(&7),
                })
                .into(),
            )
            .build();
        assert_eq!(
            serde_json::to_value(&assign).unwrap(),
            json!({
                "run.$": "$.run",
                "retries.$": "$$.State.RetryCount",
                "rows": 0,
                "totals": {"rows": 7},
            })
        );
        let keys: Vec<&str> = assign.0.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["run.$", "retries.$", "rows", "totals"],
            "in the order set"
        );
        assert!(assign.variables().all(|(name, _)| name.is_ok()));
    }

    #[test]
    fn setting_a_variable_again_replaces_its_value_whatever_its_kind() {
        let run = crate::variable!(run: Text);
        let state = StateInput::<Run>::new();
        let assign = Assignments::new()
            .set(&run, state.input(crate::path!(Run.run)))
            .set(&run, Value::literal(&Text::new("fixed").unwrap()))
            .build();
        assert_eq!(
            serde_json::to_value(&assign).unwrap(),
            json!({"run": "fixed"})
        );
    }

    #[test]
    fn a_variable_name_aws_refuses_is_refused_by_both_constructors() {
        use __private::is_variable_name;
        for good in ["total", "_x", "x_1", &"a".repeat(80)] {
            assert!(is_variable_name(good), "{good}");
        }
        for bad in ["", "states", "1x", "a-b", "café", "r#type", &"a".repeat(81)] {
            assert!(!is_variable_name(bad), "{bad}");
            let panicked = std::panic::catch_unwind(|| Variable::<u64>::new(bad));
            assert!(panicked.is_err(), "Variable::new({bad:?}) did not panic");
        }
        assert_eq!(Variable::<u64>::new("total").name().as_str(), "total");
    }

    #[test]
    fn map_over_reads_the_array_at_items_path_inline() {
        let map = map_over(crate::path!(Run.inline_ids))
            .item_selector(work_selector)
            .processor(processor::<Work>(), Transition::End);
        let json = rendered(&map);
        assert_eq!(json["ItemsPath"], "$.inline_ids");
        assert_eq!(
            json["ItemProcessor"]["ProcessorConfig"],
            json!({"Mode": "INLINE"})
        );
        assert!(json.get("ItemReader").is_none());
        assert_valid(map);
    }
}
