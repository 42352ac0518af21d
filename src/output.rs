//! How a command prints its result: aligned text for people, or one JSON document for scripts.

/// The `--output` flag of `run`, `deploy`, `start` and `status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned lines for people.
    #[default]
    Text,
    /// One JSON document on stdout (progress and notes go to stderr).
    Json,
}
