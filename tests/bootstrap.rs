//! `cm-etl bootstrap`, run as the real binary against moto server
//! (`bash tests/run.sh -- --test integration bootstrap::`): on a freshly reset moto it creates what
//! deploy assumes, after which deploy and an execution succeed with nothing made by hand; a second
//! run changes nothing; drift is put back. The tests reset moto and run one at a time.
//!
//! Covered: bootstrap, `deploy`, then `start --wait` succeed on a fresh moto and a second bootstrap
//! changes nothing; `--dry-run` plans and creates nothing; a drifted role (trust and inline
//! policy), a removed public access block and a changed chunk rule are put back while another
//! statement and another rule are kept; `expire_after_days` and a logging state machine give their
//! lifecycle rule and log group; a versioned (or suspended) bucket gets the rule expiring noncurrent
//! versions too; with `kms_key_arn` the bucket encrypts with that key and both roles carry exactly
//! the documents `iam` generates for it, while a bucket encrypting with another key (or with one
//! when none is configured) is refused before any write; an AccessDenied part way is one line naming what changed, and the
//! re-run does only the rest; a role of another account is refused before any call. Every bucket
//! setting and both roles' documents are read back. moto takes a bucket policy statement's
//! Condition as unmet whatever the request, so with the TLS-only statement every object request
//! would be refused (403); in the end-to-end test the proxy (`FaultProxy::holding_bucket_policies`)
//! keeps the bucket policy instead, answering PutBucketPolicy and GetBucketPolicy as S3 documents
//! them.

use crate::support;

use aws_sdk_s3::types::ServerSideEncryption;
use serde_json::{Value, json};
use support::fault_proxy::{FaultProxy, Route, http_response};
use support::*;

const LAMBDA_ROLE: &str = "cm-etl-phase2-lambda";
const STATES_ROLE: &str = "cm-etl-phase2-states";
/// What bootstrap does on an empty account with the committed deploy.toml.
const FRESH_CHANGES: [&str; 9] = [
    "create the role arn:aws:iam::123456789012:role/cm-etl-phase2-lambda (trust: definitions/iam/lambda-role-trust.json)",
    "put the inline policy cm-etl-lambda-role-policy (definitions/iam/lambda-role-policy.json) on the role arn:aws:iam::123456789012:role/cm-etl-phase2-lambda",
    "create the role arn:aws:iam::123456789012:role/cm-etl-phase2-states (trust: definitions/iam/state-machine-role-trust.json)",
    "put the inline policy cm-etl-state-machine-role-policy (definitions/iam/state-machine-role-policy.json) on the role arn:aws:iam::123456789012:role/cm-etl-phase2-states",
    "create the bucket cm-etl-phase2-chunks",
    "turn on default encryption (SSE-S3, AES256) of the bucket cm-etl-phase2-chunks",
    "block all public access to the bucket cm-etl-phase2-chunks",
    "deny requests without TLS to the bucket cm-etl-phase2-chunks (bucket policy statement DenyRequestsWithoutTls)",
    "expire the objects under s3://cm-etl-phase2-chunks/task02/ after 7 days (on a versioned bucket: their noncurrent versions 1 day after they stop being current, and their leftover delete markers) and abort their unfinished uploads after 1 day (lifecycle rule cm-etl-expire-chunks)",
];

fn bootstrap(extra: &[&str]) -> Run {
    run(cm_etl().args(["bootstrap", "--output", "json"]).args(extra))
}

