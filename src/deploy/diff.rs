//! `diff`: the deployed definition against the local one. Both sides are parsed and compared as
//! JSON values (so formatting and whitespace never count), and a difference is shown as a unified
//! diff of their pretty forms.

use std::io::IsTerminal;
use std::process::ExitCode;

use similar::{ChangeTag, TextDiff};

use super::{release, state_machine};
use crate::aws::{AwsArgs, AwsClients};
use crate::config::{ConfigArgs, StateMachineArgs};
use crate::synth::{FunctionVersion, render_definition, render_release_definition};

/// Compare the local definition (rendered from the pipeline and deploy.toml) with the deployed
/// one, as JSON.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub state_machine: StateMachineArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Exit with 1 when the definitions differ (or the state machine is not deployed), 0 when
    /// they are the same.
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub async fn main(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    let (name, _) = config.state_machine(args.state_machine.name.as_deref(), &args.config.path)?;
    let aws = AwsClients::connect(&args.aws, &config).await;
    let arn = config.state_machine_arn(name);
    // What new executions run: the alias's stable release, else (before the first release)
    // the state machine's current definition.
    let live = match release::read_routing(&aws, &config.state_machine_alias_arn(name)).await? {
        Some(routing) => release::read_release(&aws, &config, &arn, routing.stable)
            .await?
            .map(|release| (Some(release.version), release.definition)),
        None => state_machine::read(&aws, &arn, false)
            .await?
            .map(|live| (None, live.definition)),
    };
    let differs = match live {
        None => {
            println!("{name} is not deployed ({arn}): everything would be created");
            true
        }
        Some((version, live)) => {
            // The local definition pinned to the function version the live one invokes, so
            // that only what the pipeline changes shows.
            let pinned = FunctionVersion::pinned_in(&live, &config.function_arn());
            let local = match pinned {
                Some(function) => render_release_definition(&config, name, function)?,
                None => render_definition(&config, name)?,
            };
            let what = match (version, pinned) {
                (Some(version), Some(function)) => {
                    format!("release {version} (function version {function})")
                }
                (Some(version), None) => format!("release {version}"),
                (None, _) => "deployed definition".to_owned(),
            };
            match compare(&live, &local, std::io::stdout().is_terminal())? {
                DefinitionDiff::Same => {
                    println!("no differences: the {what} of {name} is the local definition");
                    false
                }
                DefinitionDiff::Differs(text) => {
                    println!("the {what} of {name} (-) against the local definition (+):");
                    print!("{text}");
                    true
                }
            }
        }
    };
    Ok(if differs && args.exit_code {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

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
