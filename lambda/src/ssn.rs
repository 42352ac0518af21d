//! The `Ssn` newtype: the one place a social security number is held. Its `Debug` and `Display`
//! redact, so an SSN cannot reach a log line or an error message through formatting; the raw
//! value is reachable only through [`Ssn::expose`], which the warehouse and the chunk store call.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A social security number exactly as the source holds it (valid or not).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Ssn(String);

/// What `Debug` and `Display` print instead of the value.
pub const REDACTED: &str = "***-**-****";

impl Ssn {
    /// Holds `raw` as given; nothing is checked (see [`Ssn::is_valid_format`]).
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The raw value, for SQL parameters and the stored chunk only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is in the one format the migration accepts: `ddd-dd-dddd`. The
    /// warehouse applies the same rule in SQL; this is its Rust twin for tests and the generator.
    pub fn is_valid_format(&self) -> bool {
        let bytes = self.0.as_bytes();
        bytes.len() == 11
            && bytes.iter().enumerate().all(|(i, b)| match i {
                3 | 6 => *b == b'-',
                _ => b.is_ascii_digit(),
            })
    }
}

impl fmt::Debug for Ssn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ssn({REDACTED})")
    }
}

impl fmt::Display for Ssn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let ssn = Ssn::new("123-45-6789");
        assert_eq!(format!("{ssn}"), REDACTED);
        assert!(!format!("{ssn:?}").contains("6789"));
        assert!(!format!("{:?}", vec![ssn.clone()]).contains("123"));
        assert_eq!(ssn.expose(), "123-45-6789");
    }

    #[test]
    fn only_the_dashed_nine_digit_format_is_valid() {
        assert!(Ssn::new("123-45-6789").is_valid_format());
        for bad in [
            "123456789",
            "123-45-678",
            "123-45-678X",
            "12-345-6789",
            "",
            "123-45-67890",
        ] {
            assert!(
                !Ssn::new(bad).is_valid_format(),
                "{bad:?} should be invalid"
            );
        }
    }
}
