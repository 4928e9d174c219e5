//! Every template string of a spec, compiled once into one minijinja
//! environment, and rendered against a [`Scope`].
//!
//! The environment is locked down: strict undefined, no loader (so no file
//! can be read), no `debug`, a fuel budget against runaway loops, bounds on
//! the size and depth of values (see `limits`), and a watchdog for the
//! work fuel cannot meter (see [`watchdog`]). Filters and tests are checked
//! when a template is compiled, so an unknown one fails validation rather
//! than a run halfway.

mod lexicon;
mod limits;
mod names;
mod path;
mod scope;
pub(crate) mod taint;
pub(crate) mod time;
pub mod watchdog;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Mutex, OnceLock};

use minijinja::machinery::ast::Stmt;
use minijinja::value::Value as JValue;
use minijinja::{Environment, ErrorKind, State, UndefinedBehavior};
use serde_json::Value;

pub(crate) use lexicon::Lexicon;
pub(crate) use scope::Live;
pub use scope::Scope;

/// The fuel one render may burn: plenty for real templates, a stop for `range(10**9)`.
const FUEL: u64 = 50_000;
const CAPTURE: &str = "__runner_value";
/// The context name that tells the status functions whether the run failed.
pub(crate) const FAILED: &str = "__runner_failed";
/// Names every template may use without a scope binding them.
pub(crate) const BUILTINS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "loop",
    "lipsum",
    "cycler",
    "joiner",
    "now",
];
/// Functions that only make sense in a step's `if`.
pub(crate) const STATUS_FUNCTIONS: &[&str] = &["success", "failure", "always"];

/// What a template refers to, found statically.
#[derive(Debug, Default, Clone)]
pub struct Refs {
    /// `env.NAME` lookups.
    pub env: BTreeSet<String>,
    /// `vars.NAME` lookups.
    pub(crate) vars: BTreeSet<String>,
    /// `inputs.NAME` lookups.
    pub(crate) inputs: BTreeSet<String>,
    /// `steps.ID` (with the attribute after it, when there is one).
    pub(crate) steps: Vec<(String, Option<String>)>,
    /// `steps.ID.outputs.NAME`.
    pub(crate) step_outputs: Vec<(String, String)>,
    /// Top-level names other than `env`, `vars`, `inputs`, `steps`.
    pub(crate) other: BTreeSet<String>,
    /// The template subscripts a root (`env[name]`) so not every name is known.
    pub dynamic: BTreeSet<String>,
}

impl Refs {
    pub(crate) fn uses_steps(&self) -> bool {
        !self.steps.is_empty() || self.dynamic.contains("steps")
    }

    /// Whether the template reads any of `names` at the top level.
    pub(crate) fn uses_any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.other.contains(*n))
    }

    pub(crate) fn merge(&mut self, other: &Refs) {
        self.env.extend(other.env.iter().cloned());
        self.vars.extend(other.vars.iter().cloned());
        self.inputs.extend(other.inputs.iter().cloned());
        self.steps.extend(other.steps.iter().cloned());
        self.step_outputs.extend(other.step_outputs.iter().cloned());
        self.other.extend(other.other.iter().cloned());
        self.dynamic.extend(other.dynamic.iter().cloned());
        self.steps.sort();
        self.steps.dedup();
    }
}

/// What is known of one template string: checked when the spec is, then
/// compiled when first rendered (see [`Loaded`]).
struct Compiled {
    /// Its name in the environment: `t<id>`.
    id: usize,
    /// The string is exactly one `{{ expression }}`: keep the value's type.
    whole: bool,
    /// It is exactly one `{{ path }}`: read without the engine.
    path: Option<path::Path>,
    refs: Refs,
    lexicon: Lexicon,
}

/// The environment and the templates compiled in it. A compiled template
/// costs kilobytes, and a workflow of 10,000 steps has 10,000 templates that
/// each render once, so only the most recently used stay compiled: a
/// loop's templates, rendered once per item, stay; a long chain's do not
/// pile up.
struct Loaded {
    env: Environment<'static>,
    /// Template id -> when it was last used.
    used: HashMap<usize, u64>,
    tick: u64,
}

/// How many templates stay compiled.
const LOADED: usize = 256;

