// Must not compile: `execution` is given the variable `rows`, which holds a `u64`, where the
// contract needs an `ExecutionName`. A variable's value has the variable's type wherever it is
// read, so the mismatch is reported at the field.
use asl::{selector, variable, Scope, StateInput};
use etl_lambda::contract::DeleteChunksInput;
use pipeline::Task02State;

fn main() {
    let rows = variable!(rows: u64);
    let state = StateInput::<Task02State>::new();
    let _ = selector!(DeleteChunksInput {
        execution: state.variable(&rows),
        execution_arn: state.context(asl::context::ExecutionId),
        chunk_store: state.input(asl::path!(Task02State.task02_chunks.chunk_store)),
    });
}
