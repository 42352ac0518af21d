//! Releases: each deploy publishes a state machine version whose definition pins the function
//! version it was deployed with, and routes the state machine's alias (`start` addresses it) to
//! that version, at once or as a canary share. An execution runs to its end on the version it
//! started on, whatever is deployed meanwhile; `rollback` routes the alias back; old versions are
//! pruned, never one the alias routes to or an execution still runs on.
//!
//! `cm-etl releases` and `cm-etl rollback` live here; deploy calls the rest.

use std::collections::BTreeSet;
use std::fmt;
use std::process::ExitCode;

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, RoutingConfigurationListItem};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::state_machine;
use crate::aws::{AwsArgs, AwsClients};
use crate::config::{ConfigArgs, DeployConfig, StateMachineArgs, StateMachineName};
use crate::output::{OutputArgs, OutputFormat};
use crate::synth::FunctionVersion;

/// A published state machine version: Step Functions numbers them 1, 2, 3...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct MachineVersion(pub u64);

impl MachineVersion {
    /// The version a version ARN (`...:stateMachine:NAME:7`) names.
    pub fn of_arn(arn: &str) -> Option<Self> {
        let (_, number) = arn.rsplit_once(':')?;
        number.parse().ok().filter(|n| *n > 0).map(Self)
    }

    pub fn arn(self, machine_arn: &str) -> String {
        format!("{machine_arn}:{}", self.0)
    }
}

impl fmt::Display for MachineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A canary's share of new executions, 1 to 99 %.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CanaryPercent(u8);

impl CanaryPercent {
    /// `pct` when it is a canary's share, 1 to 99.
    fn new(pct: u8) -> Option<Self> {
        (1..=99).contains(&pct).then_some(Self(pct))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl std::str::FromStr for CanaryPercent {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text
            .trim_end_matches('%')
            .parse::<u8>()
            .ok()
            .and_then(Self::new)
        {
            Some(pct) => Ok(pct),
            None => Err(format!(
                "`{text}` is not a canary share: give a whole percentage from 1 to 99"
            )),
        }
    }
}

/// Where the alias sends new executions: one version, or a stable one and a newer canary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Routing {
    pub stable: MachineVersion,
    /// The newer version and its share of new executions.
    pub canary: Option<(MachineVersion, CanaryPercent)>,
}

impl Routing {
    pub fn all_to(version: MachineVersion) -> Self {
        Self {
            stable: version,
            canary: None,
        }
    }

    /// The versions it routes to.
    pub fn versions(&self) -> impl Iterator<Item = MachineVersion> + '_ {
        std::iter::once(self.stable).chain(self.canary.map(|(version, _)| version))
    }

    /// The alias's routing as Step Functions returns it (one or two versions, weights summing to
    /// 100); the newer of two is the canary.
    fn of_sdk(items: &[RoutingConfigurationListItem]) -> anyhow::Result<Self> {
        let mut routes: Vec<(MachineVersion, i32)> = items
            .iter()
            .map(|item| {
                MachineVersion::of_arn(item.state_machine_version_arn())
                    .map(|version| (version, item.weight()))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "the alias routes to `{}`, which is not a version ARN",
                            item.state_machine_version_arn()
                        )
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        routes.sort();
        match routes.as_slice() {
            [(version, _)] => Ok(Self::all_to(*version)),
            [(stable, _), (canary, weight)] => {
                let share = u8::try_from(*weight)
                    .ok()
                    .and_then(CanaryPercent::new)
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "the alias sends {weight}% to version {canary}; a canary takes 1 to 99%"
                        )
                    })?;
                Ok(Self {
                    stable: *stable,
                    canary: Some((*canary, share)),
                })
            }
            _ => anyhow::bail!(
                "the alias routes to {} versions; Step Functions routes to one or two",
                routes.len()
            ),
        }
    }

    fn to_sdk(self, machine_arn: &str) -> Vec<RoutingConfigurationListItem> {
        let item = |version: MachineVersion, weight: u8| {
            RoutingConfigurationListItem::builder()
                .state_machine_version_arn(version.arn(machine_arn))
                .weight(i32::from(weight))
                .build()
                .expect("both fields are set")
        };
        match self.canary {
            None => vec![item(self.stable, 100)],
            Some((canary, pct)) => {
                vec![item(self.stable, 100 - pct.get()), item(canary, pct.get())]
            }
        }
    }
}

impl fmt::Display for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.canary {
            None => write!(f, "version {} (100%)", self.stable),
            Some((canary, pct)) => write!(
                f,
                "version {} ({}%), canary version {canary} ({}%)",
                self.stable,
                100 - pct.get(),
                pct.get()
            ),
        }
    }
}

