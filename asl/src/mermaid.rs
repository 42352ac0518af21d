//! A Mermaid flowchart of a state machine, for the `.md` file GitHub renders next to the
//! definition: one node per state, a subgraph per Map processor or Parallel branch (a Distributed
//! Map titled as one, with its Label), solid edges for `Next`/`Default`/Choice rules, dotted edges
//! captioned with the error names for `Catch`.

use std::fmt::Write;

use super::state::{Limit, MapState, State, StateName, States, Transition};

/// The flowchart's Mermaid source (without the Markdown fence).
pub fn flowchart(start_at: &StateName, states: &States) -> String {
    let mut out = String::from("flowchart TD\n");
    out.push_str("    start((\"Start\"))\n");
    let mut ids = Ids::default();
    scope(&mut out, &mut ids, "", states, 1);
    let _ = writeln!(out, "    start --> {}", ids.of("", start_at));
    edges(&mut out, &mut ids, "", states, true);
    out
}

/// Node ids: Mermaid ids must be plain, state names need not be.
#[derive(Default)]
struct Ids {
    assigned: Vec<(String, String)>,
}

impl Ids {
    fn of(&mut self, scope: &str, name: &StateName) -> String {
        let key = format!("{scope}/{name}");
        if let Some((_, id)) = self.assigned.iter().find(|(k, _)| *k == key) {
            return id.clone();
        }
        let id = format!("s{}", self.assigned.len());
        self.assigned.push((key, id.clone()));
        id
    }
}

/// `text` as a node caption or edge text, its quotes escaped for Mermaid.
fn caption(text: &str) -> String {
    text.replace('"', "#quot;")
}

fn scope(out: &mut String, ids: &mut Ids, scope_key: &str, states: &States, depth: usize) {
    let indent = "    ".repeat(depth);
    for (name, state) in states {
        let id = ids.of(scope_key, name);
        let text = caption(&format!("{name}<br/><i>{}</i>", state.type_name()));
        let nested = state.nested();
        if nested.is_empty() {
            let node = match state {
                State::Choice(_) => format!("{{\"{text}\"}}"),
                State::Succeed(_) => format!("([\"{text}\"])"),
                State::Fail(_) => format!("[[\"{text}\"]]"),
                _ => format!("[\"{text}\"]"),
            };
            let _ = writeln!(out, "{indent}{id}{node}");
            continue;
        }
        let detail = match state {
            State::Map(map) => map_detail(map),
            _ => state.type_name().to_owned(),
        };
        let _ = writeln!(
            out,
            "{indent}subgraph {id} [\"{}\"]",
            caption(&format!("{name}<br/><i>{detail}</i>"))
        );
        for (index, branch) in nested.iter().enumerate() {
            let inner = format!("{scope_key}/{name}#{index}");
            scope(out, ids, &inner, &branch.states, depth + 1);
        }
        let _ = writeln!(out, "{indent}end");
    }
}

/// `Map over $.items, 10 at once`, or for a Distributed Map `Distributed Map chunks, items from
/// S3, 40 at once`: a Distributed Map runs child executions, which is what a reader needs to see.
fn map_detail(map: &MapState) -> String {
    let mut detail = String::from(if map.is_distributed() {
        "Distributed Map"
    } else {
        "Map"
    });
    if let Some(label) = &map.label {
        let _ = write!(detail, " {label}");
    }
    if let Some(items) = &map.items_path {
        let _ = write!(detail, " over {items}");
    }
    if map.item_reader.is_some() {
        detail.push_str(", items from S3");
    }
    match &map.max_concurrency {
        Some(Limit::Fixed(max)) => {
            let _ = write!(detail, ", {max} at once");
        }
        Some(Limit::Path(path)) => {
            let _ = write!(detail, ", {path} at once");
        }
        Some(Limit::Expression(expression)) => {
            let _ = write!(detail, ", {} at once", expression.expression());
        }
        None => {}
    }
    detail
}

