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
pub mod release;
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
use self::release::{CanaryPercent, MachineVersion, Routing, RunningExecution};
use self::state_machine::{DesiredStateMachine, StateMachinePlan, Validation};
use crate::aws::AwsArgs;
use crate::config::{ConfigArgs, DeployConfig, StateMachineArgs, StateMachineName};
use crate::output::{OutputArgs, OutputFormat};
use crate::synth::{
    DEFINITION_PATH, FunctionVersion, render_definition, render_release_definition,
};

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
    /// Route only PCT % of new executions (1 to 99) to the new release, the rest to the current
    /// one; `deploy --promote` then gives it every new execution, `rollback` none.
    #[arg(long, value_name = "PCT", conflicts_with = "promote")]
    pub canary: Option<CanaryPercent>,
    /// Give the canary release every new execution. Builds and uploads nothing.
    #[arg(long)]
    pub promote: bool,
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

/// The state machine version a step routes the alias to: one this deploy publishes, or one
/// already published with exactly this definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReleaseVersion {
    PublishedAbove,
    Existing(MachineVersion),
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PublishedAbove => f.write_str("the version published above"),
            Self::Existing(version) => write!(f, "version {version}"),
        }
    }
}

/// Where the alias will send new executions: all to the release, or a canary share of them
/// beside the stable version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RoutingPlan {
    release: ReleaseVersion,
    beside: Option<(MachineVersion, CanaryPercent)>,
}

impl RoutingPlan {
    fn resolve(self, published: Option<MachineVersion>) -> anyhow::Result<Routing> {
        let release = match self.release {
            ReleaseVersion::Existing(version) => version,
            ReleaseVersion::PublishedAbove => {
                published.context("Step Functions returned no state machine version ARN")?
            }
        };
        Ok(match self.beside {
            None => Routing::all_to(release),
            Some((stable, pct)) => Routing {
                stable,
                canary: Some((release, pct)),
            },
        })
    }
}

impl fmt::Display for RoutingPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.beside {
            None => write!(f, "{} (100%)", self.release),
            Some((stable, pct)) => write!(
                f,
                "version {stable} ({}%) and, as a canary, {} ({}%)",
                100 - pct.get(),
                self.release,
                pct.get()
            ),
        }
    }
}

/// One write deploy makes, in the order it makes them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    CreateFunction {
        bytes: usize,
    },
    UploadCode {
        bytes: usize,
    },
    UpdateConfiguration(Vec<&'static str>),
    PublishVersion,
    CreateAlias,
    MoveAlias {
        from: String,
    },
    CreateStateMachine,
    UpdateStateMachine(Vec<&'static str>),
    /// `$LATEST` is this release but no version of it is left (deleted by hand): publish one.
    PublishStateMachineVersion,
    TagStateMachine(BTreeMap<String, String>),
    CreateMachineAlias {
        alias: String,
        to: RoutingPlan,
    },
    RouteMachineAlias {
        alias: String,
        from: Routing,
        to: RoutingPlan,
    },
    PruneVersions {
        keep: u32,
    },
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
            Step::CreateStateMachine => write!(
                f,
                "create the state machine (publish version 1, pinned to the function version)"
            ),
            Step::UpdateStateMachine(fields) => {
                write!(
                    f,
                    "update the state machine ({}) and publish a version",
                    fields.join(", ")
                )
            }
            Step::PublishStateMachineVersion => {
                write!(
                    f,
                    "publish the state machine's current definition as a version"
                )
            }
            Step::TagStateMachine(tags) => {
                let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
                write!(f, "tag the state machine ({})", keys.join(", "))
            }
            Step::CreateMachineAlias { alias, to } => {
                write!(f, "create the state machine alias `{alias}`: {to}")
            }
            Step::RouteMachineAlias { alias, from, to } => {
                write!(
                    f,
                    "route the state machine alias `{alias}` from {from} to {to}"
                )
            }
            Step::PruneVersions { keep } => write!(
                f,
                "delete state machine versions older than the newest {keep} (never one the alias routes to or an execution runs on)"
            ),
        }
    }
}

