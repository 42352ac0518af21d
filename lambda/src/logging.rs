//! The bootstrap's log subscriber: JSON lines of tracing events. Handlers log ids and counts only.
//! Deliberately no bridge from the `log` crate: tokio-postgres logs statement parameters (SSNs)
//! at debug level through `log`, and those records must go nowhere, whatever `RUST_LOG` says.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// A JSON subscriber writing to `writer`, filtered by `filter` (an `EnvFilter` directive string
/// such as `info` or `etl_lambda=debug`).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
}
