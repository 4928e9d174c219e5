//! The spec files exactly as written: serde structs, no cross-checks yet.
//! Mappings are read into [`Map`], which refuses a key written twice.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

/// What serde says when a mapping holds a key twice; the loader turns it
/// into a message naming both places.
pub(super) const DUPLICATE_KEY: &str = "duplicate key";

/// A mapping in the spec's order that refuses a key written twice.
#[derive(Debug)]
pub(super) struct Map<V>(pub IndexMap<String, V>);

impl<V> Default for Map<V> {
    fn default() -> Self {
        Map(IndexMap::new())
    }
}

impl<V> IntoIterator for Map<V> {
    type Item = (String, V);
    type IntoIter = indexmap::map::IntoIter<String, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<V> std::ops::Deref for Map<V> {
    type Target = IndexMap<String, V>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

// In the schema, a plain mapping: refusing a key written twice is the
// loader's business, not a schema's.
impl<V: JsonSchema> JsonSchema for Map<V> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        IndexMap::<String, V>::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        IndexMap::<String, V>::json_schema(generator)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Map<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Visit<V> {
            type Value = Map<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Map<V>, A::Error> {
                let mut map = IndexMap::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!("{DUPLICATE_KEY} `{key}`")));
                    }
                    let value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(Map(map))
            }
        }
        deserializer.deserialize_map(Visit(PhantomData))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub version: u64,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub apps: Map<App>,
    #[serde(default)]
    pub auth: Map<Auth>,
    #[serde(default)]
    #[schemars(with = "Map<serde_json::Value>")]
    pub vars: Map<serde_yaml::Value>,
    /// Typed values the run is given (`--input`, `--inputs-file`, the
    /// environment), or a sub-workflow's caller binds with `with:`.
    #[serde(default)]
    pub inputs: Map<Input>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// The workflow's results: templates over `steps` and `inputs`.
    #[serde(default)]
    pub outputs: Map<String>,
    /// How the run is journalled.
    #[serde(default)]
    pub journal: Option<Journal>,
    /// What the spec says of environment variables it reads.
    #[serde(default)]
    pub env: Map<EnvVar>,
}

/// `env: {NAME: {allow_empty: true}}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EnvVar {
    /// Set but empty is a value, not a missing variable.
    #[serde(default)]
    pub allow_empty: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Journal {
    #[serde(default)]
    pub sync: crate::spec::JournalSync,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Input {
    #[serde(rename = "type")]
    pub ty: ParamType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<serde_yaml::Value>,
    #[serde(default, rename = "enum")]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub allowed: Option<Vec<serde_yaml::Value>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct App {
    #[serde(default)]
    pub description: Option<String>,
    pub base_url: String,
    #[serde(default)]
    pub headers: Map<String>,
    #[serde(default)]
    pub actions: Map<Action>,
    /// `10s`, or `{connect: 2s, request: 30s}`.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::timeout")]
    pub timeout: Option<serde_yaml::Value>,
    #[serde(default)]
    pub retry: Option<Retry>,
    /// What every action of the app must answer (Slack's `ok: true`).
    #[serde(default)]
    pub expect: Option<Expect>,
    /// JSON Schemas the actions' `response` schemas refer to
    /// (`$ref: "#/schemas/NAME"`), read as JSON directly.
    #[serde(default)]
    pub schemas: Option<serde_json::Map<String, serde_json::Value>>,
    /// `{concurrency: 4, rate: 10/s}`: shared by all the app's requests.
    #[serde(default)]
    pub limits: Option<Limits>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Limits {
    #[serde(default)]
    pub concurrency: Option<u64>,
    /// `10/s`, `600/min`, `5000/h`; any YAML, so a bare number gets a
    /// message of its own.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::rate")]
    #[schemars(
        description = "Requests per period, shared by the app's steps: `10/s`, `600/min`, `900/15min`, `5000/h`."
    )]
    pub rate: Option<serde_yaml::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Retry {
    /// Every try, the first included.
    #[serde(default)]
    pub attempts: Option<u32>,
    #[serde(default)]
    #[schemars(schema_with = "super::schema::duration")]
    pub backoff: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "super::schema::duration")]
    pub max_wait: Option<String>,
    /// Also retry POST and PATCH after they may have reached the server.
    #[serde(default, rename = "unsafe")]
    pub unsafe_methods: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Timeout {
    #[serde(default)]
    #[schemars(schema_with = "super::schema::duration")]
    pub connect: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "super::schema::duration")]
    pub request: Option<String>,
}

// Named as specs, journals and messages write them.
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Method {
    GET,
    HEAD,
    POST,
    PUT,
    PATCH,
    DELETE,
    OPTIONS,
}

