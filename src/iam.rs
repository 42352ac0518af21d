//! Least-privilege IAM documents for the two roles `deploy.toml` names, generated from the config
//! so they name exactly this function, alias, bucket prefix, chunk key, secret and log group.
//!
//! Written to `definitions/iam/` and kept current by `synth --check` (the committed files must equal
//! `policy_documents(config)`). `cm-etl bootstrap` puts exactly these on the roles ([`roles`]);
//! deploy only uses them.

use std::path::PathBuf;

use serde::Serialize;

use etl_lambda::contract::{CHUNK_IDS, MAP_RESULTS_FOLDER};

use crate::config::{Arn, DeployConfig, LogLevel};

/// Where the documents live, relative to the repository root.
pub const IAM_DIR: &str = "definitions/iam";

/// An IAM policy document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyDocument {
    version: &'static str,
    statement: Vec<Statement>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    sid: &'static str,
    effect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<Principal>,
    action: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Principal {
    service: &'static str,
}

impl PolicyDocument {
    fn new(statement: Vec<Statement>) -> Self {
        Self {
            version: "2012-10-17",
            statement,
        }
    }

    fn render(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a policy always serializes");
        text.push('\n');
        text
    }
}

impl Statement {
    fn allow(sid: &'static str, action: Vec<&'static str>, resource: Vec<String>) -> Self {
        Self {
            sid,
            effect: "Allow",
            principal: None,
            action,
            resource,
            condition: None,
        }
    }

    /// A trust statement letting `service` assume the role, only on behalf of this account (the
    /// confused-deputy guard AWS recommends).
    fn trust(service: &'static str, account: &str) -> Self {
        Self {
            sid: "AssumedByTheServiceForThisAccountOnly",
            effect: "Allow",
            principal: Some(Principal { service }),
            action: vec!["sts:AssumeRole"],
            resource: Vec::new(),
            condition: Some(serde_json::json!({"StringEquals": {"aws:SourceAccount": account}})),
        }
    }
}

