//! What templates see, and what they read.
//!
//! `env` is looked up by name only (never listed, so `{{ env }}` cannot dump
//! it) and records the names read, so the values used in auth become
//! secrets. Results of earlier steps live in a [`Live`] map that grows as
//! the run goes, shared by later scopes without copying. Auth is rendered
//! through [`Scope::tracking`], which records every string a template reads
//! from the values it names (responses, inputs, vars), so each piece that
//! reaches a credential can be masked, whatever route it took.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as JValue, ValueKind};

/// The process environment as templates see it.
pub(crate) struct EnvObject {
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

/// A map that grows during a run: each step's result is added when the
/// step ends. Templates only ever read names added before them.
#[derive(Debug, Default)]
pub(crate) struct Live {
    map: RwLock<BTreeMap<String, JValue>>,
}

impl Live {
    pub(crate) fn new() -> Arc<Live> {
        Arc::default()
    }

    pub(crate) fn insert(&self, key: impl Into<String>, value: JValue) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.into(), value);
    }

    pub(crate) fn remove(&self, key: &str) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub(crate) fn get(&self, key: &str) -> Option<JValue> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    pub(crate) fn value(self: &Arc<Self>) -> JValue {
        JValue::from_dyn_object(self.clone())
    }
}

impl Object for Live {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        self.get(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<JValue> = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .map(|k| JValue::from(k.as_str()))
            .collect();
        Enumerator::Values(keys)
    }
}

/// Strings a template read, each with the name under the root it came
/// from (`steps.issue...` → `issue`).
pub(crate) type Leaves = Arc<Mutex<Vec<(String, String)>>>;

/// A value whose string leaves are recorded as they are read.
#[derive(Debug)]
struct Tracked {
    value: JValue,
    /// The name directly under the scope's root (a step id, a var name).
    root: Option<String>,
    seen: Leaves,
}

impl Tracked {
    fn wrap(&self, child: JValue, key: &JValue) -> JValue {
        let root = self
            .root
            .clone()
            .or_else(|| key.as_str().map(str::to_string))
            .unwrap_or_default();
        match child.kind() {
            ValueKind::String => {
                if let Some(s) = child.as_str() {
                    self.seen
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((root, s.to_string()));
                }
                child
            }
            ValueKind::Seq | ValueKind::Map => JValue::from_object(Tracked {
                value: child,
                root: Some(root),
                seen: self.seen.clone(),
            }),
            _ => child,
        }
    }
}

impl Object for Tracked {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.value.kind() {
            ValueKind::Seq => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let child = self
            .value
            .get_item(key)
            .ok()
            .filter(|v| !v.is_undefined())?;
        Some(self.wrap(child, key))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.value.kind() {
            ValueKind::Seq => Enumerator::Seq(self.value.len().unwrap_or(0)),
            _ => Enumerator::Values(self.value.try_iter().into_iter().flatten().collect()),
        }
    }
}

/// What templates can see: `env` and named values (`vars`, `inputs`,
/// `steps`, `item`, `response`, ...).
#[derive(Clone)]
pub struct Scope {
    env: Arc<EnvObject>,
    names: BTreeMap<String, JValue>,
}

impl Scope {
    pub fn new(env: Arc<BTreeMap<String, String>>) -> Scope {
        Scope {
            env: Arc::new(EnvObject {
                vars: env,
                used: Mutex::default(),
                fallback: None,
            }),
            names: BTreeMap::new(),
        }
    }

    /// The scope with `name` bound to `value`.
    pub fn with(mut self, name: &str, value: JValue) -> Scope {
        self.set(name, value);
        self
    }

    pub(crate) fn set(&mut self, name: &str, value: JValue) {
        self.names.insert(name.to_string(), value);
    }

    pub(crate) fn get(&self, name: &str) -> Option<&JValue> {
        self.names.get(name)
    }

    /// The same scope with fresh env tracking; with a `fallback`, unset env
    /// variables read as it (plan's secret placeholder).
    pub(crate) fn fresh_env(&self, fallback: Option<&'static str>) -> Scope {
        Scope {
            env: Arc::new(EnvObject {
                vars: self.env.vars.clone(),
                used: Mutex::default(),
                fallback,
            }),
            names: self.names.clone(),
        }
    }

    /// The same scope (with fresh env tracking), where the string leaves
    /// read from each of `roots` are recorded as `(root, name below it, leaf)`.
    pub(crate) fn tracking(
        &self,
        roots: &[&str],
        fallback: Option<&'static str>,
    ) -> (Scope, BTreeMap<String, Leaves>) {
        let mut scope = self.fresh_env(fallback);
        let mut all = BTreeMap::new();
        for root in roots {
            if let Some(value) = self.names.get(*root) {
                let seen: Leaves = Arc::default();
                scope.names.insert(
                    root.to_string(),
                    JValue::from_object(Tracked {
                        value: value.clone(),
                        root: None,
                        seen: seen.clone(),
                    }),
                );
                all.insert(root.to_string(), seen);
            }
        }
        (scope, all)
    }

    pub(crate) fn has_env(&self, name: &str) -> bool {
        self.env.fallback.is_some() || self.env.vars.contains_key(name)
    }

    /// The env variables read through this scope so far.
    pub fn env_used(&self) -> Vec<(String, String)> {
        let used = self.env.used.lock().unwrap_or_else(|e| e.into_inner());
        used.iter()
            .filter_map(|k| Some((k.clone(), self.env.vars.get(k)?.clone())))
            .collect()
    }

    /// The value a template sees under `name`, if any.
    pub(super) fn root(&self, name: &str) -> Option<JValue> {
        if name == "env" {
            return Some(JValue::from_dyn_object(self.env.clone()));
        }
        self.names.get(name).cloned()
    }

    pub(super) fn context(&self) -> JValue {
        let mut ctx: BTreeMap<&str, JValue> = self
            .names
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        ctx.insert("env", JValue::from_dyn_object(self.env.clone()));
        JValue::from(ctx)
    }
}