/// The alias's routing; `None` when the alias (or the state machine) does not exist.
pub async fn read_routing(aws: &AwsClients, alias_arn: &str) -> anyhow::Result<Option<Routing>> {
    match aws
        .sfn
        .describe_state_machine_alias()
        .state_machine_alias_arn(alias_arn)
        .send()
        .await
    {
        Ok(alias) => Routing::of_sdk(alias.routing_configuration()).map(Some),
        Err(err)
            if err.as_service_error().is_some_and(|e| {
                e.is_resource_not_found() || e.code() == Some("StateMachineDoesNotExist")
            }) =>
        {
            Ok(None)
        }
        Err(err) => Err(aws.fail(&err, "DescribeStateMachineAlias")),
    }
}

/// Points the alias `name` of `machine_arn` at `routing`, creating it when `create`.
pub async fn route_alias(
    aws: &AwsClients,
    machine_arn: &str,
    name: &str,
    create: bool,
    routing: Routing,
) -> anyhow::Result<()> {
    let routes = Some(routing.to_sdk(machine_arn));
    if create {
        aws.sfn
            .create_state_machine_alias()
            .name(name)
            .set_routing_configuration(routes)
            .send()
            .await
            .map_err(|err| aws.fail(&err, "CreateStateMachineAlias"))?;
    } else {
        aws.sfn
            .update_state_machine_alias()
            .state_machine_alias_arn(format!("{machine_arn}:{name}"))
            .set_routing_configuration(routes)
            .send()
            .await
            .map_err(|err| aws.fail(&err, "UpdateStateMachineAlias"))?;
    }
    Ok(())
}

/// One published version: what `releases` lists.
#[derive(Clone, Debug, Serialize)]
pub struct Release {
    pub version: MachineVersion,
    pub arn: String,
    /// The commit it was deployed from (the version's description, `abc1234` or `abc1234-dirty`).
    pub commit: String,
    /// When it was published, RFC 3339.
    pub published: String,
    /// SHA-256 of its definition, hex.
    pub definition_sha256: String,
    /// The function version every Task invokes; `None` for a definition naming the alias (a
    /// version published before releases pinned one).
    pub function_version: Option<FunctionVersion>,
    #[serde(skip)]
    pub definition: String,
}

/// DescribeStateMachine of one version; `None` when it does not exist (deleted, or never
/// published).
pub async fn read_release(
    aws: &AwsClients,
    config: &DeployConfig,
    machine_arn: &str,
    version: MachineVersion,
) -> anyhow::Result<Option<Release>> {
    let arn = version.arn(machine_arn);
    let Some(described) = state_machine::describe(aws, &arn).await? else {
        return Ok(None);
    };
    let definition = described.definition().to_owned();
    Ok(Some(Release {
        version,
        arn,
        commit: described.description().unwrap_or("unknown").to_owned(),
        published: described
            .creation_date()
            .fmt(aws_sdk_sfn::primitives::DateTimeFormat::DateTime)
            .unwrap_or_default(),
        definition_sha256: Sha256::digest(definition.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect(),
        function_version: FunctionVersion::pinned_in(&definition, &config.function_arn()),
        definition,
    }))
}

/// The published versions, newest first; a warning instead when the endpoint does not implement
/// ListStateMachineVersions (moto).
pub async fn list_versions(
    aws: &AwsClients,
    machine_arn: &str,
) -> anyhow::Result<Result<Vec<MachineVersion>, String>> {
    let mut versions = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .sfn
            .list_state_machine_versions()
            .state_machine_arn(machine_arn)
            .set_next_token(token)
            .customize()
            .config_override(
                aws_sdk_sfn::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                if aws.custom_endpoint && matches!(status, Some(500 | 501 | 404)) {
                    return Ok(Err(format!(
                        "the endpoint {} does not implement ListStateMachineVersions (HTTP {})",
                        aws.endpoint,
                        status.unwrap_or_default()
                    )));
                }
                return Err(aws.fail(&err, "ListStateMachineVersions"));
            }
        };
        versions.extend(
            page.state_machine_versions()
                .iter()
                .filter_map(|v| MachineVersion::of_arn(v.state_machine_version_arn())),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    versions.sort_by(|a, b| b.cmp(a));
    Ok(Ok(versions))
}

/// An execution still running, and the version it runs on (`None` when the endpoint does not
/// say: moto).
#[derive(Clone, Debug, Serialize)]
pub struct RunningExecution {
    pub name: String,
    pub version: Option<MachineVersion>,
}

/// Every running execution of the state machine, with its version.
pub async fn running_executions(
    aws: &AwsClients,
    machine_arn: &str,
) -> anyhow::Result<Vec<RunningExecution>> {
    let mut running = Vec::new();
    let mut pages = aws
        .sfn
        .list_executions()
        .state_machine_arn(machine_arn)
        .status_filter(ExecutionStatus::Running)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| aws.fail(&err, "ListExecutions"))?;
        running.extend(page.executions().iter().map(|e| {
            RunningExecution {
                name: e.name().to_owned(),
                version: e
                    .state_machine_version_arn()
                    .and_then(MachineVersion::of_arn),
            }
        }));
    }
    Ok(running)
}

