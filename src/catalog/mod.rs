//! Browsing app catalogs: every action of a set of specs, filtered by app
//! and ranked by how well it answers a query in people's words (`runner
//! actions`, see [`search`]), and one action in full, with its params as
//! a JSON Schema object an LLM can take as a tool definition
//! (`runner describe`), and the spec schema specialised to the catalogs
//! (`runner schema SPEC…`, see [`schema`]). Specs are loaded, not checked: a catalog answers
//! without the environment, and as fast as it parses.
//!
//! One endpoint (app, method, path) is one entry however many catalogs
//! define it: the first to define it names it, the other files' names
//! become aliases, and the entry says which files define it. Actions of one
//! file that share a route (GraphQL's) stay apart.

pub(crate) mod schema;
mod search;
mod synonyms;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::spec::{Action, App, Auth, Field, LoadOptions, ParamType, Shape, Spec};

/// One endpoint, and where it comes from.
pub struct Entry {
    pub app: Arc<App>,
    /// The action as the first spec that defines the endpoint has it.
    pub action: Arc<Action>,
    /// Every other name a step may call it by: its aliases, and the names
    /// (and aliases) other specs give the same endpoint.
    pub aliases: Vec<String>,
    /// The auth the app has in the spec it was found in, if any.
    pub auth: Option<Arc<Auth>>,
    /// The files that define it, as found.
    pub specs: Vec<String>,
}

impl Entry {
    /// Whether `name` is the entry's name or one of its aliases.
    fn answers_to(&self, name: &str) -> bool {
        self.action.name == name || self.aliases.iter().any(|a| a == name)
    }
}

/// Every `.yaml` file under `dir`, sorted.
pub(crate) fn specs_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every endpoint of the specs at `paths` (and what they include), each
/// once, in the order found. An action whose name an earlier spec already
/// gave to another endpoint is left out.
pub(crate) fn load(paths: &[PathBuf], options: LoadOptions) -> Result<Vec<Entry>> {
    let mut out: Vec<Entry> = Vec::new();
    let mut names = BTreeSet::new();
    let mut endpoints: HashMap<(String, String, String), usize> = HashMap::new();
    for path in paths {
        let spec: Spec = crate::spec::load(path, options)?;
        // Auth a later spec gives an app fills in what its catalog left out.
        for entry in out.iter_mut().filter(|e: &&mut Entry| e.auth.is_none()) {
            entry.auth = spec.auth.get(&entry.app.name).cloned();
        }
        for app in spec.apps.values() {
            for action in app.actions.values() {
                let endpoint = (
                    app.name.clone(),
                    format!("{:?}", action.method),
                    action.path.clone(),
                );
                // The file that defines it, not the workflow that includes it.
                let shown = tidy(action.loc.file_name());
                let aliases = action.aliases.iter().map(|a| a.value.clone());
                // Within one file, actions sharing a route differ otherwise
                // (GraphQL's one endpoint): only other files' are merged.
                if let Some(&i) = endpoints.get(&endpoint)
                    && !out[i].specs.contains(&shown)
                {
                    let entry = &mut out[i];
                    for name in std::iter::once(action.name.clone()).chain(aliases) {
                        if !entry.answers_to(&name) {
                            entry.aliases.push(name);
                        }
                    }
                    if !entry.specs.contains(&shown) {
                        entry.specs.push(shown);
                    }
                    continue;
                }
                if !names.insert((app.name.clone(), action.name.clone())) {
                    continue;
                }
                endpoints.entry(endpoint).or_insert(out.len());
                out.push(Entry {
                    app: app.clone(),
                    action: action.clone(),
                    aliases: aliases.collect(),
                    auth: spec.auth.get(&app.name).cloned(),
                    specs: vec![shown],
                });
            }
        }
    }
    Ok(out)
}

/// `path` with `dir/..` pairs taken out: a catalog included from
/// `specs/flows/` is `specs/apps/x.yaml`, not `specs/flows/../apps/x.yaml`.
fn tidy(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "." if !parts.is_empty() => {}
            ".." if parts.last().is_some_and(|p| *p != ".." && !p.is_empty()) => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

/// What a query found.
pub(crate) struct Found<'a> {
    /// The entries that answer it, best first.
    pub entries: Vec<&'a Entry>,
    /// When none does: the nearest, the query's words read as misspelt.
    pub nearest: Vec<&'a Entry>,
}

