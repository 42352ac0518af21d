//! Objects by bucket and key: Amazon S3 when deployed, or a private local directory standing in for
//! S3 in local runs and tests, where bucket `b` is the directory `<root>/b/` and key `k/x.json` the
//! file `<root>/b/k/x.json`. Both sides use the same buckets and keys, so what a local run writes is
//! laid out exactly as a deployed execution would lay it out.
//!
//! Objects here may hold SSNs (chunks): local directories are created 0700 and files 0600, each
//! written through a temporary file and a rename; S3 objects are written with server-side
//! encryption. Errors keep an S3 error code or an I/O kind, never a key we did not choose.
//!
//! A store counts the requests S3 bills (by price class, shared by its clones), on either side,
//! so a local run can say what it would cost.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

/// What went wrong with an object operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The bucket does not exist.
    #[error("{operation}: the bucket does not exist")]
    NoSuchBucket {
        /// What was being done (`PutObject`, `create bucket`, ...).
        operation: &'static str,
    },
    /// S3 refused the request (HTTP 403). For GetObject this is also how S3 answers a missing
    /// key to a caller that may not list the bucket (`s3:ListBucket`).
    #[error("{operation}: access denied")]
    AccessDenied {
        /// What was being done (`PutObject`, `create bucket`, ...).
        operation: &'static str,
    },
    /// Anything else: the store may be unreachable, throttled or refusing us.
    #[error("{operation} failed: {detail}")]
    Failed {
        /// What was being done (`PutObject`, `create bucket`, ...).
        operation: &'static str,
        /// Why: an S3 error code, an I/O error kind or a fixed text; never a key we did not choose.
        detail: String,
    },
}

/// One entry of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSummary {
    /// The object's key in its bucket.
    pub key: String,
    /// The object's size in bytes.
    pub size: u64,
    /// S3's LastModified, or the local file's modification time.
    pub last_modified: Option<SystemTime>,
    /// S3's ETag (quoted); a local store keeps none.
    pub etag: Option<String>,
    /// S3's storage class; a local store has none.
    pub storage_class: Option<String>,
}

/// A bucket-and-key object store, counting the requests S3 would bill (shared by its clones).
#[derive(Clone, Debug)]
pub struct ObjectStore {
    backend: Backend,
    requests: Arc<Requests>,
}

#[derive(Clone, Debug)]
enum Backend {
    /// Amazon S3, through this client.
    S3(aws_sdk_s3::Client),
    /// Every bucket is the directory `<root>/<bucket>/`.
    Local {
        /// The private directory that holds the bucket directories.
        root: PathBuf,
    },
}

/// Requests made so far, in S3's two price classes.
#[derive(Debug, Default)]
struct Requests {
    /// PUT, COPY, POST (DeleteObjects) and LIST requests.
    put_class: AtomicU64,
    /// GET requests.
    get_class: AtomicU64,
}

/// How many requests a store has made, as S3 prices them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    /// PUT, COPY, POST and LIST requests (PutObject, DeleteObjects, ListObjectsV2 pages).
    pub put_copy_post_list: u64,
    /// GET requests (GetObject).
    pub get: u64,
}

impl ObjectStore {
    fn on(backend: Backend) -> Self {
        Self {
            backend,
            requests: Arc::default(),
        }
    }

