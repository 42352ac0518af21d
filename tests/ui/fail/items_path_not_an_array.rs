// Must not compile: ItemsPath points at `task02_chunks` (a Task02Chunks object), not at an
// array, so the Map would have nothing to iterate over.
use cm_etl::asl::{map_over, path, selector, Scope, Transition, StateName};
use cm_etl::pipeline::{lambda, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let _ = map_over(path!(Task02State.task02_chunks));
}
