//! deploy.toml parsing and validation, from the committed file and edits of it.

use etl_lambda::warehouse::InsecureTransport;

use super::*;

fn committed() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy.toml")).unwrap()
}

#[test]
fn the_committed_file_parses_and_uses_the_documentation_account() {
    let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
    assert_eq!(config.account.as_str(), "123456789012");
    assert_eq!(config.region.as_str(), "us-east-1");
    let (name, _) = config
        .state_machine(Some("cm-etl-pipeline-phase2"), Path::new("deploy.toml"))
        .unwrap();
    assert_eq!(
        config.state_machine_arn(name),
        "arn:aws:states:us-east-1:123456789012:stateMachine:cm-etl-pipeline-phase2"
    );
    assert!(config.function_alias_arn().ends_with(&format!(
        ":function:{}:{}",
        config.function.name, config.function.alias
    )));
}

/// `[prices]` is optional: each key absent keeps AWS's us-east-1 list price; a negative or
/// unknown one is refused by name.
#[test]
fn prices_default_to_the_list_and_any_may_be_overridden() {
    let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
    assert_eq!(config.prices, crate::cost::Prices::default());
    let text = committed() + "\n[prices]\nlambda_per_million_requests = 0.25\n";
    let config = DeployConfig::parse(&text, Path::new("deploy.toml")).unwrap();
    assert_eq!(config.prices.lambda_per_million_requests.get(), 0.25);
    assert_eq!(
        config.prices.s3_per_1000_get,
        crate::cost::Prices::default().s3_per_1000_get
    );
    let err = parse_error(&(committed() + "\n[prices]\ns3_per_1000_get = -1.0\n"));
    assert!(err.contains("-1 is not a price"), "{err}");
    let err = parse_error(&(committed() + "\n[prices]\nlambda_per_request = 0.2\n"));
    assert!(err.contains("lambda_per_request"), "{err}");
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = committed().replace("[function]\n", "[function]\nmemroy_mb = 1\n");
    let line = text
        .lines()
        .position(|l| l.starts_with("memroy_mb"))
        .unwrap()
        + 1;
    let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("memroy_mb"), "{err}");
    assert!(err.contains(&format!("line {line}")), "{err}");
}

