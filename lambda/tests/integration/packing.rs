//! Properties of chunk packing, over many seeded random key sequences and budgets: keys are
//! never split, reordered, lost or repeated; no chunk is empty; no chunk mixes kinds of key
//! (dated, undated); budgets hold except for a key larger than the row budget, which is alone;
//! each chunk is as full as the budget and its kind allow; and each kind's spans (of every key,
//! and of the valid dated keys) follow each other from the kind's start to its end with neither
//! gap nor overlap.
//!
//! 2,000 seeded random cases, plus a key larger than the row budget on its own.

use chrono::NaiveDate;
use etl_lambda::chunks::{KeyBounds, KeySpan};
use etl_lambda::contract::{ChunkBudget, DateRange};
use etl_lambda::{ChunkKey, ChunkPacker, Ssn};

fn range() -> DateRange {
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    DateRange::new(day, day).unwrap()
}

/// xorshift64*: a small deterministic generator for the cases.
struct Cases(u64);

impl Cases {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % below
    }
}

/// Keys in the warehouse's order: the dated ones, then the undated ones.
fn keys(cases: &mut Cases, count: u64, max_rows_per_key: u64) -> Vec<ChunkKey> {
    let day = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let dated = cases.next(count + 1);
    (0..count)
        .map(|i| ChunkKey {
            visit_date: (i < dated).then_some(day),
            // Dashed SSNs in order; a few invalid ones ("...x") between them.
            ssn: Ssn::new(format!(
                "{:03}-{:02}-{:04}{}",
                i / 1_000_000,
                i / 10_000 % 100,
                i % 10_000,
                if cases.next(5) == 0 { "x" } else { "" }
            )),
            rows: 1 + cases.next(max_rows_per_key),
            bad_visit_date: false,
        })
        .collect()
}

#[test]
fn packing_keeps_every_rule_over_random_inputs() {
    let mut cases = Cases(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2_000 {
        let budget = ChunkBudget {
            max_rows: 1 + cases.next(60) as u32,
            max_keys: 1 + cases.next(12) as u32,
        };
        let (count, max_rows_per_key) = (cases.next(200), 1 + cases.next(80));
        let input = keys(&mut cases, count, max_rows_per_key);
        let chunks = ChunkPacker::pack_all(budget, range(), input.clone());

        let flattened: Vec<_> = chunks.iter().flat_map(|c| c.keys.clone()).collect();
        assert_eq!(flattened, input, "every key once, in order, unsplit");
        for (i, chunk) in chunks.iter().enumerate() {
            assert!(!chunk.keys.is_empty(), "empty chunk");
            let kind = chunk.keys[0].kind();
            assert!(chunk.keys.iter().all(|k| k.kind() == kind), "mixed kinds");
            assert_eq!(chunk.rows, chunk.keys.iter().map(|k| k.rows).sum::<u64>());
            assert!(chunk.keys.len() as u32 <= budget.max_keys, "key budget");
            if chunk.rows > u64::from(budget.max_rows) {
                assert_eq!(
                    chunk.keys.len(),
                    1,
                    "only a single oversize key may exceed rows"
                );
            }
            // Greedy: the next chunk's first key did not fit in this one, or is of another kind.
            if let Some(next) = chunks.get(i + 1) {
                let first = &next.keys[0];
                assert!(
                    chunk.keys.len() as u32 == budget.max_keys
                        || chunk.rows + first.rows > u64::from(budget.max_rows)
                        || first.kind() != kind,
                    "chunk {i} closed early"
                );
            }
        }
        assert_spans_partition_each_kind(&chunks);
    }
}

/// Each kind's spans follow each other from the kind's start to its end with neither gap nor
/// overlap, and hold exactly their chunk's keys; for dated chunks, the spans of valid keys too.
fn assert_spans_partition_each_kind(chunks: &[etl_lambda::chunks::PackedChunk]) {
    let dated: Vec<_> = chunks
        .iter()
        .filter_map(|chunk| match &chunk.span {
            KeySpan::Dated {
                keys, valid_keys, ..
            } => Some((chunk, keys, valid_keys)),
            _ => None,
        })
        .collect();
    let undated: Vec<_> = chunks
        .iter()
        .filter_map(|chunk| match &chunk.span {
            KeySpan::Undated { keys } => Some(keys.clone()),
            _ => None,
        })
        .collect();
    assert_chain(&undated);
    assert_chain(
        &dated
            .iter()
            .map(|(_, keys, _)| (*keys).clone())
            .collect::<Vec<_>>(),
    );
    let valid: Vec<KeyBounds<_>> = dated.iter().filter_map(|(_, _, v)| (*v).clone()).collect();
    if !dated.is_empty() {
        assert_chain(&valid);
    }
    for (chunk, keys, valid_keys) in dated {
        let key = |k: &ChunkKey| (k.visit_date.unwrap(), k.ssn.expose().to_owned());
        let bound = |k: &etl_lambda::chunks::DatedKey| (k.visit_date, k.ssn.expose().to_owned());
        for k in &chunk.keys {
            assert!(keys.after.as_ref().is_none_or(|a| bound(a) < key(k)));
            assert!(keys.through.as_ref().is_none_or(|t| key(k) <= bound(t)));
        }
        let last_valid = chunk.keys.iter().rev().find(|k| k.ssn.is_valid_format());
        match valid_keys {
            None => assert!(last_valid.is_none() && keys.through.is_some()),
            Some(valid) if valid.through.is_some() => {
                assert_eq!(valid.through.as_ref().map(bound), last_valid.map(key))
            }
            Some(_) => assert!(keys.through.is_none(), "only the last span is open"),
        }
    }
}

fn assert_chain<K: PartialEq + std::fmt::Debug>(spans: &[KeyBounds<K>]) {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return;
    };
    assert!(
        first.after.is_none(),
        "the first span starts at the kind's start"
    );
    assert!(
        last.through.is_none(),
        "the last span reaches the kind's end"
    );
    for pair in spans.windows(2) {
        assert!(pair[0].through.is_some());
        assert_eq!(pair[0].through, pair[1].after, "neither gap nor overlap");
    }
}

#[test]
fn an_oversize_key_gets_a_chunk_of_its_own() {
    let key = |rows| ChunkKey {
        visit_date: None,
        ssn: Ssn::new("x"),
        rows,
        bad_visit_date: false,
    };
    let budget = ChunkBudget {
        max_rows: 10,
        max_keys: 5,
    };
    let chunks = ChunkPacker::pack_all(budget, range(), [key(3), key(25), key(4), key(4)]);
    let shapes: Vec<Vec<u64>> = chunks
        .iter()
        .map(|c| c.keys.iter().map(|k| k.rows).collect())
        .collect();
    assert_eq!(shapes, vec![vec![3], vec![25], vec![4, 4]]);
    assert!(
        ChunkPacker::pack_all(budget, range(), []).is_empty(),
        "no keys, no chunk"
    );
}