/// What to say about running executions before the alias moves: they keep their version.
pub fn running_note(alias: &str, running: &[RunningExecution]) -> Option<String> {
    if running.is_empty() {
        return None;
    }
    let mut names: Vec<String> = running
        .iter()
        .take(10)
        .map(|e| match e.version {
            Some(version) => format!("{} (version {version})", e.name),
            None => e.name.clone(),
        })
        .collect();
    if running.len() > 10 {
        names.push(format!("and {} more", running.len() - 10));
    }
    Some(format!(
        "{} execution(s) running: {}. Moving the alias `{alias}` changes only where new executions start; each of these finishes on the version, definition and function code it started with",
        running.len(),
        names.join(", ")
    ))
}

/// The versions to delete: all but the newest `keep`, the ones `routing` sends executions to, and
/// the ones an execution still runs on. Versions of running executions the endpoint does not name
/// keep every version.
pub fn prunable(
    versions: &[MachineVersion],
    keep: usize,
    routing: Routing,
    running: &[RunningExecution],
) -> Vec<MachineVersion> {
    if running.iter().any(|e| e.version.is_none()) {
        return Vec::new();
    }
    let protected: BTreeSet<MachineVersion> = routing
        .versions()
        .chain(running.iter().filter_map(|e| e.version))
        .collect();
    let mut newest_first = versions.to_vec();
    newest_first.sort_by(|a, b| b.cmp(a));
    newest_first
        .into_iter()
        .skip(keep)
        .filter(|version| !protected.contains(version))
        .collect()
}

/// Deletes `versions` of the state machine.
pub async fn delete_versions(
    aws: &AwsClients,
    machine_arn: &str,
    versions: &[MachineVersion],
) -> anyhow::Result<()> {
    for version in versions {
        aws.sfn
            .delete_state_machine_version()
            .state_machine_version_arn(version.arn(machine_arn))
            .send()
            .await
            .map_err(|err| aws.fail(&err, "DeleteStateMachineVersion"))?;
    }
    Ok(())
}

/// List the state machine's releases: version, commit, date, definition hash, the function
/// version it runs, and where the alias routes.
#[derive(clap::Args, Debug)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// What `releases` prints.
#[derive(Debug, Serialize)]
pub struct ReleaseList {
    pub state_machine: String,
    pub alias_arn: String,
    /// Where the alias sends new executions; `None` before the first deploy.
    pub routing: Option<Routing>,
    /// Newest first.
    pub releases: Vec<Release>,
}

