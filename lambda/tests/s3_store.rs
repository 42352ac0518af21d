//! The S3 chunk store against moto server: GetTask02Chunks writes one object per chunk, the list
//! of chunk ids and a manifest, encrypted at rest, under the execution's prefix; a separate store handle (another
//! execution environment) reads them back; missing objects and buckets are named errors.

mod common;

use common::{Engine, World, moto_bucket, moto_sdk_config, process_all, process_input, sample};
use etl_lambda::contract::{ChunkBudget, ChunkId, ChunkStoreUri, ErrorName};
use etl_lambda::{ChunkStores, Handlers, Warehouse};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_in_s3_are_encrypted_and_read_by_another_environment() {
    let (s3, bucket) = moto_bucket("chunks").await;
    let mut world = World::new(Engine::Sqlite, "s3_chunks", sample(300, 2, 10)).await;
    world.chunk_store = ChunkStoreUri::new(format!("s3://{bucket}/task02/")).unwrap();
    let writer = Handlers::with_stores(
        world.warehouse.clone(),
        world.chunk_store.clone(),
        ChunkStores::with_sdk_config(moto_sdk_config()),
    );
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
    assert_eq!(
        chunks.chunk_store.as_str(),
        format!("s3://{bucket}/task02/s3-exec/")
    );

    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("task02/s3-exec/")
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
        (bucket.as_str(), "task02/s3-exec/chunk-ids.json")
    );
    let mut expected: Vec<String> = ids
        .iter()
        .map(|id| format!("task02/s3-exec/chunk-{:08}.json", id.0))
        .collect();
    expected.push("task02/s3-exec/chunk-ids.json".to_owned());
    expected.push("task02/s3-exec/manifest.json".to_owned());
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
            head.server_side_encryption(),
            Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256),
            "{name} not encrypted"
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
        .key("task02/s3-exec/chunk-00000000.json")
        .send()
        .await
        .unwrap();
    let error = reader
        .process_task02_chunk(process_input(&chunks, ChunkId(0)))
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::ChunkNotFound);
    assert!(
        error.message.contains("chunk 0") && error.message.contains(chunks.chunk_store.as_str()),
        "{error}"
    );
    let mut nowhere = process_input(&chunks, ChunkId(0));
    nowhere.chunk_store =
        ChunkStoreUri::new(format!("s3://{bucket}-missing/task02/s3-exec/")).unwrap();
    let error = reader.process_task02_chunk(nowhere).await.unwrap_err();
    assert_eq!(error.name, ErrorName::ChunkNotFound, "{error}");
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
            date_range: world.sample.date_range(),
            budget: ChunkBudget {
                max_rows: 10,
                max_keys: 10,
            },
        })
        .await
        .unwrap_err();
    assert_eq!(error.name, ErrorName::Transient, "{error}");
}
