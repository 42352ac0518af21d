//! `run`: executes the committed definition locally with the real handlers, under AWS's limits.
//!
//! - [`load`]: a definition's JSON to the `asl::StateMachine` the engine executes (the deprecated
//!   shapes upgraded, synth's checks run, what the runner cannot execute reported as unsupported).
//! - [`engine`]: the interpreter (virtual time, Retry/Catch, Map concurrency, AWS's quotas). It
//!   evaluates paths, payload templates, intrinsic functions and Choice rules with `asl::eval`.
//! - [`map_run`]: a Distributed Map's Map Run (ItemReader, ItemBatcher, child executions,
//!   tolerated failures, ResultWriter) on plain values the engine evaluates from the Map.
//! - [`function`]: the Lambda function emulated locally (functions, versions and aliases, execution
//!   environments with their own `/tmp`, invocations under the concurrency quota).
//! - [`handlers`]: the real Task 02 handlers as an in-process Lambda function.
//! - [`report`]: what a person (or a script, `--output json`) sees at the end.
//!
//! Invariant: nothing here calls AWS. S3 (the chunk store, the Map's ItemReader and ResultWriter)
//! is a private local directory, or with `--s3-endpoint-url` an S3-compatible endpoint on this
//! machine. The engine executes `asl`'s model, the types synth renders and `deploy` ships: there
//! is no second reading of ASL here.

pub mod engine;
pub mod function;
pub mod handlers;
pub mod load;
pub mod map_run;
pub mod report;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use chrono::NaiveDate;
use etl_lambda::contract::{DateRange, ExecutionArn, ExecutionName, PipelineInput};
use etl_lambda::warehouse::database_url;
use etl_lambda::{ChunkStores, ObjectError, ObjectStore, RequestCounts, SampleData, Warehouse};

use crate::aws::AwsArgs;
use crate::config::{ConfigArgs, DeployConfig};
use crate::output::OutputArgs;
use crate::synth::Bounds;
use engine::{Engine, ExecutionSpec};
use function::Functions;
use report::{RunProgress, RunReport};

/// The generator's seed: the same flags always give the same rows.
const SAMPLE_SEED: u64 = 2024;

/// Run the committed definition locally: a fresh SQLite warehouse seeded with generated Task 02
/// data, deploy.toml's chunk store bucket in a private local directory standing in for S3, and
/// the real handlers invoked in process as Lambda would invoke them (one /tmp per execution
/// environment, 6 MB responses, 256 KiB state payloads, 25,000 history events per execution;
/// Retry and Wait on virtual time).
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The ASL definition to execute.
    #[arg(long, default_value = crate::synth::DEFINITION_PATH)]
    pub definition: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Distinct (visit_date, ssn) keys to generate: 1 to 100,000,000, and at most 100,000,000
    /// rows in all.
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=SampleData::MAX_KEYS))]
    pub keys: u64,
    /// Source rows per key: 1 to 1,000.
    #[arg(long, default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=SampleData::MAX_ROWS_PER_KEY as i64))]
    pub rows_per_key: u32,
    /// Share of generated rows that are bad (bad SSN, missing date) and must be rejected.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub bad_rows_percent: u8,
    /// Use this existing warehouse (sqlite://PATH or postgres://...) instead of generating one.
    /// PostgreSQL is reached over verified TLS (sslrootcert=PATH for a private CA); weaker
    /// sslmodes need cm_etl_insecure_transport=unverified or =plaintext in the URL.
    #[arg(long, conflicts_with_all = ["keys", "rows_per_key", "bad_rows_percent"])]
    pub database_url: Option<String>,
    /// The directory standing in for S3: bucket `B` is `DIR/B/`, so the chunks land in
    /// `DIR/<bucket>/<prefix><execution>-<arn digest>/` (default: a temporary directory, removed
    /// afterwards).
    #[arg(long)]
    pub chunk_dir: Option<PathBuf>,
    /// Keep the execution's chunks after it succeeds (by default the pipeline's DeleteTask02Chunks
    /// deletes them), to look at them in --chunk-dir or at --s3-endpoint-url.
    #[arg(long)]
    pub keep_chunks: bool,
    /// Use this S3-compatible endpoint on this machine (a moto server, say) instead of a local
    /// directory; credentials come from the environment and deploy.toml's bucket must exist.
    #[arg(long, conflicts_with = "chunk_dir")]
    pub s3_endpoint_url: Option<String>,
    /// First visit date to migrate (default: the generated data's first date).
    #[arg(long, requires = "date_to")]
    pub date_from: Option<NaiveDate>,
    /// Last visit date to migrate.
    #[arg(long, requires = "date_from")]
    pub date_to: Option<NaiveDate>,
    /// The execution input as JSON, e.g. '{"date_range": {"from": "2024-01-01", "to": "2024-12-31"}}'.
    #[arg(long, conflicts_with_all = ["date_from", "date_to"])]
    pub input: Option<String>,
    /// The execution's name (`$$.Execution.Name`; with the ARN it gives, it keys the chunk store).
    #[arg(long)]
    pub execution_name: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub async fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Listening before anything is created: a signal at any point after this removes it all.
    let mut stop = StopSignals::listen()?;
    let format = args.output.format;
    let checked = CheckedRun::new(args)?;
    let workspace = create_workspace()?;
    let report = tokio::select! {
        report = checked.execute(workspace.path()) => report?,
        signal = stop.next() => abandon(workspace, signal),
    };
    drop(workspace);
    report.print(format)?;
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Does everything `run` does except printing: the report of one local execution (benchmarks
/// call this in process).
pub async fn run(args: RunArgs) -> anyhow::Result<RunReport> {
    let checked = CheckedRun::new(args)?;
    let workspace = create_workspace()?;
    checked.execute(workspace.path()).await
}

/// The run's private temporary directory (0700 from its creation): the generated warehouse, the
/// local chunk store and each simulated Lambda environment's `/tmp`, all of which may hold SSNs.
fn create_workspace() -> anyhow::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("cm-etl-run-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("cannot create a temporary directory for the local run; check TMPDIR")
}

/// SIGINT (Ctrl-C) and SIGTERM, which abandon the local execution.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).context("cannot listen for SIGINT and SIGTERM");
        Ok(Self {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
        })
    }

    /// The next signal: its name and the exit status it gives (128 + its number, as a shell does).
    async fn next(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.interrupt.recv() => ("SIGINT", 130),
            _ = self.terminate.recv() => ("SIGTERM", 143),
        }
    }
}

