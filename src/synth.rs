//! `synth`: renders the pipeline to the committed files under `definitions/` (the ASL definition,
//! its Mermaid diagram, its proven worst case ([`Bounds`]) and the IAM documents) and checks that
//! they are current.
//!
//! Synth is a list of rendered [`Artifact`]s: everything is rendered and checked in memory first,
//! so a problem writes nothing; then the changed files are replaced all or none: each is written
//! to a temporary file next to it, and only when every one is written are they renamed over the
//! targets (a failure removes the temporaries and puts back any file already replaced). Paths are
//! relative to the current directory, the repository root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::config::{ConfigArgs, DeployConfig, StateMachineName};

/// The committed ASL definition of the pipeline.
pub const DEFINITION_PATH: &str = "definitions/etl_pipeline_phase2_ready.json";
/// The committed Mermaid flowchart of the same machine.
pub const DIAGRAM_PATH: &str = "definitions/etl_pipeline_phase2_ready.md";
/// The committed worst case of the same machine: each state's largest payload, the histories'
/// most events.
pub const BOUNDS_PATH: &str = "definitions/etl_pipeline_phase2_ready.bounds.json";

/// Render the pipeline to definitions/ (or check that the committed files are current).
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Rewrite nothing; print a unified diff of every stale file and exit 1 if any is stale.
    #[arg(long, conflicts_with = "stdout")]
    pub check: bool,
    /// Print the ASL definition to stdout and write nothing.
    #[arg(long)]
    pub stdout: bool,
    /// The query language the definition is rendered in. The committed definition is JSONPath;
    /// the JSONata rendering (the same machine, state by state) is printed with --stdout.
    #[arg(long, value_enum, default_value_t = QueryLanguageArg::Jsonpath, requires_if("jsonata", "stdout"))]
    pub query_language: QueryLanguageArg,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `--query-language`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryLanguageArg {
    Jsonpath,
    Jsonata,
}

/// One generated file: where it goes (relative to the repository root) and its exact contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    pub path: PathBuf,
    pub contents: String,
}

impl Artifact {
    fn new(path: impl Into<PathBuf>, contents: String) -> Self {
        Self {
            path: path.into(),
            contents,
        }
    }
}

/// Everything synth writes, rendered and validated; the validator's warnings alongside.
pub struct Synthesis {
    pub artifacts: Vec<Artifact>,
    pub warnings: Vec<asl::validate::Problem>,
    /// What the bounds artifact holds.
    pub bounds: Bounds,
}

/// Renders every generated file for `config`.
pub fn synthesize(config: &DeployConfig) -> anyhow::Result<Synthesis> {
    let name = pipeline_state_machine()?;
    let machine = checked_definition(config, &name)?;
    let report = asl::validate::validate(&machine);
    let bounds = Bounds::of(&machine, pipeline::bounds::payload_bounds())?;
    let mut artifacts = vec![
        Artifact::new(DEFINITION_PATH, asl::render(&machine)),
        Artifact::new(DIAGRAM_PATH, render_diagram(&name, &machine)),
        Artifact::new(BOUNDS_PATH, bounds.render()),
    ];
    artifacts.extend(
        crate::iam::policy_documents(config)
            .into_iter()
            .map(|(path, contents)| Artifact::new(path, contents)),
    );
    Ok(Synthesis {
        artifacts,
        warnings: report.warnings,
        bounds,
    })
}

/// The ASL definition of `state_machine` for `config`, validated: the exact text synth commits
/// and deploy sends.
pub fn render_definition(
    config: &DeployConfig,
    state_machine: &StateMachineName,
) -> anyhow::Result<String> {
    Ok(asl::render(&checked_definition(config, state_machine)?))
}

/// The definition deploy ships as a release: the committed one with every Task invoking the
/// function's published `version` instead of its alias, so an execution runs to its end on the
/// code it started with, whatever is deployed meanwhile.
pub fn render_release_definition(
    config: &DeployConfig,
    state_machine: &StateMachineName,
    version: FunctionVersion,
) -> anyhow::Result<String> {
    let function = format!("{}:{version}", config.function_arn());
    Ok(asl::render(&checked_definition_invoking(
        config,
        state_machine,
        function,
    )?))
}

