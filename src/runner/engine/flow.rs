//! The states that do no work of their own: Pass, Choice, Wait and Fail (Succeed is one line in
//! `run_state`), in either query language.

use super::*;
use asl::limits::WAIT_SECONDS;

impl Run<'_> {
    /// The error a Fail state raises: Error and Cause as written (in JSONata, evaluated when
    /// they are JSONata strings), or their ErrorPath and CausePath evaluated (a path or an
    /// intrinsic function; a value that is not a string is its JSON text).
    pub(super) fn fail(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        f: &FailState,
        raw_input: &Value,
    ) -> StateError {
        let text = |value: Value| match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        let pick = |field: &str, literal: &Option<String>, expr: &Option<PayloadValue>| match (
            literal, expr,
        ) {
            (Some(literal), _) if frame.language == QueryLanguage::Jsonata => {
                let template = Value::String(literal.clone());
                self.jsonata(frame, at, field, &template, StatesView::of_input(raw_input))
                    .map(text)
            }
            (Some(literal), _) => Ok(literal.clone()),
            (None, Some(expr)) => self
                .in_scope(raw_input, at, |sources| {
                    eval::evaluate(&format!("{field}Path"), expr, sources)
                })
                .map(text),
            (None, None) => Ok(String::new()),
        };
        let error = pick("Error", &f.error, &f.error_path);
        let cause = pick("Cause", &f.cause, &f.cause_path);
        match (error, cause) {
            (Ok(error), Ok(cause)) => StateError::new(error, cause),
            (Err(failed), _) | (_, Err(failed)) => failed,
        }
    }

    pub(super) fn pass(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        p: &PassState,
        raw_input: Value,
    ) -> Result<(Step, Variables), StateError> {
        let effective = input_path(p.input_path.as_ref(), &raw_input, frame.variables)?;
        let result = match (&p.parameters, &p.result) {
            (Some(params), _) => Some(self.expand(params, &effective, at)?),
            (None, Some(result)) => Some(result.clone()),
            (None, None) if frame.language == QueryLanguage::JsonPath => Some(effective),
            (None, None) => None,
        };
        let ending = Ending {
            result_path: Some(&p.result_path),
            output_path: p.output_path.as_ref(),
            output: p.output.as_ref(),
            assign: p.assign.as_ref(),
        };
        let view = StatesView {
            result: result.as_ref(),
            ..StatesView::of_input(&raw_input)
        };
        let (output, assigned) = self.conclude(frame, at, ending, view, raw_input.clone())?;
        Ok((next(&p.transition, output)?, assigned))
    }

    /// A Choice: the first rule whose condition holds, else Default. In JSONata a rule may set
    /// its own Output and Assign; the state's apply when Default is taken.
    pub(super) fn choice(
        &self,
        frame: Frame<'_>,
        at: At<'_>,
        c: &ChoiceState,
        raw_input: Value,
    ) -> Result<(Step, Variables), StateError> {
        let effective = input_path(c.input_path.as_ref(), &raw_input, frame.variables)?;
        let view = StatesView::of_input(&raw_input);
        let mut taken = None;
        for rule in &c.choices {
            let holds = match &rule.condition {
                Condition::Jsonata(condition) => {
                    match self.jsonata_setting(frame, at, "Condition", condition, &raw_input)? {
                        Value::Bool(holds) => holds,
                        other => {
                            return Err(query_failed(
                                frame,
                                at.state,
                                eval::jsonata::QueryError::unexpected_type(
                                    condition.expression(),
                                    "Condition",
                                    "boolean",
                                    &other,
                                ),
                            ));
                        }
                    }
                }
                condition => condition.holds(&effective, frame.variables)?,
            };
            if holds {
                taken = Some(rule);
                break;
            }
        }
        let (target, output, assign) = match (taken, &c.default) {
            (Some(rule), _) => (&rule.next, rule.output.as_ref(), rule.assign.as_ref()),
            (None, Some(default)) => (default, c.output.as_ref(), c.assign.as_ref()),
            (None, None) => {
                return Err(StateError::in_state(
                    "States.NoChoiceMatched",
                    at.state,
                    frame.entered_event,
                    "Failed to transition out of the state. The state does not point to a next state.",
                ));
            }
        };
        let ending = Ending {
            result_path: None,
            output_path: c.output_path.as_ref(),
            output,
            assign,
        };
        let (output, assigned) = self.conclude(frame, at, ending, view, effective)?;
        Ok((Step::Next(target.to_string(), output), assigned))
    }

    /// A Wait: Seconds, SecondsPath (a non-negative integer), Timestamp or TimestampPath (see
    /// [`wait_timestamp`]) advance the virtual clock; a delay past [`WAIT_SECONDS`] is
    /// `States.Runtime`, as in AWS. In JSONata, Seconds and Timestamp may be JSONata strings.
    pub(super) fn wait(
        &self,
        frame: Frame<'_>,
        name: &str,
        w: &WaitState,
        raw_input: Value,
        clock: &mut Duration,
    ) -> Result<(Step, Variables), StateError> {
        let effective = input_path(w.input_path.as_ref(), &raw_input, frame.variables)?;
        let at = frame.at(name, *clock);
        let entered_event = frame.entered_event;
        let fails = |cause: String| StateError::runtime_in(name, entered_event, cause);
        let shown = |value: &Value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let now = self.instant(*clock);
        let until = |field: &str, shown_as: &str, timestamp: &str| {
            let at = wait_timestamp(timestamp).ok_or_else(|| {
                fails(format!(
                    "The {field} parameter does not reference a valid ISO-8601 extended offset date-time format string: {shown_as} == {timestamp}"
                ))
            })?;
            Ok::<_, StateError>((at.with_timezone(&Utc) - now).num_seconds().max(0))
        };
        let seconds = match &w.wait_for {
            WaitFor::Seconds(Evaluated::Fixed(seconds)) => i64::from(*seconds),
            WaitFor::Seconds(Evaluated::Expression(expression)) => {
                let value = self.jsonata_setting(frame, at, "Seconds", expression, &raw_input)?;
                match value.as_i64() {
                    Some(seconds) if seconds >= 0 => seconds,
                    _ => {
                        return Err(query_error(
                            frame,
                            name,
                            format!(
                                "The Seconds field must be a non-negative integer, but was: {value}"
                            ),
                        ));
                    }
                }
            }
            WaitFor::Timestamp(timestamp) if frame.language == QueryLanguage::Jsonata => {
                let template = Value::String(timestamp.clone());
                let value = self.jsonata(
                    frame,
                    at,
                    "Timestamp",
                    &template,
                    StatesView::of_input(&raw_input),
                )?;
                let text = shown(&value);
                let at = wait_timestamp(&text).ok_or_else(|| {
                    query_error(
                        frame,
                        name,
                        format!(
                            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                        ),
                    )
                })?;
                (at.with_timezone(&Utc) - now).num_seconds().max(0)
            }
            WaitFor::SecondsPath(path) => {
                let value = path
                    .resolve(&effective, frame.variables)
                    .cloned()
                    .ok_or_else(|| {
                        fails(format!(
                            "The SecondsPath parameter does not reference an input value: {path}"
                        ))
                    })?;
                match value.as_i64() {
                    Some(seconds) if seconds >= 0 => seconds,
                    Some(_) => {
                        return Err(fails(format!(
                            "The SecondsPath parameter references a negative value: {path} == {}",
                            shown(&value)
                        )));
                    }
                    None => {
                        return Err(fails(format!(
                            "The SecondsPath parameter cannot be parsed as a long value: {path} == {}",
                            shown(&value)
                        )));
                    }
                }
            }
            WaitFor::Timestamp(timestamp) => until("Timestamp", timestamp, timestamp)?,
            WaitFor::TimestampPath(path) => {
                let value = path.resolve(&effective, frame.variables).ok_or_else(|| {
                    fails(format!(
                        "The TimestampPath parameter does not reference an input value: {path}"
                    ))
                })?;
                until("TimestampPath", &path.to_string(), &shown(value))?
            }
        };
        if seconds > WAIT_SECONDS {
            return Err(fails("Wait state delay is too long.".into()));
        }
        wait_on(clock, Duration::from_secs(seconds.unsigned_abs()))?;
        let ending = Ending {
            result_path: None,
            output_path: w.output_path.as_ref(),
            output: w.output.as_ref(),
            assign: w.assign.as_ref(),
        };
        let view = StatesView::of_input(&raw_input);
        let (output, assigned) =
            self.conclude(frame, frame.at(name, *clock), ending, view, effective)?;
        Ok((next(&w.transition, output)?, assigned))
    }
}

/// A Wait's timestamp as AWS reads it: RFC 3339 with an uppercase `T` between date and time and
/// an uppercase `Z` or a numeric offset (`2016-03-14T01:59:00Z`, `...:00.5+01:00`); fractions of
/// a second of any length. No zone at all, a lowercase `t`/`z` or a space is refused.
pub(super) fn wait_timestamp(text: &str) -> Option<DateTime<chrono::FixedOffset>> {
    let bytes = text.as_bytes();
    let numeric_offset = |offset: &[u8]| {
        matches!(offset, [b'+' | b'-', h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()))
    };
    let zoned = text.ends_with('Z') || bytes.len() > 6 && numeric_offset(&bytes[bytes.len() - 6..]);
    if bytes.get(10) != Some(&b'T') || !zoned {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}
