// Must not compile: the path names `chunks`, a field Task02Chunks does not have (the design note's
// `$.task02_chunks.chunks`), so the ItemReader would read the bucket and key of nothing.
use asl::{distributed_map_over, path};
use pipeline::Task02State;

fn main() {
    let _ = distributed_map_over(path!(Task02State.task02_chunks.chunks));
}