/// How an action's body is encoded. The variants are in order of
/// preference (the import takes the first a request body offers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[schemars(description = "How an action's body is encoded (`json` unless said).")]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    Json,
    Form,
    Multipart,
    Raw,
}

impl BodyFormat {
    /// The format as a spec writes it (`body_format: multipart`).
    pub fn name(self) -> &'static str {
        match self {
            BodyFormat::Json => "json",
            BodyFormat::Form => "form",
            BodyFormat::Multipart => "multipart",
            BodyFormat::Raw => "raw",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Action {
    #[serde(default)]
    pub description: Option<String>,
    /// Other names a step may call the action by (Composio's, an older
    /// catalog's).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Words people use for the action that its name and description lack,
    /// for `runner actions --query`.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Where the API's documentation of the action is.
    #[serde(default)]
    pub docs: Option<String>,
    pub method: Method,
    pub path: String,
    #[serde(default)]
    pub params: Map<Param>,
    #[serde(default)]
    pub body_format: BodyFormat,
    /// What the action must answer, beyond its app's `expect`.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// The `Content-Type` of a `body_format: raw` body.
    #[serde(default)]
    pub content_type: Option<String>,
    /// A server of the action's own (an upload host), instead of the app's.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The JSON Schema of a successful answer's body.
    #[serde(default)]
    pub response: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
    /// Any JSON value, sent as given.
    Any,
    /// A path to a file whose bytes are sent (multipart and raw bodies).
    File,
}

impl ParamType {
    /// The type as a spec writes it (`type: integer`).
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::Array => "array",
            ParamType::Object => "object",
            ParamType::Any => "any",
            ParamType::File => "file",
        }
    }

    /// What a message calls a value of the type (`expected an integer`).
    pub fn described(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Integer => "an integer",
            ParamType::Number => "a number",
            ParamType::Boolean => "a boolean",
            ParamType::Array => "an array",
            ParamType::Object => "an object",
            ParamType::Any => "any JSON value",
            ParamType::File => "a file path",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamIn {
    Path,
    Query,
    Header,
    Body,
}

impl ParamIn {
    /// Where the param goes, as a spec writes it (`in: query`).
    pub fn name(self) -> &'static str {
        match self {
            ParamIn::Path => "path",
            ParamIn::Query => "query",
            ParamIn::Header => "header",
            ParamIn::Body => "body",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Param {
    #[serde(rename = "type")]
    pub ty: ParamType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<serde_yaml::Value>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, rename = "in")]
    pub placement: Option<ParamIn>,
    /// The name on the wire, when it is not the param's key.
    #[serde(default)]
    pub name: Option<String>,
    /// The values allowed.
    #[serde(default, rename = "enum")]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub allowed: Option<Vec<serde_yaml::Value>>,
    /// The value is the whole request body.
    #[serde(default)]
    pub whole_body: bool,
    /// How arrays are named in form bodies and queries.
    #[serde(default)]
    pub array_style: Option<ArrayStyle>,
    /// What the server assumes when the param is left out: never sent.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub server_default: Option<serde_yaml::Value>,
    // Bounds, fields and items (see `spec::shape`); listed here, not
    // flattened, since serde's `flatten` cannot refuse unknown keys.
    #[serde(default)]
    pub minimum: Option<serde_json::Number>,
    #[serde(default)]
    pub maximum: Option<serde_json::Number>,
    #[serde(default)]
    pub min_length: Option<u64>,
    #[serde(default)]
    pub max_length: Option<u64>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub min_items: Option<u64>,
    #[serde(default)]
    pub max_items: Option<u64>,
    /// An object's fields.
    #[serde(default)]
    pub fields: Option<IndexMap<String, Field>>,
    /// An array's items.
    #[serde(default)]
    pub items: Option<Box<Field>>,
}

/// A field of an object param (`fields:`), or the items of an array param
/// (`items:`): a param without a place on the wire.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Field {
    #[serde(rename = "type", default)]
    pub ty: Option<ParamType>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, rename = "enum")]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub allowed: Option<Vec<serde_yaml::Value>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub server_default: Option<serde_yaml::Value>,
    // As in `Param`.
    #[serde(default)]
    pub minimum: Option<serde_json::Number>,
    #[serde(default)]
    pub maximum: Option<serde_json::Number>,
    #[serde(default)]
    pub min_length: Option<u64>,
    #[serde(default)]
    pub max_length: Option<u64>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub min_items: Option<u64>,
    #[serde(default)]
    pub max_items: Option<u64>,
    /// An object's fields.
    #[serde(default)]
    pub fields: Option<IndexMap<String, Field>>,
    /// An array's items.
    #[serde(default)]
    pub items: Option<Box<Field>>,
}

/// How an array is named in a form body, a multipart body or a query:
/// `tag=a&tag=b`, `tag[]=a&tag[]=b` or `tag[0]=a&tag[1]=b`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArrayStyle {
    #[default]
    Repeat,
    Brackets,
    Indexed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    Header,
    Query,
    Path,
    Subdomain,
}

