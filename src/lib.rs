//! cm-etl: the checks, local runner and deployer of the cm-etl-pipeline-phase2 Step Functions
//! pipeline, and its command line.
//!
//! Dependencies run one way: the `asl` crate (the typed Amazon States Language model) knows
//! nothing of this pipeline or of AWS; the `pipeline` crate writes the one state machine with
//! `asl` and the handler contract (`etl_lambda::contract`); `synth`, `runner`, `deploy` and
//! `execution`, `bootstrap` and `conformance` here build on those. `deploy`, `execution`,
//! `bootstrap` and `run` (with an S3 chunk store) call AWS, only through `aws`.

pub use asl;
pub use pipeline;

pub mod aws;
pub mod bootstrap;
pub mod config;
pub mod conformance;
pub mod cost;
pub mod deploy;
pub mod execution;
pub mod iam;
pub mod output;
pub mod runner;
pub mod synth;
