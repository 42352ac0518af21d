//! The cm-etl-pipeline-phase2 state machine, written with the ASL model and the handler contract:
//!
//! ```text
//! GetTask02Chunks ──> ProcessTask02Chunks ──────────────> DeleteTask02Chunks ──> Task02Migrated
//!        │            (Distributed Map: one child execution     │
//!        │             per chunk id, read from the chunk store; └─ refused ─> Task02ChunksLeftBehind (Fail)
//!        │             results written back to it)
//!        └─ a handler refused (not retryable) ─────────────────────> Task02Rejected (Fail)
//! ```
//!
//! Anything else that outlasts its retries (a Task's error, a failed Map Run) is not caught: the
//! execution fails in the state that failed, which is where a redrive restarts it.
//!
//! The chunks hold SSNs: once every chunk is migrated, DeleteTask02Chunks deletes the execution's
//! chunk store folder. A failed execution keeps its chunks for a redrive, until the bucket's
//! lifecycle rule expires them.
//!
//! Redrive (AWS's RedriveExecution) restarts a failed execution from its unsuccessful state, and
//! re-enters a Fail state only to fail again; so only what retrying cannot fix (a handler's refusal)
//! is caught into a Fail state. A failed Map Run fails the execution at ProcessTask02Chunks, and a
//! redrive re-runs only its children that did not succeed.
//!
//! Only counts and locations travel between states: the keys stay in the chunk store, the chunk
//! ids are read from it by the Map's ItemReader, and the Map's results are written to it by its
//! ResultWriter, so every state's payload is O(1) in the number of keys and of chunks, and each
//! chunk's events go to its own child execution's history.

pub mod bounds;
pub mod lambda_task;
mod payloads;

use etl_lambda::contract::{
    ChunkBudget, ChunkStoreUri, DeleteChunksInput, DeleteTask02Chunks, GetTask02Chunks,
    GetTask02ChunksInput, Handler, HandlerErrorName, MAP_RESULTS_FOLDER, PipelineInput,
    ProcessChunkInput, ProcessTask02Chunk,
};
pub use payloads::Task02State;

use asl::typed::context;
use asl::{
    Catcher, ErrorName, ExecutionType, FailState, Limit, MapState, PayloadTemplate, PayloadValue,
    ResultPath, ResultWriter, Scope, State, StateInput, StateMachine, StateName, States,
    SucceedState, TaskState, Transition, Value, distributed_map_over, path, selector,
};

/// The state machine this module defines, as named in `deploy.toml`.
pub const STATE_MACHINE_NAME: &str = "cm-etl-pipeline-phase2";

/// The Distributed Map running ProcessTask02Chunk once per chunk.
pub const PROCESS_TASK02_CHUNKS: &str = "ProcessTask02Chunks";
/// Every chunk was migrated.
pub const TASK02_MIGRATED: &str = "Task02Migrated";
/// A handler refused its input or chunk: retrying (or redriving) cannot help.
pub const TASK02_REJECTED: &str = "Task02Rejected";
/// Every chunk was migrated, but the handler refused to delete their objects.
pub const TASK02_CHUNKS_LEFT_BEHIND: &str = "Task02ChunksLeftBehind";

/// What the pipeline takes from its deployment (`deploy.toml`, checked there).
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineSettings {
    /// The function every Task invokes, qualified: with its alias in the committed definition,
    /// with the version published for a release in the definition deploy ships.
    pub function_arn: String,
    /// How GetTask02Chunks packs keys into chunks.
    pub chunking: ChunkBudget,
    /// Where each execution's chunks go: `<chunk_store><execution>-<arn digest>/`.
    pub chunk_store: ChunkStoreUri,
    /// How the Distributed Map runs its children.
    pub map: MapSettings,
}

/// The Distributed Map's run-time settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MapSettings {
    /// `MaxConcurrency`: how many chunks are migrated at once.
    pub max_concurrency: u32,
    /// `ToleratedFailurePercentage`: the percentage of failed chunks past which the Map Run fails.
    pub tolerated_failure_percentage: f64,
    /// `ToleratedFailureCount`: the number of failed chunks past which the Map Run fails.
    pub tolerated_failure_count: u32,
    /// `Label`: the name prefix of the child executions.
    pub label: String,
    /// Whether each child runs as a Standard or an Express workflow.
    pub execution_type: ExecutionType,
}