impl Placement {
    /// Where the auth parameter goes, as a spec writes it (`in: subdomain`).
    pub fn name(self) -> &'static str {
        match self {
            Placement::Header => "header",
            Placement::Query => "query",
            Placement::Path => "path",
            Placement::Subdomain => "subdomain",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Auth {
    #[serde(default)]
    pub parameters: Vec<AuthParam>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<Map<serde_json::Value>>")]
    pub body: Option<Map<serde_yaml::Value>>,
    #[serde(default)]
    pub descope: Option<Descope>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AuthParam {
    pub name: String,
    #[serde(rename = "in")]
    pub placement: Placement,
    pub value: String,
    /// Allows a literal value that looks like a credential (test fixtures).
    #[serde(default)]
    pub allow_literal: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Descope {
    pub app_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub management_key: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// Boxed: the optional parts most steps lack (10,000 steps are read at once).
pub(super) struct Step {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// What the step runs: an action, or (`uses`) another spec file's steps.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub uses: Option<String>,
    /// An absolute URL (a template) instead of the action's base URL and
    /// path: an upload URL or a next link an earlier response returned.
    #[serde(default)]
    pub url: Option<String>,
    /// The one origin (`scheme://host[:port]`) `url` may lead to.
    #[serde(default)]
    pub url_origin: Option<String>,
    #[serde(default)]
    #[schemars(with = "Map<serde_json::Value>")]
    pub params: Map<serde_yaml::Value>,
    /// A sub-workflow's inputs.
    #[serde(default)]
    #[schemars(with = "Map<serde_json::Value>")]
    pub with: Map<serde_yaml::Value>,
    #[serde(default)]
    pub auth: Option<Box<Auth>>,
    #[serde(default)]
    pub continue_on_error: bool,
    #[serde(default)]
    pub expect: Option<Box<Expect>>,
    #[serde(default)]
    #[schemars(schema_with = "super::schema::timeout")]
    #[schemars(
        description = "The whole request's time limit (`10s`), or `{connect: 2s, request: 30s}`."
    )]
    pub timeout: Option<Box<serde_yaml::Value>>,
    #[serde(default)]
    pub retry: Option<Box<Retry>>,
    /// Run once per item of a list.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub for_each: Option<Box<serde_yaml::Value>>,
    #[serde(default, rename = "as")]
    pub item_name: Option<String>,
    #[serde(default)]
    pub concurrency: Option<u64>,
    #[serde(default)]
    pub max_items: Option<u64>,
    /// This loop may be split across machines (`--shard I/N`).
    #[serde(default)]
    pub shard: bool,
    /// A loop's own steps, run per item (an inline `uses`).
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
    /// Run only when this holds.
    #[serde(default, rename = "if")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub condition: Option<Box<serde_yaml::Value>>,
    /// Repeat until this holds.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub until: Option<Box<serde_yaml::Value>>,
    #[serde(default)]
    pub poll: Option<Box<Poll>>,
    #[serde(default)]
    pub paginate: Option<Box<Paginate>>,
    #[serde(default)]
    pub outputs: Map<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Poll {
    #[serde(default)]
    #[schemars(schema_with = "super::schema::duration")]
    pub every: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "super::schema::duration")]
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Paginate {
    /// `link` (RFC 8288 `rel="next"`), or `{param, value}` for a cursor.
    #[schemars(schema_with = "super::schema::paginate_next")]
    pub next: serde_yaml::Value,
    #[serde(default)]
    pub items: Option<String>,
    #[serde(default)]
    pub max_pages: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Cursor {
    pub param: String,
    pub value: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Expect {
    /// A status or a list of them; checked by the loader, which can say
    /// which value is wrong.
    #[serde(default)]
    #[schemars(schema_with = "super::schema::statuses")]
    #[schemars(description = "The status a response must have (100 to 599), or a list of them.")]
    pub status: Option<serde_yaml::Value>,
    /// JSONPath (RFC 9535) assertions on the response body.
    #[serde(default)]
    pub body: Vec<BodyCheck>,
    #[serde(default)]
    pub headers: Map<HeaderCheck>,
    /// Boolean templates over `status`, `headers`, `response`.
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub that: Vec<serde_yaml::Value>,
    /// A JSON Schema file the body must satisfy, relative to the spec.
    #[serde(default)]
    pub schema: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BodyCheck {
    pub path: String,
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub equals: Option<serde_yaml::Value>,
    #[serde(default)]
    pub matches: Option<String>,
    #[serde(default)]
    pub length: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HeaderCheck {
    #[serde(default)]
    pub exists: Option<bool>,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub matches: Option<String>,
}
