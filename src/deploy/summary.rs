//! What a deploy did (or, with `--dry-run`, would do): the summary printed as text or JSON.

use serde::Serialize;

use super::package::BuildProfile;
use super::release::{MachineVersion, Routing, RunningExecution};
use crate::aws::calls::ApiCallCount;
use crate::aws::summary::{dry_run_note, print_changes};

/// What a deploy did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub struct DeploySummary {
    pub state_machine: String,
    pub dry_run: bool,
    pub lambda_profile: BuildProfile,
    pub code_sha256: String,
    pub zip_bytes: usize,
    pub bytes_uploaded: usize,
    /// The function version the release's definition pins (and the function's alias points at).
    pub function_version: Option<String>,
    /// The function's alias.
    pub function_alias_arn: String,
    pub state_machine_arn: String,
    /// The release: the state machine version new executions start on.
    pub state_machine_version_arn: Option<String>,
    /// The state machine alias `start` addresses.
    pub alias_arn: String,
    /// Where the alias sends new executions after the deploy.
    pub routing: Option<Routing>,
    /// Executions running when the deploy started: each finishes on its own version.
    pub running_executions: Vec<RunningExecution>,
    /// State machine versions deleted past `releases.keep`.
    pub pruned_versions: Vec<MachineVersion>,
    /// The writes made (or that would be made), in order; empty when everything was current.
    pub changes: Vec<String>,
    pub warnings: Vec<String>,
    pub api_calls: ApiCallCount,
    /// Time spent in `cargo lambda build` (a no-op build still checks every fingerprint).
    pub build_seconds: f64,
    pub elapsed_seconds: f64,
}

impl DeploySummary {
    pub(super) fn print_text(&self) {
        println!(
            "deploy {}{}",
            self.state_machine,
            dry_run_note(self.dry_run)
        );
        print_changes(
            &self.changes,
            self.dry_run,
            "everything is current: nothing to change",
        );
        println!(
            "  code sha256:      {} ({} byte zip, {} build)",
            self.code_sha256,
            self.zip_bytes,
            self.lambda_profile.as_str()
        );
        println!("  bytes uploaded:   {}", self.bytes_uploaded);
        match &self.function_version {
            Some(version) => println!(
                "  function version: {version} (every Task of the release invokes it; the committed definition names {})",
                self.function_alias_arn
            ),
            None => println!("  function version: the one this deploy publishes"),
        }
        println!("  state machine:    {}", self.state_machine_arn);
        println!(
            "  release:          {}",
            self.state_machine_version_arn
                .as_deref()
                .unwrap_or("the version this deploy publishes")
        );
        match &self.routing {
            Some(routing) => println!("  alias:            {} -> {routing}", self.alias_arn),
            None => println!(
                "  alias:            {} (created by this deploy)",
                self.alias_arn
            ),
        }
        println!(
            "  running:          {} execution(s), each finishing on the version it started on",
            self.running_executions.len()
        );
        if !self.pruned_versions.is_empty() {
            let pruned: Vec<String> = self.pruned_versions.iter().map(|v| v.to_string()).collect();
            println!("  pruned versions:  {}", pruned.join(", "));
        }
        println!("  API calls:        {}", self.api_calls);
        println!(
            "  took:             {:.1}s ({:.1}s building)",
            self.elapsed_seconds, self.build_seconds
        );
    }
}
