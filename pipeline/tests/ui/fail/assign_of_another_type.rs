// Must not compile: the variable `rows` holds a `u64`, and the Assign sets it to the execution's
// name, a string. A later state reading `$rows` as a count would get a name, so `set` takes
// only a value of the variable's own type.
use asl::{context, variable, Assignments, Scope, StateInput};
use pipeline::Task02State;

fn main() {
    let rows = variable!(rows: u64);
    let state = StateInput::<Task02State>::new();
    let name: asl::Value<_, asl::BoundedString<80>> = state.context(context::ExecutionName);
    let _ = Assignments::new().set(&rows, name).build();
}
