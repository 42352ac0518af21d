// Must not compile: the path names `chunks`, a field Task02Chunks does not have (the seed's
// `$.task02_chunks.chunks`), so ItemsPath would select nothing.
use cm_etl::asl::{map_over, path};
use cm_etl::pipeline::Task02State;

fn main() {
    let _ = map_over(path!(Task02State.task02_chunks.chunks));
}
