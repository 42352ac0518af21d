//! The chunk store: where GetTask02Chunks leaves the chunks and where every ProcessTask02Chunk, in
//! whatever execution environment, finds its own. S3 (`s3://bucket/prefix/`) when deployed, with
//! server-side encryption requested on every object; a private local directory (`file:///dir/`)
//! for local runs and tests. Layout under an execution's URI `<base><execution>/`: one object per
//! chunk (`chunk-00000007.json`) and `manifest.json`, written last.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::ServerSideEncryption;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::chunks::{Manifest, StoredChunk};
use crate::contract::{CHUNK_FORMAT_VERSION, ChunkId, ChunkStoreUri, ErrorName, ExecutionName};
use crate::error::HandlerError;

const MANIFEST: &str = "manifest.json";
const CHUNK_PREFIX: &str = "chunk-";
const CHUNK_SUFFIX: &str = ".json";

fn chunk_object_name(id: ChunkId) -> String {
    format!("{CHUNK_PREFIX}{:08}{CHUNK_SUFFIX}", id.0)
}

fn parse_chunk_object_name(name: &str) -> Option<ChunkId> {
    let digits = name
        .strip_prefix(CHUNK_PREFIX)?
        .strip_suffix(CHUNK_SUFFIX)?;
    digits.parse().ok().map(ChunkId)
}

/// Opens chunk stores, sharing one S3 client (built on first use) across them, so a warm Lambda
/// environment does not rebuild its AWS configuration per invocation.
#[derive(Clone, Default)]
pub struct ChunkStores {
    sdk_config: Option<aws_config::SdkConfig>,
    s3: Arc<tokio::sync::OnceCell<aws_sdk_s3::Client>>,
}

impl ChunkStores {
    /// S3 clients come from the default AWS configuration (environment, profile, role);
    /// `AWS_ENDPOINT_URL` points them elsewhere (moto in tests).
    pub fn new() -> Self {
        Self::default()
    }

    /// S3 clients come from this configuration (tests give moto's endpoint here).
    pub fn with_sdk_config(sdk_config: aws_config::SdkConfig) -> Self {
        Self {
            sdk_config: Some(sdk_config),
            s3: Arc::default(),
        }
    }

    async fn s3_client(&self) -> aws_sdk_s3::Client {
        self.s3
            .get_or_init(|| async {
                let sdk_config = match &self.sdk_config {
                    Some(config) => config.clone(),
                    None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
                };
                // A custom endpoint (moto, MinIO) serves buckets by path, not by virtual host.
                let path_style = sdk_config.endpoint_url().is_some();
                let config = aws_sdk_s3::config::Builder::from(&sdk_config)
                    .force_path_style(path_style)
                    .build();
                aws_sdk_s3::Client::from_conf(config)
            })
            .await
            .clone()
    }

    pub async fn open(&self, uri: &ChunkStoreUri) -> Result<ChunkStore, HandlerError> {
        let backend = if let Some(rest) = uri.as_str().strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(HandlerError::invalid_input("chunk_store", "has no bucket"));
            }
            Backend::S3 {
                client: self.s3_client().await,
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            }
        } else if let Some(path) = uri.as_str().strip_prefix("file://") {
            Backend::Local {
                dir: PathBuf::from(path),
            }
        } else {
            return Err(HandlerError::invalid_input(
                "chunk_store",
                "must be s3://bucket/prefix/ or file:///directory/",
            ));
        };
        Ok(ChunkStore {
            uri: uri.clone(),
            backend,
            stores: self.clone(),
        })
    }
}

/// One opened chunk store location (a base URI or one execution's URI).
#[derive(Clone)]
pub struct ChunkStore {
    uri: ChunkStoreUri,
    backend: Backend,
    stores: ChunkStores,
}

#[derive(Clone)]
enum Backend {
    Local {
        dir: PathBuf,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
}

#[derive(Deserialize)]
struct FormatProbe {
    format_version: u16,
}

impl ChunkStore {
    /// Opens `uri` with a fresh default AWS configuration; prefer [`ChunkStores::open`] to share
    /// the S3 client.
    pub async fn open(uri: &ChunkStoreUri) -> Result<Self, HandlerError> {
        ChunkStores::new().open(uri).await
    }

    pub fn uri(&self) -> &ChunkStoreUri {
        &self.uri
    }

    /// The store of one execution's chunks: `<this uri><execution>/`.
    pub async fn for_execution(&self, execution: &ExecutionName) -> Result<Self, HandlerError> {
        let uri = ChunkStoreUri::new(format!("{}{}/", self.uri, execution))?;
        self.stores.open(&uri).await
    }

    pub async fn put_chunk(&self, chunk: &StoredChunk) -> Result<(), HandlerError> {
        self.put_json(&chunk_object_name(chunk.chunk_id), chunk)
            .await
    }

    pub async fn put_manifest(&self, manifest: &Manifest) -> Result<(), HandlerError> {
        self.put_json(MANIFEST, manifest).await
    }

    /// Reads one chunk; refuses one written with another format version.
    pub async fn get_chunk(&self, id: ChunkId) -> Result<StoredChunk, HandlerError> {
        self.get_versioned(&chunk_object_name(id), "chunk", Some(id))
            .await
    }

    pub async fn get_manifest(&self) -> Result<Manifest, HandlerError> {
        self.get_versioned(MANIFEST, "manifest", None).await
    }

