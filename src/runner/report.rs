//! What `run` shows: a progress bar while the Map runs (chunks done/total, rows/s) and, at the
//! end, the status, output, row counts, the largest payload per state against the 256 KiB limit
//! and each Distributed Map's Map Run, as text for people or as one JSON object for scripts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use asl::limits::PAYLOAD_BYTES;
use etl_lambda::{RequestCounts, WarehouseCounts};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use crate::cost::{Cost, Prices, Usage};
use crate::output::OutputFormat;
use crate::synth::Bounds;

use super::engine::{ExecutionOutcome, ExecutionSpec, ExecutionStatus, HandledError, Observer};
use super::map_run::MapRunSummary;

/// The terminal progress bar; hidden when stderr is not a terminal or the output is JSON.
pub struct RunProgress {
    bar: ProgressBar,
}

impl RunProgress {
    pub fn new(format: OutputFormat) -> Self {
        let bar = ProgressBar::new_spinner();
        if format == OutputFormat::Json {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self { bar }
    }

    pub fn phase(&self, what: &str) {
        self.bar.set_message(what.to_owned());
        self.bar.tick();
    }

    pub fn observer(&self) -> ProgressObserver {
        ProgressObserver {
            bar: self.bar.clone(),
            rows: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Moves the bar as Map iterations finish; counts rows from each iteration's chunk summary.
pub struct ProgressObserver {
    bar: ProgressBar,
    rows: Arc<AtomicU64>,
    started: Instant,
}

impl Observer for ProgressObserver {
    fn map_started(&self, state: &str, items: usize) {
        self.bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:40}] {pos}/{len} chunks {msg} ({elapsed})",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        self.bar.set_prefix(state.to_owned());
        self.bar.set_length(items as u64);
        self.bar.set_position(0);
    }

    fn iteration_finished(&self, _state: &str, items: u64, output: Option<&Value>) {
        let rows = output.map_or(0, rows_in);
        let total = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let per_second = total as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!("{per_second:.0} rows/s"));
        self.bar.inc(items);
    }
}

/// Rows an iteration's output accounts for: the chunk summary's migrated + rejected, wherever the
/// processor left it in its output.
fn rows_in(output: &Value) -> u64 {
    let direct = |v: &Value| {
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        n("rows_migrated").map(|m| m + n("rows_rejected").unwrap_or(0))
    };
    direct(output)
        .or_else(|| output.as_object()?.values().find_map(direct))
        .unwrap_or(0)
}

/// The final report.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub execution: String,
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The state the execution failed in: where a redrive would restart it.
    pub failed_state: Option<String>,
    /// Row counts of the warehouse after the run (`null` when it could not be counted).
    pub source_rows: Option<u64>,
    pub migrated_rows: Option<u64>,
    pub rejected_rows: Option<u64>,
    /// The largest input or output of each state, in bytes.
    pub largest_payload_bytes: BTreeMap<String, usize>,
    /// The largest raw result (Lambda envelope, Map result array) of each state, in bytes.
    pub largest_result_bytes: BTreeMap<String, usize>,
    pub payload_limit_bytes: usize,
    pub history_events: u64,
    /// Errors a Retry or Catch handled (the first few), as the execution history would show.
    pub handled_errors: Vec<HandledError>,
    pub task_attempts: u64,
    pub invocations: u64,
    pub execution_environments: usize,
    pub virtual_elapsed_seconds: f64,
    pub wall_seconds: f64,
    /// Each Distributed Map's Map Run: its items, how they ended, its largest child history.
    pub map_runs: Vec<MapRunSummary>,
    /// What the execution used of what AWS bills, and what that would cost.
    pub usage: Usage,
    pub cost: Cost,
}

