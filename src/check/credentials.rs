//! Credentials stay out of git: a spec that holds a literal token in an auth
//! parameter (or a Descope management key) is refused, so it never gets
//! committed. Values that are templates (`{{ env.TOKEN }}`) are fine: what
//! they render to comes from the environment or from Descope at run time.
//!
//! Everything here is pure; messages say *what kind* of credential was found
//! (and at most its well-known prefix), never the value itself.

use std::fmt;

use base64::Engine;

use indexmap::IndexMap;

use crate::error::Diagnostic;
use crate::spec::{App, Auth, AuthParam, Descope, Header, Located, Source, Var};
use crate::template::{Templates, is_template, visit_strings};

/// A var and its name.
#[derive(Clone, Copy)]
struct NamedVar<'a> {
    name: &'a str,
    var: &'a Var,
}

/// A literal credential found in a value: what it is, the literal text
/// that holds it (to mask), and the var it came through, if any.
struct Literal<'a> {
    found: Finding,
    piece: String,
    var: Option<NamedVar<'a>>,
}

/// Known token formats: a prefix, what it is, and how many token characters
/// (`[A-Za-z0-9._+/=-]`) must follow it for a match, so that ordinary words
/// that happen to start the same way (`sk-SK`, `SG.1`) don't count.
/// Longer prefixes come before shorter ones that share a start.
const PREFIXES: &[(&str, &str, usize)] = &[
    ("github_pat_", "a GitHub fine-grained token", 20),
    ("ghp_", "a GitHub token", 20),
    ("gho_", "a GitHub OAuth token", 20),
    ("ghu_", "a GitHub user-to-server token", 20),
    ("ghs_", "a GitHub server-to-server token", 20),
    ("ghr_", "a GitHub refresh token", 20),
    ("glpat-", "a GitLab token", 16),
    ("xoxb-", "a Slack bot token", 10),
    ("xoxp-", "a Slack user token", 10),
    ("xoxa-", "a Slack workspace token", 10),
    ("xapp-", "a Slack app-level token", 10),
    ("sk_live_", "a Stripe secret key", 16),
    ("rk_live_", "a Stripe restricted key", 16),
    ("sk_test_", "a Stripe test secret key", 16),
    ("rk_test_", "a Stripe test restricted key", 16),
    ("sk-", "a secret API key (OpenAI, Anthropic)", 20),
    ("AIza", "a Google API key", 30),
    ("ya29.", "a Google OAuth token", 20),
    ("npm_", "an npm token", 30),
    ("pypi-", "a PyPI token", 20),
    ("SG.", "a SendGrid key", 20),
];

/// AWS access key ids: the prefix and exactly 16 more `[A-Z0-9]`.
const AWS_PREFIXES: &[(&str, &str)] = &[
    ("AKIA", "an AWS access key id"),
    ("ASIA", "an AWS temporary access key id"),
];

/// A first word short and plain enough to be an auth scheme (`Bearer`,
/// `token`, `Basic`, `Bot`): it may be shown in messages.
const MAX_SCHEME_LEN: usize = 12;

/// Minimum length of a random-looking word: on its own, and after a scheme
/// word (which already says a credential follows).
const MIN_RANDOM_LEN: usize = 20;
const MIN_RANDOM_LEN_AFTER_SCHEME: usize = 16;

/// Minimum Shannon entropy, in bits per character, of a random-looking word;
/// a lower one for hex strings, whose alphabet tops out at 4 bits.
const MIN_ENTROPY: f64 = 3.5;
const MIN_ENTROPY_HEX: f64 = 3.0;

/// Minimum share of adjacent character pairs that switch between a letter
/// and a digit, or from lower to upper case. Random strings switch about
/// every other character; readable names (`my-project-2024-production`,
/// `ProjectAlpha2024Release`) switch only at word boundaries.
const MIN_SWITCH_RATIO: f64 = 0.2;

