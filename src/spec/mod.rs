//! Reading spec files: YAML and includes into raw structs, then into the
//! located [`Spec`] model. Reading the files is the only I/O here.

mod locate;
pub mod model;
mod raw;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::error::{Diagnostic, Error, Loc, Result, did_you_mean};
pub use locate::Positions;
use locate::{child, item};
pub use model::*;

/// Loads the spec at `path` and every file it includes.
pub fn load(path: &Path) -> Result<Spec> {
    let mut loader = Loader::default();
    let file = display(path);
    loader.file(path, &file, None)?;
    if !loader.diagnostics.is_empty() {
        return Err(Error::Spec(loader.diagnostics));
    }
    Ok(Spec {
        file,
        apps: loader.apps,
        actions: loader.actions,
        auth: loader.auth,
        vars: loader.vars,
        steps: loader.steps,
    })
}

fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

#[derive(Default)]
struct Loader {
    /// Files being loaded, for cycle detection.
    stack: Vec<PathBuf>,
    /// Files already loaded: an include reached twice is read once.
    seen: HashSet<PathBuf>,
    apps: IndexMap<String, Arc<App>>,
    actions: IndexMap<String, String>,
    auth: IndexMap<String, Arc<Auth>>,
    vars: IndexMap<String, Var>,
    steps: Vec<Step>,
    diagnostics: Vec<Diagnostic>,
}

/// One file being converted: its name and positions for locations.
struct Ctx<'a> {
    file: &'a str,
    positions: &'a Positions,
}

impl Ctx<'_> {
    fn loc(&self, path: &str) -> Loc {
        self.loc_labelled(path, path.to_string())
    }

    fn loc_labelled(&self, path: &str, label: String) -> Loc {
        Loc {
            file: self.file.to_string(),
            path: label,
            line_col: self.positions.value(path),
        }
    }

    fn key_loc(&self, path: &str) -> Loc {
        Loc {
            file: self.file.to_string(),
            path: path.to_string(),
            line_col: self.positions.key(path),
        }
    }
}

