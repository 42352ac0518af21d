// Must not compile: an SSN is placed in a state payload. Payloads are visible in the execution
// history and logs; an `Ssn` is not `PayloadSafe`, so no payload value of that type can be built.
use asl::{selector, StateInput, Value};
use schemars::JsonSchema;
use serde::Serialize;

/// A sensitive value, as the lambda crate models one: no `PayloadSafe`.
#[derive(Serialize, JsonSchema)]
struct Ssn(String);

/// A payload that would carry one.
#[derive(Serialize, JsonSchema)]
struct LookupInput {
    ssn: Ssn,
}

fn main() {
    let _scope = StateInput::<LookupInput>::new();
    let _selector: asl::Selector<StateInput<LookupInput>, LookupInput> = selector!(LookupInput {
        ssn: Value::literal(&Ssn("123-45-6789".into())),
    });
}
