//! AWS's limits, each declared once, with where AWS states it.

/// JSONata evaluation depth (nested calls and sub-expressions, about four a level of a
/// recursive function); past it the expression fails with JSONata's U1001 "Stack overflow".
/// AWS documents none; its JavaScript evaluator's call stack ends a runaway recursion too.
pub const JSONATA_MAX_DEPTH: usize = 1_000;

/// JSONata evaluation time, milliseconds; past it the expression fails with JSONata's U1001
/// "Expression evaluation timeout". AWS documents none; no state should hang on one expression.
pub const JSONATA_TIME_LIMIT_MS: usize = 5_000;

/// How deeply a JSONata expression's brackets may nest: its parser recurses on them, and 64
/// levels parse on a 2 MiB thread stack (a debug build overflows one past about 120).
pub const JSONATA_MAX_NESTING: usize = 64;