/// What is deployed of the state machine: itself, where its alias routes, what runs on it.
struct LiveRelease {
    machine: Option<state_machine::LiveStateMachine>,
    routing: Option<Routing>,
    running: Vec<RunningExecution>,
}

impl LiveRelease {
    async fn read(
        aws: &Aws,
        config: &DeployConfig,
        name: &StateMachineName,
    ) -> anyhow::Result<Self> {
        let arn = config.state_machine_arn(name);
        let Some(machine) = state_machine::read(aws, &arn, true).await? else {
            return Ok(Self {
                machine: None,
                routing: None,
                running: Vec::new(),
            });
        };
        Ok(Self {
            machine: Some(machine),
            routing: release::read_routing(aws, &config.state_machine_alias_arn(name)).await?,
            running: release::running_executions(aws, &arn).await?,
        })
    }
}

/// What deploy will do to the state machine's versions and alias.
struct ReleasePlan {
    /// The state machine itself: created, updated (each publishes a version) or unchanged.
    machine: StateMachinePlan,
    /// `$LATEST` is the release but no version of it is left: publish one.
    publish_existing: bool,
    /// Where the alias will route.
    target: RoutingPlan,
    /// The alias's routing now (`None`: no alias yet), when it must change.
    routing_change: Option<Option<Routing>>,
    /// Prune past this many versions, after publishing one.
    prune: Option<u32>,
}

impl ReleasePlan {
    /// Plans the release from reads only: the state machine's steps, the version the alias
    /// routes to (one this deploy publishes, or the existing version of the same definition) and
    /// whether it moves. `pinned` is the function version the release invokes, `None` when this
    /// deploy publishes it.
    async fn new(
        aws: &Aws,
        config: &DeployConfig,
        name: &StateMachineName,
        desired: &DesiredStateMachine,
        live: &LiveRelease,
        pinned: Option<FunctionVersion>,
        canary: Option<CanaryPercent>,
    ) -> anyhow::Result<Self> {
        let routing = live.routing;
        let shipped = match pinned {
            Some(version) => Some(render_release_definition(config, name, version)?),
            None => None,
        };
        let machine = match &shipped {
            Some(shipped) => StateMachinePlan::new(
                &DesiredStateMachine {
                    definition: shipped.clone(),
                    ..desired.clone()
                },
                live.machine.as_ref(),
            ),
            // A new function version: the definition changes with it.
            None => StateMachinePlan::new(desired, live.machine.as_ref()).with_definition(),
        };
        let mut publish_existing = false;
        let release = match (&machine, &shipped) {
            (StateMachinePlan::Unchanged, Some(shipped)) => {
                match published_release(aws, config, &desired.arn, routing, shipped).await? {
                    Some(version) => ReleaseVersion::Existing(version),
                    None => {
                        publish_existing = true;
                        ReleaseVersion::PublishedAbove
                    }
                }
            }
            _ => ReleaseVersion::PublishedAbove,
        };
        let beside = match (canary, routing) {
            (Some(_), None) => anyhow::bail!(
                "{} has no release yet for a canary to run beside: deploy without --canary first; nothing was changed",
                config.state_machine_alias_arn(name)
            ),
            (Some(_), Some(routing)) if release == ReleaseVersion::Existing(routing.stable) => {
                anyhow::bail!(
                    "this release is version {}, which already takes every new execution: there is nothing to canary; nothing was changed",
                    routing.stable
                )
            }
            (Some(pct), Some(routing)) => Some((routing.stable, pct)),
            (None, _) => None,
        };
        let target = RoutingPlan { release, beside };
        let unchanged = routing.is_some() && target.resolve(None).ok() == routing;
        Ok(Self {
            machine,
            publish_existing,
            target,
            routing_change: (!unchanged).then_some(routing),
            prune: (release == ReleaseVersion::PublishedAbove)
                .then_some(config.state_machines[name].releases.keep.get()),
        })
    }
}

