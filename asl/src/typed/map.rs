//! Typed Maps: an inline Map over an array in its input ([`map_over`]) or a Distributed Map over
//! the items of an S3 object ([`distributed_map_over`]), whose processor must take exactly what
//! the ItemSelector (or the ItemBatcher) builds.

use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::Serialize;

use super::{ItemsPath, MapItem, Path, PayloadSafe, S3ItemsObject, Selector, StateInput};
use crate::path::ReferencePath;
use crate::payload::{PayloadTemplate, PayloadValue};
use crate::state::{
    Branch, ExecutionType, ItemBatcher, ItemReader, Limit, MapState, ProcessorConfig,
    ProcessorMode, ReaderConfig, S3_GET_OBJECT, Transition,
};

/// The states a Map runs for each item, taking input of type `Input`; `Task` names what runs
/// first (a handler, for instance) so that a mismatch names it.
pub struct Processor<Input, Task> {
    branch: Branch,
    _types: PhantomData<fn(Input) -> Task>,
}

impl<Input, Task> Processor<Input, Task> {
    /// `branch` must start with a state that takes an `Input`.
    pub fn new(branch: Branch) -> Self {
        Self {
            branch,
            _types: PhantomData,
        }
    }
}

/// The processor's input type must be what the ItemSelector builds (with an ItemBatcher, an
/// [`ItemBatch`] of it). `Self` is the processor's input, so that rustc waits until the processor
/// is known before checking (a bound on the selector's type would let inference equate the two
/// and report a bare type mismatch).
#[diagnostic::on_unimplemented(
    message = "the Map passes its processor `{Sel}` but `{Task}` takes `{Self}`",
    label = "this processor does not take `{Sel}`",
    note = "build `{Self}` in the ItemSelector (`selector!({Self} {{ .. }})`), or give the Map a processor that takes `{Sel}`; after an ItemBatcher the processor takes `ItemBatch<what the ItemSelector builds, what the BatchInput builds>`"
)]
pub trait TakesSelector<Sel, Task> {}
impl<T, Task> TakesSelector<T, Task> for T {}

/// What each child execution of a batching Distributed Map receives: a batch of items, each built
/// by the ItemSelector, and the `BatchInput` built once from the Map's input. AWS's JSON shape
/// `{"Items": [...], "BatchInput": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize, JsonSchema)]
pub struct ItemBatch<Item, BatchInput> {
    /// `Items`: the batch's items, each built by the ItemSelector.
    #[serde(rename = "Items")]
    pub items: Vec<Item>,
    /// `BatchInput`: built once from the Map's input, the same for every batch.
    #[serde(rename = "BatchInput")]
    pub batch_input: BatchInput,
}

/// AWS caps a batch (`MaxInputBytesPerBatch`, and a child's input) at the payload limit.
impl<Item: PayloadSafe, BatchInput: PayloadSafe> PayloadSafe for ItemBatch<Item, BatchInput> {
    const MAX_JSON_BYTES: usize = crate::limits::PAYLOAD_BYTES;
}

/// How large a batch may grow (at least one of the two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchLimits {
    /// `MaxItemsPerBatch`: the most items in one batch.
    pub max_items: Option<u32>,
    /// `MaxInputBytesPerBatch`: the most bytes of JSON in one batch (at most 256 KiB).
    pub max_input_bytes: Option<u32>,
}

/// Marks a Map running its iterations in the parent execution.
pub enum Inline {}
/// Marks a Map running each item (or batch) as a child execution, reading its items from S3.
pub enum Distributed {}

/// Where a Map's items come from.
enum Items {
    /// An array in the Map's input (`ItemsPath`).
    Path(ReferencePath),
    /// An S3 object (`ItemReader`).
    Reader(ItemReader),
}

/// A Map under construction: `map_over(items)` (inline) or `distributed_map_over(items)`, then
/// `.item_selector(..)`, optionally `.item_batcher(..)` (distributed only), then `.processor(..)`.
pub struct MapOver<In, Item, Mode> {
    items: Items,
    _types: PhantomData<Types3<In, Item, Mode>>,
}

/// Starts an inline Map over the array at `items`.
pub fn map_over<P: ItemsPath>(items: P) -> MapOver<P::Input, P::Item, Inline> {
    MapOver {
        items: Items::Path(items.reference()),
        _types: PhantomData,
    }
}