/// What a literal value was taken for. Holds no part of the value beyond a
/// well-known prefix, so it can be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Where in the value the credential is.
    pub place: Place,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// The value itself (or its first word).
    Whole,
    /// The word after an auth scheme like `Bearer`, kept for the message.
    AfterScheme(String),
    /// Some later word, after a first word that is not shown.
    LaterWord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A known token format.
    Prefix {
        what: &'static str,
        prefix: &'static str,
    },
    /// A JSON Web Token: `eyJ…` header, payload and signature.
    Jwt,
    /// A PEM block (`-----BEGIN …`); `private` when it says `PRIVATE KEY`.
    Pem { private: bool },
    /// `Basic` followed by base64 of `user:password`.
    BasicAuth,
    /// A long, high-entropy string of token characters.
    Random { len: usize },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Place::Whole => write!(f, "it ")?,
            Place::AfterScheme(scheme) => write!(f, "after `{scheme}`, it ")?,
            Place::LaterWord => write!(f, "a word in it ")?,
        }
        match &self.kind {
            Kind::Prefix { what, prefix } => write!(f, "starts like {what}, `{prefix}`"),
            Kind::Jwt => write!(f, "is a JSON Web Token, `eyJ`"),
            Kind::Pem { private: true } => write!(f, "holds a PEM private key, `-----BEGIN`"),
            Kind::Pem { private: false } => write!(f, "holds a PEM block, `-----BEGIN`"),
            Kind::BasicAuth => write!(f, "is a base64-encoded `user:password`"),
            Kind::Random { len } => write!(f, "is a {len}-character random-looking string"),
        }
    }
}

/// Where literal text comes from: the templates (for the literal pieces of
/// a template) and the vars (whose literals reach an auth value that uses them).
pub(crate) struct Pieces<'a> {
    pub templates: &'a Templates,
    pub vars: &'a IndexMap<String, Var>,
}

impl Pieces<'_> {
    /// The literal texts of `value`: all of a plain string, and the text
    /// outside the tags and the string literals inside them of a template
    /// (so `{{ "ghp_..." }}` and `ghp_...{{ "" }}` are seen).
    fn of(&self, value: &str) -> Vec<String> {
        self.templates.literals(value)
    }

    /// The vars `value` uses, directly or through other vars, in spec order.
    fn vars_used(&self, value: &str) -> Vec<NamedVar<'_>> {
        let mut names: Vec<String> = Vec::new();
        let mut todo: Vec<String> = self
            .templates
            .refs(value)
            .map(|r| r.vars.iter().cloned().collect())
            .unwrap_or_default();
        while let Some(name) = todo.pop() {
            if names.contains(&name) {
                continue;
            }
            if let Some(var) = self.vars.get(&name) {
                visit_strings(&var.value, &mut |s| {
                    if let Some(r) = self.templates.refs(s) {
                        todo.extend(r.vars.iter().cloned());
                    }
                });
            }
            names.push(name);
        }
        self.vars
            .iter()
            .filter(|(n, _)| names.contains(n))
            .map(|(name, var)| NamedVar { name, var })
            .collect()
    }

    /// The first literal credential in `value` or in a var it uses: what
    /// was found, the literal text that holds it, and the var, if any.
    fn credential(&self, value: &str) -> Option<Literal<'_>> {
        for piece in self.of(value) {
            if let Some(found) = literal_credential(&piece) {
                return Some(Literal {
                    found,
                    piece,
                    var: None,
                });
            }
        }
        for named in self.vars_used(value) {
            let mut texts = Vec::new();
            visit_strings(&named.var.value, &mut |s| texts.extend(self.of(s)));
            for piece in texts {
                if let Some(found) = literal_credential(&piece) {
                    return Some(Literal {
                        found,
                        piece,
                        var: Some(named),
                    });
                }
            }
        }
        None
    }
}

/// Every literal credential in an auth object, as diagnostics: auth
/// parameters (unless `allow_literal: true`), `body` fields, and the
/// credential source's settings (Descope's `management_key` and
/// `project_id`).
pub(crate) fn auth(auth: &Auth, pieces: &Pieces) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = auth
        .parameters
        .iter()
        .filter_map(|p| parameter(p, pieces))
        .collect();
    if let Some(body) = &auth.body {
        for (field, value) in &body.value {
            let mut texts = Vec::new();
            visit_strings(value, &mut |s| texts.push(s.to_string()));
            if let Some(Literal { found, piece, var }) =
                texts.iter().find_map(|t| pieces.credential(t))
            {
                let (message, loc) = match var {
                    Some(NamedVar { name, var: v }) => (
                        format!(
                            "auth `body` field `{field}` uses var `{name}`, which holds a literal credential ({found})"
                        ),
                        v.loc.clone(),
                    ),
                    None => (
                        format!("auth `body` field `{field}` holds a literal credential ({found})"),
                        body.loc.clone(),
                    ),
                };
                out.push(
                    Diagnostic::new(message, Some(loc))
                        .with_help(Some(format!(
                            "put it in an environment variable (`{field}: \"{}\"`) or fetch it from Descope",
                            suggested_value(&found, field)
                        )))
                        .masking(piece),
                );
            }
        }
    }
    if let Some(Source::Descope(d)) = &auth.source {
        out.extend(descope(d, pieces));
    }
    out
}

