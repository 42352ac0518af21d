//! `cm-etl deploy` and `cm-etl diff`, run as the real binary against moto server
//! (`bash tests/run.sh -- --test integration deploy::`). The tests reset moto and run one at a time.
//!
//! Each test starts from a reset moto with the two roles of deploy.toml created from the committed
//! trust documents:
//! - the first deploy creates the function (its environment carries the chunk store and the
//!   secret's ARN) and stores the committed definition byte for byte; a second deploy uploads 0
//!   bytes and publishes nothing; a code change (an edited copy of the workspace) uploads once and
//!   publishes exactly one version, which the alias then points at;
//! - an execution of the deployed pipeline, with canned Lambda results, runs one child execution
//!   per chunk and succeeds;
//! - `--dry-run` changes nothing; `diff --exit-code` is 0 after deploy and 1 after a pipeline edit;
//! - one-line errors: an unknown state machine, no credentials, an unreachable endpoint, a missing
//!   role, a missing cargo-lambda, a failure part way (the re-run continues), and a Lambda update
//!   reported `Failed`: moto never fails one, so `tests/support/fault_proxy.rs` marks `$LATEST`'s
//!   `LastUpdateStatus` `Failed`, as AWS reports an update that failed after it was accepted;
//! - x86_64 dev, arm64 dev and x86_64 release builds: the ELF machine, the newest GLIBC symbol (at
//!   most 2.34), and the function in moto runs exactly that build's zip;
//! - the function joins a VPC, moves to another security group (`--dry-run` shows the change and
//!   writes nothing) and leaves it, as deploy.toml says.

use crate::support;

use std::time::{Duration, Instant};

use support::*;

fn changes(summary: &serde_json::Value) -> Vec<String> {
    summary["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// `function_steps` (which publish function version 2), then the release that pins it: the state
/// machine updated and published, its alias routed from release 1, old versions pruned.
fn with_a_new_release(mut function_steps: Vec<String>) -> Vec<String> {
    function_steps.extend([
        "update the state machine (definition) and publish a version".to_owned(),
        "route the state machine alias `live` from version 1 (100%) to the version published above (100%)".to_owned(),
        "delete state machine versions older than the newest 20 (never one the alias routes to or an execution runs on)".to_owned(),
    ]);
    function_steps
}

/// A temporary directory holding deploy.toml with `from` replaced by `to`.
fn edited_config(from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("deploy.toml")).unwrap();
    assert!(text.contains(from), "deploy.toml has no `{from}`");
    std::fs::write(dir.path().join("deploy.toml"), text.replace(from, to)).unwrap();
    dir
}

/// The newest `GLIBC_x.y` version `binary` needs, from `readelf -V` (binutils reads any ELF
/// architecture).
fn newest_glibc(binary: &std::path::Path) -> (u32, u32) {
    let output = std::process::Command::new("readelf")
        .args(["-V", "--wide"])
        .arg(binary)
        .output()
        .expect("readelf (binutils) runs");
    assert!(output.status.success(), "readelf -V {}", binary.display());
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|version| {
            let mut parts = version.split('.').map(|p| p.parse::<u32>());
            Some((parts.next()?.ok()?, parts.next()?.ok()?))
        })
        .max()
        .expect("a dynamically linked binary needs some GLIBC_ version")
}

