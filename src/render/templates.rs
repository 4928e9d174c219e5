//! Every template string of a spec, compiled once into one minijinja
//! environment, and rendered against a [`Scope`].
//!
//! The environment is locked down: strict undefined, no loader (so no file
//! can be read), no `debug`, and a fuel budget against runaway loops.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, Value as JValue};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

/// The fuel one render may burn: plenty for real templates, a stop for `range(10**9)`.
const FUEL: u64 = 50_000;
/// How deeply a template's value may nest before printing or converting it,
/// which recurse, could exhaust the stack.
const MAX_DEPTH: usize = 128;
/// How many items and string bytes a template's value may hold when it is
/// printed or converted: `[0] * 100000000` is cheap to make, not to print.
const MAX_ITEMS: usize = 1_000_000;
const MAX_BYTES: usize = 16 << 20;
const CAPTURE: &str = "__runner_value";

/// What a template refers to, found statically.
#[derive(Debug, Default, Clone)]
pub struct Refs {
    /// `env.NAME` lookups.
    pub env: BTreeSet<String>,
    /// `vars.NAME` lookups.
    pub vars: BTreeSet<String>,
    /// `steps.ID` (with the attribute after it, when there is one).
    pub steps: Vec<(String, Option<String>)>,
    /// Top-level names other than `env`, `vars`, `steps`.
    pub other: BTreeSet<String>,
    /// The template subscripts a root (`env[name]`) so not every name is known.
    pub dynamic: BTreeSet<String>,
}

impl Refs {
    pub fn uses_steps(&self) -> bool {
        !self.steps.is_empty() || self.dynamic.contains("steps")
    }
}

struct Compiled {
    name: String,
    /// The string is exactly one `{{ expression }}`: keep the value's type.
    whole: bool,
    refs: Refs,
}

/// A template failed to compile or render; the caller adds the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

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

