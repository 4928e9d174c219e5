//! GitHub's own description, imported and planned: each operation of the
//! committed subset (`tests/fixtures/openapi/github-subset.json`) gets a
//! step (one per branch of a `oneOf`/`anyOf` body) whose values are
//! generated from the operation's schemas: every required param and most
//! optional ones, enum values, defaults and examples where they fit, values
//! with characters that need encoding in about half the operations. The
//! request `runner plan` renders for each is checked against the operation:
//! the method; the server; the path, each placeholder decoded back to the
//! value given (`/` kept only for multi-segment parameters, `{+name}`);
//! every query key a parameter of the operation, its values the ones given
//! (or its default) and valid against its schema; header params under
//! their wire names; and the JSON body valid against the operation's
//! `requestBody` schema (`jsonschema`) and holding exactly the properties
//! given, plus the defaults of those not given.
//!
//! Nothing is sent: `plan` renders every request without a server, and the
//! catalog has no auth (the importer writes it commented out).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::OnceLock;

use percent_encoding::percent_decode_str;
use regex::Regex;
use serde_json::{Map, Value, json};

use crate::harness::Workspace;

/// Any text here generates other values (other optional params, enum
/// values, branches, tricky strings), to look for more mismatches; the
/// default is the same values every run.
const SEED_VAR: &str = "GITHUB_CATALOG_SEED";

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/openapi/github-subset.json"
);

/// Operations left out of the check, each for an approximation the importer
/// documents (`src/import/mod.rs`), and counted apart.
const EXCLUDED: &[(&str, &str)] = &[(
    "repos/upload-release-asset",
    "served from https://uploads.github.com (operation-level `servers`), \
     which the catalog only notes in a comment: the request goes to base_url",
)];

/// A placeholder value with characters a path must encode (a space, `/`
/// inside a segment, `#`, `%`, `?`, a letter beyond ASCII) and a few it
/// may keep (`+`, `&`, `=`, `@`, `:`).
const TRICKY_SEGMENT: &str = "a b/c#d%e?f+g&h=i@j:é";
/// The same for a multi-segment placeholder (`{+name}`), whose `/`
/// separates segments.
const TRICKY_RESERVED: &str = "docs/a b/c#d%e?f+g&h=i@j:é.md";
/// A multi-segment value of the other operations: `/` in it all the same.
const PLAIN_RESERVED: &str = "docs/guide/intro.md";
/// A text with quotes, a backslash, braces, a tab, newlines (one at the
/// end, which templates are wont to drop) and a letter beyond ASCII.
const TRICKY_TEXT: &str = "Line \"one\" \\ {x} é\n\tend\n";
/// A query value with the characters form encoding must escape.
const TRICKY_QUERY: &str = "a+b c&d=e/f#g%h;é";

#[test]
fn generated_github_actions_render_requests_their_operations_accept() {
    let text = std::fs::read_to_string(FIXTURE).expect("read the GitHub subset");
    let options = runner::import::Options {
        app: "github".into(),
        prefix: Some("GITHUB".into()),
        ..Default::default()
    };
    let catalog_text = runner::import::openapi(&text, &options).expect("import the subset");
    let spec = Spec::new(serde_json::from_str(&text).expect("the subset is JSON"));
    let catalog: Value = serde_yaml::from_str(&catalog_text).expect("the catalog is YAML");
    let actions = catalog["apps"]["github"]["actions"]
        .as_object()
        .expect("the catalog's actions");

    let operations = spec.operations();
    assert_eq!(operations.len(), actions.len(), "one action per operation");

    let mut failures: Vec<String> = Vec::new();
    let mut excluded: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    // Per operation: whether every step of it passed, and whether any of
    // them checked a param or a body.
    let mut outcome: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    let mut names = HashSet::new();
    for op in &operations {
        let name = action_name(&op.id);
        assert!(names.insert(name.clone()), "{name} named twice");
        let Some(action) = actions.get(&name) else {
            failures.push(format!("{}: no action {name} in the catalog", op.id));
            outcome.insert(&op.id, (false, false));
            continue;
        };
        if let Some((_, why)) = EXCLUDED.iter().find(|(id, _)| *id == op.id) {
            excluded.push(format!("{} ({why})", op.id));
            continue;
        }
        let action = Action::read(action);
        // One step per branch of a `oneOf`/`anyOf` body, so each branch's
        // properties are sent. A branch no value satisfies (GitHub's
        // `campaigns/create-campaign` requires a property it does not
        // declare, beside `additionalProperties: false`) is skipped, and
        // listed; an operation with no step at all fails.
        let branches = spec.body_branches(op, &action);
        let (made, unmade): (Vec<_>, Vec<_>) = (0..branches)
            .map(|branch| {
                spec.case(branch, branches, op, name.clone(), &action)
                    .map_err(|why| format!("{}: {why}", label(op, branch, branches)))
            })
            .partition(Result::is_ok);
        let unmade = unmade.into_iter().filter_map(Result::err);
        if made.is_empty() {
            failures.extend(unmade);
            outcome.insert(&op.id, (false, false));
        } else {
            skipped.extend(unmade);
            outcome.insert(&op.id, (true, false));
            cases.extend(made.into_iter().filter_map(Result::ok));
        }
    }

    let ws = Workspace::new().file("github.yaml", &catalog_text);
    let planned = plan(&ws, &cases);
    for (case, step) in cases.iter().zip(&planned) {
        let mut check = Check::new(&spec, case);
        match step {
            Ok(step) => check.request(step),
            Err(why) => check.fail(format!("plan refused the step: {why}")),
        }
        let (ok, items) = outcome.get_mut(case.op.id.as_str()).expect("an outcome");
        if !check.problems.is_empty() {
            *ok = false;
            failures.push(format!(
                "{}: {}",
                label(case.op, case.branch, case.branches),
                check.problems.join("; ")
            ));
        }
        *items |= check.items > 0;
    }
    let checked = outcome.values().filter(|(ok, items)| *ok && *items).count();
    let failed = outcome.values().filter(|(ok, _)| !ok).count();
    let narrowed: Vec<String> = cases
        .iter()
        .filter(|c| !c.narrowed.is_empty())
        .map(|c| {
            format!(
                "{} ({})",
                label(c.op, c.branch, c.branches),
                c.narrowed.join(", ")
            )
        })
        .collect();

    let mut summary = format!(
        "{checked} operations checked ({} of them given text for a `string` param \
         whose schema also allows other scalars: {}); {} body branches skipped ({}); \
         {} excluded ({}); {failed} failed",
        narrowed.len(),
        narrowed.join(", "),
        skipped.len(),
        skipped.join("; "),
        excluded.len(),
        excluded.join("; "),
    );
    for failure in failures.iter().take(20) {
        summary.push_str("\n  ");
        summary.push_str(failure);
    }
    assert!(failures.is_empty(), "{summary}");
    assert!(checked >= 200, "{summary}");
    println!("{summary}");
}

