//! `HandlerError`: what a handler fails with. Its `name` is the Lambda `errorType` the state
//! machine's Retry/Catch matches; its message names fields, ids and URIs only, never data values
//! (no SSN, no date from the warehouse, no driver message that could quote a row).

use std::fmt;

use crate::contract::{ChunkId, ChunkStoreUri, ContractError, HandlerErrorName};

/// What a handler fails with: a Lambda `errorType` and a message free of data values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct HandlerError {
    /// The Lambda `errorType` a Retry or Catch matches.
    pub name: HandlerErrorName,
    /// What failed, naming fields, ids and URIs only.
    pub message: String,
}

impl HandlerError {
    /// An error named `name`; `message` must hold no data value.
    pub fn new(name: HandlerErrorName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    /// The request does not match the contract; `field` is its JSON path.
    pub fn invalid_input(field: &str, rule: impl fmt::Display) -> Self {
        Self::new(
            HandlerErrorName::InvalidInput,
            format!("`{field}` {rule}; fix the request to match the handler's input schema"),
        )
    }

    /// The chunk (or manifest, per `what`) is not in the store at `uri`: `Task02.ChunkNotFound`.
    pub fn chunk_not_found(what: &str, chunk_id: Option<ChunkId>, uri: &ChunkStoreUri) -> Self {
        let chunk = chunk_id.map_or(String::new(), |id| format!(" for chunk {id}"));
        Self::new(
            HandlerErrorName::ChunkNotFound,
            format!(
                "{what}{chunk} not found under {uri}; run GetTask02Chunks for this execution first"
            ),
        )
    }

    /// A warehouse or store failure that may pass on retry. `operation` says what was being done;
    /// `detail` must be free of data values (an error code, a safe driver message).
    pub fn transient(operation: &str, detail: impl fmt::Display) -> Self {
        Self::new(
            HandlerErrorName::Transient,
            format!("{operation} failed: {detail}"),
        )
    }
}

impl From<ContractError> for HandlerError {
    fn from(error: ContractError) -> Self {
        Self::invalid_input(error.field, error.rule)
    }
}

impl From<rusqlite::Error> for HandlerError {
    /// SQLite's messages name tables, columns and constraints, never bound values.
    fn from(error: rusqlite::Error) -> Self {
        Self::transient("SQLite", error)
    }
}

impl From<tokio_postgres::Error> for HandlerError {
    /// PostgreSQL's message and DETAIL can quote a key (an SSN), so only the SQLSTATE code is
    /// kept: it is enough to look the failure up.
    fn from(error: tokio_postgres::Error) -> Self {
        match error.code() {
            Some(code) => Self::transient("PostgreSQL", format_args!("SQLSTATE {}", code.code())),
            None if error.is_closed() => Self::transient("PostgreSQL", "connection closed"),
            None => Self::transient("PostgreSQL", "connection or protocol error"),
        }
    }
}

#[cfg(feature = "runtime")]
impl From<HandlerError> for lambda_runtime::Diagnostic {
    /// The Lambda `errorType` is the contract's error name, which the state machine matches.
    fn from(error: HandlerError) -> Self {
        Self {
            error_type: error.name.as_str().to_owned(),
            error_message: error.message,
        }
    }
}
