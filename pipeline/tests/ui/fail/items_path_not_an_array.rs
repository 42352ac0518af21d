// Must not compile: an inline Map over `chunk_ids`, which is an S3Items handle naming the S3
// object that holds the ids, not an array in the state; ItemsPath would select an object and the
// Map would fail at run time. Items stored in S3 are read by `distributed_map_over`.
use asl::{map_over, path};
use pipeline::Task02State;

fn main() {
    let _ = map_over(path!(Task02State.task02_chunks.chunk_ids));
}