/// The whole state machine for `settings`.
pub fn definition(settings: &PipelineSettings) -> StateMachine {
    let function = settings.function_arn.as_str();

    let mut states = States::new();
    states.insert(
        name(GetTask02Chunks::STATE_NAME),
        State::Task(get_task02_chunks(settings.chunking, function)),
    );
    states.insert(
        name(PROCESS_TASK02_CHUNKS),
        State::Map(process_task02_chunks(settings, function)),
    );
    states.insert(
        name(DeleteTask02Chunks::STATE_NAME),
        State::Task(delete_task02_chunks(function)),
    );
    states.insert(
        name(TASK02_MIGRATED),
        State::Succeed(SucceedState::default()),
    );
    states.insert(
        name(TASK02_REJECTED),
        fail(
            "Task02.Rejected",
            "A handler refused its input or its chunk (invalid input, chunk not found or chunk format mismatch); retrying or redriving cannot help. The failed state's error is in the execution history.",
        ),
    );
    states.insert(
        name(TASK02_CHUNKS_LEFT_BEHIND),
        fail(
            "Task02.ChunksLeftBehind",
            "Every chunk was migrated, but the handler refused to delete the execution's chunk store folder; the chunk store's lifecycle rule expires it. The failed state's error is in the execution history.",
        ),
    );
    StateMachine {
        comment: Some(
            "cm-etl phase 2: split Task 02's (visit_date, ssn) keys into chunks, then migrate each chunk. Generated by `cm-etl synth` from pipeline/; do not edit."
                .into(),
        ),
        version: Some("1.0".into()),
        query_language: None,
        start_at: name(GetTask02Chunks::STATE_NAME),
        timeout_seconds: None,
        states,
    }
}

/// Splits the keys of `date_range` into chunks under the budget of `deploy.toml [chunking]` and
/// stores them in this execution's folder (named after its name and ARN, so no other execution
/// shares it, and a retry or redrive of this one finds it); keeps only their ids, counts and
/// where they are at `$.task02_chunks`.
fn get_task02_chunks(budget: ChunkBudget, function: &str) -> TaskState {
    let state = StateInput::<PipelineInput>::new();
    let input = selector!(GetTask02ChunksInput {
        execution: state.context(context::ExecutionName),
        execution_arn: state.context(context::ExecutionId),
        date_range: state.input(path!(PipelineInput.date_range)),
        budget: Value::literal(&budget),
    });
    let mut task = lambda_task::invoke::<GetTask02Chunks, _>(
        function,
        input,
        Transition::Next(name(PROCESS_TASK02_CHUNKS)),
    );
    task.result_selector = Some(lambda_task::unwrap_payload::<
        <GetTask02Chunks as Handler>::Output,
    >());
    task.result_path =
        lambda_task::result_at::<GetTask02Chunks, _>(path!(Task02State.task02_chunks));
    task.catch = vec![Catcher::new(refused(), name(TASK02_REJECTED))];
    task
}

/// Runs ProcessTask02Chunk on every chunk id, each as a child execution with its own history, at
/// most `max_concurrency` at once. The ItemReader reads the ids from the object GetTask02Chunks
/// wrote; each child gets its chunk id (the item) and where to find the chunk (from the Map's
/// input). The children's results go to the execution's chunk store folder (ResultWriter), and the
/// Map's own output is dropped (`ResultPath: null`), so the state stays the same size however
/// many chunks.
fn process_task02_chunks(settings: &PipelineSettings, function: &str) -> MapState {
    let mut map = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.execution)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .processor(
            lambda_task::processor::<ProcessTask02Chunk>(function),
            Transition::Next(name(DeleteTask02Chunks::STATE_NAME)),
        );
    let run = &settings.map;
    if let Some(processor) = &mut map.item_processor.processor_config {
        processor.execution_type = Some(run.execution_type);
    }
    map.max_concurrency = Some(Limit::Fixed(run.max_concurrency));
    map.tolerated_failure_percentage = Some(Limit::Fixed(run.tolerated_failure_percentage));
    map.tolerated_failure_count = Some(Limit::Fixed(run.tolerated_failure_count));
    map.label = Some(run.label.clone());
    map.result_writer = Some(map_results(&settings.chunk_store));
    map.result_path = ResultPath::Discard;
    // No Catch: a failed Map Run (States.ExceedToleratedFailureThreshold, whatever the children's
    // errors were) fails the execution here, so a redrive re-runs this Map Run's children that did
    // not succeed. Caught into a Fail state, a redrive would only re-enter the Fail state.
    map
}

