//! The catalog being built, and its YAML text.
//!
//! Layout: header comments, `version: 1`, then the one app with its
//! `description`, `base_url` and `actions`. Each action's keys come in a
//! fixed order (`description`, `aliases`, `keywords`, `docs`, `method`,
//! `path`, `body_format`, `content_type`, `params`), params one per line in flow style with their
//! keys in a fixed order (`type`, `required`, `in`, `name`, `whole_body`,
//! `array_style`, `enum`, `default`, `description`). Strings are quoted as
//! [`super::yaml`] decides (values on their own line more loosely than
//! those inside a param's `{…}`); nothing depends on hash order, so the same input
//! gives the same bytes.

pub(super) use super::schema::Bounds;
use super::yaml;
use crate::spec::{BodyFormat, ParamType};
use serde_json::Value;
use std::fmt::Write;

pub(super) struct Catalog {
    /// Comment lines above `version: 1` (empty lines allowed).
    pub header: Vec<String>,
    pub app: String,
    pub description: Option<String>,
    pub base_url: String,
    /// A `# TODO` comment above `base_url`.
    pub base_url_todo: Option<String>,
    pub entries: Vec<Entry>,
    /// The component schemas the actions' `response`s refer to.
    pub schemas: std::collections::BTreeMap<String, Value>,
}

pub(super) enum Entry {
    Action(Box<Action>),
    /// An operation that is not an action (TRACE): a comment in its place.
    Skipped(String),
}

pub(super) struct Action {
    pub name: String,
    /// Comment lines above the action (operationId, caveats).
    pub comments: Vec<String>,
    pub description: Option<String>,
    pub aliases: Vec<String>,
    pub keywords: Vec<String>,
    /// The URL of the operation's documentation.
    pub docs: Option<String>,
    pub method: &'static str,
    pub path: String,
    /// The operation's own server, when it is not the document's.
    pub base_url: Option<String>,
    /// The JSON Schema of its success answer, when JSON.
    pub response: Option<Value>,
    /// `form`, `multipart` or `raw`; JSON is the default and not written.
    pub body_format: Option<BodyFormat>,
    pub content_type: Option<String>,
    pub params: Vec<Param>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Location {
    Path,
    Query,
    Header,
    Body,
}

impl Location {
    pub(super) fn name(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Body => "body",
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Param {
    pub key: String,
    pub ty: ParamType,
    pub required: bool,
    pub location: Location,
    /// The wire name, when it is not the key.
    pub name: Option<String>,
    pub whole_body: bool,
    pub array_style: Option<&'static str>,
    pub enumeration: Option<Vec<Value>>,
    /// The document's `default`: what the server assumes, written as
    /// `server_default` so that it is shown and never sent.
    pub default: Option<Value>,
    pub description: Option<String>,
    pub bounds: Bounds,
    /// An object's fields (their `location` unused).
    pub fields: Vec<Param>,
    /// An array's items, when they say more than a type.
    pub items: Option<Box<Param>>,
}

impl Catalog {
    pub(super) fn to_yaml(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            comment(&mut out, "", line);
        }
        out.push_str("version: 1\napps:\n");
        let _ = writeln!(out, "  {}:", yaml::string(&self.app));
        if let Some(description) = &self.description {
            let _ = writeln!(out, "    description: {}", yaml::block_string(description));
        }
        if let Some(todo) = &self.base_url_todo {
            comment(&mut out, "    ", &format!("TODO: {todo}"));
        }
        let _ = writeln!(out, "    base_url: {}", yaml::block_string(&self.base_url));
        if !self.entries.iter().any(|e| matches!(e, Entry::Action(_))) {
            for entry in &self.entries {
                if let Entry::Skipped(note) = entry {
                    comment(&mut out, "    ", note);
                }
            }
            out.push_str("    actions: {}\n");
            return out;
        }
        out.push_str("    actions:\n");
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            match entry {
                Entry::Skipped(note) => comment(&mut out, "      ", note),
                Entry::Action(action) => {
                    action.write(&mut out);
                    action.write_response(&mut out);
                }
            }
        }
        if !self.schemas.is_empty() {
            out.push('\n');
            comment(
                &mut out,
                "    ",
                "The schemas the actions' `response`s refer to (`#/schemas/NAME`).",
            );
            out.push_str("    schemas:\n");
            for (name, schema) in &self.schemas {
                let _ = writeln!(out, "      {}: {}", yaml::string(name), yaml::flow(schema));
            }
        }
        out
    }
}

impl Action {
    fn write(&self, out: &mut String) {
        for line in &self.comments {
            comment(out, "      ", line);
        }
        let _ = writeln!(out, "      {}:", yaml::string(&self.name));
        if let Some(description) = &self.description {
            let _ = writeln!(
                out,
                "        description: {}",
                yaml::block_string(description)
            );
        }
        for (key, words) in [("aliases", &self.aliases), ("keywords", &self.keywords)] {
            if !words.is_empty() {
                let list = Value::Array(words.iter().map(|w| Value::from(w.as_str())).collect());
                let _ = writeln!(out, "        {key}: {}", yaml::flow(&list));
            }
        }
        if let Some(docs) = &self.docs {
            let _ = writeln!(out, "        docs: {}", yaml::block_string(docs));
        }
        let _ = writeln!(out, "        method: {}", self.method);
        let _ = writeln!(out, "        path: {}", yaml::block_string(&self.path));
        if let Some(base_url) = &self.base_url {
            let _ = writeln!(out, "        base_url: {}", yaml::block_string(base_url));
        }
        if let Some(format) = self.body_format {
            let _ = writeln!(out, "        body_format: {}", format.name());
        }
        if let Some(content_type) = &self.content_type {
            let _ = writeln!(
                out,
                "        content_type: {}",
                yaml::block_string(content_type)
            );
        }
        if self.params.is_empty() {
            return;
        }
        out.push_str("        params:\n");
        for param in &self.params {
            param.write(out, "          ", true);
        }
    }

