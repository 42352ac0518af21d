//! A Distributed Map's `ResultWriter`: where and how the children's results are written to S3.

use serde::{Deserialize, Serialize};

use super::S3_PUT_OBJECT;
use super::fields::asl_struct;
use crate::payload::PayloadTemplate;

asl_struct! {
    /// A Distributed Map's `ResultWriter`: writes the children's results to S3 (`Resource` and
    /// `Parameters`, where the results go: `Bucket`, `Prefix`), formatted as `WriterConfig` says.
    /// AWS takes the S3 pair, the `WriterConfig`, or all three.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct ResultWriter {
        /// [`S3_PUT_OBJECT`] when the results are written to S3.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resource: Option<String>,
        /// How the results are formatted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub writer_config: Option<WriterConfig>,
        parameters,
        arguments,
    }
}

impl ResultWriter {
    /// Writes the results with `s3:putObject` under `parameters` (`Bucket`, and `Prefix`).
    pub fn s3(parameters: PayloadTemplate) -> Self {
        Self {
            resource: Some(S3_PUT_OBJECT.into()),
            writer_config: None,
            parameters: Some(parameters),
            arguments: None,
        }
    }
}

/// How a ResultWriter formats the children's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct WriterConfig {
    /// The file format: a JSON array or JSON Lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<OutputType>,
    /// What of each child's output is written (see [`Transformation`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformation: Option<Transformation>,
}

/// A JSON array, or JSON Lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OutputType {
    /// `JSON`: one JSON array.
    Json,
    /// `JSONL`: one JSON value per line.
    Jsonl,
}

/// `NONE`: each child's output with its execution's metadata; `COMPACT`: the outputs only;
/// `FLATTEN`: the outputs, an output that is an array flattened into the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Transformation {
    /// `NONE`: each output with its execution's metadata.
    None,
    /// `COMPACT`: the outputs only.
    Compact,
    /// `FLATTEN`: the outputs, array outputs flattened into the result.
    Flatten,
}
