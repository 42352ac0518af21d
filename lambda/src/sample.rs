//! A deterministic sample-data generator for tests, benchmarks and local runs: `keys` distinct
//! (visit_date, ssn) keys over one year from `start_date`, `rows_per_key` rows each, and about
//! `bad_rows_percent` of the rows made bad (half without a date, half with the SSN's dashes
//! dropped), each decided by a seeded hash of the row number: same inputs, same rows.
//!
//! Bounds ([`SampleData::check`]): at most [`SampleData::MAX_KEYS`] keys (the SSN generator is a
//! permutation of 0..10^9, so SSNs are unique only below 10^9 keys), [`SampleData::MAX_ROWS_PER_KEY`]
//! rows per key and [`SampleData::MAX_ROWS`] rows in all (gigabytes of SQLite already); nothing here can
//! overflow within them, and the counts saturate outside them rather than wrap.

use chrono::{Days, NaiveDate};

use crate::contract::DateRange;
use crate::error::HandlerError;
use crate::ssn::Ssn;
use crate::warehouse::{VisitRow, Warehouse};

/// The days the keys spread over, from `start_date`.
pub const SAMPLE_DAYS: u64 = 365;

const PROVIDERS: [&str; 4] = [
    "  acme clinic",
    "Beta Health ",
    "city hospital",
    " Delta Care",
];

/// What sample data to generate: how many keys and rows, how many bad, from which seed and date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleData {
    /// How many distinct (visit_date, ssn) keys.
    pub keys: u64,
    /// How many source rows each key gets.
    pub rows_per_key: u32,
    /// About how many rows in a hundred are made bad (missing date or malformed SSN).
    pub bad_rows_percent: u8,
    /// Seeds the hashes that pick the SSNs, the dates and the bad rows.
    pub seed: u64,
    /// The first day the keys' visit dates spread over ([`SAMPLE_DAYS`] days).
    pub start_date: NaiveDate,
}

/// What a generated row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    Valid,
    MissingDate,
    BadSsnFormat,
}

impl SampleData {
    /// The most keys: a tenth of the 10^9 distinct SSNs the generator can give.
    pub const MAX_KEYS: u64 = 100_000_000;
    /// The most rows of one key.
    pub const MAX_ROWS_PER_KEY: u32 = 1_000;
    /// The most rows in all.
    pub const MAX_ROWS: u64 = 100_000_000;

    /// Whether these settings are within the generator's bounds; the rule broken otherwise.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=Self::MAX_KEYS).contains(&self.keys) {
            return Err(format!("keys must be from 1 to {}", Self::MAX_KEYS));
        }
        if !(1..=Self::MAX_ROWS_PER_KEY).contains(&self.rows_per_key) {
            return Err(format!(
                "rows per key must be from 1 to {}",
                Self::MAX_ROWS_PER_KEY
            ));
        }
        if self.source_rows() > Self::MAX_ROWS {
            return Err(format!(
                "keys x rows per key is {} rows, and the generator makes at most {}",
                self.source_rows(),
                Self::MAX_ROWS
            ));
        }
        if self.bad_rows_percent > 100 {
            return Err("the share of bad rows must be from 0 to 100 (%)".to_owned());
        }
        if self
            .start_date
            .checked_add_days(Days::new(SAMPLE_DAYS))
            .is_none()
        {
            return Err(format!(
                "the start date must be at least {SAMPLE_DAYS} days before the last date chrono knows"
            ));
        }
        Ok(())
    }

    /// The date range covering every dated row.
    pub fn date_range(&self) -> DateRange {
        let to = self
            .start_date
            .checked_add_days(Days::new(SAMPLE_DAYS - 1))
            .unwrap_or(NaiveDate::MAX);
        DateRange::new(self.start_date, to).expect("from <= to")
    }

    /// Keys x rows per key (saturating: see [`Self::check`] for the bounds).
    pub fn source_rows(&self) -> u64 {
        self.keys.saturating_mul(u64::from(self.rows_per_key))
    }

    /// The SSN of key `k`: a permutation of 0..10^9 (the multiplier is coprime to 10), so keys
    /// never share an SSN while k < 10^9.
    fn key_ssn_digits(&self, key: u64) -> String {
        let n = (key.wrapping_mul(7_654_321).wrapping_add(self.seed)) % 1_000_000_000;
        format!("{n:09}")
    }

    fn dashed(digits: &str) -> String {
        format!("{}-{}-{}", &digits[..3], &digits[3..5], &digits[5..])
    }

    fn row_kind(&self, row: u64) -> RowKind {
        let hash = mix(self.seed ^ 0x5eed, row);
        if hash % 100 >= u64::from(self.bad_rows_percent) {
            RowKind::Valid
        } else if (hash >> 32).is_multiple_of(2) {
            RowKind::MissingDate
        } else {
            RowKind::BadSsnFormat
        }
    }

    fn row(&self, row: u64) -> VisitRow {
        let key = row / u64::from(self.rows_per_key.max(1));
        let digits = self.key_ssn_digits(key);
        let date = self
            .start_date
            .checked_add_days(Days::new(mix(self.seed, key) % SAMPLE_DAYS))
            .unwrap_or(NaiveDate::MAX);
        let hash = mix(self.seed.rotate_left(17), row);
        let (visit_date, ssn) = match self.row_kind(row) {
            RowKind::Valid => (Some(date), Self::dashed(&digits)),
            RowKind::MissingDate => (None, Self::dashed(&digits)),
            RowKind::BadSsnFormat => (Some(date), digits),
        };
        VisitRow {
            id: i64::try_from(row).map_or(i64::MAX, |row| row.saturating_add(1)),
            visit_date,
            ssn: Ssn::new(ssn),
            amount_cents: (hash % 100_000) as i64,
            provider: PROVIDERS[(hash >> 40) as usize % PROVIDERS.len()].to_owned(),
        }
    }

    /// Every source row, in id order.
    pub fn rows(self) -> impl Iterator<Item = VisitRow> + Send + 'static {
        (0..self.source_rows()).map(move |row| self.row(row))
    }

    /// Rows that must migrate, and rows that must be rejected, by the Task 02 rules.
    pub fn expected_split(&self) -> (u64, u64) {
        let rejected = (0..self.source_rows())
            .filter(|row| self.row_kind(*row) != RowKind::Valid)
            .count() as u64;
        (self.source_rows() - rejected, rejected)
    }

    /// Every SSN the data holds, in both spellings (dashed and nine digits), for tests proving
    /// no SSN leaks.
    pub fn ssn_spellings(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.keys).flat_map(|key| {
            let digits = self.key_ssn_digits(key);
            [Self::dashed(&digits), digits]
        })
    }

    /// Inserts the rows in one transaction; returns the number of rows. Settings out of
    /// [`Self::check`]'s bounds are refused before anything is written.
    pub async fn load_into(&self, warehouse: &Warehouse) -> Result<u64, HandlerError> {
        self.check()
            .map_err(|rule| HandlerError::invalid_input("sample", rule))?;
        warehouse.load_visits(self.rows()).await
    }
}

