//! A Distributed Map's `ItemReader`: where its items come from in S3, and how they are read.

use serde::{Deserialize, Serialize};

use super::Limit;
use super::fields::asl_struct;
use super::limit::max_items;

asl_struct! {
    /// A Distributed Map's `ItemReader`: the S3 object (`s3:getObject`) or listing
    /// (`s3:listObjectsV2`) its items come from; `Parameters` (or `Arguments`) give the S3
    /// location to read (`Bucket`, and `Key` or `Prefix`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct ItemReader {
        /// [`S3_GET_OBJECT`] or [`S3_LIST_OBJECTS_V2`]: what kind of S3 read gives the items.
        pub resource: String,
        #[asl("ReaderConfig", Both)]
        /// The object's format and how many items to read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reader_config: Option<ReaderConfig>,
        parameters,
        arguments,
    }
}

/// The ItemReader resource that reads the items of one S3 object.
pub const S3_GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
/// The ItemReader resource whose items are the objects under a prefix.
pub const S3_LIST_OBJECTS_V2: &str = "arn:aws:states:::s3:listObjectsV2";
/// The ResultWriter resource that writes the results to S3.
pub const S3_PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

asl_struct! {
    /// How an ItemReader reads the object: its format and how many items to take.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct ReaderConfig {
        /// The object's format: CSV, JSON, JSON Lines, Parquet or an S3 Inventory manifest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub input_type: Option<ReaderInputType>,
        /// Where a CSV's column names come from: its first row, or `CSVHeaders`.
        #[serde(
            default,
            rename = "CSVHeaderLocation",
            skip_serializing_if = "Option::is_none"
        )]
        pub csv_header_location: Option<CsvHeaderLocation>,
        /// The column names when `CSVHeaderLocation` is `GIVEN`.
        #[serde(
            default,
            rename = "CSVHeaders",
            skip_serializing_if = "Option::is_none"
        )]
        pub csv_headers: Option<Vec<String>>,
        /// What separates a CSV row's fields.
        #[serde(
            default,
            rename = "CSVDelimiter",
            skip_serializing_if = "Option::is_none"
        )]
        pub csv_delimiter: Option<CsvDelimiter>,
        #[asl("MaxItems", Both)]
        /// Reads only the first items (at most
        /// [`READER_MAX_ITEMS`](crate::limits::READER_MAX_ITEMS)).
        #[serde(flatten, with = "max_items")]
        pub max_items: Option<Limit<u32>>,
    }
}

/// The format of the object an ItemReader reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ReaderInputType {
    /// `CSV`: one item per row, an object keyed by the column names.
    Csv,
    /// `JSON`: a JSON array, one item per element.
    Json,
    /// `JSONL`: JSON Lines, one item per line.
    Jsonl,
    /// `PARQUET`: one item per row of a Parquet file.
    Parquet,
    /// `MANIFEST`: an S3 Inventory manifest, one item per object it lists.
    Manifest,
}

/// Where the column names of a CSV the ItemReader reads come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CsvHeaderLocation {
    /// `FIRST_ROW`: the file's first line.
    #[serde(rename = "FIRST_ROW")]
    FirstRow,
    /// `GIVEN`: the `CSVHeaders` list.
    Given,
}

/// What separates the fields of a CSV row (`COMMA` when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CsvDelimiter {
    /// `COMMA`: `,`.
    Comma,
    /// `PIPE`: `|`.
    Pipe,
    /// `SEMICOLON`: `;`.
    Semicolon,
    /// `SPACE`: a space.
    Space,
    /// `TAB`: a tab.
    Tab,
}
