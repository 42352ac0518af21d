//! The Lambda binary's log subscriber: JSON lines of tracing events, filtered by `RUST_LOG`
//! ([`filter`]). Handlers log ids and counts only.
//!
//! Whatever `RUST_LOG` says, two sources never reach a line:
//! - the `log` crate: there is deliberately no bridge from it, since tokio-postgres logs statement
//!   parameters (SSNs) at debug level through `log`;
//! - the AWS SDK's events that print a whole HTTP request or response, or what is signed
//!   (`aws_smithy_runtime`'s "transmitting request", "received response from service" and "read
//!   HTTP response body", `aws_sigv4`'s canonical request): a body there may be a chunk object,
//!   which holds SSNs, or a secret. They are dropped by their field names ([`SDK_BODY_FIELDS`]),
//!   so the SDK's other events (phases, retries, endpoints, timings) still log at `trace`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The crates of the AWS SDK whose events are checked for [`SDK_BODY_FIELDS`].
pub const SDK_TARGETS: [&str; 4] = ["aws_smithy_", "aws_sigv4", "aws_runtime", "aws_sdk_"];

/// The fields by which an SDK event prints an HTTP request or response (with its body) or what
/// it signs; an SDK event with any of them is never logged.
pub const SDK_BODY_FIELDS: [&str; 5] = [
    "request",
    "response",
    "canonical_request",
    "string_to_sign",
    "body",
];

/// The filter for `RUST_LOG`'s value (`info` when unset or invalid), e.g. `trace` or
/// `etl_lambda=debug`.
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// Whether an event or span may be logged at all: not an SDK event printing a body.
fn not_a_body(metadata: &tracing::Metadata<'_>) -> bool {
    let sdk = SDK_TARGETS
        .iter()
        .any(|target| metadata.target().starts_with(target));
    !(sdk
        && SDK_BODY_FIELDS
            .iter()
            .any(|name| metadata.fields().field(name).is_some()))
}

/// A JSON subscriber writing to `writer`, filtered by `filter` (see [`filter`]), never logging
/// the SDK's bodies.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_target(false)
        .with_writer(writer)
        .with_filter(filter.and(filter_fn(not_a_body)));
    tracing_subscriber::registry().with(layer)
}
