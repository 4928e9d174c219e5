//! Lowering: one file's raw structs into the located model, merged with
//! what earlier files defined. Checks that need only the file itself (and
//! the names defined so far) happen here; cross-references are `check`'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

mod expect;
mod inline;
mod shape;
mod limits;
mod step;

use super::raw;
use super::*;
use crate::error::{Diagnostic, Loc};
use crate::source::{File, child, item};
use crate::template::is_template;
use crate::units;

/// The most items a loop runs at once.
pub(super) const MAX_CONCURRENCY: u64 = 64;
/// The most items a loop takes unless it says otherwise.
pub(super) const DEFAULT_MAX_ITEMS: u64 = 10_000;
/// The most pages a step reads unless it says otherwise.
pub(super) const DEFAULT_MAX_PAGES: u64 = 100;
pub(super) const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(2);
pub(super) const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(300);

/// A name templates can use: letters, digits and `_`, not starting with a digit.
pub(super) fn is_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Everything loaded so far, and what was wrong with it.
pub(super) struct Lower {
    /// The file being lowered.
    file: Arc<File>,
    pub apps: IndexMap<String, Arc<App>>,
    pub actions: IndexMap<String, String>,
    /// An action's alias to its name.
    pub aliases: IndexMap<String, String>,
    /// Where each action name and alias was given, and what it names.
    names: HashMap<String, (Loc, Named)>,
    pub auth: IndexMap<String, Arc<Auth>>,
    pub vars: IndexMap<String, Var>,
    pub flows: Vec<Flow>,
    pub journal_sync: crate::spec::JournalSync,
    pub env_allow_empty: IndexMap<String, Loc>,
    /// How many steps of a flow use each action so far, for derived keys.
    action_uses: HashMap<(usize, String), usize>,
    /// The directory of the file being lowered, and where files it names
    /// may be read from.
    dir: PathBuf,
    root: Root,
    pub diagnostics: Vec<Diagnostic>,
    /// Steps inside loops' inline `steps:` that use files.
    inline_pending: Vec<PendingUses>,
    /// How messages name the step whose inline `steps:` are being lowered
    /// (`steps[1] (each).`), before each of theirs.
    step_prefix: String,
}

/// What an action name or alias stands for, for messages about a name
/// given twice.
#[derive(Clone)]
enum Named {
    /// The name of an action of this app.
    Action { app: String },
    /// An alias of this action.
    Alias { action: String },
}

impl Named {
    fn describe(&self, name: &str) -> String {
        match self {
            Named::Action { app } => format!("action `{name}` of app `{app}`"),
            Named::Alias { action } => format!("an alias of action `{action}`"),
        }
    }
}

/// A step that `uses` a file not yet known to be loaded.
pub(super) struct PendingUses {
    pub flow: usize,
    pub step: usize,
    /// The file, relative to the current directory.
    pub path: PathBuf,
    pub shown: String,
    pub loc: Loc,
}

impl Lower {
    pub(super) fn new(root_file: &Arc<File>, root: Root) -> Lower {
        Lower {
            file: root_file.clone(),
            apps: IndexMap::new(),
            actions: IndexMap::new(),
            aliases: IndexMap::new(),
            names: HashMap::new(),
            auth: IndexMap::new(),
            vars: IndexMap::new(),
            journal_sync: crate::spec::JournalSync::default(),
            env_allow_empty: IndexMap::new(),
            flows: Vec::new(),
            action_uses: HashMap::new(),
            dir: PathBuf::new(),
            root,
            diagnostics: Vec::new(),
            inline_pending: Vec::new(),
            step_prefix: String::new(),
        }
    }

    /// A new flow whose root file is `file`; returns its index.
    pub(super) fn begin_flow(&mut self, file: &Arc<File>) -> usize {
        self.flows.push(Flow {
            file: file.clone(),
            inputs: IndexMap::new(),
            steps: Vec::new(),
            outputs: IndexMap::new(),
            ids: std::collections::HashMap::new(),
            item: None,
        });
        self.flows.len() - 1
    }

    pub(super) fn loc(&self, path: &str) -> Loc {
        Loc::value(&self.file, path)
    }

    pub(super) fn key_loc(&self, path: &str) -> Loc {
        Loc::key(&self.file, path)
    }

