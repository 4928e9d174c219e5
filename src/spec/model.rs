//! The loaded spec: every file merged, typed, and each node knowing where it
//! was written. Cross-references (actions, params, templates) are checked by
//! `check`, which turns a `Spec` into a runnable `Workflow`.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::Loc;
use crate::source::File;
pub(crate) use crate::spec::raw::{ArrayStyle, BodyFormat, Method, ParamIn, ParamType, Placement};

#[derive(Debug)]
pub struct Spec {
    /// The root file, as the user named it.
    pub file: String,
    /// Every spec file read, the root first.
    pub files: Vec<Arc<File>>,
    /// Where files the spec names may be read from.
    pub root: crate::spec::Root,
    pub apps: IndexMap<String, Arc<App>>,
    /// Action name to the app that defines it.
    pub actions: IndexMap<String, String>,
    /// An action's alias to its name.
    pub aliases: IndexMap<String, String>,
    /// App-level auth, by app name.
    pub auth: IndexMap<String, Arc<Auth>>,
    pub vars: IndexMap<String, Var>,
    /// The root spec's steps, inputs and outputs first, then each file a
    /// step `uses`.
    pub flows: Vec<Flow>,
    /// `journal: {sync: strict}` in the root spec or a file it includes.
    pub journal_sync: JournalSync,
    /// The environment variables whose empty value is a value (`env:
    /// {NAME: {allow_empty: true}}`), with where each is declared.
    pub env_allow_empty: IndexMap<String, Loc>,
}

/// How much of the journal a crash may lose.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    PartialOrd,
    Ord,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JournalSync {
    /// Survives the death of the process (a kill, a crash): each record is
    /// written before the send it guards, and synced at the end of the run
    /// and within 250 ms.
    #[default]
    Default,
    /// Survives power loss too: each `started` record of a POST or PATCH is
    /// synced before the request is sent (loop items share syncs).
    Strict,
}

/// A file whose steps run together: the root spec, or a sub-workflow that a
/// step `uses`. Step ids are scoped to their flow. `check` binds its steps
/// (`Flow<check::Step>`).
#[derive(Debug)]
pub struct Flow<S = Step> {
    pub file: Arc<File>,
    pub inputs: IndexMap<String, Input>,
    pub steps: Vec<S>,
    /// The flow's results: templates over `steps` and `inputs`.
    pub outputs: IndexMap<String, Located<String>>,
    /// Where each step id is first used in `steps`: references to steps are
    /// looked up here, not by a scan, so checking stays linear.
    pub(crate) ids: std::collections::HashMap<String, usize>,
    /// A loop's inline `steps:`: the item's name. Its templates read the
    /// item and `index` by name, bound from its inputs of those names.
    pub item: Option<String>,
}

impl<S> Flow<S> {
    /// The index of the step with `id`.
    pub(crate) fn step_index(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }
}

/// A typed input of a flow.
#[derive(Debug)]
pub struct Input {
    pub name: String,
    pub ty: ParamType,
    pub required: bool,
    pub default: Option<Value>,
    /// The allowed values, when the input declares `enum`.
    pub allowed: Option<Vec<Value>>,
    pub description: Option<String>,
    pub loc: Loc,
}

impl Spec {
    /// The action a step names, by its name or one of its aliases.
    pub fn action(&self, name: &str) -> Option<&Arc<Action>> {
        let name = self.aliases.get(name).map_or(name, String::as_str);
        let app = self.actions.get(name)?;
        self.apps.get(app)?.actions.get(name)
    }
}

#[derive(Debug)]
pub struct App {
    pub name: String,
    pub description: Option<String>,
    pub base_url: String,
    pub headers: Vec<Header>,
    pub actions: IndexMap<String, Arc<Action>>,
    pub timeouts: Timeouts,
    pub retry: Retry,
    /// What every action of the app must answer.
    pub expect: Option<Expect>,
    /// The JSON Schemas its actions' `response` schemas refer to
    /// (`#/schemas/NAME`).
    pub schemas: Arc<serde_json::Map<String, Value>>,
    /// Held by all the app's requests together, for the whole run.
    pub limits: Limits,
    pub loc: Loc,
}

/// An app's `limits:`: none unless declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// The most requests in flight at once.
    pub concurrency: Option<usize>,
    pub rate: Option<Rate>,
}

/// `10/s`: at most `count` requests start per `per`, evenly spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// The least time between two starts.
    pub fn interval(self) -> Duration {
        self.per / self.count.max(1)
    }
}

