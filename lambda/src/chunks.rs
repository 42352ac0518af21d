//! What a chunk is: the packing of ordered (visit_date, ssn) keys into chunks under a row and a
//! key budget, and the stored forms (one object per chunk plus a manifest) that GetTask02Chunks
//! writes and ProcessTask02Chunk reads.
//!
//! A stored chunk is a span of the warehouse's key order: every key from its first to its last,
//! of one kind (dated, undated, malformed date). ProcessTask02Chunk reads its rows with one index
//! range scan instead of one probe per key, and the store holds two SSNs per chunk (its bounds)
//! rather than every key's. Those bounds are still SSNs, so a chunk lives only in the chunk store
//! (S3 with SSE, or a private local directory), never in a state payload.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::contract::{ChunkBudget, ChunkId, DateRange, ExecutionName};
use crate::ssn::Ssn;

/// One distinct source key and how many source rows it has. `visit_date` is `None` for the
/// undated rows and for the rows whose date is not a date (`bad_visit_date`), which are packed
/// after every dated key (see the warehouse notes: they are rejected).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkKey {
    /// The key's visit date; `None` for undated rows and for `bad_visit_date` rows.
    pub visit_date: Option<NaiveDate>,
    /// The key's SSN, as the source holds it.
    pub ssn: Ssn,
    /// How many source rows have this key.
    pub rows: u64,
    /// The key of this SSN's rows whose visit_date the source holds but is not a date (SQLite
    /// keeps dates as text: '2024-13-45', 'yesterday'); they are rejected as `bad_visit_date`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bad_visit_date: bool,
}

/// A chunk in the making or as stored: its keys in order and their total row count.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PackedChunk {
    /// The chunk's keys, in the warehouse's key order.
    pub keys: Vec<ChunkKey>,
    /// The source rows of those keys, summed.
    pub rows: u64,
}

/// Which of the three runs of keys, in the warehouse's order, a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A key with a visit date, ordered by (visit_date, ssn).
    Dated,
    /// A key whose source rows have no visit date, ordered by ssn.
    Undated,
    /// The source holds a visit_date that is not a date (SQLite only).
    BadDate,
}

impl ChunkKey {
    /// Which run of the key order this key is in: dated, undated or bad date.
    pub fn kind(&self) -> KeyKind {
        match (self.visit_date, self.bad_visit_date) {
            (Some(_), _) => KeyKind::Dated,
            (None, false) => KeyKind::Undated,
            (None, true) => KeyKind::BadDate,
        }
    }
}

/// Packs ordered keys into chunks, streaming: push keys in order, take each chunk as it closes.
/// Rules: a key is never split; a chunk holds at most `max_keys` keys and at most `max_rows` rows,
/// except a key with more rows than `max_rows`, which gets a chunk of its own; no chunk is empty;
/// a chunk holds keys of one kind only (so it is one span of the key order).
#[derive(Debug)]
pub struct ChunkPacker {
    budget: ChunkBudget,
    current: PackedChunk,
}

impl ChunkPacker {
    /// `budget` must have both limits at least 1 (the handler checks it before packing).
    pub fn new(budget: ChunkBudget) -> Self {
        assert!(
            budget.max_rows >= 1 && budget.max_keys >= 1,
            "chunk budget must be at least 1"
        );
        Self {
            budget,
            current: PackedChunk::default(),
        }
    }

    /// Adds the next key; returns the chunk this key closed, if any.
    pub fn push(&mut self, key: ChunkKey) -> Option<PackedChunk> {
        let full = self.current.keys.first().is_some_and(|first| {
            first.kind() != key.kind()
                || self.current.keys.len() as u64 >= u64::from(self.budget.max_keys)
                || self.current.rows + key.rows > u64::from(self.budget.max_rows)
        });
        let closed = full.then(|| std::mem::take(&mut self.current));
        self.current.rows += key.rows;
        self.current.keys.push(key);
        closed
    }

