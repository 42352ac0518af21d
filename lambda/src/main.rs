//! The `bootstrap` binary: the Lambda runtime loop around the handlers.

fn main() {}