impl RunReport {
    pub fn new(
        spec: &ExecutionSpec,
        outcome: ExecutionOutcome,
        counts: Option<WarehouseCounts>,
        wall: Duration,
    ) -> Self {
        let (express, standard): (Vec<&MapRunSummary>, Vec<&MapRunSummary>) = outcome
            .map_runs
            .iter()
            .partition(|run| run.express_children);
        let usage = Usage {
            standard_transitions: outcome.state_transitions
                + standard
                    .iter()
                    .map(|run| run.child_state_transitions)
                    .sum::<u64>(),
            express_requests: express.iter().map(|run| run.children_run).sum(),
            express_billed_ms: express.iter().map(|run| run.child_billed_ms).sum(),
            lambda_requests: outcome.invocations,
            lambda_billed_ms: outcome.lambda_billed_ms,
            ..Usage::default()
        };
        Self {
            execution: spec.name.clone(),
            status: outcome.status,
            failed_state: outcome.failed_state().map(str::to_owned),
            output: outcome.output,
            error: outcome.error.as_ref().map(|e| e.error.clone()),
            cause: outcome.error.map(|e| e.cause),
            source_rows: counts.map(|c| c.source_rows),
            migrated_rows: counts.map(|c| c.migrated_rows),
            rejected_rows: counts.map(|c| c.rejected_rows),
            largest_payload_bytes: outcome.largest_payload_bytes,
            largest_result_bytes: outcome.largest_result_bytes,
            payload_limit_bytes: PAYLOAD_BYTES,
            history_events: outcome.history_events,
            handled_errors: outcome.handled_errors,
            task_attempts: outcome.task_attempts,
            invocations: outcome.invocations,
            execution_environments: outcome.environments,
            virtual_elapsed_seconds: outcome.virtual_elapsed.as_secs_f64(),
            wall_seconds: wall.as_secs_f64(),
            usage,
            cost: Cost::default(),
            map_runs: outcome.map_runs,
        }
    }

