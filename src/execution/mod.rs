//! `start` and `status`: run the deployed pipeline and follow it chunk by chunk.
//!
//! `start` checks the input against `PipelineInput` and names the execution before any AWS call,
//! then starts it; `--wait` and `status` look at the execution through DescribeExecution, its
//! history (Map iterations, the failing state) and DescribeMapRun (a Distributed Map's items).
//! Following never stops an execution: Ctrl-C only stops watching it. `redrive` restarts a
//! failed execution and can follow it the same way.

mod follow;
mod history;
mod input;
mod redrive;
mod report;
mod resolve;

use std::path::PathBuf;
use std::process::ExitCode;

pub use history::MapIterations;
pub use report::{ExecutionReport, Status};

use crate::aws::{AwsArgs, AwsClients};
use crate::config::{ConfigArgs, DeployConfig, StateMachineArgs};
use crate::output::{OutputArgs, OutputFormat, to_stdout};
use follow::{ExecutionProgress, ExecutionWatch};

/// Exit code when Ctrl-C stops the following (the execution keeps running).
const INTERRUPTED: u8 = 130;

/// Start an execution of a deployed state machine, and with --wait follow it until it ends.
///
/// Exit status with --wait: 0 when the execution SUCCEEDED, 1 when it FAILED, TIMED_OUT or was
/// ABORTED, 130 when Ctrl-C stopped the following (the execution keeps running), 2 on an error.
#[derive(clap::Args, Debug)]
pub struct StartArgs {
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    /// The pipeline input, e.g. '{"date_range":{"from":"2024-01-01","to":"2024-01-31"}}'.
    #[arg(long, value_name = "JSON", conflicts_with = "input_file")]
    pub input: Option<String>,
    /// Read the pipeline input from this file.
    #[arg(long, value_name = "PATH")]
    pub input_file: Option<PathBuf>,
    /// The execution name (default: a new sortable one, like 20261126T161320.123Z-3f9a1c).
    #[arg(long, value_name = "EXECUTION")]
    pub name: Option<String>,
    /// Follow the execution until it ends, then report how it went.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// An execution a command looks at: its ARN, or its name under a state machine of deploy.toml,
/// and where to find it.
#[derive(clap::Args, Debug)]
pub struct ExecutionTarget {
    /// The execution's ARN, or its name (then the state machine comes from --state-machine or
    /// deploy.toml).
    #[arg(value_name = "EXECUTION_ARN_OR_NAME")]
    pub execution: String,
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Report on an execution that is running or finished.
///
/// Exit status: 0 when it SUCCEEDED or is still running, 1 when it FAILED, TIMED_OUT or was
/// ABORTED, 130 when Ctrl-C stopped --wait, 2 on an error.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: ExecutionTarget,
    /// Follow the execution until it ends.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Redrive a FAILED, TIMED_OUT or ABORTED execution: it restarts from the states that did not
/// succeed (its chunks are kept until the bucket's lifecycle rule expires them, and processing a
/// chunk again is idempotent). AWS redrives within 14 days of the stop.
///
/// Exit status: 0 once AWS accepted the redrive; with --wait, as `status --wait`; 2 on an error
/// (a running or succeeded execution, or one too old to redrive).
#[derive(clap::Args, Debug)]
pub struct RedriveArgs {
    #[command(flatten)]
    pub target: ExecutionTarget,
    /// Follow the redriven execution until it ends.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn start_main(args: StartArgs) -> anyhow::Result<ExitCode> {
    // Everything that can be checked locally is checked before the first AWS call.
    let input = input::pipeline_input(args.input.as_deref(), args.input_file.as_deref())?;
    let name = input::execution_name(args.name.as_deref())?;
    let config = args.config.load()?;
    let (machine, _) =
        config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;

