//! Synth-time checks of a whole state machine: what the types cannot promise. Every problem is
//! collected, so one run reports them all, each naming its state and field.
//!
//! Errors: duplicate state names (across nested processors and branches too), a `StartAt`,
//! `Next`, `Default` or `Catch` target that does not exist in its scope, a state that cannot be
//! reached, a scope without a terminal state or a state from which no terminal state can be
//! reached, `States.ALL` not alone or not last, a Map-item context value outside an ItemSelector,
//! and a typed path that does not resolve in the JSON schema of the type it starts from (a serde
//! rename the Rust names do not show). For a Map: a Distributed-Map field on an inline Map; an
//! ItemReader that is not `s3:getObject`/`s3:listObjectsV2`, misses its bucket or key or input
//! type, or has CSV settings that do not fit; MaxItems, MaxConcurrency, ToleratedFailurePercentage
//! and ItemBatcher limits outside AWS's ranges; a ResultWriter that is not one of the
//! combinations AWS takes; a Label AWS refuses or that another Map already has. Query languages
//! (see `language.rs`): a field of the other language, a JSONPath state in a JSONata machine, a
//! JSONata string that does not parse, an `Assign` of a reserved or outer-scope variable.
//!
//! Warnings: a state whose output grows with the number of items (a Map's result array kept in
//! the state), against the [`PAYLOAD_BYTES`](crate::limits::PAYLOAD_BYTES) limit on any state's
//! input or output; an inline Map's MaxConcurrency above the
//! [`INLINE_MAP_MAX_CONCURRENCY`](crate::limits::INLINE_MAP_MAX_CONCURRENCY) AWS runs; ItemsPath
//! beside an ItemReader, which AWS ignores; a failure tolerance on an inline Map, which AWS
//! ignores too.
//!
//! This file holds the report and the checker's walk over each state; the checks are by subject:
//! `graph.rs` (names, targets, reachability, error matchers), `map.rs` (a Map's settings),
//! `schema.rs` (the paths a state reads, typed ones resolving in their JSON schema) and
//! `language.rs`. Which fields a state has, their language and the paths they hold come from the
//! field table in `state/fields.rs`.

mod graph;
mod language;
mod map;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use super::path::ContextValue;
use super::state::{Catcher, ChoiceState, Retrier, State, StateMachine, StateName};

pub use map::label_problem;

/// One finding, located by the state it is in (`Outer/Inner` for nested states).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The state it is in (`Outer/Inner` for nested states); `None` for the machine itself.
    pub state: Option<String>,
    /// What is wrong, for a reader of the definition.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            Some(state) => write!(f, "state `{state}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything the checks found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// What AWS would refuse or the machine would get wrong: synth fails on any.
    pub errors: Vec<Problem>,
    /// What is likely a mistake but allowed, such as a state output that grows with the items.
    pub warnings: Vec<Problem>,
}

impl Report {
    /// Whether there are no errors (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Runs every check on `machine`.
pub fn validate(machine: &StateMachine) -> Report {
    let mut checker = Checker::default();
    checker.scope(None, &machine.start_at, &machine.states);
    checker.unique_names(machine);
    checker.unique_map_labels();
    checker.languages(machine);
    checker.report
}

#[derive(Default)]
struct Checker {
    report: Report,
    /// Each Distributed Map `Label` with the states that use it, in the order they were checked.
    map_labels: BTreeMap<String, Vec<String>>,
}

impl Checker {
    fn error(&mut self, state: Option<&str>, message: String) {
        self.report.errors.push(Problem {
            state: state.map(str::to_owned),
            message,
        });
    }

    fn warning(&mut self, state: Option<&str>, message: String) {
        self.report.warnings.push(Problem {
            state: state.map(str::to_owned),
            message,
        });
    }

    /// Checks one state (and, through `scope`, the states nested in it); `at` is its qualified
    /// name.
    fn state(&mut self, at: &str, state: &State) {
        self.error_matchers(
            at,
            "Retry",
            state.retry().iter().map(|r: &Retrier| &r.error_equals),
        );
        for (index, retrier) in state.retry().iter().enumerate() {
            for problem in graph::retrier_problems(retrier) {
                self.error(Some(at), format!("Retry[{index}]: {problem}"));
            }
        }
        self.error_matchers(
            at,
            "Catch",
            state.catch().iter().map(|c: &Catcher| &c.error_equals),
        );
        for (field, path) in schema::reference_paths(state) {
            self.resolves(at, &field, path);
        }
        for (field, path) in schema::context_paths(state) {
            if path.value().is_some_and(ContextValue::is_map_item) && field != "ItemSelector" {
                self.error(
                    Some(at),
                    format!("{field} reads `{path}`, which exists only in a Map's ItemSelector"),
                );
            }
        }
        match state {
            State::Map(map) => self.map(at, map),
            State::Choice(ChoiceState { choices, .. }) if choices.is_empty() => {
                self.error(Some(at), "a Choice needs at least one rule".into());
            }
            _ => {}
        }
        for branch in state.nested() {
            self.scope(Some(at), &branch.start_at, &branch.states);
        }
    }
}

/// A state's name qualified by the states it is nested in (`Outer/Inner`).
fn qualified(parent: Option<&str>, name: &StateName) -> String {
    match parent {
        Some(parent) => format!("{parent}/{name}"),
        None => name.to_string(),
    }
}
