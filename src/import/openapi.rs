//! OpenAPI 3 operations mapped to catalog actions.
//!
//! Rules (the module docs of [`super`] list them for users):
//!
//! - **Order**: paths in document order; within a path GET, HEAD, POST, PUT,
//!   PATCH, DELETE, OPTIONS. TRACE is left out with a comment in its place.
//! - **Names**: `<PREFIX>_<OPERATION>`, the operation part the `operationId`
//!   in UPPER_SNAKE_CASE, or method and path when there is none
//!   (`GET /pets/{petId}` → `GET_PETS_PET_ID`). A name taken by an earlier
//!   operation gets the first free `_2`, `_3`, … in that order; a suffixed
//!   name never takes a name another operation has naturally.
//! - **Params**: path params in the order of their placeholders (a
//!   placeholder nobody declares gets a required string param), then query,
//!   then header, then body params; path-level parameters merged with the
//!   operation's, the operation's winning for the same name and location.
//!   Cookie parameters are left out with a comment; header parameters named
//!   `Accept`, `Content-Type` or `Authorization` are ignored, as OpenAPI says.
//! - **Keys**: the wire name when it is `[a-z_][a-z0-9_]*`, else its
//!   snake_case form with `name: <wire name>`. A key already used in the
//!   action gets `_<in>` (`sort_body`), then `_<in>_2`, … . Path
//!   placeholders are rewritten to the keys.
//! - **Reserved expansion** (`{+key}`, slashes kept): for a path parameter
//!   marked `x-multi-segment: true` or `allowReserved: true`, or named like a
//!   file path (`path`, `*_path`) when it is the whole last segment of the path.
//! - **Bodies**: the media type is JSON (`application/json`, `*+json`) if
//!   offered, else form, else multipart, else the first. An object schema
//!   with properties (`allOf` merged; the object branches of `oneOf`/`anyOf`
//!   united, a property required when every branch requires it; a property
//!   only branches declare allows the values of every branch's enum, and
//!   has a default only when every branch gives it the same) gives one
//!   `in: body` param per property, `readOnly` ones left out; any other
//!   JSON schema (array, scalar, a map with no properties) gives one
//!   `whole_body: true` param named `body`. Form and multipart bodies give
//!   `body_format: form|multipart`; form arrays with an encoding of
//!   `style: deepObject` get `array_style: brackets` (every other style is
//!   sent repeated, the runner's default); multipart binary strings are
//!   `type: file`. Other media types give `body_format: raw`, `content_type`
//!   and one `body` param, `type: file` for binary content, else `string`.
//! - **Required**: path params always; other params as declared; body
//!   properties as the schema's `required` says; a whole-body or raw `body`
//!   param as `requestBody.required` says.
//! - **Defaults and enums**: kept when they fit the param's type (a number or
//!   boolean default of a string param is written as a string); a default
//!   holding `{{`, `{%` or `{#` is dropped, since the runner would read it
//!   as a template. Enums are written for scalar and `any` params only.

use super::Options;
use super::auth;
use super::catalog::{Action, Bounds, Catalog, Entry, Location, Param};
use super::error::ImportError;
use super::load::Loaded;
use super::names::{self, Namer};
use super::schema::{self, Flat, Resolver, SchemaRef};
use super::text;
use crate::error::closest;
use crate::spec::{BodyFormat, ParamType};
use indexmap::IndexMap;
use openapiv3::{
    MediaType, Operation, Parameter, ParameterData, ParameterSchemaOrContent, PathItem, QueryStyle,
    RequestBody, Server,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Where a description names no usable server.
pub(super) const PLACEHOLDER_HOST: &str = "https://example.invalid";

/// One operation of the document.
struct Op<'a> {
    path: &'a str,
    item: &'a PathItem,
    method: &'static str,
    op: &'a Operation,
}

