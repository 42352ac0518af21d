//! The cm-etl-pipeline-phase2 Lambda function.
//!
//! `contract` is always compiled and shared with the CLI; the handlers, the warehouse and the chunk
//! store need the `handlers` feature, and the Lambda runtime loop (the `bootstrap` binary) needs
//! `runtime`.

pub mod contract;