impl Loaded {
    /// The template `id` of `source`, compiled now if it is not.
    fn get(&mut self, id: usize, source: &str, whole: bool) -> Result<String, TemplateError> {
        self.tick += 1;
        let name = format!("t{id}");
        if self.used.insert(id, self.tick).is_none() {
            if self.used.len() > LOADED
                && let Some((&oldest, _)) = self.used.iter().min_by_key(|(_, t)| **t)
            {
                self.used.remove(&oldest);
                self.env.remove_template(&format!("t{oldest}"));
            }
            let body = match whole_expression(source) {
                Some(expr) if whole => format!("{{% set {CAPTURE} = ({expr}) %}}"),
                _ => source.to_string(),
            };
            if let Err(e) = self.env.add_template_owned(name.clone(), body) {
                self.used.remove(&id);
                return Err(e.into());
            }
        }
        Ok(name)
    }
}

/// A template failed to compile or render; the caller adds the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub(crate) String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        let detail = e.detail().map(str::to_string);
        let message = match (e.kind(), detail) {
            (ErrorKind::OutOfFuel, _) => {
                "template did too much work (a runaway loop?) and was stopped".to_string()
            }
            (kind, Some(detail)) => format!("{kind}: {detail}"),
            (kind, None) => kind.to_string(),
        };
        TemplateError(message)
    }
}

/// `{{ (user ~ ":" ~ pass) | b64encode }}`, for `Basic` auth headers.
fn b64encode(value: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(value)
}

fn failed(state: &State) -> bool {
    state.lookup(FAILED).is_some_and(|v| v.is_true())
}

/// Common filters and tests, for suggestions only (minijinja cannot list
/// its own).
const KNOWN_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "b64encode",
    "batch",
    "bool",
    "capitalize",
    "count",
    "dateformat",
    "datetimeformat",
    "default",
    "dictsort",
    "escape",
    "first",
    "float",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "parse_time",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "select",
    "selectattr",
    "shift",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "timeformat",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "urlencode_component",
];
const KNOWN_TESTS: &[&str] = &[
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

pub struct Templates {
    loaded: OnceLock<Mutex<Loaded>>,
    /// By source. Boxed: a table has room for more entries than it holds,
    /// and each empty place would otherwise be as big as a `Compiled`.
    compiled: HashMap<String, Box<Compiled>>,
    /// Filter and test names already probed: whether each exists.
    probed: Mutex<HashMap<(bool, String), bool>>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Templates({} compiled)", self.compiled.len())
    }
}

/// Whether `s` contains template syntax at all; plain strings skip minijinja.
pub(crate) fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The expression of a string that is exactly one `{{ expression }}`.
pub(crate) fn whole_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        return None;
    }
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    Some(inner.trim())
}

impl Templates {
    pub fn new() -> Self {
        Templates {
            loaded: OnceLock::new(),
            compiled: HashMap::new(),
            probed: Mutex::default(),
        }
    }