/// An auth parameter whose value holds a literal credential, or uses a var
/// that does.
pub(crate) fn parameter(p: &AuthParam, pieces: &Pieces) -> Option<Diagnostic> {
    if p.allow_literal {
        return None;
    }
    let Literal { found, piece, var } = pieces.credential(&p.value)?;
    let (message, loc) = match var {
        Some(NamedVar { name, var: v }) => (
            format!(
                "auth parameter `{}` uses var `{name}`, which holds a literal credential ({found})",
                p.name
            ),
            v.loc.clone(),
        ),
        None => (
            format!(
                "auth parameter `{}` holds a literal credential ({found})",
                p.name
            ),
            p.value_loc.clone(),
        ),
    };
    Some(
        Diagnostic::new(message, Some(loc))
            .with_help(Some(format!(
                "put it in an environment variable (`value: \"{}\"`) or fetch it from Descope; \
                 for a test fixture, set `allow_literal: true` on the parameter",
                suggested_value(&found, &p.name)
            )))
            .masking(piece),
    )
}

/// An app header holding a literal credential: app headers are literal and
/// sent to every action, so credentials belong in `auth:`.
pub(crate) fn header(app: &App, h: &Header) -> Option<Diagnostic> {
    let found = literal_credential(&h.value)?;
    let masked = h.value.clone();
    Some(
        Diagnostic::new(
            format!(
                "header `{}` of app `{}` holds a literal credential ({found})",
                h.name, app.name
            ),
            Some(h.loc.clone()),
        )
        .with_help(Some(format!(
            "app headers are not templates; send credentials from `auth:` instead \
             (`{{name: {}, in: header, value: \"{}\"}}`)",
            h.name,
            suggested_value(&found, &h.name)
        )))
        .masking(masked),
    )
}

/// The templated value to suggest instead: the scheme word kept, and an
/// environment variable named after the kind of credential or the parameter
/// (`Bearer {{ env.GITHUB_TOKEN }}`, `{{ env.API_KEY }}`).
fn suggested_value(found: &Finding, param: &str) -> String {
    let var = match &found.kind {
        Kind::Prefix { prefix, .. } => env_var_for_prefix(prefix),
        _ => None,
    }
    .map(str::to_string)
    .unwrap_or_else(|| env_var_for_param(param));
    match &found.place {
        Place::AfterScheme(scheme) => format!("{scheme} {{{{ env.{var} }}}}"),
        _ => format!("{{{{ env.{var} }}}}"),
    }
}

fn env_var_for_prefix(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "ghp_" | "gho_" | "ghu_" | "ghs_" | "ghr_" | "github_pat_" => "GITHUB_TOKEN",
        "glpat-" => "GITLAB_TOKEN",
        "xoxb-" | "xoxp-" | "xoxa-" | "xapp-" => "SLACK_TOKEN",
        "sk_live_" | "rk_live_" | "sk_test_" | "rk_test_" => "STRIPE_API_KEY",
        "AKIA" | "ASIA" => "AWS_ACCESS_KEY_ID",
        "AIza" => "GOOGLE_API_KEY",
        "ya29." => "GOOGLE_TOKEN",
        "npm_" => "NPM_TOKEN",
        "pypi-" => "PYPI_TOKEN",
        "SG." => "SENDGRID_API_KEY",
        _ => return None,
    })
}

/// `X-Api-Key` and `api_key` give `API_KEY`; `Authorization` gives `API_TOKEN`.
fn env_var_for_param(param: &str) -> String {
    let name = param
        .strip_prefix("X-")
        .or_else(|| param.strip_prefix("x-"))
        .unwrap_or(param);
    let var: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let var = var.trim_matches('_');
    if var.is_empty() || var == "AUTHORIZATION" || var.starts_with(|c: char| c.is_ascii_digit()) {
        "API_TOKEN".to_string()
    } else {
        var.to_string()
    }
}

