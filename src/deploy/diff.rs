//! Semantic definition diff: both sides are parsed and compared as JSON values (so formatting and
//! whitespace never count), and a difference is shown as a unified diff of their pretty forms.

use similar::{ChangeTag, TextDiff};

/// How two definitions compare.
#[derive(Debug, PartialEq, Eq)]
pub enum DefinitionDiff {
    Same,
    /// A unified diff from the deployed (`-`) to the local (`+`) definition.
    Differs(String),
}

/// Compares `deployed` with `local` as JSON. `color` adds ANSI colors for a terminal.
pub fn compare(deployed: &str, local: &str, color: bool) -> anyhow::Result<DefinitionDiff> {
    let deployed_value: serde_json::Value = serde_json::from_str(deployed)
        .map_err(|err| anyhow::anyhow!("the deployed definition is not JSON: {err}"))?;
    let local_value: serde_json::Value = serde_json::from_str(local)
        .map_err(|err| anyhow::anyhow!("the local definition is not JSON: {err}"))?;
    if deployed_value == local_value {
        return Ok(DefinitionDiff::Same);
    }
    let deployed_pretty = pretty(&deployed_value);
    let local_pretty = pretty(&local_value);
    let diff = TextDiff::from_lines(&deployed_pretty, &local_pretty);
    if !color {
        return Ok(DefinitionDiff::Differs(
            diff.unified_diff()
                .context_radius(3)
                .header("deployed", "local")
                .to_string(),
        ));
    }
    let mut out = String::from("\x1b[1m--- deployed\n+++ local\x1b[0m\n");
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&format!("\x1b[36m{}\x1b[0m\n", hunk.header()));
        for change in hunk.iter_changes() {
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ("-", "\x1b[31m"),
                ChangeTag::Insert => ("+", "\x1b[32m"),
                ChangeTag::Equal => (" ", ""),
            };
            let line = change.value().trim_end_matches('\n');
            if style.is_empty() {
                out.push_str(&format!("{sign}{line}\n"));
            } else {
                out.push_str(&format!("{style}{sign}{line}\x1b[0m\n"));
            }
        }
    }
    Ok(DefinitionDiff::Differs(out))
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("a JSON value always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_alone_is_no_difference() {
        let deployed = r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#;
        let local = "{\n  \"StartAt\": \"A\",\n  \"States\": {\"A\": {\"Type\": \"Succeed\"}}\n}\n";
        assert_eq!(
            compare(deployed, local, false).unwrap(),
            DefinitionDiff::Same
        );
    }

    #[test]
    fn a_changed_value_shows_as_a_unified_diff() {
        let deployed = r#"{"StartAt":"A","States":{"A":{"Type":"Map","MaxConcurrency":10}}}"#;
        let local = r#"{"StartAt":"A","States":{"A":{"Type":"Map","MaxConcurrency":5}}}"#;
        let DefinitionDiff::Differs(text) = compare(deployed, local, false).unwrap() else {
            panic!("expected a difference");
        };
        assert!(text.contains("--- deployed"), "{text}");
        assert!(text.contains("-      \"MaxConcurrency\": 10"), "{text}");
        assert!(text.contains("+      \"MaxConcurrency\": 5"), "{text}");
        assert!(!text.contains('\x1b'));
        let DefinitionDiff::Differs(colored) = compare(deployed, local, true).unwrap() else {
            panic!("expected a difference");
        };
        assert!(colored.contains("\x1b[31m-"), "{colored}");
    }
}
