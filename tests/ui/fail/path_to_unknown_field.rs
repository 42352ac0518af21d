// Must not compile: the path names `chunks`, a field Task02Chunks does not have (the seed's
// `$.task02_chunks.chunks`), so ItemsPath would select nothing.
use cm_etl::asl::{map_over, path, selector, Scope, Transition, StateName};
use cm_etl::pipeline::{lambda, Task02State};
use etl_lambda::contract::{ProcessChunkInput, ProcessTask02Chunk};

fn main() {
    let _ = map_over(path!(Task02State.task02_chunks.chunks));
}
