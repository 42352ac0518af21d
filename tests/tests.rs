//! The integration tests of `cm-etl`, one binary (ripgrep's layout): each module is one area,
//! and says at its top what it checks. Run one area with
//! `bash tests/run.sh -- --test integration deploy::`.
//!
//! The tests that use the moto server reset it, so they take [`support::serial`] and run one at a
//! time; the others run alongside them.

mod bootstrap;
mod conformance;
mod definition;
mod deploy;
mod design_note;
mod differential;
mod docs;
mod execution;
mod redrive;
mod releases;
mod run;
mod run_privacy;
mod run_s3;
mod support;
