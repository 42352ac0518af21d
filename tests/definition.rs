//! The committed definition, checked from outside: an independent ASL validator (asl-validator)
//! accepts it (and rejects a broken copy, so it is really looking), it has the shape the issue
//! promises, and `cm-etl synth` keeps it current (`--check` fails with a diff when it is stale).
//! (moto's interpreter, LocalStack's ASL parser, parses and runs it in the deploy tests.)
//!
//! statelint is not used: its newest release (3.1.0) predates a Distributed Map's `Label` and
//! `ReaderConfig.InputType`, and refuses the definition for them.
//!
//! The JSONata rendering (`synth --query-language jsonata --stdout`) is checked by the same
//! validator, which also refuses a JSONPath field in it.
//!
//! Needs `ASL_VALIDATOR`, which `bash tests/run.sh` installs and exports.
//!
//! Also: synth with a bad config fails and writes nothing; with a read-only `definitions/iam/` it
//! writes every file or none (run as `nobody` when the tests run as root, whom permissions do not
//! stop); `--stdout` into a closed pipe ends quietly and into `/dev/full` fails in one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const DEFINITION: &str = "definitions/etl_pipeline_phase2_ready.json";
const DIAGRAM: &str = "definitions/etl_pipeline_phase2_ready.md";
const BOUNDS: &str = "definitions/etl_pipeline_phase2_ready.bounds.json";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn committed() -> String {
    std::fs::read_to_string(repo(DEFINITION)).unwrap()
}

fn tool(variable: &str) -> String {
    std::env::var(variable)
        .unwrap_or_else(|_| panic!("{variable} is not set: run `bash tests/run.sh`"))
}

fn asl_validator(file: &Path) -> Output {
    Command::new(tool("ASL_VALIDATOR"))
        .arg("--json-path")
        .arg(file)
        .output()
        .expect("asl-validator runs")
}

fn show(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_validator_accepts_the_committed_definition() {
    let file = repo(DEFINITION);
    let output = asl_validator(&file);
    assert!(output.status.success(), "asl-validator: {}", show(&output));
}

#[test]
fn the_validator_accepts_the_jsonata_rendering_and_rejects_a_jsonpath_field_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let rendering = String::from_utf8(crate::support::jsonata_rendering()).unwrap();
    let parsed: Value = serde_json::from_str(&rendering).unwrap();
    assert_eq!(parsed["QueryLanguage"], "JSONata");
    assert!(!rendering.contains("\"Parameters\""), "{rendering}");
    let file = dir.path().join("jsonata.json");
    std::fs::write(&file, &rendering).unwrap();
    let output = asl_validator(&file);
    assert!(output.status.success(), "asl-validator: {}", show(&output));

    let mixed = rendering.replacen("\"Arguments\": {", "\"Parameters\": {", 1);
    let file = dir.path().join("mixed.json");
    std::fs::write(&file, mixed).unwrap();
    let output = asl_validator(&file);
    assert!(
        !output.status.success(),
        "asl-validator accepted Parameters in a JSONata state: {}",
        show(&output)
    );
}

#[test]
fn the_jsonata_rendering_is_printed_only() {
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["synth", "--query-language", "jsonata"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--stdout"),
        "{}",
        show(&output)
    );
}

#[test]
fn the_validator_rejects_a_broken_copy() {
    let dir = tempfile::tempdir().unwrap();
    // A Next to a state that does not exist: the mistake a hand edit makes.
    let broken = committed().replace("\"Next\": \"Task02Migrated\"", "\"Next\": \"Task02Done\"");
    assert_ne!(broken, committed());
    let file = dir.path().join("broken.json");
    std::fs::write(&file, broken).unwrap();
    let output = asl_validator(&file);
    assert!(
        !output.status.success(),
        "asl-validator accepted it: {}",
        show(&output)
    );

    // The deprecated Iterator next to ItemProcessor.
    let deprecated = committed().replace("\"ItemProcessor\": {", "\"Iterator\": {\"StartAt\": \"X\", \"States\": {\"X\": {\"Type\": \"Succeed\"}}},\n\"ItemProcessor\": {");
    let file = dir.path().join("deprecated.json");
    std::fs::write(&file, deprecated).unwrap();
    let output = asl_validator(&file);
    assert!(
        !output.status.success(),
        "asl-validator accepted Iterator + ItemProcessor: {}",
        show(&output)
    );
}

