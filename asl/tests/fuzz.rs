//! Property tests over generated definitions, paths, intrinsic function calls and JSONata
//! expressions: whatever a definition or an input says, loading and evaluating it ends in a value
//! or a clean error, never a panic, an overflow or a stack overflow. Sizes are bounded and every
//! property runs a fixed number of cases, so the file runs in CI in bounded time; failures are
//! not persisted (a failing case prints its minimal input to put into a regression test).

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value, json};

use asl::eval::jsonata::{self, Bindings, Expression};
use asl::eval::{Sources, Variables};
use asl::{JsonPath, PayloadTemplate, ReferencePath, StateMachine};

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Integers where arithmetic on indices, lengths and times overflows.
fn extreme_integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MIN + 1),
        Just(i64::MAX),
        Just(i64::MAX - 1),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN)),
        Just(0),
        Just(-1),
        -5i64..=5,
        any::<i64>(),
    ]
}

/// JSON numbers, the extreme ones included.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        extreme_integer().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![
            Just(f64::MAX),
            Just(f64::MIN),
            Just(f64::MIN_POSITIVE),
            Just(1e300),
            Just(-0.5),
            Just(2.5),
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
        ]
        .prop_map(Value::from),
    ]
}

/// Short keys, some of them the names generated paths use.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("items".to_owned()),
        Just("n".to_owned()),
        "[a-z]{1,3}",
    ]
}

/// JSON values of bounded depth and size.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        "[a-z0-9 {}'\\\\]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Filter expressions inside `[?( )]`, nested up to a few levels (paths inside may filter too).
fn filter_expression() -> impl Strategy<Value = String> {
    let relation = prop_oneof![
        Just("=="),
        Just("!="),
        Just("<"),
        Just("<="),
        Just(">"),
        Just(">="),
        Just("in"),
        Just("nin"),
        Just("size"),
        Just("empty"),
        Just("=~"),
    ];
    let operand = prop_oneof![
        key().prop_map(|k| format!("@.{k}")),
        key().prop_map(|k| format!("$.{k}")),
        extreme_integer().prop_map(|n| n.to_string()),
        Just("'x'".to_owned()),
        Just("[1, 'a', [2]]".to_owned()),
        Just("/a.*/i".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
    ];
    let atom = prop_oneof![
        key().prop_map(|k| format!("@.{k}")),
        (operand.clone(), relation, operand).prop_map(|(l, r, o)| format!("{l} {r} {o}")),
    ];
    atom.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} && {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} || {b}")),
            (key(), inner).prop_map(|(k, e)| format!("@.{k}[?({e})]")),
        ]
    })
}

/// A slice's start, end or step: absent or any integer.
fn slice_bound() -> impl Strategy<Value = String> {
    prop::option::of(extreme_integer()).prop_map(|n| n.map_or(String::new(), |n| n.to_string()))
}

/// One step of a JSONPath, selection steps with extreme integers included.
fn path_step() -> impl Strategy<Value = String> {
    prop_oneof![
        key().prop_map(|k| format!(".{k}")),
        key().prop_map(|k| format!("['{k}']")),
        key().prop_map(|k| format!("..{k}")),
        extreme_integer().prop_map(|n| format!("[{n}]")),
        (extreme_integer(), extreme_integer()).prop_map(|(a, b)| format!("[{a},{b}]")),
        (slice_bound(), slice_bound(), slice_bound())
            .prop_map(|(a, b, c)| format!("[{a}:{b}:{c}]")),
        Just("[*]".to_owned()),
        Just(".*".to_owned()),
        Just("['a','b']".to_owned()),
        filter_expression().prop_map(|e| format!("[?({e})]")),
        filter_expression().prop_map(|e| format!("..[?({e})]")),
        // Text that is not a step at all.
        "[\\[\\]().:?@!$'a-z0-9 ]{1,6}",
    ]
}

fn json_path() -> impl Strategy<Value = String> {
    prop::collection::vec(path_step(), 0..6).prop_map(|steps| format!("${}", steps.concat()))
}

/// Arguments of an intrinsic function call: literals, paths, nested calls.
fn intrinsic_call() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "States.Array",
        "States.ArrayContains",
        "States.ArrayGetItem",
        "States.ArrayLength",
        "States.ArrayPartition",
        "States.ArrayRange",
        "States.ArrayUnique",
        "States.Base64Decode",
        "States.Base64Encode",
        "States.Format",
        "States.Hash",
        "States.JsonMerge",
        "States.JsonToString",
        "States.MathAdd",
        "States.MathRandom",
        "States.StringSplit",
        "States.StringToJson",
        "States.UUID",
        "States.Nope",
    ]);
    let literal = prop_oneof![
        number().prop_map(|n| n.to_string()),
        Just("'{} and {}'".to_owned()),
        Just("'a,b,,c'".to_owned()),
        Just("'SHA-256'".to_owned()),
        Just("'{\"a\": [1, {\"b\": 2}]}'".to_owned()),
        Just("'aGVsbG8='".to_owned()),
        Just("'\\{\\}'".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        json_path(),
        Just("$$.Execution.Name".to_owned()),
    ];
    let call = (name.clone(), prop::collection::vec(literal.clone(), 0..4))
        .prop_map(|(name, args)| format!("{name}({})", args.join(", ")));
    call.prop_recursive(4, 24, 4, move |inner| {
        (
            name.clone(),
            prop::collection::vec(prop_oneof![inner, literal.clone()], 0..4),
        )
            .prop_map(|(name, args)| format!("{name}({})", args.join(", ")))
    })
}

