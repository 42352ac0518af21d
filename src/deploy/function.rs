//! The Lambda side of deploy: what the function should be (from `deploy.toml` and the package),
//! what it is (`$LATEST` and the version behind the alias), and the upserts between the two.
//!
//! A version is published only when the alias does not already point at one with this code and
//! this configuration, so a re-run after a failure part way publishes at most once more, and a
//! deploy with nothing changed publishes nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture as LambdaArchitecture, Environment, FunctionCode, FunctionConfiguration, Runtime,
    VpcConfig,
};

use etl_lambda::contract::env;

use super::package::Package;
use crate::aws::AwsClients;
use crate::config::{Architecture, DeployConfig};

/// Every Task invokes this one binary; provided.al2023 runs `bootstrap` whatever the handler says.
const HANDLER: &str = "bootstrap";
/// How long a function update may take before deploy gives up waiting.
const UPDATE_WAIT: Duration = Duration::from_secs(600);

fn runtime() -> Runtime {
    Runtime::Providedal2023
}

/// The function as `deploy.toml` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredFunction {
    pub name: String,
    pub alias: String,
    pub role_arn: String,
    pub memory_mb: i32,
    pub timeout_seconds: i32,
    pub architecture: Architecture,
    pub environment: BTreeMap<String, String>,
    /// The subnets and security groups, sorted; `None` outside any VPC.
    pub vpc: Option<Vpc>,
}

/// The function's place in a VPC, as sets: Lambda does not keep the order of the ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vpc {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

impl Vpc {
    fn new(mut subnet_ids: Vec<String>, mut security_group_ids: Vec<String>) -> Self {
        subnet_ids.sort();
        security_group_ids.sort();
        Self {
            subnet_ids,
            security_group_ids,
        }
    }

    /// What the function is configured with; `None` when it is in no VPC (no configuration, or
    /// the empty lists a VPC removal leaves).
    fn of_live(live: &FunctionConfiguration) -> Option<Self> {
        let vpc = live.vpc_config()?;
        let vpc = Self::new(vpc.subnet_ids().to_vec(), vpc.security_group_ids().to_vec());
        (vpc != Self::default()).then_some(vpc)
    }

    /// The configuration to send; the empty lists remove the function from its VPC.
    fn to_sdk(vpc: Option<&Self>) -> VpcConfig {
        let vpc = vpc.cloned().unwrap_or_default();
        VpcConfig::builder()
            .set_subnet_ids(Some(vpc.subnet_ids))
            .set_security_group_ids(Some(vpc.security_group_ids))
            .build()
    }
}

/// How the plan names a VPC configuration deploy sets or changes.
pub const VPC_CONFIG: &str = "vpc_config";
/// How the plan names a VPC configuration deploy removes.
pub const VPC_CONFIG_REMOVED: &str = "vpc_config removed: the function leaves its VPC";

impl DesiredFunction {
    pub fn from_config(config: &DeployConfig) -> Self {
        let function = &config.function;
        let mut environment = function.environment.variables().clone();
        environment.insert(
            env::CHUNK_STORE_URI.into(),
            config.chunk_store_uri().as_str().into(),
        );
        if let Some(secret) = &function.warehouse_secret_arn {
            environment.insert(env::WAREHOUSE_SECRET_ARN.into(), secret.as_str().into());
        }
        if let Some(opt_out) = function.warehouse_insecure_transport {
            environment.insert(
                env::WAREHOUSE_INSECURE_TRANSPORT.into(),
                opt_out.as_str().into(),
            );
        }
        Self {
            name: function.name.as_str().into(),
            alias: function.alias.as_str().into(),
            role_arn: function.role_arn.as_str().into(),
            // The config's ranges (128..=10240, 1..=900) always fit an i32.
            memory_mb: function.memory_mb.get() as i32,
            timeout_seconds: function.timeout_seconds.get() as i32,
            architecture: function.architecture,
            environment,
            vpc: function.vpc.as_ref().map(|vpc| {
                Vpc::new(
                    vpc.subnet_ids.to_strings(),
                    vpc.security_group_ids.to_strings(),
                )
            }),
        }
    }

    fn lambda_architecture(&self) -> LambdaArchitecture {
        match self.architecture {
            Architecture::X86_64 => LambdaArchitecture::X8664,
            Architecture::Arm64 => LambdaArchitecture::Arm64,
        }
    }

