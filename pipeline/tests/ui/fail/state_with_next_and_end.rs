// Must not compile: a state with both `Next` and `End`. A state has one `transition`, either
// `Transition::Next(name)` or `Transition::End`; there is no separate `end` to set as well.
use asl::{StateName, TaskState, Transition};

fn main() {
    let mut task = TaskState::new(
        "arn:aws:states:::lambda:invoke",
        Transition::Next(StateName::new("Done").unwrap()),
    );
    task.end = true;
}
