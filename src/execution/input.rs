//! What `start` sends: the pipeline input, checked against `PipelineInput` before any AWS call, and
//! the execution name, generated when not given. An input is at most Step Functions' 256 KiB, and
//! an input file is never read past that (it may be a device or a pipe that never ends).

use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::Path;

use asl::limits::PAYLOAD_BYTES;
use chrono::{DateTime, Utc};
use etl_lambda::contract::{ExecutionName, PipelineInput};

/// What a valid input looks like, for error messages.
const INPUT_SHAPE: &str = r#"{"date_range": {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}}"#;

/// Reads the input from `--input` or `--input-file` and checks it against the pipeline's input
/// type. Returns the JSON to send: the checked value, re-serialized.
pub fn pipeline_input(inline: Option<&str>, file: Option<&Path>) -> anyhow::Result<String> {
    let (bytes, origin) = match (inline, file) {
        (Some(text), None) => (text.as_bytes().to_vec(), "--input".to_owned()),
        (None, Some(path)) => {
            let origin = format!("--input-file {}", path.display());
            (read_bounded(path, &origin)?, origin)
        }
        _ => anyhow::bail!("pass the pipeline input with --input JSON or --input-file PATH"),
    };
    anyhow::ensure!(
        bytes.len() <= PAYLOAD_BYTES,
        "{origin} is over {PAYLOAD_BYTES} bytes, Step Functions' limit for an execution's input (256 KiB); the pipeline's input is a few dozen bytes: {INPUT_SHAPE}"
    );
    let text =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{origin} is not UTF-8 text"))?;
    let input = parse_pipeline_input(&text).map_err(|problem| {
        anyhow::anyhow!("{origin} is not a valid pipeline input: {problem}; expected {INPUT_SHAPE}")
    })?;
    Ok(serde_json::to_string(&input).expect("a PipelineInput always serializes"))
}

/// The file's bytes, reading at most one past [`PAYLOAD_BYTES`] (enough to tell it is too
/// long): `/dev/zero` or a pipe that never ends is refused, not read until memory runs out.
fn read_bounded(path: &Path, origin: &str) -> anyhow::Result<Vec<u8>> {
    let cannot_read = |err: std::io::Error| anyhow::anyhow!("cannot read {origin}: {err}");
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot_read)?
        .take(PAYLOAD_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    Ok(bytes)
}

/// Parses `text` as a `PipelineInput`; the error names the field that is wrong.
pub fn parse_pipeline_input(text: &str) -> Result<PipelineInput, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let input: PipelineInput =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner().to_string();
            // serde already names an unknown or missing field; the path says where a value is wrong.
            let last = path.rsplit('.').next().unwrap_or(&path);
            if path == "." || inner.contains(&format!("`{last}`")) {
                inner
            } else {
                format!("field `{path}`: {inner}")
            }
        })?;
    deserializer.end().map_err(|err| err.to_string())?;
    Ok(input)
}

/// The execution name: the one given (checked), or a new one that sorts by start time and is
/// unique: `20261126T161320.123Z-3f9a1c`.
pub fn execution_name(given: Option<&str>) -> anyhow::Result<ExecutionName> {
    match given {
        Some(name) => ExecutionName::new(name).map_err(|err| anyhow::anyhow!("--name {err}")),
        None => Ok(generated_execution_name(Utc::now())),
    }
}

fn generated_execution_name(now: DateTime<Utc>) -> ExecutionName {
    // RandomState is seeded from the OS per process; mixing in the clock keeps two names made by
    // one process apart too. 24 bits beside a millisecond timestamp is plenty.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(now.timestamp_nanos_opt().unwrap_or_default());
    hasher.write_u32(std::process::id());
    let suffix = hasher.finish() & 0xff_ffff;
    ExecutionName::new(format!("{}-{suffix:06x}", now.format("%Y%m%dT%H%M%S%.3fZ")))
        .expect("a timestamp and hex digits make a valid execution name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_input_is_accepted_and_normalized() {
        let input = r#" {"date_range": {"to": "2024-01-31", "from": "2024-01-01"}} "#;
        let sent = pipeline_input(Some(input), None).unwrap();
        assert_eq!(
            sent,
            r#"{"date_range":{"from":"2024-01-01","to":"2024-01-31"}}"#
        );
    }

    #[test]
    fn each_bad_input_names_what_is_wrong() {
        let unknown = parse_pipeline_input(
            r#"{"date_range": {"from": "2024-01-01", "to": "2024-01-02"}, "limit": 3}"#,
        );
        assert!(unknown.unwrap_err().contains("unknown field `limit`"));
        let bad_date =
            parse_pipeline_input(r#"{"date_range": {"from": "2024-13-01", "to": "2024-01-02"}}"#)
                .unwrap_err();
        assert!(bad_date.contains("date_range.from"), "{bad_date}");
        let reversed =
            parse_pipeline_input(r#"{"date_range": {"from": "2024-02-01", "to": "2024-01-02"}}"#)
                .unwrap_err();
        assert!(
            reversed.contains("date_range") && reversed.contains("must not be after"),
            "{reversed}"
        );
        let missing = parse_pipeline_input("{}").unwrap_err();
        assert!(missing.contains("missing field `date_range`"), "{missing}");
        let trailing =
            parse_pipeline_input(r#"{"date_range": {"from": "2024-01-01", "to": "2024-01-02"}} x"#);
        assert!(trailing.is_err());
        let err = pipeline_input(None, None).unwrap_err().to_string();
        assert!(err.contains("--input"), "{err}");
    }

    #[test]
    fn an_input_over_256_kib_is_refused_and_a_file_is_not_read_past_it() {
        let long = format!("{{\"pad\": \"{}\"}}", "x".repeat(PAYLOAD_BYTES));
        let err = pipeline_input(Some(&long), None).unwrap_err().to_string();
        assert!(err.starts_with("--input is over 262144 bytes"), "{err}");
        let err = pipeline_input(None, Some(Path::new("/dev/zero")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--input-file /dev/zero is over 262144 bytes, Step Functions' limit"),
            "{err}"
        );
        assert_eq!(
            read_bounded(Path::new("/dev/zero"), "").unwrap().len(),
            PAYLOAD_BYTES + 1
        );
    }

    #[test]
    fn generated_names_are_valid_sortable_and_distinct() {
        let earlier = generated_execution_name("2026-11-26T16:13:20.123Z".parse().unwrap());
        let later = generated_execution_name("2026-11-26T16:13:20.124Z".parse().unwrap());
        assert!(
            earlier.as_str().starts_with("20261126T161320.123Z-"),
            "{earlier}"
        );
        assert!(earlier < later);
        let now = Utc::now();
        assert_ne!(generated_execution_name(now), generated_execution_name(now));
        assert!(execution_name(Some("bad/name")).is_err());
        assert_eq!(
            execution_name(Some("nightly-1")).unwrap().as_str(),
            "nightly-1"
        );
    }
}
