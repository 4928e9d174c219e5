//! What a template's tokens say without running it: the filters and tests
//! it names (so an unknown one fails validation, not a run halfway), and
//! its literal text and string literals (so a credential written inside a
//! template is still found).

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;

/// Names a template uses as filters and as tests, and its literal texts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Lexicon {
    pub(crate) filters: Vec<String>,
    pub(crate) tests: Vec<String>,
    /// Text outside tags, and string literals inside them.
    pub(crate) literals: Vec<String>,
    /// The literal durations given to `shift`, checked before any run.
    pub(crate) shifts: Vec<String>,
}

/// Filters whose string arguments name tests (`select("odd")`), and the
/// position of that argument.
const TEST_TAKING: &[(&str, usize)] = &[
    ("select", 0),
    ("reject", 0),
    ("selectattr", 1),
    ("rejectattr", 1),
];

pub(super) fn scan(source: &str) -> Lexicon {
    let mut lex = Lexicon::default();
    let tokens: Vec<Token> = tokenize(source, false, SyntaxConfig::default())
        .filter_map(Result::ok)
        .map(|(t, _)| t)
        .collect();
    let str_of = |t: &Token| match t {
        Token::Str(s) => Some(s.to_string()),
        Token::String(s) => Some(s.to_string()),
        _ => None,
    };
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::TemplateData(text) => lex.literals.push(text.to_string()),
            Token::Str(_) | Token::String(_) => lex.literals.extend(str_of(token)),
            Token::Pipe => {
                if let Some(Token::Ident(name)) = tokens.get(i + 1) {
                    lex.filters.push(name.to_string());
                    if let Some((_, arg)) = TEST_TAKING.iter().find(|(f, _)| f == name) {
                        lex.tests.extend(string_arg(&tokens[i + 2..], *arg));
                    }
                    if *name == "map" {
                        lex.filters.extend(string_arg(&tokens[i + 2..], 0));
                    }
                    if *name == "shift" {
                        lex.shifts.extend(string_arg(&tokens[i + 2..], 0));
                    }
                }
            }
            Token::Ident("is") => {
                let next = match tokens.get(i + 1) {
                    Some(Token::Ident("not")) => tokens.get(i + 2),
                    other => other,
                };
                if let Some(Token::Ident(name)) = next {
                    lex.tests.push(name.to_string());
                }
            }
            Token::BlockStart => {
                if let (Some(Token::Ident("filter")), Some(Token::Ident(name))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    lex.filters.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    lex.filters.sort();
    lex.filters.dedup();
    lex.tests.sort();
    lex.tests.dedup();
    lex
}

/// The `n`-th positional argument of a call starting at `tokens` (which
/// begin with `(`), when it is a string literal.
fn string_arg(tokens: &[Token], n: usize) -> Option<String> {
    if !matches!(tokens.first(), Some(Token::ParenOpen)) {
        return None;
    }
    let mut depth = 0;
    let mut index = 0;
    let mut start = true;
    for t in &tokens[1..] {
        match t {
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
            Token::ParenClose if depth == 0 => return None,
            Token::ParenClose | Token::BracketClose | Token::BraceClose => depth -= 1,
            Token::Comma if depth == 0 => {
                index += 1;
                start = true;
                continue;
            }
            Token::Str(s) if depth == 0 && start && index == n => return Some(s.to_string()),
            Token::String(s) if depth == 0 && start && index == n => return Some(s.to_string()),
            _ => {}
        }
        start = false;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_tests_and_literals() {
        let lex = scan(
            r#"Bearer {{ env.T | shout | default("ghp_x") }}{% if x is not odd %}{{ xs | select("even") | map("upper") | join(",") }}{% endif %}{% filter lower %}A{% endfilter %}"#,
        );
        assert_eq!(
            lex.filters,
            [
                "default", "join", "lower", "map", "select", "shout", "upper"
            ]
        );
        assert_eq!(lex.tests, ["even", "odd"]);
        assert!(lex.literals.contains(&"Bearer ".to_string()));
        assert!(lex.literals.contains(&"ghp_x".to_string()));
    }
}
