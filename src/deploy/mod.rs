//! `deploy` and `diff`: build, package and ship the Lambda and the state machine.

use std::process::ExitCode;

/// Build the Lambda, then create or update the function and the state machine.
#[derive(clap::Args, Debug)]
pub struct DeployArgs {}

/// Compare the local definition with the deployed one.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {}

pub async fn main(_args: DeployArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("deploy is not built yet")
}

pub async fn diff_main(_args: DiffArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("diff is not built yet")
}
