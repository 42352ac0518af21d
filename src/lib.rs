//! cm-etl: the typed definition, checks, local runner and deployer of the cm-etl-pipeline-phase2
//! Step Functions pipeline.
//!
//! Dependencies run one way: `asl` (the typed Amazon States Language model) knows nothing of this
//! pipeline or of AWS; `pipeline` writes the one state machine with `asl` and the handler contract
//! (`etl_lambda::contract`); `synth`, `runner`, `deploy` and `execution` build on those, and only
//! `deploy` and `execution` call AWS (through `aws`).

pub mod asl;
pub mod aws;
pub mod aws_error;
pub mod bootstrap;
pub mod config;
pub mod deploy;
pub mod execution;
pub mod output;
pub mod pipeline;
pub mod runner;
pub mod synth;
