//! `deploy` and `diff`: build, package and ship the Lambda and the state machine, and compare the
//! local definition with the deployed one.
//!
//! Deploy reads everything first (ValidateStateMachineDefinition, the function, its alias, the
//! state machine and its tags), builds and zips the Lambda, turns the differences into a list of
//! steps, and only then writes, step by step, each an idempotent upsert. `--dry-run` stops after
//! the plan. A failure part way names the steps done and the steps not done; a re-run plans again
//! from what is live, so it continues where the last run stopped.
//!
//! Only this module (and `execution`) calls aws-sdk-lambda / aws-sdk-sfn.

pub mod calls;
pub mod diff;
pub mod function;
pub mod package;
pub mod state_machine;

use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use indicatif::ProgressBar;
use serde::Serialize;

use self::calls::{ApiCallCount, ApiCalls, CallFailure};
use self::function::{AliasPlan, DesiredFunction, FunctionPlan, LiveFunction};
use self::package::{BuildProfile, LambdaBuild, Package};
use self::state_machine::{DesiredStateMachine, StateMachinePlan, Validation};
use crate::aws::AwsArgs;
use crate::config::{ConfigArgs, DeployConfig, StateMachineArgs, StateMachineName};
use crate::output::{OutputArgs, OutputFormat};
use crate::synth::{DEFINITION_PATH, render_definition};

/// Build the Lambda, then create or update the function, its alias and the state machine, skipping
/// whatever is already current.
#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Do every read and the build, print what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The cargo profile of the Lambda build (`dev` builds in seconds for tests; deploy release).
    #[arg(long, value_enum, env = package::PROFILE_ENV, default_value_t = BuildProfile::Release)]
    pub lambda_profile: BuildProfile,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Compare the local definition (rendered from the pipeline and deploy.toml) with the deployed
/// one, as JSON.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Exit with 1 when the definitions differ (or the state machine is not deployed), 0 when
    /// they are the same.
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The AWS clients of one command, sharing one call log.
pub struct Aws {
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub calls: ApiCalls,
    /// Where calls go, for messages.
    pub endpoint: String,
    /// Whether `--endpoint-url` (or AWS_ENDPOINT_URL) points somewhere other than AWS.
    pub custom_endpoint: bool,
}

impl Aws {
    pub async fn connect(args: &AwsArgs, config: &DeployConfig) -> Self {
        let sdk = crate::aws::sdk_config(args, config).await;
        let calls = ApiCalls::default();
        let lambda = aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let sfn = aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::config::Builder::from(&sdk)
                .interceptor(calls.clone())
                .build(),
        );
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| config.region.to_string());
        Self {
            lambda,
            sfn,
            calls,
            endpoint: endpoint_description(args, &region),
            custom_endpoint: args.endpoint_url.is_some(),
        }
    }

    /// One line for a failed call.
    pub fn fail<E>(&self, err: &SdkError<E, HttpResponse>, operation: &str) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        anyhow::anyhow!(CallFailure::of(err).explain(operation, &self.endpoint))
    }
}

/// Where calls go, for messages: the `--endpoint-url`, or AWS in `region`.
pub fn endpoint_description(args: &AwsArgs, region: &str) -> String {
    args.endpoint_url
        .clone()
        .unwrap_or_else(|| format!("AWS {region}"))
}

/// The one line of a `command` that stopped at `steps[index]` with `err`: what changed before it,
/// what did not, and that a re-run continues (every step is an upsert planned from what is live).
pub fn stopped_part_way<S: fmt::Display>(
    command: &str,
    steps: &[S],
    index: usize,
    err: anyhow::Error,
) -> anyhow::Error {
    let list = |steps: &[S]| {
        if steps.is_empty() {
            "nothing".to_owned()
        } else {
            steps
                .iter()
                .map(S::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    anyhow::anyhow!(
        "{command} stopped at `{}`: {err:#}. Changed: {}. Not changed: {}. Re-run {command} to continue from here (every step is an upsert)",
        steps[index],
        list(&steps[..index]),
        list(&steps[index..])
    )
}

/// The repository: commands run from its root, where definitions/ and the lambda crate are (as
/// for `synth`); `--config` may point anywhere.
fn workspace_root() -> PathBuf {
    PathBuf::from(".")
}

/// The rendered definition, which must be byte for byte the committed file: deploy ships only
/// what was reviewed.
fn reviewed_definition(
    config: &DeployConfig,
    name: &StateMachineName,
    root: &Path,
) -> anyhow::Result<String> {
    let rendered = render_definition(config, name)?;
    let path = root.join(DEFINITION_PATH);
    let committed = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: run `cargo run -- synth` and commit the file; nothing was changed",
            path.display()
        )
    })?;
    if committed != rendered {
        anyhow::bail!(
            "{} is stale: it differs from what the pipeline renders with this deploy.toml; run `cargo run -- synth`, review and commit it, then deploy again; nothing was changed",
            path.display()
        );
    }
    Ok(committed)
}