fn changes(summary: &Value) -> Vec<String> {
    summary["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

/// A temporary directory holding deploy.toml with each `(from, to)` replaced.
fn edited_config(edits: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(repo().join("deploy.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "deploy.toml has no `{from}`");
        text = text.replace(from, to);
    }
    std::fs::write(dir.path().join("deploy.toml"), text).unwrap();
    dir
}

fn role_exists(moto: &Moto, name: &str) -> bool {
    moto.block_on(moto.iam.get_role().role_name(name).send())
        .is_ok()
}

/// The role's trust and inline policy, as JSON.
fn role_documents(moto: &Moto, name: &str, policy_name: &str) -> (Value, Value) {
    let role = moto
        .block_on(moto.iam.get_role().role_name(name).send())
        .unwrap();
    let trust = iam_document(role.role().unwrap().assume_role_policy_document().unwrap());
    let policy = moto
        .block_on(
            moto.iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy_name)
                .send(),
        )
        .unwrap();
    (trust, iam_document(policy.policy_document()))
}

/// Reads back every bucket setting bootstrap makes and checks it.
fn assert_bucket_is_bootstrapped(moto: &Moto, expire_after_days: i32) {
    let encryption = moto
        .block_on(moto.s3.get_bucket_encryption().bucket(CHUNK_BUCKET).send())
        .expect("default encryption is set");
    let algorithms: Vec<&ServerSideEncryption> = encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm())
        .collect();
    assert_eq!(algorithms, [&ServerSideEncryption::Aes256]);

    let block = moto
        .block_on(
            moto.s3
                .get_public_access_block()
                .bucket(CHUNK_BUCKET)
                .send(),
        )
        .expect("public access is blocked");
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );

    let policy = moto
        .block_on(moto.s3.get_bucket_policy().bucket(CHUNK_BUCKET).send())
        .expect("a bucket policy is set");
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let tls = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "DenyRequestsWithoutTls")
        .expect("the TLS statement");
    assert_eq!(
        tls,
        &json!({
            "Sid": "DenyRequestsWithoutTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::cm-etl-phase2-chunks", "arn:aws:s3:::cm-etl-phase2-chunks/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        })
    );

    let lifecycle = moto
        .block_on(
            moto.s3
                .get_bucket_lifecycle_configuration()
                .bucket(CHUNK_BUCKET)
                .send(),
        )
        .expect("a lifecycle configuration is set");
    let rule = lifecycle
        .rules()
        .iter()
        .find(|r| r.id() == Some("cm-etl-expire-chunks"))
        .expect("the chunk expiry rule");
    assert_eq!(rule.status().as_str(), "Enabled");
    assert_eq!(rule.filter().and_then(|f| f.prefix()), Some("task02/"));
    assert_eq!(
        rule.expiration().and_then(|e| e.days()),
        Some(expire_after_days)
    );
    assert_eq!(
        rule.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(1)
    );
    // On a versioned bucket a deleted or expired chunk stays as a noncurrent version: gone a day
    // later.
    assert_eq!(
        rule.noncurrent_version_expiration()
            .and_then(|n| n.noncurrent_days()),
        Some(1)
    );
}

/// The whole path on an empty account: bootstrap, deploy, an execution that succeeds; then a
/// second bootstrap that has nothing to do.
#[test]
fn bootstrap_then_deploy_then_an_execution_succeeds_with_nothing_made_by_hand() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    // moto would refuse every object request once the TLS-only bucket policy is in (it takes the
    // statement's condition for unmet): the proxy keeps the bucket policy instead, as S3 would.
    let proxy = FaultProxy::holding_bucket_policies(&moto_endpoint());
    let through_proxy = ["--endpoint-url", proxy.endpoint.as_str()];

    let first = bootstrap(&through_proxy);
    let summary = first.json();
    assert_eq!(changes(&summary), FRESH_CHANGES, "{summary}");
    assert_eq!(
        summary["api_calls"]["mutating"],
        FRESH_CHANGES.len(),
        "{summary}"
    );
    assert_bucket_is_bootstrapped(&Moto::connect_to(&proxy.endpoint), 7);
    for (role, kind) in [
        (LAMBDA_ROLE, "lambda-role"),
        (STATES_ROLE, "state-machine-role"),
    ] {
        let (trust, policy) = role_documents(&moto, role, &format!("cm-etl-{kind}-policy"));
        assert_eq!(trust, committed_iam_document(&format!("{kind}-trust.json")));
        assert_eq!(
            policy,
            committed_iam_document(&format!("{kind}-policy.json"))
        );
    }

    let deployed = deploy(&[]).json();
    assert_eq!(deployed["function_version"], "1", "{deployed}");

    // The canned split names its chunk ids object in the bucket bootstrap made.
    let chunk_ids = [0, 1, 2];
    let key = "task02/canned/chunk-ids.json";
    moto.put_object(CHUNK_BUCKET, key, &json!(chunk_ids).to_string());
    let mut results = vec![json!({
        "format_version": 1,
        "execution": "canned",
        "chunk_store": "s3://cm-etl-phase2-chunks/task02/canned/",
        "date_range": {"from": "2024-01-01", "to": "2024-01-31"},
        "num_chunks": chunk_ids.len(),
        "total_keys": 30,
        "total_rows": 90,
        "chunk_ids": {"bucket": CHUNK_BUCKET, "key": key},
    })];
    results.extend(
        chunk_ids
            .iter()
            .map(|id| json!({"chunk_id": id, "rows_migrated": 30, "rows_rejected": 0})),
    );
    queue_lambda_results(&results);
    // `start` starts on the alias, which moto cannot: a second proxy can.
    let versions = FaultProxy::with_state_machine_versions(&proxy.endpoint);
    let started = run(cm_etl().args([
        "start",
        "--endpoint-url",
        &versions.endpoint,
        "--input",
        r#"{"date_range":{"from":"2024-01-01","to":"2024-01-31"}}"#,
        "--wait",
        "--output",
        "json",
    ]));
    let report = started.json();
    assert_eq!(report["status"], "SUCCEEDED", "{report}");
    assert_eq!(report["map_iterations"]["succeeded"], 3, "{report}");

    let again = bootstrap(&through_proxy).json();
    assert_eq!(changes(&again), Vec::<String>::new(), "{again}");
    assert_eq!(again["api_calls"]["mutating"], 0, "{again}");
    let text = run(cm_etl().arg("bootstrap").args(through_proxy));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("nothing to do"), "{}", text.stdout);
    assert!(text.stdout.contains("(0 mutating)"), "{}", text.stdout);
    eprintln!(
        "BENCH bootstrap (moto): first {:.2}s, {} API calls; no-op {} API calls",
        first.seconds, summary["api_calls"]["total"], again["api_calls"]["total"]
    );
}