// ---------------------------------------------------------------------------
// The description.

/// An operation of the description, its path-level parameters merged.
struct Operation<'s> {
    id: String,
    method: String,
    /// The server it is served from: its own `servers`, else its path's,
    /// else the document's.
    server: String,
    path: String,
    params: Vec<Parameter<'s>>,
    body: Option<Body<'s>>,
}

struct Parameter<'s> {
    name: String,
    location: String,
    required: bool,
    /// Marked `x-multi-segment: true`: its value may hold `/`, kept
    /// between segments (GitHub's marker, which the importer writes as
    /// `{+name}`).
    multi_segment: bool,
    schema: &'s Value,
    /// The parameter's own `example` and `examples`.
    examples: Vec<&'s Value>,
}

enum Body<'s> {
    Json { schema: &'s Value },
    Other { media: String },
}

/// What the checks and the generator need of the description, with caches
/// for the schemas they compile.
struct Spec {
    doc: Value,
    validators: RefCell<HashMap<String, Rc<jsonschema::Validator>>>,
    patterns: RefCell<HashMap<String, Option<Regex>>>,
}

impl Spec {
    fn new(doc: Value) -> Self {
        Spec {
            doc,
            validators: RefCell::default(),
            patterns: RefCell::default(),
        }
    }

    /// `value` with its `$ref`s followed.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(target) = value.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let pointer = target
                .strip_prefix('#')
                .expect("a reference inside the document");
            value = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{target} names nothing"));
        }
        value
    }

    /// Every operation, in the importer's order: paths as written, methods
    /// GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.
    fn operations(&self) -> Vec<Operation<'_>> {
        let mut out = Vec::new();
        let paths = self.doc["paths"].as_object().expect("paths");
        for (path, item) in paths {
            let item = self.resolve(item);
            for method in ["get", "head", "post", "put", "patch", "delete", "options"] {
                let Some(op) = item.get(method) else {
                    continue;
                };
                let mut params: Vec<Parameter> = Vec::new();
                let declared = item
                    .get("parameters")
                    .into_iter()
                    .chain(op.get("parameters"));
                for p in declared.flat_map(|list| list.as_array().into_iter().flatten()) {
                    let p = self.resolve(p);
                    let name = p["name"].as_str().expect("a parameter's name").to_string();
                    let location = p["in"].as_str().expect("a parameter's in").to_string();
                    if location == "cookie"
                        || (location == "header"
                            && ["accept", "content-type", "authorization"]
                                .contains(&name.to_ascii_lowercase().as_str()))
                    {
                        continue;
                    }
                    let mut examples: Vec<&Value> = p.get("example").into_iter().collect();
                    if let Some(map) = p.get("examples").and_then(Value::as_object) {
                        examples.extend(map.values().filter_map(|e| self.resolve(e).get("value")));
                    }
                    let parameter = Parameter {
                        required: p["required"].as_bool().unwrap_or(false) || location == "path",
                        multi_segment: location == "path"
                            && p.get("x-multi-segment") == Some(&Value::Bool(true)),
                        schema: p.get("schema").unwrap_or(&Value::Null),
                        name,
                        location,
                        examples,
                    };
                    let same = params
                        .iter()
                        .position(|q| q.name == parameter.name && q.location == parameter.location);
                    match same {
                        Some(i) => params[i] = parameter,
                        None => params.push(parameter),
                    }
                }
                let body = op.get("requestBody").map(|b| {
                    let content = self.resolve(b)["content"].as_object().expect("content");
                    match content.get("application/json") {
                        Some(media) => Body::Json {
                            schema: media.get("schema").unwrap_or(&Value::Null),
                        },
                        None => Body::Other {
                            media: content.keys().next().cloned().unwrap_or_default(),
                        },
                    }
                });
                let server = [op, item, &self.doc]
                    .iter()
                    .find_map(|o| o.pointer("/servers/0/url").and_then(Value::as_str))
                    .expect("a server")
                    .trim_end_matches('/')
                    .to_string();
                out.push(Operation {
                    id: op["operationId"].as_str().expect("operationId").to_string(),
                    server,
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    params,
                    body,
                });
            }
        }
        out
    }

    /// A validator for `schema`, whose `#/components/...` references
    /// resolve in the description's components. OpenAPI 3.0 schemas are
    /// read as draft 4 (boolean `exclusiveMinimum`, `$ref` siblings
    /// ignored); `nullable` is not translated, since no value sent is null.
    fn validator(&self, schema: &Value) -> Rc<jsonschema::Validator> {
        let key = schema.to_string();
        if let Some(v) = self.validators.borrow().get(&key) {
            return v.clone();
        }
        let root = json!({"components": self.doc["components"], "allOf": [schema]});
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {key} does not compile: {e}"));
        let validator = Rc::new(validator);
        self.validators.borrow_mut().insert(key, validator.clone());
        validator
    }

    /// Why `value` does not validate against `schema`, if it does not.
    fn invalid(&self, schema: &Value, value: &Value) -> Option<String> {
        let validator = self.validator(schema);
        let errors: Vec<String> = validator
            .iter_errors(value)
            .take(3)
            .map(|e| format!("{e} at `{}`", e.instance_path()))
            .collect();
        (!errors.is_empty()).then(|| errors.join("; "))
    }

    fn pattern(&self, pattern: &str) -> Option<Regex> {
        self.patterns
            .borrow_mut()
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok())
            .clone()
    }

    /// `schema` with its `$ref`s followed and its `allOf` merged in: the
    /// union of properties and `required`, the intersection of enums, the
    /// first of any other keyword.
    fn flat(&self, schema: &Value) -> Map<String, Value> {
        self.flat_at(schema, 0)
    }

    fn flat_at(&self, schema: &Value, depth: usize) -> Map<String, Value> {
        let Some(object) = self.resolve(schema).as_object() else {
            return Map::new();
        };
        let mut out: Map<String, Value> = object
            .iter()
            .filter(|(k, _)| *k != "allOf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if depth < 16
            && let Some(parts) = object.get("allOf").and_then(Value::as_array)
        {
            for part in parts {
                merge(&mut out, self.flat_at(part, depth + 1));
            }
        }
        out
    }
}