    /// The ids of every chunk object present, in order.
    pub async fn list_chunk_ids(&self) -> Result<Vec<ChunkId>, HandlerError> {
        let names = match &self.backend {
            Backend::Local { dir } => match std::fs::read_dir(dir) {
                Ok(entries) => entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .collect(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(error) => return Err(io_error("list chunk directory", &error)),
            },
            Backend::S3 {
                client,
                bucket,
                prefix,
            } => {
                let mut names = Vec::new();
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| s3_error("S3 ListObjectsV2", &e))?;
                    names.extend(page.contents().iter().filter_map(|object| {
                        object
                            .key()?
                            .strip_prefix(prefix.as_str())
                            .map(str::to_owned)
                    }));
                }
                names
            }
        };
        let mut ids: Vec<_> = names
            .iter()
            .filter_map(|n| parse_chunk_object_name(n))
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn put_json(
        &self,
        name: &str,
        value: &impl serde::Serialize,
    ) -> Result<(), HandlerError> {
        let body = serde_json::to_vec(value)
            .map_err(|_| HandlerError::transient("serialize chunk object", name))?;
        match &self.backend {
            Backend::Local { dir } => {
                let dir = dir.clone();
                let name = name.to_owned();
                tokio::task::spawn_blocking(move || write_private_file(&dir, &name, &body))
                    .await
                    .map_err(|_| HandlerError::transient("write chunk object", "task panicked"))?
            }
            Backend::S3 {
                client,
                bucket,
                prefix,
            } => client
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{name}"))
                .server_side_encryption(ServerSideEncryption::Aes256)
                .content_type("application/json")
                .body(body.into())
                .send()
                .await
                .map(drop)
                .map_err(|e| s3_error("S3 PutObject", &e)),
        }
    }

    async fn get_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, HandlerError> {
        match &self.backend {
            Backend::Local { dir } => match tokio::fs::read(dir.join(name)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(io_error("read chunk object", &error)),
            },
            Backend::S3 {
                client,
                bucket,
                prefix,
            } => {
                let result = client
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{name}"))
                    .send()
                    .await;
                match result {
                    Ok(output) => {
                        let body = output.body.collect().await.map_err(|_| {
                            HandlerError::transient("S3 GetObject", "body read interrupted")
                        })?;
                        Ok(Some(body.to_vec()))
                    }
                    Err(error)
                        if matches!(
                            error.code(),
                            Some("NoSuchKey" | "NoSuchBucket" | "NotFound")
                        ) =>
                    {
                        Ok(None)
                    }
                    Err(error) => Err(s3_error("S3 GetObject", &error)),
                }
            }
        }
    }

    async fn get_versioned<T: DeserializeOwned>(
        &self,
        name: &str,
        what: &str,
        id: Option<ChunkId>,
    ) -> Result<T, HandlerError> {
        let Some(bytes) = self.get_bytes(name).await? else {
            return Err(HandlerError::chunk_not_found(what, id, &self.uri));
        };
        let unreadable = || {
            HandlerError::new(
                ErrorName::ChunkFormatMismatch,
                format!(
                    "{what} object {name} under {} is not a chunk-format object",
                    self.uri
                ),
            )
        };
        let probe: FormatProbe = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
        if probe.format_version != CHUNK_FORMAT_VERSION {
            return Err(HandlerError::new(
                ErrorName::ChunkFormatMismatch,
                format!(
                    "{what} object {name} under {} has format version {}, this build reads {}; \
                     rerun GetTask02Chunks with this build",
                    self.uri, probe.format_version, CHUNK_FORMAT_VERSION
                ),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|_| unreadable())
    }
}

/// Writes `dir/name` readable by the owner only, via a temporary file and a rename, so a reader
/// never sees half an object.
fn write_private_file(dir: &Path, name: &str, body: &[u8]) -> Result<(), HandlerError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_error("create chunk directory", &e))?;
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| io_error("write chunk object", &e))?;
    file.write_all(body)
        .map_err(|e| io_error("write chunk object", &e))?;
    drop(file);
    std::fs::rename(&temporary, dir.join(name)).map_err(|e| io_error("write chunk object", &e))
}

fn io_error(operation: &str, error: &std::io::Error) -> HandlerError {
    HandlerError::transient(operation, error.kind())
}

/// Keeps the S3 error code only: messages can quote object keys we do not control.
fn s3_error<E: ProvideErrorMetadata, R>(
    operation: &str,
    error: &aws_sdk_s3::error::SdkError<E, R>,
) -> HandlerError {
    let detail = match error {
        aws_sdk_s3::error::SdkError::ServiceError(service) => {
            service.err().code().unwrap_or("service error").to_owned()
        }
        aws_sdk_s3::error::SdkError::TimeoutError(_) => "timeout".to_owned(),
        aws_sdk_s3::error::SdkError::DispatchFailure(_) => {
            "could not reach the endpoint".to_owned()
        }
        _ => "request failed".to_owned(),
    };
    HandlerError::transient(operation, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_object_names_round_trip_and_sort_in_id_order() {
        assert_eq!(chunk_object_name(ChunkId(7)), "chunk-00000007.json");
        assert_eq!(
            parse_chunk_object_name("chunk-00000007.json"),
            Some(ChunkId(7))
        );
        assert_eq!(parse_chunk_object_name(MANIFEST), None);
        assert_eq!(parse_chunk_object_name(".chunk-00000007.json.1.tmp"), None);
        assert!(chunk_object_name(ChunkId(9)) < chunk_object_name(ChunkId(10)));
    }
}
