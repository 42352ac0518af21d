// Must not compile: AWS reserves `$states` (JSONata's view of the state), so a definition that
// assigns a variable `states` is refused at deploy. `variable!` checks the name when the pipeline
// compiles, not when the definition reaches AWS.
use asl::variable;

fn main() {
    let _ = variable!(states: u64);
}