/// Abandons the execution on a signal: removes the workspace and exits at once. Returning would
/// wait for the blocking threads still at work (seeding millions of rows is one long SQLite
/// call), which is exactly what the signal asked to stop.
fn abandon(workspace: tempfile::TempDir, (signal, status): (&'static str, i32)) -> ! {
    let path = workspace.keep();
    // Renamed first, so a thread still writing (a SQLite page, a chunk) cannot create anything at
    // the old path any more (the local store never re-creates a bucket); then removed.
    let doomed = path.with_extension("removing");
    let removed = match std::fs::rename(&path, &doomed) {
        Ok(()) => std::fs::remove_dir_all(&doomed),
        Err(_) => std::fs::remove_dir_all(&path),
    };
    match removed {
        Ok(()) => eprintln!(
            "stopped by {signal}: the local execution was abandoned and its temporary files removed"
        ),
        Err(error) => eprintln!(
            "stopped by {signal}: the local execution was abandoned, but its temporary files in {} could not be removed ({error}); remove them by hand",
            path.display()
        ),
    }
    std::process::exit(status)
}

/// Where the local run's warehouse is.
enum WarehouseSource {
    /// `--database-url`: an existing warehouse.
    Url(String),
    /// Generated into the workspace.
    Generated(SampleData),
}

/// A run whose every argument has been checked and nothing created yet: a refused run leaves no
/// file behind (not even the `sqlite://` file of `--database-url`).
struct CheckedRun {
    args: RunArgs,
    config: DeployConfig,
    machine: asl::StateMachine,
    /// What synth proved of the pipeline, when the definition is the pipeline's: the run must
    /// stay within it.
    proven: Option<Bounds>,
    execution: ExecutionName,
    spec: ExecutionSpec,
    warehouse: WarehouseSource,
}

impl CheckedRun {
    fn new(args: RunArgs) -> anyhow::Result<Self> {
        let config = args.config.load()?;
        let machine = load_committed(&args.definition)?;
        let execution = match &args.execution_name {
            Some(name) => ExecutionName::new(name.clone())
                .map_err(|e| anyhow::anyhow!("--execution-name: {e}"))?,
            None => default_execution_name(),
        };
        if let Some(url) = &args.s3_endpoint_url {
            refuse_remote_endpoint(url)?;
        }
        let (warehouse, input) = match (&args.database_url, explicit_input(&args)?) {
            (Some(url), Some(input)) => (WarehouseSource::Url(url.clone()), input),
            (Some(_), None) => anyhow::bail!(
                "with --database-url, say which visits to migrate: --date-from YYYY-MM-DD --date-to YYYY-MM-DD, or --input JSON"
            ),
            (None, input) => {
                let sample = SampleData {
                    keys: args.keys,
                    rows_per_key: args.rows_per_key,
                    bad_rows_percent: args.bad_rows_percent,
                    seed: SAMPLE_SEED,
                    start_date: NaiveDate::from_ymd_opt(2024, 1, 1).expect("a valid date"),
                };
                sample.check().map_err(|rule| {
                    anyhow::anyhow!(
                        "--keys {} --rows-per-key {}: {rule}",
                        args.keys,
                        args.rows_per_key
                    )
                })?;
                let input = input.unwrap_or(PipelineInput {
                    date_range: sample.date_range(),
                });
                (WarehouseSource::Generated(sample), input)
            }
        };
        let (state_machine, sm_config) = config
            .state_machines
            .iter()
            .next()
            .context("deploy.toml defines no [state_machines.NAME] table")?;
        let spec = ExecutionSpec {
            region: config.region.to_string(),
            account: config.account.to_string(),
            state_machine: state_machine.to_string(),
            name: execution.to_string(),
            role_arn: sm_config.role_arn.to_string(),
            input: serde_json::to_value(&input)?,
        };
        let pipeline = pipeline::definition(&config.pipeline_settings(state_machine));
        let proven = if asl::render(&pipeline) == asl::render(&machine) {
            Some(Bounds::of(&machine, pipeline::bounds::payload_bounds())?)
        } else {
            None
        };
        Ok(Self {
            args,
            config,
            machine,
            proven,
            execution,
            spec,
            warehouse,
        })
    }

    /// Executes the run with its temporary files in `workspace`.
    async fn execute(self, workspace: &Path) -> anyhow::Result<RunReport> {
        let wall = Instant::now();
        let Self {
            args,
            config,
            machine,
            proven,
            execution,
            spec,
            warehouse: source,
        } = self;
        // S3's stand-in is ready (or refused) before anything is generated.
        let objects = open_object_store(&args, &config, &execution, &spec, workspace).await?;
        let progress = RunProgress::new(args.output.format);
        let database_url = match &source {
            WarehouseSource::Url(url) => url.clone(),
            WarehouseSource::Generated(_) => {
                format!("sqlite://{}", workspace.join("warehouse.sqlite3").display())
            }
        };
        let warehouse = Warehouse::connect(&database_url).await.with_context(|| {
            format!(
                "cannot open the warehouse {}",
                database_url::redacted(&database_url)
            )
        })?;
        if let WarehouseSource::Generated(sample) = &source {
            progress.phase(&format!("generating {} source rows", sample.source_rows()));
            warehouse.create_schema().await?;
            sample.load_into(&warehouse).await?;
        }

        let functions = Functions::builder()
            .tmp_root(workspace)
            .function(
                config.function.name.as_str(),
                handlers::InProcessHandlers::with_stores(
                    database_url,
                    config.chunk_store_uri(),
                    ChunkStores::on(objects.clone()),
                )
                .keeping_chunks(args.keep_chunks),
            )
            .build();
        progress.phase("executing");
        // The execution's S3 requests: those after the store was opened and checked.
        let (objects_used, s3_before) = (objects.clone(), objects.requests());
        let outcome = Engine::new(functions)
            .objects(objects)
            .observer(progress.observer())
            .execute(&machine, &spec)
            .await;
        progress.finish();
        // A failed execution may leave a warehouse that cannot be counted (no schema, say): the
        // report still shows the execution's error.
        let counts = match warehouse.counts().await {
            Ok(counts) => Some(counts),
            Err(err) => {
                eprintln!("warning: cannot count the warehouse's rows: {err}");
                None
            }
        };
        let s3 = objects_used.requests();
        let report = RunReport::new(&spec, outcome, counts, wall.elapsed()).priced(
            &config.function,
            RequestCounts {
                put_copy_post_list: s3.put_copy_post_list - s3_before.put_copy_post_list,
                get: s3.get - s3_before.get,
            },
            &config.prices,
        );
        let beyond = proven
            .map(|bounds| report.beyond(&bounds))
            .unwrap_or_default();
        anyhow::ensure!(
            beyond.is_empty(),
            "the run went past what synth proved of the pipeline ({}): the bounds in pipeline/src/bounds.rs or asl/src/bounds.rs are wrong",
            beyond.join("; ")
        );
        Ok(report)
    }
}

/// The object store standing in for S3, where deploy.toml's chunk store bucket is ready: a local
/// directory (`--chunk-dir`, or one in `workspace`) with the bucket created, or the endpoint of
/// `--s3-endpoint-url` (on this machine only), where the bucket must already exist.
async fn open_object_store(
    args: &RunArgs,
    config: &DeployConfig,
    execution: &ExecutionName,
    spec: &ExecutionSpec,
    workspace: &Path,
) -> anyhow::Result<ObjectStore> {
    let bucket = config.chunk_store.bucket.as_str();
    let Some(url) = &args.s3_endpoint_url else {
        let root = match &args.chunk_dir {
            Some(dir) => std::path::absolute(dir)?,
            None => workspace.join("objects"),
        };
        let objects = ObjectStore::local(&root);
        objects.create_local_bucket(bucket).await.with_context(|| {
            format!(
                "cannot create the local bucket {bucket} in {}",
                root.display()
            )
        })?;
        return Ok(objects);
    };
    let aws = AwsArgs {
        endpoint_url: Some(url.clone()),
        ..AwsArgs::default()
    };
    let objects = ObjectStore::s3(&crate::aws::sdk_config(&aws, config).await);
    // Listing this execution's own folder proves the bucket is there, and lists little.
    let arn = ExecutionArn::new(spec.execution_arn())
        .map_err(|error| anyhow::anyhow!("the execution's ARN: {error}"))?;
    let folder = config.chunk_store_uri().for_execution(execution, &arn);
    match objects.list(bucket, folder.prefix()).await {
        Ok(_) => Ok(objects),
        Err(ObjectError::NoSuchBucket { .. }) => anyhow::bail!(
            "the chunk store bucket `{bucket}` (deploy.toml [chunk_store]) does not exist at --s3-endpoint-url {url}: create it first (e.g. `aws --endpoint-url {url} s3 mb s3://{bucket}`)"
        ),
        Err(error) => anyhow::bail!(
            "cannot use the chunk store bucket `{bucket}` at --s3-endpoint-url {url} ({error}): is the endpoint running, and are AWS credentials set in the environment?"
        ),
    }
}

/// Chunks hold SSNs: `run` writes them to an endpoint on this machine only.
fn refuse_remote_endpoint(url: &str) -> anyhow::Result<()> {
    let authority = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    let host = authority.map(|authority| {
        let host_port = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        match host_port.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
            None => host_port.split(':').next().unwrap_or_default(),
        }
    });
    let loopback = host.is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    anyhow::ensure!(
        loopback,
        "--s3-endpoint-url {url}: only an endpoint on this machine is allowed (http://127.0.0.1:PORT, http://localhost:PORT or http://[::1]:PORT); `run` never sends chunks elsewhere"
    );
    Ok(())
}

