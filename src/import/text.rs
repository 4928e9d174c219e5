//! Descriptions for the catalog: one line, the first sentence, markdown links
//! reduced to their text and `**bold**` markers dropped, at most
//! [`MAX_CHARS`] characters.

/// The longest description written, in characters (an ellipsis included).
pub(super) const MAX_CHARS: usize = 200;

/// Abbreviations whose period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "cf", "approx", "incl", "eg", "ie",
];

/// `text` on one line, capped: for summaries, which are short already.
pub(super) fn line(text: &str) -> Option<String> {
    let flat = collapse(&clean(text));
    (!flat.is_empty()).then(|| cap(&flat))
}

/// The first sentence of the first paragraph of `text`, on one line, capped.
pub(super) fn first_sentence(text: &str) -> Option<String> {
    let paragraph = text
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())
        .unwrap_or("");
    let flat = collapse(&clean(paragraph));
    let sentence = match sentence_end(&flat) {
        Some(end) => &flat[..end],
        None => &flat,
    };
    (!sentence.is_empty()).then(|| cap(sentence))
}

/// Where the first sentence of single-line `text` ends (after its `.`, `!`
/// or `?`), if it ends before the text does.
fn sentence_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if !matches!(b, b'.' | b'!' | b'?') || bytes.get(i + 1) != Some(&b' ') {
            continue;
        }
        if b == b'.' {
            let word = text[..i].rsplit(' ').next().unwrap_or("");
            let word = word.trim_start_matches(['(', '"', '\'']);
            if ABBREVIATIONS.iter().any(|a| word.eq_ignore_ascii_case(a)) {
                continue;
            }
        }
        return Some(i + 1);
    }
    None
}

/// Markdown links reduced to their text, bold markers dropped.
fn clean(text: &str) -> String {
    strip_links(text).replace("**", "")
}

/// Markdown links `[text](target)` reduced to `text`.
fn strip_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let label = &after[..close];
            let target = &after[close + 2..];
            let end = target.find(')')?;
            (!label.contains('[') && !target[..end].contains(char::is_whitespace))
                .then_some((label, close + 2 + end + 1))
        });
        match link {
            Some((label, len)) => {
                out.push_str(&rest[..open]);
                out.push_str(label);
                rest = &after[len..];
            }
            None => {
                out.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every run of whitespace (line breaks included) as one space, trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most [`MAX_CHARS`] characters, cut at a word boundary with an ellipsis.
fn cap(text: &str) -> String {
    if text.chars().count() <= MAX_CHARS {
        return text.to_string();
    }
    let limit = text
        .char_indices()
        .nth(MAX_CHARS - 1)
        .map_or(text.len(), |(i, _)| i);
    let cut = text[..limit]
        .rfind(' ')
        .filter(|&i| i > limit / 2)
        .unwrap_or(limit);
    format!("{}…", text[..cut].trim_end_matches([' ', ',', ';', ':']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentence_of_first_paragraph() {
        assert_eq!(
            first_sentence("The account owner.\nThe name is not case sensitive.").as_deref(),
            Some("The account owner.")
        );
        assert_eq!(
            first_sentence("\n\nLists things, e.g. pets. More.").as_deref(),
            Some("Lists things, e.g. pets.")
        );
        assert_eq!(
            first_sentence("Version 1.5 of the API\n\nSecond paragraph.").as_deref(),
            Some("Version 1.5 of the API")
        );
        assert_eq!(first_sentence("  \n "), None);
    }

    #[test]
    fn links_become_their_text() {
        assert_eq!(
            line("See \"[Creating an issue](https://docs.github.com/x)\" [not a link] [a](b c)")
                .as_deref(),
            Some("See \"Creating an issue\" [not a link] [a](b c)")
        );
        assert_eq!(
            first_sentence("**Required if you update**. More").as_deref(),
            Some("Required if you update.")
        );
    }

    #[test]
    fn long_text_is_capped_at_a_word() {
        let long = "word ".repeat(100);
        let capped = line(&long).unwrap();
        assert!(capped.chars().count() <= MAX_CHARS, "{capped}");
        assert!(capped.ends_with("word…"), "{capped}");
        let unbroken = "x".repeat(300);
        assert_eq!(line(&unbroken).unwrap().chars().count(), MAX_CHARS);
    }
}
