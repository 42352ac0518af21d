//! The chunk store: where GetTask02Chunks leaves the chunks and where every ProcessTask02Chunk, in
//! whatever execution environment, finds its own. Objects live under `s3://bucket/prefix/` in
//! Amazon S3 when deployed, or in a private local directory standing in for the bucket in local
//! runs and tests ([`ChunkStores::local`]). Layout under an execution's folder
//! `<base><execution>-<arn digest>/` (see `ChunkStoreUri::for_execution`): one object per chunk (`chunk-00000007.json`), `chunk-ids.json` (the JSON
//! array of every chunk id, which the Map's ItemReader reads) and `manifest.json`, written last;
//! the Map's ResultWriter adds `map-results/`.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::chunks::{Manifest, StoredChunk};
use crate::contract::{
    CHUNK_FORMAT_VERSION, CHUNK_IDS, ChunkId, ChunkStoreUri, ExecutionArn, ExecutionName,
    HandlerErrorName, S3Items,
};
use crate::error::HandlerError;
use crate::objects::{ObjectError, ObjectStore};

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

/// Opens chunk stores on one object store: S3 (its client built on first use and shared, so a
/// warm Lambda environment does not rebuild its AWS configuration per invocation) or local
/// directories.
#[derive(Clone, Default)]
pub struct ChunkStores {
    sdk_config: Option<aws_config::SdkConfig>,
    objects: Arc<tokio::sync::OnceCell<ObjectStore>>,
}

impl ChunkStores {
    /// S3 from the default AWS configuration (environment, profile, role); `AWS_ENDPOINT_URL`
    /// points it elsewhere (moto in tests).
    pub fn new() -> Self {
        Self::default()
    }

    /// S3 from this configuration (tests give moto's endpoint here).
    pub fn with_sdk_config(sdk_config: aws_config::SdkConfig) -> Self {
        Self {
            sdk_config: Some(sdk_config),
            objects: Arc::default(),
        }
    }

    /// No S3: every bucket is the private directory `<root>/<bucket>/` (local runs and tests).
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::on(ObjectStore::local(root))
    }

    /// On an object store already opened (`cm-etl run` shares one with the Distributed Map's
    /// ItemReader and ResultWriter).
    pub fn on(objects: ObjectStore) -> Self {
        Self {
            sdk_config: None,
            objects: Arc::new(tokio::sync::OnceCell::new_with(Some(objects))),
        }
    }

    /// The object store behind these chunk stores.
    pub async fn objects(&self) -> ObjectStore {
        self.objects
            .get_or_init(|| async {
                let sdk_config = match &self.sdk_config {
                    Some(config) => config.clone(),
                    None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
                };
                ObjectStore::s3(&sdk_config)
            })
            .await
            .clone()
    }

    /// The chunk store folder `uri` on these objects.
    pub async fn open(&self, uri: &ChunkStoreUri) -> ChunkStore {
        ChunkStore {
            uri: uri.clone(),
            objects: self.objects().await,
        }
    }
}

/// One opened chunk store folder (a base URI or one execution's folder).
#[derive(Clone)]
pub struct ChunkStore {
    uri: ChunkStoreUri,
    objects: ObjectStore,
}

#[derive(Deserialize)]
struct FormatProbe {
    format_version: u16,
}

impl ChunkStore {
    /// Opens `uri` on S3 with a fresh default AWS configuration; prefer [`ChunkStores::open`] to
    /// share the client.
    pub async fn open(uri: &ChunkStoreUri) -> Self {
        ChunkStores::new().open(uri).await
    }

    /// The folder this store reads and writes.
    pub fn uri(&self) -> &ChunkStoreUri {
        &self.uri
    }

    /// The folder of one execution's chunks: `<this uri><execution>-<arn digest>/`.
    pub fn for_execution(&self, execution: &ExecutionName, arn: &ExecutionArn) -> Self {
        Self {
            uri: self.uri.for_execution(execution, arn),
            objects: self.objects.clone(),
        }
    }

    /// Writes `chunk` as its chunk object in this folder.
    pub async fn put_chunk(&self, chunk: &StoredChunk) -> Result<(), HandlerError> {
        self.put_json(&chunk_object_name(chunk.chunk_id), chunk)
            .await
    }

    /// Writes the manifest, which marks this folder's chunk set complete.
    pub async fn put_manifest(&self, manifest: &Manifest) -> Result<(), HandlerError> {
        self.put_json(MANIFEST, manifest).await
    }

