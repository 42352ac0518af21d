//! What an execution's history says: how many Map iterations started, succeeded and failed, which
//! state is running, and where a failure happened. Read incrementally, so following a long
//! execution does not re-read its whole history on every poll.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::SdkError;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryError;
use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType, MapRunItemCounts};
use serde::{Deserialize, Serialize};

/// Map iterations (chunks, for this pipeline) of every Map state of an execution: an inline Map's
/// iterations, a Distributed Map's items (its Map Run's child executions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapIterations {
    pub succeeded: u64,
    /// Failed, timed out or aborted.
    pub failed: u64,
    /// Started or waiting to start, not ended yet.
    #[serde(default)]
    pub running: u64,
    pub total: u64,
}

impl MapIterations {
    fn add(&mut self, other: MapIterations) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.running += other.running;
        self.total += other.total;
    }

    /// Iterations that have ended either way.
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed
    }
}

/// The event that ended an execution (or a task) in failure.
#[derive(Clone, Debug)]
struct Failure {
    event_id: i64,
    error: Option<String>,
    cause: Option<String>,
}

/// Everything read from the history so far.
#[derive(Debug, Default)]
pub struct HistoryTally {
    last_event_id: i64,
    /// Each event's predecessor, and the state it entered if it is a `*StateEntered` event: enough
    /// to walk from a failure back to the state it happened in.
    links: HashMap<i64, (i64, Option<String>)>,
    inline: MapIterations,
    /// Inline Maps report their length once; iterations are only counted as they start otherwise.
    started_iterations: u64,
    /// Distributed Map runs: their item counts come from DescribeMapRun, not from this history.
    map_runs: BTreeMap<String, MapIterations>,
    current_state: Option<String>,
    failure: Option<Failure>,
}

impl HistoryTally {
    /// Takes in one event; events must come in id order, each once.
    pub fn absorb(&mut self, event: &HistoryEvent) {
        self.last_event_id = self.last_event_id.max(event.id());
        let entered = event
            .state_entered_event_details()
            .map(|d| d.name().to_owned());
        if let Some(name) = &entered {
            self.current_state = Some(name.clone());
        }
        self.links
            .insert(event.id(), (event.previous_event_id(), entered));

        if let Some(details) = event.map_state_started_event_details() {
            self.inline.total += u64::try_from(details.length()).unwrap_or(0);
        }
        match event.r#type() {
            HistoryEventType::MapIterationStarted => self.started_iterations += 1,
            HistoryEventType::MapIterationSucceeded => self.inline.succeeded += 1,
            HistoryEventType::MapIterationFailed | HistoryEventType::MapIterationAborted => {
                self.inline.failed += 1
            }
            _ => {}
        }
        if let Some(arn) = event
            .map_run_started_event_details()
            .and_then(|d| d.map_run_arn())
        {
            self.map_runs.entry(arn.to_owned()).or_default();
        }
        if let Some((error, cause)) = failure_details(event) {
            self.failure = Some(Failure {
                event_id: event.id(),
                error,
                cause,
            });
        }
    }

    /// The Map iterations of the whole execution, inline and distributed.
    pub fn map_iterations(&self) -> MapIterations {
        let mut all = self.inline;
        all.total = all.total.max(self.started_iterations);
        all.running = self.started_iterations.saturating_sub(all.done());
        for run in self.map_runs.values() {
            all.add(*run);
        }
        all
    }

    /// The Distributed Map runs seen so far.
    pub fn map_run_arns(&self) -> impl Iterator<Item = &str> {
        self.map_runs.keys().map(String::as_str)
    }

    /// Records a Distributed Map run's item counts from DescribeMapRun.
    pub fn set_map_run_counts(&mut self, arn: &str, counts: &MapRunItemCounts) {
        let as_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
        self.map_runs.insert(
            arn.to_owned(),
            MapIterations {
                succeeded: as_u64(counts.succeeded()),
                failed: as_u64(counts.failed() + counts.timed_out() + counts.aborted()),
                running: as_u64(counts.running() + counts.pending()),
                total: as_u64(counts.total()),
            },
        );
    }

    /// The state most recently entered.
    pub fn current_state(&self) -> Option<&str> {
        self.current_state.as_deref()
    }

    /// The error and cause of the last failure event (TaskFailed, LambdaFunctionFailed,
    /// ExecutionFailed, ...).
    pub fn failure_error_and_cause(&self) -> (Option<&str>, Option<&str>) {
        match &self.failure {
            Some(f) => (f.error.as_deref(), f.cause.as_deref()),
            None => (None, None),
        }
    }

    /// The state the last failure happened in: found by walking back from the failure event along
    /// `previousEventId` to the `*StateEntered` event it belongs to (the innermost state, such as
    /// the Task inside a Map iteration), else the state last entered.
    pub fn failed_state(&self) -> Option<&str> {
        let failure = self.failure.as_ref()?;
        let mut id = failure.event_id;
        // The walk is bounded by the number of events, so a malformed chain cannot loop forever.
        for _ in 0..=self.links.len() {
            match self.links.get(&id) {
                Some((_, Some(name))) => return Some(name),
                Some((previous, None)) if *previous > 0 && *previous != id => id = *previous,
                _ => break,
            }
        }
        self.current_state()
    }
}