/// JSONata expressions: literals, paths, operators, function calls, blocks and lambdas.
fn jsonata_expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        number().prop_map(|n| n.to_string()),
        Just("\"text\"".to_owned()),
        Just("$states.input".to_owned()),
        Just("$states.input.a".to_owned()),
        Just("$states.input.items[0]".to_owned()),
        Just("$x".to_owned()),
        Just("[1, 2, 3]".to_owned()),
        Just("{\"k\": 1}".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("$random()".to_owned()),
        Just("$uuid()".to_owned()),
        Just("$now()".to_owned()),
        Just("$now(1)".to_owned()),
        Just("$round()".to_owned()),
        Just("$each()".to_owned()),
        Just("$pad(\"a\", -9223372036854775808)".to_owned()),
    ];
    let function = prop::sample::select(vec![
        "$string",
        "$number",
        "$sum",
        "$count",
        "$max",
        "$min",
        "$average",
        "$length",
        "$substring",
        "$uppercase",
        "$pad",
        "$power",
        "$sqrt",
        "$round",
        "$floor",
        "$abs",
        "$formatNumber",
        "$formatBase",
        "$split",
        "$join",
        "$keys",
        "$merge",
        "$append",
        "$reverse",
        "$sort",
        "$distinct",
        "$exists",
        "$not",
        "$boolean",
        "$toMillis",
        "$fromMillis",
        "$parseInteger",
        "$shuffle",
        "$zip",
        "$lookup",
        "$spread",
        "$each",
    ]);
    let operator = prop::sample::select(vec![
        "+", "-", "*", "/", "%", "&", "=", "!=", "<", ">=", "and", "or", "in",
    ]);
    leaf.prop_recursive(4, 32, 3, move |inner| {
        prop_oneof![
            (inner.clone(), operator.clone(), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (function.clone(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}[{b}]")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("($y := {a}; {b})")),
            inner
                .clone()
                .prop_map(|a| format!("$map([1, 2], function($v) {{ {a} }})")),
            inner.prop_map(|a| format!("-{a}")),
        ]
    })
}

/// A state of any type with fields drawn from what definitions say, extreme values included.
fn state(names: Vec<&'static str>) -> impl Strategy<Value = Value> {
    let name = prop::sample::select(names);
    let kind = prop::sample::select(vec![
        "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Map", "Parallel", "Other",
    ]);
    let field = prop_oneof![
        name.clone().prop_map(|n| ("Next".to_owned(), json!(n))),
        Just(("End".to_owned(), json!(true))),
        json_path().prop_map(|p| ("InputPath".to_owned(), json!(p))),
        json_path().prop_map(|p| ("OutputPath".to_owned(), json!(p))),
        json_path().prop_map(|p| ("ResultPath".to_owned(), json!(p))),
        json_path().prop_map(|p| ("ItemsPath".to_owned(), json!(p))),
        json_path().prop_map(|p| ("SecondsPath".to_owned(), json!(p))),
        intrinsic_call().prop_map(|c| ("Parameters".to_owned(), json!({"x.$": c}))),
        json_path().prop_map(|p| ("Parameters".to_owned(), json!({"x.$": p}))),
        json_value().prop_map(|v| ("Result".to_owned(), v)),
        number().prop_map(|n| ("Seconds".to_owned(), n)),
        number().prop_map(|n| ("TimeoutSeconds".to_owned(), n)),
        number().prop_map(|n| ("MaxConcurrency".to_owned(), n)),
        Just(("Timestamp".to_owned(), json!("+262142-12-31T23:59:59Z"))),
        Just((
            "Resource".to_owned(),
            json!("arn:aws:states:::lambda:invoke")
        )),
        jsonata_expression().prop_map(|e| ("Output".to_owned(), json!(format!("{{% {e} %}}")))),
        Just(("QueryLanguage".to_owned(), json!("JSONata"))),
        (number(), number(), number(), number()).prop_map(|(i, m, b, d)| (
            "Retry".to_owned(),
            json!([{"ErrorEquals": ["States.ALL"], "IntervalSeconds": i, "MaxAttempts": m,
                    "BackoffRate": b, "MaxDelaySeconds": d}])
        )),
        (name.clone(), json_path()).prop_map(|(n, p)| (
            "Catch".to_owned(),
            json!([{"ErrorEquals": ["States.ALL"], "Next": n, "ResultPath": p}])
        )),
        (name.clone(), json_path(), number()).prop_map(|(n, p, x)| (
            "Choices".to_owned(),
            json!([{"Variable": p, "NumericGreaterThan": x, "Next": n},
                   {"Not": {"Variable": p, "IsPresent": true}, "Next": n}])
        )),
        name.clone().prop_map(|n| ("Default".to_owned(), json!(n))),
        name.clone().prop_map(|n| (
            "ItemProcessor".to_owned(),
            json!({"StartAt": n, "States": {n: {"Type": "Pass", "End": true}}})
        )),
        name.clone().prop_map(|n| (
            "Branches".to_owned(),
            json!([{"StartAt": n, "States": {n: {"Type": "Succeed"}}}])
        )),
        name.prop_map(|n| (
            "Iterator".to_owned(),
            json!({"StartAt": n, "States": {n: {"Type": "Pass", "End": true}}})
        )),
    ];
    (kind, prop::collection::vec(field, 0..6)).prop_map(|(kind, fields)| {
        let mut state = Map::new();
        state.insert("Type".to_owned(), json!(kind));
        state.extend(fields);
        Value::Object(state)
    })
}

/// Definitions of up to four states whose fields reference one another.
fn definition() -> impl Strategy<Value = Value> {
    let names = vec!["A", "B", "C", "D"];
    (
        prop::collection::vec(state(names.clone()), 1..4),
        prop::sample::select(names.clone()),
        prop::option::of(number()),
    )
        .prop_map(move |(states, start, timeout)| {
            let states: Map<String, Value> =
                names.iter().map(|n| n.to_string()).zip(states).collect();
            let mut definition = json!({"StartAt": start, "States": states});
            if let Some(timeout) = timeout {
                definition["TimeoutSeconds"] = timeout;
            }
            definition
        })
}

/// What the runner's loader does with a definition's text: upgrade, parse, validate, bound.
fn load(text: &str) {
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return;
    };
    asl::upgrade(&mut value);
    if let Ok(machine) = serde_json::from_value::<StateMachine>(value) {
        let _ = asl::validate::validate(&machine);
        let _ = asl::bounds::history_bound(&machine);
        let rendered = asl::render(&machine);
        // What renders parses back.
        asl::parse(&rendered).expect("a rendered machine parses");
    }
    let _ = asl::parse(text);
}