fn plan_steps(
    package: &Package,
    function: &FunctionPlan,
    release: &ReleasePlan,
    alias: &str,
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
    match &release.machine {
        StateMachinePlan::Create => steps.push(Step::CreateStateMachine),
        StateMachinePlan::Update(fields) => steps.push(Step::UpdateStateMachine(fields.clone())),
        StateMachinePlan::Unchanged => {}
    }
    if release.publish_existing {
        steps.push(Step::PublishStateMachineVersion);
    }
    if !tags.is_empty() && release.machine != StateMachinePlan::Create {
        steps.push(Step::TagStateMachine(tags));
    }
    let to = release.target;
    match release.routing_change {
        Some(None) => steps.push(Step::CreateMachineAlias {
            alias: alias.to_owned(),
            to,
        }),
        Some(Some(from)) => steps.push(Step::RouteMachineAlias {
            alias: alias.to_owned(),
            from,
            to,
        }),
        None => {}
    }
    if let Some(keep) = release.prune {
        steps.push(Step::PruneVersions { keep });
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
    /// The function version the release's definition pins (and the function's alias points at).
    pub function_version: Option<String>,
    /// The function's alias.
    pub function_alias_arn: String,
    pub state_machine_arn: String,
    /// The release: the state machine version new executions start on.
    pub state_machine_version_arn: Option<String>,
    /// The state machine alias `start` addresses.
    pub alias_arn: String,
    /// Where the alias sends new executions after the deploy.
    pub routing: Option<Routing>,
    /// Executions running when the deploy started: each finishes on its own version.
    pub running_executions: Vec<RunningExecution>,
    /// State machine versions deleted past `releases.keep`.
    pub pruned_versions: Vec<MachineVersion>,
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
        match &self.function_version {
            Some(version) => println!(
                "  function version: {version} (every Task of the release invokes it; the committed definition names {})",
                self.function_alias_arn
            ),
            None => println!("  function version: the one this deploy publishes"),
        }
        println!("  state machine:    {}", self.state_machine_arn);
        println!(
            "  release:          {}",
            self.state_machine_version_arn
                .as_deref()
                .unwrap_or("the version this deploy publishes")
        );
        match &self.routing {
            Some(routing) => println!("  alias:            {} -> {routing}", self.alias_arn),
            None => println!(
                "  alias:            {} (created by this deploy)",
                self.alias_arn
            ),
        }
        println!(
            "  running:          {} execution(s), each finishing on the version it started on",
            self.running_executions.len()
        );
        if !self.pruned_versions.is_empty() {
            let pruned: Vec<String> = self.pruned_versions.iter().map(|v| v.to_string()).collect();
            println!("  pruned versions:  {}", pruned.join(", "));
        }
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
    if args.promote {
        let aws = Aws::connect(&args.aws, &config).await;
        let change = release::promote(&aws, &config, name, args.dry_run).await?;
        change.print(args.output.format, "promote")?;
        return Ok(ExitCode::SUCCESS);
    }
    let root = workspace_root();
    let committed = reviewed_definition(&config, name, &root)?;
    let desired_machine = DesiredStateMachine::new(&config, name, machine, committed)?;
    let desired_function = DesiredFunction::from_config(&config);
    let machine_arn = desired_machine.arn.clone();
    let alias = machine.releases.alias.as_str();
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
    progress.step("reading the deployed function, state machine and releases");
    let live_function = LiveFunction::read(&aws, &desired_function).await?;
    let live = LiveRelease::read(&aws, &config, name).await?;
    if let Some(note) = release::running_note(alias, &live.running) {
        progress.warn(&note);
    }

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
    // The function version the release pins: known now unless this deploy publishes it.
    let pinned = match function_plan.publish {
        true => None,
        false => live_function
            .aliased_version()
            .and_then(FunctionVersion::parse),
    };
    let release_plan = ReleasePlan::new(
        &aws,
        &config,
        name,
        &desired_machine,
        &live,
        pinned,
        args.canary,
    )
    .await?;
    let tags = live
        .machine
        .as_ref()
        .map(|live| state_machine::missing_tags(&desired_machine, live))
        .unwrap_or_default();
    let steps = plan_steps(&package, &function_plan, &release_plan, alias, tags);

    let mut outcome = Outcome {
        bytes_uploaded: 0,
        function_version: pinned,
        state_machine_version: match release_plan.target.release {
            ReleaseVersion::Existing(version) => Some(version),
            ReleaseVersion::PublishedAbove => None,
        },
        routing: release_plan.target.resolve(None).ok().or(live.routing),
        pruned: Vec::new(),
    };
    if !args.dry_run {
        let version_description = git_version(&root);
        let context = StepContext {
            aws: &aws,
            config: &config,
            name,
            function: &desired_function,
            machine: &desired_machine,
            package: &package,
            version_description: &version_description,
            progress: &progress,
            running: &live.running,
        };
        for (index, step) in steps.iter().enumerate() {
            if let Err(err) = context.run(step, &mut outcome, &mut warnings).await {
                progress.finish();
                return Err(stopped_part_way("deploy", &steps, index, err));
            }
        }
        if release_plan.machine != StateMachinePlan::Unchanged {
            progress.step("waiting until the live definition is ours");
            let version = outcome
                .function_version
                .context("no function version to pin the definition to")?;
            let shipped = DesiredStateMachine {
                definition: render_release_definition(&config, name, version)?,
                ..desired_machine.clone()
            };
            state_machine::wait_converged(&aws, &shipped).await?;
        }
    }
    progress.finish();

    let summary = DeploySummary {
        state_machine: name.to_string(),
        dry_run: args.dry_run,
        lambda_profile: args.lambda_profile,
        code_sha256: package.code_sha256.clone(),
        zip_bytes: package.zip.len(),
        bytes_uploaded: outcome.bytes_uploaded,
        function_version: outcome.function_version.map(|v| v.to_string()),
        function_alias_arn: config.function_alias_arn(),
        state_machine_arn: machine_arn.clone(),
        state_machine_version_arn: outcome.state_machine_version.map(|v| v.arn(&machine_arn)),
        alias_arn: config.state_machine_alias_arn(name),
        routing: outcome.routing,
        running_executions: live.running,
        pruned_versions: outcome.pruned,
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

/// The published version whose definition is `shipped`: one the alias routes to, else the newest
/// listed; `None` when there is none.
async fn published_release(
    aws: &Aws,
    config: &DeployConfig,
    machine_arn: &str,
    routing: Option<Routing>,
    shipped: &str,
) -> anyhow::Result<Option<MachineVersion>> {
    let is_shipped = async |version| -> anyhow::Result<bool> {
        Ok(release::read_release(aws, config, machine_arn, version)
            .await?
            .is_some_and(|release| release.definition == shipped))
    };
    for version in routing.iter().flat_map(Routing::versions) {
        if is_shipped(version).await? {
            return Ok(Some(version));
        }
    }
    let listed = release::list_versions(aws, machine_arn)
        .await?
        .map_err(|warning| {
            anyhow::anyhow!("{warning}: cannot find the version of the deployed definition")
        })?;
    for version in listed {
        if is_shipped(version).await? {
            return Ok(Some(version));
        }
    }
    Ok(None)
}

/// What the steps produced, for the summary.
struct Outcome {
    bytes_uploaded: usize,
    function_version: Option<FunctionVersion>,
    state_machine_version: Option<MachineVersion>,
    routing: Option<Routing>,
    pruned: Vec<MachineVersion>,
}

struct StepContext<'a> {
    aws: &'a Aws,
    config: &'a DeployConfig,
    name: &'a StateMachineName,
    function: &'a DesiredFunction,
    machine: &'a DesiredStateMachine,
    package: &'a Package,
    version_description: &'a str,
    progress: &'a DeploySpinner,
    running: &'a [RunningExecution],
}

impl StepContext<'_> {
    /// The definition to ship: the committed one pinned to the function version.
    fn shipped(&self, outcome: &Outcome) -> anyhow::Result<DesiredStateMachine> {
        let version = outcome
            .function_version
            .context("no published function version to pin the definition to")?;
        Ok(DesiredStateMachine {
            definition: render_release_definition(self.config, self.name, version)?,
            ..self.machine.clone()
        })
    }

    async fn run(
        &self,
        step: &Step,
        outcome: &mut Outcome,
        warnings: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        self.progress.step(format!("{step}"));
        let version_of = |arn: Option<String>| arn.as_deref().and_then(MachineVersion::of_arn);
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
                outcome.function_version = Some(
                    FunctionVersion::parse(&version)
                        .with_context(|| format!("PublishVersion returned `{version}`"))?,
                );
            }
            Step::CreateAlias | Step::MoveAlias { .. } => {
                let version = outcome
                    .function_version
                    .context("no published version to point the alias at")?;
                function::point_alias(
                    self.aws,
                    self.function,
                    matches!(step, Step::CreateAlias),
                    &version.to_string(),
                )
                .await?;
            }
            Step::CreateStateMachine => {
                let shipped = self.shipped(outcome)?;
                outcome.state_machine_version = version_of(
                    state_machine::create(self.aws, &shipped, self.version_description).await?,
                );
            }
            Step::UpdateStateMachine(_) => {
                let shipped = self.shipped(outcome)?;
                outcome.state_machine_version = version_of(
                    state_machine::update(self.aws, &shipped, self.version_description).await?,
                );
            }
            Step::PublishStateMachineVersion => {
                outcome.state_machine_version = version_of(Some(
                    state_machine::publish(self.aws, &self.machine.arn, self.version_description)
                        .await?,
                ));
            }
            Step::TagStateMachine(tags) => {
                state_machine::tag(self.aws, &self.machine.arn, tags).await?;
            }
            Step::CreateMachineAlias { alias, to } | Step::RouteMachineAlias { alias, to, .. } => {
                let routing = to.resolve(outcome.state_machine_version)?;
                let create = matches!(step, Step::CreateMachineAlias { .. });
                release::route_alias(self.aws, &self.machine.arn, alias, create, routing).await?;
                outcome.routing = Some(routing);
            }
            Step::PruneVersions { keep } => {
                let routing = outcome
                    .routing
                    .context("the alias routes nowhere: nothing is pruned before it does")?;
                match release::list_versions(self.aws, &self.machine.arn).await? {
                    Ok(versions) => {
                        let pruned =
                            release::prunable(&versions, *keep as usize, routing, self.running);
                        release::delete_versions(self.aws, &self.machine.arn, &pruned).await?;
                        outcome.pruned = pruned;
                    }
                    Err(warning) => {
                        let warning = format!("{warning}: no version was pruned");
                        self.progress.warn(&warning);
                        warnings.push(warning);
                    }
                }
            }
        }
        Ok(())
    }
}

