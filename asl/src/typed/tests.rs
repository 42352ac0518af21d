//! The typed layer's tests: Maps rendered and validated, variables read and assigned.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value as Json, json};

use super::*;
use crate::bounded::BoundedVec;
use crate::query::VariableName;
use crate::state::{
    Branch, MapState, PassState, ReaderInputType, State, StateMachine, StateName, States,
    Transition,
};
use crate::validate::validate;

/// Names an S3 object holding a JSON Lines list of ids.
#[derive(Serialize, JsonSchema)]
struct IdList {
    bucket: String,
    key: String,
}

impl S3ItemsObject for IdList {
    type Item = u32;
    const INPUT_TYPE: ReaderInputType = ReaderInputType::Jsonl;
    fn bucket() -> Field<Self, String> {
        crate::field!(bucket)
    }
    fn key() -> Field<Self, String> {
        crate::field!(key)
    }
}

/// The Map's input.
#[derive(Serialize, JsonSchema)]
struct Run {
    run: Text,
    ids: IdList,
    inline_ids: BoundedVec<u32, 10>,
}

/// What each iteration works on.
#[derive(Serialize, JsonSchema)]
struct Work {
    run: Text,
    id: u32,
}

/// What a batch shares.
#[derive(Serialize, JsonSchema)]
struct Shared {
    run: Text,
}

/// A run's name in these tests.
type Text = crate::BoundedString<40>;

impl PayloadSafe for Work {
    const MAX_JSON_BYTES: usize = 400;
}
impl PayloadSafe for Shared {
    const MAX_JSON_BYTES: usize = 400;
}

fn processor<Input>() -> Processor<Input, ()> {
    let name = StateName::new("Work").unwrap();
    let pass = State::Pass(PassState::new(Transition::End));
    Processor::new(Branch {
        comment: None,
        start_at: name.clone(),
        states: States::from_iter([(name, pass)]),
    })
}

fn rendered(map: &MapState) -> Json {
    serde_json::to_value(map).unwrap()
}

/// The typed paths of `map` resolve in their schema roots, and nothing else is wrong.
fn assert_valid(map: MapState) {
    let name = StateName::new("Each").unwrap();
    let machine = StateMachine {
        query_language: None,
        comment: None,
        version: None,
        start_at: name.clone(),
        timeout_seconds: None,
        states: States::from_iter([(name, State::Map(map))]),
    };
    assert!(validate(&machine).is_ok(), "{:?}", validate(&machine));
}

fn work_selector(item: &MapItem<Run, u32>) -> Selector<MapItem<Run, u32>, Work> {
    crate::selector!(Work {
        run: item.input(crate::path!(Run.run)),
        id: item.item(),
    })
}

#[test]
fn distributed_map_over_reads_the_object_the_handle_names() {
    let map = distributed_map_over(crate::path!(Run.ids))
        .item_selector(work_selector)
        .processor(processor::<Work>(), Transition::End);
    let json = rendered(&map);
    assert_eq!(
        json["ItemReader"],
        json!({
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL"},
            "Parameters": {"Bucket.$": "$.ids.bucket", "Key.$": "$.ids.key"},
        })
    );
    assert_eq!(
        json["ItemProcessor"]["ProcessorConfig"],
        json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    );
    assert_eq!(
        json["ItemSelector"],
        json!({"run.$": "$.run", "id.$": "$$.Map.Item.Value"})
    );
    assert!(json.get("ItemsPath").is_none() && json.get("ItemBatcher").is_none());
    assert_valid(map);
}

#[test]
fn item_batcher_renders_its_limits_and_batch_input() {
    let map = distributed_map_over(crate::path!(Run.ids))
        .item_selector(work_selector)
        .item_batcher(
            BatchLimits {
                max_items: Some(50),
                max_input_bytes: None,
            },
            |input| {
                crate::selector!(Shared {
                    run: input.input(crate::path!(Run.run)),
                })
            },
        )
        .processor(processor::<ItemBatch<Work, Shared>>(), Transition::End);
    assert_eq!(
        rendered(&map)["ItemBatcher"],
        json!({"MaxItemsPerBatch": 50, "BatchInput": {"run.$": "$.run"}})
    );
    assert_valid(map);
}