/// Reads a definition file as the runner executes it (see [`load`]): the deprecated shapes
/// upgraded, parsed by the ASL model, checked by synth's checks.
pub fn load_committed(path: &Path) -> anyhow::Result<asl::StateMachine> {
    let text = load::read_definition(path)?;
    load::from_json(&text).with_context(|| format!("cannot run {}", path.display()))
}

/// The execution input given by `--input` or `--date-from`/`--date-to`, checked against the
/// contract; `None` when neither was given.
fn explicit_input(args: &RunArgs) -> anyhow::Result<Option<PipelineInput>> {
    if let Some(text) = &args.input {
        let input = serde_json::from_str(text).with_context(|| {
            "--input is not a pipeline input; expected {\"date_range\": {\"from\": \"YYYY-MM-DD\", \"to\": \"YYYY-MM-DD\"}}"
        })?;
        return Ok(Some(input));
    }
    match (args.date_from, args.date_to) {
        (Some(from), Some(to)) => Ok(Some(PipelineInput {
            date_range: DateRange::new(from, to)
                .map_err(|e| anyhow::anyhow!("--date-from/--date-to: {e}"))?,
        })),
        _ => Ok(None),
    }
}

fn default_execution_name() -> ExecutionName {
    let name = format!("local-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"));
    ExecutionName::new(name.replace('.', "-")).expect("a timestamp is a valid execution name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_s3_endpoint_on_this_machine_is_accepted() {
        for local in [
            "http://127.0.0.1:5000",
            "http://localhost:5000/",
            "https://127.8.0.1",
            "http://[::1]:9000/path",
            "http://user@127.0.0.1:1",
        ] {
            assert!(refuse_remote_endpoint(local).is_ok(), "{local}");
        }
        for remote in [
            "http://10.0.0.5:5000",
            "https://s3.amazonaws.com",
            "http://127.0.0.1.example.com",
            "http://localhost@example.com",
            "127.0.0.1:5000",
            "ftp://127.0.0.1",
        ] {
            let error = refuse_remote_endpoint(remote).unwrap_err().to_string();
            assert!(
                error.contains("only an endpoint on this machine"),
                "{remote}: {error}"
            );
        }
    }

    #[test]
    fn default_execution_names_are_valid_and_distinct_per_millisecond() {
        let name = default_execution_name();
        assert!(name.as_str().starts_with("local-"));
    }
}