#[test]
fn dry_run_on_a_fresh_account_prints_the_plan_and_changes_nothing() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();

    let planned = bootstrap(&["--dry-run"]).json();
    assert_eq!(planned["dry_run"], true);
    assert_eq!(changes(&planned), FRESH_CHANGES);
    assert_eq!(planned["api_calls"]["mutating"], 0, "{planned}");
    assert!(!role_exists(&moto, LAMBDA_ROLE) && !role_exists(&moto, STATES_ROLE));
    assert!(
        moto.block_on(moto.s3.head_bucket().bucket(CHUNK_BUCKET).send())
            .is_err(),
        "the bucket was created"
    );

    let text = run(cm_etl().args(["bootstrap", "--dry-run"]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .starts_with("bootstrap (dry run: nothing was changed)\n  would change:\n"),
        "{}",
        text.stdout
    );
}

/// Someone widened the Lambda role, changed its trust, removed the public access block and
/// changed the chunk rule: bootstrap puts back exactly those, and keeps the bucket policy
/// statements and lifecycle rules that are not its own.
#[test]
fn drift_is_put_back_and_what_is_not_ours_is_kept() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    bootstrap(&[]).json();

    let wide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    let anyone = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let their_statement = json!({"Sid": "AuditorsRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetBucketLocation", "Resource": "arn:aws:s3:::cm-etl-phase2-chunks"});
    moto.block_on(async {
        moto.iam
            .put_role_policy()
            .role_name(LAMBDA_ROLE)
            .policy_name("cm-etl-lambda-role-policy")
            .policy_document(wide.to_string())
            .send()
            .await
            .unwrap();
        moto.iam
            .update_assume_role_policy()
            .role_name(LAMBDA_ROLE)
            .policy_document(anyone.to_string())
            .send()
            .await
            .unwrap();
        moto.s3
            .delete_public_access_block()
            .bucket(CHUNK_BUCKET)
            .send()
            .await
            .unwrap();
        let policy = json!({"Version": "2012-10-17", "Statement": [their_statement]});
        moto.s3
            .put_bucket_policy()
            .bucket(CHUNK_BUCKET)
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
        use aws_sdk_s3::types::*;
        let rule = |id: &str, prefix: &str, days: i32| {
            LifecycleRule::builder()
                .id(id)
                .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
                .status(ExpirationStatus::Enabled)
                .expiration(LifecycleExpiration::builder().days(days).build())
                .build()
                .unwrap()
        };
        moto.s3
            .put_bucket_lifecycle_configuration()
            .bucket(CHUNK_BUCKET)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .rules(rule("their-logs", "logs/", 90))
                    .rules(rule("cm-etl-expire-chunks", "task02/", 365))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    });

    let repaired = bootstrap(&[]).json();
    let lambda_role = "arn:aws:iam::123456789012:role/cm-etl-phase2-lambda";
    assert_eq!(
        changes(&repaired),
        [
            format!(
                "put back the trust policy of the role {lambda_role} (it differs from definitions/iam/lambda-role-trust.json)"
            ),
            format!(
                "put back the inline policy cm-etl-lambda-role-policy of the role {lambda_role} (it differs from definitions/iam/lambda-role-policy.json)"
            ),
            "block all public access to the bucket cm-etl-phase2-chunks".to_owned(),
            FRESH_CHANGES[7].to_owned(),
            FRESH_CHANGES[8].to_owned(),
        ],
        "{repaired}"
    );
    let (trust, policy) = role_documents(&moto, LAMBDA_ROLE, "cm-etl-lambda-role-policy");
    assert_eq!(trust, committed_iam_document("lambda-role-trust.json"));
    assert_eq!(policy, committed_iam_document("lambda-role-policy.json"));
    assert_bucket_is_bootstrapped(&moto, 7);
    let policy = moto
        .block_on(moto.s3.get_bucket_policy().bucket(CHUNK_BUCKET).send())
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    assert_eq!(policy["Statement"][0], their_statement, "{policy}");
    let rules = moto
        .block_on(
            moto.s3
                .get_bucket_lifecycle_configuration()
                .bucket(CHUNK_BUCKET)
                .send(),
        )
        .unwrap();
    let ids: Vec<&str> = rules.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids, ["their-logs", "cm-etl-expire-chunks"]);

    assert_eq!(changes(&bootstrap(&[]).json()), Vec::<String>::new());
}

