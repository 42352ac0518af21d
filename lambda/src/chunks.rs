//! What a chunk is: the packing of ordered (visit_date, ssn) keys into chunks under a row and a
//! key budget, and the stored forms (one object per chunk plus a manifest) that GetTask02Chunks
//! writes and ProcessTask02Chunk reads.
//!
//! A stored chunk is a span of the warehouse's key order, of one kind (dated, undated, malformed
//! date): from just after the previous chunk's last key through its own last key, the last chunk
//! of a kind open to the kind's end. ProcessTask02Chunk reads its rows with one index range scan
//! instead of one probe per key, and the store holds a few SSNs per chunk (its bounds) rather
//! than every key's. Those bounds are still SSNs, so a chunk lives only in the chunk store (S3
//! with SSE, or a private local directory), never in a state payload.

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

/// A chunk as packed: its keys in order, their total row count, and the span of the key order
/// it is responsible for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedChunk {
    /// The chunk's keys, in the warehouse's key order (none for a chunk that only removes rows:
    /// see [`PackedChunk::whole_kind`]).
    pub keys: Vec<ChunkKey>,
    /// The source rows of those keys, summed.
    pub rows: u64,
    /// The region of the key order the chunk brings to what the source holds.
    pub span: KeySpan,
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

    fn dated(&self) -> Option<DatedKey> {
        self.visit_date.map(|visit_date| DatedKey {
            visit_date,
            ssn: self.ssn.clone(),
        })
    }
}

/// Packs ordered keys into chunks, streaming: push keys in order, take each chunk as it closes.
/// Rules: a key is never split; a chunk holds at most `max_keys` keys and at most `max_rows` rows,
/// except a key with more rows than `max_rows`, which gets a chunk of its own; no chunk is empty;
/// a chunk holds keys of one kind only. The spans of a kind's chunks follow each other with
/// neither gap nor overlap, from the kind's start to its end (see [`KeySpan`]).
#[derive(Debug)]
pub struct ChunkPacker {
    budget: ChunkBudget,
    date_range: DateRange,
    keys: Vec<ChunkKey>,
    rows: u64,
    /// The last key of the kind's chunks closed so far: the next span starts after it.
    after: Option<ChunkKey>,
    /// The last valid dated key of the kind's chunks closed so far.
    after_valid: Option<DatedKey>,
}

impl ChunkPacker {
    /// `budget` must have both limits at least 1 (the handler checks it before packing);
    /// `date_range` is the range the dated keys were read from.
    pub fn new(budget: ChunkBudget, date_range: DateRange) -> Self {
        assert!(
            budget.max_rows >= 1 && budget.max_keys >= 1,
            "chunk budget must be at least 1"
        );
        Self {
            budget,
            date_range,
            keys: Vec::new(),
            rows: 0,
            after: None,
            after_valid: None,
        }
    }

    /// Adds the next key; returns the chunk this key closed, if any. A key of another kind ends
    /// the kind before it, as [`ChunkPacker::end_kind`] does.
    pub fn push(&mut self, key: ChunkKey) -> Option<PackedChunk> {
        let closed = match self.keys.first() {
            Some(first) if first.kind() != key.kind() => self.end_kind(),
            Some(_)
                if self.keys.len() as u64 >= u64::from(self.budget.max_keys)
                    || self.rows + key.rows > u64::from(self.budget.max_rows) =>
            {
                Some(self.close(false))
            }
            _ => None,
        };
        self.rows += key.rows;
        self.keys.push(key);
        closed
    }

    /// Ends the current kind: returns its last chunk, whose span reaches the kind's end, or
    /// `None` when no key was pushed since the kind before.
    pub fn end_kind(&mut self) -> Option<PackedChunk> {
        let last = (!self.keys.is_empty()).then(|| self.close(true));
        self.after = None;
        self.after_valid = None;
        last
    }

    /// The last chunk, if any key is left.
    pub fn finish(mut self) -> Option<PackedChunk> {
        self.end_kind()
    }

    fn close(&mut self, last_of_kind: bool) -> PackedChunk {
        let keys = std::mem::take(&mut self.keys);
        let rows = std::mem::take(&mut self.rows);
        let last = keys.last().expect("a closed chunk has keys").clone();
        let span = match last.kind() {
            KeyKind::Dated => {
                let last_valid = keys
                    .iter()
                    .rev()
                    .find(|key| key.ssn.is_valid_format())
                    .and_then(ChunkKey::dated);
                // A chunk without a valid key has no part of the target, unless it is the last.
                let valid_keys = (last_of_kind || last_valid.is_some()).then(|| KeyBounds {
                    after: self.after_valid.clone(),
                    through: if last_of_kind {
                        None
                    } else {
                        last_valid.clone()
                    },
                });
                if last_valid.is_some() {
                    self.after_valid = last_valid;
                }
                KeySpan::Dated {
                    date_range: self.date_range,
                    keys: KeyBounds {
                        after: self.after.as_ref().and_then(ChunkKey::dated),
                        through: (!last_of_kind).then(|| last.dated()).flatten(),
                    },
                    valid_keys,
                }
            }
            kind => {
                let keys = KeyBounds {
                    after: self.after.as_ref().map(|key| key.ssn.clone()),
                    through: (!last_of_kind).then(|| last.ssn.clone()),
                };
                if kind == KeyKind::BadDate {
                    KeySpan::BadDate { keys }
                } else {
                    KeySpan::Undated { keys }
                }
            }
        };
        self.after = Some(last);
        PackedChunk { keys, rows, span }
    }