    /// `response:` last, after what a reader looks for first.
    fn write_response(&self, out: &mut String) {
        if let Some(response) = &self.response {
            let _ = writeln!(out, "        response: {}", yaml::flow(response));
        }
    }
}

impl Param {
    /// `key: {type: …, …}` on one line, or, with fields or items, the same
    /// keys in block style with the fields and items below them.
    /// `placed`: a param (with `in:` and a wire name), not a field.
    fn write(&self, out: &mut String, indent: &str, placed: bool) {
        let keys = self.keys(placed);
        let key = yaml::string(&self.key);
        if self.fields.is_empty() && self.items.is_none() {
            let _ = writeln!(out, "{indent}{key}: {{{}}}", keys.join(", "));
            return;
        }
        let _ = writeln!(out, "{indent}{key}:");
        let inner = format!("{indent}  ");
        for k in keys {
            let _ = writeln!(out, "{inner}{k}");
        }
        if !self.fields.is_empty() {
            let _ = writeln!(out, "{inner}fields:");
            for field in &self.fields {
                field.write(out, &format!("{inner}  "), false);
            }
        }
        if let Some(items) = &self.items {
            let mut items = (**items).clone();
            items.key = "items".into();
            items.write(out, &inner, false);
        }
    }

    /// The `key: value` pairs of everything but fields and items.
    fn keys(&self, placed: bool) -> Vec<String> {
        let mut keys = vec![format!("type: {}", self.ty.name())];
        if self.required {
            keys.push("required: true".into());
        }
        if placed {
            keys.push(format!("in: {}", self.location.name()));
            if let Some(name) = &self.name {
                keys.push(format!("name: {}", yaml::string(name)));
            }
        }
        if self.whole_body {
            keys.push("whole_body: true".into());
        }
        if let Some(style) = self.array_style {
            keys.push(format!("array_style: {style}"));
        }
        if let Some(values) = &self.enumeration {
            keys.push(format!(
                "enum: {}",
                yaml::flow(&Value::Array(values.clone()))
            ));
        }
        if let Some(default) = &self.default {
            keys.push(format!("server_default: {}", yaml::flow(default)));
        }
        keys.extend(self.bounds.keys(self.ty));
        if let Some(description) = &self.description {
            keys.push(format!("description: {}", yaml::string(description)));
        }
        keys
    }
}

impl Bounds {
    /// `minimum: 1`, `max_length: 40`, …: the bounds that suit `ty` (a
    /// bound of a branch whose type was unified away is dropped).
    pub(super) fn keys(&self, ty: ParamType) -> Vec<String> {
        let fits = |types: &[ParamType]| ty == ParamType::Any || types.contains(&ty);
        let numeric = fits(&[ParamType::Integer, ParamType::Number]);
        let text = fits(&[ParamType::String]);
        let array = fits(&[ParamType::Array]);
        let mut keys = Vec::new();
        let mut put = |on: bool, key: &str, value: Option<String>| {
            if let (true, Some(value)) = (on, value) {
                keys.push(format!("{key}: {value}"));
            }
        };
        put(
            numeric,
            "minimum",
            self.minimum.as_ref().map(ToString::to_string),
        );
        put(
            numeric,
            "maximum",
            self.maximum.as_ref().map(ToString::to_string),
        );
        put(text, "min_length", self.min_length.map(|n| n.to_string()));
        put(text, "max_length", self.max_length.map(|n| n.to_string()));
        put(text, "pattern", self.pattern.as_deref().map(yaml::string));
        put(array, "min_items", self.min_items.map(|n| n.to_string()));
        put(array, "max_items", self.max_items.map(|n| n.to_string()));
        keys
    }
}

/// `# text` at `indent`, made safe: one line, printable characters only.
fn comment(out: &mut String, indent: &str, text: &str) {
    let safe = yaml::comment_text(text);
    if safe.is_empty() {
        let _ = writeln!(out, "{indent}#");
    } else {
        let _ = writeln!(out, "{indent}# {safe}");
    }
}