#[test]
fn a_wrong_type_or_value_is_named_with_its_line() {
    let text = committed().replace("timeout_seconds = 900", "timeout_seconds = \"900\"");
    let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line "), "{err}");
    assert!(err.contains("timeout_seconds"), "{err}");

    let text = committed().replace("max_concurrency = 40", "max_concurrency = 10001");
    let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("from 1 to 10000"), "{err}");

    let text = committed().replace("123456789012", "1234");
    let err = DeployConfig::parse(&text, Path::new("deploy.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("12-digit"), "{err}");
}

#[test]
fn the_distributed_map_settings_are_checked() {
    for (from, to, needle) in [
        (
            "tolerated_failure_percentage = 0",
            "tolerated_failure_percentage = 100.5",
            "from 0 to 100",
        ),
        (
            "tolerated_failure_count = 0",
            "tolerated_failure_count = -1",
            "tolerated_failure_count",
        ),
        (
            "label = \"chunks\"",
            "label = \"two words\"",
            "not a Map label",
        ),
        (
            "label = \"chunks\"",
            &format!("label = \"{}\"", "x".repeat(41)),
            "not a Map label",
        ),
        (
            "execution_type = \"STANDARD\"",
            "execution_type = \"EXPRESS\"",
            "lower the timeout to 300",
        ),
    ] {
        let text = committed().replace(from, to);
        assert_ne!(text, committed(), "{from}");
        let err = parse_error(&text);
        assert!(err.contains(needle), "{to}: {err}");
    }
    let express = committed()
        .replace(
            "execution_type = \"STANDARD\"",
            "execution_type = \"EXPRESS\"",
        )
        .replace("timeout_seconds = 900", "timeout_seconds = 300");
    let config = DeployConfig::parse(&express, Path::new("deploy.toml")).unwrap();
    let machine = &config.state_machines.values().next().unwrap().map;
    assert_eq!(machine.execution_type, ChildExecutionType::Express);
}

#[test]
fn the_chunk_store_must_be_an_s3_bucket_and_a_safe_prefix() {
    for (from, to) in [
        (
            "bucket = \"cm-etl-phase2-chunks\"",
            "bucket = \"Upper_Case\"",
        ),
        ("prefix = \"task02/\"", "prefix = \"a b/\""),
        ("prefix = \"task02/\"", "prefix = \"../task02/\""),
    ] {
        let text = committed().replace(from, to);
        assert_ne!(text, committed(), "{from}");
        let err = parse_error(&text);
        assert!(err.contains("[chunk_store]"), "{to}: {err}");
    }
}

#[test]
fn an_unknown_state_machine_lists_the_known_ones() {
    let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
    let err = config
        .state_machine(Some("nope"), Path::new("deploy.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("[state_machines.nope]"), "{err}");
    assert!(err.contains("cm-etl-pipeline-phase2"), "{err}");
}

#[test]
fn without_a_name_the_only_state_machine_is_meant_and_of_several_none() {
    let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
    let (name, _) = config
        .state_machine(None, Path::new("deploy.toml"))
        .unwrap();
    assert_eq!(name.as_str(), "cm-etl-pipeline-phase2");

    let tables = &committed()[committed().find("[state_machines.").unwrap()..];
    let two = format!(
        "{}\n{}",
        committed(),
        tables.replace(
            "[state_machines.cm-etl-pipeline-phase2",
            "[state_machines.nightly"
        )
    );
    let config = DeployConfig::parse(&two, Path::new("deploy.toml")).unwrap();
    let err = config
        .state_machine(None, Path::new("deploy.toml"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "deploy.toml defines several state machines (cm-etl-pipeline-phase2, nightly); \
         pass --state-machine NAME"
    );
    let (name, _) = config
        .state_machine(Some("nightly"), Path::new("deploy.toml"))
        .unwrap();
    assert_eq!(name.as_str(), "nightly");
}

fn parse_error(text: &str) -> String {
    DeployConfig::parse(text, Path::new("deploy.toml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn the_environment_cannot_override_deploy_or_carry_a_password() {
    let with_env = |line: &str| {
        committed().replace(
            "[function.environment]\n",
            &format!("[function.environment]\n{line}\n"),
        )
    };
    let err = parse_error(&with_env("CHUNK_STORE_URI = \"s3://elsewhere/\""));
    assert!(err.contains("`CHUNK_STORE_URI` is set by deploy"), "{err}");
    assert!(err.contains("line "), "{err}");

    let url = "postgres://etl:s3cret@db.internal/warehouse";
    let text = with_env(&format!("DATABASE_URL = \"{url}\""))
        .replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
    let err = parse_error(&text);
    assert!(err.contains("carries a password"), "{err}");
    assert!(!err.contains("s3cret"), "the password is echoed: {err}");

    let sqlite = with_env("DATABASE_URL = \"sqlite:///tmp/warehouse.db\"");
    let err = parse_error(&sqlite);
    assert!(err.contains("both name the warehouse"), "{err}");
    let without_secret = sqlite.replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
    DeployConfig::parse(&without_secret, Path::new("deploy.toml")).unwrap();

    let err = parse_error(&with_env("1BAD = \"x\""));
    assert!(
        err.contains("`1BAD` is not an environment variable name"),
        "{err}"
    );
}

/// The one-line error for `text`, which must name `key` and the line that sets it.
fn error_at_key(text: &str, key: &str, line_text: &str) -> String {
    let err = parse_error(text);
    let line = text.lines().position(|l| l.contains(line_text)).unwrap() + 1;
    // An element of a list is named by its index: `key[0]`.
    assert!(
        err.contains(&format!("line {line}: `{key}`"))
            || err.contains(&format!("line {line}: `{key}[")),
        "no line {line} and `{key}` in: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn chunks_expire_after_7_days_unless_set_from_1_to_3650() {
    let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
    assert_eq!(config.chunk_store.expire_after_days.get(), 7);
    let without = committed().replace("expire_after_days = 7\n", "");
    assert_ne!(without, committed());
    let config = DeployConfig::parse(&without, Path::new("deploy.toml")).unwrap();
    assert_eq!(
        config.chunk_store.expire_after_days,
        ExpireAfterDays::default()
    );
    let year = committed().replace("expire_after_days = 7", "expire_after_days = 365");
    let config = DeployConfig::parse(&year, Path::new("deploy.toml")).unwrap();
    assert_eq!(config.chunk_store.expire_after_days.get(), 365);
    for days in ["0", "3651", "\"7\""] {
        let text = committed().replace(
            "expire_after_days = 7",
            &format!("expire_after_days = {days}"),
        );
        error_at_key(
            &text,
            "chunk_store.expire_after_days",
            "expire_after_days =",
        );
    }
}

/// The committed file with its commented `[function.vpc]` example turned on, then `edit`ed.
fn with_vpc(subnets: &str, groups: &str) -> String {
    let text = committed().replace("# [function.vpc]\n", "[function.vpc]\n");
    assert_ne!(
        text,
        committed(),
        "the committed file shows a [function.vpc] example"
    );
    let text = text
        .lines()
        .map(|line| match line {
            l if l.starts_with("# subnet_ids = ") => format!("subnet_ids = {subnets}"),
            l if l.starts_with("# security_group_ids = ") => {
                format!("security_group_ids = {groups}")
            }
            l => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    text + "\n"
}

#[test]
fn a_vpc_needs_1_to_16_distinct_subnets_and_1_to_5_distinct_security_groups() {
    let text = with_vpc(
        r#"["subnet-0a1b2c3d", "subnet-0123456789abcdef0"]"#,
        r#"["sg-0a1b2c3d"]"#,
    );
    let config = DeployConfig::parse(&text, Path::new("deploy.toml")).unwrap();
    let vpc = config.function.vpc.unwrap();
    assert_eq!(vpc.subnet_ids.ids().len(), 2);
    assert_eq!(vpc.security_group_ids.ids()[0].as_str(), "sg-0a1b2c3d");
    assert_eq!(
        DeployConfig::parse(&committed(), Path::new("deploy.toml"))
            .unwrap()
            .function
            .vpc,
        None,
        "no VPC in the committed file"
    );

    let subnets = |n: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("\"subnet-{i:08x}\"")).collect();
        format!("[{}]", ids.join(", "))
    };
    let groups = |n: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("\"sg-{i:08x}\"")).collect();
        format!("[{}]", ids.join(", "))
    };
    DeployConfig::parse(
        &with_vpc(&subnets(16), &groups(5)),
        Path::new("deploy.toml"),
    )
    .unwrap();
    for (subnet_list, group_list, key, needle) in [
        (
            subnets(17),
            groups(1),
            "function.vpc.subnet_ids",
            "17 ids given: list 1 to 16",
        ),
        (
            subnets(0),
            groups(1),
            "function.vpc.subnet_ids",
            "0 ids given",
        ),
        (
            subnets(1),
            groups(6),
            "function.vpc.security_group_ids",
            "list 1 to 5",
        ),
        (
            r#"["subnet-0a1b2c3d", "subnet-0a1b2c3d"]"#.into(),
            groups(1),
            "function.vpc.subnet_ids",
            "`subnet-0a1b2c3d` is listed twice",
        ),
        (
            r#"["subnet-0a1b2c3"]"#.into(),
            groups(1),
            "function.vpc.subnet_ids",
            "is not a subnet id",
        ),
        (
            r#"["subnet-0A1B2C3D"]"#.into(),
            groups(1),
            "function.vpc.subnet_ids",
            "is not a subnet id",
        ),
        (
            subnets(1),
            r#"["sg-0a1b2c3g"]"#.into(),
            "function.vpc.security_group_ids",
            "is not a security group id",
        ),
        (
            subnets(1),
            r#"["subnet-0a1b2c3d"]"#.into(),
            "function.vpc.security_group_ids",
            "is not a security group id",
        ),
    ] {
        let text = with_vpc(&subnet_list, &group_list);
        let line_text = format!("{} = ", key.rsplit('.').next().unwrap());
        let err = error_at_key(&text, key, &line_text);
        assert!(err.contains(needle), "{subnet_list} {group_list}: {err}");
    }
    // A multi-line array is named by its key's line.
    let text = with_vpc(
        "[\n  \"subnet-0a1b2c3d\",\n  \"subnet-bad\",\n]",
        &groups(1),
    );
    let err = error_at_key(&text, "function.vpc.subnet_ids", "subnet_ids = [");
    assert!(err.contains("`subnet-bad` is not a subnet id"), "{err}");
    let unknown = with_vpc(&subnets(1), &groups(1)).replace(
        "[function.vpc]\n",
        "[function.vpc]\nvpc_id = \"vpc-0a1b2c3d\"\n",
    );
    error_at_key(&unknown, "function.vpc.vpc_id", "vpc_id =");
}

#[test]
fn the_secret_kms_key_is_a_key_arn_in_the_secret_region_and_needs_the_secret() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let with_key = |value: &str| {
        committed().replace(
            "# warehouse_secret_kms_key_arn = ",
            &format!("warehouse_secret_kms_key_arn = \"{value}\" #"),
        )
    };
    assert_ne!(
        with_key(key),
        committed(),
        "the committed file shows the key"
    );
    let config = DeployConfig::parse(&with_key(key), Path::new("deploy.toml")).unwrap();
    assert_eq!(
        config
            .function
            .warehouse_secret_kms_key_arn
            .unwrap()
            .as_str(),
        key
    );
    let at_key = "warehouse_secret_kms_key_arn =";
    for bad in [
        "arn:aws:kms:us-east-1:123456789012:alias/cm-etl",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        let err = error_at_key(
            &with_key(bad),
            "function.warehouse_secret_kms_key_arn",
            at_key,
        );
        assert!(err.contains("is not the ARN of a KMS key"), "{err}");
    }
    let other_region = key.replace("us-east-1", "eu-west-1");
    let err = error_at_key(
        &with_key(&other_region),
        "function.warehouse_secret_kms_key_arn",
        at_key,
    );
    assert!(
        err.contains("is in eu-west-1 but the warehouse secret is in us-east-1"),
        "{err}"
    );
    let without_secret =
        with_key(key).replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
    let err = error_at_key(
        &without_secret,
        "function.warehouse_secret_kms_key_arn",
        at_key,
    );
    assert!(
        err.contains("without `function.warehouse_secret_arn`"),
        "{err}"
    );
}

#[test]
fn the_chunk_store_kms_key_is_a_key_arn_in_the_region() {
    assert_eq!(
        DeployConfig::parse(&committed(), Path::new("deploy.toml"))
            .unwrap()
            .chunk_store
            .kms_key_arn,
        None
    );
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let with_key = |value: &str| {
        committed().replace("# kms_key_arn = ", &format!("kms_key_arn = \"{value}\" #"))
    };
    assert_ne!(
        with_key(key),
        committed(),
        "the committed file shows the key"
    );
    let config = DeployConfig::parse(&with_key(key), Path::new("deploy.toml")).unwrap();
    let parsed = config.chunk_store.kms_key_arn.unwrap();
    assert_eq!(parsed.as_str(), key);
    assert_eq!(parsed.key_id(), "1234abcd-12ab-34cd-56ef-1234567890ab");
    for bad in [
        "arn:aws:kms:us-east-1:123456789012:alias/aws/s3",
        "arn:aws:s3:::cm-etl-phase2-chunks",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
    ] {
        // The line's own text: the commented warehouse key above has `kms_key_arn =` too.
        let line = format!("kms_key_arn = \"{bad}\" #");
        let err = error_at_key(&with_key(bad), "chunk_store.kms_key_arn", &line);
        assert!(err.contains("is not the ARN of a KMS key"), "{err}");
    }
    let other_region = key.replace("us-east-1", "eu-west-1");
    let err = error_at_key(
        &with_key(&other_region),
        "chunk_store.kms_key_arn",
        &format!("kms_key_arn = \"{other_region}\" #"),
    );
    assert!(
        err.contains("is in eu-west-1 but the bucket is in us-east-1"),
        "{err}"
    );
}

#[test]
fn the_warehouse_tls_opt_out_is_absent_unless_named_and_only_deploy_sets_it() {
    let config = DeployConfig::parse(&committed(), Path::new("deploy.toml")).unwrap();
    assert_eq!(config.function.warehouse_insecure_transport, None);
    let with = |value: &str| {
        // The function's alias, the first of the two.
        committed().replacen(
            "alias = \"live\"\n",
            &format!("alias = \"live\"\nwarehouse_insecure_transport = {value}\n"),
            1,
        )
    };
    for (value, opt_out) in [
        ("\"unverified\"", InsecureTransport::Unverified),
        ("\"plaintext\"", InsecureTransport::Plaintext),
    ] {
        let config = DeployConfig::parse(&with(value), Path::new("deploy.toml")).unwrap();
        assert_eq!(config.function.warehouse_insecure_transport, Some(opt_out));
    }
    let err = error_at_key(
        &with("\"yes\""),
        "function.warehouse_insecure_transport",
        "warehouse_insecure_transport = ",
    );
    assert!(
        err.contains("unverified") && err.contains("plaintext"),
        "{err}"
    );
    let err = parse_error(&committed().replace(
        "[function.environment]\n",
        "[function.environment]\nWAREHOUSE_INSECURE_TRANSPORT = \"plaintext\"\n",
    ));
    assert!(
        err.contains("`WAREHOUSE_INSECURE_TRANSPORT` is set by deploy"),
        "{err}"
    );
}

#[test]
fn a_password_anywhere_in_database_url_is_refused_and_never_echoed() {
    for url in [
        "postgres://etl:s3cret@db.internal/warehouse",
        "postgres://etl@db.internal/warehouse?password=s3cret",
        "postgres://etl@db.internal/warehouse?sslmode=require&PASSWORD=s3cret",
        "postgres://etl@db.internal/warehouse?pass%77ord=s3cret",
        "postgres://etl@db.internal/warehouse?sslpassword=s3cret",
    ] {
        let text = committed()
            .replace(
                "[function.environment]\n",
                &format!("[function.environment]\nDATABASE_URL = \"{url}\"\n"),
            )
            .replace("warehouse_secret_arn = ", "# warehouse_secret_arn = ");
        let err = parse_error(&text);
        assert!(err.contains("carries a password"), "{url}: {err}");
        assert!(
            !err.contains("s3cret"),
            "{url}: the password is echoed: {err}"
        );
    }
    let err = parse_error(&committed().replace(
        "role_arn = \"arn:aws:iam::123456789012:role/cm-etl-phase2-lambda\"",
        "role_arn = \"postgres://etl:s3cret@db/w\"",
    ));
    assert!(
        err.contains("is not an ARN") && !err.contains("s3cret"),
        "{err}"
    );
}

#[test]
fn every_error_is_one_line_naming_the_file_line_and_key() {
    let text = committed().replace("timeout_seconds = 900", "timeout_seconds = \"900\"");
    let line = text
        .lines()
        .position(|l| l.starts_with("timeout_seconds"))
        .unwrap()
        + 1;
    let err = parse_error(&text);
    assert!(
        err.starts_with(&format!(
            "deploy.toml line {line}: `function.timeout_seconds`: "
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let err = parse_error(&committed().replace("[chunking]", "[chunking"));
    assert!(err.starts_with("deploy.toml line "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn logging_other_than_off_needs_a_log_group() {
    for level in ["ALL", "ERROR", "FATAL"] {
        let text = committed().replace("level = \"OFF\"", &format!("level = \"{level}\""));
        let line = text
            .lines()
            .position(|l| l.starts_with("level = "))
            .unwrap()
            + 1;
        let err = parse_error(&text);
        assert!(
            err.starts_with(&format!("deploy.toml line {line}: "))
                && err.contains(&format!(
                    "is {level}, which needs a CloudWatch Logs group: add `log_group_arn"
                )),
            "{err}"
        );
        let with_group = text.replace(
            &format!("level = \"{level}\"\n"),
            &format!("level = \"{level}\"\nlog_group_arn = \"arn:aws:logs:us-east-1:123456789012:log-group:sfn:*\"\n"),
        );
        DeployConfig::parse(&with_group, Path::new("deploy.toml")).unwrap();
    }
}
