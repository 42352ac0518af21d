//! The JSONata evaluation's tests: AWS's added functions, the standard ones replaced, key order,
//! error positions, templates and the bounds on depth, time and nesting.

use std::cell::Cell;

use serde_json::json;

use super::*;
use crate::eval::random::splitmix64;

/// Evaluates `text` on `states` and `variables`, with draws counting up from `seed`.
fn run_seeded(text: &str, states: Value, variables: Value, seed: u64) -> Option<Value> {
    let expr = Expression::parse(text).expect("the expression parses");
    let variables = variables.as_object().cloned().unwrap_or_default();
    let draws = Cell::new(seed);
    let draw = || {
        draws.set(draws.get() + 1);
        splitmix64(draws.get())
    };
    let bindings = Bindings {
        states: &states,
        variables: &variables,
        draw: &draw,
    };
    evaluate(&expr, &bindings).expect("the expression evaluates")
}

fn run(text: &str) -> Value {
    run_seeded(text, json!({}), json!({}), 0).expect("a value")
}

fn error(text: &str) -> QueryError {
    let expr = Expression::parse(text).expect("the expression parses");
    let (states, variables) = (json!({}), Map::new());
    let bindings = Bindings {
        states: &states,
        variables: &variables,
        draw: &|| 7,
    };
    evaluate(&expr, &bindings).expect_err("the evaluation fails")
}

#[test]
fn partition_chunks_an_array() {
    assert_eq!(run("$partition([0,1,2], 2)"), json!([[0, 1], [2]]));
    assert_eq!(run("$partition([0], 5)"), json!([[0]]));
    assert_eq!(
        run("$partition([1,2,3,4,5,6,7,8,9], 3)"),
        json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    );
    assert!(
        matches!(error("$partition([1], 0)"), QueryError::Evaluation { message, .. } if message.contains("$partition"))
    );
}

#[test]
fn range_includes_its_end() {
    assert_eq!(run("$range(0, 10, 2)"), json!([0, 2, 4, 6, 8, 10]));
    assert_eq!(run("$range(3, 1, -1)"), json!([3, 2, 1]));
    assert!(matches!(
        error("$range(0, 1, 0)"),
        QueryError::Evaluation { .. }
    ));
}

#[test]
fn hash_gives_known_digests() {
    assert_eq!(
        run("$hash('input data', 'SHA-256')"),
        json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
    );
    assert_eq!(
        run("$hash('input data', 'MD5')"),
        json!("812f45842bc6d66ee14572ce20db8e86")
    );
    assert_eq!(run("$length($hash('x', 'SHA-512'))"), json!(128));
    let QueryError::Evaluation { message, .. } = error("$hash('x', 'SHA-3')") else {
        panic!("not an evaluation error");
    };
    assert!(
        message.contains("$hash") && message.contains("SHA-3"),
        "{message}"
    );
}

#[test]
fn random_is_in_range_and_reproducible() {
    let draw = |seed| run_seeded("$random()", json!({}), json!({}), seed).unwrap();
    for seed in 0..50 {
        let n = draw(seed).as_f64().unwrap();
        assert!((0.0..1.0).contains(&n), "{n}");
        assert_eq!(draw(seed), json!(n));
    }
    assert_ne!(draw(1), draw(2));
    // Two draws in one evaluation differ.
    assert_eq!(run("$random() = $random()"), json!(false));
    // A seed argument decides the value, whatever the draws.
    let seeded = |seed| run_seeded("$random(42)", json!({}), json!({}), seed).unwrap();
    assert_eq!(seeded(1), seeded(2));
    assert!((0.0..1.0).contains(&seeded(1).as_f64().unwrap()));
    assert_ne!(run("$random(1)"), run("$random(2)"));
}

#[test]
fn uuid_is_v4_shaped_and_reproducible() {
    let shape = regex_lite::Regex::new(
        "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
    )
    .unwrap();
    let uuid = run("$uuid()");
    assert!(shape.is_match(uuid.as_str().unwrap()), "{uuid}");
    assert_eq!(run("$uuid()"), uuid);
    assert_eq!(run("$uuid() = $uuid()"), json!(false));
}

