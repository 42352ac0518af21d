//! `synth`: renders the pipeline to the committed definition files and checks they are current.
//!
//! TEMPORARY STAND-IN (branch h3-deploy): the typed ASL model and the real `synth` come from the
//! h1-asl branch, which replaces this file at merge. Only `DEFINITION_PATH` and
//! `render_definition` are used by `deploy`, with exactly these signatures.

use std::process::ExitCode;

use serde_json::json;

use crate::config::{DeployConfig, StateMachineName};

/// The committed definition, relative to the repository root.
pub const DEFINITION_PATH: &str = "definitions/etl_pipeline_phase2_ready.json";

/// Render the pipeline to definitions/ (or check that the committed files are current).
#[derive(clap::Args, Debug)]
pub struct SynthArgs {}

pub fn main(_args: SynthArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("synth is not built yet")
}

/// The pipeline rendered with this config's ARNs: pretty JSON and a final newline, byte-identical
/// to the committed file when that is current.
pub fn render_definition(
    config: &DeployConfig,
    state_machine: &StateMachineName,
) -> anyhow::Result<String> {
    let machine = config
        .state_machines
        .get(state_machine)
        .ok_or_else(|| anyhow::anyhow!("deploy.toml has no [state_machines.{state_machine}]"))?;
    let function = config.function_alias_arn();
    let definition = json!({
        "Comment": "cm-etl-pipeline-phase2: Task 02 migrated in chunks",
        "StartAt": "GetTask02Chunks",
        "States": {
            "GetTask02Chunks": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": function,
                    "Payload": {
                        "action": "get_task02_chunks",
                        "input": {
                            "execution.$": "$$.Execution.Name",
                            "date_range.$": "$.date_range",
                            "budget": {
                                "max_rows": config.chunking.max_rows,
                                "max_keys": config.chunking.max_keys
                            }
                        }
                    }
                },
                "ResultSelector": {
                    "format_version.$": "$.Payload.format_version",
                    "execution.$": "$.Payload.execution",
                    "chunk_store.$": "$.Payload.chunk_store",
                    "date_range.$": "$.Payload.date_range",
                    "num_chunks.$": "$.Payload.num_chunks",
                    "total_keys.$": "$.Payload.total_keys",
                    "total_rows.$": "$.Payload.total_rows",
                    "chunk_ids.$": "$.Payload.chunk_ids"
                },
                "ResultPath": "$.task02_chunks",
                "Next": "ProcessTask02Chunks"
            },
            "ProcessTask02Chunks": {
                "Type": "Map",
                "ItemsPath": "$.task02_chunks.chunk_ids",
                "ItemSelector": {
                    "chunk_id.$": "$$.Map.Item.Value",
                    "execution.$": "$.task02_chunks.execution",
                    "chunk_store.$": "$.task02_chunks.chunk_store",
                    "format_version.$": "$.task02_chunks.format_version"
                },
                "MaxConcurrency": machine.map_max_concurrency.get(),
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "ProcessTask02Chunk",
                    "States": {
                        "ProcessTask02Chunk": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {
                                "FunctionName": function,
                                "Payload": {
                                    "action": "process_task02_chunk",
                                    "input.$": "$"
                                }
                            },
                            "OutputPath": "$.Payload",
                            "End": true
                        }
                    }
                },
                "ResultPath": null,
                "Next": "Done"
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let mut text = serde_json::to_string_pretty(&definition)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Writes the committed file when `CM_ETL_WRITE_DEFINITION=1`, else checks it is current.
    #[test]
    fn the_committed_definition_is_current() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = DeployConfig::load(&root.join("deploy.toml")).unwrap();
        let name = config.state_machines.keys().next().unwrap().clone();
        let text = render_definition(&config, &name).unwrap();
        let path = root.join(DEFINITION_PATH);
        if std::env::var_os("CM_ETL_WRITE_DEFINITION").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap_or_default(), text);
    }
}
