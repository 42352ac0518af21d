//! The `etl-lambda` binary, deployed as the zip entry `bootstrap`: the Lambda runtime loop around
//! the handlers.
//!
//! Configuration comes from the environment deploy sets (see `etl_lambda::settings`): the
//! warehouse secret's ARN (or `DATABASE_URL` for local runs), `CHUNK_STORE_URI`, optional
//! `WAREHOUSE_INSECURE_TRANSPORT`, `WAREHOUSE_CREATE_SCHEMA=true` and `RUST_LOG`. Logs are JSON lines carrying ids and counts only.

use etl_lambda::logging;
use etl_lambda::settings::FunctionSettings;
use etl_lambda::{HandlerError, Handlers};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = logging::filter(std::env::var("RUST_LOG").ok().as_deref());
    tracing::subscriber::set_global_default(logging::json_subscriber(filter, std::io::stdout))?;

    let handlers = cold_start().await.inspect_err(|error| {
        tracing::error!(error_type = error.name.as_str(), reason = %error.message, "cold start failed");
    })?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handlers = handlers.clone();
        async move { handlers.handle_json(event.payload).await }
    }))
    .await
}

async fn cold_start() -> Result<Handlers, HandlerError> {
    let settings = FunctionSettings::from_env(|name| std::env::var(name).ok())?;
    let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let handlers = settings.handlers(&sdk_config).await?;
    let warehouse = handlers.warehouse();
    tracing::info!(
        engine = warehouse.engine_name(),
        encrypted = warehouse.encrypted().await?,
        "handlers ready"
    );
    Ok(handlers)
}
