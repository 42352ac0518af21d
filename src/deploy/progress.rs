//! The spinner deploy shows on stderr while it reads, builds and writes, and its warnings.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::ProgressBar;

/// The spinner deploy shows on a terminal; nothing otherwise.
pub(super) struct DeploySpinner(Option<ProgressBar>);

impl DeploySpinner {
    pub(super) fn new() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            Self(Some(bar))
        } else {
            Self(None)
        }
    }

    pub(super) fn step(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }

    /// A `warning:` line on stderr, above the spinner when there is one.
    pub(super) fn warn(&self, message: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| eprintln!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
