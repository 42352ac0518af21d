// Compiles: a batching Distributed Map — after `.item_batcher(..)` each child execution takes an
// ItemBatch of what the ItemSelector builds (ProcessChunkInput) with the BatchInput built once
// from the Map's input, and the processor is typed to take exactly that.
use asl::typed::PayloadSafe;
use asl::{
    distributed_map_over, path, selector, BatchLimits, Branch, ItemBatch, Processor, Scope, State,
    StateName, States, TaskState, Transition,
};
use pipeline::Task02State;
use etl_lambda::contract::{ExecutionName, ProcessChunkInput};

/// What every chunk of a batch shares.
struct BatchContext {
    execution: ExecutionName,
}
impl PayloadSafe for BatchContext {
    const MAX_JSON_BYTES: usize = 100;
}

/// Names the batch processor in mismatch messages.
enum MigrateBatch {}

fn batch_processor() -> Processor<ItemBatch<ProcessChunkInput, BatchContext>, MigrateBatch> {
    let name = StateName::new("MigrateBatch").unwrap();
    let task = TaskState::new("arn:aws:states:::lambda:invoke", Transition::End);
    Processor::new(Branch {
        comment: None,
        start_at: name.clone(),
        states: States::from_iter([(name, State::Task(task))]),
    })
}

fn main() {
    let map = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.execution)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.item(),
            })
        })
        .item_batcher(
            BatchLimits { max_items: Some(25), max_input_bytes: None },
            |input| {
                selector!(BatchContext {
                    execution: input.input(path!(Task02State.task02_chunks.execution)),
                })
            },
        )
        .processor(batch_processor(), Transition::End);
    let batcher = serde_json::to_value(map.item_batcher.unwrap()).unwrap();
    assert_eq!(
        batcher,
        serde_json::json!({
            "MaxItemsPerBatch": 25,
            "BatchInput": {"execution.$": "$.task02_chunks.execution"},
        })
    );
}
