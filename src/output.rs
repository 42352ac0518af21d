//! How a command prints its result: aligned text for people, or one JSON document for scripts,
//! written so that a failed write is one error line, never a panic.

use std::io::Write;

/// `--output text|json`: declared once, flattened into every command that prints a report (`run`,
/// `deploy`, `start`, `status`, `bootstrap`, `redrive`, `conformance`).
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct OutputArgs {
    /// How the report is printed: `text` for people, `json` for scripts.
    #[arg(id = "output", long = "output", value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// The format of a command's report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned lines for people.
    #[default]
    Text,
    /// One JSON document on stdout (progress and notes go to stderr).
    Json,
}

/// Writes `text` to stdout and flushes it. A reader that went away (a closed pipe: `| head`) is
/// not an error: nothing is said and the command ends as it would have, exit status included, as
/// well-behaved filters do. Any other failure (a full disk: `> /dev/full`) is the error
/// `cannot write to stdout: ...`.
pub fn to_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(anyhow::anyhow!("cannot write to stdout: {error}")),
        Ok(()) => Ok(()),
    }
}
