//! The most events an execution's history can hold, from the definition alone: every Task and
//! Map attempted as often as its retriers allow, every Catch path followed, the longest way
//! through the graph taken. Step Functions fails an execution whose history passes 25,000
//! events; a definition whose bound passes it can fail however well its handlers behave.
//!
//! The events are counted as the local runner counts them (and AWS writes them): two for the
//! execution, two for each state (entered, exited), three for each Task attempt (scheduled,
//! started, succeeded or failed), four for each Distributed Map attempt (its children's events
//! go to their own histories, bounded separately), two for each Parallel attempt around its
//! branches'. A loop, or an inline Map (whose iterations depend on the input), has no bound.

use std::collections::BTreeMap;
use std::fmt;

use crate::state::{Branch, State, StateMachine, StateName};

/// AWS's default `MaxAttempts` of a retrier.
const DEFAULT_MAX_ATTEMPTS: u64 = 3;

/// The most events of the execution's history and of any Distributed Map child execution's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HistoryBound {
    /// The execution's own history.
    pub execution_events: u64,
    /// The largest child execution's history, when the machine has a Distributed Map.
    pub child_execution_events: Option<u64>,
}

/// Why a definition's history has no bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unbounded {
    /// The state can be reached again from itself.
    Loop(StateName),
    /// An inline Map: as many iterations as its input has items.
    InlineMap(StateName),
}

impl fmt::Display for Unbounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unbounded::Loop(state) => write!(
                f,
                "the state `{state}` can run again after itself, so the history has no bound; leave the loop to the data (a Distributed Map over the items in S3)"
            ),
            Unbounded::InlineMap(state) => write!(
                f,
                "the inline Map `{state}` runs once per item of its input, so the history has no bound; make it a Distributed Map, whose children have histories of their own"
            ),
        }
    }
}

impl std::error::Error for Unbounded {}

/// The bound of `machine`'s histories.
pub fn history_bound(machine: &StateMachine) -> Result<HistoryBound, Unbounded> {
    let mut children = None;
    let events = branch_events(&machine.start_at, &machine.states, &mut children)?;
    Ok(HistoryBound {
        execution_events: 2 + events,
        child_execution_events: children,
    })
}

/// The most events of the states of a (sub)machine from `start` to its end; the largest child
/// history of the Distributed Maps on the way goes to `children`.
fn branch_events(
    start: &StateName,
    states: &crate::state::States,
    children: &mut Option<u64>,
) -> Result<u64, Unbounded> {
    let mut walk = Walk {
        states,
        longest: BTreeMap::new(),
        on_path: Vec::new(),
        children,
    };
    walk.longest_from(start)
}

struct Walk<'a, 'c> {
    states: &'a crate::state::States,
    /// The most events from each state to the end, once known.
    longest: BTreeMap<&'a StateName, u64>,
    /// The states being walked, to find a loop.
    on_path: Vec<&'a StateName>,
    children: &'c mut Option<u64>,
}

impl<'a> Walk<'a, '_> {
    fn longest_from(&mut self, name: &'a StateName) -> Result<u64, Unbounded> {
        if let Some(&events) = self.longest.get(name) {
            return Ok(events);
        }
        if self.on_path.contains(&name) {
            return Err(Unbounded::Loop(name.clone()));
        }
        // A target that does not exist is validation's to report; it adds nothing here.
        let Some(state) = self.states.get(name) else {
            return Ok(0);
        };
        self.on_path.push(name);
        let own = self.state_events(name, state)?;
        let mut after = 0;
        for target in state.targets() {
            after = after.max(self.longest_from(target)?);
        }
        self.on_path.pop();
        self.longest.insert(name, own + after);
        Ok(own + after)
    }

    fn state_events(&mut self, name: &StateName, state: &State) -> Result<u64, Unbounded> {
        let attempts = 1 + state
            .retry()
            .iter()
            .map(|retrier| retrier.max_attempts.map_or(DEFAULT_MAX_ATTEMPTS, u64::from))
            .sum::<u64>();
        Ok(match state {
            State::Task(_) => 2 + 3 * attempts,
            State::Map(map) if map.is_distributed() => {
                let child = 2 + self.branch(&map.item_processor.branch)?;
                *self.children = Some(self.children.unwrap_or(0).max(child));
                2 + 4 * attempts
            }
            State::Map(_) => return Err(Unbounded::InlineMap(name.clone())),
            State::Parallel(parallel) => {
                let mut branches = 0;
                for branch in &parallel.branches {
                    branches += self.branch(branch)?;
                }
                2 + attempts * (2 + branches)
            }
            // Entered, then the execution's failure.
            State::Fail(_) => 1,
            State::Pass(_) | State::Wait(_) | State::Choice(_) | State::Succeed(_) => 2,
        })
    }

    fn branch(&mut self, branch: &Branch) -> Result<u64, Unbounded> {
        branch_events(&branch.start_at, &branch.states, self.children)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bound(definition: serde_json::Value) -> Result<HistoryBound, Unbounded> {
        history_bound(&crate::parse(&definition.to_string()).unwrap())
    }

    fn task(next: serde_json::Value, retry: serde_json::Value) -> serde_json::Value {
        let mut task = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "f"}, "Retry": retry});
        task.as_object_mut()
            .unwrap()
            .extend(next.as_object().unwrap().clone());
        task
    }

    /// Two states, the Task retried 3 + 6 times: the execution (2), the Task entered and exited
    /// (2) with 10 attempts of 3 events, the Succeed state (2).
    #[test]
    fn retries_count_at_their_max_attempts_and_the_longest_path_is_taken() {
        let retry = json!([{"ErrorEquals": ["A"]}, {"ErrorEquals": ["B"], "MaxAttempts": 6}]);
        let found = bound(json!({"StartAt": "T", "States": {
            "T": task(json!({"Next": "Done", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Long"}]}), retry),
            "Long": {"Type": "Pass", "Next": "Longer"},
            "Longer": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"}}}))
        .unwrap();
        // The Catch path (Long, Longer, Done) is longer than Next (Done).
        assert_eq!(found.execution_events, 2 + (2 + 3 * 10) + 2 + 2 + 2);
        assert_eq!(found.child_execution_events, None);
    }

    #[test]
    fn a_distributed_maps_children_have_their_own_bound() {
        let found = bound(json!({"StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "T", "States": {"T": task(json!({"End": true}), json!([{"ErrorEquals": ["A"], "MaxAttempts": 0}]))}},
            "ItemsPath": "$.items", "End": true}}}))
        .unwrap();
        assert_eq!(found.execution_events, 2 + 2 + 4);
        assert_eq!(found.child_execution_events, Some(2 + 2 + 3));
    }

    #[test]
    fn a_loop_and_an_inline_map_have_no_bound() {
        let looped = bound(json!({"StartAt": "Wait", "States": {
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": false, "Next": "Wait"}], "Default": "End"},
            "End": {"Type": "Succeed"}}}));
        assert!(
            matches!(looped, Err(Unbounded::Loop(ref state)) if state.as_str() == "Wait"),
            "{looped:?}"
        );
        let inline = bound(
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}),
        );
        assert_eq!(
            inline,
            Err(Unbounded::InlineMap(StateName::new("M").unwrap()))
        );
        assert!(
            inline
                .unwrap_err()
                .to_string()
                .contains("make it a Distributed Map")
        );
    }
}