#[test]
fn the_map_is_distributed_reads_its_items_from_s3_and_selects_the_item() {
    let definition: Value = serde_json::from_str(&committed()).unwrap();
    let maps: Vec<&Value> = definition["States"]
        .as_object()
        .unwrap()
        .values()
        .filter(|state| state["Type"] == "Map")
        .collect();
    assert_eq!(maps.len(), 1);
    let map = maps[0];
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"]["Mode"],
        "DISTRIBUTED"
    );
    assert_eq!(
        map["ItemReader"]["Resource"],
        "arn:aws:states:::s3:getObject"
    );
    assert!(map.get("ItemsPath").is_none());
    assert!(map["ResultWriter"].is_object());
    assert_eq!(map["ItemSelector"]["chunk_id.$"], "$$.Map.Item.Value");
    assert!(map.get("Iterator").is_none());
    assert!(map.get("Parameters").is_none());
    assert_eq!(map["ResultPath"], Value::Null);
    assert!(!committed().contains("\"chunk_id.$\": \"$\""));
}

/// A scratch repository root with the committed files and a deploy.toml for `synth`.
fn scratch(deploy_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("definitions/iam")).unwrap();
    for entry in std::fs::read_dir(repo("definitions/iam")).unwrap() {
        let file = entry.unwrap().path();
        std::fs::copy(
            &file,
            dir.path()
                .join("definitions/iam")
                .join(file.file_name().unwrap()),
        )
        .unwrap();
    }
    for file in [DEFINITION, DIAGRAM, BOUNDS] {
        std::fs::copy(repo(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(dir.path().join("deploy.toml"), deploy_toml).unwrap();
    dir
}

fn synth(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cm-etl"))
        .arg("synth")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn synth_check_passes_on_the_committed_files_and_stdout_prints_them() {
    let deploy = std::fs::read_to_string(repo("deploy.toml")).unwrap();
    let dir = scratch(&deploy);
    let output = synth(dir.path(), &["--check"]);
    assert!(output.status.success(), "{}", show(&output));
    let output = synth(dir.path(), &["--stdout"]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed());
}

#[test]
fn synth_check_prints_a_diff_and_exits_1_when_stale_then_synth_rewrites() {
    let deploy = std::fs::read_to_string(repo("deploy.toml")).unwrap();
    let changed = deploy.replace("max_concurrency = 40", "max_concurrency = 41");
    assert_ne!(changed, deploy);
    let dir = scratch(&changed);

    let output = synth(dir.path(), &["--check"]);
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let diff = String::from_utf8_lossy(&output.stdout);
    assert!(diff.contains(&format!("--- a/{DEFINITION}")), "{diff}");
    assert!(diff.contains("-      \"MaxConcurrency\": 40,"), "{diff}");
    assert!(diff.contains("+      \"MaxConcurrency\": 41,"), "{diff}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("run `cargo run -- synth`"));
    // --check rewrote nothing.
    assert_eq!(
        std::fs::read_to_string(dir.path().join(DEFINITION)).unwrap(),
        committed()
    );

    let output = synth(dir.path(), &[]);
    assert!(output.status.success(), "{}", show(&output));
    let written = std::fs::read_to_string(dir.path().join(DEFINITION)).unwrap();
    assert!(written.contains("\"MaxConcurrency\": 41,"));
    assert!(
        std::fs::read_to_string(dir.path().join(DIAGRAM))
            .unwrap()
            .contains("41 at once")
    );
    assert!(synth(dir.path(), &["--check"]).status.success());
}

#[test]
fn synth_with_a_bad_config_fails_and_writes_nothing() {
    let deploy = std::fs::read_to_string(repo("deploy.toml")).unwrap();
    let dir = scratch(&deploy.replace("max_concurrency = 40", "max_concurrency = 10001"));
    std::fs::remove_file(dir.path().join(DEFINITION)).unwrap();
    let output = synth(dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("max_concurrency") && stderr.contains("from 1 to 10000"),
        "{stderr}"
    );
    assert!(!dir.path().join(DEFINITION).exists());
}

/// Every file under `dir`, with its contents, for before/after comparisons.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            let contents = std::fs::read_to_string(&path).unwrap();
            files.push((path, contents));
        }
    }
    files.sort();
    files
}

/// A user other than root, for whom a directory's permissions hold (root passes over them).
const NOBODY: u32 = 65534;

/// Whether this test runs as root (the owner of a file it creates).
fn running_as_root(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(".owner");
    std::fs::write(&probe, "").unwrap();
    let root = std::fs::metadata(&probe).unwrap().uid() == 0;
    std::fs::remove_file(probe).unwrap();
    root
}

/// Hands `dir` and everything in it to `uid`.
fn chown_all(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            chown_all(&path, uid);
        } else {
            std::os::unix::fs::chown(&path, Some(uid), Some(uid)).unwrap();
        }
    }
}

