//! The Lambda crate's integration tests, one binary (each test binary links the AWS SDK): each
//! module is one area, and says at its top what it checks. Run one area with
//! `bash tests/run.sh -- -p etl-lambda --test integration task02::`.

mod common;
mod packing;
mod redaction;
mod rerun;
mod s3_redaction;
mod s3_store;
mod secret;
mod task02;
mod tls;