    /// A local stand-in for S3 under `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::on(Backend::Local { root: root.into() })
    }

    /// The S3 client, when the store is S3.
    pub fn s3_client(&self) -> Option<&aws_sdk_s3::Client> {
        match &self.backend {
            Backend::S3(client) => Some(client),
            Backend::Local { .. } => None,
        }
    }

    /// The requests this store and its clones have made (a local store counts what S3 would
    /// have been sent: one LIST per 1,000 keys listed, one POST per 1,000 deleted).
    pub fn requests(&self) -> RequestCounts {
        RequestCounts {
            put_copy_post_list: self.requests.put_class.load(Ordering::Relaxed),
            get: self.requests.get_class.load(Ordering::Relaxed),
        }
    }

    fn count_put_class(&self, requests: u64) {
        self.requests
            .put_class
            .fetch_add(requests, Ordering::Relaxed);
    }

    /// An S3 client on `sdk_config`; a custom endpoint (moto, MinIO) is addressed by path.
    pub fn s3(sdk_config: &aws_config::SdkConfig) -> Self {
        let path_style = sdk_config.endpoint_url().is_some();
        let config = aws_sdk_s3::config::Builder::from(sdk_config)
            .force_path_style(path_style)
            .build();
        Self::on(Backend::S3(aws_sdk_s3::Client::from_conf(config)))
    }

    /// Creates the bucket (a local directory, 0700) if it does not exist. Only for local stores
    /// and tests: deployed buckets are created by `cm-etl bootstrap` or their owner.
    pub async fn create_local_bucket(&self, bucket: &str) -> Result<(), ObjectError> {
        match &self.backend {
            Backend::Local { root } => {
                let dir = root.join(bucket);
                blocking(move || create_private_dir(&dir, "create bucket")).await
            }
            Backend::S3(_) => Err(ObjectError::Failed {
                operation: "create bucket",
                detail: "S3 buckets are not created here".into(),
            }),
        }
    }

    /// The object's bytes, or `None` when there is no such object (a missing bucket is an error).
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        self.requests.get_class.fetch_add(1, Ordering::Relaxed);
        const OPERATION: &str = "GetObject";
        match &self.backend {
            Backend::Local { root } => {
                let bucket_dir = root.join(bucket);
                let path = local_path(root, bucket, key, OPERATION)?;
                match tokio::fs::read(&path).await {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        if tokio::fs::metadata(&bucket_dir).await.is_ok() {
                            Ok(None)
                        } else {
                            Err(ObjectError::NoSuchBucket {
                                operation: OPERATION,
                            })
                        }
                    }
                    Err(error) => Err(io_error(OPERATION, &error)),
                }
            }
            Backend::S3(client) => {
                let result = client.get_object().bucket(bucket).key(key).send().await;
                match result {
                    Ok(output) => {
                        let body =
                            output
                                .body
                                .collect()
                                .await
                                .map_err(|_| ObjectError::Failed {
                                    operation: OPERATION,
                                    detail: "body read interrupted".into(),
                                })?;
                        Ok(Some(body.to_vec()))
                    }
                    Err(error) if matches!(error.code(), Some("NoSuchKey" | "NotFound")) => {
                        Ok(None)
                    }
                    Err(error) => Err(s3_error(OPERATION, &error)),
                }
            }
        }
    }

    /// Writes the object (replacing any), encrypted at rest in S3, owner-only locally. S3 encrypts
    /// it with the bucket's default encryption (which `cm-etl bootstrap` sets: SSE-S3, or SSE-KMS
    /// with deploy.toml's `chunk_store.kms_key_arn`; S3 encrypts every object at least with SSE-S3).
    /// No encryption header is sent: an explicit AES256 would override a bucket's KMS key.
    pub async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), ObjectError> {
        self.count_put_class(1);
        const OPERATION: &str = "PutObject";
        match &self.backend {
            Backend::Local { root } => {
                let bucket_dir = root.join(bucket);
                let path = local_path(root, bucket, key, OPERATION)?;
                blocking(move || write_private_file(&bucket_dir, &path, &body, OPERATION)).await
            }
            Backend::S3(client) => client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/json")
                .body(body.into())
                .send()
                .await
                .map(drop)
                .map_err(|error| s3_error(OPERATION, &error)),
        }
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub async fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<ObjectSummary>, ObjectError> {
        const OPERATION: &str = "ListObjectsV2";
        let listed = match &self.backend {
            Backend::Local { root } => {
                let bucket_dir = root.join(bucket);
                let prefix = prefix.to_owned();
                blocking(move || {
                    if !bucket_dir.is_dir() {
                        return Err(ObjectError::NoSuchBucket {
                            operation: OPERATION,
                        });
                    }
                    let mut objects = Vec::new();
                    list_local(&bucket_dir, "", &prefix, &mut objects)?;
                    objects.sort_by(|a, b| a.key.cmp(&b.key));
                    Ok(objects)
                })
                .await?
            }
            Backend::S3(client) => {
                let mut objects = Vec::new();
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|error| s3_error(OPERATION, &error))?;
                    objects.extend(page.contents().iter().filter_map(|object| {
                        Some(ObjectSummary {
                            key: object.key()?.to_owned(),
                            size: object.size().unwrap_or(0).try_into().unwrap_or(0),
                            last_modified: object
                                .last_modified()
                                .and_then(|at| SystemTime::try_from(*at).ok()),
                            etag: object.e_tag().map(str::to_owned),
                            storage_class: object
                                .storage_class()
                                .map(|class| class.as_str().to_owned()),
                        })
                    }));
                }
                objects
            }
        };
        self.count_put_class(pages_of_1000(listed.len()));
        Ok(listed)
    }

    /// Deletes every object whose key starts with `prefix`; returns how many there were.
    pub async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<u64, ObjectError> {
        const OPERATION: &str = "DeleteObjects";
        let objects = self.list(bucket, prefix).await?;
        let count = objects.len() as u64;
        if count > 0 {
            self.count_put_class(pages_of_1000(objects.len()));
        }
        match &self.backend {
            Backend::Local { root } => {
                let root = root.clone();
                let bucket = bucket.to_owned();
                let prefix = prefix.to_owned();
                blocking(move || {
                    for object in &objects {
                        let path = local_path(&root, &bucket, &object.key, OPERATION)?;
                        match std::fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                            Err(error) => return Err(io_error(OPERATION, &error)),
                        }
                    }
                    remove_empty_dirs(&root.join(&bucket), &prefix);
                    Ok(())
                })
                .await?;
            }
            Backend::S3(client) => {
                // DeleteObjects takes at most 1,000 keys per request.
                for batch in objects.chunks(1000) {
                    let identifiers = batch
                        .iter()
                        .map(|object| ObjectIdentifier::builder().key(&object.key).build())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| ObjectError::Failed {
                            operation: OPERATION,
                            detail: "invalid key".into(),
                        })?;
                    let delete = Delete::builder()
                        .set_objects(Some(identifiers))
                        .quiet(true)
                        .build()
                        .map_err(|_| ObjectError::Failed {
                            operation: OPERATION,
                            detail: "invalid request".into(),
                        })?;
                    let output = client
                        .delete_objects()
                        .bucket(bucket)
                        .delete(delete)
                        .send()
                        .await
                        .map_err(|error| s3_error(OPERATION, &error))?;
                    if let Some(error) = output.errors().first() {
                        return Err(ObjectError::Failed {
                            operation: OPERATION,
                            detail: error.code().unwrap_or("an object was not deleted").into(),
                        });
                    }
                }
            }
        }
        Ok(count)
    }
}