pub async fn releases_main(args: ReleasesArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let (name, _) = config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;
    let aws = AwsClients::connect(&args.aws, &config).await;
    let list = release_list(&aws, &config, name).await?;
    match args.output.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&list)?),
        OutputFormat::Text => {
            println!(
                "releases of {} (alias {})",
                list.state_machine, list.alias_arn
            );
            match &list.routing {
                Some(routing) => println!("  new executions start on {routing}"),
                None => println!("  no alias yet: deploy creates it"),
            }
            println!(
                "  {:>7}  {:<20}  {:<14}  {:<12}  {:>8}  routed",
                "version", "published", "commit", "definition", "function"
            );
            for release in &list.releases {
                let routed = match list.routing {
                    Some(r) if r.stable == release.version => match r.canary {
                        Some((_, pct)) => format!("{}%", 100 - pct.get()),
                        None => "100%".into(),
                    },
                    Some(Routing {
                        canary: Some((canary, pct)),
                        ..
                    }) if canary == release.version => format!("{}% (canary)", pct.get()),
                    _ => String::new(),
                };
                println!(
                    "  {:>7}  {:<20}  {:<14}  {:<12}  {:>8}  {routed}",
                    release.version,
                    release.published,
                    release.commit,
                    &release.definition_sha256[..12],
                    release
                        .function_version
                        .map_or("alias".into(), |v| v.to_string()),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn release_list(
    aws: &AwsClients,
    config: &DeployConfig,
    name: &StateMachineName,
) -> anyhow::Result<ReleaseList> {
    let machine_arn = config.state_machine_arn(name);
    let alias_arn = config.state_machine_alias_arn(name);
    let routing = read_routing(aws, &alias_arn).await?;
    let versions = list_versions(aws, &machine_arn)
        .await?
        .map_err(|warning| anyhow::anyhow!("{warning}: cannot list the releases"))?;
    let mut releases = Vec::new();
    for version in versions {
        if let Some(release) = read_release(aws, config, &machine_arn, version).await? {
            releases.push(release);
        }
    }
    Ok(ReleaseList {
        state_machine: name.to_string(),
        alias_arn,
        routing,
        releases,
    })
}

/// Route the state machine's alias (and the function's) back to an earlier release: new
/// executions start on it; running ones finish on theirs.
#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The state machine version to go back to (default: the newest one older than the version
    /// the alias routes to).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<u64>,
    /// Say what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// What `rollback` and `deploy --promote` did (or, with `--dry-run`, would do).
#[derive(Debug, Serialize)]
pub struct RoutingChange {
    pub state_machine: String,
    pub dry_run: bool,
    pub alias_arn: String,
    pub from: Routing,
    pub to: Routing,
    /// The function version the function's alias points at afterwards.
    pub function_version: Option<FunctionVersion>,
    pub running_executions: Vec<RunningExecution>,
}

impl RoutingChange {
    /// Prints it as `command` (`rollback`, `promote`) did it.
    pub fn print(&self, format: OutputFormat, command: &str) -> anyhow::Result<()> {
        match format {
            OutputFormat::Json => println!("{}", serde_json::to_string_pretty(self)?),
            OutputFormat::Text => {
                let mode = if self.dry_run {
                    " (dry run: nothing was changed)"
                } else {
                    ""
                };
                println!("{command} {}{mode}", self.state_machine);
                println!("  alias:            {}", self.alias_arn);
                println!("  was:              {}", self.from);
                println!("  now:              {}", self.to);
                if let Some(version) = self.function_version {
                    println!("  function version: {version}");
                }
                println!(
                    "  running:          {} execution(s), each on the version it started on",
                    self.running_executions.len()
                );
            }
        }
        Ok(())
    }
}

pub async fn rollback_main(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let (name, _) = config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;
    let aws = AwsClients::connect(&args.aws, &config).await;
    let machine_arn = config.state_machine_arn(name);
    let alias_arn = config.state_machine_alias_arn(name);
    let Some(from) = read_routing(&aws, &alias_arn).await? else {
        anyhow::bail!(
            "{alias_arn} does not exist: nothing was deployed to roll back; run `cm-etl deploy --state-machine {name}`"
        );
    };
    let target = match args.to {
        Some(number) => MachineVersion(number),
        None => {
            let versions = list_versions(&aws, &machine_arn)
                .await?
                .map_err(|warning| {
                    anyhow::anyhow!("{warning}: name the version to go back to with --to VERSION")
                })?;
            versions
                .into_iter()
                .find(|version| *version < from.stable)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "version {} is the oldest release of {name}: there is none to roll back to (`cm-etl releases` lists them)",
                        from.stable
                    )
                })?
        }
    };
    let Some(release) = read_release(&aws, &config, &machine_arn, target).await? else {
        anyhow::bail!(
            "{name} has no version {target}; `cm-etl releases --state-machine {name}` lists the versions there are"
        );
    };
    let to = Routing::all_to(target);
    let change = move_alias(
        &aws,
        &config,
        name,
        from,
        to,
        release.function_version,
        args.dry_run,
    )
    .await?;
    change.print(args.output.format, "rollback")?;
    Ok(ExitCode::SUCCESS)
}

/// `deploy --promote`: the canary takes every new execution.
pub async fn promote(
    aws: &AwsClients,
    config: &DeployConfig,
    name: &StateMachineName,
    dry_run: bool,
) -> anyhow::Result<RoutingChange> {
    let alias_arn = config.state_machine_alias_arn(name);
    let from = read_routing(aws, &alias_arn).await?;
    let Some((from, (canary, _))) = from.and_then(|r| Some((r, r.canary?))) else {
        anyhow::bail!(
            "{alias_arn} has no canary to promote; `cm-etl deploy --canary PCT` starts one"
        );
    };
    let machine_arn = config.state_machine_arn(name);
    let release = read_release(aws, config, &machine_arn, canary)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the canary version {canary} no longer exists"))?;
    move_alias(
        aws,
        config,
        name,
        from,
        Routing::all_to(canary),
        release.function_version,
        dry_run,
    )
    .await
}