#[test]
fn parse_reads_json_text() {
    assert_eq!(
        run(r#"$parse('{"a": [1, 2.5, "x", null, true]}')"#),
        json!({"a": [1, 2.5, "x", null, true]})
    );
    assert_eq!(
        run_seeded(
            "$parse($states.input.text).b",
            json!({"input": {"text": "{\"b\": 3}"}}),
            json!({}),
            0
        ),
        Some(json!(3))
    );
    assert!(matches!(
        error("$parse('{')"),
        QueryError::Evaluation { .. }
    ));
}

#[test]
fn added_standard_functions() {
    assert_eq!(run("$average([1, 2, 3, 4])"), json!(2.5));
    assert_eq!(run("$average(4)"), json!(4));
    assert_eq!(run_seeded("$average([])", json!({}), json!({}), 0), None);
    assert!(matches!(
        error("$average(['a'])"),
        QueryError::Evaluation { .. }
    ));

    assert_eq!(
        run("[$type(1), $type('a'), $type(true), $type(null), $type([]), $type({}), $type($sum)]"),
        json!([
            "number", "string", "boolean", "null", "array", "object", "function"
        ])
    );
    assert_eq!(run_seeded("$type($nothing)", json!({}), json!({}), 0), None);

    assert_eq!(
        run(r#"$spread({"a": 1, "b": 2})"#),
        json!([{"a": 1}, {"b": 2}])
    );
    assert_eq!(
        run(r#"$spread([{"a": 1}, {"b": 2}])"#),
        json!([{"a": 1}, {"b": 2}])
    );
    assert_eq!(run("$spread(5)"), json!(5));

    assert_eq!(
        run(r#"$sift({"a": 1, "b": 2, "c": 3}, function($v) { $v > 1 })"#),
        json!({"b": 2, "c": 3})
    );
    assert_eq!(
        run(r#"$sift({"ab": 1, "b": 2}, function($v, $k) { $contains($k, 'a') })"#),
        json!({"ab": 1})
    );

    let shuffled = |seed| run_seeded("$shuffle([1..20])", json!({}), json!({}), seed).unwrap();
    let mut items: Vec<i64> = shuffled(3)
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(shuffled(3), shuffled(3));
    assert_ne!(shuffled(3), shuffled(4));
    items.sort();
    assert_eq!(items, (1..=20).collect::<Vec<_>>());
}

#[test]
fn reads_states_and_variables() {
    let states = json!({"input": {"x": "hello", "input_values": [1, 2, 3]}, "context": {}});
    let vars = json!({"var_constant_1": 5, "status": "done"});
    let read = |text| run_seeded(text, states.clone(), vars.clone(), 0);
    assert_eq!(read("$states.input.x"), Some(json!("hello")));
    assert_eq!(
        read("$sum($states.input.input_values) + $var_constant_1"),
        Some(json!(11))
    );
    assert_eq!(
        read("$exists($status) ? 'completed' : 'running'"),
        Some(json!("completed"))
    );
    assert_eq!(
        read("$exists($other) ? 'completed' : 'running'"),
        Some(json!("running"))
    );
    assert_eq!(read("$variable := 1"), Some(json!(1)));
    assert_eq!(read("$doesNotExist"), None);
    assert_eq!(read("$states.input.missing"), None);
}

#[test]
fn numbers_come_back_as_json_numbers() {
    assert_eq!(run("1 + 2"), json!(3));
    assert!(run("1 + 2").is_i64());
    assert_eq!(run("7 / 2"), json!(3.5));
    assert_eq!(run("0.1 + 0.2"), json!(0.1 + 0.2));
    let QueryError::Evaluation { message, .. } = error("1e300 * 1e300") else {
        panic!("not an evaluation error");
    };
    assert!(message.contains("D1001"), "{message}");
}

#[test]
fn objects_keep_the_written_and_the_input_order() {
    assert_eq!(
        run(r#"{"zeta": 1, "alpha": 2, "mid": {"y": 1, "b": 2}}"#).to_string(),
        r#"{"zeta":1,"alpha":2,"mid":{"y":1,"b":2}}"#
    );
    let input = json!({"input": {"k": 1, "c": 2, "x": {"q": 1, "a": 2}}});
    assert_eq!(
        run_seeded("$states.input", input.clone(), json!({}), 0)
            .unwrap()
            .to_string(),
        r#"{"k":1,"c":2,"x":{"q":1,"a":2}}"#
    );
    assert_eq!(
        run_seeded(
            r#"$merge([$states.input, {"added": 3}])"#,
            input,
            json!({}),
            0
        )
        .unwrap()
        .to_string(),
        r#"{"k":1,"c":2,"x":{"q":1,"a":2},"added":3}"#
    );
    // JavaScript lists integer-like keys first.
    assert_eq!(
        run(r#"{"b": 1, "2": 2, "1": 3}"#).to_string(),
        r#"{"1":3,"2":2,"b":1}"#
    );
}

#[test]
fn errors_point_into_the_expression_as_written() {
    // The block that reseeds `$random` must not move the reported position.
    let plain = error("$undefinedFn(1)");
    let reseeded = error("$undefinedFn($random())");
    let position = |error: &QueryError| match error {
        QueryError::Evaluation { message, .. } => message.clone(),
        other => panic!("{other}"),
    };
    assert_eq!(
        position(&plain).split(':').next(),
        position(&reseeded).split(':').next()
    );
}

#[test]
fn expressions_are_found_only_between_the_markers() {
    assert_eq!(
        expression_in("{% $states.input.x %}")
            .unwrap()
            .unwrap()
            .text(),
        "$states.input.x"
    );
    assert!(expression_in("$states.input.x").is_none());
    assert!(expression_in("{% x").is_none());
    let syntax = expression_in("{% $states.input. %}").unwrap().unwrap_err();
    assert_eq!(syntax.expression, "$states.input.");
    assert!(
        syntax
            .to_string()
            .starts_with("The JSONata expression '$states.input.' is not valid: S0"),
        "{syntax}"
    );
}

#[test]
fn templates_evaluate_their_expression_strings() {
    let states = json!({"input": {"x": 1}});
    let variables = Map::new();
    let bindings = Bindings {
        states: &states,
        variables: &variables,
        draw: &|| 0,
    };
    let template = json!({
        "plain": "$states.input.x",
        "value": "{% $states.input.x + 1 %}",
        "list": ["{% 'a' & 'b' %}", 2, {"deep": "{%$states.input%}"}],
        "keep": [true, null, 1.5]
    });
    assert_eq!(
        evaluate_template(&template, "Output", &bindings),
        Ok(json!({
            "plain": "$states.input.x",
            "value": 2,
            "list": ["ab", 2, {"deep": {"x": 1}}],
            "keep": [true, null, 1.5]
        }))
    );
    let undefined = evaluate_template(
        &json!({"ok": 1, "result": "{% $doesNotExist %}"}),
        "Output",
        &bindings,
    )
    .unwrap_err();
    assert_eq!(
        undefined.to_string(),
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    );
    let nested =
        evaluate_template(&json!({"a": ["{% $nope %}"]}), "Arguments", &bindings).unwrap_err();
    assert_eq!(
        nested,
        QueryError::Undefined {
            expression: "$nope".into(),
            field: "Arguments/a/0".into()
        }
    );
    let failed = evaluate_template(&json!("{% $sum('a') %}"), "Output", &bindings).unwrap_err();
    assert!(
        failed.to_string().starts_with(
            "The JSONata expression '$sum('a')' specified for the field 'Output' threw an error during evaluation. T0412"
        ),
        "{failed}"
    );
}

#[test]
fn unexpected_types_are_described_as_aws_does() {
    assert_eq!(
        QueryError::unexpected_type("$ItemsVar", "Items", "array", &json!(true)).to_string(),
        "The JSONata expression '$ItemsVar' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'boolean' for value: true"
    );
    assert_eq!(
        QueryError::unexpected_type("$x", "Items", "array", &json!({"foo": "bar"})).to_string(),
        r#"The JSONata expression '$x' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {"foo":"bar"}"#
    );
    assert_eq!(
        [json!([]), json!(1), json!("s"), json!(null)].map(|v| type_name(&v)),
        ["array", "number", "string", "null"]
    );
}

/// JSONata's documentation: `$append` joins two arrays (a single value counts as an array
/// of one) into an array, which stays an array however many items it has.
#[test]
fn append_gives_an_array_even_of_one_item() {
    assert_eq!(run("$append([1,2,3], [4,5,6])"), json!([1, 2, 3, 4, 5, 6]));
    assert_eq!(run("$append([1,2,3], 4)"), json!([1, 2, 3, 4]));
    assert_eq!(
        run(r#"$append("Hello", "World")"#),
        json!(["Hello", "World"])
    );
    assert_eq!(run("$append(1, [])"), json!([1]));
    assert_eq!(run("{'x': $append([], [7])}.x"), json!([7]));
}

/// JSONata's documentation: `$match` gives one object per match, with the index where it
/// starts; a sequence of one is that one value (JSONata's singleton sequence rule).
#[test]
fn match_gives_each_match_where_it_starts_and_a_single_match_alone() {
    assert_eq!(
        run(r#"$match("ababbabbcc", /a(b+)/)"#),
        json!([
            {"match": "ab", "index": 0, "groups": ["b"]},
            {"match": "abb", "index": 2, "groups": ["bb"]},
            {"match": "abb", "index": 5, "groups": ["bb"]}
        ])
    );
    assert_eq!(
        run(r#"$match("ababbabbcc", /a(b+)/, 1)"#),
        json!({"match": "ab", "index": 0, "groups": ["b"]})
    );
    assert_eq!(run(r#"$count($match("xyz", /a/))"#), json!(0));
}

/// A runaway recursion (a million levels deep, or never ending) fails the expression with
/// JSONata's U1001 instead of overflowing the runner's stack or running forever.
#[test]
fn a_deep_or_endless_recursion_is_an_evaluation_error_not_a_crash() {
    let deep = error("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000000))");
    assert!(deep.to_string().contains("U1001"), "{deep}");
    let started = std::time::Instant::now();
    let endless = error("($f := function($n){ $f($n + 1) }; $f(0))");
    assert!(endless.to_string().contains("U1001"), "{endless}");
    assert!(started.elapsed().as_millis() < 3 * crate::limits::JSONATA_TIME_LIMIT_MS as u128);
    // Recursion within the bound still works.
    assert_eq!(
        run("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100))"),
        json!(100)
    );
}

/// The parser recurses on brackets: an expression nested past the bound is refused before.
#[test]
fn brackets_nested_past_the_bound_are_refused_before_parsing() {
    let nested = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let refused = Expression::parse(&nested).unwrap_err();
    assert!(
        refused.message.contains("nest 100000 levels deep"),
        "{refused}"
    );
    let bound = crate::limits::JSONATA_MAX_NESTING;
    let deepest = format!("{}1{}", "[".repeat(bound), "]".repeat(bound));
    assert!(Expression::parse(&deepest).is_ok());
}

/// JSONata's documentation for `$pad`; a width no payload can hold is an error, not an
/// allocation of that size.
#[test]
fn pad_pads_either_side_and_refuses_a_width_past_the_payload_limit() {
    assert_eq!(run(r#"$pad("foo", 5)"#), json!("foo  "));
    assert_eq!(run(r#"$pad("foo", -5)"#), json!("  foo"));
    assert_eq!(run(r##"$pad("foo", -5, "#")"##), json!("##foo"));
    assert_eq!(run(r#"$pad("foo", 1)"#), json!("foo"));
    let huge = error(r#"$pad("a", -9223372036854775808)"#);
    assert!(
        huge.to_string().contains(&format!(
            "cannot fit in a {}-byte state payload",
            limits::PAYLOAD_BYTES
        )),
        "{huge}"
    );
}

/// A panic inside the JSONata library (`$round()` indexes an argument it never got) is an
/// evaluation error, not a crash of the runner.
#[test]
fn a_panic_inside_the_evaluator_is_an_evaluation_error() {
    let failed = error("$round()");
    assert!(
        failed.to_string().contains("the JSONata evaluator failed"),
        "{failed}"
    );
}
