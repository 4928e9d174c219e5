//! Spec texts, built the way they are written: [`Spec`] puts together
//! `version: 1`, apps with their base URL, retry, headers and actions, auth
//! and whatever follows (vars, steps, outputs), so a test file names only
//! what its actions are and what its steps do:
//!
//! ```ignore
//! Spec::app("api", &server.uri())
//!     .no_retry()
//!     .actions(ACTIONS)
//!     .bearer("api", "API_TOKEN")
//!     .steps("  - action: ME\n")
//!     .build()
//! ```
//!
//! Every method appends YAML text, in the order called, so the text is
//! exactly what a hand-written spec of that order would be.
//!
//! Below it, the catalogs more than one test module runs against.

use std::fmt::Write as _;

/// A spec's text, built part by part (see the module's documentation).
#[must_use = "a Spec is only text once built"]
pub struct Spec {
    text: String,
    apps: bool,
    auth: bool,
}

impl Spec {
    /// `version: 1`, and nothing else yet.
    pub fn new() -> Spec {
        Spec {
            text: "version: 1\n".to_string(),
            apps: false,
            auth: false,
        }
    }

    /// `version: 1` and one app, `name`, at `base`.
    pub fn app(name: &str, base: &str) -> Spec {
        Spec::new().and_app(name, base)
    }

    /// Another app, `name`, at `base` (after `apps:` the first time).
    pub fn and_app(mut self, name: &str, base: &str) -> Self {
        if !self.apps {
            self.text.push_str("apps:\n");
            self.apps = true;
        }
        let _ = write!(self.text, "  {name}:\n    base_url: {base}\n");
        self
    }

    /// The app's `retry:` as written (`{attempts: 3, backoff: 10ms}`).
    pub fn retry(self, retry: &str) -> Self {
        self.then(&format!("    retry: {retry}\n"))
    }

    /// `retry: {attempts: 1}`: a failure fails at once.
    pub fn no_retry(self) -> Self {
        self.retry("{attempts: 1}")
    }

    /// The app's `headers:`, one line each.
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        let mut text = "    headers:\n".to_string();
        for (name, value) in headers {
            let _ = writeln!(text, "      {name}: {value}");
        }
        self.then(&text)
    }

    /// The app's `actions:`: `actions` as a catalog file holds them (at
    /// the left margin), indented under the app.
    pub fn actions(self, actions: &str) -> Self {
        let mut text = "    actions:\n".to_string();
        for line in actions.lines() {
            let indent = if line.is_empty() { "" } else { "      " };
            let _ = writeln!(text, "{indent}{line}");
        }
        self.then(&text)
    }

    /// `auth:` for `app` with `parameters` as written (lines at six spaces).
    pub fn auth(mut self, app: &str, parameters: &str) -> Self {
        if !self.auth {
            self.text.push_str("auth:\n");
            self.auth = true;
        }
        self.then(&format!("  {app}:\n    parameters:\n{parameters}"))
    }

    /// `auth:` for `app`: `Authorization: Bearer` and the value of `var`.
    pub fn bearer(self, app: &str, var: &str) -> Self {
        self.auth(app, &bearer(var))
    }

    /// `text` as written: vars, inputs, outputs, anything.
    pub fn then(mut self, text: &str) -> Self {
        self.text.push_str(text);
        self
    }

    /// `steps:` and `steps` as written (lines at two spaces).
    pub fn steps(self, steps: &str) -> Self {
        self.then(&format!("steps:\n{steps}"))
    }

    pub fn build(self) -> String {
        self.text
    }
}

/// One auth parameter line: `Authorization: Bearer` and the value of `var`.
pub fn bearer(var: &str) -> String {
    format!("      - {{name: Authorization, in: header, value: \"Bearer {{{{ env.{var} }}}}\"}}\n")
}

// ------------------------------------------------------------ the items API

/// The token the items API's auth reads from `API_TOKEN`.
pub const ITEMS_TOKEN: &str = "api_Writes0123456789abcdef";

/// Items, uploads to a URL an answer gives, and a status check.
const ITEMS: &str = include_str!("../fixtures/catalogs/items.yaml");

/// One app, `api`, at `base` with `auth` as its auth parameters (lines at
/// six spaces) and no retries; then `rest` (steps, outputs).
pub fn items_api_with_auth(base: &str, auth: &str, rest: &str) -> String {
    Spec::app("api", base)
        .no_retry()
        .actions(ITEMS)
        .auth("api", &format!("{auth}\n"))
        .then(rest)
        .build()
}

/// [`items_api_with_auth`] with bearer auth from `API_TOKEN`.
pub fn items_api(base: &str, rest: &str) -> String {
    Spec::app("api", base)
        .no_retry()
        .actions(ITEMS)
        .bearer("api", "API_TOKEN")
        .then(rest)
        .build()
}