/// `from` merged into `into` as `allOf` would have both hold.
fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (key.as_str(), into.get_mut(&key)) {
            ("properties", Some(Value::Object(properties))) => {
                for (name, schema) in value.as_object().into_iter().flatten() {
                    let merged = match properties.get(name) {
                        Some(existing) => json!({"allOf": [existing, schema]}),
                        None => schema.clone(),
                    };
                    properties.insert(name.clone(), merged);
                }
            }
            ("required", Some(Value::Array(required))) => {
                for name in value.as_array().into_iter().flatten() {
                    if !required.contains(name) {
                        required.push(name.clone());
                    }
                }
            }
            ("enum", Some(Value::Array(values))) => {
                let other = value.as_array().cloned().unwrap_or_default();
                values.retain(|v| other.iter().any(|o| same(o, v)));
            }
            (_, Some(_)) => {}
            (_, None) => {
                into.insert(key, value);
            }
        }
    }
}

/// JSON equality with numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------
// The catalog.

/// An action of the imported catalog: where each param goes and under
/// which key a step gives it.
struct Action {
    params: Vec<CatalogParam>,
}

struct CatalogParam {
    key: String,
    location: String,
    wire: String,
    ty: String,
    whole_body: bool,
}

impl Action {
    fn read(action: &Value) -> Self {
        let params = action["params"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, p)| CatalogParam {
                key: key.clone(),
                location: p["in"].as_str().unwrap_or("?").to_string(),
                wire: p["name"].as_str().unwrap_or(key).to_string(),
                ty: p["type"].as_str().unwrap_or_default().to_string(),
                whole_body: p["whole_body"].as_bool().unwrap_or(false),
            })
            .collect();
        Action { params }
    }

    fn param(&self, location: &str, wire: &str) -> Option<&CatalogParam> {
        self.params
            .iter()
            .find(|p| p.location == location && p.wire == wire && !p.whole_body)
    }
}

/// The importer's naming rule: the prefix and the operationId in
/// UPPER_SNAKE_CASE, words split at every character that is not a letter or
/// digit and at camelCase humps.
fn action_name(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !word.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                words.push(std::mem::take(&mut word));
            }
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    format!("GITHUB_{}", words.join("_").to_ascii_uppercase())
}

// ---------------------------------------------------------------------------
// Values.

/// One step: the values given, by the operation's wire names, and the
/// same by the catalog's keys for the workflow.
struct Case<'s> {
    op: &'s Operation<'s>,
    /// Which branch of a `oneOf`/`anyOf` body it sends, of how many (one
    /// for other bodies).
    branch: usize,
    branches: usize,
    action: String,
    /// Path, query and header values by (location, wire name).
    given: BTreeMap<(String, String), Value>,
    /// The JSON body given: an object of properties, or the whole body.
    body: Option<Value>,
    whole_body: bool,
    /// A non-JSON body: its media type and the text given.
    raw: Option<(String, String)>,
    /// The step's params, by catalog key.
    params: Map<String, Value>,
    /// Body properties given as text for a `string` param whose schema
    /// also allows numbers or booleans.
    narrowed: Vec<String>,
}

/// How the summary names a step: the operation, and the body branch it
/// sends when the body has several.
fn label(op: &Operation, branch: usize, branches: usize) -> String {
    if branches == 1 {
        op.id.clone()
    } else {
        format!("{} (body branch {} of {branches})", op.id, branch + 1)
    }
}

/// FNV-1a: a stable number from a text (after the seed), for choices that
/// vary from one operation and property to the next but never from run to
/// run.
fn hash(text: &str) -> u64 {
    static SEED: OnceLock<String> = OnceLock::new();
    let seed = SEED.get_or_init(|| std::env::var(SEED_VAR).unwrap_or_default());
    seed.bytes()
        .chain(text.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn pick(salt: &str, n: usize) -> usize {
    (hash(salt) % n as u64) as usize
}

/// Whether an optional value is given: three in four at the top, one in
/// two below, none deeper than three levels.
fn include_optional(salt: &str, depth: usize) -> bool {
    match depth {
        0 => pick(salt, 4) != 0,
        1 | 2 => pick(salt, 2) == 0,
        _ => false,
    }
}

/// Whether a value can be given as it is: no nulls (not JSON Schema's, and
/// never sent), nothing the runner would read as a template.
fn usable(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !["{{", "{%", "{#"].iter().any(|m| s.contains(m)),
        Value::Array(items) => items.iter().all(usable),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| usable(&Value::String(k.clone())) && usable(v)),
        _ => true,
    }
}