    /// The environment, made when first needed: a spec whose templates are
    /// all paths and use no filter never needs one (`validate` of most).
    fn loaded(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded
            .get_or_init(|| {
                Mutex::new(Loaded {
                    env: environment(),
                    used: HashMap::new(),
                    tick: 0,
                })
            })
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Checks `source` (once, however often it occurs): its syntax, what it
    /// refers to (returned), its filters and tests (an unknown one is an
    /// error here). It is compiled when first rendered.
    pub fn add(&mut self, source: &str) -> Result<Refs, TemplateError> {
        if !is_template(source) {
            return Ok(Refs::default());
        }
        if let Some(c) = self.compiled.get(source) {
            return Ok(c.refs.clone());
        }
        let id = self.compiled.len();
        let whole = whole_expression(source).is_some();
        // Its syntax, and what it reads, from its syntax tree (see `names`
        // for why not minijinja's `undeclared_variables`). Compiling adds
        // no error parsing does not find.
        let tree = minijinja::machinery::parse(
            source,
            "template",
            minijinja::syntax::SyntaxConfig::default(),
        )?;
        let names = names::of(&tree);
        let path = path::Path::of(&tree);
        let refs = refs_of(&names.nested, &names.top);
        let lexicon = lexicon::scan(source);
        for filter in &lexicon.filters {
            if !self.exists(false, filter) {
                let help = crate::error::suggest(filter, KNOWN_FILTERS.iter().copied());
                return Err(TemplateError(format!("unknown filter `{filter}`{help}")));
            }
        }
        for by in &lexicon.shifts {
            if time::parse_shift(by).is_none() {
                return Err(TemplateError(format!(
                    "`shift('{by}')`: expected a duration like `-7d`, `+2h`, `30m` or `1h30m`"
                )));
            }
        }
        for test in &lexicon.tests {
            if !self.exists(true, test) {
                let help = crate::error::suggest(test, KNOWN_TESTS.iter().copied());
                return Err(TemplateError(format!("unknown test `{test}`{help}")));
            }
        }
        self.compiled.insert(
            source.to_string(),
            Box::new(Compiled {
                id,
                whole,
                path,
                refs: refs.clone(),
                lexicon,
            }),
        );
        Ok(refs)
    }

    /// Whether the environment has the filter (or, with `test`, the test)
    /// `name`: probed by rendering one use of it.
    fn exists(&self, test: bool, name: &str) -> bool {
        let key = (test, name.to_string());
        if let Some(known) = self
            .probed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return *known;
        }
        let valid_name = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let probe = if test {
            format!("{{{{ none is {name} }}}}")
        } else {
            format!("{{{{ none | {name} }}}}")
        };
        let unknown = if test {
            ErrorKind::UnknownTest
        } else {
            ErrorKind::UnknownFilter
        };
        let known = valid_name
            && match self.loaded().env.render_str(&probe, ()) {
                Ok(_) => true,
                Err(e) => e.kind() != unknown,
            };
        self.probed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, known);
        known
    }

    /// What `source` refers to; `None` for plain strings.
    pub(crate) fn refs(&self, source: &str) -> Option<&Refs> {
        self.compiled.get(source).map(|c| &c.refs)
    }

    /// Literal text of `source`: outside its tags and its string literals
    /// (all of it, for a plain string).
    pub(crate) fn literals(&self, source: &str) -> Vec<String> {
        match self.compiled.get(source) {
            Some(c) => c.lexicon.literals.clone(),
            None if is_template(source) => lexicon::scan(source).literals,
            None => vec![source.to_string()],
        }
    }

    /// Renders one string. Plain strings come back as they are; a whole
    /// expression keeps its type.
    pub fn render(&self, source: &str, scope: &Scope) -> Result<Value, TemplateError> {
        if let Some(path) = self.compiled.get(source).and_then(|c| c.path.as_ref()) {
            return match path.read(scope)? {
                Some(value) => to_json(&value),
                None => Err(TemplateError("undefined value".into())),
            };
        }
        self.render_with_engine(source, scope)
    }

    /// [`Templates::render`], through minijinja whatever the template.
    pub(crate) fn render_with_engine(
        &self,
        source: &str,
        scope: &Scope,
    ) -> Result<Value, TemplateError> {
        let Some(compiled) = self.compiled.get(source) else {
            return Ok(Value::String(source.to_string()));
        };
        // Compiling folds constants, which can be as slow as rendering.
        let _watched = watchdog::Rendering::start();
        let mut loaded = self.loaded();
        let name = loaded.get(compiled.id, source, compiled.whole)?;
        let template = loaded.env.get_template(&name)?;
        let ctx = scope.context();
        if compiled.whole {
            let captured = template.render_captured(ctx)?;
            let value = captured
                .state()
                .lookup(CAPTURE)
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| TemplateError("undefined value".to_string()))?;
            limits::check(&value)?;
            serde_json::to_value(&value)
                .map_err(|e| TemplateError(format!("value cannot be used as JSON: {e}")))
        } else {
            Ok(Value::String(template.render(ctx)?))
        }
    }

    /// Renders one string; `None` when it reads something that is not
    /// there (a missing field, a null): for a cursor, which ends pages.
    pub(crate) fn render_or_missing(
        &self,
        source: &str,
        scope: &Scope,
    ) -> Result<Option<Value>, TemplateError> {
        let Some(compiled) = self.compiled.get(source) else {
            return Ok(Some(Value::String(source.to_string())));
        };
        if let Some(path) = &compiled.path {
            return match path.read(scope) {
                Ok(Some(value)) if !value.is_none() => to_json(&value).map(Some),
                Ok(_) => Ok(None),
                Err(e) if e.0.starts_with("undefined value") => Ok(None),
                Err(e) => Err(e),
            };
        }
        let _watched = watchdog::Rendering::start();
        let mut loaded = self.loaded();
        let name = loaded.get(compiled.id, source, compiled.whole)?;
        let template = loaded.env.get_template(&name)?;
        let undefined = |e: &minijinja::Error| e.kind() == ErrorKind::UndefinedError;
        if compiled.whole {
            let captured = match template.render_captured(scope.context()) {
                Ok(c) => c,
                Err(e) if undefined(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let Some(value) = captured
                .state()
                .lookup(CAPTURE)
                .filter(|v| !v.is_undefined() && !v.is_none())
            else {
                return Ok(None);
            };
            limits::check(&value)?;
            Ok(Some(serde_json::to_value(&value).map_err(|e| {
                TemplateError(format!("value cannot be used as JSON: {e}"))
            })?))
        } else {
            match template.render(scope.context()) {
                Ok(s) => Ok(Some(Value::String(s))),
                Err(e) if undefined(&e) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }
    }

    /// `source`, a template that waits for the run (plan), with each of
    /// its `{{ expression }}`s whose reads `waits` says are known before
    /// the run replaced by its value; the others, and a template with
    /// anything but text and expressions at its top (`{% if %}`), kept
    /// as written. An expression that fails to render is kept too.
    pub(crate) fn partial(
        &self,
        source: &str,
        scope: &Scope,
        waits: &dyn Fn(&Refs) -> bool,
    ) -> String {
        // One expression that waits: nothing to fill in (the most common
        // case, `{{ steps.issue.response.number }}`).
        if self.compiled.get(source).is_some_and(|c| c.whole) {
            return source.to_string();
        }
        let syntax = minijinja::syntax::SyntaxConfig::default();
        let Ok(tree) = minijinja::machinery::parse(source, "template", syntax.clone()) else {
            return source.to_string();
        };
        let Stmt::Template(t) = &tree else {
            return source.to_string();
        };
        let mut out = String::new();
        for child in &t.children {
            match child {
                Stmt::EmitRaw(raw) => out.push_str(raw.raw),
                Stmt::EmitExpr(emit) => {
                    let span = emit.span();
                    let Some(expr) =
                        source.get(span.start_offset as usize..span.end_offset as usize)
                    else {
                        return source.to_string();
                    };
                    let written = format!("{{{{ {expr} }}}}");
                    out.push_str(&self.known(&written, scope, waits).unwrap_or(written));
                }
                _ => return source.to_string(),
            }
        }
        out
    }

    /// `{{ expression }}` rendered, when what it reads is known.
    fn known(&self, written: &str, scope: &Scope, waits: &dyn Fn(&Refs) -> bool) -> Option<String> {
        let syntax = minijinja::syntax::SyntaxConfig::default();
        let tree = minijinja::machinery::parse(written, "template", syntax).ok()?;
        let names = names::of(&tree);
        if waits(&refs_of(&names.nested, &names.top)) {
            return None;
        }
        let _watched = watchdog::Rendering::start();
        self.loaded().env.render_str(written, scope.context()).ok()
    }

    /// Renders every string inside `value`.
    pub fn render_value(&self, value: &Value, scope: &Scope) -> Result<Value, TemplateError> {
        Ok(match value {
            Value::String(s) => self.render(s, scope)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.render_value(v, scope))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_value(v, scope)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// The refs of every template inside `value`, merged.
    pub fn refs_in(&self, value: &Value) -> Refs {
        let mut refs = Refs::default();
        visit_strings(value, &mut |s| {
            if let Some(r) = self.refs(s) {
                refs.merge(r);
            }
        });
        refs
    }
}

pub(crate) fn visit_strings(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| visit_strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

fn refs_of(
    nested: &std::collections::HashSet<String>,
    top: &std::collections::HashSet<String>,
) -> Refs {
    let mut refs = Refs::default();
    for name in top {
        if !matches!(name.as_str(), "env" | "vars" | "steps" | "inputs") {
            refs.other.insert(name.clone());
        }
    }
    for path in nested {
        let mut parts = path.split('.');
        let root = parts.next().unwrap_or_default();
        let first = parts.next();
        let second = parts.next();
        let third = parts.next();
        if let (("steps", Some(id)), Some("outputs"), Some(name)) = ((root, first), second, third) {
            refs.step_outputs.push((id.to_string(), name.to_string()));
        }
        match (root, first) {
            ("env", Some(name)) => {
                refs.env.insert(name.to_string());
            }
            ("vars", Some(name)) => {
                refs.vars.insert(name.to_string());
            }
            ("inputs", Some(name)) => {
                refs.inputs.insert(name.to_string());
            }
            ("steps", Some(id)) => refs
                .steps
                .push((id.to_string(), second.map(str::to_string))),
            ("env" | "vars" | "steps" | "inputs", None) => {
                refs.dynamic.insert(root.to_string());
            }
            _ => {}
        }
    }
    refs.steps.sort();
    refs.steps.dedup();
    refs.step_outputs.sort();
    refs.step_outputs.dedup();
    refs
}

/// A template's value as JSON, within the bounds on values.
fn to_json(value: &JValue) -> Result<Value, TemplateError> {
    limits::check(value)?;
    serde_json::to_value(value)
        .map_err(|e| TemplateError(format!("value cannot be used as JSON: {e}")))
}

/// A JSON value as templates see it.
pub fn to_value(value: &Value) -> JValue {
    JValue::from(minijinja::value::Serde(value))
}

/// The environment every template renders in: strict, metered, with
/// runner's filters and functions.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(100);
    // `debug()` would dump the whole context.
    env.remove_global("debug");
    env.add_filter("b64encode", b64encode);
    env.add_filter(
        "tojson",
        |value: &JValue, indent: Option<JValue>, kwargs: minijinja::value::Kwargs| {
            limits::check(value)?;
            minijinja::filters::tojson(value, indent, kwargs)
        },
    );
    env.set_formatter(|out, state, value| {
        limits::check(value)?;
        minijinja::escape_formatter(out, state, value)
    });
    env.add_filter("urlencode_component", |s: &str| {
        crate::http::encode::encode_component(s)
    });
    env.add_function("success", |state: &State| !failed(state));
    env.add_function("failure", |state: &State| failed(state));
    env.add_function("always", |_: &State| true);
    env.add_function("now", time::now);
    env.add_filter("shift", time::shift);
    env.add_filter("parse_time", time::parse_time);
    env.add_filter("datetimeformat", minijinja_contrib::filters::datetimeformat);
    env.add_filter("dateformat", minijinja_contrib::filters::dateformat);
    env.add_filter("timeformat", minijinja_contrib::filters::timeformat);
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn scope() -> Scope {
        let env = Arc::new(BTreeMap::from([("TOKEN".to_string(), "abc".to_string())]));
        Scope::new(env)
            .with(
                "vars",
                to_value(&json!({"labels": ["a", "b"], "owner": "me"})),
            )
            .with(
                "steps",
                to_value(&json!({"issue": {"status": 201, "response": {"number": 42}}})),
            )
    }

    #[test]
    fn whole_expressions_keep_their_type() {
        let mut t = Templates::new();
        for s in [
            "{{ steps.issue.response.number }}",
            "{{ vars.labels }}",
            "n{{ steps.issue.response.number }}",
        ] {
            t.add(s).unwrap();
        }
        let sc = scope();
        assert_eq!(
            t.render("{{ steps.issue.response.number }}", &sc).unwrap(),
            json!(42)
        );
        assert_eq!(
            t.render("{{ vars.labels }}", &sc).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            t.render("n{{ steps.issue.response.number }}", &sc).unwrap(),
            json!("n42")
        );
        assert_eq!(t.render("plain", &sc).unwrap(), json!("plain"));
    }

    #[test]
    fn strict_undefined_and_refs() {
        let mut t = Templates::new();
        let src = "{{ env.TOKEN }}-{{ vars.nope }}-{{ steps.a.response.id }}-{{ inputs.x }}";
        let refs = t.add(src).unwrap();
        assert_eq!(refs.env, BTreeSet::from(["TOKEN".to_string()]));
        assert_eq!(refs.vars, BTreeSet::from(["nope".to_string()]));
        assert_eq!(refs.inputs, BTreeSet::from(["x".to_string()]));
        assert_eq!(
            refs.steps,
            vec![("a".to_string(), Some("response".to_string()))]
        );
        let err = t.render(src, &scope());
        assert!(err.unwrap_err().0.contains("undefined"));
    }

    #[test]
    fn unknown_filters_and_tests_fail_to_compile() {
        let mut t = Templates::new();
        let e = t.add("{{ x | shout }}").unwrap_err();
        assert!(e.0.starts_with("unknown filter `shout`"), "{e}");
        let e = t.add("{{ x | frobnicate }}").unwrap_err();
        assert_eq!(e.0, "unknown filter `frobnicate`");
        let e = t.add("{{ now() | shift('1 week') }}").unwrap_err();
        assert!(
            e.0.starts_with("`shift('1 week')`: expected a duration"),
            "{e}"
        );
        assert!(
            t.add("{{ now() | shift('-1d12h') | datetimeformat }}")
                .is_ok()
        );
        let e = t.add("{{ x | uper }}").unwrap_err();
        assert_eq!(e.0, "unknown filter `uper` (did you mean `upper`?)");
        let e = t.add("{% if x is oddd %}{% endif %}").unwrap_err();
        assert!(e.0.starts_with("unknown test `oddd`"), "{e}");
        let e = t.add("{{ xs | select('loud') | list }}").unwrap_err();
        assert!(e.0.starts_with("unknown test `loud`"), "{e}");
        assert!(t.add("{{ x | upper | b64encode | default('a') }}").is_ok());
        assert!(
            t.add("{{ xs | select('odd') | map('upper') | list }}")
                .is_ok()
        );
    }

    #[test]
    fn env_reads_are_tracked_and_env_cannot_be_dumped() {
        let mut t = Templates::new();
        t.add("{{ env.TOKEN }}").unwrap();
        t.add("{{ env }}").unwrap();
        let sc = scope().fresh_env(None);
        assert_eq!(t.render("{{ env.TOKEN }}", &sc).unwrap(), json!("abc"));
        assert_eq!(
            sc.env_used(),
            vec![("TOKEN".to_string(), "abc".to_string())]
        );
        assert!(
            !t.render("{{ env }}", &sc)
                .unwrap()
                .to_string()
                .contains("abc")
        );
    }

    #[test]
    fn tracking_records_the_leaves_read() {
        let mut t = Templates::new();
        let src = "{{ steps.issue.response.number }}-{% for l in vars.labels %}{{ l }}{% endfor %}";
        t.add(src).unwrap();
        let (sc, leaves) = scope().tracking(&["steps", "vars"], None);
        assert_eq!(t.render(src, &sc).unwrap(), json!("42-ab"));
        let vars = leaves["vars"].lock().unwrap().clone();
        assert_eq!(
            vars,
            vec![
                ("labels".to_string(), "a".to_string()),
                ("labels".to_string(), "b".to_string())
            ]
        );
    }

    #[test]
    fn status_functions() {
        let mut t = Templates::new();
        t.add("{{ failure() }}").unwrap();
        let refs = t.add("{{ always() or success() }}").unwrap();
        assert!(refs.uses_any(&["always"]));
        let sc = scope().with(FAILED, JValue::from(true));
        assert_eq!(t.render("{{ failure() }}", &sc).unwrap(), json!(true));
        assert_eq!(t.render("{{ failure() }}", &scope()).unwrap(), json!(false));
    }

    #[test]
    fn deeply_nested_values_are_refused() {
        let mut t = Templates::new();
        let build = "{% set ns = namespace(x=1) %}{% for i in range(300) %}{% set ns.x = [ns.x] %}{% endfor %}";
        for src in [
            format!("{build}{{{{ ns.x }}}}"),
            format!("{build}{{{{ ns.x | length }}}}"),
        ] {
            t.add(&src).unwrap();
        }
        let err = t
            .render(&format!("{build}{{{{ ns.x }}}}"), &scope())
            .unwrap_err();
        assert!(err.0.contains("nested more than 128 levels"), "{err}");
        assert_eq!(
            t.render(&format!("{build}{{{{ ns.x | length }}}}"), &scope())
                .unwrap(),
            json!("1")
        );
    }

    #[test]
    fn partial_renders_what_is_known_and_keeps_the_rest() {
        let t = Templates::new();
        let waits = |r: &Refs| !r.steps.is_empty();
        let sc = scope();
        assert_eq!(
            t.partial(
                "{{vars.owner}}/{{ steps.x.response.id }}/{{- vars.labels | join(',') -}} .",
                &sc,
                &waits
            ),
            "me/{{ steps.x.response.id }}/a,b."
        );
        // An expression that fails is kept; so is a template with a block.
        assert_eq!(
            t.partial("{{ vars.nope }}-{{ steps.x }}", &sc, &waits),
            "{{ vars.nope }}-{{ steps.x }}"
        );
        let block = "{% if vars.owner %}{{ steps.x }}{% endif %}";
        assert_eq!(t.partial(block, &sc, &waits), block);
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let mut t = Templates::new();
        let src =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        t.add(src).unwrap();
        assert!(
            t.render(src, &scope())
                .unwrap_err()
                .0
                .contains("too much work")
        );
    }
}
