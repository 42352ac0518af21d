//! Query languages, JSONata expressions and variables.

use serde_json::json;

use crate::validate::validate;

/// The errors of a definition given as JSON.
fn errors(definition: serde_json::Value) -> Vec<String> {
    let machine = crate::parse(&definition.to_string()).unwrap();
    validate(&machine)
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_field_of_the_other_language_is_refused_with_what_to_write_instead() {
    let found = errors(json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "QueryLanguage": "JSONata", "Resource": "arn:aws:lambda:us-east-1:1:function:f",
        "InputPath": "$.a", "TimeoutSecondsPath": "$.t", "End": true}}}));
    assert_eq!(
        found,
        [
            "state `T`: `InputPath` is a JSONPath field, but the state runs in JSONata: JSONata states shape their output with `Output` (and `$states.input`)",
            "state `T`: `TimeoutSecondsPath` is a JSONPath field, but the state runs in JSONata: in JSONata, write the value as a JSONata string `{% ... %}`",
        ]
    );
    let found = errors(json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Output": {"a": 1}, "End": true}}}));
    assert_eq!(
        found,
        [
            "state `P`: `Output` is a JSONata field, but the state runs in JSONPath: JSONPath states shape their output with ResultSelector, ResultPath and OutputPath"
        ]
    );
}

#[test]
fn a_jsonata_machine_has_no_jsonpath_state_and_its_expressions_parse() {
    let found = errors(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": {"StartAt": "In", "States": {"In": {"Type": "Pass",
            "QueryLanguage": "JSONPath", "End": true}}},
        "Output": {"n": "{% $count( %}"}, "End": true}}}),
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("state `M`: the JSONata expression in `Output/n` does not parse"));
    assert!(found[1].starts_with("state `M/In`: a state of a JSONata machine cannot use JSONPath"));
}

fn warnings(definition: serde_json::Value) -> Vec<String> {
    let machine = crate::parse(&definition.to_string()).unwrap();
    validate(&machine)
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_variable_no_state_assigns_is_a_warning_and_an_error_when_typed() {
    let read = |parameters: serde_json::Value| {
        json!({"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"known": 1}, "Next": "Read"},
            "Read": {"Type": "Pass", "Parameters": parameters, "End": true}}})
    };
    assert_eq!(
        warnings(read(json!({"a.$": "$known", "b.$": "$unknown.x"}))),
        [
            "state `Read`: Parameters reads `$unknown`, which no state of its scope or an enclosing one assigns: it is undefined when the state runs"
        ]
    );
    let jsonata = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {
        "Type": "Pass", "End": true,
        "Output": "{% ($n := 2; $map([1], function($v) { $v * $n + $sum([$missing]) })) %}"}}});
    assert_eq!(
        warnings(jsonata),
        [
            "state `P`: Output reads `$missing`, which no state of its scope or an enclosing one assigns: it is undefined when the state runs"
        ]
    );

    let mut machine = crate::parse(&read(json!({})).to_string()).unwrap();
    let crate::State::Pass(pass) = &mut machine.states[1] else {
        panic!("the Pass")
    };
    let typed = crate::typed::Variable::<u64>::new("total");
    let scope = crate::typed::StateInput::<u64>::new();
    use crate::Scope as _;
    pass.parameters = Some(
        crate::PayloadTemplate::new().with(
            "t",
            scope
                .variable_at(&typed, crate::typed::Path::root())
                .into_payload(),
        ),
    );
    let errors: Vec<String> = validate(&machine)
        .errors
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "state `Read`: Parameters reads `$total`, which no state of its scope or an enclosing one assigns: it is undefined when the state runs"
        ]
    );
}

/// AWS reserves `$states` and refuses a name that is not an identifier; a body assigning an
/// outer variable's name is accepted (AWS ran a Parallel whose branch and Catch both assign
/// `inputVar`): the body gets a variable of its own, which is worth a warning.
#[test]
fn assign_sets_no_reserved_name_and_an_outer_name_is_only_a_warning() {
    let definition = json!({"StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"total": 0, "states": 1, "1x": 2}, "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "In", "States": {"In": {
            "Type": "Pass", "Assign": {"total.$": "$.n", "mine": 1}, "End": true}}}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"mine": 2}, "Next": "Set"}],
            "End": true}}});
    let found = errors(definition.clone());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("`Assign` cannot set `$states`: AWS reserves the name"));
    assert!(found[1].contains("`1x` is not a variable name"));
    let warned = warnings(definition);
    for name in ["total", "mine"] {
        assert!(
            warned.iter().any(|w| w.starts_with(&format!(
                "state `P/In`: `Assign` sets `${name}`, a name an enclosing scope also assigns"
            ))),
            "{warned:?}"
        );
    }
}