    /// The usage completed with what only the caller knows (the function's settings, the S3
    /// requests), priced at `prices`.
    pub fn priced(
        mut self,
        function: &crate::config::FunctionConfig,
        s3: RequestCounts,
        prices: &Prices,
    ) -> Self {
        self.usage = Usage {
            s3_put_copy_post_list: s3.put_copy_post_list,
            s3_get: s3.get,
            ..self.usage
        }
        .with_function(function.memory_mb.get(), function.architecture);
        self.cost = self.usage.cost(prices);
        self
    }

    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
    }

    /// Every figure of this run over what synth proved of the pipeline ([`Bounds`]): a payload,
    /// a raw result, the execution's history or a child's. Empty when the proof holds.
    pub fn beyond(&self, bounds: &Bounds) -> Vec<String> {
        let mut beyond = Vec::new();
        let mut check = |what: String, measured: u64, bound: u64| {
            if measured > bound {
                beyond.push(format!("{what}: {measured}, bound {bound}"));
            }
        };
        let histories = &bounds.history_events;
        check(
            "the execution's history events".into(),
            self.history_events,
            histories.execution_events,
        );
        for run in &self.map_runs {
            check(
                format!("{}'s largest child history events", run.state),
                run.largest_child_history_events,
                histories.child_execution_events.unwrap_or(0),
            );
        }
        let payloads = self.largest_payload_bytes.iter().map(|(state, bytes)| {
            let bound = bounds.payload_bytes.get(state.as_str());
            (
                format!("{state}'s payload bytes"),
                *bytes,
                bound.map(|b| b.input.max(b.output)),
            )
        });
        let results = self.largest_result_bytes.iter().map(|(state, bytes)| {
            let bound = bounds.payload_bytes.get(state.as_str());
            (
                format!("{state}'s raw result bytes"),
                *bytes,
                bound.and_then(|b| b.result),
            )
        });
        for (what, measured, bound) in payloads.chain(results) {
            // A state the proof does not know has the bound 0: it is not the proven pipeline's.
            check(what, measured as u64, bound.unwrap_or(0) as u64);
        }
        beyond
    }

    /// Prints to stdout (see [`crate::output::to_stdout`]).
    pub fn print(&self, format: OutputFormat) -> anyhow::Result<()> {
        let text = match format {
            OutputFormat::Json => serde_json::to_string_pretty(self)? + "\n",
            OutputFormat::Text => self.text(),
        };
        crate::output::to_stdout(&text)
    }

    /// The human-readable summary.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let status = serde_json::to_value(self.status).expect("status serializes");
        let _ = writeln!(
            out,
            "execution {} {} in {:.1} s (virtual {:.1} s); {} history events, {} invocations in {} execution environments",
            self.execution,
            status.as_str().unwrap_or_default(),
            self.wall_seconds,
            self.virtual_elapsed_seconds,
            self.history_events,
            self.invocations,
            self.execution_environments,
        );
        match (self.source_rows, self.migrated_rows, self.rejected_rows) {
            (Some(source), Some(migrated), Some(rejected)) => {
                let accounted = migrated + rejected;
                let _ = writeln!(
                    out,
                    "rows: {source} source, {migrated} migrated, {rejected} rejected{}",
                    if accounted == source {
                        " (every source row accounted for)".to_owned()
                    } else {
                        format!(
                            " ({} source rows NOT accounted for)",
                            source.abs_diff(accounted)
                        )
                    }
                );
            }
            _ => out.push_str("rows: the warehouse could not be counted\n"),
        }
        let _ = writeln!(
            out,
            "largest payload per state: input/output, and raw result (limit {} bytes each):",
            self.payload_limit_bytes
        );
        let width = self
            .largest_payload_bytes
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0);
        let percent = |bytes: usize| bytes as f64 * 100.0 / self.payload_limit_bytes as f64;
        for (state, bytes) in &self.largest_payload_bytes {
            let _ = write!(
                out,
                "  {state:<width$}  {bytes:>9} B {:>6.2}%",
                percent(*bytes)
            );
            match self.largest_result_bytes.get(state) {
                Some(result) => {
                    let _ = writeln!(out, "   result {result:>9} B {:>6.2}%", percent(*result));
                }
                None => out.push('\n'),
            }
        }
        for run in &self.map_runs {
            let _ = writeln!(
                out,
                "map run {}: {} items, {} succeeded, {} failed; largest child history {} events",
                run.state,
                run.items_total,
                run.succeeded,
                run.failed,
                run.largest_child_history_events
            );
            let _ = writeln!(
                out,
                "  {}; {} results written",
                run.map_run_arn, run.results_written
            );
            if let Some(failure) = &run.first_failure {
                let _ = writeln!(
                    out,
                    "  {} items failed; the first failed child: {}: {}",
                    run.failed, failure.error, failure.cause
                );
            }
        }
        let (usage, cost) = (&self.usage, &self.cost);
        let _ = writeln!(
            out,
            "on AWS this execution would cost ${:.6}: Step Functions ${:.6} ({} state transitions, {} Express requests), Lambda ${:.6} ({} requests, {:.1} GB-s), S3 ${:.6} ({} PUT/LIST/POST, {} GET requests)",
            cost.total_usd,
            cost.step_functions_usd,
            usage.standard_transitions,
            usage.express_requests,
            cost.lambda_usd,
            usage.lambda_requests,
            usage.lambda_billed_ms as f64 / 1000.0 * usage.lambda_memory_mb as f64 / 1024.0,
            cost.s3_usd,
            usage.s3_put_copy_post_list,
            usage.s3_get,
        );
        if let Some(output) = &self.output {
            let _ = writeln!(out, "output: {output}");
        }
        for handled in &self.handled_errors {
            let _ = writeln!(
                out,
                "{} in {}: {}: {}",
                handled.handled_by, handled.state, handled.error, handled.cause
            );
        }
        if let Some(state) = &self.failed_state {
            let _ = writeln!(out, "failed state: {state}");
        }
        if let (Some(error), Some(cause)) = (&self.error, &self.cause) {
            let _ = writeln!(out, "error: {error}\ncause: {cause}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_come_from_the_chunk_summary_wherever_it_sits() {
        assert_eq!(
            rows_in(&json!({"chunk_id": 1, "rows_migrated": 7, "rows_rejected": 2})),
            9
        );
        assert_eq!(rows_in(&json!({"summary": {"rows_migrated": 4}})), 4);
        assert_eq!(rows_in(&json!({"other": 1})), 0);
    }

    fn outcome(map_run: MapRunSummary) -> ExecutionOutcome {
        ExecutionOutcome {
            status: ExecutionStatus::Failed,
            output: None,
            error: Some(crate::runner::engine::StateError::new(
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded",
            )),
            virtual_elapsed: Duration::from_secs(3),
            history_events: 12,
            largest_payload_bytes: BTreeMap::new(),
            largest_result_bytes: BTreeMap::new(),
            handled_errors: Vec::new(),
            task_attempts: 7,
            invocations: 7,
            lambda_billed_ms: 700,
            state_transitions: 5,
            environments: 2,
            map_runs: vec![map_run],
            redrive: None,
        }
    }

    fn spec() -> ExecutionSpec {
        ExecutionSpec {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            state_machine: "sm".into(),
            name: "exec-1".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            input: json!({}),
        }
    }

    /// A Map Run of 6 chunks, 2 of which failed.
    fn failed_map_run() -> MapRunSummary {
        MapRunSummary {
            state: "ProcessTask02Chunks".into(),
            map_run_arn: "arn:aws:states:us-east-1:123456789012:mapRun:sm/chunks:1".into(),
            items_total: 6,
            succeeded: 4,
            failed: 2,
            results_written: 6,
            largest_child_history_events: 7,
            children_run: 6,
            child_state_transitions: 6,
            child_billed_ms: 600,
            express_children: false,
            first_failure: Some(crate::runner::engine::StateError::new(
                "Task02.ChunkNotFound",
                "chunk 3 is not in the store",
            )),
        }
    }

    #[test]
    fn each_map_run_is_reported_with_its_first_failed_child() {
        let run = failed_map_run();
        let report = RunReport::new(&spec(), outcome(run), None, Duration::from_secs(1));
        let text = report.text();
        assert!(
            text.contains(
                "map run ProcessTask02Chunks: 6 items, 4 succeeded, 2 failed; largest child history 7 events"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "2 items failed; the first failed child: Task02.ChunkNotFound: chunk 3 is not in the store"
            ),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        let map_run = &json["map_runs"][0];
        for field in [
            "state",
            "map_run_arn",
            "items_total",
            "succeeded",
            "failed",
            "results_written",
            "largest_child_history_events",
        ] {
            assert!(map_run.get(field).is_some(), "{field}: {json:#}");
        }
        assert_eq!(map_run["first_failure"]["Error"], "Task02.ChunkNotFound");
        assert_eq!(json["history_events"], 12);
    }

    /// Each figure past its bound is named with both numbers; a state the proof does not know
    /// is past any bound.
    #[test]
    fn the_figures_past_the_proven_bounds_are_each_named() {
        let mut outcome = outcome(MapRunSummary {
            first_failure: None,
            ..failed_map_run()
        });
        outcome.largest_payload_bytes =
            BTreeMap::from([("Known".to_owned(), 100), ("Unknown".to_owned(), 1)]);
        let report = RunReport::new(&spec(), outcome, None, Duration::from_secs(1));
        let bound = |payload| pipeline::bounds::PayloadBound {
            input: payload,
            result: None,
            output: payload,
        };
        let mut bounds = Bounds {
            limits: crate::synth::Limits {
                payload_bytes: 262_144,
                history_events: 25_000,
            },
            history_events: asl::bounds::HistoryBound {
                execution_events: 12,
                child_execution_events: Some(7),
            },
            payload_bytes: BTreeMap::from([("Known", bound(100))]),
        };
        assert_eq!(
            report.beyond(&bounds),
            ["Unknown's payload bytes: 1, bound 0"]
        );
        bounds.payload_bytes.insert("Unknown", bound(1));
        assert!(report.beyond(&bounds).is_empty());
        bounds.history_events.execution_events = 11;
        bounds.history_events.child_execution_events = Some(6);
        bounds.payload_bytes.insert("Known", bound(99));
        assert_eq!(
            report.beyond(&bounds),
            [
                "the execution's history events: 12, bound 11",
                "ProcessTask02Chunks's largest child history events: 7, bound 6",
                "Known's payload bytes: 100, bound 99",
            ]
        );
    }
}
