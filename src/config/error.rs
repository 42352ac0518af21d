//! Why deploy.toml could not be used, as one line naming the file, the line, the key and what to
//! do: the error type, and finding the line of a TOML error or of a key.

use std::path::{Path, PathBuf};

use etl_lambda::warehouse::database_url;

/// `deploy.toml` could not be used: one line naming the file, the line, the key and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}; run from the repository root or pass --config PATH")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}{}: {message}", line.map(|n| format!(" line {n}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error(
        "{path} has no [state_machines.{name}] table; the state machines it defines are: {known}"
    )]
    UnknownStateMachine {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error("{path} defines several state machines ({known}); pass --state-machine NAME")]
    SeveralStateMachines { path: PathBuf, known: String },
}

/// The text of a deploy.toml being parsed, for errors that point at a line.
pub(super) struct Source<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// A TOML syntax or type error as one line (toml's own message spans five, with a snippet).
    /// `key` is the dotted path serde was reading.
    pub(super) fn toml_error(&self, error: &toml::de::Error, key: Option<String>) -> ConfigError {
        let span = error.span();
        let mut message = error.message().trim_end().replace('\n', "; ");
        // serde may quote the value it refused; a URL there must not show its password.
        if let Some(value) = span.as_ref().and_then(|span| self.text.get(span.clone())) {
            let value = value.trim_matches(['"', '\'']);
            if database_url::has_password(value) {
                message = message.replace(value, &database_url::redacted(value));
            }
        }
        let what_to_do = if message.starts_with("unknown field") {
            "; fix its name or remove it (docs/deploy-toml.md lists every key)"
        } else if message.starts_with("missing field") {
            "; add it (see the committed deploy.toml)"
        } else {
            ""
        };
        let message = match key.filter(|key| !key.is_empty() && key != ".") {
            Some(key) => format!("`{key}`: {message}{what_to_do}"),
            None => format!("{message}{what_to_do}"),
        };
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: span.map(|span| self.line_of(span.start)),
            message,
        }
    }

    /// An error about the value of `key` (a path of table names and a key), on its line.
    pub(super) fn key_error(
        &self,
        document: &toml::de::DeTable<'_>,
        key: &[&str],
        message: String,
    ) -> ConfigError {
        let mut table = Some(document);
        let mut offset = None;
        for name in key {
            let Some((found, value)) =
                table.and_then(|t| t.iter().find(|(k, _)| k.get_ref() == name))
            else {
                break;
            };
            offset = Some(found.span().start);
            table = value.get_ref().as_table();
        }
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: offset.map(|offset| self.line_of(offset)),
            message,
        }
    }
}
