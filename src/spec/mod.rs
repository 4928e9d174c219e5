//! Reading spec files: YAML and includes into raw structs, then into the
//! located [`Spec`] model. Reading the files is the only I/O here.

pub mod duration;
mod locate;
pub mod model;
mod raw;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use reqwest::header::{HeaderName, HeaderValue};

use crate::error::{Diagnostic, Error, Loc, Result, did_you_mean, ticked};
use crate::render::is_template;
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
    Ok(loader.finish(file))
}

/// Loads a spec from text (includes are still read from disk, relative to
/// the current directory). For tools and fuzzing.
pub fn load_str(name: &str, source: &str) -> Result<Spec> {
    let mut loader = Loader::default();
    loader.source(Path::new(name), name, source.to_string(), None)?;
    if !loader.diagnostics.is_empty() {
        return Err(Error::Spec(loader.diagnostics));
    }
    Ok(loader.finish(name.to_string()))
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
    fn finish(self, file: String) -> Spec {
        Spec {
            file,
            apps: self.apps,
            actions: self.actions,
            auth: self.auth,
            vars: self.vars,
            steps: self.steps,
        }
    }

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
        let source = read_spec(path).map_err(|what| {
            let message = match &included_from {
                Some(_) => format!("cannot read included file `{file}`: {what}"),
                None => format!("cannot read spec `{file}`: {what}"),
            };
            Error::spec(Diagnostic::new(message, included_from.clone()))
        })?;
        self.source(path, file, source, Some(canonical))
    }

    /// Converts one file's text; `canonical` marks it as being loaded, for cycles.
    fn source(
        &mut self,
        path: &Path,
        file: &str,
        source: String,
        canonical: Option<PathBuf>,
    ) -> Result<()> {
        let positions = Positions::index(&source);
        if !positions.duplicates.is_empty() {
            let diagnostics = positions
                .duplicates
                .iter()
                .map(|(path, first, again)| {
                    let key = path.rsplit('.').next().unwrap_or(path);
                    Diagnostic::new(
                        format!(
                            "key `{key}` appears twice in one mapping (first at line {}, column {})",
                            first.0, first.1
                        ),
                        Some(Loc {
                            file: file.to_string(),
                            path: path.clone(),
                            line_col: Some(*again),
                        }),
                    )
                })
                .collect();
            return Err(Error::Spec(diagnostics));
        }
        let raw = parse(file, &source).map_err(Error::spec)?;
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
        let pushed = canonical.is_some();
        self.stack.extend(canonical);
        let base = path.parent().unwrap_or(Path::new(""));
        for (i, include) in raw.include.iter().enumerate() {
            let include_path = base.join(include);
            let shown = display(&include_path);
            let result = self.file(&include_path, &shown, Some(ctx.loc(&item("include", i))));
            if let Err(Error::Spec(diags)) = result {
                self.diagnostics.extend(diags);
            }
        }
        if pushed {
            self.stack.pop();
        }
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
            if let Some(first) = self.auth.get(&name) {
                self.diagnostics.push(Diagnostic::new(
                    format!(
                        "auth for app `{name}` is defined twice (first at {})",
                        first.loc
                    ),
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
                let first = self
                    .apps
                    .get(other)
                    .and_then(|a| a.actions.get(&action_name))
                    .map(|a| format!(" (first at {})", a.loc))
                    .unwrap_or_default();
                self.diagnostics.push(Diagnostic::new(
                    format!("action `{action_name}` is already defined by app `{other}`{first}"),
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
        self.base_url(ctx, &child(path, "base_url"), &raw.base_url, false);
        for (header, value) in &raw.headers {
            let header_path = child(&child(path, "headers"), header);
            if HeaderName::from_bytes(header.as_bytes()).is_err() {
                self.diagnostics.push(Diagnostic::new(
                    format!(
                        "`{header}` is not a valid header name (letters, digits and `-`, no spaces)"
                    ),
                    Some(ctx.key_loc(&header_path)),
                ));
            } else if HeaderValue::from_str(value).is_err() {
                self.diagnostics.push(Diagnostic::new(
                    format!(
                        "the value of header `{header}` contains a line break or control character"
                    ),
                    Some(ctx.loc(&header_path)),
                ));
            }
        }
        let timeouts = self.timeouts(ctx, &child(path, "timeout"), raw.timeout);
        let retry = self.retry(ctx, &child(path, "retry"), raw.retry);
        App {
            name: name.to_string(),
            description: raw.description,
            base_url: raw.base_url,
            headers: raw
                .headers
                .into_iter()
                .map(|(name, value)| {
                    let loc = ctx.loc(&child(&child(path, "headers"), &name));
                    Header { name, value, loc }
                })
                .collect(),
            actions,
            timeouts,
            retry,
            loc: ctx.key_loc(path),
        }
    }

    /// A base URL must be absolute http(s); an app's may hold `{placeholders}`
    /// but no template, since it is not rendered.
    fn base_url(&mut self, ctx: &Ctx, path: &str, url: &str, templated: bool) {
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
            .push(Diagnostic::new(message, Some(ctx.loc(path))).with_help(help));
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
        } else if is_template(&raw.path) {
            self.diagnostics.push(
                Diagnostic::new(
                    format!("an action's `path` is not a template, found `{}`", raw.path),
                    Some(ctx.loc(&child(path, "path"))),
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
            .map(|(i, p)| {
                let item_path = item(&child(path, "parameters"), i);
                AuthParam {
                    name: p.name,
                    placement: p.placement,
                    value: p.value,
                    loc: ctx.loc(&item_path),
                    value_loc: ctx.loc(&child(&item_path, "value")),
                    allow_literal: p.allow_literal,
                }
            })
            .collect();
        if let Some(base) = &raw.base_url {
            self.base_url(ctx, &child(path, "base_url"), base, true);
        }
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
        if raw.id.as_deref() == Some("") {
            self.diagnostics.push(Diagnostic::new(
                "step id is empty; give the step a name or leave `id` out",
                Some(labelled("id")),
            ));
        } else if let Some(id) = &raw.id {
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
            expect_status: raw
                .expect
                .map(|e| self.statuses(&labelled("expect.status"), e.status))
                .unwrap_or_default(),
            timeouts: self.timeouts(ctx, &child(path, "timeout"), raw.timeout),
            retry: self.retry(ctx, &child(path, "retry"), raw.retry),
            loc: ctx.loc_labelled(path, label.clone()),
        }
    }

    fn duration(
        &mut self,
        ctx: &Ctx,
        path: &str,
        text: Option<&str>,
    ) -> Option<std::time::Duration> {
        let parsed = duration::parse_duration(text?);
        parsed
            .map_err(|e| {
                self.diagnostics
                    .push(Diagnostic::new(e, Some(ctx.loc(path))))
            })
            .ok()
    }

    /// `timeout: 10s` (the whole request) or `timeout: {connect: 2s, request: 30s}`.
    fn timeouts(&mut self, ctx: &Ctx, path: &str, raw: Option<serde_yaml::Value>) -> Timeouts {
        let Some(value) = raw else {
            return Timeouts::default();
        };
        if let serde_yaml::Value::String(s) = &value {
            return Timeouts {
                connect: None,
                request: self.duration(ctx, path, Some(s)),
            };
        }
        if let serde_yaml::Value::Number(n) = &value {
            self.diagnostics.push(
                Diagnostic::new(
                    format!("expected a duration like `500ms`, `10s` or `2m`, found `{n}`"),
                    Some(ctx.loc(path)),
                )
                .with_help(Some(format!("durations carry a unit: `{n}s`?"))),
            );
            return Timeouts::default();
        }
        match serde_yaml::from_value::<raw::Timeout>(value) {
            Ok(t) => Timeouts {
                connect: self.duration(ctx, &child(path, "connect"), t.connect.as_deref()),
                request: self.duration(ctx, &child(path, "request"), t.request.as_deref()),
            },
            Err(e) => {
                let (message, help) = humanize(&strip_positions(&e.to_string(), None));
                let message = format!("`timeout`: {message}");
                let help = help.or_else(|| {
                    Some("write `timeout: 10s`, or `timeout: {connect: 2s, request: 30s}`".into())
                });
                self.diagnostics
                    .push(Diagnostic::new(message, Some(ctx.loc(path))).with_help(help));
                Timeouts::default()
            }
        }
    }

    fn retry(&mut self, ctx: &Ctx, path: &str, raw: Option<raw::Retry>) -> Retry {
        let Some(raw) = raw else {
            return Retry::default();
        };
        if raw.attempts == Some(0) {
            self.diagnostics.push(Diagnostic::new(
                "`retry.attempts` counts every try, the first included: it must be at least 1",
                Some(ctx.loc(&child(path, "attempts"))),
            ));
        }
        Retry {
            attempts: raw.attempts,
            backoff: self.duration(ctx, &child(path, "backoff"), raw.backoff.as_deref()),
            max_wait: self.duration(ctx, &child(path, "max_wait"), raw.max_wait.as_deref()),
            unsafe_methods: raw.unsafe_methods,
        }
    }

    /// `expect.status`: one HTTP status or a non-empty list of them.
    fn statuses(&mut self, loc: &Loc, value: serde_yaml::Value) -> Vec<u16> {
        let items = match value {
            serde_yaml::Value::Sequence(items) => items,
            one => vec![one],
        };
        if items.is_empty() {
            self.diagnostics.push(Diagnostic::new(
                "`expect.status` is an empty list: no response could succeed",
                Some(loc.clone()),
            ));
        }
        let mut statuses = Vec::new();
        for item in items {
            match item.as_u64().filter(|s| (100..=599).contains(s)) {
                Some(s) => statuses.push(s as u16),
                None => {
                    let found = serde_yaml::to_string(&item).unwrap_or_default();
                    self.diagnostics.push(Diagnostic::new(
                        format!(
                            "expected an HTTP status (100 to 599) in `expect.status`, found `{}`",
                            found.trim()
                        ),
                        Some(loc.clone()),
                    ));
                }
            }
        }
        statuses
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
    if source.trim().is_empty() {
        return Err(Diagnostic::new(
            "the file is empty",
            Some(Loc {
                file: file.to_string(),
                path: String::new(),
                line_col: None,
            }),
        )
        .with_help(Some("start the file with `version: 1`".into())));
    }
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
    // serde_yaml prefixes the path and appends positions; we show both apart.
    if let Some((prefix, rest)) = message.split_once(": ")
        && !prefix.contains(' ')
    {
        message = rest.to_string();
    }
    let message = strip_positions(&message, line_col);
    let mut path = path
        .trim_end_matches(".?")
        .trim_end_matches('?')
        .to_string();
    if path.chars().count() > 80 {
        path = path.chars().take(77).collect::<String>() + "...";
    }
    let (mut message, mut help) = humanize(&message);
    let tab_on_line = line_col.is_some_and(|(line, _)| {
        source
            .lines()
            .nth(line.saturating_sub(1))
            .is_some_and(|l| l.contains('\t'))
    });
    if message.starts_with("found character that cannot start any token") && tab_on_line {
        message = "tabs cannot be used for indentation in YAML".to_string();
        help = Some("indent with spaces".to_string());
    }
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

/// `message` without serde_yaml's ` at line N column M` (the first is shown
/// apart; later ones, for an opening quote or bracket, stay in words).
fn strip_positions(message: &str, shown: Option<(usize, usize)>) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " at line ".len()..];
        let line: String = after.chars().take_while(char::is_ascii_digit).collect();
        let tail = &after[line.len()..];
        let Some(tail) = tail.strip_prefix(" column ") else {
            out.push_str(" at line ");
            rest = after;
            continue;
        };
        let col: String = tail.chars().take_while(char::is_ascii_digit).collect();
        let position = (line.parse().unwrap_or(0), col.parse().unwrap_or(0));
        if Some(position) != shown {
            out.push_str(&format!(" (line {line}, column {col})"));
        }
        rest = &tail[col.len()..];
    }
    out.push_str(rest);
    out
}

/// The largest spec file read: far above any real spec, far below harm.
const MAX_SPEC_BYTES: u64 = 8 << 20;

/// Reads a spec file: a regular file (not `/dev/zero`, not a FIFO) of at
/// most [`MAX_SPEC_BYTES`], in UTF-8.
fn read_spec(path: &Path) -> std::result::Result<String, String> {
    use std::io::Read;
    let describe = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "not found".to_string()
        } else {
            strip_os_error(&e.to_string().to_lowercase())
        }
    };
    let meta = std::fs::metadata(path).map_err(describe)?;
    if meta.is_dir() {
        return Err("is a directory".to_string());
    }
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > MAX_SPEC_BYTES {
        return Err(format!("larger than {} MiB", MAX_SPEC_BYTES >> 20));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes))
        .map_err(describe)?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(format!("larger than {} MiB", MAX_SPEC_BYTES >> 20));
    }
    String::from_utf8(bytes).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        format!("not valid UTF-8 (line {line})")
    })
}