impl Loader {
    fn file(&mut self, path: &Path, file: &str, included_from: Option<Loc>) -> Result<()> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            let chain = self
                .stack
                .iter()
                .chain(std::iter::once(&canonical))
                .map(|p| format!("`{}`", p.file_name().unwrap_or_default().to_string_lossy()))
                .collect::<Vec<_>>()
                .join(" -> ");
            return Err(Error::spec(Diagnostic::new(
                format!("include cycle: {chain}"),
                included_from,
            )));
        }
        if !self.seen.insert(canonical.clone()) {
            return Ok(());
        }
        let source = std::fs::read_to_string(path).map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                "not found".to_string()
            } else {
                e.to_string().to_lowercase()
            };
            let message = match &included_from {
                Some(_) => format!("cannot read included file `{file}`: {what}"),
                None => format!("cannot read spec `{file}`: {what}"),
            };
            Error::spec(Diagnostic::new(message, included_from.clone()))
        })?;
        let raw = parse(file, &source).map_err(Error::spec)?;
        let positions = Positions::index(&source);
        let ctx = Ctx {
            file,
            positions: &positions,
        };
        if raw.version != 1 {
            self.diagnostics.push(Diagnostic::new(
                format!("unsupported spec version `{}`, expected `1`", raw.version),
                Some(ctx.loc("version")),
            ));
            return Ok(());
        }
        self.stack.push(canonical);
        let base = path.parent().unwrap_or(Path::new(""));
        for (i, include) in raw.include.iter().enumerate() {
            let include_path = base.join(include);
            let shown = display(&include_path);
            let result = self.file(&include_path, &shown, Some(ctx.loc(&item("include", i))));
            if let Err(Error::Spec(diags)) = result {
                self.diagnostics.extend(diags);
            }
        }
        self.stack.pop();
        self.merge(&ctx, raw);
        Ok(())
    }

    fn merge(&mut self, ctx: &Ctx, raw: raw::File) {
        for (name, app) in raw.apps {
            let path = child("apps", &name);
            if let Some(existing) = self.apps.get(&name) {
                self.diagnostics.push(Diagnostic::new(
                    format!("app `{name}` is defined twice (first at {})", existing.loc),
                    Some(ctx.key_loc(&path)),
                ));
                continue;
            }
            let app = self.app(ctx, &path, &name, app);
            self.apps.insert(name, Arc::new(app));
        }
        for (name, auth) in raw.auth {
            let path = child("auth", &name);
            if self.auth.contains_key(&name) {
                self.diagnostics.push(Diagnostic::new(
                    format!("auth for app `{name}` is defined twice"),
                    Some(ctx.key_loc(&path)),
                ));
                continue;
            }
            let auth = self.auth(ctx, &path, auth);
            self.auth.insert(name, Arc::new(auth));
        }
        for (name, value) in raw.vars {
            let path = child("vars", &name);
            match self.json(ctx, &path, value) {
                // A file's own vars win over the vars of the files it includes.
                Some(value) => {
                    self.vars.insert(
                        name,
                        Var {
                            value,
                            loc: ctx.loc(&path),
                        },
                    );
                }
                None => continue,
            }
        }
        let offset = self.steps.len();
        for (i, step) in raw.steps.into_iter().enumerate() {
            let step = self.step(ctx, offset + i, &item("steps", i), step);
            self.steps.push(step);
        }
    }

    fn app(&mut self, ctx: &Ctx, path: &str, name: &str, raw: raw::App) -> App {
        let mut actions = IndexMap::new();
        for (action_name, action) in raw.actions {
            let action_path = child(&child(path, "actions"), &action_name);
            if let Some(other) = self.actions.get(&action_name) {
                self.diagnostics.push(Diagnostic::new(
                    format!("action `{action_name}` is already defined by app `{other}`"),
                    Some(ctx.key_loc(&action_path)),
                ));
                continue;
            }
            if actions.contains_key(&action_name) {
                continue;
            }
            let action = self.action(ctx, &action_path, name, &action_name, action);
            self.actions.insert(action_name.clone(), name.to_string());
            actions.insert(action_name, Arc::new(action));
        }
        if !(raw.base_url.starts_with("http://") || raw.base_url.starts_with("https://")) {
            self.diagnostics.push(Diagnostic::new(
                format!(
                    "`base_url` must start with `https://` or `http://`, found `{}`",
                    raw.base_url
                ),
                Some(ctx.loc(&child(path, "base_url"))),
            ));
        }
        App {
            name: name.to_string(),
            description: raw.description,
            base_url: raw.base_url,
            headers: raw.headers.into_iter().collect(),
            actions,
            loc: ctx.key_loc(path),
        }
    }

    fn action(&mut self, ctx: &Ctx, path: &str, app: &str, name: &str, raw: raw::Action) -> Action {
        let in_path = placeholders(&raw.path);
        if !raw.path.starts_with('/') {
            self.diagnostics.push(Diagnostic::new(
                format!(
                    "an action's `path` must start with `/`, found `{}`",
                    raw.path
                ),
                Some(ctx.loc(&child(path, "path"))),
            ));
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
                    Some(ctx.key_loc(&param_path)),
                ));
            }
            let default = p
                .default
                .and_then(|d| self.json(ctx, &child(&param_path, "default"), d));
            params.insert(
                param_name.clone(),
                Param {
                    name: param_name,
                    ty: p.ty,
                    required: p.required,
                    default,
                    description: p.description,
                    placement,
                    loc: ctx.key_loc(&param_path),
                },
            );
        }
        Action {
            name: name.to_string(),
            app: app.to_string(),
            description: raw.description,
            method: raw.method,
            path: raw.path,
            params,
            body_format: raw.body_format,
            loc: ctx.key_loc(path),
        }
    }

    fn auth(&mut self, ctx: &Ctx, path: &str, raw: raw::Auth) -> Auth {
        let located = |field: &str, value: String| Located {
            value,
            loc: ctx.loc(&child(path, field)),
        };
        let parameters = raw
            .parameters
            .into_iter()
            .enumerate()
            .map(|(i, p)| AuthParam {
                name: p.name,
                placement: p.placement,
                value: p.value,
                loc: ctx.loc(&child(&item(&child(path, "parameters"), i), "value")),
            })
            .collect();
        let body = raw.body.and_then(|body| {
            let body_path = child(path, "body");
            let mut map = serde_json::Map::new();
            for (k, v) in body {
                map.insert(k.clone(), self.json(ctx, &child(&body_path, &k), v)?);
            }
            Some(Located {
                value: map,
                loc: ctx.loc(&body_path),
            })
        });
        let descope = raw.descope.map(|d| {
            let dpath = child(path, "descope");
            let field = |name: &str, value: String| Located {
                value,
                loc: ctx.loc(&child(&dpath, name)),
            };
            Descope {
                app_id: field("app_id", d.app_id),
                user_id: d.user_id.map(|v| field("user_id", v)),
                tenant_id: d.tenant_id.map(|v| field("tenant_id", v)),
                scopes: d.scopes.map(|scopes| {
                    scopes
                        .into_iter()
                        .enumerate()
                        .map(|(i, s)| Located {
                            value: s,
                            loc: ctx.loc(&item(&child(&dpath, "scopes"), i)),
                        })
                        .collect()
                }),
                project_id: d.project_id.map(|v| field("project_id", v)),
                management_key: d.management_key.map(|v| field("management_key", v)),
                base_url: d.base_url.map(|v| field("base_url", v)),
                loc: ctx.loc(&dpath),
            }
        });
        if let Some(d) = &descope
            && d.user_id.is_none()
            && d.tenant_id.is_none()
        {
            self.diagnostics.push(Diagnostic::new(
                "`descope` needs `user_id` (a user's token) or `tenant_id` (a tenant's token)",
                Some(d.loc.clone()),
            ));
        }
        Auth {
            parameters,
            base_url: raw.base_url.map(|v| located("base_url", v)),
            body,
            descope,
            loc: ctx.loc(path),
        }
    }

    fn step(&mut self, ctx: &Ctx, index: usize, path: &str, raw: raw::Step) -> Step {
        let label = step_label(index, raw.id.as_deref());
        let labelled = |sub: &str| {
            let full = child(path, sub);
            ctx.loc_labelled(&full, full.replacen(path, &label, 1))
        };
        if let Some(id) = &raw.id {
            let valid = id
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.diagnostics.push(Diagnostic::new(
                    format!("step id `{id}` must be a name made of letters, digits and `_` (it is used as `steps.{id}` in templates)"),
                    Some(labelled("id")),
                ));
            }
            if let Some(first) = self.steps.iter().find(|s| s.id.as_ref() == Some(id)) {
                self.diagnostics.push(Diagnostic::new(
                    format!("step id `{id}` is used twice (first by {})", first.label()),
                    Some(labelled("id")),
                ));
            }
        }
        let mut params = IndexMap::new();
        for (name, value) in raw.params {
            let param_path = child(&child(path, "params"), &name);
            if let Some(value) = self.json(ctx, &param_path, value) {
                let loc = labelled(&format!("params.{name}"));
                params.insert(name, Located { value, loc });
            }
        }
        let auth = raw.auth.map(|a| {
            let mut auth = self.auth(ctx, &child(path, "auth"), a);
            auth.loc.path = auth.loc.path.replacen(path, &label, 1);
            Arc::new(auth)
        });
        Step {
            index,
            id: raw.id,
            description: raw.description,
            action: Located {
                value: raw.action,
                loc: labelled("action"),
            },
            params,
            auth,
            continue_on_error: raw.continue_on_error,
            expect_status: raw.expect.map(|e| e.status.into_vec()).unwrap_or_default(),
            loc: ctx.loc_labelled(path, label.clone()),
        }
    }

    /// A YAML value as JSON; YAML that JSON cannot hold is a diagnostic.
    fn json(&mut self, ctx: &Ctx, path: &str, value: serde_yaml::Value) -> Option<Value> {
        match serde_json::to_value(&value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diagnostics.push(Diagnostic::new(
                    format!("value cannot be used as JSON: {e}"),
                    Some(ctx.loc(path)),
                ));
                None
            }
        }
    }
}