/// Routes the state machine's alias from `from` to `to` and the function's alias to
/// `function_version`, after saying which executions keep running on their version.
async fn move_alias(
    aws: &AwsClients,
    config: &DeployConfig,
    name: &StateMachineName,
    from: Routing,
    to: Routing,
    function_version: Option<FunctionVersion>,
    dry_run: bool,
) -> anyhow::Result<RoutingChange> {
    let machine_arn = config.state_machine_arn(name);
    let alias = &config.state_machines[name].releases.alias;
    let running = running_executions(aws, &machine_arn).await?;
    if let Some(note) = running_note(alias.as_str(), &running) {
        eprintln!("note: {note}");
    }
    if !dry_run {
        route_alias(aws, &machine_arn, alias.as_str(), false, to).await?;
        if let Some(version) = function_version {
            super::function::point_alias(
                aws,
                &super::function::DesiredFunction::from_config(config),
                false,
                &version.to_string(),
            )
            .await?;
        }
    }
    Ok(RoutingChange {
        state_machine: name.to_string(),
        dry_run,
        alias_arn: config.state_machine_alias_arn(name),
        from,
        to,
        function_version,
        running_executions: running,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: u64) -> MachineVersion {
        MachineVersion(n)
    }

    fn running(version: Option<u64>) -> RunningExecution {
        RunningExecution {
            name: "exec".into(),
            version: version.map(MachineVersion),
        }
    }

    #[test]
    fn a_version_is_read_from_its_arn_and_an_alias_is_not_one() {
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
        assert_eq!(
            MachineVersion::of_arn(&format!("{machine}:12")),
            Some(v(12))
        );
        assert_eq!(MachineVersion::of_arn(&format!("{machine}:live")), None);
        assert_eq!(v(3).arn(machine), format!("{machine}:3"));
    }

    #[test]
    fn a_canary_share_is_1_to_99_percent() {
        assert_eq!("10".parse::<CanaryPercent>().unwrap().get(), 10);
        assert_eq!("25%".parse::<CanaryPercent>().unwrap().get(), 25);
        for bad in ["0", "100", "-5", "ten", "12.5"] {
            let err = bad.parse::<CanaryPercent>().unwrap_err();
            assert!(err.contains("1 to 99"), "{err}");
        }
    }

    #[test]
    fn a_routing_round_trips_and_the_newer_of_two_versions_is_the_canary() {
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
        let canary = Routing {
            stable: v(3),
            canary: Some((v(4), CanaryPercent(10))),
        };
        let mut items = canary.to_sdk(machine);
        assert_eq!(
            items.iter().map(|i| i.weight()).collect::<Vec<_>>(),
            [90, 10]
        );
        items.reverse();
        assert_eq!(Routing::of_sdk(&items).unwrap(), canary);
        assert_eq!(
            canary.to_string(),
            "version 3 (90%), canary version 4 (10%)"
        );
        let all = Routing::all_to(v(5));
        assert_eq!(Routing::of_sdk(&all.to_sdk(machine)).unwrap(), all);
        assert_eq!(all.to_string(), "version 5 (100%)");
    }

    #[test]
    fn pruning_keeps_the_newest_the_routed_and_the_running_versions() {
        let versions: Vec<MachineVersion> = (1..=10).rev().map(v).collect();
        let routing = Routing {
            stable: v(2),
            canary: Some((v(10), CanaryPercent(5))),
        };
        let pruned = prunable(&versions, 3, routing, &[running(Some(4))]);
        assert_eq!(pruned, vec![v(7), v(6), v(5), v(3), v(1)]);
        assert!(prunable(&versions, 10, routing, &[]).is_empty());
        // An execution whose version the endpoint does not say could be on any of them.
        assert!(prunable(&versions, 3, routing, &[running(None)]).is_empty());
    }

    #[test]
    fn running_executions_are_named_with_their_version_at_most_ten() {
        assert_eq!(running_note("live", &[]), None);
        let many: Vec<RunningExecution> = (0..12).map(|_| running(Some(3))).collect();
        let note = running_note("live", &many).unwrap();
        assert!(
            note.starts_with("12 execution(s) running: exec (version 3)"),
            "{note}"
        );
        assert!(note.contains("and 2 more"), "{note}");
        assert!(note.contains("finishes on the version"), "{note}");
    }
}
