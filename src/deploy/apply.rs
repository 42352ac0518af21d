//! Deploy's writes: each planned [`Step`] carried out in order, and what they produced for the
//! summary.

use anyhow::Context;

use super::function::{self, DesiredFunction};
use super::package::Package;
use super::plan::Step;
use super::progress::DeploySpinner;
use super::release::{self, MachineVersion, Routing, RunningExecution};
use super::state_machine::{self, DesiredStateMachine};
use crate::aws::AwsClients;
use crate::config::{DeployConfig, StateMachineName};
use crate::synth::{FunctionVersion, render_release_definition};

/// What the steps produced, for the summary.
pub(super) struct Outcome {
    pub(super) bytes_uploaded: usize,
    pub(super) function_version: Option<FunctionVersion>,
    pub(super) state_machine_version: Option<MachineVersion>,
    pub(super) routing: Option<Routing>,
    pub(super) pruned: Vec<MachineVersion>,
}

/// What the steps of one deploy write with: the clients, what is desired, the package, and the
/// spinner that shows each step.
pub(super) struct StepContext<'a> {
    pub(super) aws: &'a AwsClients,
    pub(super) config: &'a DeployConfig,
    pub(super) name: &'a StateMachineName,
    pub(super) function: &'a DesiredFunction,
    pub(super) machine: &'a DesiredStateMachine,
    pub(super) package: &'a Package,
    pub(super) version_description: &'a str,
    pub(super) progress: &'a DeploySpinner,
    pub(super) running: &'a [RunningExecution],
}

impl StepContext<'_> {
    /// The definition to ship: the committed one pinned to the function version.
    fn shipped(&self, outcome: &Outcome) -> anyhow::Result<DesiredStateMachine> {
        let version = outcome
            .function_version
            .context("no published function version to pin the definition to")?;
        Ok(DesiredStateMachine {
            definition: render_release_definition(self.config, self.name, version)?,
            ..self.machine.clone()
        })
    }

    pub(super) async fn run(
        &self,
        step: &Step,
        outcome: &mut Outcome,
        warnings: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        self.progress.step(format!("{step}"));
        let version_of = |arn: Option<String>| arn.as_deref().and_then(MachineVersion::of_arn);
        match step {
            Step::CreateFunction { bytes } => {
                function::create(self.aws, self.function, self.package).await?;
                outcome.bytes_uploaded += bytes;
            }
            Step::UploadCode { bytes } => {
                function::upload_code(self.aws, self.function, self.package).await?;
                outcome.bytes_uploaded += bytes;
            }
            Step::UpdateConfiguration(fields) => {
                function::update_configuration(self.aws, self.function, fields).await?;
            }
            Step::PublishVersion => {
                let version = function::publish(
                    self.aws,
                    self.function,
                    self.package,
                    self.version_description,
                )
                .await?;
                outcome.function_version = Some(
                    FunctionVersion::parse(&version)
                        .with_context(|| format!("PublishVersion returned `{version}`"))?,
                );
            }
            Step::CreateAlias | Step::MoveAlias { .. } => {
                let version = outcome
                    .function_version
                    .context("no published version to point the alias at")?;
                function::point_alias(
                    self.aws,
                    self.function,
                    matches!(step, Step::CreateAlias),
                    &version.to_string(),
                )
                .await?;
            }
            Step::CreateStateMachine => {
                let shipped = self.shipped(outcome)?;
                outcome.state_machine_version = version_of(
                    state_machine::create(self.aws, &shipped, self.version_description).await?,
                );
            }
            Step::UpdateStateMachine(_) => {
                let shipped = self.shipped(outcome)?;
                outcome.state_machine_version = version_of(
                    state_machine::update(self.aws, &shipped, self.version_description).await?,
                );
            }
            Step::PublishStateMachineVersion => {
                outcome.state_machine_version = version_of(Some(
                    state_machine::publish(self.aws, &self.machine.arn, self.version_description)
                        .await?,
                ));
            }
            Step::TagStateMachine(tags) => {
                state_machine::tag(self.aws, &self.machine.arn, tags).await?;
            }
            Step::CreateMachineAlias { alias, to } | Step::RouteMachineAlias { alias, to, .. } => {
                let routing = to.resolve(outcome.state_machine_version)?;
                let create = matches!(step, Step::CreateMachineAlias { .. });
                release::route_alias(self.aws, &self.machine.arn, alias, create, routing).await?;
                outcome.routing = Some(routing);
            }
            Step::PruneVersions { keep } => {
                let routing = outcome
                    .routing
                    .context("the alias routes nowhere: nothing is pruned before it does")?;
                match release::list_versions(self.aws, &self.machine.arn).await? {
                    Ok(versions) => {
                        let pruned =
                            release::prunable(&versions, *keep as usize, routing, self.running);
                        release::delete_versions(self.aws, &self.machine.arn, &pruned).await?;
                        outcome.pruned = pruned;
                    }
                    Err(warning) => {
                        let warning = format!("{warning}: no version was pruned");
                        self.progress.warn(&warning);
                        warnings.push(warning);
                    }
                }
            }
        }
        Ok(())
    }
}
