//! The context object's values, as types, so that a payload field reads one by type.

use crate::path::ContextValue;

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
