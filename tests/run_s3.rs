//! `cm-etl run --s3-endpoint-url` against moto server
//! (`bash tests/run.sh -- --test integration run_s3::`): the chunks, the chunk ids and the Map's
//! results land in deploy.toml's bucket there; a missing bucket and an endpoint off this machine
//! are one-line errors.

use crate::support;

use etl_lambda::ObjectStore;

use support::local_run::{assert_migrated_through_the_map_run, deployment, run_deployed};

/// `run --s3-endpoint-url` against moto server: the chunks, `chunk-ids.json` and the Map's results
/// land in moto's S3, in deploy.toml's bucket under `<prefix><execution>-<arn digest>/`.
#[test]
fn with_an_s3_endpoint_the_chunks_ids_and_map_results_land_in_its_bucket() {
    let _serial = support::serial();
    let endpoint = support::moto_endpoint();
    let scratch = tempfile::tempdir().unwrap();
    let deployment = deployment(scratch.path(), 100, |_| {});
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let objects = runtime.block_on(moto_objects(&endpoint));
    let client = objects.s3_client().expect("an S3 store");
    runtime
        .block_on(client.create_bucket().bucket(&deployment.bucket).send())
        .unwrap();
    let execution = format!("moto-run-{}", std::process::id());
    let (code, report, stderr) = run_deployed(
        &deployment,
        &[
            "--keys",
            "2000",
            "--execution-name",
            &execution,
            "--s3-endpoint-url",
            &endpoint,
            "--keep-chunks",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let chunks = assert_migrated_through_the_map_run(&report);
    assert!(chunks > 1, "{chunks}");

    let folder = format!(
        "{}{}/",
        deployment.prefix,
        deployment.execution_folder(&execution)
    );
    let keys: Vec<String> = runtime
        .block_on(objects.list(&deployment.bucket, &folder))
        .unwrap()
        .into_iter()
        .map(|object| object.key.strip_prefix(&folder).unwrap().to_owned())
        .collect();
    let chunk_objects = keys.iter().filter(|k| k.starts_with("chunk-0")).count();
    assert_eq!(chunk_objects as u64, chunks, "{keys:?}");
    assert!(keys.contains(&"chunk-ids.json".to_owned()), "{keys:?}");
    let map_run_id = report["map_runs"][0]["map_run_arn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    for name in ["manifest.json", "SUCCEEDED_0.json"] {
        let key = format!("map-results/{map_run_id}/{name}");
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
}

/// A bucket that does not exist at the endpoint is one clear error, before any data is made.
#[test]
fn with_an_s3_endpoint_a_missing_bucket_is_one_clear_error() {
    let _serial = support::serial();
    let endpoint = support::moto_endpoint();
    let scratch = tempfile::tempdir().unwrap();
    let missing = format!("cm-etl-missing-{}", std::process::id());
    let deployment = deployment(scratch.path(), 100, |table| {
        table["chunk_store"]["bucket"] = toml::Value::String(missing.clone());
    });
    let (code, report, stderr) = run_deployed(
        &deployment,
        &["--keys", "10", "--s3-endpoint-url", &endpoint],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(report.is_null());
    assert!(
        stderr.contains(&missing)
            && stderr.contains("does not exist")
            && stderr.contains("create it"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Chunks hold SSNs: an endpoint off this machine is refused before anything is made or sent.
#[test]
fn an_s3_endpoint_off_this_machine_is_refused() {
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--s3-endpoint-url", "http://192.0.2.10:9000"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--s3-endpoint-url") && stderr.contains("only an endpoint on this machine"),
        "{stderr}"
    );
}

async fn moto_objects(endpoint: &str) -> ObjectStore {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await;
    ObjectStore::s3(&config)
}
