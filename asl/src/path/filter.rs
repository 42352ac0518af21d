//! Filter expressions (`[?(@.status == 0)]`, `[?(@.year <= 1999 && @.name)]`) as AWS evaluates
//! them (Jayway JsonPath): `@` is the item under test and `$` the whole document; operands are
//! paths or literals (numbers, quoted strings, `true`, `false`, `null`, lists, `/regex/flags`);
//! relations `==`, `!=`, `<`, `<=`, `>`, `>=`, `=~`, `in`, `nin`, `size`, `empty`; `&&`, `||`,
//! `!` and parentheses; a path alone tests that it exists.
//!
//! An operand path that selects nothing is undefined: it equals nothing (so `!=` holds) and
//! orders with nothing. Numbers compare by value, strings by their characters; values of
//! different kinds are never equal.

use serde_json::Value;

use super::json::JsonPath;

/// A parsed filter expression.
#[derive(Clone, Debug)]
pub struct Filter(pub(crate) Expr);

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    /// `a || b || ...`: flat, so a long chain is no deeper than one `||`.
    Or(Vec<Expr>),
    /// `a && b && ...`, flat like `Or`.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Exists(Operand),
    Relation(Operand, Relation, Operand),
}

#[derive(Clone, Debug)]
pub(crate) enum Operand {
    /// `@...`: a path from the item under test.
    Item(JsonPath),
    /// `$...`: a path from the whole document.
    Root(JsonPath),
    Literal(Value),
    /// `/regex/flags`, matching a whole string as Java's `Matcher.matches()` does.
    Pattern(regex_lite::Regex),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relation {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Matches,
    In,
    NotIn,
    Size,
    Empty,
}

/// The relations by their spelling, the longest first where one starts another.
const RELATIONS: [(&str, Relation); 11] = [
    ("==", Relation::Equal),
    ("!=", Relation::NotEqual),
    ("<=", Relation::LessOrEqual),
    (">=", Relation::GreaterOrEqual),
    ("=~", Relation::Matches),
    ("<", Relation::Less),
    (">", Relation::Greater),
    ("nin", Relation::NotIn),
    ("in", Relation::In),
    ("size", Relation::Size),
    ("empty", Relation::Empty),
];

/// The deepest a filter expression may nest `!`, parentheses, list literals and filters in its
/// paths. Parsing, evaluating and dropping an expression recurse once per level, so an
/// expression of 100,000 `!` would overflow the stack; no real filter comes near this bound.
pub const MAX_FILTER_NESTING: usize = 100;

impl Filter {
    /// Parses the expression inside `[?( ... )]`, which stands `depth` levels deep (0 for a
    /// path's own filter; more inside a path inside a filter).
    pub(crate) fn parse_nested(text: &str, depth: usize) -> Result<Self, String> {
        let mut parser = Parser { text, at: 0, depth };
        parser.enter()?;
        let expr = parser.or()?;
        parser.skip_spaces();
        if parser.at != text.len() {
            return Err(format!(
                "unexpected `{}` in the filter expression",
                &text[parser.at..]
            ));
        }
        Ok(Self(expr))
    }
}

struct Parser<'t> {
    text: &'t str,
    at: usize,
    /// Levels of nesting around the parser's position.
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    /// One level deeper, refused past [`MAX_FILTER_NESTING`]; [`Parser::leave`] undoes it.
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_FILTER_NESTING {
            return Err(format!(
                "the filter expression nests `!`, parentheses, lists and filters more than {MAX_FILTER_NESTING} levels deep; simplify it"
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn skip_spaces(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    /// Consumes `token` (after spaces) if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_spaces();
        let found = self.rest().starts_with(token);
        if found {
            self.at += token.len();
        }
        found
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.and()?];
        while self.eat("||") {
            terms.push(self.and()?);
        }
        Ok(match <[Expr; 1]>::try_from(terms) {
            Ok([term]) => term,
            Err(terms) => Expr::Or(terms),
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.unary()?];
        while self.eat("&&") {
            terms.push(self.unary()?);
        }
        Ok(match <[Expr; 1]>::try_from(terms) {
            Ok([term]) => term,
            Err(terms) => Expr::And(terms),
        })
    }

    fn unary(&mut self) -> Result<Expr, String> {
        self.skip_spaces();
        if self.rest().starts_with('!') && !self.rest().starts_with("!=") {
            self.at += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.eat("(") {
            self.enter()?;
            let inner = self.or()?;
            self.leave();
            if !self.eat(")") {
                return Err("a `(` in the filter expression is not closed".into());
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        self.skip_spaces();
        let relation = RELATIONS
            .iter()
            .find(|(spelling, _)| self.rest().starts_with(spelling))
            .map(|(spelling, relation)| (spelling.len(), *relation));
        let Some((len, relation)) = relation else {
            return match left {
                Operand::Item(_) | Operand::Root(_) => Ok(Expr::Exists(left)),
                _ => Err("a literal alone is not a filter condition".into()),
            };
        };
        self.at += len;
        let right = self.operand()?;
        Ok(Expr::Relation(left, relation, right))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.skip_spaces();
        let rest = self.rest();
        let first = rest
            .chars()
            .next()
            .ok_or("the filter expression ends early")?;
        match first {
            '@' | '$' => {
                let len = path_len(rest);
                let path = JsonPath::parse_nested(&format!("${}", &rest[1..len]), self.depth)
                    .map_err(|error| error.problem)?;
                self.at += len;
                Ok(if first == '@' {
                    Operand::Item(path)
                } else {
                    Operand::Root(path)
                })
            }
            '/' => {
                let end = rest[1..]
                    .find('/')
                    .ok_or("a `/regex/` in the filter expression is not closed")?
                    + 1;
                let flags: String = rest[end + 1..]
                    .chars()
                    .take_while(char::is_ascii_alphabetic)
                    .collect();
                let inline = if flags.contains('i') { "(?i)" } else { "" };
                let pattern = regex_lite::Regex::new(&format!("{inline}^(?:{})$", &rest[1..end]))
                    .map_err(|error| {
                    format!("invalid regex in the filter expression: {error}")
                })?;
                self.at += end + 1 + flags.len();
                Ok(Operand::Pattern(pattern))
            }
            _ => {
                let (value, len) = literal(rest, self.depth)?;
                self.at += len;
                Ok(Operand::Literal(value))
            }
        }
    }
}

/// The length of the path that starts `text` (`@` or `$`, then `.name`, `..name`, `[...]`).
fn path_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut at = 1;
    while at < bytes.len() {
        match bytes[at] {
            b'.' => at += 1,
            b'[' => match bracket_end(text, at) {
                Some(end) => at = end + 1,
                None => return text.len(),
            },
            c if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'*' | b'$') => at += 1,
            _ => break,
        }
    }
    at
}

/// The index of the `]` closing the `[` at `open`, skipping quoted text and nested brackets.
pub(super) fn bracket_end(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    let mut escaped = false;
    for (at, c) in text[open..].char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                c if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' => depth += 1,
            ']' | ')' => {
                depth -= 1;
                if depth == 0 {
                    return (c == ']').then_some(open + at);
                }
            }
            _ => {}
        }
    }
    None
}

/// The literal that starts `text` and its length: a number, a quoted string, `true`, `false`,
/// `null`, or a list of them.
fn literal(text: &str, depth: usize) -> Result<(Value, usize), String> {
    if let Some(quoted) = text.strip_prefix(['\'', '"']) {
        let quote = text.chars().next().expect("a quote");
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => out.extend(chars.next().map(|(_, escaped)| escaped)),
                c if c == quote => return Ok((Value::String(out), at + 2)),
                c => out.push(c),
            }
        }
        return Err("a quoted string in the filter expression is not closed".into());
    }
    if text.starts_with('[') {
        if depth >= MAX_FILTER_NESTING {
            return Err(format!(
                "the filter expression nests `!`, parentheses, lists and filters more than {MAX_FILTER_NESTING} levels deep; simplify it"
            ));
        }
        let end = bracket_end(text, 0).ok_or("a list in the filter expression is not closed")?;
        let mut items = Vec::new();
        let mut inner = text[1..end].trim_start();
        while !inner.is_empty() {
            let (item, len) = literal(inner, depth + 1)?;
            items.push(item);
            inner = inner[len..].trim_start();
            inner = inner.strip_prefix(',').unwrap_or(inner).trim_start();
        }
        return Ok((Value::Array(items), end + 1));
    }
    let len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(text.len());
    let token = &text[..len];
    match serde_json::from_str::<Value>(token) {
        Ok(value @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => Ok((value, len)),
        _ => Err(format!("`{token}` is not a path or a literal")),
    }
}