    /// Whether `live` runs another architecture: a change that goes with the code
    /// (UpdateFunctionCode carries it), not with the configuration.
    fn architecture_differs(&self, live: &FunctionConfiguration) -> bool {
        let architectures = live.architectures();
        let live_architecture = architectures.first().unwrap_or(&LambdaArchitecture::X8664);
        architectures.len() > 1 || *live_architecture != self.lambda_architecture()
    }

    /// The configuration fields (UpdateFunctionConfiguration's) in which `live` differs from this.
    pub fn differences(&self, live: &FunctionConfiguration) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if live.role() != Some(self.role_arn.as_str()) {
            fields.push("role");
        }
        if live.runtime() != Some(&runtime()) {
            fields.push("runtime");
        }
        if live.handler() != Some(HANDLER) {
            fields.push("handler");
        }
        if live.memory_size() != Some(self.memory_mb) {
            fields.push("memory_size");
        }
        if live.timeout() != Some(self.timeout_seconds) {
            fields.push("timeout");
        }
        let live_environment: BTreeMap<String, String> = live
            .environment()
            .and_then(|env| env.variables())
            .map(|vars| vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if live_environment != self.environment {
            fields.push("environment");
        }
        let live_vpc = Vpc::of_live(live);
        if live_vpc != self.vpc {
            fields.push(match self.vpc {
                Some(_) => VPC_CONFIG,
                None => VPC_CONFIG_REMOVED,
            });
        }
        fields
    }

    fn environment(&self) -> Environment {
        Environment::builder()
            .set_variables(Some(
                self.environment
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<HashMap<_, _>>(),
            ))
            .build()
    }
}

/// The function as it is deployed.
#[derive(Debug, Default)]
pub struct LiveFunction {
    /// `$LATEST`; `None` when the function does not exist.
    pub latest: Option<FunctionConfiguration>,
    /// The version the alias points at; `None` when the alias does not exist.
    pub aliased: Option<FunctionConfiguration>,
}

impl LiveFunction {
    pub async fn read(aws: &AwsClients, desired: &DesiredFunction) -> anyhow::Result<Self> {
        let latest = get_configuration(aws, &desired.name, None).await?;
        let aliased = match latest {
            Some(_) => get_configuration(aws, &desired.name, Some(&desired.alias)).await?,
            None => None,
        };
        Ok(Self { latest, aliased })
    }

    /// The published version the alias points at.
    pub fn aliased_version(&self) -> Option<&str> {
        self.aliased.as_ref().and_then(|c| c.version())
    }
}

async fn get_configuration(
    aws: &AwsClients,
    name: &str,
    qualifier: Option<&str>,
) -> anyhow::Result<Option<FunctionConfiguration>> {
    match aws
        .lambda
        .get_function_configuration()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_owned))
        .send()
        .await
    {
        Ok(output) => Ok(Some(configuration_of(output))),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws.fail(&err, "GetFunctionConfiguration")),
    }
}