/// The operations of a path item, in the order actions are written.
fn operations(item: &PathItem) -> [(&'static str, Option<&Operation>); 8] {
    [
        ("GET", item.get.as_ref()),
        ("HEAD", item.head.as_ref()),
        ("POST", item.post.as_ref()),
        ("PUT", item.put.as_ref()),
        ("PATCH", item.patch.as_ref()),
        ("DELETE", item.delete.as_ref()),
        ("OPTIONS", item.options.as_ref()),
        ("TRACE", item.trace.as_ref()),
    ]
}

/// A param before its key is known.
struct Draft {
    param: Param,
    /// The wire name; `None` for a whole-body param.
    wire: Option<String>,
    /// Written `{+key}` in the path.
    reserved: bool,
}

/// A request body as the catalog sends it.
#[derive(Default)]
struct Body {
    format: Option<BodyFormat>,
    content_type: Option<String>,
    params: Vec<Draft>,
    comments: Vec<String>,
}

/// The body format a media type is sent as; [`BodyFormat`]'s order is
/// which the import prefers when a body offers several.
fn media_kind(media_type: &str) -> BodyFormat {
    let essence = essence(media_type);
    if essence == "application/json" || essence.ends_with("+json") {
        BodyFormat::Json
    } else if essence == "application/x-www-form-urlencoded" {
        BodyFormat::Form
    } else if essence == "multipart/form-data" {
        BodyFormat::Multipart
    } else {
        BodyFormat::Raw
    }
}

/// `type/subtype`, lower-cased, without parameters.
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Media types whose content is text.
fn is_textual(essence: &str) -> bool {
    essence.starts_with("text/")
        || ["json", "xml", "yaml", "javascript", "csv"]
            .iter()
            .any(|t| essence.contains(t))
}

pub(super) fn build(loaded: &Loaded, options: &Options) -> Result<Catalog, ImportError> {
    let doc = &loaded.doc;
    let app = options.app.trim();
    if app.is_empty() {
        return Err(ImportError::BadApp("it is empty".into()));
    }
    if app.chars().any(char::is_control) {
        return Err(ImportError::BadApp("it holds control characters".into()));
    }
    let stem = names::shout(app);
    let prefix = match &options.prefix {
        Some(prefix) => names::shout(prefix),
        None => stem.clone(),
    };
    let prefix = prefix.trim_matches('_').to_string();
    let resolver = Resolver::new(doc);

    let all: Vec<Op> = doc
        .paths
        .iter()
        .filter_map(|(path, item)| Some((path.as_str(), item.as_item()?)))
        .flat_map(|(path, item)| {
            operations(item)
                .into_iter()
                .filter_map(move |(method, op)| {
                    Some(Op {
                        path,
                        item,
                        method,
                        op: op?,
                    })
                })
        })
        .collect();
    if all.is_empty() {
        return Err(ImportError::NoPaths);
    }
    check_filters(&all, options)?;
    let selected: Vec<&Op> = all.iter().filter(|op| is_selected(op, options)).collect();

    let (base_url, base_url_todo) = base_url(doc.servers.first());
    let builder = Builder {
        resolver: &resolver,
        base_url: &base_url,
        responses: &loaded.responses,
        used: Default::default(),
        known: &options.known,
    };
    let natural: Vec<Option<String>> = selected
        .iter()
        .map(|op| (op.method != "TRACE").then(|| natural_name(&prefix, op)))
        .collect();
    let mut namer = Namer::reserving(natural.iter().flatten().map(String::as_str));
    let mut entries = Vec::new();
    for (op, natural) in selected.iter().zip(&natural) {
        match natural {
            None => entries.push(Entry::Skipped(format!(
                "TRACE {}{} left out: runner does not send TRACE requests",
                op.path,
                op.op
                    .operation_id
                    .as_deref()
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default()
            ))),
            Some(natural) => {
                let name = namer.give(natural);
                entries.push(Entry::Action(Box::new(builder.action(name, op)?)));
            }
        }
    }

    let schemas = loaded.responses.schemas(builder.used.into_inner());
    let info = &doc.info;
    let description = match info.description.as_deref().and_then(text::first_sentence) {
        Some(sentence) if sentence != info.title => {
            text::line(&format!("{} — {sentence}", info.title))
        }
        _ => text::line(&info.title),
    };
    let mut header = vec![format!(
        "Generated by runner's OpenAPI importer from \"{}\" {} (OpenAPI {}).",
        info.title, info.version, loaded.version
    )];
    let skeleton = auth::skeleton(doc, &resolver, app, &stem)?;
    if !skeleton.is_empty() {
        header.push(String::new());
        header.extend(skeleton);
    }
    if !loaded.notes.is_empty() {
        header.push(String::new());
        header.extend(loaded.notes.iter().map(|note| format!("Note: {note}")));
    }
    Ok(Catalog {
        header,
        app: app.to_string(),
        description,
        base_url,
        base_url_todo,
        entries,
        schemas,
    })
}

/// Every `--operation` and `--tag` names something in the document.
fn check_filters(all: &[Op], options: &Options) -> Result<(), ImportError> {
    let ids: Vec<&str> = all
        .iter()
        .filter_map(|op| op.op.operation_id.as_deref())
        .collect();
    for id in &options.operations {
        if !ids.contains(&id.as_str()) {
            return Err(ImportError::UnknownOperation {
                id: id.clone(),
                suggestion: closest(id, ids.iter().copied()).map(str::to_string),
            });
        }
    }
    let mut tags: Vec<&str> = all
        .iter()
        .flat_map(|op| op.op.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in &options.tags {
        if !tags.contains(&tag.as_str()) {
            return Err(ImportError::UnknownTag {
                tag: tag.clone(),
                suggestion: closest(tag, tags.iter().copied()).map(str::to_string),
            });
        }
    }
    Ok(())
}

/// With no filter every operation; else those matching any `--tag` or `--operation`.
fn is_selected(op: &Op, options: &Options) -> bool {
    if options.tags.is_empty() && options.operations.is_empty() {
        return true;
    }
    op.op.tags.iter().any(|t| options.tags.contains(t))
        || op
            .op
            .operation_id
            .as_ref()
            .is_some_and(|id| options.operations.contains(id))
}

fn natural_name(prefix: &str, op: &Op) -> String {
    let stem = op
        .op
        .operation_id
        .as_deref()
        .map(names::upper_snake)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| names::upper_snake(&format!("{} {}", op.method, op.path)));
    if prefix.is_empty() {
        if stem.starts_with(|c: char| c.is_ascii_digit()) {
            format!("_{stem}")
        } else {
            stem
        }
    } else {
        format!("{prefix}_{stem}")
    }
}

/// The URL of `server`, its variables replaced by their defaults.
fn server_url(server: &Server) -> String {
    let mut url = server.url.clone();
    if let Some(variables) = &server.variables {
        for (name, variable) in variables {
            url = url.replace(&format!("{{{name}}}"), &variable.default);
        }
    }
    url
}

/// The app's base URL, and a TODO when the document does not give a usable one.
fn base_url(server: Option<&Server>) -> (String, Option<String>) {
    let Some(server) = server else {
        return (
            PLACEHOLDER_HOST.to_string(),
            Some(
                "the document names no server: put the API's base URL here \
                 (or pass `--base-url APP=URL` at run time)"
                    .into(),
            ),
        );
    };
    let url = server_url(server);
    let url = url.trim_end_matches('/');
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let todo = url.contains('{').then(|| {
            format!("the server URL `{url}` has variables without a default: fill them in")
        });
        return (url.to_string(), todo);
    }
    if let Some(rest) = url.strip_prefix("//") {
        return (format!("https://{rest}"), None);
    }
    let path = url.trim_start_matches('.');
    let path = if path.is_empty() || path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    (
        format!("{PLACEHOLDER_HOST}{path}"),
        Some(format!(
            "the document's server URL `{}` is relative: put the API's host here \
             (or pass `--base-url APP=URL` at run time)",
            server.url
        )),
    )
}