/// A published version of the function: Lambda numbers them 1, 2, 3...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "String")]
pub struct FunctionVersion(pub u64);

impl FunctionVersion {
    /// The version a Lambda `Version` field names; `None` for `$LATEST`.
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok().filter(|v| *v > 0).map(Self)
    }

    /// The version every Task of a shipped `definition` invokes, when they all name one version
    /// of `function_arn` (unqualified); `None` for a definition naming the alias (or anything else).
    pub fn pinned_in(definition: &str, function_arn: &str) -> Option<Self> {
        let prefix = format!("\"{function_arn}:");
        let mut versions = definition.match_indices(&prefix).map(|(at, _)| {
            let rest = &definition[at + prefix.len()..];
            rest.split('"').next().and_then(Self::parse)
        });
        let first = versions.next()??;
        versions.all(|v| v == Some(first)).then_some(first)
    }
}

impl std::fmt::Display for FunctionVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<FunctionVersion> for String {
    fn from(version: FunctionVersion) -> String {
        version.to_string()
    }
}

/// The same definition rewritten in JSONata ([`asl::to_jsonata`]), validated as synth validates
/// the committed one.
pub fn render_jsonata_definition(
    config: &DeployConfig,
    state_machine: &StateMachineName,
) -> anyhow::Result<String> {
    let machine = asl::to_jsonata(&checked_definition(config, state_machine)?)?;
    let report = asl::validate::validate(&machine);
    if !report.is_ok() {
        let problems: Vec<String> = report.errors.iter().map(|p| format!("  - {p}")).collect();
        bail!(
            "the JSONata rendering of `{state_machine}` has {} problem(s):\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(asl::render(&machine))
}

fn pipeline_state_machine() -> anyhow::Result<StateMachineName> {
    StateMachineName::try_from(pipeline::STATE_MACHINE_NAME.to_owned())
        .map_err(|err| anyhow::anyhow!(err))
}

/// The pipeline's machine after every synth-time check; all errors are reported together.
fn checked_definition(
    config: &DeployConfig,
    state_machine: &StateMachineName,
) -> anyhow::Result<asl::StateMachine> {
    checked_definition_invoking(config, state_machine, config.function_alias_arn())
}

/// [`checked_definition`] with every Task invoking `function_arn`.
fn checked_definition_invoking(
    config: &DeployConfig,
    state_machine: &StateMachineName,
    function_arn: String,
) -> anyhow::Result<asl::StateMachine> {
    if state_machine.as_str() != pipeline::STATE_MACHINE_NAME {
        bail!(
            "the pipeline defines only the state machine `{}`, not `{state_machine}`",
            pipeline::STATE_MACHINE_NAME
        );
    }
    if !config.state_machines.contains_key(state_machine) {
        bail!(
            "the configuration has no [state_machines.{state_machine}] table; add one (see the committed deploy.toml)"
        );
    }
    let machine =
        pipeline::definition(&config.pipeline_settings_invoking(state_machine, function_arn));
    let report = asl::validate::validate(&machine);
    if !report.is_ok() {
        let problems: Vec<String> = report.errors.iter().map(|p| format!("  - {p}")).collect();
        bail!(
            "the state machine `{state_machine}` has {} problem(s); fix them in pipeline/src:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(machine)
}

/// The pipeline's worst case, proven from its definition and types: what [`BOUNDS_PATH`] holds.
#[derive(Debug, serde::Serialize)]
pub struct Bounds {
    /// Step Functions' limits the figures are checked against.
    pub limits: Limits,
    /// The most events of the execution's history and of a child execution's.
    pub history_events: asl::bounds::HistoryBound,
    /// Each state's largest input, raw result and output, in bytes of JSON.
    pub payload_bytes: BTreeMap<&'static str, pipeline::bounds::PayloadBound>,
}

/// Step Functions' limits on a payload and a history.
#[derive(Debug, serde::Serialize)]
pub struct Limits {
    pub payload_bytes: usize,
    pub history_events: u64,
}

impl Bounds {
    /// The bounds of `machine` with these payload bounds, or one error listing every figure
    /// over Step Functions' limits.
    pub fn of(
        machine: &asl::StateMachine,
        payload_bytes: BTreeMap<&'static str, pipeline::bounds::PayloadBound>,
    ) -> anyhow::Result<Self> {
        let history_events = asl::bounds::history_bound(machine)
            .map_err(|unbounded| anyhow::anyhow!("the pipeline cannot be deployed: {unbounded}"))?;
        let limits = Limits {
            payload_bytes: asl::limits::PAYLOAD_BYTES,
            history_events: asl::limits::HISTORY_EVENTS,
        };
        let mut over = Vec::new();
        let histories = [
            ("the execution's", Some(history_events.execution_events)),
            ("a child execution's", history_events.child_execution_events),
        ];
        for (whose, events) in histories {
            if let Some(events) = events.filter(|events| *events > limits.history_events) {
                over.push(format!(
                    "{whose} history can reach {events} events, over Step Functions' {}: lower the retriers' MaxAttempts, or move the work into the Distributed Map's children",
                    limits.history_events
                ));
            }
        }
        for (state, bound) in &payload_bytes {
            if bound.largest() > limits.payload_bytes {
                over.push(format!(
                    "the state `{state}` can hold {} bytes, over Step Functions' {}: bound its payload types tighter, or store the data in S3 and pass an `S3Items<T>`",
                    bound.largest(),
                    limits.payload_bytes
                ));
            }
        }
        if !over.is_empty() {
            bail!(
                "the pipeline can outgrow Step Functions' limits; fix pipeline/src:\n  - {}",
                over.join("\n  - ")
            );
        }
        Ok(Self {
            limits,
            history_events,
            payload_bytes,
        })
    }

    /// One line: the largest figures against the limits.
    pub fn summary(&self) -> String {
        let (state, largest) = self
            .payload_bytes
            .iter()
            .map(|(state, bound)| (*state, bound.largest()))
            .max_by_key(|(_, bytes)| *bytes)
            .unwrap_or(("none", 0));
        let children = self
            .history_events
            .child_execution_events
            .map_or(String::new(), |events| {
                format!(", a child execution's {events}")
            });
        format!(
            "proven: at most {largest} bytes in a state ({state}; limit {}), {} history events in the execution{children} (limit {})",
            self.limits.payload_bytes,
            self.history_events.execution_events,
            self.limits.history_events
        )
    }

    /// Pretty JSON with one trailing newline, as the definition is committed.
    fn render(&self) -> String {
        serde_json::to_string_pretty(self).expect("bounds serialize") + "\n"
    }
}

fn render_diagram(name: &StateMachineName, machine: &asl::StateMachine) -> String {
    format!(
        "# {name}\n\n\
         Generated by `cargo run -- synth` from `pipeline/` (the same machine as \
         `{}`); do not edit.\n\
         Solid arrows are `Next`; dotted arrows are `Catch`, labelled with the errors they catch.\n\n\
         ```mermaid\n{}```\n",
        Path::new(DEFINITION_PATH)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or(DEFINITION_PATH),
        asl::mermaid::flowchart(&machine.start_at, &machine.states)
    )
}

pub fn main(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    if args.query_language == QueryLanguageArg::Jsonata {
        let definition = render_jsonata_definition(&config, &pipeline_state_machine()?)?;
        crate::output::to_stdout(&definition)?;
        return Ok(ExitCode::SUCCESS);
    }
    let synthesis = synthesize(&config)?;
    for warning in &synthesis.warnings {
        eprintln!("warning: {warning}");
    }
    if args.stdout {
        let definition = synthesis
            .artifacts
            .iter()
            .find(|a| a.path == Path::new(DEFINITION_PATH))
            .expect("synthesis always renders the definition");
        crate::output::to_stdout(&definition.contents)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.check {
        return check(&synthesis.artifacts);
    }
    let mut changed = Vec::new();
    for artifact in &synthesis.artifacts {
        let existing = read_existing(&artifact.path)?;
        if existing.as_deref() != Some(artifact.contents.as_str()) {
            changed.push((artifact, existing));
        }
    }
    replace_all_or_none(&changed)?;
    for artifact in &synthesis.artifacts {
        let path = artifact.path.display();
        if changed
            .iter()
            .any(|(written, _)| written.path == artifact.path)
        {
            eprintln!("wrote {path}");
        } else {
            eprintln!("{path} is current");
        }
    }
    eprintln!("{}", synthesis.bounds.summary());
    Ok(ExitCode::SUCCESS)
}

/// Prints a unified diff of every stale artifact; exit 1 if any.
fn check(artifacts: &[Artifact]) -> anyhow::Result<ExitCode> {
    let mut stale = Vec::new();
    for artifact in artifacts {
        let committed = read_existing(&artifact.path)?;
        if committed.as_deref() == Some(artifact.contents.as_str()) {
            continue;
        }
        let path = artifact.path.display().to_string();
        let old = committed.unwrap_or_default();
        let diff = similar::TextDiff::from_lines(&old, &artifact.contents)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string();
        crate::output::to_stdout(&diff)?;
        stale.push(path);
    }
    if stale.is_empty() {
        eprintln!("definitions are current");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: stale generated file(s): {}; run `cargo run -- synth` and commit the result",
            stale.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// The file's contents, or `None` when it does not exist.
fn read_existing(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Replaces each artifact (paired with what its file held before, `None` when it did not exist)
/// all or none: every temporary is written first, then renamed over its target. On a failure the
/// temporaries are removed and the targets already replaced get their old contents back, so
/// `definitions/` is never left half old and half new.
fn replace_all_or_none(changed: &[(&Artifact, Option<String>)]) -> anyhow::Result<()> {
    let mut staged = Vec::with_capacity(changed.len());
    for (artifact, _) in changed {
        match write_temporary(&artifact.path, &artifact.contents) {
            Ok(temporary) => staged.push(temporary),
            Err(err) => {
                remove_all(&staged);
                return Err(nothing_written(err));
            }
        }
    }
    for (done, (temporary, (artifact, _))) in staged.iter().zip(changed).enumerate() {
        if let Err(err) = std::fs::rename(temporary, &artifact.path) {
            remove_all(&staged[done..]);
            for (artifact, old) in &changed[..done] {
                restore(&artifact.path, old.as_deref());
            }
            let err = anyhow::Error::new(err)
                .context(format!("cannot replace {}", artifact.path.display()));
            return Err(nothing_written(err));
        }
    }
    Ok(())
}

fn nothing_written(err: anyhow::Error) -> anyhow::Error {
    err.context("synth wrote nothing (every generated file is as it was); make definitions/ writable and run it again")
}

/// Writes `contents` to a new temporary file next to `path` (in the same directory, so the rename
/// cannot cross file systems) and returns the temporary's path.
fn write_temporary(path: &Path, contents: &str) -> anyhow::Result<PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("an artifact path names a file")?;
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, contents).with_context(|| {
        let _ = std::fs::remove_file(&temporary);
        format!("cannot write {}", temporary.display())
    })?;
    Ok(temporary)
}

fn remove_all(temporaries: &[PathBuf]) {
    for temporary in temporaries {
        let _ = std::fs::remove_file(temporary);
    }
}

/// Puts back what `path` held before synth replaced it (removes it if it did not exist).
fn restore(path: &Path, old: Option<&str>) {
    let _ = match old {
        Some(contents) => write_temporary(path, contents)
            .and_then(|temporary| Ok(std::fs::rename(temporary, path)?)),
        None => std::fs::remove_file(path).map_err(Into::into),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DeployConfig {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy.toml")).unwrap();
        DeployConfig::parse(&text, Path::new("deploy.toml")).unwrap()
    }

    fn committed(path: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    fn pipeline_machine() -> asl::StateMachine {
        let config = config();
        pipeline::definition(&config.pipeline_settings(&pipeline_state_machine().unwrap()))
    }

    /// A retrier allowed 9,000 attempts makes a history of over 27,000 events possible (three
    /// events an attempt): refused with the figure; so is a state that can hold more than 256 KiB. The committed pipeline's
    /// figures are within both.
    #[test]
    fn a_pipeline_that_can_outgrow_step_functions_limits_is_refused() {
        let bounds = Bounds::of(&pipeline_machine(), pipeline::bounds::payload_bounds()).unwrap();
        let summary = bounds.summary();
        let largest = bounds
            .payload_bytes
            .values()
            .map(|b| b.largest())
            .max()
            .unwrap();
        assert!(
            summary.contains(&format!("at most {largest} bytes in a state"))
                && summary.contains(&format!(
                    "{} history events in the execution",
                    bounds.history_events.execution_events
                )),
            "{summary}"
        );
        assert!(
            bounds.history_events.execution_events < asl::limits::HISTORY_EVENTS,
            "{bounds:?}"
        );

        let mut machine = pipeline_machine();
        let asl::State::Task(task) = &mut machine.states[0] else {
            panic!("the pipeline starts with a Task");
        };
        task.retry[0].max_attempts = Some(9_000);
        let error = Bounds::of(&machine, pipeline::bounds::payload_bounds())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("the execution's history can reach 27")
                && error.contains("events, over Step Functions' 25000"),
            "{error}"
        );

        let mut payloads = pipeline::bounds::payload_bounds();
        payloads.get_mut("Task02Migrated").unwrap().output = 300_000;
        let error = Bounds::of(&pipeline_machine(), payloads)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(
                "the state `Task02Migrated` can hold 300000 bytes, over Step Functions' 262144"
            ),
            "{error}"
        );
    }

    #[test]
    fn the_committed_files_are_what_synth_renders() {
        let synthesis = synthesize(&config()).unwrap();
        assert!(
            synthesis.warnings.is_empty(),
            "{:?}",
            synthesis
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        for artifact in &synthesis.artifacts {
            let path = artifact.path.to_str().unwrap();
            assert!(
                committed(path) == artifact.contents,
                "{path} is stale: run `cargo run -- synth`"
            );
        }
    }

    #[test]
    fn the_committed_definition_parses_and_renders_to_the_same_bytes() {
        let text = committed(DEFINITION_PATH);
        let parsed = asl::parse(&text).unwrap();
        assert_eq!(asl::render(&parsed), text);
        let config = config();
        let name = pipeline_state_machine().unwrap();
        assert_eq!(
            parsed,
            pipeline::definition(&config.pipeline_settings(&name))
        );
    }

    #[test]
    fn an_unknown_state_machine_or_a_missing_table_is_an_error() {
        let other = StateMachineName::try_from("other".to_owned()).unwrap();
        let err = render_definition(&config(), &other)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("defines only the state machine `cm-etl-pipeline-phase2`, not `other`"),
            "{err}"
        );

        let mut config = config();
        config.state_machines.clear();
        let name = pipeline_state_machine().unwrap();
        let err = render_definition(&config, &name).unwrap_err().to_string();
        assert!(
            err.contains("no [state_machines.cm-etl-pipeline-phase2] table"),
            "{err}"
        );
    }

    #[test]
    fn writing_replaces_the_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let one = Artifact::new(dir.path().join("definitions/x.json"), "one\n".into());
        let two = Artifact::new(dir.path().join("definitions/y.json"), "two\n".into());
        replace_all_or_none(&[(&one, None), (&two, None)]).unwrap();
        let newer = Artifact::new(one.path.clone(), "three\n".into());
        replace_all_or_none(&[(&newer, Some("one\n".into()))]).unwrap();
        assert_eq!(std::fs::read_to_string(&one.path).unwrap(), "three\n");
        let mut names: Vec<_> = std::fs::read_dir(one.path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["x.json", "y.json"]);
    }

    #[test]
    fn a_rename_that_fails_puts_back_the_files_already_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let first = Artifact::new(dir.path().join("a.json"), "new a\n".into());
        std::fs::write(&first.path, "old a\n").unwrap();
        // A directory where the second file should go: its temporary is written, its rename fails.
        let second = Artifact::new(dir.path().join("b.json"), "new b\n".into());
        std::fs::create_dir(&second.path).unwrap();
        std::fs::write(second.path.join("keep"), "").unwrap();
        let err =
            replace_all_or_none(&[(&first, Some("old a\n".into())), (&second, None)]).unwrap_err();
        assert!(
            format!("{err:#}").contains("synth wrote nothing"),
            "{err:#}"
        );
        assert_eq!(std::fs::read_to_string(&first.path).unwrap(), "old a\n");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a.json", "b.json"]);
    }
}
