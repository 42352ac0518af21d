//! Names, targets, reachability, terminal states and error matchers.

use super::*;

#[test]
fn a_correct_machine_has_no_problem() {
    let mut map = inline_map(vec![("Each", pass(Transition::End))], next("Done"));
    map.result_path = ResultPath::Discard;
    let machine = build(vec![
        ("Start", pass(next("Loop"))),
        ("Loop", State::Map(map)),
        ("Done", State::Succeed(SucceedState::default())),
    ]);
    assert_eq!(validate(&machine), Report::default());
}

#[test]
fn duplicate_names_across_nested_scopes_are_reported() {
    let mut map = inline_map(vec![("Start", pass(Transition::End))], Transition::End);
    map.result_path = ResultPath::Discard;
    let machine = build(vec![
        ("Start", pass(next("Loop"))),
        ("Loop", State::Map(map)),
    ]);
    assert_one_error(
        &machine,
        "the state name `Start` is used 2 times (at the top level, in `Loop`)",
    );
}

#[test]
fn missing_targets_are_reported_with_their_scope() {
    let machine = build(vec![("Start", pass(next("Nowhere")))]);
    let found = errors(&machine);
    assert!(
        found[0]
            .contains("state `Start`: goes to `Nowhere`, which is not a state of the same machine"),
        "{found:#?}"
    );

    let mut map = inline_map(vec![("Each", pass(next("Done")))], next("Done"));
    map.result_path = ResultPath::Discard;
    let machine = build(vec![
        ("Loop", State::Map(map)),
        ("Done", State::Succeed(SucceedState::default())),
    ]);
    // The processor cannot jump out of the Map: `Done` is in another scope.
    let found = errors(&machine);
    assert!(found.iter().any(|e| e.contains("state `Loop/Each`: goes to `Done`, which is not a state of the same branch or processor")), "{found:#?}");

    let mut bad_start = machine.clone();
    bad_start.start_at = name("Nope");
    assert!(
        errors(&bad_start)
            .iter()
            .any(|e| e.contains("StartAt names `Nope`"))
    );
}

#[test]
fn unreachable_states_are_reported() {
    let machine = build(vec![
        ("Start", pass(Transition::End)),
        ("Orphan", pass(Transition::End)),
    ]);
    assert_one_error(&machine, "state `Orphan`: cannot be reached from `Start`");
}

#[test]
fn a_loop_without_an_end_is_reported() {
    let machine = build(vec![("A", pass(next("B"))), ("B", pass(next("A")))]);
    assert_one_error(&machine, "the machine has no terminal state");

    let choice = State::Choice(ChoiceState {
        query_language: None,
        output: None,
        assign: None,
        comment: None,
        input_path: None,
        choices: vec![ChoiceRule {
            comment: None,
            output: None,
            assign: None,
            condition: Condition::Compare {
                variable: ReferencePath::parse("$.done").unwrap(),
                comparison: Comparison::BooleanEquals(true),
            },
            next: name("Done"),
        }],
        default: Some(name("Spin")),
        output_path: None,
    });
    let machine = build(vec![
        ("Check", choice),
        ("Spin", pass(next("Spin"))),
        ("Done", State::Succeed(SucceedState::default())),
    ]);
    assert_one_error(
        &machine,
        "state `Spin`: no terminal state can be reached from it",
    );
}

#[test]
fn states_all_must_be_alone_and_last() {
    let catcher = |errors: Vec<ErrorName>| Catcher {
        comment: None,
        output: None,
        assign: None,
        error_equals: errors,
        result_path: ResultPath::Replace,
        next: name("Failed"),
    };
    let mut task = TaskState::new("arn:aws:states:::lambda:invoke", Transition::End);
    task.catch = vec![
        catcher(vec![ErrorName::all(), ErrorName::new("States.Timeout")]),
        catcher(vec![ErrorName::new("States.TaskFailed")]),
    ];
    task.retry = vec![
        Retrier::on([ErrorName::all()]),
        Retrier::on([ErrorName::new("X")]),
    ];
    let machine = build(vec![
        ("Call", State::Task(task)),
        ("Failed", State::Fail(FailState::default())),
    ]);
    let found = errors(&machine);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].contains("Retry[0]: the entry with States.ALL must be the last of Retry"));
    assert!(found[1].contains("Catch[0]: States.ALL must be alone in its ErrorEquals"));
    assert!(found[2].contains("Catch[0]: the entry with States.ALL must be the last of Catch"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let machine = build(vec![
        ("Start", pass(next("Nowhere"))),
        ("Orphan", pass(Transition::End)),
    ]);
    assert_eq!(errors(&machine).len(), 2, "{:#?}", errors(&machine));
}