/// A header an app sends with every action: a literal, not a template.
#[derive(Debug)]
pub struct Header {
    pub name: String,
    pub value: String,
    pub loc: Loc,
}

/// Time limits; unset ones fall back to the step's, app's, command line's, default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Option<Duration>,
    pub request: Option<Duration>,
}

impl Timeouts {
    /// `self`, with what it leaves unset taken from `fallback`.
    pub fn or(self, fallback: Timeouts) -> Timeouts {
        Timeouts {
            connect: self.connect.or(fallback.connect),
            request: self.request.or(fallback.request),
        }
    }
}

/// A step's own time limits and retries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuning {
    pub timeouts: Timeouts,
    pub retry: Retry,
}

/// How a step retries; unset fields fall back like [`Timeouts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retry {
    pub attempts: Option<u32>,
    pub backoff: Option<Duration>,
    pub max_wait: Option<Duration>,
    pub unsafe_methods: Option<bool>,
}

impl Retry {
    pub fn or(self, fallback: Retry) -> Retry {
        Retry {
            attempts: self.attempts.or(fallback.attempts),
            backoff: self.backoff.or(fallback.backoff),
            max_wait: self.max_wait.or(fallback.max_wait),
            unsafe_methods: self.unsafe_methods.or(fallback.unsafe_methods),
        }
    }
}

#[derive(Debug)]
pub struct Action {
    pub name: String,
    pub app: String,
    pub description: Option<String>,
    /// Other names steps may use for it, each unique among all actions.
    pub aliases: Vec<Located<String>>,
    /// Search words beyond its name and description.
    pub keywords: Vec<String>,
    /// The URL of the API's documentation of the action.
    pub docs: Option<String>,
    pub method: Method,
    pub path: String,
    pub params: IndexMap<String, Param>,
    pub body_format: BodyFormat,
    /// What the action must answer, beyond its app's `expect`.
    pub expect: Option<Expect>,
    /// The `Content-Type` of a raw body, as written (see [`Action::raw_content_type`]).
    pub content_type: Option<String>,
    /// A server of its own, which gets the app's auth all the same: the
    /// catalog's author wrote it, unlike a URL taken from a response.
    pub base_url: Option<String>,
    /// The JSON Schema of a successful answer (`expect: {schema: response}`).
    pub response: Option<Value>,
    pub loc: Loc,
}

impl Action {
    /// What a `body_format: raw` body is sent as.
    pub const RAW_CONTENT_TYPE: &str = "application/octet-stream";

    pub fn raw_content_type(&self) -> &str {
        self.content_type
            .as_deref()
            .unwrap_or(Self::RAW_CONTENT_TYPE)
    }
}

/// Success criteria on a response (Arazzo's `successCriteria`, as data).
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Accepted statuses; empty: not said here.
    pub status: Vec<u16>,
    pub body: Vec<BodyCheck>,
    pub headers: Vec<HeaderCheck>,
    /// Boolean templates over `status`, `headers`, `response`.
    pub that: Vec<Located<Value>>,
    pub schema: Option<Schema>,
}

/// A JSONPath assertion on the response body.
#[derive(Debug, Clone)]
pub struct BodyCheck {
    pub path: String,
    pub test: BodyTest,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BodyTest {
    /// The path selects at least one node (`true`) or none (`false`).
    Exists(bool),
    /// Every node selected equals this value.
    Equals(Value),
    /// Every node selected is a string matching this regular expression.
    Matches(String),
    /// Every node selected is an array, string or object of this length.
    Length(u64),
}

#[derive(Debug, Clone)]
pub struct HeaderCheck {
    /// Lower case, as responses' headers are.
    pub name: String,
    pub test: HeaderTest,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HeaderTest {
    Exists(bool),
    Equals(String),
    Matches(String),
}

/// A JSON Schema the body must satisfy, read from a file.
#[derive(Debug, Clone)]
pub struct Schema {
    /// The path as written, and where.
    pub path: Located<String>,
    /// The file's document; `None` for `schema: response`, the action's
    /// own response schema, known once a step binds the action.
    pub document: Option<Arc<Value>>,
}

#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub ty: ParamType,
    pub required: bool,
    pub default: Option<Value>,
    pub description: Option<String>,
    pub placement: ParamIn,
    /// `name:`, the name on the wire when it differs from the key.
    pub wire_name: Option<String>,
    /// `enum:`, the values allowed (for an array, of each item).
    pub allowed: Option<Vec<Value>>,
    /// `whole_body: true`: the value is the entire request body.
    pub whole_body: bool,
    /// `array_style:` as written; [`Param::array_style`] is what applies.
    pub array_style_given: Option<ArrayStyle>,
    /// `server_default:`, what the server assumes when the param is left
    /// out: shown by `describe`, never sent.
    pub server_default: Option<Value>,
    /// Bounds, fields and items, when any is given.
    pub shape: Option<Box<crate::spec::Shape>>,
    pub loc: Loc,
}

impl Param {
    /// The header name, query key, form field, JSON key or part name the
    /// value is sent under.
    pub fn wire(&self) -> &str {
        self.wire_name.as_deref().unwrap_or(&self.name)
    }

