//! The machine as a graph: unique state names, `StartAt` and transition targets that exist in
//! their scope, every state reachable and able to reach a terminal state, and the error
//! matchers and numbers of `Retry` and `Catch`.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Checker, qualified};
use crate::state::{ErrorName, Retrier, StateMachine, StateName, States};

impl Checker {
    /// Checks one machine, processor or branch; `parent` is the state that contains it.
    pub(super) fn scope(&mut self, parent: Option<&str>, start_at: &StateName, states: &States) {
        let where_ = parent.map(|p| format!(" of `{p}`")).unwrap_or_default();
        if !states.contains_key(start_at) {
            self.error(
                parent,
                format!("StartAt{where_} names `{start_at}`, which is not one of its states"),
            );
        }
        for (name, state) in states {
            let at = qualified(parent, name);
            for target in state.targets() {
                if !states.contains_key(target) {
                    self.error(
                        Some(&at),
                        format!(
                            "goes to `{target}`, which is not a state of the same {}",
                            if parent.is_some() {
                                "branch or processor"
                            } else {
                                "machine"
                            }
                        ),
                    );
                }
            }
            self.state(&at, state);
        }
        self.flow(parent, start_at, states);
    }

    /// Reachability from StartAt, and a way to a terminal state from every state.
    fn flow(&mut self, parent: Option<&str>, start_at: &StateName, states: &States) {
        let edges: HashMap<&StateName, Vec<&StateName>> = states
            .iter()
            .map(|(name, state)| (name, state.targets()))
            .collect();
        let reachable = closure([start_at], |name| {
            edges.get(name).cloned().unwrap_or_default()
        });
        for name in states.keys() {
            if !reachable.contains(name) {
                self.error(
                    Some(&qualified(parent, name)),
                    format!("cannot be reached from `{start_at}`"),
                );
            }
        }
        // Walk the edges backwards from the terminal states.
        let mut incoming: HashMap<&StateName, Vec<&StateName>> = HashMap::new();
        for (from, targets) in &edges {
            for to in targets {
                incoming.entry(to).or_default().push(from);
            }
        }
        let terminals: Vec<&StateName> = states
            .iter()
            .filter(|(_, state)| state.is_terminal())
            .map(|(name, _)| name)
            .collect();
        // A state going to a missing state is already reported; counting it as an end keeps
        // that one mistake from being reported again for every state before it.
        let broken = states
            .iter()
            .filter(|(_, state)| state.targets().iter().any(|t| !states.contains_key(*t)))
            .map(|(name, _)| name);
        if terminals.is_empty() && !states.is_empty() {
            let of = parent
                .map(|p| format!("the processor or branch of `{p}`"))
                .unwrap_or("the machine".into());
            self.error(
                parent,
                format!("{of} has no terminal state (Succeed, Fail or `\"End\": true`)"),
            );
            return;
        }
        let can_end = closure(terminals.iter().copied().chain(broken), |name| {
            incoming.get(name).cloned().unwrap_or_default()
        });
        for name in states.keys() {
            if reachable.contains(name) && !can_end.contains(name) {
                self.error(
                    Some(&qualified(parent, name)),
                    "no terminal state can be reached from it: the execution would never end"
                        .into(),
                );
            }
        }
    }

    /// `States.ALL` must be alone in its ErrorEquals and in the last retrier or catcher.
    pub(super) fn error_matchers<'a>(
        &mut self,
        at: &str,
        field: &str,
        lists: impl ExactSizeIterator<Item = &'a Vec<ErrorName>>,
    ) {
        let count = lists.len();
        for (index, errors) in lists.enumerate() {
            if errors.is_empty() {
                self.error(Some(at), format!("{field}[{index}].ErrorEquals is empty"));
            }
            if errors.iter().any(ErrorName::is_all) {
                if errors.len() > 1 {
                    self.error(
                        Some(at),
                        format!("{field}[{index}]: States.ALL must be alone in its ErrorEquals"),
                    );
                }
                if index + 1 != count {
                    self.error(
                        Some(at),
                        format!("{field}[{index}]: the entry with States.ALL must be the last of {field}"),
                    );
                }
            }
        }
    }

    pub(super) fn unique_names(&mut self, machine: &StateMachine) {
        let mut seen: BTreeMap<&StateName, Vec<String>> = BTreeMap::new();
        collect_names(None, &machine.states, &mut seen);
        for (name, places) in seen {
            if places.len() > 1 {
                self.error(
                    None,
                    format!(
                        "the state name `{name}` is used {} times ({}); names must be unique in the whole machine",
                        places.len(),
                        places.join(", ")
                    ),
                );
            }
        }
    }
}

fn collect_names<'a>(
    parent: Option<&str>,
    states: &'a States,
    seen: &mut BTreeMap<&'a StateName, Vec<String>>,
) {
    for (name, state) in states {
        seen.entry(name).or_default().push(match parent {
            Some(parent) => format!("in `{parent}`"),
            None => "at the top level".into(),
        });
        for branch in state.nested() {
            collect_names(Some(name.as_str()), &branch.states, seen);
        }
    }
}

/// Every node reachable from `start` through `next`.
fn closure<'a>(
    start: impl IntoIterator<Item = &'a StateName>,
    next: impl Fn(&'a StateName) -> Vec<&'a StateName>,
) -> HashSet<&'a StateName> {
    let mut seen = HashSet::new();
    let mut todo: Vec<&StateName> = start.into_iter().collect();
    while let Some(name) = todo.pop() {
        if seen.insert(name) {
            todo.extend(next(name));
        }
    }
    seen
}

/// What AWS refuses in a retrier's numbers (the ASL specification's bounds, and AWS's maxima).
pub(super) fn retrier_problems(retrier: &Retrier) -> Vec<String> {
    use crate::limits::{RETRY_MAX as MAX_RETRY_COUNT_OR_INTERVAL, RETRY_MAX_DELAY_SECONDS};
    let mut problems = Vec::new();
    if let Some(rate) = retrier.backoff_rate
        && !(rate >= 1.0 && rate.is_finite())
    {
        problems.push(format!(
            "BackoffRate is {rate}, but a retry interval may not shrink: give a number of at least 1.0"
        ));
    }
    let mut bounded = |field: &str, value: Option<u32>, least: u32, most: u32| {
        if let Some(value) = value.filter(|v| !(least..=most).contains(v)) {
            problems.push(format!(
                "{field} is {value}: give a whole number from {least} to {most}"
            ));
        }
    };
    bounded(
        "IntervalSeconds",
        retrier.interval_seconds,
        1,
        MAX_RETRY_COUNT_OR_INTERVAL,
    );
    bounded(
        "MaxAttempts",
        retrier.max_attempts,
        0,
        MAX_RETRY_COUNT_OR_INTERVAL,
    );
    bounded(
        "MaxDelaySeconds",
        retrier.max_delay_seconds,
        1,
        RETRY_MAX_DELAY_SECONDS,
    );
    problems
}
