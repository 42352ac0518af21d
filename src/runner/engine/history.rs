//! An execution's history as far as the runner keeps it: the count of its events, against AWS's
//! quota, and of its state transitions.

use std::sync::atomic::{AtomicU64, Ordering};

use asl::limits::HISTORY_EVENTS;

use super::StateError;

/// One execution's (or Distributed Map child execution's) event count, against its quota, and
/// its state transitions.
pub(super) struct History {
    pub(super) events: AtomicU64,
    limit: u64,
    pub(super) transitions: AtomicU64,
}

impl Default for History {
    fn default() -> Self {
        Self {
            events: AtomicU64::new(0),
            limit: HISTORY_EVENTS,
            transitions: AtomicU64::new(0),
        }
    }
}

impl History {
    /// An EXPRESS execution keeps no history, so it has no quota; its events are still counted.
    pub(super) fn unbounded() -> Self {
        Self {
            limit: u64::MAX,
            ..Self::default()
        }
    }

    pub(super) fn add(&self, events: u64) -> Result<(), StateError> {
        let total = self.events.fetch_add(events, Ordering::Relaxed) + events;
        if total > self.limit {
            // The execution's own failure, not a state's: its cause names no state.
            Err(StateError::new(
                "States.Runtime",
                format!(
                    "The execution reached the maximum number of history events ({HISTORY_EVENTS})."
                ),
            ))
        } else {
            Ok(())
        }
    }

    pub(super) fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// A state entered or retried: what Step Functions bills a Standard execution for.
    pub(super) fn transition(&self) {
        self.transitions.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn transitions(&self) -> u64 {
        self.transitions.load(Ordering::Relaxed)
    }
}