    /// How arrays in the value are named in forms, multipart bodies and queries.
    pub fn array_style(&self) -> ArrayStyle {
        self.array_style_given.unwrap_or_default()
    }
}

/// An auth object, Composio style: parameters plus optional base URL and body.
#[derive(Debug)]
pub struct Auth {
    pub parameters: Vec<AuthParam>,
    pub base_url: Option<Located<String>>,
    pub body: Option<Located<serde_json::Map<String, Value>>>,
    /// Where a credential comes from, besides templates over `env`.
    pub source: Option<Source>,
    pub loc: Loc,
}

/// A credential source: fetched lazily at run time, seen by auth templates
/// under its [`Source::name`]. Adding one (OAuth2, a credential helper) is
/// a new variant here, its raw form, and its module under `resolve`.
#[derive(Debug)]
pub enum Source {
    Descope(Descope),
}

impl Source {
    /// The name auth templates see the credential under (`descope.access_token`).
    pub fn name(&self) -> &'static str {
        match self {
            Source::Descope(_) => "descope",
        }
    }

    /// The local files the source reads a credential from (a key file, a
    /// credential helper's cache): never uploaded, wherever they are,
    /// unless `--allow-upload` names one. Descope reads none; a source
    /// that does lists its files here.
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        match self {
            Source::Descope(_) => Vec::new(),
        }
    }

    /// Every template of the source's settings, with where it is.
    pub fn templates(&self) -> Vec<&Located<String>> {
        match self {
            Source::Descope(d) => {
                let fields = [
                    Some(&d.app_id),
                    d.user_id.as_ref(),
                    d.tenant_id.as_ref(),
                    d.project_id.as_ref(),
                    d.management_key.as_ref(),
                    d.base_url.as_ref(),
                ];
                fields
                    .into_iter()
                    .flatten()
                    .chain(d.scopes.iter().flatten())
                    .collect()
            }
        }
    }
}

#[derive(Debug)]
pub struct AuthParam {
    pub name: String,
    pub placement: Placement,
    /// A template; what it renders to is a secret.
    pub value: String,
    /// The parameter as a whole (`parameters[0]`).
    pub loc: Loc,
    /// Its `value`, where template errors point.
    pub value_loc: Loc,
    /// The spec opted out of the literal-credential check for this value.
    pub allow_literal: bool,
}

impl Descope {
    /// Where settings the spec leaves out come from.
    pub const PROJECT_ID_VAR: &str = "DESCOPE_PROJECT_ID";
    pub const MANAGEMENT_KEY_VAR: &str = "DESCOPE_MANAGEMENT_KEY";
    pub const BASE_URL_VAR: &str = "DESCOPE_BASE_URL";
}

/// Where to fetch an outbound-app token from Descope. Every field is a template.
#[derive(Debug)]
pub struct Descope {
    pub app_id: Located<String>,
    pub user_id: Option<Located<String>>,
    pub tenant_id: Option<Located<String>>,
    pub scopes: Option<Vec<Located<String>>>,
    pub project_id: Option<Located<String>>,
    pub management_key: Option<Located<String>>,
    pub base_url: Option<Located<String>>,
    pub loc: Loc,
}