#[test]
fn expire_after_days_and_logging_are_applied_from_deploy_toml() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    let log_group = "/aws/vendedlogs/states/cm-etl-pipeline-phase2";
    let edited = edited_config(&[
        ("expire_after_days = 7", "expire_after_days = 30"),
        (
            "level = \"OFF\"",
            &format!(
                "level = \"ERROR\"\nlog_group_arn = \"arn:aws:logs:us-east-1:123456789012:log-group:{log_group}:*\""
            ),
        ),
    ]);
    let config = edited.path().join("deploy.toml");
    let config = config.to_str().unwrap();
    let summary = bootstrap(&["--config", config]).json();
    let changes = changes(&summary);
    assert!(
        changes.contains(&format!("create the log group {log_group}")),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|c| c.contains("after 30 days")),
        "{changes:?}"
    );
    assert_bucket_is_bootstrapped(&moto, 30);
    let groups = moto
        .block_on(
            moto.logs
                .describe_log_groups()
                .log_group_name_prefix(log_group)
                .send(),
        )
        .unwrap();
    assert_eq!(
        groups
            .log_groups()
            .iter()
            .filter_map(|g| g.log_group_name())
            .collect::<Vec<_>>(),
        [log_group]
    );
    // The state machine's role now may deliver logs: its inline policy follows deploy.toml.
    let (_, policy) = role_documents(&moto, STATES_ROLE, "cm-etl-state-machine-role-policy");
    assert!(
        policy.to_string().contains("logs:CreateLogDelivery"),
        "{policy}"
    );

    let again = bootstrap(&["--config", config]).json();
    assert_eq!(again["changes"], json!([]), "{again}");
    // Back to the committed file: the rule goes back to 7 days, the log group stays.
    let back = bootstrap(&[]).json();
    assert!(
        back["changes"].to_string().contains("after 7 days"),
        "{back}"
    );
}

/// S3 refuses the lifecycle rule (here a proxy answers PutBucketLifecycleConfiguration with AWS's
/// AccessDenied): one line naming the step, what changed before it and what did not; the re-run
/// does only the rest.
#[test]
fn a_failure_part_way_says_what_changed_and_a_rerun_continues() {
    let _serial = serial();
    reset_moto();
    let proxy = FaultProxy::start(&moto_endpoint(), |request| {
        if request.method == "PUT" && request.query().starts_with("lifecycle") {
            Route::Answer(http_response(
                403,
                "application/xml",
                b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>fault-proxy</RequestId></Error>",
            ))
        } else {
            Route::Forward
        }
    });
    let failed = run(cm_etl().args(["bootstrap", "--endpoint-url", &proxy.endpoint]));
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert_eq!(failed.stdout, "");
    assert_eq!(failed.stderr.trim().lines().count(), 1, "{}", failed.stderr);
    let done = FRESH_CHANGES[..8].join("; ");
    assert_eq!(
        failed.stderr.trim(),
        format!(
            "error: bootstrap stopped at `{}`: PutBucketLifecycleConfiguration failed: AccessDenied: Access Denied. Changed: {done}. Not changed: {}. Re-run bootstrap to continue from here (every step is an upsert)",
            FRESH_CHANGES[8], FRESH_CHANGES[8]
        )
    );
    let sent = proxy
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.query().starts_with("lifecycle"))
        .count();
    assert_eq!(sent, 1, "an AccessDenied is not retried");

    let resumed = bootstrap(&[]).json();
    assert_eq!(changes(&resumed), [FRESH_CHANGES[8]]);
    assert_bucket_is_bootstrapped(&Moto::connect(), 7);
}

