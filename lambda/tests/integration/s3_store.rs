//! The S3 chunk store against moto server: GetTask02Chunks writes one object per chunk, the list
//! of chunk ids and a manifest, encrypted at rest, under the execution's prefix; a missing chunk
//! is ChunkNotFound whether S3 answers 404 or, to a role without `s3:ListBucket`, 403; a separate store handle (another
//! execution environment) reads them back; missing objects and buckets are named errors.
//!
//! Every object is encrypted with the bucket's default encryption (here SSE-KMS with a key, as
//! `cm-etl bootstrap` sets it with `chunk_store.kms_key_arn`: an object header would override it);
//! an unreachable endpoint is `Task02.Transient`.

use crate::common::{
    self, Engine, World, moto_bucket, moto_sdk_config, process_all, process_input, sample,
};
use etl_lambda::contract::{ChunkBudget, ChunkId, ChunkStoreUri, HandlerErrorName};
use etl_lambda::{ChunkStores, Handlers, Warehouse};

/// A SQLite world whose chunk store is `task02/` in the moto bucket `bucket`, and handlers
/// writing to it.
async fn s3_world(bucket: &str, name: &str, sample: etl_lambda::SampleData) -> (World, Handlers) {
    let mut world = World::new(Engine::Sqlite, name, sample).await;
    world.chunk_store = ChunkStoreUri::new(format!("s3://{bucket}/task02/")).unwrap();
    let handlers = Handlers::with_stores(
        world.warehouse.clone(),
        world.chunk_store.clone(),
        ChunkStores::with_sdk_config(moto_sdk_config()),
    );
    (world, handlers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_in_s3_are_encrypted_and_read_by_another_environment() {
    let (s3, bucket) = moto_bucket("chunks").await;
    // What `cm-etl bootstrap` puts with a `kms_key_arn` (moto takes any key id).
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    {
        use aws_sdk_s3::types::*;
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(key)
            .build()
            .unwrap();
        s3.put_bucket_encryption()
            .bucket(&bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(by_default)
                            .bucket_key_enabled(true)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let (world, writer) = s3_world(&bucket, "s3_chunks", sample(300, 2, 10)).await;
    let chunks = common::get_chunks(
        &writer,
        "s3-exec",
        &world.sample,
        ChunkBudget {
            max_rows: 120,
            max_keys: 40,
        },
    )
    .await;
    let folder = format!(
        "task02/s3-exec-{}/",
        common::execution_arn("s3-exec").digest()
    );
    assert_eq!(
        chunks.chunk_store.as_str(),
        format!("s3://{bucket}/{folder}")
    );

    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(&folder)
        .send()
        .await
        .unwrap();
    let mut names: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    names.sort();
    let ids = common::chunk_ids(writer.stores(), &chunks).await;
    assert_eq!(ids.len(), chunks.num_chunks as usize);
    assert_eq!(
        (
            chunks.chunk_ids.bucket.as_str(),
            chunks.chunk_ids.key.as_str()
        ),
        (bucket.as_str(), format!("{folder}chunk-ids.json").as_str())
    );
    let mut expected: Vec<String> = ids
        .iter()
        .map(|id| format!("{folder}chunk-{:08}.json", id.0))
        .collect();
    expected.push(format!("{folder}chunk-ids.json"));
    expected.push(format!("{folder}manifest.json"));
    expected.sort();
    assert_eq!(
        names, expected,
        "one object per chunk, the chunk ids and the manifest"
    );
    for name in &names {
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(*name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            (head.server_side_encryption(), head.ssekms_key_id()),
            (
                Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms),
                Some(key)
            ),
            "{name} not encrypted with the bucket's key"
        );
    }

    // Another environment: its own warehouse connection and its own S3 client.
    let reader = Handlers::with_stores(
        Warehouse::connect(&world.database_url).await.unwrap(),
        world.chunk_store.clone(),
        ChunkStores::with_sdk_config(moto_sdk_config()),
    );
    process_all(&reader, &chunks).await;
    let counts = world.warehouse.counts().await.unwrap();
    assert_eq!(
        counts.source_rows,
        counts.migrated_rows + counts.rejected_rows
    );
    assert_eq!(counts.migrated_rows, world.sample.expected_split().0);

    // A deleted chunk object and a missing bucket are ChunkNotFound, naming chunk and URI.
    s3.delete_object()
        .bucket(&bucket)
        .key(format!("{folder}chunk-00000000.json"))
        .send()
        .await
        .unwrap();
    let error = reader
        .process_task02_chunk(process_input(&chunks, ChunkId(0)))
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::ChunkNotFound);
    assert!(
        error.message.contains("chunk 0") && error.message.contains(chunks.chunk_store.as_str()),
        "{error}"
    );
    let mut nowhere = process_input(&chunks, ChunkId(0));
    nowhere.chunk_store = ChunkStoreUri::new(format!("s3://{bucket}-missing/{folder}")).unwrap();
    let error = reader.process_task02_chunk(nowhere).await.unwrap_err();
    assert_eq!(error.name, HandlerErrorName::ChunkNotFound, "{error}");
}

/// Two state machines whose chunk stores share a bucket prefix, each running an execution of the
/// same name: neither overwrites nor deletes the other's chunks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_name_executions_never_share_chunks_in_s3() {
    let (_, bucket) = moto_bucket("same-name").await;
    let (world, handlers) = s3_world(&bucket, "s3_same_name", sample(120, 2, 10)).await;
    common::same_name_executions_never_share_chunks(&handlers, &world.sample).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_is_transient() {
    // Nothing listens on port 9 of loopback: the store fails in a way a retry may cure.
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let world = World::new(Engine::Sqlite, "s3_unreachable", sample(20, 1, 0)).await;
    let handlers = Handlers::with_stores(
        world.warehouse.clone(),
        ChunkStoreUri::new("s3://nowhere/task02/").unwrap(),
        ChunkStores::with_sdk_config(config),
    );
    let error = handlers
        .get_task02_chunks(etl_lambda::contract::GetTask02ChunksInput {
            execution: common::execution("down"),
            execution_arn: common::execution_arn("down"),
            date_range: world.sample.date_range(),
            budget: ChunkBudget {
                max_rows: 10,
                max_keys: 10,
            },
        })
        .await
        .unwrap_err();
    assert_eq!(error.name, HandlerErrorName::Transient, "{error}");
}

/// S3 answers GetObject of a missing key with 403 AccessDenied, not 404, when the caller may not
/// list the bucket. moto does not enforce IAM, so a proxy in front of it answers as S3 then does;
/// the chunk store must report ChunkNotFound (not retried) in both cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_chunk_is_not_found_with_or_without_list_bucket() {
    let (_, bucket) = moto_bucket("no-list").await;
    let (world, writer) = s3_world(&bucket, "s3_no_list", sample(60, 2, 0)).await;
    let chunks = common::get_chunks(
        &writer,
        "no-list",
        &world.sample,
        ChunkBudget {
            max_rows: 40,
            max_keys: 20,
        },
    )
    .await;
    let missing = process_input(&chunks, ChunkId(chunks.num_chunks + 3));
    let mut past_manifest = missing.clone();
    past_manifest.chunk_store = ChunkStoreUri::new(format!("s3://{bucket}/task02/never/")).unwrap();

    let with_list = writer
        .process_task02_chunk(past_manifest.clone())
        .await
        .unwrap_err();
    assert_eq!(
        with_list.name,
        HandlerErrorName::ChunkNotFound,
        "{with_list}"
    );

    let proxy = no_list_bucket::Proxy::start(&common::required_env("MOTO_ENDPOINT"));
    let mut config = moto_sdk_config().into_builder();
    config.set_endpoint_url(Some(proxy.endpoint.clone()));
    let without_list = Handlers::with_stores(
        world.warehouse.clone(),
        world.chunk_store.clone(),
        ChunkStores::with_sdk_config(config.build()),
    );
    let error = without_list
        .process_task02_chunk(past_manifest)
        .await
        .unwrap_err();
    assert!(proxy.denied() > 0, "the proxy answered no 403");
    assert_eq!(error.name, HandlerErrorName::ChunkNotFound, "{error}");
    assert!(error.message.contains("AccessDenied"), "{error}");
    assert!(!error.name.is_retryable());
}

/// A proxy in front of moto that answers a missing key (404 NoSuchKey) with 403 AccessDenied.
mod no_list_bucket {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ACCESS_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>0</RequestId><HostId>0</HostId></Error>";

    pub struct Proxy {
        pub endpoint: String,
        denied: Arc<AtomicUsize>,
    }

    impl Proxy {
        pub fn start(moto: &str) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let endpoint = format!("http://{}", listener.local_addr().unwrap());
            let upstream = moto
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_owned();
            let denied = Arc::new(AtomicUsize::new(0));
            let counter = denied.clone();
            std::thread::spawn(move || {
                for client in listener.incoming().flatten() {
                    let (upstream, counter) = (upstream.clone(), counter.clone());
                    std::thread::spawn(move || serve(client, &upstream, &counter));
                }
            });
            Self { endpoint, denied }
        }

        /// How many 404s it turned into 403s.
        pub fn denied(&self) -> usize {
            self.denied.load(Ordering::SeqCst)
        }
    }

    fn serve(client: TcpStream, upstream: &str, denied: &AtomicUsize) {
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            // One request per connection: moto closes it after answering.
            if !line.to_ascii_lowercase().starts_with("connection:") {
                head.push_str(&line);
            }
        }
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut moto = TcpStream::connect(upstream).unwrap();
        moto.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
            .unwrap();
        moto.write_all(&body).unwrap();
        let mut response = Vec::new();
        moto.read_to_end(&mut response).unwrap();
        let missing_key = response.starts_with(b"HTTP/1.1 404")
            && String::from_utf8_lossy(&response).contains("NoSuchKey");
        if missing_key {
            denied.fetch_add(1, Ordering::SeqCst);
            response = format!(
                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ACCESS_DENIED}",
                ACCESS_DENIED.len()
            )
            .into_bytes();
        }
        let mut client = client;
        let _ = client.write_all(&response);
    }
}