/// Where the Map writes its children's results: `map-results/` in this execution's chunk store
/// folder (`<prefix><execution>-<arn digest>/`, see `ChunkStoreUri::for_execution`), so they are
/// kept, and expire, with its chunks, and DeleteTask02Chunks deletes them with the folder. The
/// prefix is built from the context object (`$$.Execution.Name`, and the SHA-256 of
/// `$$.Execution.Id` by `States.Hash`), not from the Map's input: moto evaluates a ResultWriter's
/// `.$` paths against the Map's result instead, while the context means the same in every
/// interpreter.
fn map_results(chunk_store: &ChunkStoreUri) -> ResultWriter {
    let folder = format!(
        "{}{{}}-{{}}/{MAP_RESULTS_FOLDER}",
        intrinsic_string_literal(chunk_store.prefix())
    );
    ResultWriter::s3(
        PayloadTemplate::new()
            .with("Bucket", PayloadValue::Literal(chunk_store.bucket().into()))
            .with(
                "Prefix",
                PayloadValue::Intrinsic(format!(
                    "States.Format('{folder}', $$.Execution.Name, States.Hash($$.Execution.Id, 'SHA-256'))"
                )),
            ),
    )
}

/// `text` inside a single-quoted intrinsic-function string: `'`, `{`, `}` and `\\` are escaped.
fn intrinsic_string_literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\'' | '{' | '}' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// Deletes this execution's chunk store folder, now that every chunk is migrated. Its result is
/// dropped. If the handler refuses, the execution fails in Task02ChunksLeftBehind, so someone
/// hears of it; if deleting keeps failing after the retries, the execution fails here, and a
/// redrive deletes again (without migrating anything again).
fn delete_task02_chunks(function: &str) -> TaskState {
    let state = StateInput::<Task02State>::new();
    let input = selector!(DeleteChunksInput {
        execution: state.input(path!(Task02State.task02_chunks.execution)),
        execution_arn: state.context(context::ExecutionId),
        chunk_store: state.input(path!(Task02State.task02_chunks.chunk_store)),
    });
    let mut task = lambda_task::invoke::<DeleteTask02Chunks, _>(
        function,
        input,
        Transition::Next(name(TASK02_MIGRATED)),
    );
    task.result_path = ResultPath::Discard;
    task.catch = vec![Catcher::new(refused(), name(TASK02_CHUNKS_LEFT_BEHIND))];
    task
}

/// The handler errors retrying cannot fix (the handler refused its input): the only errors a
/// Catch sends to a Fail state. Anything else that outlasts the retries (a retryable handler
/// error, a Lambda or Step Functions error) is not caught, so the execution fails in the state
/// that failed, and a redrive restarts it there rather than in a Fail state that fails again.
fn refused() -> Vec<ErrorName> {
    HandlerErrorName::ALL
        .into_iter()
        .filter(|error| !error.is_retryable())
        .map(|error| ErrorName::new(error.as_str()))
        .collect()
}

fn fail(error: &str, cause: &str) -> State {
    State::Fail(FailState {
        comment: None,
        error: Some(error.into()),
        error_path: None,
        cause: Some(cause.into()),
        cause_path: None,
        ..FailState::default()
    })
}

