//! The one place that builds the AWS SDK configuration: profile, region and endpoint from the
//! command line, then `deploy.toml`, then the SDK's default chains.

use aws_config::{BehaviorVersion, SdkConfig};

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
