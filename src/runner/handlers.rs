//! The real Task 02 handlers (`etl_lambda::Handlers`) as an in-process Lambda function.
//!
//! Each simulated execution environment connects to the warehouse on its first invocation (the
//! Lambda init phase) and keeps that connection while it stays warm, as the deployed `bootstrap`
//! does; the chunk store is deploy.toml's `s3://` URI on the run's object store (a local stand-in
//! for S3, or an S3-compatible endpoint).

use etl_lambda::contract::{Action, ChunkStoreUri, ChunksDeleted};
use etl_lambda::{ChunkStores, HandlerError, Handlers, Warehouse};
use futures::future::BoxFuture;
use serde_json::Value;

use super::function::{ExecutionEnvironment, LambdaError, LambdaFunction};

/// The deployed function's handlers, run in process.
pub struct InProcessHandlers {
    database_url: String,
    chunk_store: ChunkStoreUri,
    stores: ChunkStores,
    /// SQLite has one writer at a time: concurrent chunks would only queue on its lock, and past
    /// its busy timeout fail with "database is locked" (retries on virtual time do not wait for
    /// the lock to clear). So invocations against SQLite take turns; the Map, its environments
    /// and its virtual schedule stay concurrent. PostgreSQL runs them truly in parallel.
    sqlite_writer: Option<tokio::sync::Mutex<()>>,
    /// `run --keep-chunks`: DeleteTask02Chunks answers as if it had deleted nothing.
    keep_chunks: bool,
}

impl InProcessHandlers {
    /// The chunk stores on S3 through the default AWS configuration, as deployed.
    pub fn new(database_url: String, chunk_store: ChunkStoreUri) -> Self {
        Self::with_stores(database_url, chunk_store, ChunkStores::new())
    }

    /// The chunk stores on `stores` (`cm-etl run`: its local stand-in for S3, or its endpoint).
    pub fn with_stores(
        database_url: String,
        chunk_store: ChunkStoreUri,
        stores: ChunkStores,
    ) -> Self {
        let sqlite_writer = database_url
            .starts_with("sqlite:")
            .then(|| tokio::sync::Mutex::new(()));
        Self {
            database_url,
            chunk_store,
            stores,
            sqlite_writer,
            keep_chunks: false,
        }
    }

    /// Leaves every execution's chunks where they are, for a person to look at: the pipeline's
    /// DeleteTask02Chunks succeeds without deleting anything.
    pub fn keeping_chunks(mut self, keep: bool) -> Self {
        self.keep_chunks = keep;
        self
    }
}

impl LambdaFunction for InProcessHandlers {
    fn invoke<'a>(
        &'a self,
        payload: Value,
        env: &'a mut ExecutionEnvironment,
    ) -> BoxFuture<'a, Result<Value, LambdaError>> {
        Box::pin(async move {
            if self.keep_chunks && payload["action"] == Action::DeleteTask02Chunks.as_str() {
                return Ok(serde_json::json!(ChunksDeleted { objects_deleted: 0 }));
            }
            let handlers = match env.kept::<Handlers>() {
                Some(warm) => warm.clone(),
                None => {
                    let warehouse = Warehouse::connect(&self.database_url)
                        .await
                        .map_err(lambda_error)?;
                    let handlers = Handlers::with_stores(
                        warehouse,
                        self.chunk_store.clone(),
                        self.stores.clone(),
                    );
                    env.keep(handlers).clone()
                }
            };
            let _turn = match &self.sqlite_writer {
                Some(writer) => Some(writer.lock().await),
                None => None,
            };
            handlers.handle_json(payload).await.map_err(lambda_error)
        })
    }
}

/// A handler error as Lambda reports it: the contract's error name is the `errorType`.
fn lambda_error(error: HandlerError) -> LambdaError {
    LambdaError::new(error.name.as_str(), error.message)
}