/// Fails for values nested more than [`MAX_DEPTH`] deep or larger than
/// [`MAX_ITEMS`] / [`MAX_BYTES`], without recursing and without walking
/// more than the budget.
fn check_depth(value: &JValue) -> Result<(), minijinja::Error> {
    use minijinja::value::ValueKind;
    let too_big = || {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "value too large (more than {MAX_ITEMS} items or {} MiB)",
                MAX_BYTES >> 20
            ),
        )
    };
    let mut items = 0usize;
    let mut bytes = 0usize;
    let mut stack = vec![(value.clone(), 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("value nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        items += 1;
        if let Some(s) = v.as_str() {
            bytes += s.len();
        }
        if items > MAX_ITEMS || bytes > MAX_BYTES {
            return Err(too_big());
        }
        let kind = v.kind();
        if matches!(kind, ValueKind::Seq | ValueKind::Iterable | ValueKind::Map) {
            if v.len().is_some_and(|n| n > MAX_ITEMS - items) {
                return Err(too_big());
            }
            // Objects that cannot be listed (`env`) are leaves.
            for item in v.try_iter().into_iter().flatten() {
                let child = if kind == ValueKind::Map {
                    v.get_item(&item)?
                } else {
                    item
                };
                stack.push((child, depth + 1));
                if stack.len() > MAX_ITEMS {
                    return Err(too_big());
                }
            }
        }
    }
    Ok(())
}

/// `{{ (user ~ ":" ~ pass) | b64encode }}`, for `Basic` auth headers.
fn b64encode(value: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(value)
}

pub struct Templates {
    env: Environment<'static>,
    compiled: HashMap<String, Compiled>,
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
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The expression of a string that is exactly one `{{ expression }}`.
fn whole_expression(s: &str) -> Option<&str> {
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
                check_depth(value)?;
                minijinja::filters::tojson(value, indent, kwargs)
            },
        );
        env.set_formatter(|out, state, value| {
            check_depth(value)?;
            minijinja::escape_formatter(out, state, value)
        });
        env.add_filter("urlencode_component", |s: &str| {
            crate::url::encode_component(s)
        });
        Templates {
            env,
            compiled: HashMap::new(),
        }
    }

    /// Compiles `source` (once, however often it occurs) and returns what it refers to.
    pub fn add(&mut self, source: &str) -> Result<Refs, TemplateError> {
        if !is_template(source) {
            return Ok(Refs::default());
        }
        if let Some(c) = self.compiled.get(source) {
            return Ok(c.refs.clone());
        }
        // Compiling folds constants, which can be as slow as rendering.
        let _watched = super::watchdog::Rendering::start();
        let name = format!("t{}", self.compiled.len());
        let (whole, body) = match whole_expression(source) {
            Some(expr) => (true, format!("{{% set {CAPTURE} = ({expr}) %}}")),
            None => (false, source.to_string()),
        };
        self.env.add_template_owned(name.clone(), body)?;
        let template = self.env.get_template(&name)?;
        let refs = refs_of(
            &template.undeclared_variables(true),
            &template.undeclared_variables(false),
            source,
        );
        self.compiled.insert(
            source.to_string(),
            Compiled {
                name,
                whole,
                refs: refs.clone(),
            },
        );
        Ok(refs)
    }

    /// What `source` refers to; `None` for plain strings.
    pub fn refs(&self, source: &str) -> Option<&Refs> {
        self.compiled.get(source).map(|c| &c.refs)
    }

    /// Renders one string. Plain strings come back as they are; a whole
    /// expression keeps its type.
    pub fn render(&self, source: &str, scope: &Scope) -> Result<Value, TemplateError> {
        let Some(compiled) = self.compiled.get(source) else {
            return Ok(Value::String(source.to_string()));
        };
        let _watched = super::watchdog::Rendering::start();
        let template = self.env.get_template(&compiled.name)?;
        let ctx = scope.context();
        if compiled.whole {
            let captured = template.render_captured(ctx)?;
            let value = captured
                .state()
                .lookup(CAPTURE)
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| TemplateError("undefined value".to_string()))?;
            check_depth(&value)?;
            serde_json::to_value(&value)
                .map_err(|e| TemplateError(format!("value cannot be used as JSON: {e}")))
        } else {
            Ok(Value::String(template.render(ctx)?))
        }
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
                refs.env.extend(r.env.iter().cloned());
                refs.vars.extend(r.vars.iter().cloned());
                refs.steps.extend(r.steps.iter().cloned());
                refs.other.extend(r.other.iter().cloned());
                refs.dynamic.extend(r.dynamic.iter().cloned());
            }
        });
        refs
    }
}

pub fn visit_strings(value: &Value, f: &mut impl FnMut(&str)) {
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
    _source: &str,
) -> Refs {
    let mut refs = Refs::default();
    for name in top {
        if !matches!(name.as_str(), "env" | "vars" | "steps") {
            refs.other.insert(name.clone());
        }
    }
    for path in nested {
        let mut parts = path.split('.');
        let root = parts.next().unwrap_or_default();
        let first = parts.next();
        let second = parts.next();
        match (root, first) {
            ("env", Some(name)) => {
                refs.env.insert(name.to_string());
            }
            ("vars", Some(name)) => {
                refs.vars.insert(name.to_string());
            }
            ("steps", Some(id)) => refs
                .steps
                .push((id.to_string(), second.map(str::to_string))),
            ("env" | "vars" | "steps", None) => {
                refs.dynamic.insert(root.to_string());
            }
            _ => {}
        }
    }
    refs.steps.sort();
    refs.steps.dedup();
    refs
}

/// The process environment as templates see it: looked up by name only
/// (never listed, so `{{ env }}` cannot dump it), recording what was read so
/// the values used in auth can be registered as secrets.
pub struct EnvObject {
    vars: Arc<BTreeMap<String, String>>,
    used: Mutex<BTreeSet<String>>,
    /// What an unset variable reads as (plan's secret placeholder), if anything.
    fallback: Option<&'static str>,
}

impl fmt::Debug for EnvObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<environment>")
    }
}

