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
    pub default: Option<Value>,
    pub description: Option<String>,
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
                Entry::Action(action) => action.write(&mut out),
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
            let _ = writeln!(
                out,
                "          {}: {}",
                yaml::string(&param.key),
                param.flow()
            );
        }
    }
}

impl Param {
    /// `{type: …, …}` on one line.
    fn flow(&self) -> String {
        let mut fields = vec![format!("type: {}", self.ty.name())];
        if self.required {
            fields.push("required: true".into());
        }
        fields.push(format!("in: {}", self.location.name()));
        if let Some(name) = &self.name {
            fields.push(format!("name: {}", yaml::string(name)));
        }
        if self.whole_body {
            fields.push("whole_body: true".into());
        }
        if let Some(style) = self.array_style {
            fields.push(format!("array_style: {style}"));
        }
        if let Some(values) = &self.enumeration {
            fields.push(format!(
                "enum: {}",
                yaml::flow(&Value::Array(values.clone()))
            ));
        }
        if let Some(default) = &self.default {
            fields.push(format!("default: {}", yaml::flow(default)));
        }
        if let Some(description) = &self.description {
            fields.push(format!("description: {}", yaml::string(description)));
        }
        format!("{{{}}}", fields.join(", "))
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