/// The entries of `app` (if given), and with a `query`, only those that
/// answer it, best first.
pub(crate) fn filter<'a>(entries: &'a [Entry], app: Option<&str>, query: &[String]) -> Found<'a> {
    let of_app: Vec<&Entry> = entries
        .iter()
        .filter(|e| app.is_none_or(|a| e.app.name == a))
        .collect();
    let query = query.join(" ");
    if query.trim().is_empty() {
        return Found {
            entries: of_app,
            nearest: Vec::new(),
        };
    }
    let index = search::Index::new(of_app.iter().map(|e| fields(e)));
    let ranked: Vec<&Entry> = index
        .rank(&query)
        .into_iter()
        .map(|(i, _)| of_app[i])
        .collect();
    let nearest = if ranked.is_empty() {
        index
            .nearest(&query, 5)
            .into_iter()
            .map(|i| of_app[i])
            .collect()
    } else {
        Vec::new()
    };
    Found {
        entries: ranked,
        nearest,
    }
}

/// The text of an entry that a query is matched against.
fn fields(entry: &Entry) -> search::Fields {
    let a = &entry.action;
    let description = a.description.as_deref().unwrap_or("");
    let (summary, rest) = description.split_once('\n').unwrap_or((description, ""));
    search::Fields {
        names: std::iter::once(&a.name)
            .chain(&entry.aliases)
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        summary: summary.to_string(),
        description: rest.to_string(),
        path: a.path.clone(),
        keywords: a.keywords.join(" "),
    }
}

/// The first line of an action's description.
pub(crate) fn summary(action: &Action) -> &str {
    action
        .description
        .as_deref()
        .and_then(|d| d.lines().next())
        .unwrap_or("")
}

/// One line per action: name, method, path, the files that define it,
/// summary, aliases.
pub(crate) fn list_text(entries: &[&Entry]) -> String {
    let route = |e: &Entry| format!("{:?} {}", e.action.method, e.action.path);
    let width = |f: &dyn Fn(&Entry) -> usize| entries.iter().map(|e| f(e)).max().unwrap_or(0);
    let name_width = width(&|e| e.action.name.len());
    let route_width = width(&|e| route(e).len());
    let specs_width = width(&|e| e.specs.join(", ").len());
    let mut out = String::new();
    for e in entries {
        let mut line = format!(
            "{:<name_width$}  {:<route_width$}  {:<specs_width$}  {}",
            e.action.name,
            route(e),
            e.specs.join(", "),
            summary(&e.action)
        );
        if !e.aliases.is_empty() {
            line.push_str(&format!("  (alias {})", e.aliases.join(", ")));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} action{}",
        entries.len(),
        if entries.len() == 1 { "" } else { "s" }
    ));
    out
}

pub(crate) fn list_json(entries: &[&Entry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                json!({
                    "name": e.action.name,
                    "aliases": e.aliases,
                    "app": e.app.name,
                    "method": format!("{:?}", e.action.method),
                    "path": e.action.path,
                    "description": summary(&e.action),
                    "docs": e.action.docs,
                    "specs": e.specs,
                })
            })
            .collect(),
    )
}

/// The action named `name` (or aliased so), with a suggestion when there
/// is none.
pub(crate) fn find<'a>(entries: &'a [Entry], name: &str) -> Result<&'a Entry> {
    entries.iter().find(|e| e.answers_to(name)).ok_or_else(|| {
        let names = entries
            .iter()
            .flat_map(|e| std::iter::once(&e.action.name).chain(&e.aliases));
        let help = crate::error::suggest(name, names.map(String::as_str));
        Error::Usage(format!("no action `{name}` in the specs read{help}"))
    })
}

fn json_type(ty: ParamType) -> Option<&'static str> {
    match ty {
        ParamType::Any => None,
        // JSON Schema has no file type: a file param is its path.
        ParamType::File => Some("string"),
        other => Some(other.name()),
    }
}

/// The params of `action` as a JSON Schema object (`type: object`,
/// `properties`, `required`): a tool definition's `parameters`.
pub(crate) fn parameters(action: &Action) -> Value {
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, param) in &action.params {
        let mut schema = value_schema(
            param.ty,
            param.description.as_deref(),
            param.default.as_ref().or(param.server_default.as_ref()),
            param.allowed.as_deref(),
            param.shape.as_deref(),
        );
        if param.ty == ParamType::File {
            schema.insert("format".into(), json!("path"));
        }
        properties.insert(name.clone(), Value::Object(schema));
        if param.required && param.default.is_none() {
            required.push(json!(name));
        }
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
    })
}