#[derive(Debug)]
pub struct Var {
    pub value: Value,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Located<T> {
    pub value: T,
    pub loc: Loc,
}

#[derive(Debug)]
// The optional parts a few steps have are boxed: a workflow of 10,000 steps
// holds 10,000 of these, and most are plain requests.
pub struct Step {
    pub index: usize,
    pub id: Option<String>,
    /// What the journal knows the step by: its `id`, else `<ACTION>`, or
    /// `<ACTION>#n` for the n-th step using that action.
    pub key: String,
    pub description: Option<String>,
    /// What it runs: an action, or another flow.
    pub action: Option<Located<String>>,
    pub uses: Option<Box<Uses>>,
    /// `url:`: replaces the action's base URL and path.
    pub url: Option<Box<Located<String>>>,
    /// `url_origin:`: the one origin `url` may lead to (scheme, host and
    /// port; checked when the step is lowered).
    pub url_origin: Option<Box<Located<url::Url>>>,
    pub params: IndexMap<String, Located<Value>>,
    /// The inputs of the flow it `uses`.
    pub with: IndexMap<String, Located<Value>>,
    /// Replaces the app's auth for this step.
    pub auth: Option<Arc<Auth>>,
    pub continue_on_error: bool,
    /// Its own `expect:`, if it has one.
    pub expect: Option<Box<Expect>>,
    /// Its own `timeout:` and `retry:`, if it has either.
    pub tuning: Option<Box<Tuning>>,
    pub each: Option<Box<Each>>,
    /// `if`: run only when it holds.
    pub condition: Option<Box<Located<Value>>>,
    pub until: Option<Box<Until>>,
    pub paginate: Option<Box<Paginate>>,
    pub outputs: IndexMap<String, Located<String>>,
    pub loc: Loc,
}

/// A sub-workflow: a file, or a loop's inline `steps:` (`path` is then
/// `steps`, located at them).
#[derive(Debug)]
pub struct Uses {
    pub path: Located<String>,
    /// Its index in [`Spec::flows`], once loaded.
    pub flow: Option<usize>,
    pub inline: bool,
}

/// `for_each`: the step runs once per item.
#[derive(Debug)]
pub struct Each {
    /// A template or a literal list.
    pub list: Located<Value>,
    /// The name of the item in templates (`as`, default `item`).
    pub name: Located<String>,
    pub concurrency: usize,
    pub max_items: usize,
    pub shard: bool,
}

/// `until` with `poll`: the step repeats until the condition holds.
#[derive(Debug)]
pub struct Until {
    pub condition: Located<Value>,
    pub every: Duration,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct Paginate {
    pub next: Next,
    /// What each page contributes; default: the body when it is a list.
    pub items: Option<Located<String>>,
    pub max_pages: usize,
    pub loc: Loc,
}

/// `next: {param, value}`: the param set to `value`, rendered from the
/// previous page.
#[derive(Debug)]
pub struct Cursor {
    pub param: Located<String>,
    pub value: Located<String>,
}

#[derive(Debug)]
pub enum Next {
    /// RFC 8288 `Link: <...>; rel="next"`.
    Link,
    /// A param set from the previous page.
    Cursor(Box<Cursor>),
}

impl Step {
    /// Its own time limits (unset: the app's, the command line's).
    pub fn timeouts(&self) -> Timeouts {
        self.tuning.as_ref().map(|t| t.timeouts).unwrap_or_default()
    }

    /// Its own retry policy (unset: the app's, the default).
    pub fn retry(&self) -> Retry {
        self.tuning.as_ref().map(|t| t.retry).unwrap_or_default()
    }

    /// `steps[1] (comment)`: how messages name a step.
    pub fn label(&self) -> String {
        step_label(self.index, self.id.as_deref())
    }

    /// The id, else the step's position: what reports show.
    pub fn name(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("#{}", self.index + 1))
    }
}

pub(crate) fn step_label(index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("steps[{index}] ({id})"),
        None => format!("steps[{index}]"),
    }
}

/// The `{name}` placeholders in `text`, in order.
pub(crate) fn placeholders(text: &str) -> Vec<&str> {
    holes(text)
        .into_iter()
        .filter(|h| !h.reserved)
        .map(|h| h.name)
        .collect()
}

/// The placeholders of an action's path, in order: `{name}` and
/// `{+name}` (RFC 6570 reserved expansion: `/` kept) alike, by name.
pub(crate) fn path_placeholders(text: &str) -> Vec<&str> {
    holes(text).into_iter().map(|h| h.name).collect()
}

/// One placeholder of a path: `{name}`, or `{+name}` when `reserved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hole<'a> {
    pub name: &'a str,
    pub reserved: bool,
    /// As written, braces included.
    pub text: &'a str,
}

/// Every `{name}` and `{+name}` in `text`, in order.
pub(crate) fn holes(text: &str) -> Vec<Hole<'_>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while let Some(start) = text[offset..].find('{') {
        let open = offset + start;
        let after = &text[open + 1..];
        let Some(end) = after.find('}') else { break };
        let inner = &after[..end];
        let (reserved, name) = match inner.strip_prefix('+') {
            Some(name) => (true, name),
            None => (false, inner),
        };
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(Hole {
                name,
                reserved,
                text: &text[open..open + end + 2],
            });
        }
        offset = open + end + 2;
    }
    out
}
