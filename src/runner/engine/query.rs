//! What a state's expressions read besides its input, and how a state ends in either query
//! language: workflow variables (`Assign`, read as `$name`), JSONata's `$states`, JSONata
//! templates (`Arguments`, `Output`, `Items`, `{% %}` settings) and the output and variables a
//! state ends with. A JSONata expression that fails is `States.QueryEvaluationError`, worded as
//! AWS words it.

use asl::eval::jsonata::{self, Bindings, QueryError};

use super::*;

/// What `$states` holds for one evaluation, besides the context object: the state's input and,
/// once there is one, its result or the error a catcher handles.
#[derive(Clone, Copy)]
pub(super) struct StatesView<'v> {
    pub input: &'v Value,
    pub result: Option<&'v Value>,
    pub error_output: Option<&'v Value>,
}

impl<'v> StatesView<'v> {
    pub fn of_input(input: &'v Value) -> Self {
        Self {
            input,
            result: None,
            error_output: None,
        }
    }
}

/// How a state that did not fail ends, by its fields (those of the other language are absent).
pub(super) struct Ending<'d> {
    pub result_path: Option<&'d ResultPath>,
    pub output_path: Option<&'d DataPath>,
    pub output: Option<&'d Value>,
    pub assign: Option<&'d Assign>,
}

impl Run<'_> {
    /// The `$states` object of an evaluation at `at`.
    fn states_object(&self, at: At<'_>, view: StatesView<'_>) -> Value {
        let mut states = serde_json::Map::new();
        states.insert("input".into(), view.input.clone());
        states.insert("context".into(), self.context(at));
        if let Some(result) = view.result {
            states.insert("result".into(), result.clone());
        }
        if let Some(error) = view.error_output {
            states.insert("errorOutput".into(), error.clone());
        }
        Value::Object(states)
    }

    /// A JSONata template (a JSON value whose `{% %}` strings are evaluated) of the state at
    /// `at`; `field` names it in errors (`Output`, `Arguments/FunctionName`).
    pub(super) fn jsonata(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        field: &str,
        template: &Value,
        view: StatesView<'_>,
    ) -> Result<Value, StateError> {
        let states = self.states_object(at, view);
        let draw = || self.draw();
        let bindings = Bindings {
            states: &states,
            variables: at.variables,
            draw: &draw,
        };
        jsonata::evaluate_template(template, field, &bindings)
            .map_err(|error| query_failed(frame, at.state, error))
    }

    /// What a state's work receives, when it says: its `Parameters` expanded (JSONPath) or its
    /// `Arguments` evaluated (JSONata); `field` names the Arguments in errors.
    pub(super) fn request(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        field: &str,
        (parameters, arguments): (Option<&PayloadTemplate>, Option<&Value>),
        effective: &Value,
    ) -> Result<Option<Value>, StateError> {
        match (parameters, arguments) {
            (Some(parameters), _) => self.expand(parameters, effective, at).map(Some),
            (None, Some(arguments)) => self
                .jsonata(frame, at, field, arguments, StatesView::of_input(effective))
                .map(Some),
            (None, None) => Ok(None),
        }
    }

    /// A setting written as a JSONata string (`"MaxConcurrency": "{% ... %}"`), evaluated on
    /// the state's input.
    pub(super) fn jsonata_setting(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        field: &str,
        expression: &JsonataString,
        input: &Value,
    ) -> Result<Value, StateError> {
        let template = Value::String(expression.as_str().to_owned());
        self.jsonata(frame, at, field, &template, StatesView::of_input(input))
    }

    /// The variables `assign` sets. In JSONPath, `.$` values read `$` (the state's result, the
    /// error a catcher handles, else its input) and `$states`; in JSONata, expressions read
    /// `$states`. Both read the variables as they were when the state started.
    pub(super) fn assigned(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        assign: Option<&Assign>,
        view: StatesView<'_>,
    ) -> Result<Variables, StateError> {
        let Some(assign) = assign else {
            return Ok(Variables::new());
        };
        let values = match frame.language {
            QueryLanguage::Jsonata => {
                self.jsonata(frame, at, "Assign", &assign.to_object(), view)?
            }
            QueryLanguage::JsonPath => {
                let template: PayloadTemplate = serde_json::from_value(assign.to_object())
                    .map_err(|err| {
                        StateError::runtime_in(
                            at.state,
                            frame.entered_event,
                            format!("The Assign field is not a valid payload template: {err}"),
                        )
                    })?;
                let mut variables = at.variables.clone();
                variables.insert("states".into(), self.states_object(at, view));
                let dollar = view.result.or(view.error_output).unwrap_or(view.input);
                self.expand(
                    &template,
                    dollar,
                    At {
                        variables: &variables,
                        ..at
                    },
                )?
            }
        };
        match values {
            Value::Object(values) => Ok(values),
            _ => unreachable!("an Assign object evaluates to an object"),
        }
    }

    /// The output and the variables of a state that did not fail (or whose error a catcher
    /// handles). JSONPath: the result placed in `base` by ResultPath (`base` alone when there
    /// is no result), then OutputPath. JSONata: `Output` evaluated, else the result (or the
    /// error output), else the input.
    pub(super) fn conclude(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        ending: Ending<'_>,
        view: StatesView<'_>,
        base: Value,
    ) -> Result<(Value, Variables), StateError> {
        let assigned = self.assigned(frame, at, ending.assign, view)?;
        let output = match frame.language {
            QueryLanguage::Jsonata => match ending.output {
                Some(output) => self.jsonata(frame, at, "Output", output, view)?,
                None => view
                    .result
                    .or(view.error_output)
                    .unwrap_or(view.input)
                    .clone(),
            },
            QueryLanguage::JsonPath => {
                let placed = match (view.result, ending.result_path) {
                    (Some(result), Some(path)) => result_path(path, base, result.clone())?,
                    (Some(result), None) => result.clone(),
                    (None, _) => base,
                };
                output_path(ending.output_path, placed, at.variables)?
            }
        };
        Ok((output, assigned))
    }
}

/// AWS's `States.QueryEvaluationError` for an expression of `state`.
pub(super) fn query_failed(frame: Frame<'_>, state: &str, error: QueryError) -> StateError {
    query_error(frame, state, error.to_string())
}

/// `States.QueryEvaluationError` with AWS's prefix naming the state and the event that entered it.
pub(super) fn query_error(frame: Frame<'_>, state: &str, cause: String) -> StateError {
    StateError::in_state(
        "States.QueryEvaluationError",
        state,
        frame.entered_event,
        cause,
    )
}