/// Error and cause of an event that reports a failure; `None` for any other event. A Fail state's
/// error and cause arrive in the ExecutionFailed that follows it.
fn failure_details(event: &HistoryEvent) -> Option<(Option<String>, Option<String>)> {
    macro_rules! pick {
        ($($getter:ident),+ $(,)?) => {
            $(if let Some(d) = event.$getter() {
                return Some((d.error().map(str::to_owned), d.cause().map(str::to_owned)));
            })+
        };
    }
    pick!(
        task_failed_event_details,
        task_timed_out_event_details,
        task_start_failed_event_details,
        task_submit_failed_event_details,
        lambda_function_failed_event_details,
        lambda_function_timed_out_event_details,
        lambda_function_start_failed_event_details,
        lambda_function_schedule_failed_event_details,
        activity_failed_event_details,
        activity_timed_out_event_details,
        map_run_failed_event_details,
        execution_failed_event_details,
        execution_timed_out_event_details,
        execution_aborted_event_details,
    );
    if *event.r#type() == HistoryEventType::FailStateEntered {
        return Some((None, None));
    }
    None
}

/// Reads the events newer than those already in `tally`, newest first, page by page, stopping at
/// the first page that reaches what was read before; then absorbs them in order.
pub async fn read_new_events(
    client: &Client,
    execution_arn: &str,
    tally: &mut HistoryTally,
) -> Result<(), SdkError<GetExecutionHistoryError>> {
    let seen = tally.last_event_id;
    let mut fresh: Vec<HistoryEvent> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .include_execution_data(false)
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await?;
        let mut reached_seen = false;
        for event in page.events() {
            if event.id() > seen {
                fresh.push(event.clone());
            } else {
                reached_seen = true;
            }
        }
        token = page.next_token().map(str::to_owned);
        if reached_seen || token.is_none() {
            break;
        }
    }
    // Some endpoints (moto) ignore reverseOrder; sorting makes the order right either way.
    fresh.sort_by_key(HistoryEvent::id);
    fresh.dedup_by_key(|e| e.id());
    for event in &fresh {
        tally.absorb(event);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::{
        ExecutionFailedEventDetails, MapIterationEventDetails, MapRunStartedEventDetails,
        MapStateStartedEventDetails, StateEnteredEventDetails, TaskFailedEventDetails,
    };

    fn event(
        id: i64,
        previous: i64,
        kind: HistoryEventType,
    ) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder()
            .id(id)
            .previous_event_id(previous)
            .r#type(kind)
            .timestamp(DateTime::from_secs(0))
    }

    fn entered(id: i64, previous: i64, kind: HistoryEventType, name: &str) -> HistoryEvent {
        event(id, previous, kind)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name(name)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn iteration(id: i64, kind: HistoryEventType, index: i32) -> HistoryEvent {
        let details = MapIterationEventDetails::builder()
            .name("ProcessChunks")
            .index(index)
            .build();
        let builder = event(id, 2, kind.clone());
        match kind {
            HistoryEventType::MapIterationStarted => {
                builder.map_iteration_started_event_details(details)
            }
            HistoryEventType::MapIterationSucceeded => {
                builder.map_iteration_succeeded_event_details(details)
            }
            _ => builder.map_iteration_failed_event_details(details),
        }
        .build()
        .unwrap()
    }

    /// The shape AWS gives a task failing inside a Map iteration: the failure walks back to the
    /// Task, not to the Map.
    #[test]
    fn a_failed_task_in_a_map_is_counted_and_named() {
        let mut tally = HistoryTally::default();
        let events = vec![
            entered(1, 0, HistoryEventType::MapStateEntered, "ProcessChunks"),
            event(2, 1, HistoryEventType::MapStateStarted)
                .map_state_started_event_details(
                    MapStateStartedEventDetails::builder().length(3).build(),
                )
                .build()
                .unwrap(),
            iteration(3, HistoryEventType::MapIterationStarted, 0),
            iteration(4, HistoryEventType::MapIterationStarted, 1),
            iteration(5, HistoryEventType::MapIterationSucceeded, 0),
            entered(
                6,
                4,
                HistoryEventType::TaskStateEntered,
                "ProcessTask02Chunk",
            ),
            event(7, 6, HistoryEventType::TaskFailed)
                .task_failed_event_details(
                    TaskFailedEventDetails::builder()
                        .error("Task02.ChunkNotFound")
                        .cause("chunk 1 is not in the store")
                        .resource("invoke")
                        .resource_type("lambda")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            iteration(8, HistoryEventType::MapIterationFailed, 1),
            event(9, 8, HistoryEventType::MapStateFailed)
                .build()
                .unwrap(),
            event(10, 7, HistoryEventType::ExecutionFailed)
                .execution_failed_event_details(
                    ExecutionFailedEventDetails::builder()
                        .error("Task02.ChunkNotFound")
                        .cause("chunk 1 is not in the store")
                        .build(),
                )
                .build()
                .unwrap(),
        ];
        for e in &events {
            tally.absorb(e);
        }
        assert_eq!(
            tally.map_iterations(),
            MapIterations {
                succeeded: 1,
                failed: 1,
                running: 0,
                total: 3
            }
        );
        assert_eq!(tally.failed_state(), Some("ProcessTask02Chunk"));
        assert_eq!(
            tally.failure_error_and_cause(),
            (
                Some("Task02.ChunkNotFound"),
                Some("chunk 1 is not in the store")
            )
        );
    }

    /// A Distributed Map's items are counted from DescribeMapRun, per Map Run seen in the history.
    #[test]
    fn a_map_run_is_counted_from_its_item_counts() {
        let arn = "arn:aws:states:us-east-1:123456789012:mapRun:sm/chunks:0d2f";
        let mut tally = HistoryTally::default();
        tally.absorb(&entered(
            1,
            0,
            HistoryEventType::MapStateEntered,
            "ProcessTask02Chunks",
        ));
        tally.absorb(
            &event(2, 1, HistoryEventType::MapRunStarted)
                .map_run_started_event_details(
                    MapRunStartedEventDetails::builder()
                        .map_run_arn(arn)
                        .build(),
                )
                .build()
                .unwrap(),
        );
        assert_eq!(tally.map_run_arns().collect::<Vec<_>>(), [arn]);
        let counts = MapRunItemCounts::builder()
            .pending(4)
            .running(3)
            .succeeded(90)
            .failed(1)
            .timed_out(1)
            .aborted(1)
            .total(100)
            .results_written(90)
            .build();
        tally.set_map_run_counts(arn, &counts);
        assert_eq!(
            tally.map_iterations(),
            MapIterations {
                succeeded: 90,
                failed: 3,
                running: 7,
                total: 100
            }
        );
    }

    #[test]
    fn a_history_without_failure_names_no_failed_state() {
        let mut tally = HistoryTally::default();
        tally.absorb(&entered(
            1,
            0,
            HistoryEventType::TaskStateEntered,
            "GetTask02Chunks",
        ));
        assert_eq!(tally.failed_state(), None);
        assert_eq!(tally.current_state(), Some("GetTask02Chunks"));
        assert_eq!(tally.map_iterations(), MapIterations::default());
    }
}