/// Descope fields written literally: a `management_key` always is a
/// credential; a `project_id` is public, so it only counts when it has a
/// known credential format (a key pasted into the wrong field). The entropy
/// rule is not applied to it: real project ids are random-looking.
pub(crate) fn descope(d: &Descope, pieces: &Pieces) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let key = d.management_key.as_ref().and_then(|k| {
        if is_literal(&k.value) {
            return Some((k, k.value.clone()));
        }
        let piece = pieces
            .of(&k.value)
            .into_iter()
            .find(|p| literal_credential(p).is_some())?;
        Some((k, piece))
    });
    if let Some((key, piece)) = key {
        out.push(
            Diagnostic::new(
                "descope `management_key` holds a literal credential (a management key always is one)",
                Some(key.loc.clone()),
            )
            .with_help(Some(format!(
                "leave `management_key` out to read `{}` from the environment, or name \
                 another variable (`management_key: \"{{{{ env.MY_DESCOPE_KEY }}}}\"`)",
                Descope::MANAGEMENT_KEY_VAR
            )))
            .masking(piece),
        );
    }
    if let Some((id, found)) = d
        .project_id
        .as_ref()
        .filter(|id| is_literal(&id.value))
        .and_then(|id: &Located<String>| Some((id, known_format(&id.value)?)))
    {
        out.push(
            Diagnostic::new(
                format!("descope `project_id` holds a literal credential ({found})"),
                Some(id.loc.clone()),
            )
            .with_help(Some(format!(
                "a project id is public but this looks like a key; leave `project_id` out to \
                 read `{}` from the environment, or write `project_id: \"{{{{ env.MY_PROJECT_ID }}}}\"`",
                Descope::PROJECT_ID_VAR
            )))
            .masking(id.value.clone()),
        );
    }
    out
}

/// A non-empty value with no template syntax.
fn is_literal(value: &str) -> bool {
    !value.trim().is_empty() && !is_template(value)
}

/// Whether a literal value looks like a credential, and why.
///
/// Templates (anything with `{{`, `{%` or `{#`) never do. Otherwise the
/// whole value, and each of its whitespace-separated words (so `Bearer
/// <token>`, `token <token>` and `Basic <base64>` are seen), counts when it:
///
/// - holds a PEM block (`-----BEGIN`);
/// - starts with a known token prefix (`ghp_`, `github_pat_`, `glpat-`,
///   `xoxb-`, `sk-`, `sk_live_`, `AKIA`, `AIza`, `ya29.`, `npm_`, `pypi-`,
///   `SG.`, …; see [`PREFIXES`]) followed by enough token characters;
/// - is a JSON Web Token: `eyJ` then three (or five, encrypted) dot-separated
///   base64url parts;
/// - follows `Basic` and is base64 of text containing `:` (`user:password`);
/// - is random-looking: at least 20 characters (16 after a scheme word like
///   `Bearer`) all from `[A-Za-z0-9+/=_-]`, with at least two of lowercase,
///   uppercase and digits, a Shannon entropy of at least 3.5 bits per
///   character (3.0 when every letter is a hex digit) and letter/digit or
///   lower/upper switches in at least a fifth of adjacent pairs. So
///   `application/vnd.github+json`, `2022-11-28`, `some-team-name`,
///   `my-project-2024-production` or `https://api.example.com/v1` pass, while
///   random tokens, hex digests and UUIDs do not.
pub(crate) fn literal_credential(value: &str) -> Option<Finding> {
    if is_template(value) {
        return None;
    }
    let value = value.trim();
    if let Some(found) = pem(value) {
        return Some(found);
    }
    let mut words = value.split_whitespace();
    let first = words.next()?;
    if let Some(kind) = word_kind(first, false, false) {
        return Some(Finding {
            place: Place::Whole,
            kind,
        });
    }
    let scheme = (first.len() <= MAX_SCHEME_LEN && first.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| first.to_string());
    let basic = first.eq_ignore_ascii_case("basic");
    for word in words {
        if let Some(kind) = word_kind(word, scheme.is_some(), basic) {
            let place = match &scheme {
                Some(s) => Place::AfterScheme(s.clone()),
                None => Place::LaterWord,
            };
            return Some(Finding { place, kind });
        }
    }
    None
}

/// A PEM block (a certificate or a key).
fn pem(value: &str) -> Option<Finding> {
    value.contains("-----BEGIN").then(|| Finding {
        place: Place::Whole,
        kind: Kind::Pem {
            private: value.contains("PRIVATE KEY"),
        },
    })
}

/// A value's known credential format, without the entropy rule.
fn known_format(value: &str) -> Option<Finding> {
    let value = value.trim();
    if let Some(found) = pem(value) {
        return Some(found);
    }
    value.split_whitespace().find_map(|word| {
        let kind = prefix_kind(word).or_else(|| is_jwt(word).then_some(Kind::Jwt))?;
        Some(Finding {
            place: Place::Whole,
            kind,
        })
    })
}

