//! `run`: executes the committed definition locally with the real handlers, under AWS's limits.

pub mod definition;
pub mod engine;
pub mod lambda;
pub mod path;
pub mod template;

use std::process::ExitCode;

/// Run the committed definition locally on an embedded SQLite warehouse.
#[derive(clap::Args, Debug)]
pub struct RunArgs {}

pub async fn main(_args: RunArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("run is not built yet")
}