fn edges(out: &mut String, ids: &mut Ids, scope_key: &str, states: &States, top: bool) {
    for (name, state) in states {
        let from = ids.of(scope_key, name);
        if let Some(Transition::Next(next)) = state.transition() {
            let _ = writeln!(out, "    {from} --> {}", ids.of(scope_key, next));
        }
        if top && state.transition() == Some(&Transition::End) {
            let _ = writeln!(out, "    {from} --> finish((\"End\"))");
        }
        if let State::Choice(choice) = state {
            for rule in &choice.choices {
                let _ = writeln!(
                    out,
                    "    {from} -->|rule| {}",
                    ids.of(scope_key, &rule.next)
                );
            }
            if let Some(default) = &choice.default {
                let _ = writeln!(
                    out,
                    "    {from} -->|Default| {}",
                    ids.of(scope_key, default)
                );
            }
        }
        for catcher in state.catch() {
            let errors: Vec<&str> = catcher.error_equals.iter().map(|e| e.as_str()).collect();
            let _ = writeln!(
                out,
                "    {from} -. \"{}\" .-> {}",
                caption(&errors.join(", ")),
                ids.of(scope_key, &catcher.next)
            );
        }
        for (index, branch) in state.nested().iter().enumerate() {
            let inner = format!("{scope_key}/{name}#{index}");
            edges(out, ids, &inner, &branch.states, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReferencePath;
    use crate::state::{
        Branch, FailState, ItemReader, PassState, ProcessorConfig, ProcessorMode, ResultPath,
        S3_GET_OBJECT, SucceedState,
    };

    #[test]
    fn nested_states_are_subgraphs_and_catches_are_dotted() {
        let name = |n: &str| StateName::new(n).unwrap();
        let pass = |transition| State::Pass(PassState::new(transition));
        let mut inner = States::new();
        inner.insert(name("Each \"one\""), pass(Transition::End));
        let mut map = MapState::inline(
            Branch {
                comment: None,
                start_at: name("Each \"one\""),
                states: inner,
            },
            Transition::Next(name("Done")),
        );
        map.catch = vec![crate::Catcher {
            comment: None,
            output: None,
            assign: None,
            error_equals: vec![crate::ErrorName::all()],
            result_path: ResultPath::Replace,
            next: name("Failed"),
        }];
        let mut states = States::new();
        states.insert(name("Loop"), State::Map(map));
        states.insert(name("Done"), State::Succeed(SucceedState::default()));
        states.insert(name("Failed"), State::Fail(FailState::default()));
        let chart = flowchart(&name("Loop"), &states);
        assert!(chart.starts_with("flowchart TD\n"));
        assert!(
            chart.contains("subgraph s0 [\"Loop<br/><i>Map</i>\"]"),
            "{chart}"
        );
        assert!(
            chart.contains("s1[\"Each #quot;one#quot;<br/><i>Pass</i>\"]"),
            "{chart}"
        );
        assert!(chart.contains("s0 --> s2"), "{chart}");
        assert!(chart.contains("s0 -. \"States.ALL\" .-> s3"), "{chart}");
        assert!(chart.contains("start --> s0"), "{chart}");
        // The processor's End ends an iteration, not the machine.
        assert!(!chart.contains("s1 --> finish"), "{chart}");
    }

    #[test]
    fn a_distributed_map_shows_its_label_and_where_its_items_come_from() {
        let name = |n: &str| StateName::new(n).unwrap();
        let mut inner = States::new();
        inner.insert(name("Each"), State::Succeed(SucceedState::default()));
        let mut map = MapState::inline(
            Branch {
                comment: None,
                start_at: name("Each"),
                states: inner,
            },
            Transition::End,
        );
        map.item_processor.processor_config = Some(ProcessorConfig {
            mode: ProcessorMode::Distributed,
            execution_type: None,
        });
        map.item_reader = Some(ItemReader {
            arguments: None,
            resource: S3_GET_OBJECT.into(),
            reader_config: None,
            parameters: None,
        });
        map.label = Some("chunks".into());
        map.max_concurrency = Some(Limit::Path(ReferencePath::parse("$.limit").unwrap()));
        let mut states = States::new();
        states.insert(name("Loop"), State::Map(map));
        let chart = flowchart(&name("Loop"), &states);
        assert!(
            chart.contains(
                "subgraph s0 [\"Loop<br/><i>Distributed Map chunks, items from S3, $.limit at once</i>\"]"
            ),
            "{chart}"
        );
    }
}