pub async fn diff_main(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let (name, _) = config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;
    let aws = Aws::connect(&args.aws, &config).await;
    let arn = config.state_machine_arn(name);
    // What new executions run: the alias's stable release, else (before the first release)
    // the state machine's current definition.
    let live = match release::read_routing(&aws, &config.state_machine_alias_arn(name)).await? {
        Some(routing) => release::read_release(&aws, &config, &arn, routing.stable)
            .await?
            .map(|release| (Some(release.version), release.definition)),
        None => state_machine::read(&aws, &arn, false)
            .await?
            .map(|live| (None, live.definition)),
    };
    let differs = match live {
        None => {
            println!("{name} is not deployed ({arn}): everything would be created");
            true
        }
        Some((version, live)) => {
            // The local definition pinned to the function version the live one invokes, so
            // that only what the pipeline changes shows.
            let pinned = FunctionVersion::pinned_in(&live, &config.function_arn());
            let local = match pinned {
                Some(function) => render_release_definition(&config, name, function)?,
                None => render_definition(&config, name)?,
            };
            let what = match (version, pinned) {
                (Some(version), Some(function)) => {
                    format!("release {version} (function version {function})")
                }
                (Some(version), None) => format!("release {version}"),
                (None, _) => "deployed definition".to_owned(),
            };
            match diff::compare(&live, &local, std::io::stdout().is_terminal())? {
                diff::DefinitionDiff::Same => {
                    println!("no differences: the {what} of {name} is the local definition");
                    false
                }
                diff::DefinitionDiff::Differs(text) => {
                    println!("the {what} of {name} (-) against the local definition (+):");
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