fn context() -> Value {
    json!({"Execution": {"Name": "exec-1"}, "State": {"Name": "S"}})
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn arbitrary_text_loads_or_is_refused(text in "\\PC{0,200}") {
        load(&text);
    }

    #[test]
    fn generated_definitions_load_or_are_refused(definition in definition()) {
        load(&definition.to_string());
    }

    #[test]
    fn generated_paths_parse_and_select_or_are_refused(path in json_path(), value in json_value()) {
        if let Ok(parsed) = JsonPath::parse(&path) {
            // What parses renders as written.
            prop_assert_eq!(parsed.to_string(), path.clone());
            let _ = parsed.select(&value);
            let _ = parsed.select_in(&value, &Variables::new());
        }
        if let Ok(reference) = ReferencePath::parse(&path) {
            let _ = reference.resolve(&value, &Variables::new());
        }
    }

    #[test]
    fn generated_intrinsic_calls_evaluate_or_fail_cleanly(call in intrinsic_call(), input in json_value()) {
        let _ = asl::eval::check_intrinsic(&call);
        let Ok(template) = serde_json::from_value::<PayloadTemplate>(json!({"x.$": call})) else {
            return Ok(());
        };
        let draw = || 7u64;
        let build = context;
        let _ = asl::eval::expand(&template, &Sources::new(&input, &build).random(&draw));
    }

    #[test]
    fn generated_jsonata_expressions_evaluate_or_fail_cleanly(expression in jsonata_expression(), input in json_value()) {
        let Ok(parsed) = Expression::parse(&expression) else {
            return Ok(());
        };
        let states = json!({"input": input, "context": context()});
        let mut variables = Map::new();
        variables.insert("x".to_owned(), json!([1, "two", {"three": 3}]));
        let draw = || 7u64;
        let evaluated = std::panic::catch_unwind(|| {
            let bindings = Bindings { states: &states, variables: &variables, draw: &draw };
            let _ = jsonata::evaluate(&parsed, &bindings);
        });
        // A panic inside jsonata-rs (`$round()`, `$each()`, `$now(1)`) is caught and reported
        // as an evaluation error; nothing may escape.
        prop_assert!(evaluated.is_ok(), "JSONata evaluation panicked: {}", expression);
    }
}

/// The shapes the security review found, each once, through the same entry points.
#[test]
fn the_reported_shapes_are_refused_or_evaluated_without_a_crash() {
    let value = json!({"a": [1, 2, 3]});
    for path in [
        "$.a[1::9223372036854775807]",
        "$.a[-9223372036854775808:]",
        "$.a[-9223372036854775808:9223372036854775807:9223372036854775807]",
    ] {
        assert!(
            JsonPath::parse(path).unwrap().select(&value).is_some(),
            "{path}"
        );
    }
    let nots = format!("$[?({}@.a)]", "!".repeat(100_000));
    let parentheses = format!("$[?({}@.a{})]", "(".repeat(100_000), ")".repeat(100_000));
    for deep in [nots, parentheses] {
        assert!(JsonPath::parse(&deep).is_err());
        let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": deep, "End": true}}});
        assert!(asl::parse(&definition.to_string()).is_err());
    }
}
