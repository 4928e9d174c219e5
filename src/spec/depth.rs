//! A linear pre-scan for deeply nested flow collections (`[[[[...`): the
//! YAML parser takes quadratic time on them, so a file nesting deeper than
//! the limit is refused before it is parsed.
//!
//! The scan follows just enough of YAML to count only real brackets: text
//! in quotes, comments and block scalars is skipped, and outside a flow
//! collection a bracket opens one only where a value can start.

use crate::source::LineCol;

/// Where the first bracket deeper than `max` opens, if any.
pub(super) fn too_deep(text: &str, max: usize) -> Option<LineCol> {
    let mut depth = 0usize;
    let mut block_scalar: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let trimmed = line.trim();
        if let Some(parent) = block_scalar {
            if trimmed.is_empty() || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        let bytes = line.as_bytes();
        // Most lines open nothing and start no block scalar: at depth 0,
        // only these bytes can change what the scan knows.
        if depth == 0 && !bytes.iter().any(|b| matches!(b, b'[' | b'{' | b'|' | b'>')) {
            continue;
        }
        let mut i = indent;
        let mut quote: Option<u8> = None;
        // Outside flow collections, the last significant byte before `i`.
        let mut prev: u8 = b'\n';
        while i < bytes.len() {
            let b = bytes[i];
            if let Some(q) = quote {
                // Inside quotes only the closing quote and an escape matter.
                if b != q && !(b == b'\\' && q == b'"') {
                    i = bytes[i..]
                        .iter()
                        .position(|&c| c == q || (c == b'\\' && q == b'"'))
                        .map_or(bytes.len(), |at| i + at);
                    continue;
                }
                match b {
                    b'\\' if q == b'"' => i += 1,
                    b'\'' if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                    _ if b == q => quote = None,
                    _ => {}
                }
                i += 1;
                continue;
            }
            if !special(b) {
                // Plain text only moves `prev`: skip to the next byte that
                // can do more.
                let end = bytes[i..]
                    .iter()
                    .position(|&c| special(c))
                    .map_or(bytes.len(), |at| i + at);
                if let Some(&last) = bytes[i..end].iter().rfind(|b| !matches!(b, b' ' | b'\t')) {
                    prev = last;
                }
                i = end;
                continue;
            }
            let after_space = i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t';
            match b {
                b'#' if after_space => break,
                b'[' | b'{' if depth > 0 || value_start(prev) => {
                    depth += 1;
                    if depth > max {
                        return Some(LineCol {
                            line: n + 1,
                            col: i + 1,
                        });
                    }
                }
                b']' | b'}' if depth > 0 => depth -= 1,
                // A node's anchor or tag: the node (a bracket, say) comes
                // after it, where a value can still start.
                b'&' | b'!' if depth == 0 && value_start(prev) => {
                    while i < bytes.len() && bytes[i] != b' ' && bytes[i] != b'\t' {
                        i += 1;
                    }
                    continue;
                }
                b'"' | b'\'' if value_start(prev) || (depth > 0 && flow_start(prev)) => {
                    quote = Some(b)
                }
                b' ' | b'\t' => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            prev = b;
            i += 1;
        }
        if depth == 0
            && quote.is_none()
            && trimmed.contains(['|', '>'])
            && is_block_scalar_header(trimmed)
        {
            block_scalar = Some(indent);
        }
    }
    None
}

/// The bytes the scan looks at one by one; any other only becomes `prev`
/// (or, as a space, not even that).
fn special(b: u8) -> bool {
    matches!(
        b,
        b'#' | b'[' | b'{' | b']' | b'}' | b'&' | b'!' | b'"' | b'\''
    )
}

/// `key: |`, `- >-`, `|2`: a line after which more indented lines are text.
fn is_block_scalar_header(line: &str) -> bool {
    let value = line.split(" #").next().unwrap_or("").trim_end();
    let (before, last) = value.rsplit_once(' ').unwrap_or(("", value));
    let indicator = last.starts_with(['|', '>'])
        && last[1..]
            .chars()
            .all(|c| matches!(c, '+' | '-' | '0'..='9'));
    let before = before.trim_end();
    indicator && (before.is_empty() || before.ends_with(':') || before.ends_with('-'))
}

/// Whether a node may start after `prev` outside a flow collection: at the
/// start of a line, after `key:`, `-` or `?`.
fn value_start(prev: u8) -> bool {
    matches!(prev, b'\n' | b':' | b'-' | b'?')
}

/// Whether a node may start after `prev` inside a flow collection.
fn flow_start(prev: u8) -> bool {
    matches!(prev, b'[' | b'{' | b',' | b':' | b'?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_real_nesting_only() {
        let deep = format!("a: {}", "[".repeat(200));
        assert_eq!(
            too_deep(&deep, 128),
            Some(LineCol {
                line: 1,
                col: 4 + 128
            })
        );
        assert_eq!(
            too_deep(&format!("a:\n  - {}", "{".repeat(129)), 128),
            Some(LineCol {
                line: 2,
                col: 5 + 128
            })
        );
        let fine = [
            "a: [[1, [2]], {b: [c]}]",
            "title: a [ b [ c",
            "x: \"[[[[\"\ny: '[[[['",
            "# [[[[[\nz: 1 # [[[[",
            "text: |\n  [[[[[[\n  {{{{{\nnext: 1",
        ];
        for text in fine {
            assert_eq!(too_deep(text, 3), None, "{text}");
        }
        assert_eq!(too_deep("a: [[[", 2), Some(LineCol { line: 1, col: 6 }));
        // After a tag or an anchor, a bracket still opens a collection.
        assert_eq!(
            too_deep("a: !!seq [[[", 2),
            Some(LineCol { line: 1, col: 12 })
        );
        assert_eq!(
            too_deep("a: &x !!seq [[[", 2),
            Some(LineCol { line: 1, col: 15 })
        );
        assert_eq!(too_deep("- !t\t{{{", 2), Some(LineCol { line: 1, col: 8 }));
        assert_eq!(too_deep("a: &x \"[[[\"", 2), None);
        // Text skipped in a run (plain words, quoted text with escapes and
        // doubled quotes) hides no bracket and no closing quote.
        assert_eq!(
            too_deep("a: {b: \"x\\\" [[\", c: 'it''s [[', d: [e f, [g]]}", 2),
            Some(LineCol { line: 1, col: 42 })
        );
        assert_eq!(
            too_deep("a: {b: \"x\\\" [[\", c: 'it''s [[', d: e}", 1),
            None
        );
        assert_eq!(
            too_deep("a: [\"]]\", [[", 2),
            Some(LineCol { line: 1, col: 12 })
        );
    }

    #[test]
    fn linear_on_huge_inputs() {
        let huge = format!("a: {}", "[".repeat(8 << 20));
        assert!(too_deep(&huge, 128).is_some());
        let wide = "a: [1]\n".repeat(1 << 20);
        assert_eq!(too_deep(&wide, 128), None);
    }
}