fn strip_os_error(message: &str) -> String {
    match message.find(" (os error") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// Rewrites serde's wording into ours, with a suggestion for typos.
fn humanize(message: &str) -> (String, Option<String>) {
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let expected = |found: &str| {
        let candidates = &quoted[1..];
        did_you_mean(found, candidates.iter().copied()).or_else(|| {
            (!candidates.is_empty())
                .then(|| format!("expected one of {}", ticked(candidates.iter())))
        })
    };
    if let Some(found) = quoted.first() {
        if message.starts_with("unknown field") && *found == "<<" {
            return (
                "unknown key `<<`".to_string(),
                Some("YAML merge keys are not supported; repeat the keys".to_string()),
            );
        }
        if message.starts_with("unknown field") {
            return (format!("unknown key `{found}`"), expected(found));
        }
        if message.starts_with("duplicate field") {
            return (format!("key `{found}` appears twice"), None);
        }
        if message.starts_with("missing field `version`") {
            return (
                "missing key `version`".to_string(),
                Some("start the file with `version: 1`".to_string()),
            );
        }
        if message.starts_with("invalid type: integer") && message.contains(" as u128") {
            return (
                format!("number `{found}` is too large (at most 64 bits)"),
                Some("quote it if it is text".to_string()),
            );
        }
        if message.starts_with("unknown variant") {
            return (format!("unknown value `{found}`"), expected(found));
        }
        if message.starts_with("missing field") {
            return (format!("missing key `{found}`"), None);
        }
    }
    let mut message = message
        .replace("u64", "a whole number")
        .replace("a YAML mapping", "a mapping")
        .replace("a map,", "a mapping,")
        .replace("struct File", "a mapping starting with `version: 1`")
        .replace("sequence", "list");
    if message.ends_with("a map") {
        message.push_str("ping");
    }
    let message = match message.split_once("struct ") {
        Some((before, _)) => format!("{before}a mapping"),
        None => message,
    };
    // serde says "invalid type: FOUND, expected EXPECTED"; we say it the other way round.
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            let found = match found {
                "list" => "a list".to_string(),
                "map" | "mapping" => "a mapping".to_string(),
                other => other
                    .replacen("string ", "a string ", 1)
                    .replacen("floating point ", "a number ", 1)
                    .replacen("integer ", "an integer ", 1),
            };
            let help = ["\"true\"", "\"false\""]
                .iter()
                .any(|b| found.ends_with(b))
                .then(|| "write `true` or `false` without quotes".to_string());
            return (format!("expected {expected}, found {found}"), help);
        }
    }
    (message, None)
}
