//! Typed paths: field lenses ([`field!`](crate::field)) that prove a field exists with its type,
//! paths built from them ([`path!`](crate::path)), and the paths a Map may read its items from
//! ([`ItemsPath`], [`S3ItemsObject`]).

use std::marker::PhantomData;

use schemars::JsonSchema;

use crate::bounded::BoundedVec;
use crate::path::{ReferencePath, SchemaRoot};
use crate::state::ReaderInputType;

/// A lens: the field of `Owner` whose JSON name is `name` and whose type is `T`. Built by
/// [`field!`](crate::field) from an accessor, which is what proves the field exists with that type.
pub struct Field<Owner, T> {
    name: &'static str,
    _types: PhantomData<fn(&Owner) -> &T>,
}

impl<Owner, T> Field<Owner, T> {
    #[doc(hidden)]
    pub fn new(name: &'static str, _accessor: fn(&Owner) -> &T) -> Self {
        Self {
            name,
            _types: PhantomData,
        }
    }

    /// The field's name, the key a path step through it writes.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The field lens `name` of whatever type the context expects: `field!(chunk_ids)`.
#[macro_export]
macro_rules! field {
    ($name:ident) => {
        $crate::typed::Field::new(stringify!($name), |owner| &owner.$name)
    };
}

/// A path from a value of type `Root` to a value of type `T` inside it.
pub struct Path<Root, T> {
    fields: Vec<&'static str>,
    _types: PhantomData<fn(&Root) -> &T>,
}

impl<Root, T> Clone for Path<Root, T> {
    fn clone(&self) -> Self {
        Self {
            fields: self.fields.clone(),
            _types: PhantomData,
        }
    }
}

impl<Root> Path<Root, Root> {
    /// `$`: the whole value.
    pub fn root() -> Self {
        Self {
            fields: Vec::new(),
            _types: PhantomData,
        }
    }
}

impl<Root, T> Path<Root, T> {
    /// One field further.
    pub fn at<U>(mut self, field: Field<T, U>) -> Path<Root, U> {
        self.fields.push(field.name);
        Path {
            fields: self.fields,
            _types: PhantomData,
        }
    }
}

impl<Root: JsonSchema, T> Path<Root, T> {
    /// The rendered path, annotated with `Root` so synth can resolve it in `Root`'s schema.
    pub fn reference(&self) -> ReferencePath {
        self.reference_from(ReferencePath::root())
    }

    /// The rendered path from `start` (`$` or a variable's `$name`), where a `Root` is.
    pub(super) fn reference_from(&self, start: ReferencePath) -> ReferencePath {
        self.fields
            .iter()
            .fold(start, |path, name| path.field(*name))
            .with_schema_root(SchemaRoot::of::<Root>())
    }
}

/// A typed path: `path!(Task02State.task02_chunks.chunk_ids)` is a
/// `Path<Task02State, S3Items<ChunkId>>`.
#[macro_export]
macro_rules! path {
    ($root:ident $(. $field:ident)*) => {
        $crate::typed::Path::<$root, $root>::root() $(.at($crate::field!($field)))*
    };
}

/// Where a Map reads its items: only a path to a `BoundedVec<Item, N>` qualifies (a list that
/// can grow with the data belongs in S3, read by `distributed_map_over`).
#[diagnostic::on_unimplemented(
    message = "ItemsPath must point at an array, but `{Self}` does not",
    label = "not a path to a `BoundedVec<_, N>`",
    note = "end the path at a `BoundedVec<Item, N>` field; each iteration then gets one `Item` (items stored in S3 are read by `distributed_map_over`)"
)]
pub trait ItemsPath {
    /// The type the path starts from: the Map's input.
    type Input;
    /// The array's element type: what each iteration gets.
    type Item;
    /// The path as the Map's `ItemsPath`.
    fn reference(&self) -> ReferencePath;
}

impl<In: JsonSchema, Item, const N: usize> ItemsPath for Path<In, BoundedVec<Item, N>> {
    type Input = In;
    type Item = Item;
    fn reference(&self) -> ReferencePath {
        Path::reference(self)
    }
}

/// A JSON object naming one S3 object whose content is an array of `Item`s, such as a handle a
/// handler returns: a Distributed Map's ItemReader takes its `Bucket` and `Key` from it, and the
/// Map's item is then an `Item`. Implement it for the handle type with its bucket and key fields.
#[diagnostic::on_unimplemented(
    message = "a Distributed Map reads its items from a typed S3 object, but `{Self}` is not one",
    label = "not a path to an `S3ItemsObject`",
    note = "end the path at a field whose type implements `asl::typed::S3ItemsObject` (a handle naming the bucket and key of a JSON array of items)"
)]
pub trait S3ItemsObject: Sized {
    /// The type of each element of the stored array: the Map's item.
    type Item;
    /// How the object stores its items.
    const INPUT_TYPE: ReaderInputType;
    /// The field holding the bucket's name.
    fn bucket() -> Field<Self, String>;
    /// The field holding the object's key.
    fn key() -> Field<Self, String>;
}