/// Parses one file into its raw structs, turning serde's message into ours.
fn parse(file: &str, source: &str) -> std::result::Result<raw::File, Diagnostic> {
    let de = serde_yaml::Deserializer::from_str(source);
    let err = match serde_path_to_error::deserialize::<_, raw::File>(de) {
        Ok(raw) => return Ok(raw),
        Err(err) => err,
    };
    let path = err.path().to_string();
    let path = if path == "." { String::new() } else { path };
    let inner = err.into_inner();
    let line_col = inner.location().map(|l| (l.line(), l.column()));
    let mut message = inner.to_string();
    // serde_yaml appends the position and prefixes the path; we show both apart.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    if let Some((prefix, rest)) = message.split_once(": ")
        && !prefix.contains(' ')
    {
        message = rest.to_string();
    }
    let (message, help) = humanize(&message);
    Err(Diagnostic::new(
        message,
        Some(Loc {
            file: file.to_string(),
            path,
            line_col,
        }),
    )
    .with_help(help))
}

/// Rewrites serde's wording into ours, with a suggestion for typos.
fn humanize(message: &str) -> (String, Option<String>) {
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let expected = |found: &str| {
        let candidates = &ticked[1..];
        did_you_mean(found, candidates.iter().copied()).or_else(|| {
            (!candidates.is_empty()).then(|| {
                format!(
                    "expected one of {}",
                    candidates
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
        })
    };
    if let Some(found) = ticked.first() {
        if message.starts_with("unknown field") {
            return (format!("unknown key `{found}`"), expected(found));
        }
        if message.starts_with("unknown variant") {
            return (format!("unknown value `{found}`"), expected(found));
        }
        if message.starts_with("missing field") {
            return (format!("missing key `{found}`"), None);
        }
    }
    let message = message
        .replace("expected u64", "expected a whole number")
        .replace("expected u16", "expected an HTTP status code")
        .replace("expected a YAML mapping", "expected a mapping");
    let message =
        if message.starts_with("data did not match any variant of untagged enum OneOrMany") {
            "expected a status code or a list of status codes".to_string()
        } else {
            message
        };
    (message, None)
}