/// GetFunctionConfiguration's output carries the same fields as a `FunctionConfiguration`.
fn configuration_of(
    output: aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> FunctionConfiguration {
    FunctionConfiguration::builder()
        .set_function_name(output.function_name)
        .set_version(output.version)
        .set_code_sha256(output.code_sha256)
        .set_role(output.role)
        .set_runtime(output.runtime)
        .set_handler(output.handler)
        .set_memory_size(output.memory_size)
        .set_timeout(output.timeout)
        .set_architectures(output.architectures)
        .set_environment(output.environment)
        .set_vpc_config(output.vpc_config)
        .build()
}

/// What deploy will do to the function, decided from reads only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionPlan {
    pub create: bool,
    pub upload_code: bool,
    /// Configuration fields to update on `$LATEST` (empty when creating).
    pub configuration: Vec<&'static str>,
    /// Publish a version: the alias does not point at this code and configuration yet.
    pub publish: bool,
    pub alias: AliasPlan,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AliasPlan {
    Create,
    /// Move from the version it points at now.
    Move {
        from: String,
    },
    Keep,
}

impl FunctionPlan {
    pub fn new(desired: &DesiredFunction, package: &Package, live: &LiveFunction) -> Self {
        let same_code = |config: &FunctionConfiguration| {
            config.code_sha256() == Some(package.code_sha256.as_str())
                && !desired.architecture_differs(config)
        };
        let current = |config: &FunctionConfiguration| {
            same_code(config) && desired.differences(config).is_empty()
        };
        let publish = !live.aliased.as_ref().is_some_and(current);
        let alias = match live.aliased_version() {
            None => AliasPlan::Create,
            Some(version) if publish => AliasPlan::Move {
                from: version.to_owned(),
            },
            Some(_) => AliasPlan::Keep,
        };
        match &live.latest {
            None => Self {
                create: true,
                upload_code: true,
                configuration: Vec::new(),
                publish: true,
                alias,
            },
            Some(latest) => Self {
                create: false,
                upload_code: !same_code(latest),
                configuration: desired.differences(latest),
                publish,
                alias,
            },
        }
    }
}

/// Creates the function and waits until it is Active.
pub async fn create(
    aws: &AwsClients,
    desired: &DesiredFunction,
    package: &Package,
) -> anyhow::Result<()> {
    aws.lambda
        .create_function()
        .function_name(&desired.name)
        .runtime(runtime())
        .handler(HANDLER)
        .role(&desired.role_arn)
        .memory_size(desired.memory_mb)
        .timeout(desired.timeout_seconds)
        .architectures(desired.lambda_architecture())
        .environment(desired.environment())
        .set_vpc_config(desired.vpc.as_ref().map(|vpc| Vpc::to_sdk(Some(vpc))))
        .code(FunctionCode::builder().zip_file(Blob::new(package.zip.clone())).build())
        .send()
        .await
        .map_err(|err| {
            let failure = crate::aws::error::CallFailure::of(&err);
            if failure.code() == Some("InvalidParameterValueException")
                && format!("{failure:?}").contains("role")
            {
                anyhow::anyhow!(
                    "the function's role {} does not exist or cannot be assumed by Lambda: create it (trust: definitions/iam/lambda-role-trust.json, policy: definitions/iam/lambda-role-policy.json) or fix `function.role_arn` in deploy.toml",
                    desired.role_arn
                )
            } else {
                aws.fail(&err, "CreateFunction")
            }
        })?;
    let waited = aws
        .lambda
        .wait_until_function_active_v2()
        .function_name(&desired.name)
        .wait(UPDATE_WAIT)
        .await;
    if waited.is_err() {
        return Err(update_failed(aws, desired, "creating the function").await);
    }
    Ok(())
}

/// Uploads the code to `$LATEST` and waits until the update is Successful.
pub async fn upload_code(
    aws: &AwsClients,
    desired: &DesiredFunction,
    package: &Package,
) -> anyhow::Result<()> {
    aws.lambda
        .update_function_code()
        .function_name(&desired.name)
        .zip_file(Blob::new(package.zip.clone()))
        .architectures(desired.lambda_architecture())
        .send()
        .await
        .map_err(|err| aws.fail(&err, "UpdateFunctionCode"))?;
    wait_updated(aws, desired, "uploading the code").await
}

/// Updates `$LATEST`'s configuration and waits until the update is Successful. The VPC
/// configuration is sent only when it is one of the `changed` fields: Lambda re-creates the
/// function's network interfaces for it.
pub async fn update_configuration(
    aws: &AwsClients,
    desired: &DesiredFunction,
    changed: &[&str],
) -> anyhow::Result<()> {
    let vpc_changed = changed
        .iter()
        .any(|field| [VPC_CONFIG, VPC_CONFIG_REMOVED].contains(field));
    aws.lambda
        .update_function_configuration()
        .function_name(&desired.name)
        .runtime(runtime())
        .handler(HANDLER)
        .role(&desired.role_arn)
        .memory_size(desired.memory_mb)
        .timeout(desired.timeout_seconds)
        .environment(desired.environment())
        .set_vpc_config(vpc_changed.then(|| Vpc::to_sdk(desired.vpc.as_ref())))
        .send()
        .await
        .map_err(|err| aws.fail(&err, "UpdateFunctionConfiguration"))?;
    wait_updated(aws, desired, "updating the configuration").await
}

async fn wait_updated(
    aws: &AwsClients,
    desired: &DesiredFunction,
    doing: &str,
) -> anyhow::Result<()> {
    let waited = aws
        .lambda
        .wait_until_function_updated_v2()
        .function_name(&desired.name)
        .wait(UPDATE_WAIT)
        .await;
    match waited {
        Ok(_) => Ok(()),
        Err(_) => Err(update_failed(aws, desired, doing).await),
    }
}

/// The Lambda update failed or never finished: say why, from the function's own status.
async fn update_failed(aws: &AwsClients, desired: &DesiredFunction, doing: &str) -> anyhow::Error {
    let reason = match aws
        .lambda
        .get_function_configuration()
        .function_name(&desired.name)
        .send()
        .await
    {
        Ok(config) => format!(
            "status {}, {}",
            config
                .last_update_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "unknown".into()),
            config
                .last_update_status_reason()
                .unwrap_or("no reason given")
        ),
        Err(err) => aws.fail(&err, "GetFunctionConfiguration").to_string(),
    };
    anyhow::anyhow!(
        "the Lambda update failed while {doing} {} ({reason}); fix the cause and re-run deploy",
        desired.name
    )
}

