//! The `cm-etl` command line: routes each subcommand to the module that owns it and turns errors
//! into one message and a non-zero exit.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cm_etl::{bootstrap, deploy, execution, runner, synth};

/// Define, check, run and deploy the cm-etl-pipeline-phase2 Step Functions pipeline.
#[derive(Parser)]
#[command(name = "cm-etl", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Synth(synth::SynthArgs),
    Run(runner::RunArgs),
    Diff(deploy::diff::DiffArgs),
    Deploy(deploy::DeployArgs),
    Releases(deploy::release::ReleasesArgs),
    Rollback(deploy::release::RollbackArgs),
    Start(execution::StartArgs),
    Status(execution::StatusArgs),
    Bootstrap(bootstrap::BootstrapArgs),
    Redrive(execution::RedriveArgs),
    Conformance(cm_etl::conformance::ConformanceArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            eprintln!("{}", one_line(&err.render().to_string()));
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Command::Synth(args) => synth::main(args),
        Command::Run(args) => runner::main(args).await,
        Command::Diff(args) => deploy::diff::main(args).await,
        Command::Deploy(args) => deploy::main(args).await,
        Command::Releases(args) => deploy::release::releases_main(args).await,
        Command::Rollback(args) => deploy::release::rollback_main(args).await,
        Command::Start(args) => execution::start_main(args).await,
        Command::Status(args) => execution::status_main(args).await,
        Command::Bootstrap(args) => bootstrap::main(args).await,
        Command::Redrive(args) => execution::redrive_main(args).await,
        Command::Conformance(args) => cm_etl::conformance::main(args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// clap's message on one line: its lines up to the usage hint it appends, joined. Every error of
/// the command line is one line, like every other error of cm-etl.
fn one_line(message: &str) -> String {
    message
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks over every command (unique argument ids across flattened
    /// groups, valid defaults), which otherwise fire only when that command is parsed.
    #[test]
    fn every_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
