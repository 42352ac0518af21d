//! `bootstrap`: creates or updates, idempotently, what `deploy` assumes exists: the IAM roles
//! deploy.toml names (trust and inline policy from `iam`), the chunk bucket (encrypted,
//! private, TLS only, chunks expiring) and the state machine's log group.
//!
//! Like deploy, it reads everything first, turns the differences into a list of steps, then writes
//! them one by one (`--dry-run` stops after the plan). A failure part way names the steps done and
//! not done; a re-run plans again from what is there, so it does only the rest.

mod bucket;
mod log_group;
mod roles;

use std::fmt;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use crate::aws::calls::ApiCallCount;
use crate::aws::error::stopped_part_way;
use crate::aws::summary::{dry_run_note, print_changes};
use crate::aws::{AwsArgs, AwsClients};
use crate::config::ConfigArgs;
use crate::output::{OutputArgs, OutputFormat};

/// Create or update the IAM roles, the chunk bucket and the log group deploy.toml names.
#[derive(clap::Args, Debug)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Read everything and print what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// One write bootstrap makes, in the order it makes them.
enum Step {
    Role(roles::RoleStep),
    Bucket(bucket::BucketStep),
    LogGroup(log_group::CreateLogGroup),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Role(step) => step.fmt(f),
            Step::Bucket(step) => step.fmt(f),
            Step::LogGroup(step) => step.fmt(f),
        }
    }
}

impl Step {
    async fn apply(&self, aws: &AwsClients) -> anyhow::Result<()> {
        match self {
            Step::Role(step) => step.apply(aws).await,
            Step::Bucket(step) => step.apply(aws).await,
            Step::LogGroup(step) => step.apply(aws).await,
        }
    }
}

/// What a bootstrap did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub struct BootstrapSummary {
    pub dry_run: bool,
    /// The writes made (or that would be made), in order; empty when everything was in place.
    pub changes: Vec<String>,
    pub api_calls: ApiCallCount,
    pub elapsed_seconds: f64,
}

impl BootstrapSummary {
    fn print_text(&self) {
        println!("bootstrap{}", dry_run_note(self.dry_run));
        print_changes(
            &self.changes,
            self.dry_run,
            "nothing to do: the roles, the chunk bucket and the log group are as deploy.toml describes them",
        );
        println!(
            "  API calls: {}, {:.1}s",
            self.api_calls, self.elapsed_seconds
        );
    }
}

pub async fn main(args: BootstrapArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let config = args.config.load()?;
    // Everything that can be checked without AWS is checked before the first call.
    let roles = roles::desired(&config)?;
    let log_groups = log_group::desired(&config)?;
    let chunk_bucket = bucket::ChunkBucket::from_config(&config);

    let aws = AwsClients::connect(&args.aws, &config).await;
    let mut steps: Vec<Step> = Vec::new();
    steps.extend(roles::plan(&aws, &roles).await?.into_iter().map(Step::Role));
    steps.extend(chunk_bucket.plan(&aws).await?.into_iter().map(Step::Bucket));
    steps.extend(
        log_group::plan(&aws, &log_groups)
            .await?
            .into_iter()
            .map(Step::LogGroup),
    );
    if !args.dry_run {
        for (index, step) in steps.iter().enumerate() {
            if let Err(err) = step.apply(&aws).await {
                return Err(stopped_part_way("bootstrap", &steps, index, err));
            }
        }
    }
    let summary = BootstrapSummary {
        dry_run: args.dry_run,
        changes: steps.iter().map(Step::to_string).collect(),
        api_calls: aws.calls.count(),
        elapsed_seconds: started.elapsed().as_secs_f64(),
    };
    match args.output.format {
        OutputFormat::Text => summary.print_text(),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether two JSON documents say the same (formatting and key order never count). IAM answers
/// with its documents percent-encoded; S3 answers with plain JSON.
fn same_document(live: &str, desired: &str) -> bool {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    let live = parse(live).or_else(|| parse(&percent_decode(live)));
    live.is_some() && live == parse(desired)
}

/// Decodes `%XX` escapes (and `+` as a space, as a form encoder writes it).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_compared_as_json_whether_encoded_or_not() {
        let desired = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}\n";
        assert!(same_document(
            r#"{"Statement":[],"Version":"2012-10-17"}"#,
            desired
        ));
        assert!(same_document(
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D",
            desired
        ));
        assert!(!same_document(
            r#"{"Version":"2012-10-17","Statement":[{}]}"#,
            desired
        ));
        assert!(!same_document("not json", desired));
        assert_eq!(percent_decode("a%2Fb+c%"), "a/b c%");
    }
}
