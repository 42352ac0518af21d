//! Filter expressions evaluated (see [`crate::path`](mod@crate::path) for what they may say): `@` is the item
//! under test and `$` the whole document. An operand path that selects nothing is undefined: it
//! equals nothing (so `!=` holds) and orders with nothing. Numbers compare by value, strings by
//! their characters; values of different kinds are never equal.

use serde_json::Value;

use crate::path::filter::{Expr, Filter, Operand, Relation};

impl Filter {
    /// Whether `item` passes the filter, `root` being the whole document.
    pub fn accepts(&self, item: &Value, root: &Value) -> bool {
        self.0.holds(item, root)
    }
}

impl Expr {
    fn holds(&self, item: &Value, root: &Value) -> bool {
        match self {
            Self::Or(terms) => terms.iter().any(|term| term.holds(item, root)),
            Self::And(terms) => terms.iter().all(|term| term.holds(item, root)),
            Self::Not(inner) => !inner.holds(item, root),
            Self::Exists(operand) => operand.value(item, root).is_some(),
            Self::Relation(left, relation, right) => {
                let right_value = right.value(item, root);
                if let (Relation::Matches, Operand::Pattern(pattern)) = (relation, right) {
                    return left
                        .value(item, root)
                        .as_ref()
                        .and_then(Value::as_str)
                        .is_some_and(|text| pattern.is_match(text));
                }
                relation.holds(left.value(item, root).as_ref(), right_value.as_ref())
            }
        }
    }
}

impl Operand {
    /// The operand's value; `None` for a path that selects nothing.
    fn value(&self, item: &Value, root: &Value) -> Option<Value> {
        match self {
            Self::Item(path) => path.select(item),
            Self::Root(path) => path.select(root),
            Self::Literal(value) => Some(value.clone()),
            Self::Pattern(_) => None,
        }
    }
}

impl Relation {
    fn holds(self, left: Option<&Value>, right: Option<&Value>) -> bool {
        use std::cmp::Ordering;
        let (Some(left), Some(right)) = (left, right) else {
            // An undefined operand equals nothing.
            return self == Self::NotEqual;
        };
        let order = || match (left, right) {
            (Value::Number(l), Value::Number(r)) => l.as_f64()?.partial_cmp(&r.as_f64()?),
            (Value::String(l), Value::String(r)) => Some(l.cmp(r)),
            _ => None,
        };
        let length = || match left {
            Value::Array(items) => Some(items.len()),
            Value::String(text) => Some(text.chars().count()),
            _ => None,
        };
        match self {
            Self::Equal => same(left, right),
            Self::NotEqual => !same(left, right),
            Self::Less => order() == Some(Ordering::Less),
            Self::LessOrEqual => matches!(order(), Some(Ordering::Less | Ordering::Equal)),
            Self::Greater => order() == Some(Ordering::Greater),
            Self::GreaterOrEqual => matches!(order(), Some(Ordering::Greater | Ordering::Equal)),
            Self::In => right
                .as_array()
                .is_some_and(|items| items.iter().any(|item| same(left, item))),
            Self::NotIn => right
                .as_array()
                .is_some_and(|items| !items.iter().any(|item| same(left, item))),
            Self::Size => length().is_some_and(|n| right.as_u64() == Some(n as u64)),
            Self::Empty => length().is_some_and(|n| right.as_bool() == Some(n == 0)),
            // A pattern is handled by the caller; any other right side matches nothing.
            Self::Matches => false,
        }
    }
}

/// JSON equality with numbers by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn accepts(filter: &str, item: Value) -> bool {
        Filter::parse_nested(filter, 0)
            .unwrap()
            .accepts(&item, &json!({"limit": 2}))
    }

    #[test]
    fn relations_compare_numbers_by_value_and_strings_by_characters() {
        let item = json!({"n": 1, "s": "b", "list": [1, 2], "flag": false});
        for (filter, expected) in [
            ("@.n == 1.0", true),
            ("@.n != 1", false),
            ("@.n < 2", true),
            ("@.n >= 2", false),
            ("@.n <= $.limit", true),
            ("@.s > 'a'", true),
            ("@.s == \"b\"", true),
            ("@.n == '1'", false),
            ("@.s in ['a', 'b']", true),
            ("@.n nin [1, 2]", false),
            ("@.list size 2", true),
            ("@.list empty false", true),
            ("@.s =~ /B/i", true),
            ("@.s =~ /x|y/", false),
            ("@.flag == false", true),
        ] {
            assert_eq!(accepts(filter, item.clone()), expected, "{filter}");
        }
    }

    #[test]
    fn a_missing_path_is_undefined_and_logic_combines() {
        let item = json!({"a": 1, "b": null});
        for (filter, expected) in [
            ("@.b", true),
            ("@.x", false),
            ("!@.x", true),
            ("@.x == 1", false),
            ("@.x != 1", true),
            ("@.x < 1", false),
            ("@.a == 1 && (@.x || @.b == null)", true),
            ("@.a == 2 || @.a == 3", false),
        ] {
            assert_eq!(accepts(filter, item.clone()), expected, "{filter}");
        }
    }

    #[test]
    fn a_filter_that_does_not_parse_says_why() {
        for bad in ["@.a ==", "(@.a == 1", "1", "@.a == 'x", "@.a =~ /x"] {
            assert!(Filter::parse_nested(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_filter_of_100000_nots_or_parentheses_is_refused_without_overflowing_the_stack() {
        let nots = format!("$[?({}@.a)]", "!".repeat(100_000));
        let parentheses = format!("$[?({}@.a{})]", "(".repeat(100_000), ")".repeat(100_000));
        let lists = format!(
            "$[?(@.a in {}1{})]",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let filters = format!("${}{}", "[?(@".repeat(20_000), ")]".repeat(20_000));
        for deep in [nots, parentheses, lists, filters] {
            let err = crate::JsonPath::parse(&deep).unwrap_err();
            assert!(
                err.problem.contains("more than 100 levels deep"),
                "{}",
                err.problem
            );
        }
    }

    #[test]
    fn nesting_up_to_the_bound_parses_and_evaluates() {
        let item = json!({"a": 1});
        // 98 `!` (an even number) around the test, within the 100 levels with the filter itself.
        assert!(accepts(&format!("{}@.a", "!".repeat(98)), item.clone()));
        assert!(accepts(
            &format!("{}@.a == 1{}", "(".repeat(90), ")".repeat(90)),
            item.clone()
        ));
        // A long flat chain is not nesting: 100,000 `||` terms parse and evaluate.
        let chain = vec!["@.x"; 100_000].join(" || ") + " || @.a";
        assert!(accepts(&chain, item.clone()));
        let chain = vec!["@.a"; 100_000].join(" && ") + " && @.x";
        assert!(!accepts(&chain, item));
    }
}