/// What one word is, if a credential.
fn word_kind(word: &str, after_scheme: bool, after_basic: bool) -> Option<Kind> {
    if let Some(kind) = prefix_kind(word) {
        return Some(kind);
    }
    if is_jwt(word) {
        return Some(Kind::Jwt);
    }
    if after_basic && is_basic_credentials(word) {
        return Some(Kind::BasicAuth);
    }
    let min_len = if after_scheme {
        MIN_RANDOM_LEN_AFTER_SCHEME
    } else {
        MIN_RANDOM_LEN
    };
    is_random(word, min_len).then(|| Kind::Random {
        len: word.chars().count(),
    })
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '/' | '=')
}

fn prefix_kind(word: &str) -> Option<Kind> {
    for &(prefix, what) in AWS_PREFIXES {
        if let Some(rest) = word.strip_prefix(prefix) {
            let id: String = rest
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if id.len() == 16
                && id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                return Some(Kind::Prefix { what, prefix });
            }
        }
    }
    PREFIXES.iter().find_map(|&(prefix, what, min_rest)| {
        let rest = word.strip_prefix(prefix)?;
        (rest.chars().take_while(|&c| is_token_char(c)).count() >= min_rest)
            .then_some(Kind::Prefix { what, prefix })
    })
}

fn is_base64url(part: &str) -> bool {
    part.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='))
}

/// `eyJ…` header, then payload and signature (or the five parts of a JWE),
/// all base64url; only the signature may be empty (`alg: none`).
fn is_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    word.starts_with("eyJ")
        && matches!(parts.len(), 3 | 5)
        && parts[..2].iter().all(|p| p.len() >= 4)
        && parts.iter().all(|p| is_base64url(p))
}

/// Base64 (standard or url-safe) of printable text holding a `:`.
fn is_basic_credentials(word: &str) -> bool {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let Some(bytes) = STANDARD
        .decode(word)
        .ok()
        .or_else(|| URL_SAFE.decode(word).ok())
    else {
        return false;
    };
    match String::from_utf8(bytes) {
        Ok(text) => text.contains(':') && !text.chars().any(char::is_control),
        Err(_) => false,
    }
}

/// Shannon entropy of the characters of `s`, in bits per character.
pub(crate) fn shannon_entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut total = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Share of adjacent pairs that switch between letter and digit, or go from
/// lower to upper case (the start of a hump, counted once per hump).
fn switch_ratio(s: &str) -> f64 {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 2 {
        return 0.0;
    }
    let switches = chars
        .windows(2)
        .filter(|w| {
            let (a, b) = (w[0], w[1]);
            a.is_ascii_alphanumeric()
                && b.is_ascii_alphanumeric()
                && (a.is_ascii_digit() != b.is_ascii_digit()
                    || (a.is_ascii_lowercase() && b.is_ascii_uppercase()))
        })
        .count();
    switches as f64 / (chars.len() - 1) as f64
}

