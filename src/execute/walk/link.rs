//! RFC 8288 `Link` headers: the `rel="next"` page of a response.

use std::collections::BTreeMap;

/// The `rel="next"` target of the `Link` headers (RFC 8288), resolved
/// against the request's URL.
pub(super) fn next_link(headers: &BTreeMap<String, String>, base: &str) -> Option<url::Url> {
    let link = headers.get("link")?;
    let base = url::Url::parse(base).ok()?;
    for part in split_links(link) {
        let part = part.trim();
        let Some(rest) = part.strip_prefix('<') else {
            continue;
        };
        let Some((target, params)) = rest.split_once('>') else {
            continue;
        };
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            let Some((name, value)) = p.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return base.join(target.trim()).ok();
        }
    }
    None
}

/// The link-values of a `Link` header: split at commas outside `<...>`
/// and quotes.
fn split_links(header: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut in_url, mut in_quote, mut start) = (false, false, 0);
    for (i, c) in header.char_indices() {
        match c {
            '<' if !in_quote => in_url = true,
            '>' if !in_quote => in_url = false,
            '"' if !in_url => in_quote = !in_quote,
            ',' if !in_url && !in_quote => {
                out.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&header[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        let h = |v: &str| BTreeMap::from([("link".to_string(), v.to_string())]);
        let base = "https://api.example/items?page=1";
        let next = next_link(
            &h(
                r#"<https://api.example/items?page=2>; rel="next", <https://api.example/items?page=9>; rel="last""#,
            ),
            base,
        );
        assert_eq!(next.unwrap().as_str(), "https://api.example/items?page=2");
        let relative = next_link(&h(r#"</items?page=3>; rel="prev next""#), base);
        assert_eq!(
            relative.unwrap().as_str(),
            "https://api.example/items?page=3"
        );
        assert!(next_link(&h(r#"<https://x/?a=1,2>; rel="last""#), base).is_none());
        assert_eq!(
            split_links(r#"<a,b>; title="x, y"; rel=next, <c>"#).len(),
            2
        );
    }
}