    /// Writes the JSON array `[0, 1, ..., chunks - 1]` as this folder's items object, streamed
    /// into one buffer (about 7 bytes per chunk), and returns where it is.
    pub async fn put_chunk_ids(&self, chunks: u32) -> Result<S3Items<ChunkId>, HandlerError> {
        use std::fmt::Write;
        let mut body = String::with_capacity(2 + 8 * chunks as usize);
        body.push('[');
        for id in 0..chunks {
            if id > 0 {
                body.push(',');
            }
            write!(body, "{id}").expect("writing to a String cannot fail");
        }
        body.push(']');
        self.put_bytes(CHUNK_IDS, body.into_bytes()).await?;
        Ok(S3Items::in_folder(&self.uri, CHUNK_IDS))
    }

    /// Reads one chunk; refuses one written with another format version.
    pub async fn get_chunk(&self, id: ChunkId) -> Result<StoredChunk, HandlerError> {
        self.get_versioned(&chunk_object_name(id), "chunk", Some(id))
            .await
    }

    /// Reads this folder's manifest; refuses one written with another format version.
    pub async fn get_manifest(&self) -> Result<Manifest, HandlerError> {
        self.get_versioned(MANIFEST, "manifest", None).await
    }

    /// Deletes every object under this folder; returns how many there were.
    pub async fn delete_all(&self) -> Result<u64, HandlerError> {
        match self
            .objects
            .delete_prefix(self.uri.bucket(), self.uri.prefix())
            .await
        {
            Ok(deleted) => Ok(deleted),
            Err(ObjectError::NoSuchBucket { .. }) => Ok(0),
            Err(error) => Err(store_error(&error)),
        }
    }

    /// The ids of every chunk object present, in order.
    pub async fn list_chunk_ids(&self) -> Result<Vec<ChunkId>, HandlerError> {
        let prefix = self.uri.prefix();
        let objects = match self.objects.list(self.uri.bucket(), prefix).await {
            Ok(objects) => objects,
            Err(ObjectError::NoSuchBucket { .. }) => Vec::new(),
            Err(error) => return Err(store_error(&error)),
        };
        let mut ids: Vec<_> = objects
            .iter()
            .filter_map(|object| parse_chunk_object_name(object.key.strip_prefix(prefix)?))
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
        self.put_bytes(name, body).await
    }

    async fn put_bytes(&self, name: &str, body: Vec<u8>) -> Result<(), HandlerError> {
        self.objects
            .put(self.uri.bucket(), &self.uri.key(name), body)
            .await
            .map_err(|error| store_error(&error))
    }

    async fn get_versioned<T: DeserializeOwned>(
        &self,
        name: &str,
        what: &str,
        id: Option<ChunkId>,
    ) -> Result<T, HandlerError> {
        let bytes = match self
            .objects
            .get(self.uri.bucket(), &self.uri.key(name))
            .await
        {
            Ok(Some(bytes)) => bytes,
            Ok(None) | Err(ObjectError::NoSuchBucket { .. }) => {
                return Err(HandlerError::chunk_not_found(what, id, &self.uri));
            }
            // Without s3:ListBucket, S3 answers a missing key with 403: retrying cannot help
            // either way, so it is not found, with what to check.
            Err(ObjectError::AccessDenied { .. }) => {
                let mut error = HandlerError::chunk_not_found(what, id, &self.uri);
                error.message.push_str(
                    " (S3 answered AccessDenied: the object is missing, or the function's role \
                     may not read it; the role in definitions/iam/lambda-role-policy.json lists \
                     the prefix, so a missing object answers 404)",
                );
                return Err(error);
            }
            Err(error) => return Err(store_error(&error)),
        };
        let unreadable = || {
            HandlerError::new(
                HandlerErrorName::ChunkFormatMismatch,
                format!(
                    "{what} object {name} under {} is not a chunk-format object",
                    self.uri
                ),
            )
        };
        let probe: FormatProbe = serde_json::from_slice(&bytes).map_err(|_| unreadable())?;
        if probe.format_version != CHUNK_FORMAT_VERSION {
            return Err(HandlerError::new(
                HandlerErrorName::ChunkFormatMismatch,
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

/// A store failure that may pass: the operation and an S3 error code or I/O kind.
fn store_error(error: &ObjectError) -> HandlerError {
    match error {
        ObjectError::NoSuchBucket { operation } => {
            HandlerError::transient(&format!("S3 {operation}"), "NoSuchBucket")
        }
        ObjectError::AccessDenied { operation } => {
            HandlerError::transient(&format!("S3 {operation}"), "AccessDenied")
        }
        ObjectError::Failed { operation, detail } => {
            HandlerError::transient(&format!("S3 {operation}"), detail)
        }
    }
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
