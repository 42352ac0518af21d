//! The `bootstrap` binary: the Lambda runtime loop around the handlers.
//!
//! Configuration (environment): `DATABASE_URL` (the warehouse, see `Warehouse::connect`),
//! `CHUNK_STORE_URI` (the base chunk store, `s3://bucket/prefix/`), optional
//! `WAREHOUSE_CREATE_SCHEMA=true` (create missing tables at cold start) and `RUST_LOG`. Logs are
//! JSON lines carrying ids and counts only.

use etl_lambda::contract::{ChunkStoreUri, ErrorName};
use etl_lambda::logging::json_subscriber;
use etl_lambda::{HandlerError, Handlers, Warehouse};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout))?;

    let handlers = handlers_from_env().await.inspect_err(|error| {
        tracing::error!(error_type = error.name.as_str(), reason = %error.message, "cold start failed");
    })?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handlers = handlers.clone();
        async move { handlers.handle_json(event.payload).await }
    }))
    .await
}

async fn handlers_from_env() -> Result<Handlers, HandlerError> {
    let database_url = match (env("DATABASE_URL"), env("WAREHOUSE_SECRET_ARN")) {
        (Some(url), _) => url,
        (None, Some(_)) => {
            return Err(HandlerError::new(
                ErrorName::InvalidInput,
                "WAREHOUSE_SECRET_ARN is set but reading the URL from Secrets Manager is not built \
                 in; set DATABASE_URL instead",
            ));
        }
        (None, None) => {
            return Err(config_error(
                "DATABASE_URL is not set; give sqlite://PATH or postgres://...",
            ));
        }
    };
    let chunk_store = env("CHUNK_STORE_URI")
        .ok_or_else(|| config_error("CHUNK_STORE_URI is not set; give s3://bucket/prefix/"))?;
    let chunk_store = ChunkStoreUri::new(chunk_store).map_err(|_| {
        config_error("CHUNK_STORE_URI must be s3://bucket/prefix/ or file:///directory/")
    })?;
    let warehouse = Warehouse::connect(&database_url).await?;
    if env("WAREHOUSE_CREATE_SCHEMA").as_deref() == Some("true") {
        warehouse.create_schema().await?;
    }
    tracing::info!(engine = warehouse.engine_name(), "handlers ready");
    Ok(Handlers::new(warehouse, chunk_store))
}

/// The function's configuration is wrong: not retryable, and no request to blame.
fn config_error(message: &str) -> HandlerError {
    HandlerError::new(ErrorName::InvalidInput, message)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