    /// Lowers one file read from `dir` into the model; its steps, inputs
    /// and outputs join `flow`. Returns the steps that use other files.
    pub(super) fn merge(
        &mut self,
        file: &Arc<File>,
        dir: &Path,
        raw: raw::File,
        flow: usize,
    ) -> Vec<PendingUses> {
        self.file = file.clone();
        self.dir = dir.to_path_buf();
        // The root spec and what it includes decide; the strictest wins.
        if flow == 0
            && let Some(journal) = &raw.journal
        {
            self.journal_sync = self.journal_sync.max(journal.sync);
        }
        for (name, var) in raw.env {
            if var.allow_empty {
                let loc = self.key_loc(&child("env", &name));
                self.env_allow_empty.entry(name).or_insert(loc);
            }
        }
        for (name, app) in raw.apps {
            let path = child("apps", &name);
            if let Some(existing) = self.apps.get(&name) {
                self.diagnostics.push(Diagnostic::new(
                    format!("app `{name}` is defined twice (first at {})", existing.loc),
                    Some(self.key_loc(&path)),
                ));
                continue;
            }
            let app = self.app(&path, &name, app);
            self.apps.insert(name, Arc::new(app));
        }
        for (name, auth) in raw.auth {
            let path = child("auth", &name);
            if let Some(first) = self.auth.get(&name) {
                self.diagnostics.push(Diagnostic::new(
                    format!(
                        "auth for app `{name}` is defined twice (first at {})",
                        first.loc
                    ),
                    Some(self.key_loc(&path)),
                ));
                continue;
            }
            let auth = self.auth(&path, auth);
            self.auth.insert(name, Arc::new(auth));
        }
        for (name, value) in raw.vars {
            let path = child("vars", &name);
            match self.json(&path, value) {
                // A file's own vars win over the vars of the files it includes.
                Some(value) => {
                    self.vars.insert(
                        name,
                        Var {
                            value,
                            loc: self.loc(&path),
                        },
                    );
                }
                None => continue,
            }
        }
        for (name, input) in raw.inputs {
            let path = child("inputs", &name);
            let input = self.input(&path, &name, input);
            if self.flows[flow].inputs.contains_key(&name) {
                self.diagnostics.push(Diagnostic::new(
                    format!("input `{name}` is declared twice in one workflow"),
                    Some(self.key_loc(&path)),
                ));
                continue;
            }
            self.flows[flow].inputs.insert(name, input);
        }
        for (name, value) in raw.outputs {
            let loc = self.loc(&child("outputs", &name));
            self.flows[flow]
                .outputs
                .insert(name, Located { value, loc });
        }
        let mut pending = Vec::new();
        let offset = self.flows[flow].steps.len();
        self.flows[flow].steps.reserve_exact(raw.steps.len());
        for (i, step) in raw.steps.into_iter().enumerate() {
            let step = self.step(flow, offset + i, &item("steps", i), step);
            pending.extend(self.pending_uses(flow, offset + i, &step));
            self.flows[flow].steps.push(step);
        }
        pending.append(&mut self.inline_pending);
        pending
    }

    /// The file `step` (at `index` of `flow`) uses, to be loaded.
    fn pending_uses(&self, flow: usize, index: usize, step: &Step) -> Option<PendingUses> {
        let uses = step.uses.as_ref().filter(|u| !u.inline)?;
        Some(PendingUses {
            flow,
            step: index,
            path: self.dir.join(&uses.path.value),
            shown: super::read::display(&self.dir.join(&uses.path.value)),
            loc: uses.path.loc.clone(),
        })
    }

