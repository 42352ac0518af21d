//! Build and package: compiles the lambda crate's `etl-lambda` binary for provided.al2023 (glibc
//! 2.34) with cargo-lambda, and packs it into a deterministic zip whose CodeSha256 Lambda can
//! compare.
//!
//! The zip is written here rather than by cargo-lambda so that its bytes depend only on the
//! binary: one entry `bootstrap` (the file provided.al2023 runs), a fixed 1980-01-01 timestamp,
//! mode 0755 and a fixed deflate level. The same binary therefore always gives the same CodeSha256, and deploy can skip the
//! upload when it matches the live function's.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use base64::Engine;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::config::Architecture;

/// The environment variable that selects the cargo profile of the Lambda build (`release` or
/// `dev`); `--lambda-profile` wins over it.
pub const PROFILE_ENV: &str = "CM_ETL_LAMBDA_PROFILE";
/// The environment variable that moves the Lambda build's target directory (default:
/// `<workspace>/target/lambda`), so several checkouts can share the dependencies' build (each
/// builds its own crates: see `LambdaBuild::forget_another_checkouts_build`).
pub const TARGET_DIR_ENV: &str = "CM_ETL_LAMBDA_TARGET_DIR";

/// The file, in a build's output directory, naming the checkout it was last built from.
const BUILT_FROM: &str = "built-from";

/// The package and binary target the function runs (lambda/Cargo.toml's `[[bin]]`).
const LAMBDA_PACKAGE: &str = "etl-lambda";
const LAMBDA_BINARY: &str = "etl-lambda";
/// The file name provided.al2023 runs: the zip's one entry, and what cargo-lambda names the
/// binary it writes to `<lambda-dir>/<binary>/`.
const RUNTIME_ENTRY: &str = "bootstrap";

/// Which cargo profile builds the Lambda: release for real deploys, dev for quick test cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildProfile {
    #[default]
    Release,
    Dev,
}

impl BuildProfile {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildProfile::Release => "release",
            BuildProfile::Dev => "dev",
        }
    }
}

/// The Rust target of `architecture` (whose standard library the build needs).
fn rust_target(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// The cargo-lambda target for provided.al2023 on `architecture`: pinned to glibc 2.34, so a
/// dependency needing a newer glibc fails at build time rather than on Lambda.
pub fn target_triple(architecture: Architecture) -> String {
    format!("{}.2.34", rust_target(architecture))
}

/// Whether the active toolchain has `target`'s standard library (rustup installs it under the
/// sysroot's `lib/rustlib/<target>/lib`).
fn standard_library_installed(target: &str) -> bool {
    Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .is_some_and(|output| {
            let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            Path::new(&sysroot)
                .join("lib/rustlib")
                .join(target)
                .join("lib")
                .is_dir()
        })
}

/// A packaged function: the zip and its base64(sha256), as Lambda reports `CodeSha256`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub zip: Vec<u8>,
    pub code_sha256: String,
}

/// Lambda's quotas on a function's code (Lambda's, not Step Functions': they stay here, the only
/// place that checks them): a zip sent in the request, and the code unzipped.
const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;
const MAX_UNZIPPED_BYTES: usize = 250 * 1024 * 1024;

/// Fails, before anything is sent, when Lambda would refuse code of these sizes.
fn check_code_size(zip_bytes: usize, unzipped_bytes: usize) -> anyhow::Result<()> {
    if unzipped_bytes > MAX_UNZIPPED_BYTES {
        bail!(
            "the Lambda binary is {unzipped_bytes} bytes, over Lambda's {MAX_UNZIPPED_BYTES}-byte limit for unzipped code; build with the release profile (the default) and keep debug info out of it; nothing was changed in AWS"
        );
    }
    if zip_bytes > MAX_ZIP_BYTES {
        bail!(
            "the zipped Lambda binary is {zip_bytes} bytes, over Lambda's {MAX_ZIP_BYTES}-byte limit for a direct upload; build with the release profile (the default) and trim dependencies; nothing was changed in AWS"
        );
    }
    Ok(())
}

impl Package {
    /// Packs the Lambda binary's bytes; fails when Lambda would refuse the result.
    pub fn from_binary(binary: &[u8]) -> anyhow::Result<Self> {
        let zip = deterministic_zip(binary)?;
        check_code_size(zip.len(), binary.len())?;
        let code_sha256 = code_sha256(&zip);
        Ok(Self { zip, code_sha256 })
    }
}