/// Publishes `$LATEST` as a version, only if its code is still ours; returns the version number.
pub async fn publish(
    aws: &AwsClients,
    desired: &DesiredFunction,
    package: &Package,
    description: &str,
) -> anyhow::Result<String> {
    let output = aws
        .lambda
        .publish_version()
        .function_name(&desired.name)
        .code_sha256(&package.code_sha256)
        .description(description)
        .send()
        .await
        .map_err(|err| aws.fail(&err, "PublishVersion"))?;
    output
        .version()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("PublishVersion returned no version number"))
}

/// Points the alias at `version`, creating it when missing.
pub async fn point_alias(
    aws: &AwsClients,
    desired: &DesiredFunction,
    create: bool,
    version: &str,
) -> anyhow::Result<()> {
    if create {
        aws.lambda
            .create_alias()
            .function_name(&desired.name)
            .name(&desired.alias)
            .function_version(version)
            .send()
            .await
            .map_err(|err| aws.fail(&err, "CreateAlias"))?;
    } else {
        aws.lambda
            .update_alias()
            .function_name(&desired.name)
            .name(&desired.alias)
            .function_version(version)
            .send()
            .await
            .map_err(|err| aws.fail(&err, "UpdateAlias"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use aws_sdk_lambda::types::VpcConfigResponse;

    use super::*;

    fn desired() -> DesiredFunction {
        let config =
            DeployConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy.toml")).unwrap();
        DesiredFunction::from_config(&config)
    }

    /// A live configuration equal to `desired`, with `sha` as its code and `version`.
    fn live(desired: &DesiredFunction, sha: &str, version: &str) -> FunctionConfiguration {
        FunctionConfiguration::builder()
            .version(version)
            .code_sha256(sha)
            .role(&desired.role_arn)
            .runtime(runtime())
            .handler(HANDLER)
            .memory_size(desired.memory_mb)
            .timeout(desired.timeout_seconds)
            .architectures(desired.lambda_architecture())
            .environment(
                aws_sdk_lambda::types::EnvironmentResponse::builder()
                    .set_variables(Some(desired.environment.clone().into_iter().collect()))
                    .build(),
            )
            .build()
    }

    /// A deployed function matching `desired`: version 3 (code "A") under the alias, and
    /// `$LATEST` with `latest_sha`.
    fn deployed(desired: &DesiredFunction, latest_sha: &str) -> LiveFunction {
        LiveFunction {
            latest: Some(live(desired, latest_sha, "$LATEST")),
            aliased: Some(live(desired, "A", "3")),
        }
    }

    fn package(sha: &str) -> Package {
        Package {
            zip: vec![0; 10],
            code_sha256: sha.into(),
        }
    }

    #[test]
    fn the_environment_carries_the_chunk_store_and_the_secret_arn_only() {
        let desired = desired();
        assert_eq!(
            desired.environment[env::CHUNK_STORE_URI],
            "s3://cm-etl-phase2-chunks/task02/"
        );
        assert!(
            desired.environment[env::WAREHOUSE_SECRET_ARN].starts_with("arn:aws:secretsmanager:")
        );
        assert_eq!(desired.environment["RUST_LOG"], "info");
        assert!(
            !desired
                .environment
                .contains_key(env::WAREHOUSE_INSECURE_TRANSPORT)
        );
    }

    #[test]
    fn the_tls_opt_out_reaches_the_function_only_when_deploy_toml_names_it() {
        let mut config =
            DeployConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy.toml")).unwrap();
        config.function.warehouse_insecure_transport =
            Some(etl_lambda::warehouse::InsecureTransport::Unverified);
        let desired = DesiredFunction::from_config(&config);
        assert_eq!(
            desired.environment[env::WAREHOUSE_INSECURE_TRANSPORT],
            "unverified"
        );
    }

    #[test]
    fn a_missing_function_is_created_published_and_aliased() {
        let plan = FunctionPlan::new(&desired(), &package("A"), &LiveFunction::default());
        assert!(plan.create && plan.upload_code && plan.publish);
        assert_eq!(plan.alias, AliasPlan::Create);
    }

    #[test]
    fn nothing_is_published_when_the_alias_already_runs_this_code_and_configuration() {
        let desired = desired();
        let live_function = deployed(&desired, "A");
        let plan = FunctionPlan::new(&desired, &package("A"), &live_function);
        assert!(!plan.create && !plan.upload_code && !plan.publish);
        assert!(plan.configuration.is_empty());
        assert_eq!(plan.alias, AliasPlan::Keep);
    }

    #[test]
    fn new_code_is_uploaded_published_and_the_alias_moved() {
        let desired = desired();
        let live_function = deployed(&desired, "A");
        let plan = FunctionPlan::new(&desired, &package("B"), &live_function);
        assert!(plan.upload_code && plan.publish);
        assert_eq!(plan.alias, AliasPlan::Move { from: "3".into() });
    }

    #[test]
    fn a_rerun_after_an_upload_publishes_without_uploading_again() {
        // The last run uploaded B to $LATEST and failed before publishing.
        let desired = desired();
        let live_function = deployed(&desired, "B");
        let plan = FunctionPlan::new(&desired, &package("B"), &live_function);
        assert!(!plan.upload_code && plan.publish);
    }

    #[test]
    fn a_configuration_change_names_the_fields() {
        let mut desired = desired();
        let live_function = deployed(&desired, "A");
        desired.memory_mb = 2048;
        desired.environment.insert("EXTRA".into(), "1".into());
        let plan = FunctionPlan::new(&desired, &package("A"), &live_function);
        assert_eq!(plan.configuration, vec!["memory_size", "environment"]);
        assert!(!plan.upload_code && plan.publish);
    }

    #[test]
    fn a_vpc_is_compared_as_sets_and_its_removal_is_named() {
        let mut desired = desired();
        assert_eq!(desired.vpc, None, "the committed deploy.toml has no VPC");
        let mut live_function = deployed(&desired, "A");
        let vpc = |subnets: &[&str], groups: &[&str]| {
            VpcConfigResponse::builder()
                .set_subnet_ids(Some(subnets.iter().map(|s| s.to_string()).collect()))
                .set_security_group_ids(Some(groups.iter().map(|s| s.to_string()).collect()))
                .build()
        };
        // No VPC, and the empty lists AWS leaves after a removal, are the same thing.
        live_function.latest.as_mut().unwrap().vpc_config = Some(vpc(&[], &[]));
        let plan = FunctionPlan::new(&desired, &package("A"), &live_function);
        assert!(plan.configuration.is_empty() && !plan.publish, "{plan:?}");

        desired.vpc = Some(Vpc::new(
            vec!["subnet-bbbbbbbb".into(), "subnet-aaaaaaaa".into()],
            vec!["sg-aaaaaaaa".into()],
        ));
        let plan = FunctionPlan::new(&desired, &package("A"), &live_function);
        assert_eq!(plan.configuration, vec![VPC_CONFIG]);
        assert!(plan.publish);

        for function in [
            live_function.latest.as_mut(),
            live_function.aliased.as_mut(),
        ] {
            function.unwrap().vpc_config = Some(vpc(
                &["subnet-aaaaaaaa", "subnet-bbbbbbbb"],
                &["sg-aaaaaaaa"],
            ));
        }
        let plan = FunctionPlan::new(&desired, &package("A"), &live_function);
        assert!(
            plan.configuration.is_empty() && !plan.publish,
            "order does not count: {plan:?}"
        );

        desired.vpc = None;
        let plan = FunctionPlan::new(&desired, &package("A"), &live_function);
        assert_eq!(plan.configuration, vec![VPC_CONFIG_REMOVED]);
    }

    #[test]
    fn another_architecture_goes_with_the_code_not_the_configuration() {
        let mut desired = desired();
        let live_function = deployed(&desired, "A");
        desired.architecture = Architecture::Arm64;
        let plan = FunctionPlan::new(&desired, &package("A"), &live_function);
        assert!(plan.configuration.is_empty(), "{:?}", plan.configuration);
        assert!(plan.upload_code && plan.publish);
    }
}