/// Each draft's key: the wire name made plain; a key already taken gets
/// `_<in>`, then a number. Also the path placeholders' new keys (and
/// whether each is `{+reserved}`), for the path to be rewritten.
fn keyed(drafts: Vec<Draft>) -> (Vec<Param>, HashMap<String, (String, bool)>) {
    let mut used: HashSet<String> = HashSet::new();
    let mut keys: HashMap<String, (String, bool)> = HashMap::new();
    let mut params = Vec::with_capacity(drafts.len());
    for mut draft in drafts {
        let base = draft
            .wire
            .as_deref()
            .map_or_else(|| "body".to_string(), names::param_key);
        let located = format!("{base}_{}", draft.param.location.name());
        let key = [base, located.clone()]
            .into_iter()
            .chain((2..).map(|n| format!("{located}_{n}")))
            .find(|key| used.insert(key.clone()))
            .expect("an unbounded range has a free key");
        if draft.param.location == Location::Path
            && let Some(wire) = &draft.wire
        {
            keys.entry(wire.clone())
                .or_insert((key.clone(), draft.reserved));
        }
        draft.param.name = draft.wire.filter(|wire| *wire != key);
        draft.param.key = key;
        params.push(draft.param);
    }
    (params, keys)
}

struct Builder<'r, 'a> {
    resolver: &'r Resolver<'a>,
    base_url: &'r str,
    responses: &'r super::responses::Responses,
    /// The component schemas the actions' responses refer to.
    used: std::cell::RefCell<std::collections::BTreeSet<String>>,
    known: &'r [super::Known],
}

