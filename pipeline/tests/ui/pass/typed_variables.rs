// Compiles: typed workflow variables. GetTask02Chunks' state sets `execution` and `chunk_store`
// (from its input and from the context object) and a literal; a later state builds
// DeleteChunksInput from the variables. Both render exactly the JSON AWS reads.
use asl::{
    context, path, selector, variable, Assignments, Scope, StateInput, StateResult, Transition,
    Value,
};
use etl_lambda::contract::{
    ChunkStoreUri, DeleteChunksInput, DeleteTask02Chunks, ExecutionName, Task02Chunks,
};
use pipeline::{lambda_task, Task02State};
use serde_json::json;

fn main() {
    let execution = variable!(execution: ExecutionName);
    let chunk_store = variable!(chunk_store: ChunkStoreUri);
    let attempt = variable!(attempt: u32);
    let chunks = variable!(chunks: Task02Chunks);

    // The Assign of a state whose result is Task02State.
    let result = StateResult::<Task02State>::new();
    let assign = Assignments::new()
        .set(&execution, result.context(context::ExecutionName))
        .set(&chunk_store, result.input(path!(Task02State.task02_chunks.chunk_store)))
        .set(&chunks, result.input(path!(Task02State.task02_chunks)))
        .set(&attempt, Value::literal(&1))
        .build();
    assert_eq!(
        serde_json::to_value(&assign).unwrap(),
        json!({
            "execution.$": "$$.Execution.Name",
            "chunk_store.$": "$.task02_chunks.chunk_store",
            "chunks.$": "$.task02_chunks",
            "attempt": 1,
        })
    );

    // A later state reads them, whatever its input.
    let state = StateInput::<Task02State>::new();
    let input = selector!(DeleteChunksInput {
        execution: state.variable_at(&chunks, path!(Task02Chunks.execution)),
        execution_arn: state.context(context::ExecutionId),
        chunk_store: state.variable(&chunk_store),
    });
    let task = lambda_task::invoke::<DeleteTask02Chunks, _>("arn:fn", input, Transition::End);
    assert_eq!(
        serde_json::to_value(&task).unwrap()["Parameters"]["Payload"],
        json!({
            "action": "delete_task02_chunks",
            "input": {
                "execution.$": "$chunks.execution",
                "execution_arn.$": "$$.Execution.Id",
                "chunk_store.$": "$chunk_store",
            },
        })
    );
}
