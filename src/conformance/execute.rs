//! The command's one seam with the runner: [`run_case`] runs one case as the runner would run a
//! definition (`runner::load` into the `asl` model, the engine on virtual time, the stub functions, a private
//! local directory standing in for S3) and returns how it ended, or that the runner refuses a
//! feature the case uses.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use etl_lambda::ObjectStore;
use serde_json::Value;

use super::case::{Case, Outcome, Status};
use super::replay::Replay;
use crate::runner::engine::{Engine, ExecutionSpec, ExecutionStatus, InvocationTime};
use crate::runner::function::Functions;
use crate::runner::load::{self, DefinitionError};

/// The account and Region every recorded case ran in.
const ACCOUNT: &str = "111111111111";
const REGION: &str = "us-east-1";

/// How running one case went.
#[derive(Debug)]
pub enum CaseRun {
    /// The runner executed the definition: how it ended, and the payloads each stub function
    /// was sent (by function name, in call order).
    Ended(Outcome, BTreeMap<String, Vec<Value>>),
    /// The definition uses a feature the runner does not support (not a failure): which.
    Unsupported(String),
    /// The runner could not read a definition that AWS ran.
    Refused(String),
}

/// Runs `case` in the runner, in a private temporary directory removed afterwards, as an
/// execution started at `start_time` (now when `None`).
pub async fn run_case(case: &Case, start_time: Option<DateTime<Utc>>) -> anyhow::Result<CaseRun> {
    let machine = match load::from_json(&case.definition) {
        Ok(machine) => machine,
        Err(DefinitionError::Unsupported { feature, .. }) => {
            return Ok(CaseRun::Unsupported(feature));
        }
        Err(error) => return Ok(CaseRun::Refused(error.to_string())),
    };
    let workspace = tempfile::Builder::new()
        .prefix("cm-etl-conformance-")
        .tempdir()
        .context("cannot create a temporary directory for a case; check TMPDIR")?;
    let objects = ObjectStore::local(workspace.path().join("s3"));
    for bucket in &case.s3_buckets {
        objects
            .create_local_bucket(bucket)
            .await
            .with_context(|| format!("case {}: cannot create the bucket {bucket}", case.id))?;
    }
    for (bucket, key, body) in &case.s3_objects {
        objects
            .put(bucket, key, body.clone().into_bytes())
            .await
            .with_context(|| format!("case {}: cannot write s3://{bucket}/{key}", case.id))?;
    }
    let mut logs = BTreeMap::new();
    let functions = case
        .functions
        .iter()
        .fold(
            Functions::builder().tmp_root(workspace.path()),
            |functions, (name, recorded)| {
                let replay = Replay::new(recorded);
                logs.insert(name.clone(), replay.sent());
                functions.function(name, replay)
            },
        )
        .build();
    let spec = ExecutionSpec {
        region: REGION.into(),
        account: ACCOUNT.into(),
        state_machine: "conformance".into(),
        name: "conformance-case".into(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/conformance"),
        input: case.input.clone(),
    };
    let mut engine = Engine::new(functions).objects(objects);
    if let Some(at) = start_time {
        engine = engine.start_time(at);
    }
    let outcome = engine
        .invocation_time(InvocationTime::Fixed(case.invocation_time))
        .execute(&machine, &spec)
        .await;
    let error = outcome.error.as_ref();
    let sent = logs
        .into_iter()
        .map(|(name, log)| {
            (
                name,
                std::mem::take(&mut *log.lock().expect("sent log poisoned")),
            )
        })
        .collect();
    Ok(CaseRun::Ended(
        Outcome {
            status: match outcome.status {
                ExecutionStatus::Succeeded => Status::Succeeded,
                ExecutionStatus::Failed => Status::Failed,
                ExecutionStatus::TimedOut => Status::TimedOut,
            },
            output: outcome.output,
            error: error
                .map(|error| error.error.clone())
                .filter(|name| !name.is_empty()),
            cause: error.map(|error| Value::String(error.cause.clone())),
        },
        sent,
    ))
}