/// A scalar as the query string or a header carries it.
fn wire(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Spec {
    /// The step for operation `op` sending body branch `branch` (of
    /// `branches`), its values generated from the operation's schemas; in
    /// about half the operations, free-form path and query strings are
    /// tricky ones.
    fn case<'s>(
        &self,
        branch: usize,
        branches: usize,
        op: &'s Operation<'s>,
        action: String,
        catalog: &Action,
    ) -> Result<Case<'s>, String> {
        let tricky = pick(&format!("{}/tricky", op.id), 2) == 0;
        let mut case = Case {
            op,
            branch,
            branches,
            action,
            given: BTreeMap::new(),
            body: None,
            whole_body: false,
            raw: None,
            params: Map::new(),
            narrowed: Vec::new(),
        };
        for p in &op.params {
            let Some(param) = catalog.param(&p.location, &p.name) else {
                return Err(format!(
                    "{} parameter `{}` has no param",
                    p.location, p.name
                ));
            };
            let salt = format!("{}/{}/{}", op.id, p.location, p.name);
            if !p.required && !include_optional(&salt, 0) {
                continue;
            }
            match self.param_value(p, &salt, tricky) {
                Some(value) => {
                    case.params.insert(param.key.clone(), value.clone());
                    case.given
                        .insert((p.location.clone(), p.name.clone()), value);
                }
                None if p.required => {
                    return Err(format!("no value for required parameter `{}`", p.name));
                }
                None => {}
            }
        }
        match &op.body {
            None => {}
            Some(Body::Other { media }) => {
                let Some(param) = catalog.params.iter().find(|p| p.location == "body") else {
                    return Err(format!("the {media} body has no param"));
                };
                if media.starts_with("text/") {
                    let text = "# Hello\n\nA *markdown* text.".to_string();
                    case.params
                        .insert(param.key.clone(), Value::String(text.clone()));
                    case.raw = Some((media.clone(), text));
                }
            }
            Some(Body::Json { schema }) => {
                let salt = format!("{}/body", op.id);
                match catalog.params.iter().find(|p| p.whole_body) {
                    Some(param) => {
                        let value = self
                            .value(schema, &salt, 0, true)
                            .ok_or("no value for the whole body")?;
                        case.params.insert(param.key.clone(), value.clone());
                        case.body = Some(value);
                        case.whole_body = true;
                    }
                    None => {
                        let salt = format!("{salt}/{branch}");
                        let value = self
                            .value(&self.body_branch(schema, branch), &salt, 0, false)
                            .ok_or("no value for the body")?;
                        let Value::Object(properties) = &value else {
                            return Err(format!("an object body generated as {value}"));
                        };
                        let mut given = Map::new();
                        for (name, v) in properties {
                            let Some(param) = catalog.param("body", name) else {
                                return Err(format!("body property `{name}` has no param"));
                            };
                            // The importer types a `oneOf`/`anyOf` of a string
                            // and other scalars `string` (an approximation
                            // `src/import/mod.rs` documents), and the runner
                            // sends a number or boolean given to a string
                            // param as its text: the step gives the text.
                            let v = match v {
                                Value::Number(_) | Value::Bool(_) if param.ty == "string" => {
                                    case.narrowed.push(name.clone());
                                    Value::String(wire(v))
                                }
                                _ => v.clone(),
                            };
                            case.params.insert(param.key.clone(), v.clone());
                            given.insert(name.clone(), v);
                        }
                        case.body = Some(Value::Object(given));
                    }
                }
                let body = case.body.as_ref().expect("just given");
                if let Some(why) = self.invalid(schema, body) {
                    return Err(format!("the generated body {body} is invalid: {why}"));
                }
            }
        }
        Ok(case)
    }

    /// How many steps operation `op` gets: one per branch of a body that is
    /// a `oneOf`/`anyOf` of objects whose properties are body params, else one.
    fn body_branches(&self, op: &Operation, action: &Action) -> usize {
        match &op.body {
            Some(Body::Json { schema }) if !action.params.iter().any(|p| p.whole_body) => {
                self.branches(&self.flat(schema)).len().max(1)
            }
            _ => 1,
        }
    }

    /// The `oneOf` (else `anyOf`) branches of a flattened schema, `null`
    /// ones left out.
    fn branches(&self, s: &Map<String, Value>) -> Vec<Value> {
        let list = s
            .get("oneOf")
            .or_else(|| s.get("anyOf"))
            .and_then(Value::as_array);
        list.into_iter()
            .flatten()
            .filter(|b| self.flat(b).get("type") != Some(&json!("null")))
            .cloned()
            .collect()
    }

    /// Branch `branch` of a `oneOf`/`anyOf` body with the body's own
    /// properties merged in; the body itself when it has no branches.
    fn body_branch(&self, schema: &Value, branch: usize) -> Value {
        let s = self.flat(schema);
        let branches = self.branches(&s);
        let Some(chosen) = branches.get(branch) else {
            return schema.clone();
        };
        let mut combined = s.clone();
        combined.remove("oneOf");
        combined.remove("anyOf");
        merge(&mut combined, self.flat(chosen));
        Value::Object(combined)
    }

    /// A value for a path, query or header parameter: a tricky one for
    /// free-form strings of every other operation, else an example of the
    /// parameter, else one from its schema.
    fn param_value(&self, p: &Parameter, salt: &str, tricky: bool) -> Option<Value> {
        let schema = self.flat(p.schema);
        let free = schema.get("type") == Some(&json!("string"))
            && !["enum", "pattern", "format"]
                .iter()
                .any(|k| schema.contains_key(*k));
        if free {
            let value = match (p.location.as_str(), p.multi_segment, tricky) {
                ("path", true, true) => Some(TRICKY_RESERVED),
                ("path", true, false) => Some(PLAIN_RESERVED),
                ("path", false, true) => Some(TRICKY_SEGMENT),
                ("query", _, true) => Some(TRICKY_QUERY),
                _ => None,
            };
            if let Some(value) = value.map(Value::from)
                && self.fits(p.schema, &value)
            {
                return Some(value);
            }
        }
        if let Some(example) = p.examples.iter().find(|e| {
            usable(e) && self.fits(p.schema, e) && !(p.location == "path" && bad_segment(e))
        }) {
            return Some((*example).clone());
        }
        let value = self.value(p.schema, salt, 0, true)?;
        match (&value, p.multi_segment) {
            // Every segment of a `{+name}` value must be a real one.
            (Value::String(s), true) if s.split('/').any(|seg| matches!(seg, "" | "." | "..")) => {
                None
            }
            _ => Some(value),
        }
    }

    /// A value that `schema` accepts: an enum value, else its default or an
    /// example (when they fit, and unless `examples` is false: the top of a
    /// body is always built, so its properties vary), else one built for its
    /// type and constraints; below the top, examples are always welcome. `None` when none can be made (a pattern this
    /// does not satisfy, say).
    fn value(&self, schema: &Value, salt: &str, depth: usize, examples: bool) -> Option<Value> {
        if depth > 8 {
            return None;
        }
        let s = self.flat(schema);
        let whole = Value::Object(s.clone());
        if let Some(Value::Array(values)) = s.get("enum") {
            let values: Vec<&Value> = values.iter().filter(|v| usable(v)).collect();
            return (!values.is_empty()).then(|| values[pick(salt, values.len())].clone());
        }
        if examples {
            let mut candidates: Vec<&Value> = Vec::new();
            candidates.extend(s.get("default"));
            candidates.extend(s.get("example"));
            if let Some(Value::Array(list)) = s.get("examples") {
                candidates.extend(list);
            }
            if let Some(found) = candidates
                .into_iter()
                .find(|c| usable(c) && self.fits(&whole, c))
            {
                return Some(found.clone());
            }
        }
        for keyword in ["oneOf", "anyOf"] {
            let Some(Value::Array(branches)) = s.get(keyword) else {
                continue;
            };
            let mut parent = s.clone();
            parent.remove("oneOf");
            parent.remove("anyOf");
            // Each branch in turn, from one that varies with the salt.
            let start = pick(salt, branches.len());
            for branch in branches.iter().cycle().skip(start).take(branches.len()) {
                let mut combined = parent.clone();
                merge(&mut combined, self.flat(branch));
                if combined.get("type") == Some(&json!("null")) {
                    continue;
                }
                if let Some(value) = self.value(&Value::Object(combined), salt, depth, examples)
                    && self.fits(&whole, &value)
                {
                    return Some(value);
                }
            }
            return None;
        }
        let ty = match s.get("type").and_then(Value::as_str) {
            Some(ty) => ty,
            None if s.contains_key("properties") => "object",
            None => "string",
        };
        let value = match ty {
            "string" => self.string(&s, salt)?,
            "integer" => {
                let (lo, hi) = bounds(&s);
                let n = ((1 + pick(salt, 90)) as f64).max(lo.ceil()).min(hi.floor());
                json!(n as i64)
            }
            "number" => {
                let (lo, hi) = bounds(&s);
                json!((2.5f64).max(lo).min(hi))
            }
            "boolean" => json!(pick(salt, 2) == 0),
            "array" => self.array(&s, salt, depth)?,
            "object" => self.object(&s, salt, depth)?,
            _ => return None,
        };
        self.fits(&whole, &value).then_some(value)
    }

    /// A string: of the format, else one in three a text JSON and the
    /// template engine must carry unchanged ([`TRICKY_TEXT`]), else a plain
    /// word; then made long or short enough, or the pattern's own sample.
    fn string(&self, s: &Map<String, Value>, salt: &str) -> Option<Value> {
        let mut candidates: Vec<String> = match s.get("format").and_then(Value::as_str) {
            Some("date-time") => vec!["2024-05-06T07:08:09Z".into()],
            Some("date") => vec!["2024-05-06".into()],
            Some("uri" | "url") => vec!["https://example.com/a/b".into()],
            Some("email") => vec!["octocat@example.com".into()],
            _ => Vec::new(),
        };
        if pick(salt, 3) == 0 {
            candidates.push(TRICKY_TEXT.into());
        }
        candidates.extend(["value", "value-1", "v1"].map(String::from));
        if let Some(sample) = s
            .get("pattern")
            .and_then(Value::as_str)
            .and_then(pattern_sample)
        {
            candidates.push(sample);
        }
        let whole = Value::Object(s.clone());
        let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .map(|m| m as usize);
        candidates.into_iter().find_map(|mut c| {
            while c.chars().count() < min {
                c.push('x');
            }
            if let Some(max) = max {
                c = c.chars().take(max).collect();
            }
            let value = Value::String(c);
            self.fits(&whole, &value).then_some(value)
        })
    }

    fn array(&self, s: &Map<String, Value>, salt: &str, depth: usize) -> Option<Value> {
        let items = s.get("items").cloned().unwrap_or(json!({"type": "string"}));
        let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = s.get("maxItems").and_then(Value::as_u64).unwrap_or(2) as usize;
        let want = 2.min(max).max(min);
        let mut out: Vec<Value> = Vec::new();
        for attempt in 0..want + 6 {
            if out.len() == want {
                break;
            }
            let Some(item) = self.value(&items, &format!("{salt}/{attempt}"), depth + 1, true)
            else {
                break;
            };
            if !out.contains(&item) {
                out.push(item);
            }
        }
        (out.len() >= min.max(1)).then_some(Value::Array(out))
    }

    fn object(&self, s: &Map<String, Value>, salt: &str, depth: usize) -> Option<Value> {
        let empty = Map::new();
        let properties = s
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut out = Map::new();
        let mut first_optional = None;
        for (name, schema) in properties {
            if self.flat(schema).get("readOnly") == Some(&Value::Bool(true)) {
                continue;
            }
            let salt = format!("{salt}/{name}");
            let is_required = required.contains(&name.as_str());
            if !is_required {
                first_optional.get_or_insert((name, schema, salt.clone()));
                if !include_optional(&salt, depth) {
                    continue;
                }
            }
            match self.value(schema, &salt, depth + 1, true) {
                Some(value) => {
                    out.insert(name.clone(), value);
                }
                None if is_required => return None,
                None => {}
            }
        }
        // An object with properties is never sent empty.
        if out.is_empty()
            && let Some((name, schema, salt)) = first_optional
            && let Some(value) = self.value(schema, &salt, depth + 1, true)
        {
            out.insert(name.clone(), value);
        }
        if properties.is_empty() {
            match s.get("additionalProperties") {
                Some(Value::Bool(false)) => {}
                Some(schema @ Value::Object(_)) => {
                    let value = self.value(schema, &format!("{salt}/*"), depth + 1, true)?;
                    out.insert("key".into(), value);
                }
                _ => {
                    out.insert("key".into(), json!("value"));
                }
            }
        }
        Some(Value::Object(out))
    }

    /// Whether `value` satisfies `schema` as far as the generator needs to
    /// know (types, enums, bounds, lengths, patterns, the usual formats,
    /// required and closed properties, `oneOf`/`anyOf`). The checks proper
    /// use `jsonschema`.
    fn fits(&self, schema: &Value, value: &Value) -> bool {
        self.fits_at(schema, value, 0)
    }

    fn fits_at(&self, schema: &Value, value: &Value, depth: usize) -> bool {
        if depth > 16 {
            return true;
        }
        let s = self.flat(schema);
        if value.is_null() {
            return false;
        }
        if let Some(Value::Array(values)) = s.get("enum")
            && !values.iter().any(|v| same(v, value))
        {
            return false;
        }
        if let Some(ty) = s.get("type").and_then(Value::as_str) {
            let ok = match ty {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        if let Some(Value::Array(branches)) = s.get("oneOf")
            && branches
                .iter()
                .filter(|b| self.fits_at(b, value, depth + 1))
                .count()
                != 1
        {
            return false;
        }
        if let Some(Value::Array(branches)) = s.get("anyOf")
            && !branches.iter().any(|b| self.fits_at(b, value, depth + 1))
        {
            return false;
        }
        let count = |key: &str| s.get(key).and_then(Value::as_u64).map(|n| n as usize);
        match value {
            Value::String(text) => {
                let length = text.chars().count();
                if count("minLength").is_some_and(|min| length < min)
                    || count("maxLength").is_some_and(|max| length > max)
                {
                    return false;
                }
                if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
                    match self.pattern(pattern) {
                        Some(re) if re.is_match(text) => {}
                        _ => return false,
                    }
                }
                let format = s.get("format").and_then(Value::as_str).unwrap_or_default();
                let format = match format {
                    "date-time" => Some(
                        r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
                    ),
                    "date" => Some(r"^\d{4}-\d{2}-\d{2}$"),
                    "uri" => Some(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$"),
                    "email" => Some(r"^[^@\s]+@[^@\s]+$"),
                    _ => None,
                };
                if let Some(format) = format
                    && !self.pattern(format).is_some_and(|re| re.is_match(text))
                {
                    return false;
                }
            }
            Value::Number(n) => {
                let n = n.as_f64().unwrap_or(f64::NAN);
                let (lo, hi) = bounds(&s);
                if n < lo || n > hi {
                    return false;
                }
            }
            Value::Array(items) => {
                if count("minItems").is_some_and(|min| items.len() < min)
                    || count("maxItems").is_some_and(|max| items.len() > max)
                {
                    return false;
                }
                if let Some(schema) = s.get("items")
                    && !items.iter().all(|i| self.fits_at(schema, i, depth + 1))
                {
                    return false;
                }
            }
            Value::Object(map) => {
                let required = s.get("required").and_then(Value::as_array);
                if required
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|name| !map.contains_key(name))
                {
                    return false;
                }
                let empty = Map::new();
                let properties = s
                    .get("properties")
                    .and_then(Value::as_object)
                    .unwrap_or(&empty);
                for (name, v) in map {
                    let ok = match (properties.get(name), s.get("additionalProperties")) {
                        (Some(schema), _) => self.fits_at(schema, v, depth + 1),
                        (None, Some(Value::Bool(false))) => false,
                        (None, Some(schema @ Value::Object(_))) => {
                            self.fits_at(schema, v, depth + 1)
                        }
                        (None, _) => true,
                    };
                    if !ok {
                        return false;
                    }
                }
                if count("minProperties").is_some_and(|min| map.len() < min)
                    || count("maxProperties").is_some_and(|max| map.len() > max)
                {
                    return false;
                }
            }
            _ => {}
        }
        true
    }
}

