//! What deploy will do, planned from reads only: the state machine release (the version the
//! alias routes to, published by this deploy or already there with the same definition) and the
//! list of writes ([`Step`]) that brings the function, the state machine and its alias to it.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Context;

use super::function::{AliasPlan, FunctionPlan};
use super::package::Package;
use super::release::{self, CanaryPercent, MachineVersion, Routing, RunningExecution};
use super::state_machine::{self, DesiredStateMachine, StateMachinePlan};
use crate::aws::AwsClients;
use crate::config::{DeployConfig, StateMachineName};
use crate::synth::{FunctionVersion, render_release_definition};

/// The state machine version a step routes the alias to: one this deploy publishes, or one
/// already published with exactly this definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReleaseVersion {
    PublishedAbove,
    Existing(MachineVersion),
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PublishedAbove => f.write_str("the version published above"),
            Self::Existing(version) => write!(f, "version {version}"),
        }
    }
}

/// Where the alias will send new executions: all to the release, or a canary share of them
/// beside the stable version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RoutingPlan {
    pub(super) release: ReleaseVersion,
    beside: Option<(MachineVersion, CanaryPercent)>,
}

impl RoutingPlan {
    pub(super) fn resolve(self, published: Option<MachineVersion>) -> anyhow::Result<Routing> {
        let release = match self.release {
            ReleaseVersion::Existing(version) => version,
            ReleaseVersion::PublishedAbove => {
                published.context("Step Functions returned no state machine version ARN")?
            }
        };
        Ok(match self.beside {
            None => Routing::all_to(release),
            Some((stable, pct)) => Routing {
                stable,
                canary: Some((release, pct)),
            },
        })
    }
}

impl fmt::Display for RoutingPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.beside {
            None => write!(f, "{} (100%)", self.release),
            Some((stable, pct)) => write!(
                f,
                "version {stable} ({}%) and, as a canary, {} ({}%)",
                100 - pct.get(),
                self.release,
                pct.get()
            ),
        }
    }
}

/// One write deploy makes, in the order it makes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Step {
    CreateFunction {
        bytes: usize,
    },
    UploadCode {
        bytes: usize,
    },
    UpdateConfiguration(Vec<&'static str>),
    PublishVersion,
    CreateAlias,
    MoveAlias {
        from: String,
    },
    CreateStateMachine,
    UpdateStateMachine(Vec<&'static str>),
    /// `$LATEST` is this release but no version of it is left (deleted by hand): publish one.
    PublishStateMachineVersion,
    TagStateMachine(BTreeMap<String, String>),
    CreateMachineAlias {
        alias: String,
        to: RoutingPlan,
    },
    RouteMachineAlias {
        alias: String,
        from: Routing,
        to: RoutingPlan,
    },
    PruneVersions {
        keep: u32,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateFunction { bytes } => {
                write!(f, "create the function ({bytes} bytes of code)")
            }
            Step::UploadCode { bytes } => write!(f, "upload the code ({bytes} bytes)"),
            Step::UpdateConfiguration(fields) => {
                write!(
                    f,
                    "update the function configuration ({})",
                    fields.join(", ")
                )
            }
            Step::PublishVersion => write!(f, "publish a function version"),
            Step::CreateAlias => write!(f, "create the alias"),
            Step::MoveAlias { from } => write!(f, "move the alias from version {from}"),
            Step::CreateStateMachine => write!(
                f,
                "create the state machine (publish version 1, pinned to the function version)"
            ),
            Step::UpdateStateMachine(fields) => {
                write!(
                    f,
                    "update the state machine ({}) and publish a version",
                    fields.join(", ")
                )
            }
            Step::PublishStateMachineVersion => {
                write!(
                    f,
                    "publish the state machine's current definition as a version"
                )
            }
            Step::TagStateMachine(tags) => {
                let keys: Vec<&str> = tags.keys().map(String::as_str).collect();
                write!(f, "tag the state machine ({})", keys.join(", "))
            }
            Step::CreateMachineAlias { alias, to } => {
                write!(f, "create the state machine alias `{alias}`: {to}")
            }
            Step::RouteMachineAlias { alias, from, to } => {
                write!(
                    f,
                    "route the state machine alias `{alias}` from {from} to {to}"
                )
            }
            Step::PruneVersions { keep } => write!(
                f,
                "delete state machine versions older than the newest {keep} (never one the alias routes to or an execution runs on)"
            ),
        }
    }
}

/// What is deployed of the state machine: itself, where its alias routes, what runs on it.
pub(super) struct LiveRelease {
    pub(super) machine: Option<state_machine::LiveStateMachine>,
    pub(super) routing: Option<Routing>,
    pub(super) running: Vec<RunningExecution>,
}

impl LiveRelease {
    pub(super) async fn read(
        aws: &AwsClients,
        config: &DeployConfig,
        name: &StateMachineName,
    ) -> anyhow::Result<Self> {
        let arn = config.state_machine_arn(name);
        let Some(machine) = state_machine::read(aws, &arn, true).await? else {
            return Ok(Self {
                machine: None,
                routing: None,
                running: Vec::new(),
            });
        };
        Ok(Self {
            machine: Some(machine),
            routing: release::read_routing(aws, &config.state_machine_alias_arn(name)).await?,
            running: release::running_executions(aws, &arn).await?,
        })
    }
}

/// What deploy will do to the state machine's versions and alias.
pub(super) struct ReleasePlan {
    /// The state machine itself: created, updated (each publishes a version) or unchanged.
    pub(super) machine: StateMachinePlan,
    /// `$LATEST` is the release but no version of it is left: publish one.
    publish_existing: bool,
    /// Where the alias will route.
    pub(super) target: RoutingPlan,
    /// The alias's routing now (`None`: no alias yet), when it must change.
    routing_change: Option<Option<Routing>>,
    /// Prune past this many versions, after publishing one.
    prune: Option<u32>,
}