fn aarch64_standard_library_installed() -> bool {
    let output = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .expect("rustup runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|line| line.trim() == "aarch64-unknown-linux-gnu")
}

fn fresh_moto_with_roles() -> Moto {
    reset_moto();
    create_roles();
    Moto::connect()
}

#[test]
fn the_first_deploy_creates_the_function_and_stores_the_committed_definition() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();

    let summary = deploy(&[]).json();

    // The committed definition with every Task pinned to the function version it deployed.
    let committed =
        std::fs::read_to_string(repo().join("definitions/etl_pipeline_phase2_ready.json")).unwrap();
    let shipped = committed.replace(
        &format!("function:{FUNCTION}:live\""),
        &format!("function:{FUNCTION}:1\""),
    );
    assert_ne!(shipped, committed);
    assert_eq!(moto.definition().as_deref(), Some(shipped.as_str()));
    assert!(moto.function_exists());
    assert_eq!(moto.versions(), vec!["1"]);
    assert_eq!(moto.alias_version(), "1");
    assert_eq!(summary["function_version"], "1");
    assert!(summary["bytes_uploaded"].as_u64().unwrap() > 0);
    assert_eq!(summary["bytes_uploaded"], summary["zip_bytes"]);
    assert!(
        summary["state_machine_version_arn"]
            .as_str()
            .unwrap()
            .starts_with(STATE_MACHINE_ARN),
        "{summary}"
    );
    let changes = changes(&summary);
    assert!(changes[0].starts_with("create the function"), "{changes:?}");
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("create the state machine")),
        "{changes:?}"
    );
    // moto does not implement ValidateStateMachineDefinition: a warning, never silence.
    assert!(
        summary["warnings"][0]
            .as_str()
            .unwrap()
            .contains("ValidateStateMachineDefinition")
    );

    let environment = moto
        .block_on(
            moto.lambda
                .get_function_configuration()
                .function_name(FUNCTION)
                .send(),
        )
        .unwrap()
        .environment()
        .unwrap()
        .variables()
        .unwrap()
        .clone();
    assert_eq!(
        environment["CHUNK_STORE_URI"],
        "s3://cm-etl-phase2-chunks/task02/"
    );
    assert!(environment["WAREHOUSE_SECRET_ARN"].starts_with("arn:aws:secretsmanager:"));
}

