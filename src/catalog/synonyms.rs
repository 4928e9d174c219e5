//! The words people use for what catalogs call otherwise, as data: each
//! query word on the left also finds the words on the right (a phrase of
//! several words must match all of them). Catalog authors add words an API
//! alone knows (GitHub's issue comments serve pull requests too) to an
//! action's `keywords:` instead.

/// (a word people write, what catalogs say instead).
pub(super) const SYNONYMS: &[(&str, &[&str])] = &[
    // Verbs: what REST catalogs call creating, reading, changing, removing.
    ("add", &["create"]),
    ("new", &["create"]),
    ("make", &["create"]),
    ("open", &["create"]),
    ("remove", &["delete"]),
    ("edit", &["update"]),
    ("change", &["update"]),
    ("modify", &["update"]),
    ("close", &["update"]),
    ("read", &["get"]),
    ("fetch", &["get"]),
    ("show", &["get"]),
    ("rerun", &["re run"]),
    ("trigger", &["dispatch"]),
    // Nouns: what an API names a thing.
    ("file", &["content"]),
    ("hook", &["webhook"]),
    ("hooks", &["webhook"]),
    ("current", &["authenticated"]),
    ("me", &["authenticated"]),
];

/// Short forms: both in queries and in catalogs (GitHub's operation names
/// say `REPOS`, its summaries "repository"), each is read as its long form.
pub(super) const SHORT_FORMS: &[(&str, &str)] = &[
    ("pr", "pull request"),
    ("prs", "pull requests"),
    ("repo", "repository"),
    ("repos", "repositories"),
];

/// Words that say nothing about which action is meant.
pub(super) const STOPWORDS: &[&str] = &[
    "a", "an", "the", "to", "on", "for", "from", "in", "into", "of", "with", "by", "at", "and",
    "or", "its", "this", "that", "some",
];