    fn input(&mut self, path: &str, name: &str, raw: raw::Input) -> Input {
        let default = raw
            .default
            .and_then(|d| self.json(&child(path, "default"), d));
        let allowed = raw.allowed.map(|values| {
            values
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| self.json(&item(&child(path, "enum"), i), v))
                .collect()
        });
        Input {
            name: name.to_string(),
            ty: raw.ty,
            required: raw.required,
            default,
            allowed,
            description: raw.description,
            loc: self.key_loc(path),
        }
    }

    fn app(&mut self, path: &str, name: &str, raw: raw::App) -> App {
        let mut actions = IndexMap::new();
        for (action_name, action) in raw.actions {
            let action_path = child(&child(path, "actions"), &action_name);
            let named = Named::Action {
                app: name.to_string(),
            };
            if !self.claim(&action_name, self.key_loc(&action_path), &named) {
                continue;
            }
            let action = self.action(&action_path, name, &action_name, action);
            let alias_of = Named::Alias {
                action: action_name.clone(),
            };
            for alias in &action.aliases {
                if self.claim(&alias.value, alias.loc.clone(), &alias_of) {
                    self.aliases
                        .insert(alias.value.clone(), action_name.clone());
                }
            }
            self.actions.insert(action_name.clone(), name.to_string());
            actions.insert(action_name, Arc::new(action));
        }
        self.base_url(&child(path, "base_url"), &raw.base_url, false);
        for (header, value) in raw.headers.iter() {
            let header_path = child(&child(path, "headers"), header);
            if let Err(e) = crate::http::header::check_name(header) {
                self.diagnostics.push(Diagnostic::new(
                    e.to_string(),
                    Some(self.key_loc(&header_path)),
                ));
            } else if let Err(e) =
                crate::http::header::check_value(header, value, "the value of header")
            {
                self.diagnostics
                    .push(Diagnostic::new(e.to_string(), Some(self.loc(&header_path))));
            }
        }
        let timeouts = self.timeouts(&child(path, "timeout"), raw.timeout);
        let retry = self.retry(&child(path, "retry"), raw.retry);
        let limits = self.limits(&child(path, "limits"), raw.limits);
        let expect = raw
            .expect
            .map(|e| self.expect(&child(path, "expect"), None, e));
        App {
            name: name.to_string(),
            description: raw.description,
            base_url: raw.base_url,
            headers: raw
                .headers
                .into_iter()
                .map(|(name, value)| {
                    let loc = self.loc(&child(&child(path, "headers"), &name));
                    Header { name, value, loc }
                })
                .collect(),
            actions,
            timeouts,
            retry,
            expect,
            schemas: Arc::new(raw.schemas.unwrap_or_default()),
            limits,
            loc: self.key_loc(path),
        }
    }

    /// Records that `name` (an action's name or alias) is given at `loc`;
    /// false, with an error pointing at both places, if it already was:
    /// a step's `action:` must name one action.
    fn claim(&mut self, name: &str, loc: Loc, named: &Named) -> bool {
        if let Some((first, earlier)) = self.names.get(name) {
            let message = match (earlier, named) {
                (Named::Action { app }, Named::Action { .. }) => {
                    format!("action `{name}` is already defined by app `{app}` (first at {first})")
                }
                _ => format!(
                    "`{name}` is already {} (at {first}); an action's names and aliases must differ from every other's",
                    earlier.describe(name)
                ),
            };
            self.diagnostics.push(Diagnostic::new(message, Some(loc)));
            return false;
        }
        self.names.insert(name.to_string(), (loc, named.clone()));
        true
    }

    /// A base URL must be absolute http(s); an app's may hold `{placeholders}`
    /// but no template, since it is not rendered.
    fn base_url(&mut self, path: &str, url: &str, templated: bool) {
        if templated && is_template(url) {
            return;
        }
        let message = if is_template(url) {
            format!("an app's `base_url` is not a template, found `{url}`")
        } else if !(url.starts_with("http://") || url.starts_with("https://")) {
            format!("`base_url` must start with `https://` or `http://`, found `{url}`")
        } else {
            return;
        };
        let help = is_template(url).then(|| {
            "use a `{name}` placeholder filled by an `in: subdomain` auth parameter, or auth's `base_url`, which is a template".to_string()
        });
        self.diagnostics
            .push(Diagnostic::new(message, Some(self.loc(path))).with_help(help));
    }

    fn action(&mut self, path: &str, app: &str, name: &str, raw: raw::Action) -> Action {
        let in_path = path_placeholders(&raw.path);
        if !raw.path.starts_with('/') {
            self.diagnostics.push(Diagnostic::new(
                format!(
                    "an action's `path` must start with `/`, found `{}`",
                    raw.path
                ),
                Some(self.loc(&child(path, "path"))),
            ));
        } else if is_template(&raw.path) {
            self.diagnostics.push(
                Diagnostic::new(
                    format!("an action's `path` is not a template, found `{}`", raw.path),
                    Some(self.loc(&child(path, "path"))),
                )
                .with_help(Some(
                    "use a `{name}` placeholder and a param of that name".into(),
                )),
            );
        }
        let mut params = IndexMap::new();
        for (param_name, p) in raw.params {
            let param_path = child(&child(path, "params"), &param_name);
            let placement = p
                .placement
                .unwrap_or(if in_path.contains(&param_name.as_str()) {
                    ParamIn::Path
                } else if matches!(raw.method, Method::POST | Method::PUT | Method::PATCH) {
                    ParamIn::Body
                } else {
                    ParamIn::Query
                });
            if placement == ParamIn::Path && !in_path.contains(&param_name.as_str()) {
                self.diagnostics.push(Diagnostic::new(
                    format!(
                        "param `{param_name}` is `in: path` but the path `{}` has no `{{{param_name}}}`",
                        raw.path
                    ),
                    Some(self.key_loc(&param_path)),
                ));
            }
            let default = p
                .default
                .and_then(|d| self.json(&child(&param_path, "default"), d));
            let allowed = p.allowed.map(|values| {
                let enum_path = child(&param_path, "enum");
                values
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, v)| self.json(&item(&enum_path, i), v))
                    .collect()
            });
            let server_default = p
                .server_default
                .and_then(|d| self.json(&child(&param_path, "server_default"), d));
            let shape = self.shape(
                &param_path,
                Bounds {
                    minimum: p.minimum,
                    maximum: p.maximum,
                    min_length: p.min_length,
                    max_length: p.max_length,
                    pattern: p.pattern,
                    min_items: p.min_items,
                    max_items: p.max_items,
                },
                p.fields,
                p.items,
            );
            params.insert(
                param_name.clone(),
                Param {
                    name: param_name,
                    ty: p.ty,
                    required: p.required,
                    default,
                    description: p.description,
                    placement,
                    wire_name: p.name,
                    allowed,
                    whole_body: p.whole_body,
                    array_style_given: p.array_style,
                    server_default,
                    shape,
                    loc: self.key_loc(&param_path),
                },
            );
        }
        let expect = raw
            .expect
            .map(|e| self.expect(&child(path, "expect"), None, e));
        if let Some(base) = &raw.base_url {
            self.base_url(&child(path, "base_url"), base, false);
        }
        let aliases = raw
            .aliases
            .into_iter()
            .enumerate()
            .map(|(i, value)| Located {
                value,
                loc: self.loc(&item(&child(path, "aliases"), i)),
            })
            .collect();
        Action {
            name: name.to_string(),
            app: app.to_string(),
            description: raw.description,
            aliases,
            keywords: raw.keywords,
            docs: raw.docs,
            method: raw.method,
            path: raw.path,
            params,
            body_format: raw.body_format,
            expect,
            content_type: raw.content_type,
            base_url: raw.base_url,
            response: raw.response,
            loc: self.key_loc(path),
        }
    }

    fn auth(&mut self, path: &str, raw: raw::Auth) -> Auth {
        let file = self.file.clone();
        let loc = |p: &str| Loc::value(&file, p);
        let parameters = raw
            .parameters
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let item_path = item(&child(path, "parameters"), i);
                AuthParam {
                    name: p.name,
                    placement: p.placement,
                    value: p.value,
                    loc: loc(&item_path),
                    value_loc: loc(&child(&item_path, "value")),
                    allow_literal: p.allow_literal,
                }
            })
            .collect();
        if let Some(base) = &raw.base_url {
            self.base_url(&child(path, "base_url"), base, true);
        }
        let body = raw.body.and_then(|body| {
            let body_path = child(path, "body");
            let mut map = serde_json::Map::new();
            for (k, v) in body {
                map.insert(k.clone(), self.json(&child(&body_path, &k), v)?);
            }
            Some(Located {
                value: map,
                loc: loc(&body_path),
            })
        });
        let source = raw
            .descope
            .map(|d| Source::Descope(self.descope(&child(path, "descope"), d)));
        Auth {
            parameters,
            base_url: raw.base_url.map(|value| Located {
                value,
                loc: loc(&child(path, "base_url")),
            }),
            body,
            source,
            loc: loc(path),
        }
    }

    fn descope(&mut self, path: &str, d: raw::Descope) -> Descope {
        let file = self.file.clone();
        let field = |name: &str, value: String| Located {
            value,
            loc: Loc::value(&file, child(path, name)),
        };
        let descope = Descope {
            app_id: field("app_id", d.app_id),
            user_id: d.user_id.map(|v| field("user_id", v)),
            tenant_id: d.tenant_id.map(|v| field("tenant_id", v)),
            scopes: d.scopes.map(|scopes| {
                scopes
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| Located {
                        value: s,
                        loc: Loc::value(&file, item(&child(path, "scopes"), i)),
                    })
                    .collect()
            }),
            project_id: d.project_id.map(|v| field("project_id", v)),
            management_key: d.management_key.map(|v| field("management_key", v)),
            base_url: d.base_url.map(|v| field("base_url", v)),
            loc: Loc::value(&file, path),
        };
        if descope.user_id.is_none() && descope.tenant_id.is_none() {
            self.diagnostics.push(Diagnostic::new(
                "`descope` needs `user_id` (a user's token) or `tenant_id` (a tenant's token)",
                Some(descope.loc.clone()),
            ));
        }
        descope
    }

    pub(super) fn duration(
        &mut self,
        path: &str,
        text: Option<&str>,
    ) -> Option<std::time::Duration> {
        let parsed = units::parse_duration(text?);
        parsed
            .map_err(|e| {
                self.diagnostics
                    .push(Diagnostic::new(e.to_string(), Some(self.loc(path))))
            })
            .ok()
    }

    /// `timeout: 10s` (the whole request) or `timeout: {connect: 2s, request: 30s}`.
    pub(super) fn timeouts(&mut self, path: &str, raw: Option<serde_yaml::Value>) -> Timeouts {
        let Some(value) = raw else {
            return Timeouts::default();
        };
        if let serde_yaml::Value::String(s) = &value {
            return Timeouts {
                connect: None,
                request: self.duration(path, Some(s)),
            };
        }
        if let serde_yaml::Value::Number(n) = &value {
            self.diagnostics.push(
                Diagnostic::new(
                    format!("expected a duration like `500ms`, `10s` or `2m`, found `{n}`"),
                    Some(self.loc(path)),
                )
                .with_help(Some(format!("durations carry a unit: `{n}s`?"))),
            );
            return Timeouts::default();
        }
        match serde_yaml::from_value::<raw::Timeout>(value) {
            Ok(t) => Timeouts {
                connect: self.duration(&child(path, "connect"), t.connect.as_deref()),
                request: self.duration(&child(path, "request"), t.request.as_deref()),
            },
            Err(e) => {
                let (message, help) = super::diagnose::nested_message(&e);
                let message = format!("`timeout`: {message}");
                let help = help.or_else(|| {
                    Some("write `timeout: 10s`, or `timeout: {connect: 2s, request: 30s}`".into())
                });
                self.diagnostics
                    .push(Diagnostic::new(message, Some(self.loc(path))).with_help(help));
                Timeouts::default()
            }
        }
    }

    pub(super) fn retry(&mut self, path: &str, raw: Option<raw::Retry>) -> Retry {
        let Some(raw) = raw else {
            return Retry::default();
        };
        if raw.attempts == Some(0) {
            self.diagnostics.push(Diagnostic::new(
                "`retry.attempts` counts every try, the first included: it must be at least 1",
                Some(self.loc(&child(path, "attempts"))),
            ));
        }
        Retry {
            attempts: raw.attempts,
            backoff: self.duration(&child(path, "backoff"), raw.backoff.as_deref()),
            max_wait: self.duration(&child(path, "max_wait"), raw.max_wait.as_deref()),
            unsafe_methods: raw.unsafe_methods,
        }
    }

    /// A YAML value as JSON; YAML that JSON cannot hold is a diagnostic.
    pub(super) fn json(&mut self, path: &str, value: serde_yaml::Value) -> Option<Value> {
        match serde_json::to_value(&value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diagnostics.push(Diagnostic::new(
                    format!("value cannot be used as JSON: {e}"),
                    Some(self.loc(path)),
                ));
                None
            }
        }
    }
}

