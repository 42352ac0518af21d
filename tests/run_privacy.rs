//! What `run` keeps private. A run stopped by SIGINT or SIGTERM leaves nothing (exit 130, 143), and
//! every file a run makes is private at every look, even one stopped by SIGKILL; a refused
//! `--database-url sqlite://` creates no file and an accepted one is 0600; a refused `postgres://`
//! URL never shows its password, and one that would not verify the server's TLS is refused with
//! its fix.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::local_run::{cm_etl_run, modes_under, printed};

/// Asserts that nothing under `dir` can be read by anyone but its owner.
fn assert_private(dir: &Path) -> usize {
    let entries = modes_under(dir);
    for (path, is_dir, mode) in &entries {
        let most = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(mode & !most, 0, "{} is {mode:o}", path.display());
    }
    entries.len()
}

/// `cm-etl run` with its temporary directory in `tmp` (TMPDIR), stderr captured.
fn spawn_run(tmp: &Path, args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_cm-etl"))
        .current_dir(support::repo())
        .env("TMPDIR", tmp)
        .arg("run")
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A run stopped by SIGINT (while it seeds the warehouse), SIGTERM (while the Map processes
/// chunks) or SIGKILL: every file and directory it made was private at every look (sampled as
/// often as the walk allows), and after SIGINT and SIGTERM nothing of it is left, with exit 130
/// or 143 and one line; SIGKILL leaves only private files.
#[test]
fn a_stopped_run_leaves_nothing_and_every_file_it_made_was_private() {
    // (signal, exit status, what must exist before it is sent)
    let cases: [(&str, Option<i32>, &str); 3] = [
        ("INT", Some(130), "warehouse.sqlite3"),
        ("TERM", Some(143), "chunk-00000000.json"),
        ("KILL", None, "warehouse.sqlite3-wal"),
    ];
    for (signal, status, wait_for) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let mut child = spawn_run(tmp.path(), &["--keys", "100000"]);
        let mut samples = 0;
        loop {
            assert_private(tmp.path());
            samples += 1;
            let seen = modes_under(tmp.path())
                .iter()
                .any(|(path, _, _)| path.file_name().is_some_and(|n| n == wait_for));
            if seen {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "SIG{signal}: the run ended before {wait_for} appeared"
            );
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "SIG{signal}: no {wait_for} after 120 s"
            );
        }
        let signalled_at = started.elapsed();
        let killed = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let exit = loop {
            assert_private(tmp.path());
            samples += 1;
            if let Some(exit) = child.try_wait().unwrap() {
                break exit;
            }
            assert!(
                started.elapsed() < signalled_at + Duration::from_secs(30),
                "SIG{signal}: still running 30 s after the signal"
            );
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(exit.code(), status, "SIG{signal}: {stderr}");
        let left = assert_private(tmp.path());
        match status {
            Some(_) => {
                assert_eq!(left, 0, "SIG{signal} left {:?}", modes_under(tmp.path()));
                assert_eq!(
                    stderr.trim(),
                    format!(
                        "stopped by SIG{signal}: the local execution was abandoned and its temporary files removed"
                    ),
                );
            }
            None => assert!(left > 0, "SIGKILL cannot clean up; what is left is private"),
        }
        eprintln!(
            "SIG{signal} after {signalled_at:.1?}: {samples} samples, exit {:?}",
            exit.code()
        );
    }
}

/// `--database-url sqlite://` creates its file 0600, and only once every argument was checked: a
/// refused run creates nothing.
#[test]
fn a_database_url_file_is_created_private_and_not_at_all_when_the_run_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let url = url.as_str();
    let dates = ["--date-from", "2024-01-01", "--date-to", "2024-01-31"];
    for refused in [
        vec!["--database-url", url],
        [
            &["--database-url", url, "--execution-name", "no/slash"][..],
            &dates,
        ]
        .concat(),
        [
            &["--database-url", url, "--definition", "missing.json"][..],
            &dates,
        ]
        .concat(),
    ] {
        let output = assert_cmd::Command::cargo_bin("cm-etl")
            .unwrap()
            .current_dir(support::repo())
            .arg("run")
            .args(&refused)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{refused:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!file.exists(), "{refused:?} created {}", file.display());
    }
    // Accepted: the file is made (no schema in it, so the execution fails after its retries).
    let output = assert_cmd::Command::cargo_bin("cm-etl")
        .unwrap()
        .current_dir(support::repo())
        .args(["run", "--database-url", url])
        .args(dates)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
}

/// No message of a refused `run --database-url` shows a password, wherever the URL carries it.
#[test]
fn a_refused_database_url_never_shows_its_password() {
    // Nothing listens on port 1: the connection is refused, after every other check passed.
    let url = "postgres://etl:Secret1@127.0.0.1:1/w?password=Secret2&sslpassword=Secret3&pass%77ord=Secret4";
    for args in [
        vec!["--database-url", url],
        vec![
            "--database-url",
            url,
            "--date-from",
            "2024-01-01",
            "--date-to",
            "2024-01-31",
        ],
    ] {
        let output = cm_etl_run(&args);
        let all = printed(&output);
        assert_eq!(output.status.code(), Some(2), "{all}");
        assert!(!all.contains("Secret"), "a password is shown: {all}");
        assert_eq!(all.lines().count(), 1, "{all}");
    }
}

/// A `run --database-url` that would not verify the server is refused in one line that names the
/// fix, before any connection, and never shows the password.
#[test]
fn an_unverified_database_url_is_refused_with_its_fix() {
    let url = "postgres://etl:Secret1@127.0.0.1:1/w?sslmode=require";
    let output = cm_etl_run(&[
        "--database-url",
        url,
        "--date-from",
        "2024-01-01",
        "--date-to",
        "2024-01-31",
    ]);
    let all = printed(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    assert_eq!(all.lines().count(), 1, "{all}");
    assert!(
        all.contains("sslmode=require") && all.contains("cm_etl_insecure_transport=unverified"),
        "{all}"
    );
    assert!(!all.contains("Secret"), "a password is shown: {all}");
}
