//! The Parallel state.

use serde::{Deserialize, Serialize};

use super::Branch;
use super::fields::asl_struct;

asl_struct! {
    /// A Parallel: runs every branch on the same input; the result is the array of their
    /// outputs.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    pub struct ParallelState {
        comment,
        query_language,
        input_path,
        parameters,
        arguments,
        /// The machines run on the same input; the result holds their outputs in this order.
        pub branches: Vec<Branch>,
        result_selector,
        result_path,
        output_path,
        output,
        assign,
        retry,
        catch,
        transition,
    }
}