/// The random-looking rule of [`literal_credential`].
fn is_random(word: &str, min_len: usize) -> bool {
    let len = word.chars().count();
    if len < min_len
        || !word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-'))
    {
        return false;
    }
    let classes = [
        word.chars().any(|c| c.is_ascii_lowercase()),
        word.chars().any(|c| c.is_ascii_uppercase()),
        word.chars().any(|c| c.is_ascii_digit()),
    ];
    if classes.iter().filter(|&&b| b).count() < 2 {
        return false;
    }
    let hex = word
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .all(|c| c.is_ascii_hexdigit());
    let min_entropy = if hex { MIN_ENTROPY_HEX } else { MIN_ENTROPY };
    shannon_entropy(word) >= min_entropy && switch_ratio(word) >= MIN_SWITCH_RATIO
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Loc;

    fn loc() -> Loc {
        let file = crate::source::File::named("spec.yaml");
        Loc::at(
            &file,
            "auth.x.parameters[0].value",
            Some(crate::source::LineCol { line: 8, col: 16 }),
        )
    }

    /// The diagnostic for parameter `p` in a spec with `vars`.
    fn check_with(p: &AuthParam, vars: &[(&str, &str)]) -> Option<Diagnostic> {
        let mut templates = Templates::new();
        templates.add(&p.value).unwrap();
        let vars: IndexMap<String, Var> = vars
            .iter()
            .map(|(n, v)| {
                templates.add(v).unwrap();
                let value = serde_json::Value::String(v.to_string());
                (n.to_string(), Var { value, loc: loc() })
            })
            .collect();
        parameter(
            p,
            &Pieces {
                templates: &templates,
                vars: &vars,
            },
        )
    }

    fn check(p: &AuthParam) -> Option<Diagnostic> {
        check_with(p, &[])
    }

    fn descope(d: &Descope) -> Vec<Diagnostic> {
        let templates = Templates::new();
        let vars = IndexMap::new();
        super::descope(
            d,
            &Pieces {
                templates: &templates,
                vars: &vars,
            },
        )
    }

    fn param(value: &str, allow_literal: bool) -> AuthParam {
        AuthParam {
            name: "Authorization".into(),
            placement: crate::spec::Placement::Header,
            value: value.into(),
            loc: loc(),
            value_loc: loc(),
            allow_literal,
        }
    }

    fn kind(value: &str) -> Option<Kind> {
        literal_credential(value).map(|f| f.kind)
    }

    const GITHUB: &str = "ghp_FAKE0123456789abcdefFAKE0123456789ab";
    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJGQUtFIn0.RkFLRS1zaWduYXR1cmU";

    #[test]
    fn ordinary_values_pass() {
        for value in [
            "application/vnd.github+json",
            "application/json",
            "2022-11-28",
            "Bearer",
            "token",
            "some-team-name",
            "https://api.example.com/v1",
            "my-project-2024-production",
            "MyVeryLongOrganisationName",
            "XMLHttpRequestUploadEventTarget",
            "ProjectAlpha2024Release",
            "runner-integration-tests",
            "team-platform-eu-west-1",
            "production-us-east-2-cluster",
            "user_1234567890_test_account",
            "v2024_10_01_preview_release",
            "text/plain; charset=utf-8",
            "gzip, deflate, br",
            "en-US,en;q=0.9",
            "octocat/hello-world",
            "acme",
            "sk-SK",
            "SG.1",
            "AKIAN",
            "ghp_short",
            "Bearer test",
            "token abc123",
            "Basic notbase64!",
            "eyJ",
            "2024-01-01T00:00:00Z",
            "",
            "   ",
        ] {
            assert_eq!(literal_credential(value), None, "{value:?}");
        }
    }

    #[test]
    fn templates_never_count() {
        for value in [
            "Bearer {{ env.GITHUB_TOKEN }}",
            "{{ env.T }}",
            "ghp_FAKE0123456789abcdefFAKE0123456789ab{{ '' }}",
            "{% if true %}Zq7vR2mX9pL4tK8wB3nY6cJ1{% endif %}",
            "{# ghp_FAKE0123456789abcdefFAKE0123456789ab #}",
        ] {
            assert_eq!(literal_credential(value), None, "{value:?}");
        }
    }

    #[test]
    fn known_prefixes() {
        let cases = [
            (GITHUB, "ghp_"),
            ("gho_FAKE0123456789abcdefFAKE0123456789ab", "gho_"),
            ("ghu_FAKE0123456789abcdefFAKE0123456789ab", "ghu_"),
            ("ghs_FAKE0123456789abcdefFAKE0123456789ab", "ghs_"),
            ("ghr_FAKE0123456789abcdefFAKE0123456789ab", "ghr_"),
            (
                "github_pat_FAKE0123456789abcdef_FAKE0123456789",
                "github_pat_",
            ),
            ("glpat-FAKEfake0123456789ab", "glpat-"),
            ("xoxb-123456789012-1234567890123-FAKEfakeFAKE", "xoxb-"),
            ("xoxp-123456789012-1234567890123-FAKEfakeFAKE", "xoxp-"),
            ("xoxa-2-FAKE0123456789", "xoxa-"),
            ("xapp-1-A0FAKE-0123456789", "xapp-"),
            ("sk-proj-FAKEfake0123456789FAKEfake", "sk-"),
            ("sk_live_FAKEfake0123456789ab", "sk_live_"),
            ("rk_live_FAKEfake0123456789ab", "rk_live_"),
            ("sk_test_FAKEfake0123456789ab", "sk_test_"),
            ("AKIAFAKE0123456789AB", "AKIA"),
            ("ASIAFAKE0123456789AB", "ASIA"),
            ("AIzaFAKEfake0123456789FAKEfake0123456", "AIza"),
            ("ya29.FAKEfake0123456789FAKEfake", "ya29."),
            ("npm_FAKEfake0123456789FAKEfake0123456789", "npm_"),
            ("pypi-AgEIcHlwaS5vcmcFAKEfake", "pypi-"),
            ("SG.FAKEfake0123456789ab.FAKEfake0123", "SG."),
        ];
        for (value, want) in cases {
            match kind(value) {
                Some(Kind::Prefix { prefix, .. }) => assert_eq!(prefix, want, "{value}"),
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn aws_ids_need_sixteen_upper_alnum() {
        assert_eq!(kind("AKIAFAKE0123456789A"), None);
        assert_eq!(kind("AKIAfake0123456789ab"), None);
        assert!(matches!(
            kind("AKIAFAKE0123456789AB"),
            Some(Kind::Prefix { prefix: "AKIA", .. })
        ));
    }

    #[test]
    fn after_a_scheme_word() {
        let found = literal_credential(&format!("Bearer {GITHUB}")).unwrap();
        assert_eq!(found.place, Place::AfterScheme("Bearer".into()));
        assert_eq!(
            found.to_string(),
            "after `Bearer`, it starts like a GitHub token, `ghp_`"
        );
        let found = literal_credential(&format!("token {GITHUB}")).unwrap();
        assert_eq!(found.place, Place::AfterScheme("token".into()));
        // A random token after a scheme word may be shorter.
        let found = literal_credential("Bearer Zq7vR2mX9pL4tK8w").unwrap();
        assert_eq!(found.kind, Kind::Random { len: 16 });
        assert_eq!(literal_credential("Zq7vR2mX9pL4tK8w"), None);
        // A first word that is not a plain scheme word is not shown.
        let found = literal_credential(&format!("key=1 {GITHUB}")).unwrap();
        assert_eq!(found.place, Place::LaterWord);
        assert!(!found.to_string().contains("key=1"));
    }

    #[test]
    fn basic_credentials() {
        // user:password
        assert_eq!(kind("Basic dXNlcjpwYXNzd29yZA=="), Some(Kind::BasicAuth));
        assert_eq!(kind("basic dGVzdDp0ZXN0"), Some(Kind::BasicAuth));
        // base64 without a colon is not user:password, and too short to be random.
        assert_eq!(kind("Basic aGVsbG8="), None);
    }

    #[test]
    fn jwts() {
        assert_eq!(kind(JWT), Some(Kind::Jwt));
        assert_eq!(kind(&format!("Bearer {JWT}")), Some(Kind::Jwt));
        // Unsigned: empty signature.
        assert_eq!(
            kind("eyJhbGciOiJub25lIn0.eyJzdWIiOiJGQUtFIn0."),
            Some(Kind::Jwt)
        );
        assert_eq!(kind("eyJhbGciOiJub25lIn0"), None);
        assert_eq!(kind("eyJ.a.b"), None);
    }

    #[test]
    fn pem_blocks() {
        assert_eq!(
            kind("-----BEGIN RSA PRIVATE KEY-----\nMIIFAKE\n-----END RSA PRIVATE KEY-----"),
            Some(Kind::Pem { private: true })
        );
        assert_eq!(
            kind("-----BEGIN CERTIFICATE-----"),
            Some(Kind::Pem { private: false })
        );
    }

    #[test]
    fn random_strings() {
        for value in [
            "Zq7vR2mX9pL4tK8wB3nY6cJ1",
            "dXNlcm5hbWU6cGFzc3dvcmQ=",
            "P2OkfVnJi5Ht7mpCqHjx17nV5epH",
            "de305d54-75b4-431b-adb2-eb6b9e546014",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKEKEY",
        ] {
            assert!(
                matches!(kind(value), Some(Kind::Random { .. })),
                "{value}: {:?}",
                kind(value)
            );
        }
    }

    #[test]
    fn entropy() {
        assert_eq!(shannon_entropy(""), 0.0);
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("abcd") - 2.0).abs() < 1e-9);
        assert!((shannon_entropy("0123456789abcdef") - 4.0).abs() < 1e-9);
    }

    #[test]
    fn switches() {
        assert_eq!(switch_ratio("abcdef"), 0.0);
        assert_eq!(switch_ratio("a1b2"), 1.0);
        assert_eq!(switch_ratio("my-project-2024"), 0.0);
        // Only lower to upper counts, once per hump.
        assert!((switch_ratio("aBcD") - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn messages_never_hold_the_value() {
        for value in [
            GITHUB,
            JWT,
            "Zq7vR2mX9pL4tK8wB3nY6cJ1",
            "Basic dXNlcjpwYXNzd29yZA==",
        ] {
            let d = check(&param(value, false)).expect(value);
            let shown = d.to_string();
            for word in value.split_whitespace().filter(|w| w.len() > 8) {
                assert!(!shown.contains(word), "{shown}");
                assert!(!shown.contains(&word[4..]), "{shown}");
            }
        }
    }

    #[test]
    fn parameter_diagnostic() {
        let d = check(&param(GITHUB, false)).unwrap();
        assert_eq!(
            d.message,
            "auth parameter `Authorization` holds a literal credential (it starts like a GitHub token, `ghp_`)"
        );
        assert_eq!(
            d.help.as_deref(),
            Some(
                "put it in an environment variable (`value: \"{{ env.GITHUB_TOKEN }}\"`) \
                 or fetch it from Descope; for a test fixture, set `allow_literal: true` on the parameter"
            )
        );
        let d = check(&param(&format!("Bearer {GITHUB}"), false)).unwrap();
        assert_eq!(d.loc, Some(loc()));
        assert_eq!(
            d.help.as_deref(),
            Some(
                "put it in an environment variable (`value: \"Bearer {{ env.GITHUB_TOKEN }}\"`) \
                 or fetch it from Descope; for a test fixture, set `allow_literal: true` on the parameter"
            )
        );
    }

    #[test]
    fn suggestions_keep_the_scheme_and_name_a_variable() {
        let suggest =
            |value: &str, name: &str| suggested_value(&literal_credential(value).unwrap(), name);
        assert_eq!(
            suggest(&format!("Bearer {GITHUB}"), "Authorization"),
            "Bearer {{ env.GITHUB_TOKEN }}"
        );
        assert_eq!(
            suggest("AKIAFAKE0123456789AB", "X-Access-Key-Id"),
            "{{ env.AWS_ACCESS_KEY_ID }}"
        );
        assert_eq!(
            suggest("Zq7vR2mX9pL4tK8wB3nY6cJ1", "X-Api-Key"),
            "{{ env.API_KEY }}"
        );
        assert_eq!(
            suggest("token Zq7vR2mX9pL4tK8wB3nY6cJ1", "Authorization"),
            "token {{ env.API_TOKEN }}"
        );
        assert_eq!(suggest(JWT, "api_key"), "{{ env.API_KEY }}");
    }

    #[test]
    fn allow_literal_turns_it_off() {
        assert_eq!(check(&param(GITHUB, true)), None);
        assert_eq!(check(&param("application/json", false)), None);
    }

    fn located(value: &str) -> Located<String> {
        Located {
            value: value.into(),
            loc: loc(),
        }
    }

    fn descope_with(project_id: Option<&str>, key: Option<&str>) -> Descope {
        Descope {
            app_id: located("github"),
            user_id: Some(located("u1")),
            tenant_id: None,
            scopes: None,
            project_id: project_id.map(located),
            management_key: key.map(located),
            base_url: None,
            loc: loc(),
        }
    }

    #[test]
    fn descope_management_key() {
        let d = descope(&descope_with(None, Some("K2FAKEfake")));
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("`management_key`"), "{:?}", d[0]);
        assert!(!d[0].to_string().contains("K2FAKEfake"));
        assert!(descope(&descope_with(None, Some("{{ env.KEY }}"))).is_empty());
        // Empty is missing, which `apply` reports by itself.
        assert!(descope(&descope_with(None, Some(""))).is_empty());
    }

    #[test]
    fn descope_project_id() {
        // Real project ids are random-looking but public.
        assert!(descope(&descope_with(Some("P2OkfVnJi5Ht7mpCqHjx17nV5epH"), None)).is_empty());
        assert!(descope(&descope_with(Some("P2fromspec"), None)).is_empty());
        let d = descope(&descope_with(Some(JWT), None));
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("`project_id`"), "{:?}", d[0]);
    }

    #[test]
    fn literals_inside_templates_and_vars_are_seen() {
        for value in [
            format!("{{{{ \"{GITHUB}\" }}}}"),
            format!("{GITHUB}{{{{ \"\" }}}}"),
            format!("Bearer {{{{ '{GITHUB}' | trim }}}}"),
        ] {
            let d = check(&param(&value, false)).expect(&value);
            assert!(d.message.contains("GitHub token"), "{}", d.message);
            assert!(!d.to_string().contains(&GITHUB[4..]), "{d}");
        }
        let d = check_with(
            &param("Bearer {{ vars.token }}", false),
            &[("token", GITHUB), ("other", "x")],
        )
        .unwrap();
        assert_eq!(
            d.message,
            "auth parameter `Authorization` uses var `token`, which holds a literal credential (it starts like a GitHub token, `ghp_`)"
        );
        // Through another var, and inside a var's template.
        let token = format!("{{{{ '{GITHUB}' }}}}");
        let d = check_with(
            &param("{{ vars.header }}", false),
            &[("token", &token), ("header", "Bearer {{ vars.token }}")],
        )
        .unwrap();
        assert!(d.message.contains("uses var `token`"), "{}", d.message);
    }
}
