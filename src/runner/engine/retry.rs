//! Retry and Catch around a Task, Map or Parallel: the retriers' delays on the virtual clock
//! (backoff, cap, reproducible FULL jitter), then the result's way to the output or the error's
//! to a catcher.

use super::*;

impl Run<'_> {
    pub(super) async fn run_with_retries(
        &self,
        frame: Frame<'_>,
        name: &str,
        retryable: Retryable<'_>,
        raw_input: Value,
        clock: &mut Duration,
    ) -> Result<(Step, Variables), StateError> {
        let Retryable {
            work,
            transition,
            input_path: input_path_,
            retriers,
            catchers,
            result_selector,
            ending,
        } = retryable;
        let effective = input_path(input_path_, &raw_input, frame.variables)?;
        let mut attempts = vec![0u32; retriers.len()];
        let mut retry_count = 0u32;
        let outcome = loop {
            let attempt = match work {
                Work::Task(t) => {
                    self.task(frame, name, t, &effective, clock, retry_count)
                        .await
                }
                Work::Map(m) => {
                    self.map(frame, name, m, &effective, clock, retry_count)
                        .await
                }
                Work::Parallel(p) => {
                    self.parallel(frame, name, p, &effective, clock, retry_count)
                        .await
                }
            };
            let error = match attempt {
                Ok(result) => break Ok(result),
                Err(error) => error,
            };
            // The first retrier whose ErrorEquals matches decides; an exhausted one stops retries.
            let Some(at) = retriers
                .iter()
                .position(|r| error.matched_by(&r.error_equals))
            else {
                break Err(error);
            };
            let retrier = &retriers[at];
            if attempts[at] >= retrier.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS) {
                break Err(error);
            }
            self.handled(name, &error, "retried");
            let delay = self.retry_delay(
                &frame.execution.name,
                name,
                retrier,
                attempts[at],
                retry_count,
            );
            if let Err(timed_out) = wait_on(clock, delay) {
                break Err(timed_out);
            }
            attempts[at] += 1;
            retry_count += 1;
            frame.history.transition();
        };
        let at = frame.at_attempt(name, *clock, retry_count);
        match outcome {
            Ok(result) => {
                self.record(name, Measured::Result, &result)?;
                let selected = match result_selector {
                    Some(selector) => self.expand(selector, &result, at)?,
                    None => result,
                };
                let view = StatesView {
                    result: Some(&selected),
                    ..StatesView::of_input(&raw_input)
                };
                let (output, assigned) =
                    self.conclude(frame, at, ending, view, raw_input.clone())?;
                Ok((next(transition, output)?, assigned))
            }
            Err(error) => {
                let catcher = catchers.iter().find(|c| error.matched_by(&c.error_equals));
                let Some(catcher) = catcher else {
                    return Err(error);
                };
                self.handled(name, &error, "caught");
                let error_output = json!(error);
                let view = StatesView {
                    error_output: Some(&error_output),
                    ..StatesView::of_input(&raw_input)
                };
                let ending = Ending {
                    result_path: Some(&catcher.result_path),
                    output_path: None,
                    output: catcher.output.as_ref(),
                    assign: catcher.assign.as_ref(),
                };
                // A catcher's result is the error output, placed by its ResultPath (JSONPath).
                let view_with_result = StatesView {
                    result: Some(&error_output),
                    ..view
                };
                let view = match frame.language {
                    QueryLanguage::JsonPath => view_with_result,
                    QueryLanguage::Jsonata => view,
                };
                let (output, assigned) =
                    self.conclude(frame, at, ending, view, raw_input.clone())?;
                Ok((Step::Next(catcher.next.to_string(), output), assigned))
            }
        }
    }

    /// IntervalSeconds x BackoffRate^attempt, capped by MaxDelaySeconds, FULL jitter drawn from a
    /// generator seeded per execution, state and retry, so a run is reproducible (and the child
    /// executions of a Distributed Map, throttled together, do not retry together).
    ///
    /// Without MaxDelaySeconds the backoff grows without bound (2^100 seconds and more): the
    /// delay saturates just past [`MAX_EXECUTION_TIME`], since any longer wait ends the execution
    /// the same way.
    pub(super) fn retry_delay(
        &self,
        execution: &str,
        state: &str,
        retrier: &Retrier,
        attempt: u32,
        retry_count: u32,
    ) -> Duration {
        let interval = retrier.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS);
        let backoff = retrier.backoff_rate.unwrap_or(DEFAULT_BACKOFF_RATE);
        let longest = MAX_EXECUTION_TIME.as_secs_f64() + 1.0;
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let mut seconds = f64::from(interval) * backoff.powi(exponent);
        if seconds.is_nan() {
            // 0 x infinity: an interval of 0 waits 0 however large the backoff.
            seconds = 0.0;
        }
        seconds = seconds.clamp(0.0, longest);
        if let Some(max) = retrier.max_delay_seconds {
            seconds = seconds.min(max as f64);
        }
        if retrier.jitter_strategy == Some(JitterStrategy::Full) {
            let seed =
                self.engine.seed ^ u64::from(retry_count).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            seconds *= unit_interval(fnv1a(seed, state.bytes().chain(execution.bytes())));
        }
        Duration::from_secs_f64(seconds)
    }
}

/// The work of a state that can Retry and Catch.
#[derive(Clone, Copy)]
pub(super) enum Work<'d> {
    Task(&'d TaskState),
    Map(&'d MapState),
    Parallel(&'d ParallelState),
}

/// A state that can Retry and Catch, with what it does with its result.
pub(super) struct Retryable<'d> {
    work: Work<'d>,
    transition: &'d Transition,
    input_path: Option<&'d DataPath>,
    retriers: &'d [Retrier],
    catchers: &'d [Catcher],
    result_selector: Option<&'d PayloadTemplate>,
    ending: Ending<'d>,
}

impl<'d> Retryable<'d> {
    /// A Task, Map or Parallel state (the others cannot retry).
    pub(super) fn of(state: &'d State) -> Option<Self> {
        // The three definitions name these fields alike.
        macro_rules! retryable {
            ($def:expr, $work:expr) => {
                Self {
                    work: $work,
                    transition: &$def.transition,
                    input_path: $def.input_path.as_ref(),
                    retriers: &$def.retry,
                    catchers: &$def.catch,
                    result_selector: $def.result_selector.as_ref(),
                    ending: Ending {
                        result_path: Some(&$def.result_path),
                        output_path: $def.output_path.as_ref(),
                        output: $def.output.as_ref(),
                        assign: $def.assign.as_ref(),
                    },
                }
            };
        }
        Some(match state {
            State::Task(t) => retryable!(t, Work::Task(t)),
            State::Map(m) => retryable!(m, Work::Map(m)),
            State::Parallel(p) => retryable!(p, Work::Parallel(p)),
            _ => return None,
        })
    }
}

/// AWS's Retry defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0.
pub(super) const DEFAULT_INTERVAL_SECONDS: u32 = 1;

pub(super) const DEFAULT_MAX_ATTEMPTS: u32 = 3;

pub(super) const DEFAULT_BACKOFF_RATE: f64 = 2.0;

/// splitmix64 mapped to [0, 1).
pub(super) fn unit_interval(seed: u64) -> f64 {
    (splitmix64(seed) >> 11) as f64 / (1u64 << 53) as f64
}