/// The Lambda function's permissions: its chunk prefix in S3, the warehouse secret, its own logs.
fn lambda_role_policy(config: &DeployConfig) -> PolicyDocument {
    let log_group = format!(
        "arn:aws:logs:{}:{}:log-group:/aws/lambda/{}",
        config.region, config.account, config.function.name
    );
    let store = &config.chunk_store;
    let mut statements = vec![
        Statement::allow(
            "ReadWriteAndDeleteChunksUnderTheChunkPrefixOnly",
            vec!["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            vec![format!("arn:aws:s3:::{}/{}*", store.bucket, store.prefix)],
        ),
        // Listing finds an execution's objects to delete, and makes S3 answer a missing chunk
        // with 404 rather than 403.
        Statement {
            condition: Some(serde_json::json!({
                "StringLike": {"s3:prefix": [format!("{}*", store.prefix)]}
            })),
            ..Statement::allow(
                "ListTheChunkPrefixOnly",
                vec!["s3:ListBucket"],
                vec![format!("arn:aws:s3:::{}", store.bucket)],
            )
        },
    ];
    statements.extend(chunk_key_statement(config));
    statements.extend([
        Statement::allow(
            "CreateItsOwnLogGroup",
            vec!["logs:CreateLogGroup"],
            vec![log_group.clone()],
        ),
        Statement::allow(
            "WriteItsOwnLogStreams",
            vec!["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![format!("{log_group}:*")],
        ),
    ]);
    if let Some(secret) = &config.function.warehouse_secret_arn {
        statements.push(Statement::allow(
            "ReadTheWarehouseSecret",
            vec!["secretsmanager:GetSecretValue"],
            vec![secret_resource(secret.as_str())],
        ));
        if let Some(key) = &config.function.warehouse_secret_kms_key_arn {
            // Secrets Manager decrypts the secret with the caller's permission on its key; the
            // condition keeps that permission from decrypting anything outside Secrets Manager.
            statements.push(Statement {
                condition: Some(serde_json::json!({
                    "StringEquals": {
                        "kms:ViaService": format!("secretsmanager.{}.amazonaws.com", secret.region())
                    }
                })),
                ..Statement::allow(
                    "DecryptTheWarehouseSecretThroughSecretsManagerOnly",
                    vec!["kms:Decrypt"],
                    vec![key.as_str().to_owned()],
                )
            });
        }
    }
    if config.function.vpc.is_some() {
        // The actions of AWS's AWSLambdaVPCAccessExecutionRole, without its logs (granted above).
        // EC2's Describe actions take no resource-level permissions; Lambda's guide scopes the
        // others to the account and region (`arn:aws:ec2:REGION:ACCOUNT:*/*`).
        statements.push(Statement::allow(
            "DescribeNetworkInterfacesAndSubnets",
            vec!["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            vec!["*".into()],
        ));
        statements.push(Statement::allow(
            "ManageItsNetworkInterfacesInThisAccountAndRegion",
            vec![
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            vec![format!(
                "arn:aws:ec2:{}:{}:*/*",
                config.region, config.account
            )],
        ));
    }
    PolicyDocument::new(statements)
}

/// With `[chunk_store] kms_key_arn`, S3 encrypts and decrypts the chunk store's objects with that
/// key on the caller's behalf: what AWS documents for SSE-KMS, `kms:GenerateDataKey` to write an
/// object (a multipart upload's parts too) and `kms:Decrypt` to read one or to complete a multipart
/// upload, on that key only and through S3 in the bucket's region only. Both roles get it: the
/// function reads and writes chunks, the state machine reads the chunk ids (ItemReader) and writes
/// the map results (ResultWriter). Bootstrap makes the same key the bucket's default encryption.
fn chunk_key_statement(config: &DeployConfig) -> Option<Statement> {
    let key = config.chunk_store.kms_key_arn.as_ref()?;
    Some(Statement {
        condition: Some(serde_json::json!({
            "StringEquals": {"kms:ViaService": format!("s3.{}.amazonaws.com", config.region)}
        })),
        ..Statement::allow(
            "UseTheChunkKeyThroughS3Only",
            vec!["kms:GenerateDataKey", "kms:Decrypt"],
            vec![key.as_str().to_owned()],
        )
    })
}

/// Secrets Manager appends `-` and 6 random characters to a secret's ARN; a policy naming the
/// secret without them must match exactly those 6 (not `*`, which would also match
/// `warehouse-old-...`).
fn secret_resource(arn: &str) -> String {
    let name = arn.rsplit(':').next().unwrap_or_default();
    let has_suffix = name.rsplit_once('-').is_some_and(|(_, suffix)| {
        suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if has_suffix {
        arn.to_owned()
    } else {
        format!("{arn}-??????")
    }
}

/// The state machine's permissions: invoke published versions of the function only (a release
/// pins one), never the alias or `$LATEST`; run the Distributed Map (start its child executions of this state machine,
/// follow and stop them, redrive those that failed when the execution is redriven, read the chunk
/// ids and write the results in the chunk store's execution folders, nowhere else); log delivery
/// when a state machine logs.
fn state_machine_role_policy(config: &DeployConfig) -> PolicyDocument {
    let (machines, children): (Vec<String>, Vec<String>) = config
        .state_machines
        .keys()
        .map(|name| {
            (
                config.state_machine_arn(name),
                format!(
                    "arn:aws:states:{}:{}:execution:{name}/*",
                    config.region, config.account
                ),
            )
        })
        .unzip();
    // A redriven execution redrives its failed Map Run's child executions itself
    // (RedriveExecution on `execution:MACHINE/MAP_RUN_LABEL:*`, AWS's "IAM permission to redrive a
    // Map Run"); the Map's Label is deploy.toml's, so the children of exactly this Map.
    let map_run_children: Vec<String> = config
        .state_machines
        .iter()
        .map(|(name, machine)| {
            format!(
                "arn:aws:states:{}:{}:execution:{name}/{}:*",
                config.region, config.account, machine.map.label
            )
        })
        .collect();
    let folders = format!(
        "arn:aws:s3:::{}/{}*",
        config.chunk_store.bucket, config.chunk_store.prefix
    );
    let function = config.function_arn();
    let mut statements = vec![
        // A release pins a published version (`function:NAME:7`), which is a resource of its own
        // in IAM; IAM's wildcards cannot tell a number from an alias, so the moving targets are
        // denied by name below.
        Statement::allow(
            "InvokePublishedVersionsOfTheFunction",
            vec!["lambda:InvokeFunction"],
            vec![format!("{function}:*")],
        ),
        Statement {
            effect: "Deny",
            ..Statement::allow(
                "NeverItsAliasOrLatestWhoseCodeMovesUnderARunningExecution",
                vec!["lambda:InvokeFunction"],
                vec![
                    function.clone(),
                    format!("{function}:$LATEST"),
                    config.function_alias_arn(),
                ],
            )
        },
        Statement::allow(
            "StartTheMapRunsChildExecutions",
            vec!["states:StartExecution"],
            machines,
        ),
        Statement::allow(
            "FollowAndStopTheMapRunsChildExecutions",
            vec!["states:DescribeExecution", "states:StopExecution"],
            children,
        ),
        Statement::allow(
            "RedriveTheMapRunsChildExecutions",
            vec!["states:RedriveExecution"],
            map_run_children,
        ),
        Statement::allow(
            "ReadTheChunkIdsOnly",
            vec!["s3:GetObject"],
            vec![format!("{folders}/{CHUNK_IDS}")],
        ),
        // What AWS documents for a ResultWriter, multipart uploads included.
        Statement::allow(
            "WriteTheMapResultsOnly",
            vec![
                "s3:PutObject",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:AbortMultipartUpload",
            ],
            vec![format!("{folders}/{MAP_RESULTS_FOLDER}/*")],
        ),
    ];
    statements.extend(chunk_key_statement(config));
    let logs = config
        .state_machines
        .values()
        .any(|machine| machine.logging.level != LogLevel::Off);
    if logs {
        // CloudWatch Logs delivery actions do not support resource-level permissions: AWS documents
        // `*` as the only resource for them.
        statements.push(Statement::allow(
            "DeliverExecutionLogs",
            vec![
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            vec!["*".into()],
        ));
    }
    PolicyDocument::new(statements)
}

/// The documents of one kind of role: who may assume it and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleDocuments {
    /// `lambda-role` or `state-machine-role`: the files are `<kind>-policy.json` and
    /// `<kind>-trust.json`, and bootstrap names the role's inline policy `cm-etl-<kind>-policy`.
    pub kind: &'static str,
    /// The roles deploy.toml names for it (the state machines may share one).
    pub role_arns: Vec<Arn>,
    /// The trust policy, rendered (pretty JSON + newline).
    pub trust: String,
    /// The permissions policy, rendered.
    pub policy: String,
}

impl RoleDocuments {
    /// The name of the inline policy bootstrap puts on the role.
    pub fn inline_policy_name(&self) -> String {
        format!("cm-etl-{}-policy", self.kind)
    }
}

/// The function's role and the state machines' roles, with their documents.
pub fn roles(config: &DeployConfig) -> [RoleDocuments; 2] {
    let account = config.account.as_str();
    let mut machine_roles: Vec<Arn> = Vec::new();
    for machine in config.state_machines.values() {
        if !machine_roles.contains(&machine.role_arn) {
            machine_roles.push(machine.role_arn.clone());
        }
    }
    [
        RoleDocuments {
            kind: "lambda-role",
            role_arns: vec![config.function.role_arn.clone()],
            trust: PolicyDocument::new(vec![Statement::trust("lambda.amazonaws.com", account)])
                .render(),
            policy: lambda_role_policy(config).render(),
        },
        RoleDocuments {
            kind: "state-machine-role",
            role_arns: machine_roles,
            trust: PolicyDocument::new(vec![Statement::trust("states.amazonaws.com", account)])
                .render(),
            policy: state_machine_role_policy(config).render(),
        },
    ]
}

/// Every IAM document, as (path relative to the repository root, pretty JSON + newline).
pub fn policy_documents(config: &DeployConfig) -> Vec<(PathBuf, String)> {
    let dir = PathBuf::from(IAM_DIR);
    roles(config)
        .into_iter()
        .flat_map(|role| {
            [
                (dir.join(format!("{}-policy.json", role.kind)), role.policy),
                (dir.join(format!("{}-trust.json", role.kind)), role.trust),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn committed_config() -> DeployConfig {
        DeployConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy.toml")).unwrap()
    }

    fn document(config: &DeployConfig, file: &str) -> serde_json::Value {
        let (_, text) = policy_documents(config)
            .into_iter()
            .find(|(path, _)| path.ends_with(file))
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn resources(document: &serde_json::Value) -> Vec<String> {
        document["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_state_machine_may_invoke_published_versions_only() {
        let config = committed_config();
        let policy = document(&config, "state-machine-role-policy.json");
        let function = config.function_arn();
        assert_eq!(
            policy["Statement"][0]["Resource"],
            serde_json::json!([format!("{function}:*")])
        );
        assert_eq!(policy["Statement"][1]["Effect"], "Deny");
        assert_eq!(
            policy["Statement"][1]["Resource"],
            serde_json::json!([
                function,
                format!("{function}:$LATEST"),
                config.function_alias_arn()
            ])
        );
        for statement in 0..2 {
            assert_eq!(
                policy["Statement"][statement]["Action"],
                serde_json::json!(["lambda:InvokeFunction"])
            );
        }
    }

    /// The actions of every statement naming `resource`.
    fn actions_on(policy: &serde_json::Value, resource: &str) -> Vec<String> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["Resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == resource)
            })
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_distributed_map_may_run_only_its_own_children_and_chunk_folders() {
        let config = committed_config();
        let policy = document(&config, "state-machine-role-policy.json");
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:cm-etl-pipeline-phase2";
        let children = "arn:aws:states:us-east-1:123456789012:execution:cm-etl-pipeline-phase2/*";
        assert_eq!(actions_on(&policy, machine), ["states:StartExecution"]);
        assert_eq!(
            actions_on(&policy, children),
            ["states:DescribeExecution", "states:StopExecution"]
        );
        assert_eq!(
            actions_on(
                &policy,
                "arn:aws:s3:::cm-etl-phase2-chunks/task02/*/chunk-ids.json"
            ),
            ["s3:GetObject"]
        );
        let results = actions_on(
            &policy,
            "arn:aws:s3:::cm-etl-phase2-chunks/task02/*/map-results/*",
        );
        assert!(results.contains(&"s3:PutObject".to_owned()), "{results:?}");
        assert!(
            results.contains(&"s3:AbortMultipartUpload".to_owned()),
            "{results:?}"
        );
        // Nothing else of S3 or Step Functions (the other four are the function's versions and
        // what is denied), and no wildcard resource.
        let all = resources(&policy);
        assert_eq!(all.len(), 9, "{all:?}");
        assert!(all.iter().all(|r| r != "*"), "{all:?}");
    }

    /// AWS's "IAM permission to redrive a Map Run": RedriveExecution on
    /// `arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE/MAP_RUN_LABEL:*`.
    #[test]
    fn the_state_machine_may_redrive_only_its_map_runs_child_executions() {
        let config = committed_config();
        let policy = document(&config, "state-machine-role-policy.json");
        let children =
            "arn:aws:states:us-east-1:123456789012:execution:cm-etl-pipeline-phase2/chunks:*";
        assert_eq!(actions_on(&policy, children), ["states:RedriveExecution"]);
        let redrives = statements_with(&policy, |action| action == "states:RedriveExecution");
        assert_eq!(redrives.len(), 1, "{redrives:?}");
        assert_eq!(redrives[0]["Resource"], serde_json::json!([children]));
        // The Map's Label follows deploy.toml.
        let relabelled =
            edited_config(|text| text.replace("label = \"chunks\"", "label = \"parts\""));
        let policy = document(&relabelled, "state-machine-role-policy.json");
        assert_eq!(
            actions_on(
                &policy,
                "arn:aws:states:us-east-1:123456789012:execution:cm-etl-pipeline-phase2/parts:*"
            ),
            ["states:RedriveExecution"]
        );
    }

    #[test]
    fn the_lambda_reaches_only_its_prefix_secret_and_log_group() {
        let config = committed_config();
        let policy = document(&config, "lambda-role-policy.json");
        let resources = resources(&policy);
        assert!(resources.contains(&"arn:aws:s3:::cm-etl-phase2-chunks/task02/*".to_owned()));
        let list = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == serde_json::json!(["s3:ListBucket"]))
            .unwrap();
        assert_eq!(
            list["Resource"],
            serde_json::json!(["arn:aws:s3:::cm-etl-phase2-chunks"])
        );
        assert_eq!(
            list["Condition"],
            serde_json::json!({"StringLike": {"s3:prefix": ["task02/*"]}})
        );
        assert!(
            resources.contains(
                &"arn:aws:secretsmanager:us-east-1:123456789012:secret:cm-etl/warehouse-??????"
                    .to_owned()
            )
        );
        assert!(
            resources.iter().all(|r| r != "*" && !r.ends_with(":::*")),
            "{resources:?}"
        );
        let logs: Vec<_> = resources
            .iter()
            .filter(|r| r.starts_with("arn:aws:logs:"))
            .collect();
        assert!(
            logs.iter()
                .all(|r| r.contains("log-group:/aws/lambda/cm-etl-phase2")),
            "{logs:?}"
        );
    }

    /// The committed config with `edit` applied to its text.
    fn edited_config(edit: impl Fn(String) -> String) -> DeployConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy.toml");
        let text = edit(std::fs::read_to_string(&path).unwrap());
        DeployConfig::parse(&text, &path).unwrap()
    }

    /// The statements of the Lambda role's policy whose actions start with `service:`.
    fn statements_of(config: &DeployConfig, service: &str) -> Vec<serde_json::Value> {
        let prefix = format!("{service}:");
        statements_with(&document(config, "lambda-role-policy.json"), |action| {
            action.starts_with(&prefix)
        })
    }

    /// The statements of `policy` with an action that `wanted` accepts.
    fn statements_with(
        policy: &serde_json::Value,
        wanted: impl Fn(&str) -> bool,
    ) -> Vec<serde_json::Value> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| {
                s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| wanted(a.as_str().unwrap()))
            })
            .cloned()
            .collect()
    }

    #[test]
    fn network_interface_permissions_only_when_the_function_is_in_a_vpc() {
        assert_eq!(
            statements_of(&committed_config(), "ec2"),
            Vec::<serde_json::Value>::new()
        );
        let in_vpc = edited_config(|text| {
            text.replace("# [function.vpc]", "[function.vpc]")
                .replace("# subnet_ids = ", "subnet_ids = ")
                .replace("# security_group_ids = ", "security_group_ids = ")
        });
        assert!(in_vpc.function.vpc.is_some());
        let statements = statements_of(&in_vpc, "ec2");
        let mut actions: Vec<&str> = statements
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap())
            .map(|a| a.as_str().unwrap())
            .collect();
        actions.sort();
        // Exactly AWSLambdaVPCAccessExecutionRole's EC2 actions.
        assert_eq!(
            actions,
            [
                "ec2:AssignPrivateIpAddresses",
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:UnassignPrivateIpAddresses",
            ]
        );
        for statement in &statements {
            let describes = statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a.as_str().unwrap().starts_with("ec2:Describe"));
            let expected = if describes {
                serde_json::json!(["*"])
            } else {
                serde_json::json!(["arn:aws:ec2:us-east-1:123456789012:*/*"])
            };
            assert_eq!(statement["Resource"], expected, "{statement}");
        }
        // The chunk prefix permissions are still there.
        let s3 = statements_of(&in_vpc, "s3");
        assert_eq!(s3, statements_of(&committed_config(), "s3"));
    }

    #[test]
    fn kms_decrypt_only_on_the_secret_key_through_secrets_manager() {
        assert_eq!(
            statements_of(&committed_config(), "kms"),
            Vec::<serde_json::Value>::new()
        );
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let with_key = edited_config(|text| {
            text.replace(
                "# warehouse_secret_kms_key_arn = ",
                &format!("warehouse_secret_kms_key_arn = \"{key}\" #"),
            )
        });
        assert_eq!(
            statements_of(&with_key, "kms"),
            vec![serde_json::json!({
                "Sid": "DecryptTheWarehouseSecretThroughSecretsManagerOnly",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [key],
                "Condition": {
                    "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
                }
            })]
        );
        assert_eq!(
            statements_of(&with_key, "ec2"),
            Vec::<serde_json::Value>::new()
        );
    }

    #[test]
    fn both_roles_may_use_the_chunk_key_through_s3_only_when_one_is_named() {
        let committed = committed_config();
        let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let with_key = edited_config(|text| {
            text.replace("# kms_key_arn = ", &format!("kms_key_arn = \"{key}\" #"))
        });
        let expected = serde_json::json!({
            "Sid": "UseTheChunkKeyThroughS3Only",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": [key],
            "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
        });
        for file in ["lambda-role-policy.json", "state-machine-role-policy.json"] {
            let kms = |config: &DeployConfig| -> Vec<serde_json::Value> {
                document(config, file)["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["Sid"] == "UseTheChunkKeyThroughS3Only")
                    .cloned()
                    .collect()
            };
            assert_eq!(kms(&committed), Vec::<serde_json::Value>::new(), "{file}");
            assert_eq!(kms(&with_key), std::slice::from_ref(&expected), "{file}");
            // Only the statement is added: every other one stays as it was.
            let mut others = document(&with_key, file);
            others["Statement"]
                .as_array_mut()
                .unwrap()
                .retain(|s| s["Sid"] != "UseTheChunkKeyThroughS3Only");
            assert_eq!(others, document(&committed, file), "{file}");
        }
    }

    #[test]
    fn bootstrap_puts_the_committed_documents_on_the_roles_deploy_toml_names() {
        let config = committed_config();
        let [lambda, states] = roles(&config);
        assert_eq!(lambda.role_arns, vec![config.function.role_arn.clone()]);
        assert_eq!(
            states.role_arns.iter().map(Arn::as_str).collect::<Vec<_>>(),
            ["arn:aws:iam::123456789012:role/cm-etl-phase2-states"]
        );
        assert_eq!(lambda.inline_policy_name(), "cm-etl-lambda-role-policy");
        let files = policy_documents(&config);
        assert_eq!(files.len(), 4);
        for (path, text) in files {
            let committed =
                std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path)).unwrap();
            assert_eq!(
                text,
                committed,
                "{} is stale: run `cargo run -- synth`",
                path.display()
            );
        }
    }

    #[test]
    fn a_full_secret_arn_is_not_suffixed_twice() {
        assert_eq!(
            secret_resource("arn:aws:secretsmanager:r:1:secret:db-AbC123"),
            "arn:aws:secretsmanager:r:1:secret:db-AbC123"
        );
    }
}
