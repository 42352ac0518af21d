//! Typed workflow variables ([`variable!`](crate::variable)) and a state's `Assign` built with
//! types ([`Assignments`]).

use std::marker::PhantomData;

use super::{PayloadSafe, Scope, Value};
use crate::payload::PayloadTemplate;
use crate::query::{Assign, VariableName};

/// A workflow variable holding a `T`, read as `$name` once a state's `Assign` has set it. Made
/// by [`variable!`](crate::variable), which checks the name at compile time, or [`Variable::new`].
pub struct Variable<T> {
    pub(super) name: VariableName,
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
/// the scope `S` the Assign is evaluated in ([`StateResult`](super::StateResult) for a state with
/// a result, [`StateInput`](super::StateInput) otherwise).
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