/// `git rev-parse --short HEAD`, with `-dirty` when tracked files are modified.
fn git_version(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|status| !status.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        None => "unknown (not a git checkout)".into(),
    }
}

/// The spinner deploy shows on a terminal; nothing otherwise.
struct DeploySpinner(Option<ProgressBar>);

impl DeploySpinner {
    fn new() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            Self(Some(bar))
        } else {
            Self(None)
        }
    }

    fn step(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }

    /// A `warning:` line on stderr, above the spinner when there is one.
    fn warn(&self, message: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| eprintln!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// One write deploy makes, in the order it makes them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    CreateFunction { bytes: usize },
    UploadCode { bytes: usize },
    UpdateConfiguration(Vec<&'static str>),
    PublishVersion,
    CreateAlias,
    MoveAlias { from: String },
    CreateStateMachine,
    UpdateStateMachine(Vec<&'static str>),
    TagStateMachine(BTreeMap<String, String>),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateFunction { bytes } => {
                write!(f, "create the function ({bytes} bytes of code)")
            }
            Step::UploadCode { bytes } => write!(f, "upload the code ({bytes} bytes)"),
            Step::UpdateConfiguration(fields) => {
                write!(
                    f,
                    "update the function configuration ({})",
                    fields.join(", ")
                )
            }
            Step::PublishVersion => write!(f, "publish a function version"),
            Step::CreateAlias => write!(f, "create the alias"),
            Step::MoveAlias { from } => write!(f, "move the alias from version {from}"),
            Step::CreateStateMachine => write!(f, "create the state machine (publish version 1)"),
            Step::UpdateStateMachine(fields) => {
                write!(
                    f,
                    "update the state machine ({}) and publish a version",
                    fields.join(", ")
                )
            }
            Step::TagStateMachine(tags) => {
                let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
                write!(f, "tag the state machine ({})", keys.join(", "))
            }
        }
    }
}

fn plan_steps(
    package: &Package,
    function: &FunctionPlan,
    machine: &StateMachinePlan,
    tags: BTreeMap<String, String>,
) -> Vec<Step> {
    let bytes = package.zip.len();
    let mut steps = Vec::new();
    if function.create {
        steps.push(Step::CreateFunction { bytes });
    } else {
        if function.upload_code {
            steps.push(Step::UploadCode { bytes });
        }
        if !function.configuration.is_empty() {
            steps.push(Step::UpdateConfiguration(function.configuration.clone()));
        }
    }
    if function.publish {
        steps.push(Step::PublishVersion);
    }
    match &function.alias {
        AliasPlan::Create => steps.push(Step::CreateAlias),
        AliasPlan::Move { from } => steps.push(Step::MoveAlias { from: from.clone() }),
        AliasPlan::Keep => {}
    }
    match machine {
        StateMachinePlan::Create => steps.push(Step::CreateStateMachine),
        StateMachinePlan::Update(fields) => steps.push(Step::UpdateStateMachine(fields.clone())),
        StateMachinePlan::Unchanged => {}
    }
    if !tags.is_empty() && *machine != StateMachinePlan::Create {
        steps.push(Step::TagStateMachine(tags));
    }
    steps
}