/// Requests for `items` at 1,000 a request (a listing's pages, DeleteObjects' batches): at least
/// one.
fn pages_of_1000(items: usize) -> u64 {
    items.div_ceil(1000).max(1) as u64
}

/// The local file of `bucket`/`key`; refuses a key that would leave the bucket's directory.
fn local_path(
    root: &Path,
    bucket: &str,
    key: &str,
    operation: &'static str,
) -> Result<PathBuf, ObjectError> {
    let escapes = bucket.is_empty()
        || bucket.contains('/')
        || bucket.starts_with('.')
        || key.is_empty()
        || key
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if escapes {
        return Err(ObjectError::Failed {
            operation,
            detail: "the key is not a plain relative path".into(),
        });
    }
    Ok(root.join(bucket).join(key))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ObjectError> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ObjectError::Failed {
            operation: "local object store",
            detail: "task panicked".into(),
        })?
}

/// Creates `dir` and its missing parents owner-only (0700).
fn create_private_dir(dir: &Path, operation: &'static str) -> Result<(), ObjectError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| io_error(operation, &error))
}

/// Creates the directories from `bucket_dir` (which must exist) down to `dir`, each owner-only
/// (0700). The bucket is never re-created: a bucket removed meanwhile (`cm-etl run` removing its
/// workspace on Ctrl-C) stays removed, with everything above it.
fn create_key_dirs(
    bucket_dir: &Path,
    dir: &Path,
    operation: &'static str,
) -> Result<(), ObjectError> {
    use std::os::unix::fs::DirBuilderExt;
    let below_bucket = dir
        .strip_prefix(bucket_dir)
        .expect("an object's directory is inside its bucket");
    let mut current = bucket_dir.to_path_buf();
    for component in below_bucket.components() {
        current.push(component);
        match std::fs::DirBuilder::new().mode(0o700).create(&current) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(ObjectError::NoSuchBucket { operation });
            }
            Err(error) => return Err(io_error(operation, &error)),
        }
    }
    Ok(())
}

/// Writes `path` (in the existing bucket `bucket_dir`) readable by the owner only (0600), via a
/// temporary file and a rename, so a reader never sees half an object.
fn write_private_file(
    bucket_dir: &Path,
    path: &Path,
    body: &[u8],
    operation: &'static str,
) -> Result<(), ObjectError> {
    use std::os::unix::fs::OpenOptionsExt;
    if !bucket_dir.is_dir() {
        return Err(ObjectError::NoSuchBucket { operation });
    }
    let dir = path
        .parent()
        .expect("an object path has a bucket directory");
    create_key_dirs(bucket_dir, dir, operation)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|error| io_error(operation, &error))?;
    file.write_all(body)
        .map_err(|error| io_error(operation, &error))?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        io_error(operation, &error)
    })
}