/// A variable's value: a run's counts.
#[derive(Serialize, JsonSchema)]
struct Totals {
    rows: u64,
}

impl PayloadSafe for Totals {
    const MAX_JSON_BYTES: usize = 40;
}

/// What a later state builds from variables.
#[derive(Serialize, JsonSchema)]
struct Report {
    run: Text,
    rows: u64,
    totals: Totals,
}

impl PayloadSafe for Report {
    const MAX_JSON_BYTES: usize = 400;
}

#[test]
fn reading_a_variable_renders_a_path_from_its_name() {
    let run = crate::variable!(run: Text);
    let totals = crate::variable!(totals: Totals);
    let state = StateInput::<Run>::new();
    let report = crate::selector!(Report {
        run: state.variable(&run),
        rows: state.variable_at(&totals, crate::path!(Totals.rows)),
        totals: state.variable(&totals),
    });
    let rendered = serde_json::to_value(&report.template).unwrap();
    assert_eq!(
        rendered,
        json!({"run.$": "$run", "rows.$": "$totals.rows", "totals.$": "$totals"})
    );
    // The path into the variable resolves in the variable type's schema, like any typed path.
    let rows = report.template.get("rows").unwrap().reference_paths()[0].clone();
    assert_eq!(rows.variable().map(VariableName::as_str), Some("totals"));
    assert_eq!(rows.schema_root().unwrap().type_name(), "Totals");
}

#[test]
fn assignments_render_paths_context_values_literals_and_objects_as_aws_reads_them() {
    let run = crate::variable!(run: Text);
    let rows = crate::variable!(rows: u64);
    let retries = crate::variable!(retries: u32);
    let totals = crate::variable!(totals: Totals);
    let from_result = StateResult::<Run>::new();
    let assign = Assignments::new()
        .set(&run, from_result.input(crate::path!(Run.run)))
        .set(&retries, from_result.context(context::StateRetryCount))
        .set(&rows, Value::literal(&0))
        .set(
            &totals,
            crate::selector!(Totals {
                rows: Value::literal(&7),
            })
            .into(),
        )
        .build();
    assert_eq!(
        serde_json::to_value(&assign).unwrap(),
        json!({
            "run.$": "$.run",
            "retries.$": "$$.State.RetryCount",
            "rows": 0,
            "totals": {"rows": 7},
        })
    );
    let keys: Vec<&str> = assign.0.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["run.$", "retries.$", "rows", "totals"],
        "in the order set"
    );
    assert!(assign.variables().all(|(name, _)| name.is_ok()));
}

#[test]
fn setting_a_variable_again_replaces_its_value_whatever_its_kind() {
    let run = crate::variable!(run: Text);
    let state = StateInput::<Run>::new();
    let assign = Assignments::new()
        .set(&run, state.input(crate::path!(Run.run)))
        .set(&run, Value::literal(&Text::new("fixed").unwrap()))
        .build();
    assert_eq!(
        serde_json::to_value(&assign).unwrap(),
        json!({"run": "fixed"})
    );
}

#[test]
fn a_variable_name_aws_refuses_is_refused_by_both_constructors() {
    use __private::is_variable_name;
    for good in ["total", "_x", "x_1", &"a".repeat(80)] {
        assert!(is_variable_name(good), "{good}");
    }
    for bad in ["", "states", "1x", "a-b", "café", "r#type", &"a".repeat(81)] {
        assert!(!is_variable_name(bad), "{bad}");
        let panicked = std::panic::catch_unwind(|| Variable::<u64>::new(bad));
        assert!(panicked.is_err(), "Variable::new({bad:?}) did not panic");
    }
    assert_eq!(Variable::<u64>::new("total").name().as_str(), "total");
}

#[test]
fn map_over_reads_the_array_at_items_path_inline() {
    let map = map_over(crate::path!(Run.inline_ids))
        .item_selector(work_selector)
        .processor(processor::<Work>(), Transition::End);
    let json = rendered(&map);
    assert_eq!(json["ItemsPath"], "$.inline_ids");
    assert_eq!(
        json["ItemProcessor"]["ProcessorConfig"],
        json!({"Mode": "INLINE"})
    );
    assert!(json.get("ItemReader").is_none());
    assert_valid(map);
}
