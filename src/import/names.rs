//! Names in the catalog: snake_case param keys, UPPER_SNAKE_CASE action names
//! and prefixes, and stable suffixes for collisions.

use std::collections::HashSet;

/// The words of an identifier: split at every character that is not a letter
/// or digit and at camelCase humps (`perPage` → `per`, `Page`;
/// `XMLHttp` → `XML`, `Http`). A digit sticks to the letters before it
/// (`oauth2Token` → `oauth2`, `Token`).
fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_uppercase() && !word.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                words.push(std::mem::take(&mut word));
            }
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `snake_case`, ASCII only (other letters dropped).
pub(super) fn snake(text: &str) -> String {
    let words: Vec<String> = words(text)
        .iter()
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.join("_")
}

/// `UPPER_SNAKE_CASE`, ASCII only.
pub(super) fn upper_snake(text: &str) -> String {
    snake(text).to_ascii_uppercase()
}

/// Upper-cased with every non-alphanumeric character as `_`: the default
/// prefix and the environment-variable stem of an app (`my-api` → `MY_API`).
pub(super) fn shout(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Whether `name` can be a param key as it is: `[a-z_][a-z0-9_]*`.
pub(super) fn is_plain_key(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The param key for a wire name: the name itself when it is plain, else its
/// snake_case form (`X-GitHub-Api-Version` → `x_git_hub_api_version`,
/// `page[size]` → `page_size`, `+1` → `plus_1`), never empty and never
/// starting with a digit.
pub(super) fn param_key(name: &str) -> String {
    if is_plain_key(name) {
        return name.to_string();
    }
    let sign = match name.as_bytes() {
        [b'+', d, ..] if d.is_ascii_digit() => "plus_",
        [b'-', d, ..] if d.is_ascii_digit() => "minus_",
        _ => "",
    };
    let key = format!("{sign}{}", snake(name));
    match key.chars().next() {
        None => "param".to_string(),
        Some(c) if c.is_ascii_digit() => format!("_{key}"),
        Some(_) => key,
    }
}

/// Gives out names, each once: a name already given comes back with the
/// first free suffix `_2`, `_3`, … . Names `reserve`d up front are never
/// handed out as a suffixed form, so a later natural `X_2` keeps its name.
#[derive(Default)]
pub(super) struct Namer {
    reserved: HashSet<String>,
    given: HashSet<String>,
}

impl Namer {
    /// A namer that will not use `natural` names as suffixed forms.
    pub(super) fn reserving<'a>(natural: impl IntoIterator<Item = &'a str>) -> Self {
        Namer {
            reserved: natural.into_iter().map(str::to_string).collect(),
            given: HashSet::new(),
        }
    }

    /// `name`, or else the first of `name_2`, `name_3`, … neither given nor
    /// reserved.
    pub(super) fn give(&mut self, name: &str) -> String {
        let given = std::iter::once(name.to_string())
            .chain(
                (2..)
                    .map(|n| format!("{name}_{n}"))
                    .filter(|candidate| !self.reserved.contains(candidate)),
            )
            .find(|candidate| !self.given.contains(candidate))
            .expect("an unbounded range has a free name");
        self.given.insert(given.clone());
        given
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_and_upper_snake() {
        assert_eq!(upper_snake("issues/create"), "ISSUES_CREATE");
        assert_eq!(upper_snake("repos/get-content"), "REPOS_GET_CONTENT");
        assert_eq!(upper_snake("listPets"), "LIST_PETS");
        assert_eq!(upper_snake("getXMLHttpRequest"), "GET_XML_HTTP_REQUEST");
        assert_eq!(upper_snake("oauth2Token"), "OAUTH2_TOKEN");
        assert_eq!(snake("X-GitHub-Api-Version"), "x_git_hub_api_version");
        assert_eq!(snake("page[size]"), "page_size");
        assert_eq!(snake("__weird__"), "weird");
    }

    #[test]
    fn param_keys() {
        assert_eq!(param_key("per_page"), "per_page");
        assert_eq!(param_key("perPage"), "per_page");
        assert_eq!(param_key("repo-name"), "repo_name");
        assert_eq!(param_key("+1"), "plus_1");
        assert_eq!(param_key("-1"), "minus_1");
        assert_eq!(param_key("2fa"), "_2fa");
        assert_eq!(param_key("$$"), "param");
    }

    #[test]
    fn shout_keeps_every_character_position() {
        assert_eq!(shout("my-api"), "MY_API");
        assert_eq!(shout("github"), "GITHUB");
    }

    #[test]
    fn namer_suffixes_stably() {
        let mut namer = Namer::reserving(["A", "A_2"]);
        assert_eq!(namer.give("A"), "A");
        assert_eq!(namer.give("A"), "A_3");
        assert_eq!(namer.give("A_2"), "A_2");
        assert_eq!(namer.give("A"), "A_4");
    }
}
