//! How a command that writes to AWS step by step (`deploy`, `bootstrap`) reports what it did in
//! its text summary: the dry-run note, the list of changes made (or that would be made), and the
//! calls it took.

use std::fmt;

use super::calls::ApiCallCount;

/// ` (dry run: nothing was changed)` after the command's name on a dry run; nothing otherwise.
pub fn dry_run_note(dry_run: bool) -> &'static str {
    if dry_run {
        " (dry run: nothing was changed)"
    } else {
        ""
    }
}

/// The changes made (or, on a dry run, that would be made) under a heading, one a line, or
/// `nothing_to_do` when there are none.
pub fn print_changes(changes: &[String], dry_run: bool, nothing_to_do: &str) {
    if changes.is_empty() {
        println!("  {nothing_to_do}");
        return;
    }
    let heading = if dry_run { "would change" } else { "changed" };
    println!("  {heading}:");
    for change in changes {
        println!("    - {change}");
    }
}

/// `12 (3 mutating)`: the calls a command made and how many of them wrote.
impl fmt::Display for ApiCallCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} mutating)", self.total, self.mutating)
    }
}