    /// The last, partly filled chunk, if any key is left.
    pub fn finish(self) -> Option<PackedChunk> {
        (!self.current.keys.is_empty()).then_some(self.current)
    }

    /// Packs a whole sequence at once (tests and small inputs).
    pub fn pack_all(
        budget: ChunkBudget,
        keys: impl IntoIterator<Item = ChunkKey>,
    ) -> Vec<PackedChunk> {
        let mut packer = Self::new(budget);
        let mut chunks: Vec<_> = keys
            .into_iter()
            .filter_map(|key| packer.push(key))
            .collect();
        chunks.extend(packer.finish());
        chunks
    }
}

impl PackedChunk {
    /// The span of this chunk's keys: from its first key to its last.
    ///
    /// # Panics
    /// On an empty chunk, which the packer never makes.
    pub fn span(&self) -> KeySpan {
        let (first, last) = (
            self.keys.first().expect("a packed chunk has keys"),
            self.keys.last().expect("a packed chunk has keys"),
        );
        match (first.visit_date, last.visit_date, first.kind()) {
            (Some(first_date), Some(last_date), _) => KeySpan::Dated {
                first: DatedKey {
                    visit_date: first_date,
                    ssn: first.ssn.clone(),
                },
                last: DatedKey {
                    visit_date: last_date,
                    ssn: last.ssn.clone(),
                },
            },
            (_, _, KeyKind::BadDate) => KeySpan::BadDate {
                first: first.ssn.clone(),
                last: last.ssn.clone(),
            },
            _ => KeySpan::Undated {
                first: first.ssn.clone(),
                last: last.ssn.clone(),
            },
        }
    }
}

/// A dated key: a bound of a dated span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedKey {
    /// The key's visit date.
    pub visit_date: NaiveDate,
    /// The key's SSN.
    pub ssn: Ssn,
}

/// The keys of a chunk: every key of one kind from `first` to `last`, both included, in the
/// warehouse's key order ((visit_date, ssn) for dated keys, ssn for the others).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeySpan {
    /// Dated keys, in (visit_date, ssn) order.
    Dated {
        /// The span's first key.
        first: DatedKey,
        /// The span's last key.
        last: DatedKey,
    },
    /// Undated keys (visit_date NULL), in ssn order.
    Undated {
        /// The SSN of the span's first key.
        first: Ssn,
        /// The SSN of the span's last key.
        last: Ssn,
    },
    /// Keys of rows whose visit_date is not a date (SQLite only), in ssn order.
    BadDate {
        /// The SSN of the span's first key.
        first: Ssn,
        /// The SSN of the span's last key.
        last: Ssn,
    },
}

/// One chunk as stored: stamped with the format version and the execution, so a reader can refuse
/// a chunk from another build or another execution.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredChunk {
    /// The chunk format it was written with ([`crate::contract::CHUNK_FORMAT_VERSION`]).
    pub format_version: u16,
    /// The execution that wrote it, so a reader can tell a chunk of another execution.
    pub execution: ExecutionName,
    /// The chunk's id within the execution.
    pub chunk_id: ChunkId,
    /// Keys and rows when the chunk was packed (the rows a run then finds may differ, if the
    /// source changed in between: the span is what is migrated).
    pub keys: u64,
    /// The source rows of those keys.
    pub rows: u64,
    /// The keys the chunk covers: what ProcessTask02Chunk migrates.
    pub span: KeySpan,
}

/// Written after every chunk of an execution: its presence says the chunk set is complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The chunk format the execution's chunks were written with.
    pub format_version: u16,
    /// The execution whose chunk set this completes.
    pub execution: ExecutionName,
    /// The visit dates GetTask02Chunks read the dated keys of.
    pub date_range: DateRange,
    /// How many chunks the execution stored (ids `0..num_chunks`).
    pub num_chunks: u32,
    /// How many keys the chunks hold in all.
    pub total_keys: u64,
    /// How many source rows those keys had when packed.
    pub total_rows: u64,
}