/// Starts a Distributed Map over the items of the S3 object that `items` (a path in the Map's
/// input) names: an ItemReader (`arn:aws:states:::s3:getObject`) takes the object's bucket and key
/// from the handle at run time, and each child execution gets one `Object::Item`.
pub fn distributed_map_over<In: JsonSchema, Object: S3ItemsObject>(
    items: Path<In, Object>,
) -> MapOver<In, Object::Item, Distributed> {
    let handle = items.reference();
    let field = |name: &'static str| PayloadValue::Path(handle.clone().field(name));
    let reader = ItemReader {
        resource: S3_GET_OBJECT.into(),
        reader_config: Some(ReaderConfig {
            input_type: Some(Object::INPUT_TYPE),
            csv_header_location: None,
            csv_headers: None,
            csv_delimiter: None,
            max_items: None,
        }),
        arguments: None,
        parameters: Some(
            PayloadTemplate::new()
                .with("Bucket", field(Object::bucket().name()))
                .with("Key", field(Object::key().name())),
        ),
    };
    MapOver {
        items: Items::Reader(reader),
        _types: PhantomData,
    }
}

impl<In, Item, Mode> MapOver<In, Item, Mode> {
    /// What each iteration receives, built from the Map's input and the item.
    pub fn item_selector<Sel>(
        self,
        build: impl FnOnce(&MapItem<In, Item>) -> Selector<MapItem<In, Item>, Sel>,
    ) -> MapSelecting<In, Item, Sel, Mode> {
        MapSelecting {
            items: self.items,
            item_selector: build(&MapItem(PhantomData)).template,
            batcher: None,
            _types: PhantomData,
        }
    }
}

/// A Map with its ItemSelector, waiting for its processor.
pub struct MapSelecting<In, Item, Sel, Mode> {
    items: Items,
    item_selector: PayloadTemplate,
    batcher: Option<ItemBatcher>,
    _types: PhantomData<Types4<In, Item, Sel, Mode>>,
}

/// Marks types as used without owning a value of any.
type Types3<A, B, C> = fn() -> (A, B, C);
type Types4<A, B, C, D> = fn() -> (A, B, C, D);

impl<In, Item, Sel> MapSelecting<In, Item, Sel, Distributed> {
    /// Groups the selected items into batches under `limits`; each child execution then takes an
    /// [`ItemBatch`] of them with `batch_input`, built once from the Map's input.
    pub fn item_batcher<B>(
        self,
        limits: BatchLimits,
        batch_input: impl FnOnce(&StateInput<In>) -> Selector<StateInput<In>, B>,
    ) -> MapSelecting<In, Item, ItemBatch<Sel, B>, Distributed> {
        let batch_input = batch_input(&StateInput::new()).template;
        MapSelecting {
            items: self.items,
            item_selector: self.item_selector,
            batcher: Some(ItemBatcher {
                max_items_per_batch: limits.max_items.map(Limit::Fixed),
                max_input_bytes_per_batch: limits.max_input_bytes.map(Limit::Fixed),
                batch_input: Some(batch_input),
            }),
            _types: PhantomData,
        }
    }
}

impl<In, Item, Sel, Mode> MapSelecting<In, Item, Sel, Mode> {
    /// The states run per item (per batch with an ItemBatcher); they must take exactly what the
    /// ItemSelector (or the batcher) builds. A Distributed Map's children run as STANDARD
    /// executions unless the caller sets another `ExecutionType`.
    pub fn processor<P: ProcessorTypes>(self, processor: P, transition: Transition) -> MapState
    where
        P::Input: TakesSelector<Sel, P::Task>,
    {
        let mut map = MapState::inline(processor.into_branch(), transition);
        match self.items {
            Items::Path(path) => map.items_path = Some(path.into()),
            Items::Reader(reader) => {
                map.item_reader = Some(reader);
                map.item_processor.processor_config = Some(ProcessorConfig {
                    mode: ProcessorMode::Distributed,
                    execution_type: Some(ExecutionType::Standard),
                });
            }
        }
        map.item_selector = Some(self.item_selector);
        map.item_batcher = self.batcher;
        map
    }
}

/// A processor's input and task types as associated types: taken from the argument, they are
/// known before the selector is compared with them, so a mismatch is reported by
/// [`TakesSelector`]'s message rather than as a plain type mismatch.
pub trait ProcessorTypes {
    /// What each iteration receives: the processor's input type.
    type Input;
    /// What runs first in the processor, named when the selector does not match.
    type Task;
    /// The processor's states, untyped.
    fn into_branch(self) -> Branch;
}

impl<Input, Task> ProcessorTypes for Processor<Input, Task> {
    type Input = Input;
    type Task = Task;
    fn into_branch(self) -> Branch {
        self.branch
    }
}