/// The inclusive bounds of a number schema (exclusive ones nudged in).
fn bounds(s: &Map<String, Value>) -> (f64, f64) {
    let exclusive = |key: &str| s.get(key) == Some(&Value::Bool(true));
    let lo = match s.get("minimum").and_then(Value::as_f64) {
        Some(min) if exclusive("exclusiveMinimum") => min + 1.0,
        Some(min) => min,
        None => f64::MIN,
    };
    let hi = match s.get("maximum").and_then(Value::as_f64) {
        Some(max) if exclusive("exclusiveMaximum") => max - 1.0,
        Some(max) => max,
        None => f64::MAX,
    };
    (lo, hi)
}

/// A short string `pattern` matches, when its syntax is plain enough
/// (every repetition at its least, the first of every alternation).
fn pattern_sample(pattern: &str) -> Option<String> {
    use regex_syntax::hir::{Class, Hir, HirKind};
    fn sample(hir: &Hir, out: &mut String) -> Option<()> {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(literal) => out.push_str(std::str::from_utf8(&literal.0).ok()?),
            HirKind::Class(Class::Unicode(class)) => {
                let chars = class.ranges().iter().flat_map(|r| r.start()..=r.end());
                let mut chars = chars.take(256);
                out.push(
                    chars
                        .find(char::is_ascii_alphanumeric)
                        .or_else(|| class.ranges().first().map(|r| r.start()))?,
                );
            }
            HirKind::Class(Class::Bytes(_)) => return None,
            HirKind::Repetition(repetition) => {
                for _ in 0..repetition.min {
                    sample(&repetition.sub, out)?;
                }
            }
            HirKind::Capture(capture) => sample(&capture.sub, out)?,
            HirKind::Concat(parts) => {
                for part in parts {
                    sample(part, out)?;
                }
            }
            HirKind::Alternation(branches) => sample(branches.first()?, out)?,
        }
        Some(())
    }
    let hir = regex_syntax::parse(pattern).ok()?;
    let mut out = String::new();
    sample(&hir, &mut out)?;
    Some(out)
}