/// With `definitions/iam/` read-only, synth writes nothing at all (not the definition and the
/// diagram without the policies), leaves no temporary, and says so in one line.
#[test]
fn synth_writes_every_file_or_none_with_a_read_only_directory() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let deploy = std::fs::read_to_string(repo("deploy.toml")).unwrap();
    // A new function name changes the definition and both role policies.
    let dir = scratch(&deploy.replace("name = \"cm-etl-phase2\"", "name = \"cm-etl-phase3\""));
    let iam = dir.path().join("definitions/iam");
    let as_root = running_as_root(dir.path());
    if as_root {
        chown_all(dir.path(), NOBODY);
        // tempfile's directory is private to root; nobody must reach the scratch root inside it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&iam, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = snapshot(dir.path());

    let mut command = Command::new(env!("CARGO_BIN_EXE_cm-etl"));
    command.arg("synth").current_dir(dir.path());
    if as_root {
        command.uid(NOBODY).gid(NOBODY);
    }
    let output = command.output().unwrap();
    std::fs::set_permissions(&iam, std::fs::Permissions::from_mode(0o755)).unwrap();

    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: synth wrote nothing") && stderr.contains("definitions/iam"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a file changed or a temporary is left"
    );

    // Writable again: everything is written.
    let mut command = Command::new(env!("CARGO_BIN_EXE_cm-etl"));
    command.arg("synth").current_dir(dir.path());
    if as_root {
        command.uid(NOBODY).gid(NOBODY);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let after = snapshot(dir.path());
    let changed = after.iter().filter(|file| !before.contains(file)).count();
    assert_eq!(changed, 3, "the definition and both role policies");
}

/// `synth --stdout` into a pipe whose reader is gone ends quietly with its usual status, as a
/// filter does under `| head`; into a full disk it is one error line and exit 2.
#[test]
fn synth_stdout_into_a_closed_pipe_ends_quietly_and_into_a_full_disk_fails_in_one_line() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_cm-etl"))
        .args(["synth", "--stdout"])
        .current_dir(repo(""))
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));
    assert!(output.stderr.is_empty(), "{}", show(&output));

    let output = Command::new(env!("CARGO_BIN_EXE_cm-etl"))
        .args(["synth", "--stdout"])
        .current_dir(repo(""))
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", show(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: cannot write to stdout: No space left on device (os error 28)\n"
    );
}