impl<'a> Builder<'_, 'a> {
    /// One operation as an action: its comments, its params from every
    /// place they can be declared, their keys, its body.
    fn action(&self, name: String, op: &Op<'a>) -> Result<Action, ImportError> {
        let o = op.op;
        let description = o
            .summary
            .as_deref()
            .and_then(text::line)
            .or_else(|| o.description.as_deref().and_then(text::first_sentence));
        let mut comments = self.origin_comments(op);
        let merged = self.merged_parameters(op)?;
        let mut drafts = self.drafts(op, &merged, &mut comments)?;
        let body = match &o.request_body {
            Some(r) => self.body(self.resolver.request_body(r)?)?,
            None => Body::default(),
        };
        comments.extend(body.comments);
        drafts.extend(body.params);
        let (params, keys) = keyed(drafts);
        let (aliases, keywords) = self.known(&name, op);
        Ok(Action {
            name,
            comments,
            description,
            base_url: self.own_server(op).filter(|url| is_absolute(url)),
            response: self
                .responses
                .of(op.path, op.method, &mut self.used.borrow_mut()),
            aliases,
            keywords,
            docs: o.external_docs.as_ref().map(|d| d.url.clone()),
            method: op.method,
            path: rewrite_path(op.path, &keys),
            body_format: body.format,
            content_type: body.content_type,
            params,
        })
    }

    /// The names (but `name`) and keywords that other catalogs give the
    /// operation's method and path.
    fn known(&self, name: &str, op: &Op<'a>) -> (Vec<String>, Vec<String>) {
        let (mut aliases, mut keywords) = (Vec::new(), Vec::new());
        let path = placeholders_blank(op.path);
        for known in self.known {
            if !known.method.eq_ignore_ascii_case(op.method)
                || placeholders_blank(&known.path) != path
            {
                continue;
            }
            for n in &known.names {
                if n != name && !aliases.contains(n) {
                    aliases.push(n.clone());
                }
            }
            for k in &known.keywords {
                if !keywords.contains(k) {
                    keywords.push(k.clone());
                }
            }
        }
        (aliases, keywords)
    }

    /// Where the operation comes from (its id), whether it is
    /// deprecated, and a server of its own.
    fn origin_comments(&self, op: &Op<'a>) -> Vec<String> {
        let o = op.op;
        let mut comments = Vec::new();
        let mut origin = Vec::new();
        if let Some(id) = &o.operation_id {
            origin.push(id.clone());
        }
        if !origin.is_empty() {
            comments.push(origin.join(" — "));
        }
        if o.deprecated {
            comments.push("deprecated".into());
        }
        if let Some(url) = self.own_server(op)
            && !is_absolute(&url)
        {
            comments.push(format!(
                "the document serves this operation from {url}, not base_url"
            ));
        }
        comments
    }

    /// The operation's (or its path's) first server, when it is not the
    /// document's.
    fn own_server(&self, op: &Op<'a>) -> Option<String> {
        let servers = if op.op.servers.is_empty() {
            &op.item.servers
        } else {
            &op.op.servers
        };
        let url = server_url(servers.first()?);
        let url = url.trim_end_matches('/');
        (url != self.base_url).then(|| url.to_string())
    }

    /// Path-level parameters, overridden by the operation's.
    fn merged_parameters(&self, op: &Op<'a>) -> Result<Vec<&'a Parameter>, ImportError> {
        let mut merged: Vec<&'a Parameter> = Vec::new();
        for r in op.item.parameters.iter().chain(&op.op.parameters) {
            let p = self.resolver.parameter(r)?;
            let same = |q: &&Parameter| {
                q.parameter_data_ref().name == p.parameter_data_ref().name
                    && std::mem::discriminant(*q) == std::mem::discriminant(p)
            };
            match merged.iter().position(same) {
                Some(i) => merged[i] = p,
                None => merged.push(p),
            }
        }
        Ok(merged)
    }

    /// The params of the path (every placeholder, declared or not), the
    /// query and the headers; what is left out is said in `comments`.
    fn drafts(
        &self,
        op: &Op<'a>,
        merged: &[&'a Parameter],
        comments: &mut Vec<String>,
    ) -> Result<Vec<Draft>, ImportError> {
        let holes = placeholders(op.path);
        let mut drafts = Vec::new();
        for hole in &holes {
            let declared = merged.iter().find(|p| {
                matches!(p, Parameter::Path { .. }) && p.parameter_data_ref().name == *hole
            });
            drafts.push(match declared {
                Some(p) => self.parameter(Location::Path, p.parameter_data_ref(), op.path)?,
                None => Draft {
                    param: param(ParamType::String, Location::Path, true),
                    wire: Some(hole.to_string()),
                    reserved: false,
                },
            });
        }
        for p in merged {
            if let Parameter::Query { parameter_data, .. } = p {
                drafts.push(self.parameter(Location::Query, parameter_data, op.path)?);
            }
        }
        for p in merged {
            match p {
                Parameter::Header { parameter_data, .. } => {
                    let ignored = ["accept", "content-type", "authorization"];
                    if !ignored.contains(&parameter_data.name.to_ascii_lowercase().as_str()) {
                        drafts.push(self.parameter(Location::Header, parameter_data, op.path)?);
                    }
                }
                Parameter::Cookie { parameter_data, .. } => comments.push(format!(
                    "cookie parameter `{}` left out: runner sends no cookies",
                    parameter_data.name
                )),
                Parameter::Path { parameter_data, .. }
                    if !holes.contains(&parameter_data.name.as_str()) =>
                {
                    comments.push(format!(
                        "path parameter `{}` left out: the path has no such placeholder",
                        parameter_data.name
                    ));
                }
                _ => {}
            }
        }
        Ok(drafts)
    }

    /// A path, query or header parameter of an operation on `path`.
    fn parameter(
        &self,
        location: Location,
        data: &'a ParameterData,
        path: &str,
    ) -> Result<Draft, ImportError> {
        let (flat, from_content) = match &data.format {
            ParameterSchemaOrContent::Schema(s) => (self.resolver.flatten(s.into())?, false),
            ParameterSchemaOrContent::Content(content) => {
                match content.values().next().and_then(|m| m.schema.as_ref()) {
                    Some(s) => (self.resolver.flatten(s.into())?, true),
                    None => (Flat::default(), true),
                }
            }
        };
        let mut ty = flat.ty();
        // A parameter given as `content` is serialized by its media type
        // (JSON, mostly): the caller passes that text.
        if from_content && matches!(ty, ParamType::Object | ParamType::Array) {
            ty = ParamType::String;
        }
        let mut p = param(ty, location, data.required || location == Location::Path);
        p.description = data
            .description
            .as_deref()
            .and_then(text::first_sentence)
            .or_else(|| flat.description.and_then(text::first_sentence));
        p.enumeration = enum_for(ty, &flat);
        p.default = default_for(ty, flat.default);
        p.bounds = flat.bounds.clone();
        let reserved = location == Location::Path
            && (data.extensions.get("x-multi-segment") == Some(&Value::Bool(true))
                || (is_path_like(&data.name) && path.ends_with(&format!("/{{{}}}", data.name))));
        Ok(Draft {
            param: p,
            wire: Some(data.name.clone()),
            reserved,
        })
    }

    fn body(&self, body: &'a RequestBody) -> Result<Body, ImportError> {
        let Some((media_type, media)) = body
            .content
            .iter()
            .enumerate()
            .min_by_key(|(i, (media_type, _))| (media_kind(media_type), *i))
            .map(|(_, entry)| entry)
        else {
            return Ok(Body::default());
        };
        let kind = media_kind(media_type);
        let flat = match &media.schema {
            Some(schema) => self.resolver.flatten(schema.into())?,
            None => Flat::default(),
        };
        let description = body
            .description
            .as_deref()
            .and_then(text::first_sentence)
            .or_else(|| flat.description.and_then(text::first_sentence));
        let mut out = Body {
            // `json` is the default, left unwritten.
            format: (kind != BodyFormat::Json).then_some(kind),
            ..Body::default()
        };
        if kind == BodyFormat::Raw {
            let essence = essence(media_type);
            let ty = if flat.binary {
                ParamType::File
            } else if flat.declared == Some(ParamType::String) || is_textual(&essence) {
                ParamType::String
            } else {
                ParamType::File
            };
            out.content_type = Some(if essence.contains('*') {
                out.comments.push(format!(
                    "the document accepts `{media_type}`: set content_type to the actual media type"
                ));
                "application/octet-stream".to_string()
            } else {
                media_type.trim().to_string()
            });
            let mut p = param(ty, Location::Body, body.required);
            p.description = description;
            out.params.push(Draft {
                param: p,
                wire: None,
                reserved: false,
            });
            return Ok(out);
        }
        match object_shape(&flat) {
            Some(properties) => {
                for (name, property) in properties {
                    out.params
                        .extend(self.property(kind, media, name, property)?);
                }
            }
            None => {
                let ty = flat.ty();
                let mut p = param(ty, Location::Body, body.required);
                p.whole_body = true;
                p.description = description;
                p.enumeration = enum_for(ty, &flat);
                p.default = default_for(ty, flat.default);
                p.bounds = flat.bounds.clone();
                self.nest(&mut p, &flat, &[])?;
                out.params.push(Draft {
                    param: p,
                    wire: None,
                    reserved: false,
                });
            }
        }
        Ok(out)
    }

    /// One body param from an object property; none for a `readOnly` one,
    /// which the server sets and a request never carries.
    fn property(
        &self,
        kind: BodyFormat,
        media: &MediaType,
        name: &str,
        property: Property<'a>,
    ) -> Result<Option<Draft>, ImportError> {
        let Some(flats) = self.flats(&property)? else {
            return Ok(None);
        };
        let first = &flats[0];
        let mut ty = schema::unify(flats.iter().map(Flat::ty));
        if kind == BodyFormat::Multipart && first.binary && ty == ParamType::String {
            ty = ParamType::File;
        }
        let mut p = param(ty, Location::Body, property.required);
        p.description = described(&flats);
        if property.own {
            // The body's own schema for it holds whichever branch is sent.
            self.own(&mut p, first, property.schemas[0], &[])?;
        } else {
            // Only branches give it: any branch's value is allowed, and a
            // default is one only when every branch gives the same.
            p.enumeration = flats
                .iter()
                .map(Flat::enum_values)
                .collect::<Option<Vec<_>>>()
                .and_then(|enums| enum_of(ty, enums.concat()));
            p.default = default_for(
                ty,
                first
                    .default
                    .filter(|d| flats.iter().all(|f| f.default == Some(*d))),
            );
        }
        if kind == BodyFormat::Form
            && ty == ParamType::Array
            && let Some(encoding) = media.encoding.get(name)
            && encoding.style == Some(QueryStyle::DeepObject)
        {
            p.array_style = Some("brackets");
        }
        Ok(Some(Draft {
            param: p,
            wire: Some(name.to_string()),
            reserved: false,
        }))
    }
}

impl<'a> Builder<'_, 'a> {
    /// The fields of an object param and the items of an array param, as
    /// far as [`MAX_NESTING`] levels down: what a caller needs to write the
    /// value without reading the API's documentation.
    fn nest(&self, p: &mut Param, flat: &Flat<'a>, refs: &[&'a str]) -> Result<(), ImportError> {
        if refs.len() >= MAX_NESTING {
            return Ok(());
        }
        match p.ty {
            ParamType::Object => {
                let Some(properties) = object_shape(flat) else {
                    return Ok(());
                };
                for (name, property) in properties {
                    if let Some(field) = self.field(name, property, refs)? {
                        p.fields.push(field);
                    }
                }
            }
            ParamType::Array => {
                let Some(items) = flat.items else {
                    return Ok(());
                };
                let item = self.resolver.flatten(items)?;
                let ty = item.ty();
                let mut field = param(ty, Location::Body, false);
                field.key = "items".into();
                field.bounds = item.bounds.clone();
                if let Some(refs) = deeper(refs, items) {
                    self.nest(&mut field, &item, &refs)?;
                }
                // The items' enum stays the array's own `enum`; a type
                // alone says nothing the runner checks.
                let says_more = !field.fields.is_empty()
                    || field.items.is_some()
                    || !field.bounds.keys(ty).is_empty();
                if says_more && ty != ParamType::Any {
                    p.items = Some(Box::new(field));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// One field of an object value; none for a `readOnly` one.
    fn field(
        &self,
        name: &str,
        property: Property<'a>,
        refs: &[&'a str],
    ) -> Result<Option<Param>, ImportError> {
        let Some(flats) = self.flats(&property)? else {
            return Ok(None);
        };
        let ty = schema::unify(flats.iter().map(Flat::ty));
        let mut field = param(ty, Location::Body, property.required);
        field.key = name.to_string();
        field.description = described(&flats);
        if property.own {
            self.own(&mut field, &flats[0], property.schemas[0], refs)?;
        }
        Ok(Some(field))
    }

    /// Every schema given for a property, flattened; `None` when each is
    /// `readOnly`: the server sets it, and a request never carries it.
    fn flats(&self, property: &Property<'a>) -> Result<Option<Vec<Flat<'a>>>, ImportError> {
        let mut flats = Vec::with_capacity(property.schemas.len());
        for schema in &property.schemas {
            flats.push(self.resolver.flatten(*schema)?);
        }
        Ok((!flats.iter().all(|f| f.read_only)).then_some(flats))
    }

    /// What a property's own schema (`own`, flattened) says of `p`, already
    /// of its type: enum, server default, bounds, and its fields or items
    /// below the references `refs` already followed.
    fn own(
        &self,
        p: &mut Param,
        own: &Flat<'a>,
        schema: SchemaRef<'a>,
        refs: &[&'a str],
    ) -> Result<(), ImportError> {
        p.enumeration = enum_for(p.ty, own);
        p.default = default_for(p.ty, own.default);
        p.bounds = own.bounds.clone();
        if let Some(refs) = deeper(refs, schema) {
            self.nest(p, own, &refs)?;
        }
        Ok(())
    }
}

/// A property's description: the first any of its schemas gives, one sentence.
fn described(flats: &[Flat]) -> Option<String> {
    flats
        .iter()
        .find_map(|f| f.description)
        .and_then(text::first_sentence)
}

/// An http(s) URL with a host, fit to be a base URL as it stands.
fn is_absolute(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && !url.contains('{')
}

/// The references on the way down to `next`, or `None` when `next` is one
/// of them (a recursive schema: its structure was shown a level above).
fn deeper<'a>(refs: &[&'a str], next: SchemaRef<'a>) -> Option<Vec<&'a str>> {
    let mut out = refs.to_vec();
    match next {
        SchemaRef::Ref(r) if refs.contains(&r) => return None,
        SchemaRef::Ref(r) => out.push(r),
        // An inline schema is a level all the same.
        SchemaRef::Inline(_) => out.push(""),
    }
    Some(out)
}

/// How deep fields and items are kept: deeper structure is rare in request
/// bodies and would swell a catalog past use.
const MAX_NESTING: usize = 3;

/// A property of an object body.
#[derive(Default)]
struct Property<'a> {
    /// Every schema given for it: the body's own first, then its object
    /// branches'.
    schemas: Vec<SchemaRef<'a>>,
    required: bool,
    /// Declared by the body itself, not only by branches.
    own: bool,
}

/// The properties of an object body, by name.
type Properties<'a> = IndexMap<&'a str, Property<'a>>;

/// The properties of an object body: its own, then those of its object
/// branches; `None` when the body is not an object with properties.
fn object_shape<'a>(flat: &Flat<'a>) -> Option<Properties<'a>> {
    if !flat.is_object() && flat.declared.is_some() {
        return None;
    }
    let branches: Vec<&Flat<'a>> = flat.branches.iter().filter(|b| b.is_object()).collect();
    let mut properties = Properties::new();
    for (name, schema) in &flat.properties {
        properties.insert(
            name,
            Property {
                schemas: vec![*schema],
                required: false,
                own: true,
            },
        );
    }
    for branch in &branches {
        for (name, schema) in &branch.properties {
            properties.entry(name).or_default().schemas.push(*schema);
        }
    }
    if properties.is_empty() {
        return None;
    }
    for (name, Property { required, .. }) in properties.iter_mut() {
        *required = flat.required.contains(name)
            || (!branches.is_empty() && branches.iter().all(|b| b.required.contains(name)));
    }
    Some(properties)
}

/// A param with nothing but its type, place and requiredness.
fn param(ty: ParamType, location: Location, required: bool) -> Param {
    Param {
        key: String::new(),
        ty,
        required,
        location,
        name: None,
        whole_body: false,
        array_style: None,
        enumeration: None,
        default: None,
        bounds: Bounds::default(),
        fields: Vec::new(),
        items: None,
        description: None,
    }
}

/// The enum of a scalar (or `any`) param: the values of its type, once each.
fn enum_for(ty: ParamType, flat: &Flat) -> Option<Vec<Value>> {
    enum_of(ty, flat.enum_values()?)
}

/// The enum of a scalar (or `any`) param allowing `allowed`: those of its
/// type, once each.
fn enum_of(ty: ParamType, allowed: Vec<Value>) -> Option<Vec<Value>> {
    if matches!(ty, ParamType::Array | ParamType::Object | ParamType::File) {
        return None;
    }
    let mut values: Vec<Value> = Vec::new();
    for value in allowed {
        if schema::accepts(ty, &value) && !value.is_null() && !values.contains(&value) {
            values.push(value);
        }
    }
    (!values.is_empty()).then_some(values)
}

/// The default of a param, when it fits its type and is no template.
fn default_for(ty: ParamType, default: Option<&Value>) -> Option<Value> {
    let default = default?;
    if default.is_null() || looks_like_template(default) {
        return None;
    }
    match (ty, default) {
        (ParamType::String, Value::Number(_) | Value::Bool(_)) => {
            Some(Value::String(default.to_string()))
        }
        (ty, value) if schema::accepts(ty, value) => Some(value.clone()),
        _ => None,
    }
}

fn looks_like_template(value: &Value) -> bool {
    match value {
        Value::String(s) => ["{{", "{%", "{#"].iter().any(|m| s.contains(m)),
        Value::Array(items) => items.iter().any(looks_like_template),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| looks_like_template(&Value::String(k.clone())) || looks_like_template(v)),
        _ => false,
    }
}

/// A name that says the value is a file path (`path`, `file_path`, `filePath`).
fn is_path_like(name: &str) -> bool {
    let snake = names::snake(name);
    snake == "path" || snake.ends_with("_path")
}

/// The `{name}` placeholders of `path`, in order, once each.
fn placeholders(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find(['{', '}']) else {
            break;
        };
        if after.as_bytes()[end] == b'}' && end > 0 && !out.contains(&&after[..end]) {
            out.push(&after[..end]);
        }
        rest = &after[end..];
    }
    out
}