/// What a deploy did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub struct DeploySummary {
    pub state_machine: String,
    pub dry_run: bool,
    pub lambda_profile: BuildProfile,
    pub code_sha256: String,
    pub zip_bytes: usize,
    pub bytes_uploaded: usize,
    /// The function version the alias points at after the deploy.
    pub function_version: Option<String>,
    pub alias_arn: String,
    pub state_machine_arn: String,
    pub state_machine_version_arn: Option<String>,
    /// The writes made (or that would be made), in order; empty when everything was current.
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
    pub api_calls: ApiCallCount,
    /// Time spent in `cargo lambda build` (a no-op build still checks every fingerprint).
    pub build_seconds: f64,
    pub elapsed_seconds: f64,
}

impl DeploySummary {
    fn print_text(&self) {
        let mode = if self.dry_run {
            " (dry run: nothing was changed)"
        } else {
            ""
        };
        println!("deploy {}{mode}", self.state_machine);
        if self.changes.is_empty() {
            println!("  everything is current: nothing to change");
        } else {
            let heading = if self.dry_run {
                "would change"
            } else {
                "changed"
            };
            println!("  {heading}:");
            for change in &self.changes {
                println!("    - {change}");
            }
        }
        println!(
            "  code sha256:      {} ({} byte zip, {} build)",
            self.code_sha256,
            self.zip_bytes,
            self.lambda_profile.as_str()
        );
        println!("  bytes uploaded:   {}", self.bytes_uploaded);
        println!(
            "  function version: {}",
            self.function_version.as_deref().unwrap_or("none yet")
        );
        println!("  alias:            {}", self.alias_arn);
        println!("  state machine:    {}", self.state_machine_arn);
        println!(
            "  version:          {}",
            self.state_machine_version_arn
                .as_deref()
                .unwrap_or("unchanged (the endpoint does not list versions)")
        );
        println!(
            "  API calls:        {} ({} mutating)",
            self.api_calls.total, self.api_calls.mutating
        );
        println!(
            "  took:             {:.1}s ({:.1}s building)",
            self.elapsed_seconds, self.build_seconds
        );
    }
}