    /// Packs a whole sequence at once (tests and small inputs).
    pub fn pack_all(
        budget: ChunkBudget,
        date_range: DateRange,
        keys: impl IntoIterator<Item = ChunkKey>,
    ) -> Vec<PackedChunk> {
        let mut packer = Self::new(budget, date_range);
        let mut chunks: Vec<_> = keys
            .into_iter()
            .filter_map(|key| packer.push(key))
            .collect();
        chunks.extend(packer.finish());
        chunks
    }
}

impl PackedChunk {
    /// A chunk without keys whose span is the whole of `kind`: for a kind the source has no key
    /// of, while the target or the rejects still hold rows of it from an earlier run.
    pub fn whole_kind(kind: KeyKind, date_range: DateRange) -> Self {
        let span = match kind {
            KeyKind::Dated => KeySpan::Dated {
                date_range,
                keys: KeyBounds::open(),
                valid_keys: Some(KeyBounds::open()),
            },
            KeyKind::Undated => KeySpan::Undated {
                keys: KeyBounds::open(),
            },
            KeyKind::BadDate => KeySpan::BadDate {
                keys: KeyBounds::open(),
            },
        };
        Self {
            keys: Vec::new(),
            rows: 0,
            span,
        }
    }
}

/// A dated key: a bound of a dated span.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedKey {
    /// The key's visit date.
    pub visit_date: NaiveDate,
    /// The key's SSN.
    pub ssn: Ssn,
}

/// A region of one kind's key order: every key after `after` (excluded) through `through`
/// (included). An open side (`None`) reaches the kind's start or end: for dated keys, the first
/// or the last day of the date range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyBounds<K> {
    /// The last key before the region; `None`: from the kind's start.
    pub after: Option<K>,
    /// The region's last key; `None`: to the kind's end.
    pub through: Option<K>,
}

impl<K> KeyBounds<K> {
    /// The whole of a kind.
    pub fn open() -> Self {
        Self {
            after: None,
            through: None,
        }
    }
}

/// The region of the key order a chunk is responsible for, of one kind ((visit_date, ssn) for
/// dated keys, ssn for the others).
///
/// The spans of an execution's chunks of a kind follow each other with neither gap nor overlap,
/// from the kind's start to its end: each starts after the previous one's last key and the last
/// one is open. So every key, whether the source holds it or only the target or the rejects do
/// (a row deleted or re-keyed since an earlier run), is in exactly one chunk's span, and a chunk
/// that brings its span to what the source holds also removes what left the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeySpan {
    /// Dated keys of `date_range`, in (visit_date, ssn) order.
    Dated {
        /// The date range GetTask02Chunks read: where the open sides end.
        date_range: DateRange,
        /// Every key of the span: its rejects.
        keys: KeyBounds<DatedKey>,
        /// The same run of the key order drawn between valid keys (SSN `ddd-dd-dddd`), which
        /// the target keeps as nine digits: after the last valid key before the chunk, through
        /// its own last one. `None` when the chunk has no valid key and another chunk follows.
        valid_keys: Option<KeyBounds<DatedKey>>,
    },
    /// Undated keys (visit_date NULL), in ssn order.
    Undated {
        /// The span's bounds.
        keys: KeyBounds<Ssn>,
    },
    /// Keys of rows whose visit_date is not a date (SQLite only), in ssn order.
    BadDate {
        /// The span's bounds.
        keys: KeyBounds<Ssn>,
    },
}

impl KeySpan {
    /// The first and the last date a dated span's rows can have; `None` for the other kinds.
    pub fn dates(&self) -> Option<(NaiveDate, NaiveDate)> {
        let KeySpan::Dated {
            date_range,
            keys,
            valid_keys,
        } = self
        else {
            return None;
        };
        // Valid bounds never lie after the span's bounds of every key.
        let after = valid_keys
            .as_ref()
            .map_or(&keys.after, |valid| &valid.after);
        Some((
            after.as_ref().map_or(date_range.from, |key| key.visit_date),
            keys.through
                .as_ref()
                .map_or(date_range.to, |key| key.visit_date),
        ))
    }
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
