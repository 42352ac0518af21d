//! `start` and `status`: run the deployed pipeline and follow it chunk by chunk.

use std::process::ExitCode;

/// Start an execution of a deployed state machine.
#[derive(clap::Args, Debug)]
pub struct StartArgs {}

/// Report on an execution.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {}

pub async fn start_main(_args: StartArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("start is not built yet")
}

pub async fn status_main(_args: StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("status is not built yet")
}
