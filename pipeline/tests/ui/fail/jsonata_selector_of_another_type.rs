// Must not compile: the JSONata rendering is built from the same typed Map as the JSONPath one,
// so an ItemSelector field given a value of another type (the Map's execution name where the
// chunk id, the item, is needed) is refused before any JSONata is written: the expression
// `{% $states.input.task02_chunks.execution %}` never reaches the definition.
use asl::{distributed_map_over, path, selector, Scope, State, StateMachine, StateName, States, Transition};
use pipeline::{lambda_task, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let map = distributed_map_over(path!(Task02State.task02_chunks.chunk_ids))
        .item_selector(|chunk| {
            selector!(ProcessChunkInput {
                format_version: chunk.input(path!(Task02State.task02_chunks.format_version)),
                execution: chunk.input(path!(Task02State.task02_chunks.execution)),
                chunk_store: chunk.input(path!(Task02State.task02_chunks.chunk_store)),
                chunk_id: chunk.input(path!(Task02State.task02_chunks.execution)),
            })
        })
        .processor(lambda_task::processor::<ProcessTask02Chunk>("arn:fn"), Transition::End);
    let name = StateName::new("Map").unwrap();
    let mut states = States::new();
    states.insert(name.clone(), State::Map(map));
    let machine = StateMachine {
        comment: None,
        query_language: None,
        version: None,
        start_at: name,
        timeout_seconds: None,
        states,
    };
    let _jsonata = asl::to_jsonata(&machine);
}