/// `path` with every placeholder written `{}`, to compare paths whatever
/// their placeholders are named.
fn placeholders_blank(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('{');
            }
            '}' if inside => {
                inside = false;
                out.push('}');
            }
            _ if inside => {}
            c => out.push(c),
        }
    }
    out
}

/// `path` with each `{wire}` written as `{key}` or `{+key}`.
fn rewrite_path(path: &str, keys: &HashMap<String, (String, bool)>) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find(['{', '}']) else {
            break;
        };
        out.push_str(&rest[..start]);
        match keys.get(&after[..end]) {
            Some((key, reserved)) if after.as_bytes()[end] == b'}' => {
                out.push_str(if *reserved { "{+" } else { "{" });
                out.push_str(key);
                out.push('}');
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_order_once() {
        assert_eq!(
            placeholders("/a/{x}/{y-z}/{x}/{}/{{w}"),
            vec!["x", "y-z", "w"]
        );
    }

    #[test]
    fn paths_are_rewritten_to_keys() {
        let mut keys = HashMap::new();
        keys.insert("repo-name".to_string(), ("repo_name".to_string(), false));
        keys.insert("path".to_string(), ("path".to_string(), true));
        assert_eq!(
            rewrite_path("/r/{repo-name}/contents/{path}{unknown}", &keys),
            "/r/{repo_name}/contents/{+path}{unknown}"
        );
    }

    #[test]
    fn relative_and_missing_servers_get_a_placeholder_host() {
        assert_eq!(base_url(None).0, PLACEHOLDER_HOST);
        let relative = Server {
            url: "/api/v3/".into(),
            ..Server::default()
        };
        let (url, todo) = base_url(Some(&relative));
        assert_eq!(url, "https://example.invalid/api/v3");
        assert!(todo.unwrap().contains("relative"));
    }

    #[test]
    fn template_defaults_are_dropped() {
        assert_eq!(
            default_for(ParamType::String, Some(&Value::from("{{ x }}"))),
            None
        );
        assert_eq!(
            default_for(ParamType::String, Some(&Value::from(30))),
            Some(Value::from("30"))
        );
        assert_eq!(
            default_for(ParamType::Integer, Some(&Value::from("30"))),
            None
        );
        assert_eq!(
            default_for(ParamType::Number, Some(&Value::from(3))),
            Some(Value::from(3))
        );
    }
}