/// Bounds, fields and items in JSON Schema's words, added to `schema`.
fn shape_schema(schema: &mut serde_json::Map<String, Value>, shape: &Shape) {
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            schema.insert(key.into(), value);
        }
    };
    put("minimum", shape.minimum.clone().map(Value::Number));
    put("maximum", shape.maximum.clone().map(Value::Number));
    put("minLength", shape.min_length.map(Value::from));
    put("maxLength", shape.max_length.map(Value::from));
    put("pattern", shape.pattern.as_ref().map(|p| json!(p.source)));
    put("minItems", shape.min_items.map(Value::from));
    put("maxItems", shape.max_items.map(Value::from));
    if let Some(items) = &shape.items {
        let mut item = field_schema(items);
        // An array param's `enum` is its items'.
        if let (Some(Value::Object(given)), Value::Object(item)) = (schema.get("items"), &mut item)
        {
            for (k, v) in given {
                item.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        schema.insert("items".into(), item);
    }
    if !shape.fields.is_empty() {
        let properties: serde_json::Map<String, Value> = shape
            .fields
            .iter()
            .map(|(name, field)| (name.clone(), field_schema(field)))
            .collect();
        let required: Vec<&String> = shape
            .fields
            .iter()
            .filter(|(_, f)| f.required)
            .map(|(name, _)| name)
            .collect();
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), json!(required));
        }
    }
}

/// A field or the items of an array, as a JSON Schema.
fn field_schema(field: &Field) -> Value {
    Value::Object(value_schema(
        field.ty,
        field.description.as_deref(),
        field.server_default.as_ref(),
        field.allowed.as_deref(),
        field.shape.as_deref(),
    ))
}

/// A param's or a field's value as a JSON Schema: its type, description,
/// default, `enum` (an array's is its items', as `validate` reads it),
/// bounds, fields and items.
fn value_schema(
    ty: ParamType,
    description: Option<&str>,
    default: Option<&Value>,
    allowed: Option<&[Value]>,
    shape: Option<&Shape>,
) -> serde_json::Map<String, Value> {
    let mut schema = serde_json::Map::new();
    if let Some(ty) = json_type(ty) {
        schema.insert("type".into(), json!(ty));
    }
    if let Some(d) = description {
        schema.insert("description".into(), json!(d));
    }
    if let Some(d) = default {
        schema.insert("default".into(), d.clone());
    }
    if let Some(allowed) = allowed {
        if ty == ParamType::Array {
            schema.insert("items".into(), json!({ "enum": allowed }));
        } else {
            schema.insert("enum".into(), json!(allowed));
        }
    }
    if let Some(shape) = shape {
        shape_schema(&mut schema, shape);
    }
    schema
}

/// What a param's or field's bounds allow, in words (`at most 100`).
fn bounds_text(shape: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    let range = |low: Option<String>, high: Option<String>, unit: &str| match (low, high) {
        (Some(l), Some(h)) => Some(format!("{l} to {h}{unit}")),
        (Some(l), None) => Some(format!("at least {l}{unit}")),
        (None, Some(h)) => Some(format!("at most {h}{unit}")),
        (None, None) => None,
    };
    let text = |n: &Option<u64>| n.map(|n| n.to_string());
    out.extend(range(
        shape.minimum.as_ref().map(ToString::to_string),
        shape.maximum.as_ref().map(ToString::to_string),
        "",
    ));
    out.extend(range(
        text(&shape.min_length),
        text(&shape.max_length),
        " characters",
    ));
    if let Some(p) = &shape.pattern {
        out.push(format!("matching `{}`", p.source));
    }
    out.extend(range(
        text(&shape.min_items),
        text(&shape.max_items),
        " items",
    ));
    out
}

/// One row of `describe`'s params table.
type Row = [String; 5];

/// Rows for the fields and items inside a param, indented under it.
fn nested_rows(prefix: &str, shape: &Shape, rows: &mut Vec<Row>) {
    let mut push = |name: String, field: &Field| {
        let extra = facts(
            field.server_default.as_ref(),
            field.allowed.as_deref(),
            field.shape.as_deref(),
        );
        rows.push([
            format!("  {name}"),
            field.ty.name().to_string(),
            if field.required {
                "required"
            } else {
                "optional"
            }
            .to_string(),
            String::new(),
            notes(extra, field.description.as_deref()),
        ]);
        if let Some(shape) = &field.shape {
            nested_rows(&name, shape, rows);
        }
    };
    for (name, field) in &shape.fields {
        push(format!("{prefix}.{name}"), field);
    }
    if let Some(items) = &shape.items {
        push(format!("{prefix}[]"), items);
    }
}