/// A value no path segment can be: empty, `.` or `..`.
fn bad_segment(value: &Value) -> bool {
    matches!(value.as_str(), Some("" | "." | ".."))
}

// ---------------------------------------------------------------------------
// Planning.

/// The planned request of each case (its `plan --output json` step), or
/// why `plan` refused it.
fn plan(ws: &Workspace, cases: &[Case]) -> Vec<Result<Value, String>> {
    match run_plan(ws, "workflow.yaml", cases) {
        Ok(steps) => steps.into_iter().map(Ok).collect(),
        // A step `plan` refuses stops the whole workflow: find which by
        // planning the steps one by one.
        Err(_) => cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                run_plan(ws, &format!("step-{i}.yaml"), std::slice::from_ref(case))
                    .map(|mut steps| steps.remove(0))
            })
            .collect(),
    }
}

/// Writes one workflow of `cases` (JSON, which is YAML) and plans it.
fn run_plan(ws: &Workspace, name: &str, cases: &[Case]) -> Result<Vec<Value>, String> {
    let steps: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| json!({"id": format!("s{i}"), "action": case.action, "params": case.params}))
        .collect();
    let workflow = json!({"version": 1, "include": ["github.yaml"], "steps": steps});
    ws.write(
        name,
        &serde_json::to_string_pretty(&workflow).expect("JSON"),
    );
    let out = ws.runner(["plan", name, "--output", "json"]).run();
    if out.code != 0 {
        return Err(format!("exit {}: {}", out.code, out.stderr.trim()));
    }
    let planned = out.json()["steps"].as_array().cloned().unwrap_or_default();
    if planned.len() != cases.len() {
        return Err(format!(
            "{} steps planned of {}",
            planned.len(),
            cases.len()
        ));
    }
    Ok(planned)
}