/// splitmix64 of `seed + value`: a fast, well-spread, deterministic hash.
fn mix(seed: u64, value: u64) -> u64 {
    let mut z = seed.wrapping_add(value.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(bad: u8) -> SampleData {
        SampleData {
            keys: 500,
            rows_per_key: 3,
            bad_rows_percent: bad,
            seed: 42,
            start_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_rows() {
        assert!(sample(10).rows().eq(sample(10).rows()));
        let other_seed = SampleData {
            seed: 43,
            ..sample(10)
        };
        assert!(!sample(10).rows().eq(other_seed.rows()));
    }

    #[test]
    fn bad_rows_follow_the_share_and_the_rules() {
        let data = sample(10);
        let rows: Vec<_> = data.rows().collect();
        let bad = rows
            .iter()
            .filter(|r| r.visit_date.is_none() || !r.ssn.is_valid_format())
            .count() as u64;
        let (_, expected_rejected) = data.expected_split();
        assert_eq!(bad, expected_rejected);
        assert!(
            (100..=200).contains(&bad),
            "about 10% of 1500 rows, got {bad}"
        );
        assert!(rows.iter().all(|r| {
            data.date_range()
                .contains(r.visit_date.unwrap_or(data.start_date))
        }));
        assert_eq!(sample(0).expected_split(), (1500, 0));
    }

    #[test]
    fn settings_out_of_bounds_are_refused_without_overflowing() {
        assert_eq!(sample(0).check(), Ok(()));
        for (keys, rows_per_key) in [
            (u64::MAX, 3),
            (0, 3),
            (SampleData::MAX_KEYS + 1, 1),
            (10, 0),
            (10, SampleData::MAX_ROWS_PER_KEY + 1),
            (SampleData::MAX_KEYS, 2),
        ] {
            let data = SampleData {
                keys,
                rows_per_key,
                ..sample(0)
            };
            assert!(data.check().is_err(), "{keys} x {rows_per_key}");
            let _ = (data.source_rows(), data.date_range(), data.rows().next());
        }
        let late = SampleData {
            start_date: NaiveDate::MAX,
            ..sample(0)
        };
        assert!(late.check().is_err());
        let _ = (late.date_range(), late.rows().next());
    }

    #[test]
    fn keys_have_distinct_ssns() {
        let data = sample(0);
        let mut ssns: Vec<_> = (0..data.keys).map(|k| data.key_ssn_digits(k)).collect();
        ssns.sort();
        ssns.dedup();
        assert_eq!(ssns.len() as u64, data.keys);
    }
}