/// The zip Lambda runs: one entry `bootstrap`, fixed timestamp and mode, fixed compression.
pub fn deterministic_zip(binary: &[u8]) -> anyhow::Result<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(DateTime::DEFAULT)
        .unix_permissions(0o755);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    // The entry must be named `bootstrap`: provided.al2023 runs the file of that name at the
    // zip's root, whatever the binary target is called.
    writer
        .start_file(RUNTIME_ENTRY, options)
        .context("cannot start the zip entry")?;
    writer
        .write_all(binary)
        .context("cannot write the zip entry")?;
    Ok(writer
        .finish()
        .context("cannot finish the zip")?
        .into_inner())
}

/// base64(sha256(bytes)): Lambda's `CodeSha256` of a zip.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

/// How to build the function's binary.
#[derive(Clone, Debug)]
pub struct LambdaBuild {
    /// The cargo workspace holding the lambda crate.
    pub workspace: PathBuf,
    pub architecture: Architecture,
    pub profile: BuildProfile,
    /// cargo's target directory for this build (cargo-lambda needs `CARGO_TARGET_DIR`, not
    /// `--target-dir`).
    pub target_dir: PathBuf,
}

impl LambdaBuild {
    /// The build for `workspace`, in `$CM_ETL_LAMBDA_TARGET_DIR` or `<workspace>/target/lambda`.
    pub fn new(workspace: &Path, architecture: Architecture, profile: BuildProfile) -> Self {
        let target_dir = std::env::var_os(TARGET_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace.join("target").join("lambda"));
        Self {
            workspace: workspace.to_owned(),
            architecture,
            profile,
            target_dir,
        }
    }

    /// One output directory per architecture and profile, so a stale binary of another build is
    /// never picked up.
    fn lambda_dir(&self) -> PathBuf {
        self.target_dir.join(format!(
            "out-{}-{}",
            self.architecture.as_str(),
            self.profile.as_str()
        ))
    }

    /// The canonical path of the workspace, which names it in [`BUILT_FROM`].
    fn workspace_id(&self) -> anyhow::Result<String> {
        let path = self.workspace.canonicalize().with_context(|| {
            format!("cannot resolve the workspace {}", self.workspace.display())
        })?;
        Ok(path.display().to_string())
    }