/// `equals` is compared as written: a template in it would never be
/// rendered, so the check could never hold. `what` is the JSONPath checked,
/// or `headers['name']`.
fn templated_equals(what: &str, value: &Value, loc: &Loc) -> Option<Diagnostic> {
    let mut template = None;
    crate::template::visit_strings(value, &mut |s| {
        if template.is_none() && is_template(s) {
            template = Some(s.to_string());
        }
    });
    let template = template?;
    // `$.a.b` reads `response.a.b` in a template.
    let simple = what.strip_prefix('$').filter(|rest| {
        !rest.is_empty()
            && rest
                .split('.')
                .skip(1)
                .all(|seg| !seg.is_empty() && is_name(seg))
            && rest.starts_with('.')
    });
    let left = match simple {
        Some(rest) => format!("response{rest}"),
        None if what.starts_with("headers[") => what.to_string(),
        None => "response...".to_string(),
    };
    let right = crate::template::whole_expression(&template).unwrap_or("...");
    Some(
        Diagnostic::new(
            format!(
                "`equals` is compared as written, so the template `{template}` would never be rendered and the check could never hold"
            ),
            Some(loc.clone()),
        )
        .with_help(Some(format!(
            "compare with a rendered value in `expect.that`: `that: [\"{{{{ {left} == {right} }}}}\"]`"
        ))),
    )
}
