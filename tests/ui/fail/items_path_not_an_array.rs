// Must not compile: ItemsPath points at `task02_chunks` (a Task02Chunks object), not at an
// array, so the Map would have nothing to iterate over.
use cm_etl::asl::{map_over, path};
use cm_etl::pipeline::Task02State;

fn main() {
    let _ = map_over(path!(Task02State.task02_chunks));
}