    /// In a target directory shared by several checkouts, cargo cannot tell their crates apart:
    /// it names a workspace crate's build by its path inside the workspace, and calls it fresh
    /// when the sources are older than that build, though the build may be another checkout's.
    /// So unless the last build here came from this checkout, the workspace's own crates are
    /// cleaned (the dependencies stay) and built again from this one's sources.
    fn forget_another_checkouts_build(&self, lambda_dir: &Path) -> anyhow::Result<()> {
        let last = std::fs::read_to_string(lambda_dir.join(BUILT_FROM)).ok();
        if last == Some(self.workspace_id()?) {
            return Ok(());
        }
        let mut command = cargo();
        command
            .current_dir(&self.workspace)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .args([
                "clean",
                "--quiet",
                "--target",
                rust_target(self.architecture),
            ])
            .args(["--profile", self.profile.as_str()]);
        for package in workspace_packages(&self.workspace)? {
            command.args(["--package", &package]);
        }
        let output = command.output().context("cannot run `cargo clean`")?;
        if !output.status.success() {
            bail!(
                "cannot clean another checkout's build from {}: {}",
                self.target_dir.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Runs cargo-lambda and returns the Lambda binary's bytes.
    pub fn run(&self) -> anyhow::Result<Vec<u8>> {
        require_cargo_lambda()?;
        let lambda_dir = self.lambda_dir();
        self.forget_another_checkouts_build(&lambda_dir)?;
        let mut command = cargo();
        command
            .current_dir(&self.workspace)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .args([
                "lambda",
                "build",
                "--package",
                LAMBDA_PACKAGE,
                "--bin",
                LAMBDA_BINARY,
            ])
            .args(["--target", &target_triple(self.architecture)])
            .arg("--lambda-dir")
            .arg(&lambda_dir);
        match self.profile {
            BuildProfile::Release => {
                command.arg("--release");
            }
            // The shipped binary carries no debug info, whatever the workspace's dev profile
            // keeps: with full debug info it was ~300 MB, over Lambda's 250 MB for unzipped code.
            // The variables reach this build only.
            BuildProfile::Dev => {
                command
                    .env("CARGO_PROFILE_DEV_DEBUG", "false")
                    .env("CARGO_PROFILE_DEV_STRIP", "debuginfo");
            }
        }
        let output = command
            .output()
            .context("cannot run `cargo lambda build`")?;
        if !output.status.success() {
            let rust_target = rust_target(self.architecture);
            if !standard_library_installed(rust_target) {
                bail!(
                    "the {rust_target} standard library is not installed and cargo-lambda could not install it: run `rustup target add {rust_target}`, then re-run deploy; nothing was changed in AWS"
                );
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(25).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "building the Lambda with `cargo lambda build --target {}` failed ({}); fix the build and re-run deploy, nothing was changed in AWS:\n{}",
                target_triple(self.architecture),
                output.status,
                tail.join("\n")
            );
        }
        std::fs::write(lambda_dir.join(BUILT_FROM), self.workspace_id()?)
            .with_context(|| format!("cannot write {}", lambda_dir.join(BUILT_FROM).display()))?;
        let binary = lambda_dir.join(LAMBDA_BINARY).join(RUNTIME_ENTRY);
        std::fs::read(&binary)
            .with_context(|| format!("cargo lambda build did not produce {}", binary.display()))
    }
}

/// Variables cargo sets for the programs it runs (`cargo run -- deploy`, tests). Some build
/// scripts rerun when they change (ring's tracks `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`,
/// `OUT_DIR`), so leaking them into the Lambda build would rebuild half the dependency tree
/// whenever deploy is started another way.
fn is_set_by_cargo_for_its_programs(name: &str) -> bool {
    const EXACT: [&str; 9] = [
        "OUT_DIR",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_BIN_EXE_")
}

/// Fails with what to install when cargo-lambda is not on PATH.
/// `cargo`, without the variables cargo sets for the programs it runs (when deploy itself runs
/// under cargo, they would describe that other build).
fn cargo() -> Command {
    let mut command = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_set_by_cargo_for_its_programs) {
            command.env_remove(name);
        }
    }
    command
}

/// The names of `workspace`'s own packages, from `cargo metadata`.
fn workspace_packages(workspace: &Path) -> anyhow::Result<Vec<String>> {
    let output = cargo()
        .current_dir(workspace)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run `cargo metadata`")?;
    if !output.status.success() {
        bail!(
            "`cargo metadata` failed in {}: {}",
            workspace.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("`cargo metadata` printed no JSON")?;
    Ok(metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|package| package["name"].as_str().map(str::to_owned))
        .collect())
}

fn require_cargo_lambda() -> anyhow::Result<()> {
    let found = Command::new("cargo")
        .args(["lambda", "--version"])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false);
    if !found {
        bail!(
            "cargo-lambda is not installed: install it with `pip install cargo-lambda` (it brings zig) or `cargo install --locked cargo-lambda`, then re-run deploy"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_binary_gives_the_same_zip_and_sha() {
        let binary: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let first = Package::from_binary(&binary).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let second = Package::from_binary(&binary).unwrap();
        assert_eq!(first.zip, second.zip);
        assert_eq!(first.code_sha256, second.code_sha256);

        let mut changed = binary.clone();
        changed[1000] ^= 1;
        assert_ne!(
            Package::from_binary(&changed).unwrap().code_sha256,
            first.code_sha256
        );
    }

    #[test]
    fn the_zip_holds_one_executable_bootstrap_dated_1980() {
        let package = Package::from_binary(b"#!/bin/sh\necho hi\n").unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(&package.zip)).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        let modified = entry.last_modified().unwrap();
        assert_eq!(
            (modified.year(), modified.month(), modified.day()),
            (1980, 1, 1)
        );
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
    }

    #[test]
    fn code_sha256_is_base64_of_the_sha256() {
        // sha256("abc") = ba7816bf...; base64 of those 32 bytes:
        assert_eq!(
            code_sha256(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn code_lambda_would_refuse_is_stopped_before_any_call() {
        check_code_size(MAX_ZIP_BYTES, MAX_UNZIPPED_BYTES).unwrap();
        let err = check_code_size(MAX_ZIP_BYTES + 1, 1000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("limit for a direct upload"), "{err}");
        let err = check_code_size(1000, MAX_UNZIPPED_BYTES + 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("limit for unzipped code"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
    }
}