// ---------------------------------------------------------------------------
// Checks.

/// The checks of one planned request against its operation.
struct Check<'c, 's> {
    spec: &'c Spec,
    case: &'c Case<'s>,
    problems: Vec<String>,
    /// Params and bodies checked.
    items: usize,
}

impl<'c, 's> Check<'c, 's> {
    fn new(spec: &'c Spec, case: &'c Case<'s>) -> Self {
        Check {
            spec,
            case,
            problems: Vec::new(),
            items: 0,
        }
    }

    fn fail(&mut self, problem: String) {
        self.problems.push(problem);
    }

    fn request(&mut self, step: &Value) {
        let op = self.case.op;
        if step["deferred"].as_array().is_some_and(|d| !d.is_empty()) {
            self.fail(format!("deferred: {}", step["deferred"]));
        }
        if step["method"] != json!(op.method) {
            self.fail(format!("method {} for {}", step["method"], op.method));
        }
        let Some(raw) = step["url"].as_str() else {
            return self.fail(format!("no URL in {step}"));
        };
        let url = match url::Url::parse(raw) {
            Ok(url) => url,
            Err(e) => return self.fail(format!("URL {raw}: {e}")),
        };
        let server = url::Url::parse(&op.server).expect("the server's URL");
        if url.origin() != server.origin() || !raw.starts_with(&op.server) {
            self.fail(format!("URL {raw} is not under {}", op.server));
        }
        if url.fragment().is_some() {
            self.fail(format!("URL {raw} has a fragment"));
        }
        self.path(url.path());
        self.query(&url);
        self.headers(&step["headers"]);
        self.body(&step["body"], &step["headers"]);
    }

    /// The path matches the operation's template, each placeholder decoded
    /// back to the value given.
    fn path(&mut self, path: &str) {
        let op = self.case.op;
        let mut pattern = String::from("^");
        let mut holes: Vec<(String, bool)> = Vec::new();
        let mut rest = op.path.as_str();
        while let Some(start) = rest.find('{') {
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            pattern.push_str(&regex::escape(&rest[..start]));
            let name = &rest[start + 1..start + end];
            let reserved = op
                .params
                .iter()
                .any(|p| p.location == "path" && p.name == name && p.multi_segment);
            pattern.push_str(if reserved { "(.+)" } else { "([^/]+)" });
            holes.push((name.to_string(), reserved));
            rest = &rest[start + end + 1..];
        }
        pattern.push_str(&regex::escape(rest));
        pattern.push('$');
        let re = Regex::new(&pattern).expect("a path pattern");
        let Some(captures) = re.captures(path) else {
            return self.fail(format!("path {path} does not match {}", op.path));
        };
        for (i, (name, reserved)) in holes.iter().enumerate() {
            let raw = &captures[i + 1];
            let Some(given) = self.case.given.get(&("path".to_string(), name.clone())) else {
                self.fail(format!("path parameter `{name}` was not given"));
                continue;
            };
            let given = wire(given);
            // `{+name}` keeps `/` between segments, and only there.
            let (sent, expected): (Vec<&str>, Vec<&str>) = if *reserved {
                (raw.split('/').collect(), given.split('/').collect())
            } else {
                (vec![raw], vec![given.as_str()])
            };
            let decoded: Vec<String> = sent
                .iter()
                .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
                .collect();
            if decoded != expected {
                self.fail(format!(
                    "path parameter `{name}`: sent `{raw}`, decoded {decoded:?}, given {given:?}"
                ));
            } else {
                self.items += 1;
            }
        }
    }