fn list_local(
    dir: &Path,
    relative: &str,
    prefix: &str,
    into: &mut Vec<ObjectSummary>,
) -> Result<(), ObjectError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_error("ListObjectsV2", &error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| io_error("ListObjectsV2", &error))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // Temporary files of a write in progress are not objects yet.
        if name.starts_with('.') {
            continue;
        }
        let key = format!("{relative}{name}");
        let file_type = entry
            .file_type()
            .map_err(|error| io_error("ListObjectsV2", &error))?;
        if file_type.is_dir() {
            let folder = format!("{key}/");
            // Only descend where keys under the folder can still start with the prefix.
            if folder.starts_with(prefix) || prefix.starts_with(&folder) {
                list_local(&entry.path(), &folder, prefix, into)?;
            }
        } else if key.starts_with(prefix) {
            let metadata = entry
                .metadata()
                .map_err(|error| io_error("ListObjectsV2", &error))?;
            into.push(ObjectSummary {
                key,
                size: metadata.len(),
                last_modified: metadata.modified().ok(),
                etag: None,
                storage_class: None,
            });
        }
    }
    Ok(())
}

/// Removes the directories left empty under `bucket_dir` along `prefix` (S3 has no folders).
fn remove_empty_dirs(bucket_dir: &Path, prefix: &str) {
    let mut dir = bucket_dir.join(prefix.trim_end_matches('/'));
    while dir.starts_with(bucket_dir) && dir != bucket_dir {
        if std::fs::remove_dir(&dir).is_err() {
            break;
        }
        if !dir.pop() {
            break;
        }
    }
}

fn io_error(operation: &'static str, error: &std::io::Error) -> ObjectError {
    ObjectError::Failed {
        operation,
        detail: error.kind().to_string(),
    }
}

/// Keeps the S3 error code only: messages can quote keys.
fn s3_error<E: ProvideErrorMetadata, R>(
    operation: &'static str,
    error: &SdkError<E, R>,
) -> ObjectError {
    let detail = match error {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("NoSuchBucket") => return ObjectError::NoSuchBucket { operation },
            Some("AccessDenied") => return ObjectError::AccessDenied { operation },
            Some(code) => code.to_owned(),
            None => "service error".to_owned(),
        },
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => "could not reach the endpoint".to_owned(),
        _ => "request failed".to_owned(),
    };
    ObjectError::Failed { operation, detail }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_local_bucket_keeps_objects_private_and_lists_them_in_key_order() {
        let root = tempfile::tempdir().unwrap();
        let store = ObjectStore::local(root.path());
        assert_eq!(
            store.put("bucket-a", "p/x.json", b"1".to_vec()).await,
            Err(ObjectError::NoSuchBucket {
                operation: "PutObject"
            })
        );
        store.create_local_bucket("bucket-a").await.unwrap();
        store
            .put("bucket-a", "p/e/2.json", b"22".to_vec())
            .await
            .unwrap();
        store
            .put("bucket-a", "p/e/1.json", b"1".to_vec())
            .await
            .unwrap();
        store
            .put("bucket-a", "q/3.json", b"333".to_vec())
            .await
            .unwrap();
        assert_eq!(
            store.get("bucket-a", "p/e/2.json").await.unwrap(),
            Some(b"22".to_vec())
        );
        assert_eq!(store.get("bucket-a", "p/e/9.json").await.unwrap(), None);
        assert!(store.get("bucket-b", "p/e/9.json").await.is_err());
        let keys: Vec<String> = store
            .list("bucket-a", "p/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(keys, ["p/e/1.json", "p/e/2.json"]);
        for path in ["bucket-a", "bucket-a/p", "bucket-a/p/e"] {
            assert_eq!(mode(&root.path().join(path)), 0o700, "{path}");
        }
        assert_eq!(mode(&root.path().join("bucket-a/p/e/1.json")), 0o600);

        assert_eq!(store.delete_prefix("bucket-a", "p/e/").await.unwrap(), 2);
        assert!(store.list("bucket-a", "p/").await.unwrap().is_empty());
        assert!(!root.path().join("bucket-a/p").exists());
        assert!(root.path().join("bucket-a/q/3.json").exists());
    }

    #[tokio::test]
    async fn a_local_key_cannot_leave_its_bucket() {
        let root = tempfile::tempdir().unwrap();
        let store = ObjectStore::local(root.path());
        store.create_local_bucket("bucket-a").await.unwrap();
        for key in ["../x", "a/../../x", "/etc/passwd", "a//b", ""] {
            assert!(
                store.put("bucket-a", key, Vec::new()).await.is_err(),
                "{key}"
            );
        }
        assert!(store.get("../bucket-a", "x").await.is_err());
    }
}