pub async fn main(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = args.config.load()?;
    let (name, machine) =
        config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;
    let root = workspace_root();
    let definition = reviewed_definition(&config, name, &root)?;
    let desired_machine = DesiredStateMachine::new(&config, name, machine, definition)?;
    let desired_function = DesiredFunction::from_config(&config);
    let progress = DeploySpinner::new();
    let mut warnings = Vec::new();

    // Reads first: credentials, endpoint and definition problems show before a long build.
    progress.step("validating the definition with Step Functions");
    let aws = Aws::connect(&args.aws, &config).await;
    if let Validation::NotSupported(warning) =
        state_machine::validate(&aws, &desired_machine.definition).await?
    {
        progress.warn(&warning);
        warnings.push(warning);
    }
    progress.step("reading the deployed function and state machine");
    let live_function = LiveFunction::read(&aws, &desired_function).await?;
    let live_machine = state_machine::read(&aws, &desired_machine.arn, true).await?;

    progress.step(format!(
        "building bootstrap ({}, {})",
        args.lambda_profile.as_str(),
        config.function.architecture.as_str()
    ));
    let build_started = Instant::now();
    let bootstrap =
        LambdaBuild::new(&root, config.function.architecture, args.lambda_profile).run()?;
    let build_seconds = build_started.elapsed().as_secs_f64();
    let package = Package::from_bootstrap(&bootstrap)?;

    let function_plan = FunctionPlan::new(&desired_function, &package, &live_function);
    let machine_plan = StateMachinePlan::new(&desired_machine, live_machine.as_ref());
    let tags = live_machine
        .as_ref()
        .map(|live| state_machine::missing_tags(&desired_machine, live))
        .unwrap_or_default();
    let steps = plan_steps(&package, &function_plan, &machine_plan, tags);

    let mut outcome = Outcome {
        bytes_uploaded: 0,
        function_version: live_function.aliased_version().map(str::to_owned),
        state_machine_version_arn: None,
    };
    if !args.dry_run {
        let version_description = git_version(&root);
        let context = StepContext {
            aws: &aws,
            function: &desired_function,
            machine: &desired_machine,
            package: &package,
            version_description: &version_description,
            progress: &progress,
        };
        for (index, step) in steps.iter().enumerate() {
            if let Err(err) = context.run(step, &mut outcome).await {
                progress.finish();
                return Err(stopped_part_way("deploy", &steps, index, err));
            }
        }
        if !matches!(machine_plan, StateMachinePlan::Unchanged) {
            progress.step("waiting until the live definition is ours");
            state_machine::wait_converged(&aws, &desired_machine).await?;
        }
    }
    if outcome.state_machine_version_arn.is_none() && live_machine.is_some() {
        outcome.state_machine_version_arn =
            state_machine::latest_version(&aws, &desired_machine.arn).await;
    }
    progress.finish();

    let summary = DeploySummary {
        state_machine: name.to_string(),
        dry_run: args.dry_run,
        lambda_profile: args.lambda_profile,
        code_sha256: package.code_sha256.clone(),
        zip_bytes: package.zip.len(),
        bytes_uploaded: outcome.bytes_uploaded,
        function_version: outcome.function_version,
        alias_arn: config.function_alias_arn(),
        state_machine_arn: desired_machine.arn.clone(),
        state_machine_version_arn: outcome.state_machine_version_arn,
        changes: steps.iter().map(Step::to_string).collect(),
        warnings,
        api_calls: aws.calls.count(),
        build_seconds,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    match args.output.format {
        OutputFormat::Text => summary.print_text(),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// What the steps produced, for the summary.
struct Outcome {
    bytes_uploaded: usize,
    function_version: Option<String>,
    state_machine_version_arn: Option<String>,
}

struct StepContext<'a> {
    aws: &'a Aws,
    function: &'a DesiredFunction,
    machine: &'a DesiredStateMachine,
    package: &'a Package,
    version_description: &'a str,
    progress: &'a DeploySpinner,
}

impl StepContext<'_> {
    async fn run(&self, step: &Step, outcome: &mut Outcome) -> anyhow::Result<()> {
        self.progress.step(format!("{step}"));
        match step {
            Step::CreateFunction { bytes } => {
                function::create(self.aws, self.function, self.package).await?;
                outcome.bytes_uploaded += bytes;
            }
            Step::UploadCode { bytes } => {
                function::upload_code(self.aws, self.function, self.package).await?;
                outcome.bytes_uploaded += bytes;
            }
            Step::UpdateConfiguration(fields) => {
                function::update_configuration(self.aws, self.function, fields).await?;
            }
            Step::PublishVersion => {
                let version = function::publish(
                    self.aws,
                    self.function,
                    self.package,
                    self.version_description,
                )
                .await?;
                outcome.function_version = Some(version);
            }
            Step::CreateAlias | Step::MoveAlias { .. } => {
                let version = outcome
                    .function_version
                    .clone()
                    .context("no published version to point the alias at")?;
                function::point_alias(
                    self.aws,
                    self.function,
                    matches!(step, Step::CreateAlias),
                    &version,
                )
                .await?;
            }
            Step::CreateStateMachine => {
                outcome.state_machine_version_arn =
                    state_machine::create(self.aws, self.machine, self.version_description).await?;
            }
            Step::UpdateStateMachine(_) => {
                outcome.state_machine_version_arn =
                    state_machine::update(self.aws, self.machine, self.version_description).await?;
            }
            Step::TagStateMachine(tags) => {
                state_machine::tag(self.aws, &self.machine.arn, tags).await?;
            }
        }
        Ok(())
    }
}

pub async fn diff_main(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let (name, _) = config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;
    let local = render_definition(&config, name)?;
    let aws = Aws::connect(&args.aws, &config).await;
    let arn = config.state_machine_arn(name);
    let differs = match state_machine::read(&aws, &arn, false).await? {
        None => {
            println!("{name} is not deployed ({arn}): everything would be created");
            true
        }
        Some(live) => {
            match diff::compare(&live.definition, &local, std::io::stdout().is_terminal())? {
                diff::DefinitionDiff::Same => {
                    println!("no differences: the deployed definition of {name} is the local one");
                    false
                }
                diff::DefinitionDiff::Differs(text) => {
                    print!("{text}");
                    true
                }
            }
        }
    };
    Ok(if differs && args.exit_code {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