    /// Every query key is a query parameter of the operation; its values
    /// are the ones given (or the parameter's default) and valid.
    fn query(&mut self, url: &url::Url) {
        let op = self.case.op;
        let mut sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in url.query_pairs() {
            sent.entry(key.into_owned())
                .or_default()
                .push(value.into_owned());
        }
        for ((location, name), value) in &self.case.given {
            if location == "query" && !sent.contains_key(name) {
                self.fail(format!("query parameter `{name}` = {value} was not sent"));
            }
        }
        for (key, values) in &sent {
            let Some(p) = op
                .params
                .iter()
                .find(|p| p.location == "query" && p.name == *key)
            else {
                self.fail(format!(
                    "query key `{key}` is no query parameter of the operation"
                ));
                continue;
            };
            let expected = match self.case.given.get(&("query".to_string(), key.clone())) {
                Some(given) => given.clone(),
                None => match self.spec.flat(p.schema).get("default") {
                    Some(default) => default.clone(),
                    None => {
                        self.fail(format!(
                            "query key `{key}` sent but neither given nor defaulted"
                        ));
                        continue;
                    }
                },
            };
            let expected: Vec<String> = match &expected {
                Value::Array(items) => items.iter().map(wire).collect(),
                scalar => vec![wire(scalar)],
            };
            if *values != expected {
                self.fail(format!(
                    "query `{key}`: sent {values:?}, expected {expected:?}"
                ));
                continue;
            }
            match self.typed_invalid(p.schema, values) {
                None => self.items += 1,
                Some(why) => self.fail(format!("query `{key}` = {values:?}: {why}")),
            }
        }
    }

    /// Why the query values of a parameter are not valid against its schema,
    /// read as the types the schema says (a lone value as a scalar or a
    /// one-item array).
    fn typed_invalid(&self, schema: &Value, values: &[String]) -> Option<String> {
        let scalar = |text: &String| -> Vec<Value> {
            let mut out = vec![Value::String(text.clone())];
            if let Ok(v @ (Value::Number(_) | Value::Bool(_))) = serde_json::from_str(text) {
                out.push(v);
            }
            out
        };
        let mut candidates: Vec<Value> = Vec::new();
        if let [one] = values {
            candidates.extend(scalar(one));
        }
        let items = self.spec.flat(schema).get("items").cloned();
        let item_ty = items
            .as_ref()
            .and_then(|i| self.spec.flat(i).get("type").cloned());
        let item = |text: &String| -> Value {
            if item_ty == Some(json!("string")) {
                Value::String(text.clone())
            } else {
                scalar(text).pop().expect("at least the text")
            }
        };
        candidates.push(Value::Array(values.iter().map(item).collect()));
        let mut why = None;
        for candidate in &candidates {
            match self.spec.invalid(schema, candidate) {
                None => return None,
                Some(w) => {
                    why.get_or_insert(w);
                }
            }
        }
        why
    }

    /// Header params are sent under their wire names, with the values given.
    fn headers(&mut self, headers: &Value) {
        let given: Vec<(&String, &Value)> = self
            .case
            .given
            .iter()
            .filter(|((location, _), _)| location == "header")
            .map(|((_, name), value)| (name, value))
            .collect();
        for (name, value) in given {
            let sent = headers
                .as_object()
                .into_iter()
                .flatten()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
            if sent == Some(&Value::String(wire(value))) {
                self.items += 1;
            } else {
                self.fail(format!("header `{name}`: sent {sent:?}, given {value}"));
            }
        }
    }

    /// The JSON body validates against the operation's schema and holds
    /// exactly what was given (and the defaults of what was not).
    fn body(&mut self, body: &Value, headers: &Value) {
        let content_type = headers
            .as_object()
            .into_iter()
            .flatten()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .and_then(|(_, v)| v.as_str());
        if let Some((media, text)) = &self.case.raw {
            let expected = json!({"content_type": media, "size": text.len()});
            if *body == expected && content_type == Some(media.as_str()) {
                self.items += 1;
            } else {
                self.fail(format!("raw body {body} ({content_type:?}) for {expected}"));
            }
            return;
        }
        let Some(Body::Json { schema }) = &self.case.op.body else {
            if !body.is_null() {
                self.fail(format!(
                    "a body {body} for an operation without a JSON body"
                ));
            }
            return;
        };
        let Some(given) = &self.case.body else {
            return;
        };
        if content_type != Some("application/json") {
            self.fail(format!("Content-Type {content_type:?} for a JSON body"));
        }
        if let Some(why) = self.spec.invalid(schema, body) {
            self.fail(format!("body {body} is invalid: {why}"));
            return;
        }
        if self.case.whole_body {
            if body == given {
                self.items += 1;
            } else {
                self.fail(format!("whole body {body} for {given}"));
            }
            return;
        }
        let (Value::Object(sent), Value::Object(given)) = (body, given) else {
            return self.fail(format!("body {body} for the properties {given}"));
        };
        let properties = self.spec.flat(schema);
        let properties = properties.get("properties").and_then(Value::as_object);
        let mut ok = true;
        for (name, value) in given {
            if sent.get(name) != Some(value) {
                ok = false;
                self.fail(format!(
                    "body property `{name}`: sent {:?}, given {value}",
                    sent.get(name)
                ));
            }
        }
        for (name, value) in sent {
            if given.contains_key(name) {
                continue;
            }
            let default = properties
                .and_then(|p| p.get(name))
                .and_then(|p| self.spec.flat(p).get("default").cloned());
            let defaulted = default
                .as_ref()
                .is_some_and(|d| same(d, value) || wire(d) == wire(value));
            if !defaulted {
                ok = false;
                self.fail(format!(
                    "body property `{name}` = {value} sent, neither given nor its default ({default:?})"
                ));
            }
        }
        if ok {
            self.items += 1;
        }
    }
}
