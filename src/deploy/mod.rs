//! `deploy` and `diff`: build, package and ship the Lambda and the state machine, and compare the
//! local definition with the deployed one.
//!
//! Deploy reads everything first (ValidateStateMachineDefinition, the function, its alias, the
//! state machine and its tags), builds and zips the Lambda, turns the differences into a list of
//! steps, and only then writes, step by step, each an idempotent upsert. `--dry-run` stops after
//! the plan. A failure part way names the steps done and the steps not done; a re-run plans again
//! from what is live, so it continues where the last run stopped.
//!
//! This module holds the command flow (`main`); `plan` turns reads into steps, `apply` carries
//! them out, `summary` reports them. It calls AWS only through `crate::aws`.

mod apply;
pub mod diff;
pub mod function;
pub mod package;
mod plan;
mod progress;
pub mod release;
pub mod state_machine;
mod summary;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context;

use self::apply::{Outcome, StepContext};
use self::function::{DesiredFunction, FunctionPlan, LiveFunction};
use self::package::{BuildProfile, LambdaBuild, Package};
use self::plan::{LiveRelease, ReleasePlan, ReleaseVersion, Step, plan_steps};
use self::progress::DeploySpinner;
use self::release::CanaryPercent;
use self::state_machine::{DesiredStateMachine, StateMachinePlan, Validation};
pub use self::summary::DeploySummary;
use crate::aws::error::stopped_part_way;
use crate::aws::{AwsArgs, AwsClients};
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

pub async fn main(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = args.config.load()?;
    let (name, machine) =
        config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;
    if args.promote {
        let aws = AwsClients::connect(&args.aws, &config).await;
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
    let aws = AwsClients::connect(&args.aws, &config).await;
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
        "building the Lambda binary ({}, {})",
        args.lambda_profile.as_str(),
        config.function.architecture.as_str()
    ));
    let build_started = Instant::now();
    let binary =
        LambdaBuild::new(&root, config.function.architecture, args.lambda_profile).run()?;
    let build_seconds = build_started.elapsed().as_secs_f64();
    let package = Package::from_binary(&binary)?;

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