impl Object for EnvObject {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        let Some(value) = self.vars.get(name) else {
            return self.fallback.map(JValue::from);
        };
        self.used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string());
        Some(JValue::from(value.as_str()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::NonEnumerable
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result
    where
        Self: Sized + 'static,
    {
        f.write_str("<environment>")
    }
}

/// A JSON value as templates see it.
pub fn to_template_value(value: &Value) -> JValue {
    JValue::from(minijinja::value::Serde(value))
}

/// What templates can see: `env`, `vars`, `steps` and, inside auth that
/// fetches from Descope, `descope`.
pub struct Scope {
    env: Arc<EnvObject>,
    vars: JValue,
    steps: JValue,
    descope: Option<JValue>,
}

impl Scope {
    pub fn new(env: Arc<BTreeMap<String, String>>, vars: &Value, steps: &Value) -> Self {
        Scope::from_values(env, to_template_value(vars), to_template_value(steps))
    }

    /// A scope from values already converted (see [`to_template_value`]),
    /// so a run converts each response once, not once per later step.
    pub fn from_values(env: Arc<BTreeMap<String, String>>, vars: JValue, steps: JValue) -> Self {
        Scope {
            env: Arc::new(EnvObject {
                vars: env,
                used: Mutex::default(),
                fallback: None,
            }),
            vars,
            steps,
            descope: None,
        }
    }

    /// The same scope with fresh env tracking and a `descope` value; with a
    /// `fallback`, unset env variables read as it (plan's secret placeholder).
    pub fn for_auth(&self, descope: Option<&Value>, fallback: Option<&'static str>) -> Scope {
        Scope {
            env: Arc::new(EnvObject {
                vars: self.env.vars.clone(),
                used: Mutex::default(),
                fallback,
            }),
            vars: self.vars.clone(),
            steps: self.steps.clone(),
            descope: descope.map(|d| JValue::from(minijinja::value::Serde(d))),
        }
    }

    pub fn has_env(&self, name: &str) -> bool {
        self.env.fallback.is_some() || self.env.vars.contains_key(name)
    }

    /// The env variables read through this scope so far.
    pub fn env_used(&self) -> Vec<(String, String)> {
        let used = self.env.used.lock().unwrap_or_else(|e| e.into_inner());
        used.iter()
            .filter_map(|k| Some((k.clone(), self.env.vars.get(k)?.clone())))
            .collect()
    }

    fn context(&self) -> JValue {
        let mut ctx = BTreeMap::new();
        ctx.insert("env", JValue::from_dyn_object(self.env.clone()));
        ctx.insert("vars", self.vars.clone());
        ctx.insert("steps", self.steps.clone());
        if let Some(d) = &self.descope {
            ctx.insert("descope", d.clone());
        }
        JValue::from(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let env = Arc::new(BTreeMap::from([("TOKEN".to_string(), "abc".to_string())]));
        Scope::new(
            env,
            &json!({"labels": ["a", "b"], "owner": "me"}),
            &json!({"issue": {"status": 201, "response": {"number": 42}}}),
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
        let refs = t
            .add("{{ env.TOKEN }}-{{ vars.nope }}-{{ steps.a.response.id }}")
            .unwrap();
        assert_eq!(refs.env, BTreeSet::from(["TOKEN".to_string()]));
        assert_eq!(refs.vars, BTreeSet::from(["nope".to_string()]));
        assert_eq!(
            refs.steps,
            vec![("a".to_string(), Some("response".to_string()))]
        );
        let err = t.render(
            "{{ env.TOKEN }}-{{ vars.nope }}-{{ steps.a.response.id }}",
            &scope(),
        );
        assert!(err.unwrap_err().0.contains("undefined"));
    }

    #[test]
    fn env_reads_are_tracked_and_env_cannot_be_dumped() {
        let mut t = Templates::new();
        t.add("{{ env.TOKEN }}").unwrap();
        t.add("{{ env }}").unwrap();
        let sc = scope().for_auth(None, None);
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
