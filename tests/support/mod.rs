//! What the deploy tests share: the moto server's address, its reset and canned-result API, IAM
//! roles (made with plain HTTP, moto's query API), SDK clients for checking what deploy left in
//! moto, a copy of the workspace for edits, and running the real `cm-etl` binary.

pub mod fault_proxy;
pub mod local_run;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use assert_cmd::cargo::CommandCargoExt;

/// The repository root (where deploy.toml, definitions/ and lambda/ are).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `MOTO_ENDPOINT`, exported by tests/run.sh.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run `bash tests/run.sh -- --test integration`")
}

static SERIAL: Mutex<()> = Mutex::new(());

/// The tests share one moto server, and some reset it: every test that uses moto runs alone.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn curl(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl runs");
    let body = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "curl {args:?} failed: {body} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    body
}

/// Clears every resource in moto (its execution and Lambda settings stay).
pub fn reset_moto() {
    curl(&["-X", "POST", &format!("{}/moto-api/reset", moto_endpoint())]);
}

/// Queues the results moto's Docker-free Lambda returns, one per invocation, in order.
pub fn queue_lambda_results(results: &[serde_json::Value]) {
    let body = serde_json::json!({
        "results": results.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "region": "us-east-1",
    });
    curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &body.to_string(),
        &format!("{}/moto-api/static/lambda-simple/response", moto_endpoint()),
    ]);
}

/// Creates an IAM role in moto with the committed trust document; returns its ARN.
pub fn create_role(name: &str, trust_file: &str) -> String {
    let trust = std::fs::read_to_string(repo().join("definitions/iam").join(trust_file)).unwrap();
    curl(&[
        "-X",
        "POST",
        "-H",
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        "--data-urlencode",
        "Action=CreateRole",
        "--data-urlencode",
        "Version=2010-05-08",
        "--data-urlencode",
        &format!("RoleName={name}"),
        "--data-urlencode",
        &format!("AssumeRolePolicyDocument={trust}"),
        &format!("{}/", moto_endpoint()),
    ]);
    format!("arn:aws:iam::123456789012:role/{name}")
}

/// The committed document `definitions/iam/FILE`, as JSON.
pub fn committed_iam_document(file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("definitions/iam").join(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// An IAM document as IAM answers it (percent-encoded JSON), as JSON.
pub fn iam_document(encoded: &str) -> serde_json::Value {
    let mut bytes = Vec::new();
    let mut rest = encoded.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match (first, tail) {
            (b'%', [high, low, tail @ ..]) => {
                let hex = std::str::from_utf8(&[*high, *low]).unwrap().to_owned();
                bytes.push(u8::from_str_radix(&hex, 16).unwrap());
                rest = tail;
            }
            _ => {
                bytes.push(first);
                rest = tail;
            }
        }
    }
    serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{err}: {encoded}"))
}

/// The two roles the committed deploy.toml names.
pub fn create_roles() {
    create_role("cm-etl-phase2-lambda", "lambda-role-trust.json");
    create_role("cm-etl-phase2-states", "state-machine-role-trust.json");
}

/// `cm-etl` with the test environment: moto as the endpoint, a dev-profile Lambda build in the
/// shared target directory (built once, then a no-op), run from the repository root.
pub fn cm_etl() -> Command {
    let mut command = Command::cargo_bin("cm-etl").unwrap();
    command
        .current_dir(repo())
        .env("AWS_ENDPOINT_URL", moto_endpoint())
        .env("CM_ETL_LAMBDA_PROFILE", "dev")
        .env("CM_ETL_LAMBDA_TARGET_DIR", repo().join("target/lambda"));
    command
}

/// `synth --query-language jsonata --stdout`: the pipeline rendered in JSONata.
pub fn jsonata_rendering() -> Vec<u8> {
    let output = Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(repo())
        .args(["synth", "--query-language", "jsonata", "--stdout"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// What one run of the binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!("not JSON ({err}): {}\nstderr: {}", self.stdout, self.stderr)
        })
    }
}

