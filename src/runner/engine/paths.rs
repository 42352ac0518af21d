//! JSONPath's data flow between a state's input and output: InputPath, ResultPath, OutputPath
//! (paths may start at a variable).

use super::*;

/// InputPath: absent is `$`, `null` gives `{}`, a path that selects nothing is `States.Runtime`.
pub(super) fn input_path(
    path: Option<&DataPath>,
    raw: &Value,
    variables: &Variables,
) -> Result<Value, StateError> {
    select_or_runtime(path, raw, variables)
}

pub(super) fn output_path(
    path: Option<&DataPath>,
    output: Value,
    variables: &Variables,
) -> Result<Value, StateError> {
    match path {
        None => Ok(output),
        Some(DataPath::Reference(path)) if path.is_root() => Ok(output),
        Some(path) => select_or_runtime(Some(path), &output, variables),
    }
}

pub(super) fn select_or_runtime(
    path: Option<&DataPath>,
    value: &Value,
    variables: &Variables,
) -> Result<Value, StateError> {
    let selected = match path {
        None => Some(value.clone()),
        Some(DataPath::Null) => return Ok(json!({})),
        Some(DataPath::Reference(path)) => path.resolve(value, variables).cloned(),
        Some(DataPath::Select(path)) => path.select_in(value, variables),
    };
    selected.ok_or_else(|| {
        let path = path.expect("the root always selects");
        // AWS's wording: "Invalid path '$.Payload' : No results for path: $['Payload']" (the
        // state's name is prefixed as the error leaves it).
        let why = match path {
            DataPath::Reference(path) => path.not_found_in(value),
            _ => format!("No results for path: {path}"),
        };
        StateError::runtime(format!("Invalid path '{path}' : {why}"))
    })
}

/// ResultPath: absent or `$` replaces the input, `null` keeps the input, a deeper path merges
/// the result in.
pub(super) fn result_path(
    path: &ResultPath,
    raw_input: Value,
    result: Value,
) -> Result<Value, StateError> {
    match path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw_input),
        ResultPath::At(path) => {
            let mut output = raw_input;
            path.set(&mut output, result).map_err(|e| {
                StateError::new(
                    "States.ResultPathMatchFailure",
                    format!("Unable to apply ResultPath '{path}' to the state input: {e}"),
                )
            })?;
            Ok(output)
        }
    }
}
