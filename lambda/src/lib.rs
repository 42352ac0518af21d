//! The cm-etl-pipeline-phase2 Lambda function.
//!
//! `contract` is always compiled and shared with the CLI; the handlers, the warehouse and the chunk
//! store need the `handlers` feature, and the Lambda runtime loop (the `etl-lambda` binary) needs
//! `runtime`.
//!
//! Entry points with `handlers`: [`Handlers::handle`] (one request in, one JSON value or a named
//! [`HandlerError`] out), [`Warehouse::connect`], [`ChunkStore::open`] and [`SampleData`].

pub mod contract;

#[cfg(feature = "handlers")]
pub mod chunks;
#[cfg(feature = "handlers")]
pub mod error;
#[cfg(feature = "handlers")]
pub mod handlers;
#[cfg(feature = "runtime")]
pub mod logging;
#[cfg(feature = "handlers")]
pub mod objects;
#[cfg(feature = "handlers")]
pub mod sample;
#[cfg(feature = "runtime")]
pub mod settings;
#[cfg(feature = "handlers")]
pub mod ssn;
#[cfg(feature = "handlers")]
pub mod store;
#[cfg(feature = "handlers")]
pub mod warehouse;

#[cfg(feature = "handlers")]
pub use {
    chunks::{ChunkKey, ChunkPacker, Manifest, StoredChunk},
    error::HandlerError,
    handlers::Handlers,
    objects::{ObjectError, ObjectStore, RequestCounts},
    sample::SampleData,
    ssn::Ssn,
    store::{ChunkStore, ChunkStores},
    warehouse::{Warehouse, WarehouseCounts},
};