/// Also the benchmark of the closing note: first deploy against a no-op deploy, in one run
/// (`-- --nocapture` shows the figures).
#[test]
fn a_second_deploy_with_nothing_changed_uploads_and_publishes_nothing() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    let first = deploy(&[]);
    let first_summary = first.json();
    let second = deploy(&[]);
    let second_summary = second.json();

    assert_eq!(second_summary["bytes_uploaded"], 0, "{second_summary}");
    assert_eq!(changes(&second_summary), Vec::<String>::new());
    assert_eq!(
        second_summary["api_calls"]["mutating"], 0,
        "{second_summary}"
    );
    assert_eq!(moto.versions(), vec!["1"]);
    assert_eq!(second_summary["function_version"], "1");
    assert_eq!(second_summary["code_sha256"], first_summary["code_sha256"]);

    let text = run(cm_etl().args(["deploy", "--state-machine", STATE_MACHINE]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    for line in [
        "everything is current: nothing to change",
        "bytes uploaded:   0",
        "function version: 1",
        "(0 mutating)",
    ] {
        assert!(
            text.stdout.contains(line),
            "no `{line}` in:\n{}",
            text.stdout
        );
    }

    eprintln!(
        "BENCH deploy (dev-profile lambda, moto): first: {:.2}s ({:.2}s build), {} bytes uploaded, {} API calls ({} mutating); no-op: {:.2}s ({:.2}s build), {} bytes uploaded, {} API calls ({} mutating)",
        first.seconds,
        first_summary["build_seconds"].as_f64().unwrap(),
        first_summary["bytes_uploaded"],
        first_summary["api_calls"]["total"],
        first_summary["api_calls"]["mutating"],
        second.seconds,
        second_summary["build_seconds"].as_f64().unwrap(),
        second_summary["bytes_uploaded"],
        second_summary["api_calls"]["total"],
        second_summary["api_calls"]["mutating"],
    );
    eprintln!(
        "BENCH calls first: {}\nBENCH calls no-op: {}",
        first_summary["api_calls"]["by_operation"], second_summary["api_calls"]["by_operation"]
    );
}

#[test]
fn a_code_change_uploads_once_and_publishes_exactly_one_version() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    let first = deploy(&[]).json();

    let copy = tempfile::tempdir().unwrap();
    copy_workspace(copy.path());
    let main_rs = copy.path().join("lambda/src/main.rs");
    // A change the binary must keep: the text of a line it logs at every cold start (an unused
    // static, say, may be dropped by the linker and leave the same CodeSha256).
    let source = std::fs::read_to_string(&main_rs).unwrap();
    assert!(
        source.contains("\"handlers ready\""),
        "lambda/src/main.rs changed"
    );
    std::fs::write(
        &main_rs,
        source.replace("\"handlers ready\"", "\"handlers ready (changed)\""),
    )
    .unwrap();
    let in_copy = || {
        run(cm_etl().current_dir(copy.path()).args([
            "deploy",
            "--state-machine",
            STATE_MACHINE,
            "--output",
            "json",
        ]))
        .json()
    };

    let changed = in_copy();
    assert_ne!(changed["code_sha256"], first["code_sha256"]);
    assert_eq!(changed["bytes_uploaded"], changed["zip_bytes"]);
    assert_eq!(
        changes(&changed),
        with_a_new_release(vec![
            format!("upload the code ({} bytes)", changed["zip_bytes"]),
            "publish a function version".to_owned(),
            "move the alias from version 1".to_owned(),
        ])
    );
    assert_eq!(moto.versions(), vec!["1", "2"]);
    assert_eq!(moto.alias_version(), "2");
    assert_eq!(changed["function_version"], "2");
    // The new release pins version 2; the alias no longer appears in it.
    let definition = moto.definition().unwrap();
    assert!(
        definition.contains("function:cm-etl-phase2:2\"")
            && !definition.contains("function:cm-etl-phase2:live\""),
        "{definition}"
    );
    // moto lists no state machine versions: pruning says so rather than pretending.
    assert!(
        changed["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("no version was pruned")),
        "{changed}"
    );

    let again = in_copy();
    assert_eq!(again["bytes_uploaded"], 0);
    assert_eq!(moto.versions(), vec!["1", "2"]);

    // Back in the first checkout, whose sources are older than the copy's build in the shared
    // target directory: deploy ships this checkout's code, not the copy's.
    let back = deploy(&[]).json();
    assert_eq!(back["code_sha256"], first["code_sha256"]);
    assert_eq!(back["bytes_uploaded"], back["zip_bytes"]);
    assert_eq!(moto.versions(), vec!["1", "2", "3"]);
}

/// The deployed definition runs in moto's interpreter as a Distributed Map: its ItemReader reads
/// the chunk ids from the object the split names, one child execution runs per chunk, and the
/// ResultWriter writes into the execution's chunk folder. (moto cannot list a Map Run's child
/// executions, so what each child sent is checked by the runner's tests.)
#[test]
fn an_execution_runs_one_child_execution_per_chunk_and_succeeds() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    deploy(&[]).json();

    let chunk_ids = [0, 1, 2];
    moto.create_bucket(CHUNK_BUCKET);
    moto.put_object(
        CHUNK_BUCKET,
        "task02/exec-1/chunk-ids.json",
        &serde_json::json!(chunk_ids).to_string(),
    );
    let mut results = vec![serde_json::json!({
        "format_version": 1,
        "execution": "exec-1",
        "chunk_store": "s3://cm-etl-phase2-chunks/task02/exec-1/",
        "date_range": {"from": "2024-01-01", "to": "2024-01-31"},
        "num_chunks": chunk_ids.len(),
        "total_keys": 7,
        "total_rows": 20,
        "chunk_ids": {"bucket": CHUNK_BUCKET, "key": "task02/exec-1/chunk-ids.json"},
    })];
    results.extend(
        chunk_ids
            .iter()
            .map(|id| serde_json::json!({"chunk_id": id, "rows_migrated": 5, "rows_rejected": 1})),
    );
    queue_lambda_results(&results);

    let execution_arn = moto
        .block_on(
            moto.sfn
                .start_execution()
                .state_machine_arn(STATE_MACHINE_ARN)
                .name("exec-1")
                .input(r#"{"date_range": {"from": "2024-01-01", "to": "2024-01-31"}}"#)
                .send(),
        )
        .unwrap()
        .execution_arn()
        .to_owned();
    let started = Instant::now();
    let status = loop {
        let described = moto
            .block_on(
                moto.sfn
                    .describe_execution()
                    .execution_arn(&execution_arn)
                    .send(),
            )
            .unwrap();
        let status = described.status().as_str().to_owned();
        if status != "RUNNING" || started.elapsed() > Duration::from_secs(60) {
            break status;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let history = moto
        .block_on(
            moto.sfn
                .get_execution_history()
                .execution_arn(&execution_arn)
                .max_results(1000)
                .send(),
        )
        .unwrap();
    let events: Vec<String> = history
        .events()
        .iter()
        .map(|e| e.r#type().as_str().to_owned())
        .collect();
    assert_eq!(status, "SUCCEEDED", "{events:?}");
    // The parent's history holds the Map Run, not one entry per chunk.
    assert!(events.contains(&"MapRunSucceeded".to_owned()), "{events:?}");
    assert!(
        !events.iter().any(|e| e.starts_with("MapIteration")),
        "{events:?}"
    );
    let map_run = history
        .events()
        .iter()
        .find_map(|e| e.map_run_started_event_details()?.map_run_arn())
        .unwrap()
        .to_owned();
    assert!(
        map_run.contains(":mapRun:cm-etl-pipeline-phase2/chunks:"),
        "{map_run}"
    );
    let counts = moto
        .block_on(moto.sfn.describe_map_run().map_run_arn(&map_run).send())
        .unwrap()
        .item_counts()
        .cloned()
        .unwrap();
    assert_eq!((counts.succeeded(), counts.total()), (3, 3));
    // In the execution's own folder: its name and the digest of its ARN.
    let arn = etl_lambda::contract::ExecutionArn::new(execution_arn.clone()).unwrap();
    let results = moto.keys(
        CHUNK_BUCKET,
        &format!("task02/exec-1-{}/map-results/", arn.digest()),
    );
    assert!(
        results.iter().any(|key| key.ends_with("/manifest.json")),
        "{results:?}"
    );
}

#[test]
fn dry_run_reads_everything_and_changes_nothing() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();

    let planned = deploy(&["--dry-run"]).json();
    assert_eq!(planned["dry_run"], true);
    assert_eq!(planned["api_calls"]["mutating"], 0, "{planned}");
    assert_eq!(planned["bytes_uploaded"], 0);
    assert!(
        changes(&planned)[0].starts_with("create the function"),
        "{planned}"
    );
    assert!(!moto.function_exists());
    assert_eq!(moto.definition(), None);

    deploy(&[]).json();
    let edited = edited_config("memory_mb = 1024", "memory_mb = 2048");
    let config_path = edited.path().join("deploy.toml");
    let planned = deploy(&["--dry-run", "--config", config_path.to_str().unwrap()]).json();
    assert_eq!(
        changes(&planned),
        with_a_new_release(vec![
            "update the function configuration (memory_size)".to_owned(),
            "publish a function version".to_owned(),
            "move the alias from version 1".to_owned(),
        ])
    );
    assert_eq!(planned["api_calls"]["mutating"], 0);
    assert_eq!(moto.memory(), 1024);
    assert_eq!(moto.versions(), vec!["1"]);
}

#[test]
fn diff_exit_code_is_0_after_deploy_and_1_after_a_pipeline_edit() {
    let _serial = serial();
    let _moto = fresh_moto_with_roles();
    let diff = |config: &str| {
        run(cm_etl().args([
            "diff",
            "--state-machine",
            STATE_MACHINE,
            "--exit-code",
            "--config",
            config,
        ]))
    };

    let before = diff("deploy.toml");
    assert_eq!(before.code, 1, "{}", before.stderr);
    assert!(
        before.stdout.contains("is not deployed"),
        "{}",
        before.stdout
    );

    deploy(&[]).json();
    let same = diff("deploy.toml");
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
    assert!(same.stdout.contains("no differences"), "{}", same.stdout);

    // A pipeline edit: the chunk budget is rendered into GetTask02Chunks' payload. The release
    // pins function version 1 on both sides, so the diff shows only the edit.
    let edited_dir = edited_config("max_keys = 1000", "max_keys = 500");
    let config_path = edited_dir.path().join("deploy.toml");
    let edited = diff(config_path.to_str().unwrap());
    assert_eq!(edited.code, 1, "{}", edited.stderr);
    let changed: Vec<String> = edited
        .stdout
        .lines()
        .filter(|line| {
            (line.starts_with('-') || line.starts_with('+'))
                && !line.starts_with("---")
                && !line.starts_with("+++")
        })
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        changed,
        ["- \"max_keys\": 1000", "+ \"max_keys\": 500"],
        "{}",
        edited.stdout
    );
    assert!(
        edited.stdout.starts_with(
            "the release 1 (function version 1) of cm-etl-pipeline-phase2 (-) against the local definition (+):\n--- deployed\n+++ local\n"
        ),
        "{}",
        edited.stdout
    );
    assert!(
        !edited.stdout.contains('\x1b'),
        "no colors when stdout is not a terminal"
    );

    // The committed definition is stale for that config: deploy refuses before any write.
    let stale = deploy(&["--config", config_path.to_str().unwrap()]);
    assert_eq!(stale.code, 2);
    assert!(stale.stderr.contains("is stale"), "{}", stale.stderr);
    assert!(
        stale.stderr.contains("cargo run -- synth"),
        "{}",
        stale.stderr
    );
    assert_eq!(
        diff("deploy.toml").code,
        0,
        "the stale deploy changed nothing"
    );
}

#[test]
fn an_unknown_state_machine_is_named_with_the_known_ones() {
    let run = run(cm_etl().args(["deploy", "--state-machine", "no-such-machine"]));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("[state_machines.no-such-machine]"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cm-etl-pipeline-phase2"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
}

#[test]
fn no_credentials_is_one_clear_error() {
    let _serial = serial();
    let home = tempfile::tempdir().unwrap();
    let run = run(cm_etl()
        .args(["deploy", "--state-machine", STATE_MACHINE])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true"));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no AWS credentials found"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
}

#[test]
fn an_unreachable_endpoint_is_one_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let run = run(cm_etl().args([
        "deploy",
        "--state-machine",
        STATE_MACHINE,
        "--endpoint-url",
        &endpoint,
    ]));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains(&format!("cannot reach the AWS endpoint {endpoint}")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
}

#[test]
fn a_missing_role_stops_before_anything_changes() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    let run = deploy(&[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("arn:aws:iam::123456789012:role/cm-etl-phase2-lambda does not exist or cannot be assumed by Lambda"), "{}", run.stderr);
    assert!(run.stderr.contains("Changed: nothing"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Not changed: create the function"),
        "{}",
        run.stderr
    );
    assert!(!moto.function_exists());
    assert_eq!(moto.definition(), None);
}

#[test]
fn a_missing_cargo_lambda_says_what_to_install() {
    let _serial = serial();
    let _moto = fresh_moto_with_roles();
    let cargo = std::env::var("CARGO").unwrap();
    let cargo_dir = std::path::Path::new(&cargo).parent().unwrap();
    let run = run(cm_etl()
        .args(["deploy", "--state-machine", STATE_MACHINE])
        .env("PATH", cargo_dir));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cargo-lambda is not installed: install it with `pip install cargo-lambda`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_failure_part_way_says_what_changed_and_a_rerun_continues() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    // moto rejects a state machine role that is not a role ARN, after the function is done.
    let edited = edited_config(
        "role_arn = \"arn:aws:iam::123456789012:role/cm-etl-phase2-states\"",
        "role_arn = \"arn:aws:iam::123456789012:user/cm-etl-phase2-states\"",
    );
    let failed = deploy(&[
        "--config",
        edited.path().join("deploy.toml").to_str().unwrap(),
    ]);
    assert_eq!(failed.code, 2);
    let stderr = failed.stderr.trim();
    assert_eq!(
        stderr.lines().count(),
        2,
        "a warning and one error line: {stderr}"
    );
    let error = stderr.lines().last().unwrap();
    assert!(
        error.starts_with("error: deploy stopped at `create the state machine (publish version 1, pinned to the function version)`: CreateStateMachine failed:"),
        "{error}"
    );
    assert!(
        error.contains("Changed: create the function (")
            && error.contains("publish a function version; create the alias. Not changed: create the state machine"),
        "{error}"
    );
    assert!(moto.function_exists());
    assert_eq!(moto.definition(), None);

    let resumed = deploy(&[]).json();
    assert_eq!(
        changes(&resumed),
        vec![
            "create the state machine (publish version 1, pinned to the function version)"
                .to_owned(),
            "create the state machine alias `live`: the version published above (100%)".to_owned(),
            "delete state machine versions older than the newest 20 (never one the alias routes to or an execution runs on)".to_owned(),
        ]
    );
    assert_eq!(resumed["bytes_uploaded"], 0);
    assert_eq!(moto.versions(), vec!["1"]);
    assert!(moto.definition().is_some());
}

#[test]
fn a_failed_lambda_update_is_one_clear_error_and_a_rerun_continues() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    deploy(&[]).json();
    assert_eq!(moto.versions(), vec!["1"]);

    // AWS accepts the update, then reports it Failed; moto never does, so a proxy says so.
    let proxy = support::fault_proxy::FaultProxy::failing_updates_of(FUNCTION, &moto_endpoint());
    let bigger = edited_config("memory_mb = 1024", "memory_mb = 2048");
    let config = bigger.path().join("deploy.toml");
    let config = config.to_str().unwrap();
    let failed = deploy(&["--endpoint-url", &proxy.endpoint, "--config", config]);
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert_eq!(failed.stdout, "", "no summary after a failure");
    let error = failed.stderr.trim().lines().last().unwrap();
    assert_eq!(
        error,
        format!(
            "error: deploy stopped at `update the function configuration (memory_size)`: the Lambda \
             update failed while updating the configuration {FUNCTION} (status Failed, {}); fix the \
             cause and re-run deploy. Changed: nothing. Not changed: update the function \
             configuration (memory_size); publish a function version; move the alias from version \
             1; update the state machine (definition) and publish a version; route the state \
             machine alias `live` from version 1 (100%) to the version published above (100%); \
             delete state machine versions older than the newest 20 (never one the alias routes \
             to or an execution runs on). Re-run deploy to continue from here (every step is an \
             upsert)",
            support::fault_proxy::FAILED_REASON
        )
    );
    assert_eq!(moto.versions(), vec!["1"], "nothing was published");
    assert_eq!(moto.alias_version(), "1");

    // Once the cause is fixed, the same command continues: the configuration is already in.
    let resumed = deploy(&["--config", config]).json();
    assert_eq!(
        changes(&resumed),
        with_a_new_release(vec![
            "publish a function version".to_owned(),
            "move the alias from version 1".to_owned(),
        ])
    );
    assert_eq!(moto.memory(), 2048);
    assert_eq!(moto.versions(), vec!["1", "2"]);
    assert_eq!(moto.alias_version(), "2");
}

/// What `deploy` ships on each architecture, and with each profile (the release profile is its
/// default): an ELF for that machine needing glibc 2.34 at most (provided.al2023), zipped into
/// exactly the code the function then runs. Architecture and profile are independent settings, so
/// two builds cover each value of both (x86_64 dev, arm64 release); each cold build of the Lambda
/// for its zig target costs minutes of CI.
///
/// The release build is made without optimizations (cargo's `CARGO_PROFILE_RELEASE_*` variables,
/// which reach deploy's build): what is checked here does not depend on them (zig's glibc 2.34
/// stubs refuse a newer symbol at link time whatever the optimization), and a cold optimized build
/// of the Lambda's dependencies (the AWS SDK, aws-lc, SQLite) was the slowest step of CI. deploy
/// still builds with `--release`, into the release profile's own directories.
#[test]
fn each_architecture_and_profile_ships_a_provided_al2023_binary() {
    let _serial = serial();
    const EM_X86_64: u16 = 0x3e;
    const EM_AARCH64: u16 = 0xb7;
    for (architecture, profile, machine) in [
        ("x86_64", "dev", EM_X86_64),
        ("arm64", "release", EM_AARCH64),
    ] {
        let moto = fresh_moto_with_roles();
        let edited = edited_config(
            "architecture = \"x86_64\"",
            &format!("architecture = \"{architecture}\""),
        );
        let config = edited.path().join("deploy.toml");
        let mut command = cm_etl();
        command
            .args([
                "deploy",
                "--state-machine",
                STATE_MACHINE,
                "--output",
                "json",
            ])
            .args(["--config", config.to_str().unwrap()])
            .args(["--lambda-profile", profile]);
        if profile == "release" {
            command
                .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
                .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256");
        }
        let run = run(&mut command);
        if run.code != 0 && architecture == "arm64" && !aarch64_standard_library_installed() {
            // tests/run.sh (or cargo-lambda) installs it where rustup can download; where it
            // cannot, deploy must say what to run, in one line, before any write.
            assert_eq!(run.code, 2);
            assert_eq!(
                run.stderr.trim().lines().last().unwrap(),
                "error: the aarch64-unknown-linux-gnu standard library is not installed and cargo-lambda could not install it: run `rustup target add aarch64-unknown-linux-gnu`, then re-run deploy; nothing was changed in AWS"
            );
            assert!(!moto.function_exists());
            println!("arm64: no aarch64 standard library here; the error was checked instead");
            continue;
        }
        let summary = run.json();
        assert_eq!(summary["lambda_profile"], profile);

        let live = moto
            .block_on(
                moto.lambda
                    .get_function_configuration()
                    .function_name(FUNCTION)
                    .send(),
            )
            .unwrap();
        assert_eq!(
            live.architectures()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>(),
            [architecture]
        );
        assert_eq!(live.code_sha256(), summary["code_sha256"].as_str());

        let binary = repo().join(format!(
            "target/lambda/out-{architecture}-{profile}/etl-lambda/bootstrap"
        ));
        let bytes = std::fs::read(&binary).unwrap();
        assert_eq!(
            cm_etl::deploy::package::Package::from_binary(&bytes)
                .unwrap()
                .code_sha256,
            summary["code_sha256"].as_str().unwrap(),
            "the function runs the zip of {}",
            binary.display()
        );
        assert_eq!(&bytes[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), machine);
        let glibc = newest_glibc(&binary);
        assert!(
            glibc <= (2, 34),
            "{architecture} {profile} needs GLIBC_{glibc:?}"
        );
        println!(
            "{architecture} {profile}: {} byte binary, {} byte zip, GLIBC_{}.{}, built in {:.1}s",
            bytes.len(),
            summary["zip_bytes"],
            glibc.0,
            glibc.1,
            summary["build_seconds"].as_f64().unwrap()
        );
    }
}

/// The committed deploy.toml's `[function.vpc]` example, commented out and turned on.
const VPC_EXAMPLE: &str = "# [function.vpc]\n# subnet_ids = [\"subnet-0123456789abcdef0\", \"subnet-0fedcba9876543210\"]\n# security_group_ids = [\"sg-0123456789abcdef0\"]\n";

/// The function's VPC as moto stores it for `qualifier` (`$LATEST` when `None`): sorted subnets
/// and security groups, empty when it has none.
fn vpc_of(moto: &Moto, qualifier: Option<&str>) -> (Vec<String>, Vec<String>) {
    let configuration = moto
        .block_on(
            moto.lambda
                .get_function_configuration()
                .function_name(FUNCTION)
                .set_qualifier(qualifier.map(str::to_owned))
                .send(),
        )
        .unwrap();
    let sorted = |ids: &[String]| {
        let mut ids = ids.to_vec();
        ids.sort();
        ids
    };
    configuration
        .vpc_config()
        .map_or_else(Default::default, |vpc| {
            (sorted(vpc.subnet_ids()), sorted(vpc.security_group_ids()))
        })
}

#[test]
fn the_function_joins_changes_and_leaves_its_vpc_as_deploy_toml_says() {
    let _serial = serial();
    let moto = fresh_moto_with_roles();
    let in_vpc = edited_config(VPC_EXAMPLE, &VPC_EXAMPLE.replace("# ", ""));
    let in_vpc = in_vpc.path().join("deploy.toml");
    let created = deploy(&["--config", in_vpc.to_str().unwrap()]).json();
    assert!(
        changes(&created)[0].starts_with("create the function"),
        "{created}"
    );
    let expected = (
        vec![
            "subnet-0123456789abcdef0".to_owned(),
            "subnet-0fedcba9876543210".to_owned(),
        ],
        vec!["sg-0123456789abcdef0".to_owned()],
    );
    assert_eq!(vpc_of(&moto, None), expected);
    assert_eq!(
        vpc_of(&moto, Some("live")),
        expected,
        "the published version is in the VPC"
    );

    // Another security group: planned as a configuration change, written only without --dry-run.
    let moved = edited_config(
        VPC_EXAMPLE,
        &VPC_EXAMPLE
            .replace("# ", "")
            .replace("sg-0123456789abcdef0", "sg-0a1b2c3d"),
    );
    let moved = moved.path().join("deploy.toml");
    let moved = moved.to_str().unwrap();
    let update = with_a_new_release(vec![
        "update the function configuration (vpc_config)".to_owned(),
        "publish a function version".to_owned(),
        "move the alias from version 1".to_owned(),
    ]);
    let planned = deploy(&["--dry-run", "--config", moved]).json();
    assert_eq!(changes(&planned), update);
    assert_eq!(planned["api_calls"]["mutating"], 0);
    assert_eq!(vpc_of(&moto, None), expected);
    assert_eq!(changes(&deploy(&["--config", moved]).json()), update);
    assert_eq!(vpc_of(&moto, None).1, ["sg-0a1b2c3d"]);
    assert_eq!(moto.alias_version(), "2");

    // The table removed: the function leaves its VPC (empty lists), and stays out of it.
    let left = deploy(&[]).json();
    assert_eq!(
        changes(&left)[0],
        "update the function configuration (vpc_config removed: the function leaves its VPC)"
    );
    assert_eq!(vpc_of(&moto, None), (vec![], vec![]));
    assert_eq!(vpc_of(&moto, Some("live")), (vec![], vec![]));
    assert_eq!(changes(&deploy(&[]).json()), Vec::<String>::new());
}
