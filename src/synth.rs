//! `synth`: renders the pipeline to the committed definition files and checks they are current.

use std::process::ExitCode;

/// Render the pipeline to definitions/ (or check that the committed files are current).
#[derive(clap::Args, Debug)]
pub struct SynthArgs {}

pub fn main(_args: SynthArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("synth is not built yet")
}