fn name(text: &str) -> StateName {
    StateName::new(text).expect("the pipeline's state names are 1 to 80 characters")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::*;

    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:cm-etl-phase2:live";

    /// Settings like the committed deploy.toml's.
    fn config() -> PipelineSettings {
        PipelineSettings {
            function_arn: FUNCTION.into(),
            chunking: ChunkBudget {
                max_rows: 50_000,
                max_keys: 1_000,
            },
            chunk_store: ChunkStoreUri::new("s3://cm-etl-phase2-chunks/task02/").unwrap(),
            map: MapSettings {
                max_concurrency: 40,
                tolerated_failure_percentage: 0.0,
                tolerated_failure_count: 0,
                label: "chunks".into(),
                execution_type: ExecutionType::Standard,
            },
        }
    }

    fn rendered(settings: &PipelineSettings) -> Json {
        serde_json::from_str(&asl::render(&definition(settings))).unwrap()
    }

    /// Every state, the Map's processor's included, has a payload bound, and nothing else
    /// does; every bound and the histories' are within Step Functions' limits.
    #[test]
    fn every_state_has_a_payload_bound_and_the_histories_are_bounded() {
        let machine = definition(&config());
        let mut names: Vec<&str> = machine.states.keys().map(StateName::as_str).collect();
        for state in machine.states.values() {
            if let State::Map(map) = state {
                names.extend(
                    map.item_processor
                        .branch
                        .states
                        .keys()
                        .map(StateName::as_str),
                );
            }
        }
        names.sort();
        let bounds = bounds::payload_bounds();
        assert_eq!(names, bounds.keys().copied().collect::<Vec<_>>());
        assert!(
            bounds
                .values()
                .all(|bound| bound.largest() <= asl::limits::PAYLOAD_BYTES),
            "{bounds:?}"
        );
        let history = asl::bounds::history_bound(&machine).unwrap();
        assert!(history.execution_events <= asl::limits::HISTORY_EVENTS);
        assert!(history.child_execution_events.unwrap() <= asl::limits::HISTORY_EVENTS);
    }

    #[test]
    fn the_definition_passes_every_synth_time_check_without_a_warning() {
        let report = asl::validate::validate(&definition(&config()));
        assert_eq!(report, asl::validate::Report::default());
    }

    #[test]
    fn the_map_reads_the_chunk_ids_and_gives_each_child_its_chunk_id_as_the_item() {
        let machine = rendered(&config());
        let map = &machine["States"][PROCESS_TASK02_CHUNKS];
        assert_eq!(
            map["ItemReader"],
            json!({
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {
                    "Bucket.$": "$.task02_chunks.chunk_ids.bucket",
                    "Key.$": "$.task02_chunks.chunk_ids.key",
                },
            })
        );
        assert!(map.get("ItemsPath").is_none());
        assert_eq!(
            map["ItemSelector"],
            json!({
                "format_version.$": "$.task02_chunks.format_version",
                "execution.$": "$.task02_chunks.execution",
                "chunk_store.$": "$.task02_chunks.chunk_store",
                "chunk_id.$": "$$.Map.Item.Value",
            })
        );
        assert_eq!(
            map["ItemProcessor"]["ProcessorConfig"],
            json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
        );
        assert_eq!(map["ResultPath"], Json::Null);
        assert!(map.get("Iterator").is_none() && map.get("Parameters").is_none());
        let task = &map["ItemProcessor"]["States"][ProcessTask02Chunk::STATE_NAME];
        assert_eq!(
            task["Parameters"]["Payload"]["action"],
            "process_task02_chunk"
        );
        assert_eq!(task["Parameters"]["Payload"]["input.$"], "$");
        assert_eq!(task["OutputPath"], "$.Payload");
    }

    #[test]
    fn the_chunks_are_deleted_once_every_chunk_is_migrated() {
        let machine = rendered(&config());
        let map = &machine["States"][PROCESS_TASK02_CHUNKS];
        assert_eq!(map["Next"], DeleteTask02Chunks::STATE_NAME);
        let delete = &machine["States"][DeleteTask02Chunks::STATE_NAME];
        assert_eq!(
            delete["Parameters"]["Payload"],
            json!({
                "action": "delete_task02_chunks",
                "input": {
                    "execution.$": "$.task02_chunks.execution",
                    "execution_arn.$": "$$.Execution.Id",
                    "chunk_store.$": "$.task02_chunks.chunk_store",
                },
            })
        );
        assert_eq!(delete["ResultPath"], Json::Null);
        assert_eq!(delete["Next"], TASK02_MIGRATED);
        assert_eq!(
            delete["Catch"],
            json!([{"ErrorEquals": refused_names(), "Next": TASK02_CHUNKS_LEFT_BEHIND}])
        );
        // Only the success path deletes: a failed execution keeps its chunks for a redrive.
        assert_eq!(machine["States"][TASK02_REJECTED]["Type"], "Fail");
    }

    fn refused_names() -> Vec<&'static str> {
        HandlerErrorName::ALL
            .into_iter()
            .filter(|e| !e.is_retryable())
            .map(HandlerErrorName::as_str)
            .collect()
    }

    #[test]
    fn the_map_writes_its_results_into_the_executions_chunk_folder() {
        let mut config = config();
        config.chunk_store = ChunkStoreUri::new("s3://results-bucket/it's/").unwrap();
        let machine = rendered(&config);
        let writer = &machine["States"][PROCESS_TASK02_CHUNKS]["ResultWriter"];
        assert_eq!(writer["Resource"], "arn:aws:states:::s3:putObject");
        assert_eq!(
            writer["Parameters"],
            json!({
                "Bucket": "results-bucket",
                "Prefix.$": "States.Format('it\\'s/{}-{}/map-results', $$.Execution.Name, States.Hash($$.Execution.Id, 'SHA-256'))",
            })
        );
        assert_eq!(intrinsic_string_literal(r"a{b}\c"), r"a\{b\}\\c");
    }

    /// The prefix the state machine computes is the one GetTask02Chunks names the folder with,
    /// evaluated by the ASL model's own intrinsic functions.
    #[test]
    fn the_results_prefix_is_the_folder_get_task02_chunks_names() {
        use etl_lambda::contract::{ExecutionArn, ExecutionName};
        let config = config();
        let arn = "arn:aws:states:us-east-1:123456789012:execution:cm-etl-pipeline-phase2:nightly";
        let folder = config.chunk_store.for_execution(
            &ExecutionName::new("nightly").unwrap(),
            &ExecutionArn::new(arn).unwrap(),
        );
        let machine = definition(&config);
        let State::Map(map) = &machine.states[&name(PROCESS_TASK02_CHUNKS)] else {
            panic!("the Map")
        };
        let parameters = map
            .result_writer
            .as_ref()
            .unwrap()
            .parameters
            .as_ref()
            .unwrap();
        let context = || json!({"Execution": {"Name": "nightly", "Id": arn}});
        let input = json!({});
        let written =
            asl::eval::expand(parameters, &asl::eval::Sources::new(&input, &context)).unwrap();
        assert_eq!(
            written["Prefix"],
            json!(format!("{}{MAP_RESULTS_FOLDER}", folder.prefix()))
        );
        assert_eq!(written["Bucket"], json!(folder.bucket()));
    }

    #[test]
    fn the_settings_give_the_function_the_budget_and_the_map() {
        let mut config = config();
        config.chunking.max_rows = 7;
        config.map = MapSettings {
            max_concurrency: 3,
            tolerated_failure_percentage: 2.5,
            tolerated_failure_count: 4,
            label: "part-2".into(),
            execution_type: ExecutionType::Express,
        };
        let machine = rendered(&config);
        let get = &machine["States"][GetTask02Chunks::STATE_NAME];
        assert_eq!(get["Resource"], "arn:aws:states:::lambda:invoke");
        assert_eq!(get["Parameters"]["FunctionName"], FUNCTION);
        assert_eq!(
            get["Parameters"]["Payload"],
            json!({
                "action": "get_task02_chunks",
                "input": {
                    "execution.$": "$$.Execution.Name",
                    "execution_arn.$": "$$.Execution.Id",
                    "date_range.$": "$.date_range",
                    "budget": {"max_rows": 7, "max_keys": config.chunking.max_keys},
                },
            })
        );
        assert_eq!(get["ResultPath"], "$.task02_chunks");
        assert_eq!(get["ResultSelector"]["chunk_ids.$"], "$.Payload.chunk_ids");
        let map = &machine["States"][PROCESS_TASK02_CHUNKS];
        assert_eq!(map["MaxConcurrency"], 3);
        assert_eq!(map["ToleratedFailurePercentage"], 2.5);
        assert_eq!(map["ToleratedFailureCount"], 4);
        assert_eq!(map["Label"], "part-2");
        assert_eq!(
            map["ItemProcessor"]["ProcessorConfig"]["ExecutionType"],
            "EXPRESS"
        );
    }

    #[test]
    fn only_refusals_are_caught_so_a_redrive_restarts_where_the_execution_failed() {
        let machine = rendered(&config());
        // A failed Map Run fails the execution at the Map, which a redrive re-runs; caught into
        // a Fail state, a redrive would only fail again there.
        assert!(
            machine["States"][PROCESS_TASK02_CHUNKS]
                .get("Catch")
                .is_none()
        );
        assert_eq!(
            machine["States"][GetTask02Chunks::STATE_NAME]["Catch"],
            json!([{"ErrorEquals": refused_names(), "Next": TASK02_REJECTED}])
        );
        // No catcher anywhere takes a retryable error, nor States.ALL, to a Fail state.
        let rendered = machine.to_string();
        assert!(!rendered.contains("States.ALL"), "{rendered}");
        assert!(!refused_names().contains(&HandlerErrorName::Transient.as_str()));
        let fails: Vec<&String> = machine["States"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, state)| state["Type"] == "Fail")
            .map(|(name, _)| name)
            .collect();
        assert_eq!(fails, [TASK02_REJECTED, TASK02_CHUNKS_LEFT_BEHIND]);
        let retry = &machine["States"][GetTask02Chunks::STATE_NAME]["Retry"];
        assert_eq!(
            retry[0]["ErrorEquals"],
            json!([HandlerErrorName::Transient.as_str()])
        );
        assert_eq!(retry[1]["IntervalSeconds"], 2);
        assert_eq!(retry[1]["MaxAttempts"], 6);
        assert_eq!(
            retry[2]["ErrorEquals"],
            json!(["Lambda.TooManyRequestsException"])
        );
        assert_eq!(retry[2]["JitterStrategy"], "FULL");
    }
}