    let aws = AwsClients::connect(&args.aws, &config).await;
    let machine_arn = resolve::state_machine_arn(&aws, &config, machine).await?;
    // The alias: new executions start on the release it routes to, and run on it to the end.
    let alias = &config.state_machines[machine].releases.alias;
    let alias_arn = format!("{machine_arn}:{alias}");
    let started = aws
        .sfn
        .start_execution()
        .state_machine_arn(&alias_arn)
        .name(name.as_str())
        .input(input)
        .send()
        .await
        .map_err(|err| {
            let service = err.as_service_error();
            if service.is_some_and(|e| e.is_execution_already_exists()) {
                anyhow::anyhow!(
                    "an execution named `{name}` already exists for {machine_arn}; pass another \
                     --name, or leave it out for a new one"
                )
            } else if service.is_some_and(|e| e.is_state_machine_does_not_exist()) {
                anyhow::anyhow!(
                    "{machine_arn} has no alias `{alias}` to start on: deploy it with \
                     `cm-etl deploy --state-machine {machine}`, which publishes a release and \
                     routes the alias to it"
                )
            } else {
                aws.fail(&err, "StartExecution")
            }
        })?;
    let execution_arn = started.execution_arn().to_owned();
    match args.output.format {
        OutputFormat::Text => to_stdout(&format!("{execution_arn}\n"))?,
        OutputFormat::Json => eprintln!("started {execution_arn}"),
    }
    if !args.wait {
        if args.output.format == OutputFormat::Json {
            let report = ExecutionWatch::new(&aws, &execution_arn).observe().await?;
            to_stdout(&format!("{}\n", report.to_json()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    watch(&aws, &execution_arn, true, args.output.format).await
}

pub async fn status_main(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let config = args.target.config.load()?;
    let (aws, execution_arn) = connect_to_execution(&args.target, &config).await?;
    watch(&aws, &execution_arn, args.wait, args.output.format).await
}

pub async fn redrive_main(args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let config = args.target.config.load()?;
    let (aws, execution_arn) = connect_to_execution(&args.target, &config).await?;
    let expire_after_days = config.chunk_store.expire_after_days.get();
    let redriven = redrive::redrive(&aws, &execution_arn, expire_after_days).await?;
    let line = format!(
        "redrove {} at {}",
        redriven.execution_arn, redriven.redrive_date
    );
    match (args.output.format, args.wait) {
        (OutputFormat::Text, _) => println!("{line}"),
        (OutputFormat::Json, true) => eprintln!("{line}"),
        (OutputFormat::Json, false) => println!("{}", serde_json::to_string_pretty(&redriven)?),
    }
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    redrive::wait_until_restarted(&aws, &redriven).await?;
    watch(&aws, &execution_arn, true, args.output.format).await
}

/// The AWS clients and the execution ARN that `target` means: an ARN as it is, or a bare name
/// under the state machine (`--state-machine`, or the only one in deploy.toml). What can be
/// checked locally is checked before the clients are built.
async fn connect_to_execution(
    target: &ExecutionTarget,
    config: &DeployConfig,
) -> anyhow::Result<(AwsClients, String)> {
    let given = target.execution.as_str();
    let bare_name = if given.starts_with("arn:") {
        None
    } else {
        let name = input::execution_name(Some(given)).map_err(|_| {
            anyhow::anyhow!(
                "`{given}` is neither an execution ARN nor an execution name (1 to 80 of A-Z a-z 0-9 - _ .)"
            )
        })?;
        let (machine, _) =
            config.state_machine(target.state_machine.name.as_deref(), &target.config.path)?;
        Some((name, machine))
    };
    let aws = AwsClients::connect(&target.aws, config).await;
    let execution_arn = match bare_name {
        Some((name, machine)) => {
            let machine_arn = resolve::state_machine_arn(&aws, config, machine).await?;
            resolve::execution_arn(&machine_arn, name.as_str())?
        }
        None => given.to_owned(),
    };
    Ok((aws, execution_arn))
}

/// Looks at the execution once, or follows it until it ends (until Ctrl-C, which leaves it
/// running), prints the report and turns its status into the exit code.
async fn watch(
    aws: &AwsClients,
    execution_arn: &str,
    wait: bool,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let mut observer = ExecutionWatch::new(aws, execution_arn);
    let report = if wait {
        let progress = ExecutionProgress::on_stderr();
        tokio::select! {
            report = follow::follow(&mut observer, &progress) => report?,
            _ = tokio::signal::ctrl_c() => {
                progress.finish();
                eprintln!(
                    "stopped following; the execution keeps running. Follow it again with:\n  \
                     cm-etl status {execution_arn} --wait"
                );
                return Ok(ExitCode::from(INTERRUPTED));
            }
        }
    } else {
        observer.observe().await?
    };
    match output {
        OutputFormat::Text => to_stdout(&report.to_string())?,
        OutputFormat::Json => to_stdout(&format!("{}\n", report.to_json()))?,
    }
    Ok(match report.status {
        Status::Succeeded | Status::Running => ExitCode::SUCCESS,
        Status::Failed | Status::TimedOut | Status::Aborted | Status::PendingRedrive => {
            ExitCode::FAILURE
        }
    })
}