/// What a param or field allows and assumes, in words: its server
/// default, its `enum`, its bounds.
fn facts(
    server_default: Option<&Value>,
    allowed: Option<&[Value]>,
    shape: Option<&Shape>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(d) = server_default {
        out.push(format!("server default {d}"));
    }
    if let Some(allowed) = allowed {
        let values: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        out.push(format!("one of {}", values.join(", ")));
    }
    out.extend(shape.map(bounds_text).unwrap_or_default());
    out
}

/// The last column: facts, then the description.
fn notes(extra: Vec<String>, description: Option<&str>) -> String {
    [
        extra.join(", "),
        description.unwrap_or_default().to_string(),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("; ")
}

pub(crate) fn describe_json(entry: &Entry) -> Value {
    json!({
        "name": entry.action.name,
        "aliases": entry.aliases,
        "app": entry.app.name,
        "specs": entry.specs,
        "docs": entry.action.docs,
        "description": entry.action.description,
        "method": format!("{:?}", entry.action.method),
        "path": entry.action.path,
        "parameters": parameters(&entry.action),
    })
}

pub(crate) fn describe_text(entry: &Entry) -> String {
    let a = &entry.action;
    let mut out = format!(
        "{}  (app `{}`, from {})\n",
        a.name,
        entry.app.name,
        entry.specs.join(", ")
    );
    if !entry.aliases.is_empty() {
        out.push_str(&format!("  also named {}\n", entry.aliases.join(", ")));
    }
    out.push_str(&format!(
        "  {:?} {}{}\n",
        a.method,
        a.base_url.as_deref().unwrap_or(&entry.app.base_url),
        a.path
    ));
    if let Some(d) = &a.description {
        out.push_str(&format!("  {d}\n"));
    }
    if let Some(docs) = &a.docs {
        out.push_str(&format!("  docs: {docs}\n"));
    }
    out.push('\n');
    if a.params.is_empty() {
        out.push_str("params: none\n");
    } else {
        out.push_str("params:\n");
        let mut rows: Vec<Row> = Vec::new();
        for (name, p) in &a.params {
            let mut extra: Vec<String> = p.default.iter().map(|d| format!("default {d}")).collect();
            extra.extend(facts(
                p.server_default.as_ref(),
                p.allowed.as_deref(),
                p.shape.as_deref(),
            ));
            rows.push([
                name.clone(),
                p.ty.name().to_string(),
                if p.required { "required" } else { "optional" }.to_string(),
                format!("in {}", p.placement.name()),
                notes(extra, p.description.as_deref()),
            ]);
            if let Some(shape) = &p.shape {
                nested_rows(name, shape, &mut rows);
            }
        }
        let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
        let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
        for r in &rows {
            let line = format!(
                "  {:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
                r[0], r[1], r[2], r[3], r[4]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    match &entry.auth {
        Some(auth) => {
            out.push_str("\nauth:\n");
            for p in &auth.parameters {
                out.push_str(&format!("  {} in {}\n", p.name, p.placement.name()));
            }
            if let Some(source) = &auth.source {
                out.push_str(&format!("  a token from {}\n", source.name()));
            }
            if auth.base_url.is_some() {
                out.push_str("  a base URL of its own\n");
            }
        }
        None => out.push_str("\nauth: none in this spec (a workflow adds it under `auth:`)\n"),
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tidy_takes_out_parent_steps() {
        assert_eq!(
            super::tidy("specs/flows/../apps/x.yaml"),
            "specs/apps/x.yaml"
        );
        assert_eq!(super::tidy("../x/./y.yaml"), "../x/y.yaml");
        assert_eq!(super::tidy("/a/../b.yaml"), "/b.yaml");
        assert_eq!(super::tidy("a/../../b.yaml"), "../b.yaml");
    }

    #[test]
    fn an_array_fields_enum_is_its_items_as_for_a_param() {
        use crate::spec::{Field, ParamType};
        use serde_json::json;
        let field = Field {
            ty: ParamType::Array,
            required: false,
            allowed: Some(vec![json!("a"), json!("b")]),
            description: None,
            server_default: None,
            shape: None,
        };
        assert_eq!(
            super::field_schema(&field),
            json!({"type": "array", "items": {"enum": ["a", "b"]}})
        );
    }
}
