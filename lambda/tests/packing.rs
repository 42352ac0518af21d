//! Properties of chunk packing, over many seeded random key sequences and budgets: keys are
//! never split, reordered, lost or repeated; no chunk is empty; no chunk mixes kinds of key
//! (dated, undated); budgets hold except for a key larger than the row budget, which is alone;
//! and each chunk is as full as the budget and its kind allow.
//!
//! 2,000 seeded random cases, plus a key larger than the row budget on its own.

use chrono::NaiveDate;
use etl_lambda::contract::ChunkBudget;
use etl_lambda::{ChunkKey, ChunkPacker, Ssn};

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
            ssn: Ssn::new(format!("{i:09}")),
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
        let chunks = ChunkPacker::pack_all(budget, input.clone());

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
    let chunks = ChunkPacker::pack_all(budget, [key(3), key(25), key(4), key(4)]);
    let shapes: Vec<Vec<u64>> = chunks
        .iter()
        .map(|c| c.keys.iter().map(|k| k.rows).collect())
        .collect();
    assert_eq!(shapes, vec![vec![3], vec![25], vec![4, 4]]);
    assert!(
        ChunkPacker::pack_all(budget, []).is_empty(),
        "no keys, no chunk"
    );
}