#[test]
fn a_role_outside_the_account_is_refused_before_any_call() {
    let _serial = serial();
    reset_moto();
    let edited = edited_config(&[(
        "arn:aws:iam::123456789012:role/cm-etl-phase2-states",
        "arn:aws:iam::210987654321:role/cm-etl-phase2-states",
    )]);
    let config = edited.path().join("deploy.toml");
    // An endpoint nobody listens on: any call would fail with "cannot reach".
    let unreachable = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let refused = run(cm_etl().args([
        "bootstrap",
        "--config",
        config.to_str().unwrap(),
        "--endpoint-url",
        &unreachable,
    ]));
    assert_eq!(refused.code, 2);
    assert_eq!(
        refused.stderr.trim(),
        "error: the role arn:aws:iam::210987654321:role/cm-etl-phase2-states is in account 210987654321, but deploy.toml's account is 123456789012: bootstrap creates roles in that account only; fix the role ARN or `account`"
    );
}

/// A bucket someone made versioned (or whose versioning was suspended) before bootstrap: the chunk
/// rule bootstrap puts expires noncurrent versions too, as the dry run says.
#[test]
fn a_versioned_bucket_gets_noncurrent_versions_expired_too() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let _serial = serial();
    for status in [
        BucketVersioningStatus::Enabled,
        BucketVersioningStatus::Suspended,
    ] {
        reset_moto();
        let moto = Moto::connect();
        moto.create_bucket(CHUNK_BUCKET);
        moto.block_on(
            moto.s3
                .put_bucket_versioning()
                .bucket(CHUNK_BUCKET)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(status.clone())
                        .build(),
                )
                .send(),
        )
        .unwrap();

        let planned = bootstrap(&["--dry-run"]).json();
        assert!(
            changes(&planned).contains(&FRESH_CHANGES[8].to_owned()),
            "{planned}"
        );
        assert!(
            FRESH_CHANGES[8]
                .contains("on a versioned bucket: their noncurrent versions 1 day after"),
            "the plan names the noncurrent versions"
        );
        let done = bootstrap(&[]).json();
        assert!(
            changes(&done).contains(&FRESH_CHANGES[8].to_owned()),
            "{done}"
        );
        assert_bucket_is_bootstrapped(&moto, 7);
        let versioning = moto
            .block_on(moto.s3.get_bucket_versioning().bucket(CHUNK_BUCKET).send())
            .unwrap();
        assert_eq!(
            versioning.status(),
            Some(&status),
            "bootstrap leaves versioning as it is"
        );
        assert_eq!(changes(&bootstrap(&[]).json()), Vec::<String>::new());
    }
}

const CHUNK_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/99999999-12ab-34cd-56ef-1234567890ab";

/// deploy.toml with `[chunk_store] kms_key_arn = KEY`.
fn with_chunk_key(key: &str) -> tempfile::TempDir {
    edited_config(&[("# kms_key_arn = ", &format!("kms_key_arn = \"{key}\" #"))])
}

/// The bucket's default encryption: the algorithm, the key, whether an S3 Bucket Key is on.
fn bucket_encryption(moto: &Moto) -> (String, Option<String>, Option<bool>) {
    let encryption = moto
        .block_on(moto.s3.get_bucket_encryption().bucket(CHUNK_BUCKET).send())
        .expect("default encryption is set");
    let rule = &encryption
        .server_side_encryption_configuration()
        .unwrap()
        .rules()[0];
    let by_default = rule.apply_server_side_encryption_by_default().unwrap();
    (
        by_default.sse_algorithm().as_str().to_owned(),
        by_default.kms_master_key_id().map(str::to_owned),
        rule.bucket_key_enabled(),
    )
}

