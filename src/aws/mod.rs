//! The AWS command layer, the one way every command talks to AWS (`deploy`, `diff`, `releases`,
//! `rollback`, `bootstrap`, `start`, `status`, `redrive`, and `run` with an S3 chunk store): the
//! SDK configuration (profile, region and endpoint from the command line, then `deploy.toml`, then
//! the SDK's default chains), the client set built from it ([`AwsClients`]), where its calls go as
//! messages name it, the log of the calls made ([`calls`]), the one-line explanation of a failed
//! call ([`error`]) and how a command's summary reports its changes and calls ([`summary`]).

pub mod calls;
pub mod error;
pub mod summary;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};

use self::calls::ApiCalls;
use crate::config::DeployConfig;

/// The AWS connection flags every command that calls AWS takes.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// A named profile of the shared AWS config (default: deploy.toml's `profile`, then the
    /// default credential chain).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The AWS region (default: deploy.toml's `region`).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint instead of AWS's (a local moto server, say).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

/// Builds the SDK configuration for `config`'s account, with the flags in `args` taking
/// precedence.
pub async fn sdk_config(args: &AwsArgs, config: &DeployConfig) -> SdkConfig {
    let region = args
        .region
        .clone()
        .unwrap_or_else(|| config.region.as_str().to_owned());
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(aws_config::Region::new(region));
    if let Some(profile) = args.profile.as_ref().or(config.profile.as_ref()) {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &args.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Where a configuration's calls go, for messages: its endpoint URL (`--endpoint-url`,
/// `AWS_ENDPOINT_URL`), else `AWS <region>`.
pub fn endpoint_name(sdk: &SdkConfig) -> String {
    match (sdk.endpoint_url(), sdk.region()) {
        (Some(url), _) => url.to_owned(),
        (None, Some(region)) => format!("AWS {region}"),
        (None, None) => "AWS".to_owned(),
    }
}

/// The AWS clients of one command, every one of them recording its calls in one log. Building a
/// client sends nothing, so a command builds them all and uses those it needs.
pub struct AwsClients {
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Every operation the clients sent, waiter polls included.
    pub calls: ApiCalls,
    /// Where calls go, for messages ([`endpoint_name`]).
    pub endpoint: String,
    /// Whether `--endpoint-url` (or AWS_ENDPOINT_URL) points somewhere other than AWS.
    pub custom_endpoint: bool,
    /// The region the clients talk to (where a bucket or a log group is created).
    pub region: String,
}

impl AwsClients {
    pub async fn connect(args: &AwsArgs, config: &DeployConfig) -> Self {
        let sdk = sdk_config(args, config).await;
        let calls = ApiCalls::default();
        let custom_endpoint = args.endpoint_url.is_some();
        let lambda = aws_sdk_lambda::config::Builder::from(&sdk).interceptor(calls.clone());
        let sfn = aws_sdk_sfn::config::Builder::from(&sdk).interceptor(calls.clone());
        let iam = aws_sdk_iam::config::Builder::from(&sdk).interceptor(calls.clone());
        // A custom endpoint (moto, MinIO) serves buckets by path, not by host name.
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .force_path_style(custom_endpoint);
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(&sdk).interceptor(calls.clone());
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| config.region.to_string());
        Self {
            lambda: aws_sdk_lambda::Client::from_conf(lambda.build()),
            sfn: aws_sdk_sfn::Client::from_conf(sfn.build()),
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs.build()),
            calls,
            endpoint: endpoint_name(&sdk),
            custom_endpoint,
            region,
        }
    }

    /// One line for a failed call of `operation` ([`error::CallFailure::explain`]).
    pub fn fail<E>(&self, err: &SdkError<E, HttpResponse>, operation: &str) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        error::describe(operation, &self.endpoint, err)
    }
}