impl ReleasePlan {
    /// Plans the release from reads only: the state machine's steps, the version the alias
    /// routes to (one this deploy publishes, or the existing version of the same definition) and
    /// whether it moves. `pinned` is the function version the release invokes, `None` when this
    /// deploy publishes it.
    pub(super) async fn new(
        aws: &AwsClients,
        config: &DeployConfig,
        name: &StateMachineName,
        desired: &DesiredStateMachine,
        live: &LiveRelease,
        pinned: Option<FunctionVersion>,
        canary: Option<CanaryPercent>,
    ) -> anyhow::Result<Self> {
        let routing = live.routing;
        let shipped = match pinned {
            Some(version) => Some(render_release_definition(config, name, version)?),
            None => None,
        };
        let machine = match &shipped {
            Some(shipped) => StateMachinePlan::new(
                &DesiredStateMachine {
                    definition: shipped.clone(),
                    ..desired.clone()
                },
                live.machine.as_ref(),
            ),
            // A new function version: the definition changes with it.
            None => StateMachinePlan::new(desired, live.machine.as_ref()).with_definition(),
        };
        let mut publish_existing = false;
        let release = match (&machine, &shipped) {
            (StateMachinePlan::Unchanged, Some(shipped)) => {
                match published_release(aws, config, &desired.arn, routing, shipped).await? {
                    Some(version) => ReleaseVersion::Existing(version),
                    None => {
                        publish_existing = true;
                        ReleaseVersion::PublishedAbove
                    }
                }
            }
            _ => ReleaseVersion::PublishedAbove,
        };
        let beside = match (canary, routing) {
            (Some(_), None) => anyhow::bail!(
                "{} has no release yet for a canary to run beside: deploy without --canary first; nothing was changed",
                config.state_machine_alias_arn(name)
            ),
            (Some(_), Some(routing)) if release == ReleaseVersion::Existing(routing.stable) => {
                anyhow::bail!(
                    "this release is version {}, which already takes every new execution: there is nothing to canary; nothing was changed",
                    routing.stable
                )
            }
            (Some(pct), Some(routing)) => Some((routing.stable, pct)),
            (None, _) => None,
        };
        let target = RoutingPlan { release, beside };
        let unchanged = routing.is_some() && target.resolve(None).ok() == routing;
        Ok(Self {
            machine,
            publish_existing,
            target,
            routing_change: (!unchanged).then_some(routing),
            prune: (release == ReleaseVersion::PublishedAbove)
                .then_some(config.state_machines[name].releases.keep.get()),
        })
    }
}

pub(super) fn plan_steps(
    package: &Package,
    function: &FunctionPlan,
    release: &ReleasePlan,
    alias: &str,
    tags: BTreeMap<String, String>,
) -> Vec<Step> {
    let bytes = package.zip.len();
    let mut steps = Vec::new();
    if function.create {
        steps.push(Step::CreateFunction { bytes });
    } else {
        if function.upload_code {
            steps.push(Step::UploadCode { bytes });
        }
        if !function.configuration.is_empty() {
            steps.push(Step::UpdateConfiguration(function.configuration.clone()));
        }
    }
    if function.publish {
        steps.push(Step::PublishVersion);
    }
    match &function.alias {
        AliasPlan::Create => steps.push(Step::CreateAlias),
        AliasPlan::Move { from } => steps.push(Step::MoveAlias { from: from.clone() }),
        AliasPlan::Keep => {}
    }
    match &release.machine {
        StateMachinePlan::Create => steps.push(Step::CreateStateMachine),
        StateMachinePlan::Update(fields) => steps.push(Step::UpdateStateMachine(fields.clone())),
        StateMachinePlan::Unchanged => {}
    }
    if release.publish_existing {
        steps.push(Step::PublishStateMachineVersion);
    }
    if !tags.is_empty() && release.machine != StateMachinePlan::Create {
        steps.push(Step::TagStateMachine(tags));
    }
    let to = release.target;
    match release.routing_change {
        Some(None) => steps.push(Step::CreateMachineAlias {
            alias: alias.to_owned(),
            to,
        }),
        Some(Some(from)) => steps.push(Step::RouteMachineAlias {
            alias: alias.to_owned(),
            from,
            to,
        }),
        None => {}
    }
    if let Some(keep) = release.prune {
        steps.push(Step::PruneVersions { keep });
    }
    steps
}

/// The published version whose definition is `shipped`: one the alias routes to, else the newest
/// listed; `None` when there is none.
async fn published_release(
    aws: &AwsClients,
    config: &DeployConfig,
    machine_arn: &str,
    routing: Option<Routing>,
    shipped: &str,
) -> anyhow::Result<Option<MachineVersion>> {
    let is_shipped = async |version| -> anyhow::Result<bool> {
        Ok(release::read_release(aws, config, machine_arn, version)
            .await?
            .is_some_and(|release| release.definition == shipped))
    };
    for version in routing.iter().flat_map(Routing::versions) {
        if is_shipped(version).await? {
            return Ok(Some(version));
        }
    }
    let listed = release::list_versions(aws, machine_arn)
        .await?
        .map_err(|warning| {
            anyhow::anyhow!("{warning}: cannot find the version of the deployed definition")
        })?;
    for version in listed {
        if is_shipped(version).await? {
            return Ok(Some(version));
        }
    }
    Ok(None)
}