/// An SSE-S3 bucket bootstrapped before, then `kms_key_arn` named: the bucket's default encryption
/// becomes SSE-KMS with the key, and both roles get exactly the documents `iam` generates for that
/// config (the ones `synth` writes), which let them use the key through S3. A bucket encrypting
/// with a key deploy.toml does not name is refused before any write, naming both keys.
#[test]
fn a_kms_key_encrypts_the_bucket_and_the_roles_get_the_generated_permissions() {
    let _serial = serial();
    reset_moto();
    let moto = Moto::connect();
    bootstrap(&[]).json();
    assert_eq!(bucket_encryption(&moto).0, "AES256");

    let edited = with_chunk_key(CHUNK_KEY);
    let config_path = edited.path().join("deploy.toml");
    let config_arg = config_path.to_str().unwrap();
    let summary = bootstrap(&["--config", config_arg]).json();
    let lambda_role = "arn:aws:iam::123456789012:role/cm-etl-phase2-lambda";
    let states_role = "arn:aws:iam::123456789012:role/cm-etl-phase2-states";
    assert_eq!(
        changes(&summary),
        [
            format!(
                "put back the inline policy cm-etl-lambda-role-policy of the role {lambda_role} (it differs from definitions/iam/lambda-role-policy.json)"
            ),
            format!(
                "put back the inline policy cm-etl-state-machine-role-policy of the role {states_role} (it differs from definitions/iam/state-machine-role-policy.json)"
            ),
            format!(
                "turn on default encryption (SSE-KMS with the key {CHUNK_KEY}, S3 Bucket Key on) of the bucket cm-etl-phase2-chunks"
            ),
        ],
        "{summary}"
    );
    assert_eq!(
        bucket_encryption(&moto),
        ("aws:kms".to_owned(), Some(CHUNK_KEY.to_owned()), Some(true))
    );

    // What bootstrap put is what synth writes for this config: one function makes both.
    let config = cm_etl::config::DeployConfig::load(&config_path).unwrap();
    let generated = cm_etl::iam::roles(&config);
    for (role, documents) in [(LAMBDA_ROLE, &generated[0]), (STATES_ROLE, &generated[1])] {
        let (trust, policy) = role_documents(&moto, role, &documents.inline_policy_name());
        assert_eq!(
            trust,
            serde_json::from_str::<Value>(&documents.trust).unwrap()
        );
        let expected: Value = serde_json::from_str(&documents.policy).unwrap();
        assert_eq!(policy, expected, "{role}");
        let kms = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "UseTheChunkKeyThroughS3Only")
            .unwrap_or_else(|| panic!("{role} may not use the chunk key: {policy}"));
        assert_eq!(
            kms,
            &json!({
                "Sid": "UseTheChunkKeyThroughS3Only",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": [CHUNK_KEY],
                "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
            })
        );
    }
    let again = bootstrap(&["--config", config_arg]).json();
    assert_eq!(changes(&again), Vec::<String>::new(), "{again}");

    // The bucket encrypts with CHUNK_KEY: deploy.toml naming another key, or none, is refused
    // before any write.
    let other = with_chunk_key(OTHER_KEY);
    for (config, expected) in [
        (
            other.path().join("deploy.toml"),
            format!(
                "error: the bucket cm-etl-phase2-chunks encrypts objects by default with the KMS key {CHUNK_KEY}, but deploy.toml's `chunk_store.kms_key_arn` is {OTHER_KEY}: "
            ),
        ),
        (
            repo().join("deploy.toml"),
            format!(
                "error: the bucket cm-etl-phase2-chunks encrypts objects by default with the KMS key {CHUNK_KEY}, but deploy.toml names no `chunk_store.kms_key_arn`, "
            ),
        ),
    ] {
        let refused = run(cm_etl().args(["bootstrap", "--config", config.to_str().unwrap()]));
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert_eq!(refused.stdout, "");
        assert_eq!(
            refused.stderr.trim().lines().count(),
            1,
            "{}",
            refused.stderr
        );
        assert!(refused.stderr.starts_with(&expected), "{}", refused.stderr);
    }
    // Nothing was written: the roles still carry the KMS statement, the bucket its key.
    let (_, policy) = role_documents(&moto, LAMBDA_ROLE, "cm-etl-lambda-role-policy");
    assert!(policy.to_string().contains(CHUNK_KEY), "{policy}");
    assert_eq!(bucket_encryption(&moto).1.as_deref(), Some(CHUNK_KEY));
}
