//! `cm-etl run` as the tests of `run` start it: with arguments, on a definition file, or on a
//! [`Deployment`] (an edited deploy.toml and the pipeline synth renders for it); what every
//! successful pipeline run must show; the permission bits of what a run leaves in a directory.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

/// `cm-etl run --definition FILE` with a small generated warehouse and a JSON report.
pub fn run_definition(definition: &Path) -> Output {
    let definition = definition.to_str().unwrap();
    cm_etl_run(&[
        "--keys",
        "10",
        "--output",
        "json",
        "--definition",
        definition,
    ])
}

/// `cm-etl run` with `args`, from the repository root.
pub fn cm_etl_run(args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .args(args)
        .output()
        .unwrap()
}

/// Everything a command printed, stdout then stderr.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// deploy.toml with `[chunking] max_keys` set to `max_keys` (and any other `edit`), and the
/// pipeline `synth` renders for it, written in `dir`.
pub struct Deployment {
    pub config: PathBuf,
    pub definition: PathBuf,
    pub bucket: String,
    pub prefix: String,
    /// `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:`, what `run` names its execution under.
    pub execution_arn_prefix: String,
}

impl Deployment {
    /// The chunk store folder of the execution `name`, under the prefix:
    /// `<name>-<digest of its ARN>`, as GetTask02Chunks names it.
    pub fn execution_folder(&self, name: &str) -> String {
        let arn =
            etl_lambda::contract::ExecutionArn::new(format!("{}{name}", self.execution_arn_prefix))
                .unwrap();
        format!("{name}-{}", arn.digest())
    }
}

pub fn deployment(dir: &Path, max_keys: u32, edit: impl FnOnce(&mut toml::Table)) -> Deployment {
    let committed = std::fs::read_to_string(super::repo().join("deploy.toml")).unwrap();
    let mut table: toml::Table = committed.parse().unwrap();
    table["chunking"]["max_keys"] = toml::Value::Integer(max_keys.into());
    edit(&mut table);
    let config = dir.join("deploy.toml");
    std::fs::write(&config, toml::to_string(&table).unwrap()).unwrap();
    let synth = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(super::repo())
        .args(["synth", "--stdout", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let definition = dir.join("definition.json");
    std::fs::write(&definition, &synth.stdout).unwrap();
    let store = &table["chunk_store"];
    let machine = table["state_machines"]
        .as_table()
        .unwrap()
        .keys()
        .next()
        .unwrap();
    let execution_arn_prefix = format!(
        "arn:aws:states:{}:{}:execution:{machine}:",
        table["region"].as_str().unwrap(),
        table["account"].as_str().unwrap()
    );
    Deployment {
        config,
        definition,
        execution_arn_prefix,
        bucket: store["bucket"].as_str().unwrap().to_owned(),
        prefix: store
            .get("prefix")
            .and_then(|p| p.as_str())
            .unwrap_or("")
            .to_owned(),
    }
}

/// `cm-etl run` of `deployment` with `args`: its exit code, JSON report (when it printed one)
/// and stderr.
pub fn run_deployed(deployment: &Deployment, args: &[&str]) -> (Option<i32>, Value, String) {
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(super::repo())
        .arg("run")
        .arg("--config")
        .arg(&deployment.config)
        .arg("--definition")
        .arg(&deployment.definition)
        .args(args)
        .args(["--output", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), report, stderr)
}

/// What every successful pipeline run must show: every state small, every row accounted for, and
/// one Map Run in which every chunk succeeded, each in a short history of its own.
pub fn assert_migrated_through_the_map_run(report: &Value) -> u64 {
    assert_eq!(report["status"], json!("SUCCEEDED"), "{report:#}");
    let n = |k: &str| report[k].as_u64().unwrap();
    assert_eq!(n("migrated_rows") + n("rejected_rows"), n("source_rows"));
    for (state, bytes) in report["largest_payload_bytes"].as_object().unwrap() {
        assert!(bytes.as_u64().unwrap() <= 2048, "{state}: {bytes} B");
    }
    let chunks = report["output"]["task02_chunks"]["num_chunks"]
        .as_u64()
        .unwrap();
    let runs = report["map_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{report:#}");
    let run = &runs[0];
    assert_eq!(run["state"], json!("ProcessTask02Chunks"));
    assert_eq!(
        (&run["items_total"], &run["succeeded"], &run["failed"]),
        (&json!(chunks), &json!(chunks), &json!(0)),
        "{run:#}"
    );
    assert_eq!(run["results_written"], json!(chunks));
    assert_eq!(run["largest_child_history_events"], json!(7));
    // The parent's history is the same size however many chunks: 20 events.
    assert_eq!(n("history_events"), 20, "{report:#}");
    chunks
}

/// Every entry under `dir` (at any depth) with its permission bits; entries that vanish while
/// being read are skipped (the run creates and removes files all the time).
pub fn modes_under(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let is_dir = metadata.is_dir();
        found.push((path.clone(), is_dir, metadata.permissions().mode() & 0o777));
        if is_dir {
            found.extend(modes_under(&path));
        }
    }
    found
}