pub fn run(command: &mut Command) -> Run {
    let started = std::time::Instant::now();
    let output = command.output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// `deploy --state-machine cm-etl-pipeline-phase2 --output json` plus `extra`.
pub fn deploy(extra: &[&str]) -> Run {
    run(cm_etl()
        .args([
            "deploy",
            "--state-machine",
            STATE_MACHINE,
            "--output",
            "json",
        ])
        .args(extra))
}

pub const STATE_MACHINE: &str = "cm-etl-pipeline-phase2";
/// The committed deploy.toml's chunk store bucket.
pub const CHUNK_BUCKET: &str = "cm-etl-phase2-chunks";
pub const FUNCTION: &str = "cm-etl-phase2";
pub const STATE_MACHINE_ARN: &str =
    "arn:aws:states:us-east-1:123456789012:stateMachine:cm-etl-pipeline-phase2";

/// A copy of what a build and a deploy read (manifests, sources, deploy.toml, definitions/), to
/// edit without touching the repository.
pub fn copy_workspace(into: &Path) {
    for file in ["Cargo.toml", "Cargo.lock", "deploy.toml"] {
        std::fs::copy(repo().join(file), into.join(file)).unwrap();
    }
    for dir in ["src", "asl", "pipeline", "lambda", "definitions", "benches"] {
        copy_dir(&repo().join(dir), &into.join(dir));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// SDK clients on moto, for checking what deploy and bootstrap did.
pub struct Moto {
    pub runtime: tokio::runtime::Runtime,
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Moto {
    pub fn connect() -> Self {
        Self::connect_to(&moto_endpoint())
    }

    /// Clients on `endpoint` (a test proxy in front of moto).
    pub fn connect_to(endpoint: &str) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let config = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .load(),
        );
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        Self {
            runtime,
            lambda: aws_sdk_lambda::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: aws_sdk_iam::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        }
    }

    /// Creates the chunk store's bucket, as `cm-etl bootstrap` or the bucket's owner would.
    pub fn create_bucket(&self, bucket: &str) {
        self.block_on(self.s3.create_bucket().bucket(bucket).send())
            .expect("CreateBucket");
    }

    /// Puts `body` at `bucket`/`key`.
    pub fn put_object(&self, bucket: &str, key: &str, body: &str) {
        self.block_on(
            self.s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send(),
        )
        .unwrap_or_else(|err| {
            panic!(
                "PutObject {bucket}/{key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(err)
            )
        });
    }

    /// The keys under `prefix` in `bucket`, in order.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let listed = self
            .block_on(
                self.s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .send(),
            )
            .expect("ListObjectsV2");
        listed
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect()
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The deployed definition, or `None` when the state machine does not exist.
    pub fn definition(&self) -> Option<String> {
        self.block_on(
            self.sfn
                .describe_state_machine()
                .state_machine_arn(STATE_MACHINE_ARN)
                .send(),
        )
        .ok()
        .map(|out| out.definition().to_owned())
    }

    pub fn function_exists(&self) -> bool {
        self.block_on(self.lambda.get_function().function_name(FUNCTION).send())
            .is_ok()
    }

    /// The published versions (without `$LATEST`).
    pub fn versions(&self) -> Vec<String> {
        self.block_on(
            self.lambda
                .list_versions_by_function()
                .function_name(FUNCTION)
                .send(),
        )
        .unwrap()
        .versions()
        .iter()
        .filter_map(|v| v.version())
        .filter(|v| *v != "$LATEST")
        .map(str::to_owned)
        .collect()
    }

    pub fn alias_version(&self) -> String {
        self.block_on(
            self.lambda
                .get_alias()
                .function_name(FUNCTION)
                .name("live")
                .send(),
        )
        .unwrap()
        .function_version()
        .unwrap()
        .to_owned()
    }

    pub fn memory(&self) -> i32 {
        self.block_on(
            self.lambda
                .get_function_configuration()
                .function_name(FUNCTION)
                .send(),
        )
        .unwrap()
        .memory_size()
        .unwrap()
    }
}

/// A SQLite warehouse with the schema and generated rows, its URL and what generated them.
pub struct SampleWarehouse {
    pub warehouse: etl_lambda::Warehouse,
    pub url: String,
    pub sample: etl_lambda::SampleData,
}

/// A SQLite warehouse in `dir` with `keys` generated keys (two rows each, 5 % bad rows, from
/// `seed`).
pub async fn sample_warehouse(dir: &Path, keys: u64, seed: u64) -> SampleWarehouse {
    let url = format!("sqlite://{}", dir.join("warehouse.sqlite3").display());
    let warehouse = etl_lambda::Warehouse::connect(&url).await.unwrap();
    warehouse.create_schema().await.unwrap();
    let sample = etl_lambda::SampleData {
        keys,
        rows_per_key: 2,
        bad_rows_percent: 5,
        seed,
        start_date: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
    };
    sample.load_into(&warehouse).await.unwrap();
    SampleWarehouse {
        warehouse,
        url,
        sample,
    }
}