/// The ASL grammar allows `Comment` in a retrier, a catcher and any Choice rule, nested ones
/// too; a rule's, a retrier's and a catcher's are kept when the definition is written back.
#[test]
fn a_comment_is_accepted_in_retriers_catchers_and_choice_rules() {
    let definition = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}],
            "Retry": [{"Comment": "once more", "ErrorEquals": ["E"], "MaxAttempts": 1}],
            "Catch": [{"Comment": "then decide", "ErrorEquals": ["States.ALL"], "Next": "C"}],
            "End": true},
        "C": {"Type": "Choice", "Choices": [
            {"Comment": "named", "Variable": "$.Error", "StringEquals": "E", "Next": "S"},
            {"And": [{"Comment": "nested", "Variable": "$.Error", "IsPresent": true}], "Next": "S"}],
            "Default": "S"},
        "S": {"Type": "Succeed"}}});
    assert_eq!(errors(definition.clone()), Vec::<String>::new());
    let machine = crate::parse(&definition.to_string()).unwrap();
    let written = serde_json::to_value(&machine).unwrap();
    assert_eq!(written["States"]["P"]["Retry"][0]["Comment"], "once more");
    assert_eq!(written["States"]["P"]["Catch"][0]["Comment"], "then decide");
    assert_eq!(written["States"]["C"]["Choices"][0]["Comment"], "named");
}

/// AWS's grammar: a JSONata rule's `Condition` is `true`, `false` or a `{% %}` string; it is
/// a JSONata field, and anything else is refused.
#[test]
fn a_constant_condition_is_a_jsonata_rule() {
    let choice = |language: &str, condition: serde_json::Value| {
        json!({"QueryLanguage": language, "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": condition, "Next": "S"}], "Default": "S"},
            "S": {"Type": "Succeed"}}})
    };
    let definition = choice("JSONata", json!(true));
    assert_eq!(errors(definition.clone()), Vec::<String>::new());
    let machine = crate::parse(&definition.to_string()).unwrap();
    let written = serde_json::to_value(&machine).unwrap();
    assert_eq!(written["States"]["C"]["Choices"][0]["Condition"], true);
    let found = errors(choice("JSONPath", json!(false)));
    assert!(
        found
            .iter()
            .any(|e| e.contains("`Condition` is a JSONata field")),
        "{found:?}"
    );
    let refused = crate::parse(&choice("JSONata", json!(1)).to_string()).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("`Condition` must be true, false or a JSONata string"),
        "{refused}"
    );
}

/// AWS's grammar allows `null` as a JSONata `Output` (and a Pass's `Result`): the state's
/// output is null, not its input.
#[test]
fn a_written_null_output_is_a_value_not_an_absent_field() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": null, "End": true}}});
    let machine = crate::parse(&definition.to_string()).unwrap();
    let crate::State::Pass(pass) = &machine.states[&crate::StateName::new("A").unwrap()] else {
        panic!("a Pass");
    };
    assert_eq!(pass.output, Some(serde_json::Value::Null));
    let written = serde_json::to_value(&machine).unwrap();
    assert_eq!(
        written["States"]["A"].get("Output"),
        Some(&serde_json::Value::Null)
    );
}

/// The ASL specification: BackoffRate is at least 1.0, IntervalSeconds and MaxDelaySeconds
/// are positive; AWS caps IntervalSeconds and MaxAttempts at 99999999 and MaxDelaySeconds at
/// 31622400.
#[test]
fn a_retrier_whose_interval_would_shrink_or_overflow_is_refused() {
    let retry = |retrier: serde_json::Value| {
        let mut retrier = retrier;
        retrier["ErrorEquals"] = json!(["States.ALL"]);
        errors(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel",
            "Branches": [{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}],
            "Retry": [retrier], "End": true}}}))
    };
    assert_eq!(
        retry(
            json!({"BackoffRate": 1.0, "IntervalSeconds": 1, "MaxAttempts": 0, "MaxDelaySeconds": 31_622_400})
        ),
        Vec::<String>::new()
    );
    let found = retry(json!({"BackoffRate": 0.5}));
    assert_eq!(
        found,
        [
            "state `P`: Retry[0]: BackoffRate is 0.5, but a retry interval may not shrink: give a number of at least 1.0"
        ]
    );
    for (field, value) in [
        ("IntervalSeconds", 0),
        ("IntervalSeconds", 100_000_000),
        ("MaxAttempts", 100_000_000),
        ("MaxDelaySeconds", 0),
        ("MaxDelaySeconds", 31_622_401),
    ] {
        let found = retry(json!({field: value}));
        assert_eq!(found.len(), 1, "{field} {value}: {found:?}");
        assert!(
            found[0].starts_with(&format!(
                "state `P`: Retry[0]: {field} is {value}: give a whole number from"
            )),
            "{found:?}"
        );
    }
}

/// A field inside an ItemReader, an ItemBatcher or a catcher is checked like the state's own: the
/// field table in `state/fields.rs` names them all.
#[test]
fn the_fields_of_an_object_inside_a_state_are_checked_for_their_language() {
    let found = errors(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Arguments": {"Bucket": "b", "Key": "{% $states.input.key( %}"}},
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.n"},
        "Output": {}, "End": true}}}),
    );
    assert!(
        found.iter().any(|e| e.contains(
            "`ItemBatcher.MaxItemsPerBatchPath` is a JSONPath field, but the state runs in JSONata: in JSONata, write the value as a JSONata string"
        )),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e
                .contains("the JSONata expression in `ItemReader.Arguments/Key` does not parse")),
        "{found:?}"
    );
}
