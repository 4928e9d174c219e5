//! Secrets through templates: which values of a workflow derive from a
//! secret — env values, credentials, vars and outputs built from them,
//! inputs a caller gives one, response fields a step's auth reads — and
//! the templates that would launder one (see [`crate::template::taint`]
//! for what may be done to a secret). A condition, a loop list or an
//! assertion that rests on a secret is refused too: the run would decide on
//! a value it must never disclose, and its outcome would.
//!
//! Taint crosses workflows: an input of a sub-workflow is a secret when a
//! caller's `with:` gives it one, and a `uses` step's output when the
//! sub-workflow's output is built from one. Both only grow, so the pass
//! runs until neither changes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Diagnostic, Loc};
use crate::spec::{Auth, ParamType};
use crate::template::taint::{self, Origin, Secrets, Seg};
use crate::template::{Refs, is_template, whole_expression};

use super::{Run, Workflow};

/// Names that hint at a secret: an env variable holding one of them is
/// never taken for configuration.
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "KEY",
    "APIKEY",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PWD",
    "AUTH",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "PRIVATE",
    "SESSION",
    "COOKIE",
    "CERT",
    "PAT",
    "JWT",
    "SIGNATURE",
    "SALT",
    "BEARER",
    "OTP",
];

/// Names that hint at configuration.
const CONFIGURATION_WORDS: &[&str] = &[
    "REPOSITORY",
    "REPO",
    "OWNER",
    "ORG",
    "ORGANIZATION",
    "URL",
    "HOST",
    "HOSTNAME",
    "PORT",
    "REGION",
    "ZONE",
    "BRANCH",
    "REF",
    "SHA",
    "ENV",
    "ENVIRONMENT",
    "DEBUG",
    "VERBOSE",
    "DRY",
    "MODE",
    "LEVEL",
    "NAME",
    "PATH",
    "DIR",
    "WORKSPACE",
    "PROJECT",
    "CHANNEL",
    "TEAM",
    "LABEL",
    "LABELS",
    "VERSION",
    "ID",
    "EVENT",
    "ACTOR",
];

/// Whether an env variable's name reads like configuration rather than a
/// credential (`GITHUB_REPOSITORY`, `DRY_RUN`).
pub(super) fn looks_like_configuration(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    !words.iter().any(|w| SECRET_WORDS.contains(w))
        && words.iter().any(|w| CONFIGURATION_WORDS.contains(w))
}

/// How a template's value is used.
#[derive(Clone, Copy)]
enum Use {
    /// Sent, bound or shown: a secret may pass.
    Value,
    /// The run decides on it (a condition, a loop's list, an assertion):
    /// it must not derive from a secret. Says what decides.
    Decides(&'static str),
}

/// The errors for templates that launder a secret, and the warnings for env
/// variables that read like configuration.
pub(super) fn check(wf: &Workflow) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let mut pass = Pass {
        wf,
        diagnostics: Vec::new(),
        inputs: vec![BTreeMap::new(); wf.flows.len()],
        outputs: vec![BTreeMap::new(); wf.flows.len()],
        env_outside_auth: BTreeMap::new(),
    };
    let mut base = Secrets::with_env();
    for (name, var) in &wf.spec.vars {
        let mut leaves = Vec::new();
        strings(&var.value, &mut Vec::new(), &mut leaves);
        for (keys, source) in leaves {
            if let Some(origin) = pass.template(source, &var.loc, &base, Use::Value, false) {
                let mut segs = vec![Seg::Key(name.clone())];
                segs.extend(keys.into_iter().map(Seg::Key));
                let leaf = whole_expression(source).is_none();
                base.add(
                    "vars",
                    segs,
                    leaf,
                    Origin::derived(format!("var `{name}`"), &origin),
                );
            }
        }
    }
    for auth in wf.spec.auth.values() {
        pass.auth(auth, &mut base);
    }
    // Inputs given secrets and outputs built from them only grow, at most
    // once per input and output: the loop ends. Each pass over the flows
    // says again what the last one said, so only the last one's stay.
    let fixed = pass.diagnostics.len();
    loop {
        let before = (pass.inputs.clone(), pass.outputs.clone());
        pass.diagnostics.truncate(fixed);
        for f in 0..wf.flows.len() {
            pass.flow(f, &base);
        }
        if (&pass.inputs, &pass.outputs) == (&before.0, &before.1) {
            break;
        }
    }
    let hints = pass
        .env_outside_auth
        .iter()
        .filter(|(name, _)| looks_like_configuration(name))
        .map(|(name, loc)| {
            Diagnostic::warning(
                format!(
                    "env `{name}` looks like configuration, but every env value a template reads is a secret: it prints as `***`"
                ),
                Some(loc.clone()),
            )
            .with_help(Some(format!("pass it as an input: {}", input_help(name))))
        })
        .collect();
    (pass.diagnostics, hints)
}

/// How to pass configuration that is not a secret.
fn input_help(env: &str) -> String {
    let lower = env.to_ascii_lowercase();
    format!(
        "declare an input (`inputs: {{{lower}: {{type: string}}}}`), read `inputs.{lower}` and set `RUNNER_INPUT_{}` (or `--input {lower}=...`); vars and app-level auth take a `--var` instead",
        env.to_ascii_uppercase()
    )
}

fn help(origin: &Origin) -> String {
    let rule = "a secret may only be interpolated, joined with `~`, or passed through `b64encode`, `urlencode`, `urlencode_component`, `tojson`, `trim` or `default(<literal>)`, and tested with `is defined`; anything else prints it in forms the redactor cannot mask";
    match &origin.env {
        Some(name) if looks_like_configuration(name) => {
            format!(
                "{rule}. `{name}` looks like configuration: {}",
                input_help(name)
            )
        }
        _ => rule.to_string(),
    }
}

/// Every string of `value` with the keys that lead to it.
fn strings<'v>(value: &'v Value, keys: &mut Vec<String>, out: &mut Vec<(Vec<String>, &'v str)>) {
    match value {
        Value::String(s) => out.push((keys.clone(), s)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                keys.push(i.to_string());
                strings(v, keys, out);
                keys.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                keys.push(k.clone());
                strings(v, keys, out);
                keys.pop();
            }
        }
        _ => {}
    }
}

struct Pass<'a> {
    wf: &'a Workflow,
    diagnostics: Vec<Diagnostic>,
    /// Per workflow: its inputs a caller gives a secret.
    inputs: Vec<BTreeMap<String, Origin>>,
    /// Per workflow: its outputs built from a secret.
    outputs: Vec<BTreeMap<String, Origin>>,
    /// Env variables read outside auth, with the first place.
    env_outside_auth: BTreeMap<String, Loc>,
}

/// What a step's auth reads of an earlier step: `steps.<id>.<rest>`.
struct AuthRead {
    id: String,
    rest: Vec<String>,
    /// A computed key followed: anything below may be read.
    whole: bool,
}

impl Pass<'_> {
    /// Checks one template; what its value derives from, if a secret.
    fn template(
        &mut self,
        source: &str,
        loc: &Loc,
        secrets: &Secrets,
        usage: Use,
        in_auth: bool,
    ) -> Option<Origin> {
        if !is_template(source) {
            return None;
        }
        let refs = self.wf.templates.refs(source)?;
        if !in_auth {
            for name in &refs.env {
                self.env_outside_auth
                    .entry(name.clone())
                    .or_insert_with(|| loc.clone());
            }
        }
        if !touches(refs, secrets) {
            return None;
        }
        let analysis = taint::analyze(source, secrets);
        for r in &analysis.refused {
            self.diagnostics.push(
                Diagnostic::new(r.to_string(), Some(loc.clone())).with_help(Some(help(&r.origin))),
            );
        }
        match (usage, analysis.output) {
            (Use::Decides(what), Some(origin)) => {
                self.diagnostics.push(
                    Diagnostic::new(format!("{what} {origin}, a secret"), Some(loc.clone()))
                        .with_help(Some(help(&origin))),
                );
                None
            }
            (_, output) => output,
        }
    }

    /// Every string of a value, checked; what the value derives from.
    fn value(&mut self, value: &Value, loc: &Loc, secrets: &Secrets, usage: Use) -> Option<Origin> {
        let mut leaves = Vec::new();
        strings(value, &mut Vec::new(), &mut leaves);
        let mut out = None;
        for (_, source) in leaves {
            let t = self.template(source, loc, secrets, usage, false);
            out = out.or(t);
        }
        out
    }

    /// Auth: its values may use the credential source's token whole.
    fn auth(&mut self, auth: &Auth, secrets: &mut Secrets) {
        for f in auth.source.iter().flat_map(|s| s.templates()) {
            self.template(&f.value, &f.loc, secrets, Use::Value, true);
        }
        if let Some(b) = &auth.base_url {
            self.template(&b.value, &b.loc, secrets, Use::Value, true);
        }
        let source = auth.source.as_ref().map(|s| s.name());
        if let Some(name) = source {
            secrets.add(
                name,
                vec![Seg::Key("access_token".into())],
                true,
                Origin::other(format!("`{name}.access_token`, a credential")),
            );
        }
        for p in &auth.parameters {
            self.template(&p.value, &p.value_loc, secrets, Use::Value, true);
        }
        if let Some(body) = &auth.body {
            let mut leaves = Vec::new();
            let value = Value::Object(body.value.clone());
            strings(&value, &mut Vec::new(), &mut leaves);
            for (_, s) in leaves {
                self.template(s, &body.loc, secrets, Use::Value, true);
            }
        }
        if let Some(name) = source {
            secrets.remove_root(name);
        }
    }

    /// What the auth of `flow`'s steps reads of earlier steps.
    fn auth_reads(&self, flow: usize) -> Vec<AuthRead> {
        let mut out = Vec::new();
        for auth in self.wf.flows[flow]
            .steps
            .iter()
            .filter_map(|s| s.def.auth.as_ref())
        {
            let mut sources: Vec<&str> = auth.parameters.iter().map(|p| p.value.as_str()).collect();
            sources.extend(auth.base_url.iter().map(|b| b.value.as_str()));
            let body = auth.body.as_ref().map(|b| Value::Object(b.value.clone()));
            let mut leaves = Vec::new();
            if let Some(body) = &body {
                strings(body, &mut Vec::new(), &mut leaves);
            }
            sources.extend(leaves.iter().map(|(_, s)| *s));
            for source in sources.into_iter().filter(|s| is_template(s)) {
                let (paths, computed) = taint::paths(source, "steps");
                for mut p in paths {
                    if p.is_empty() {
                        continue;
                    }
                    let id = p.remove(0);
                    out.push(AuthRead {
                        id,
                        rest: p,
                        whole: false,
                    });
                }
                if computed {
                    for s in &self.wf.flows[flow].steps {
                        if let Some(id) = &s.def.id {
                            out.push(AuthRead {
                                id: id.clone(),
                                rest: Vec::new(),
                                whole: true,
                            });
                        }
                    }
                }
            }
        }
        out
    }

    fn flow(&mut self, f: usize, base: &Secrets) {
        let wf = self.wf;
        let flow = &wf.flows[f];
        let mut secrets = base.clone();
        for (name, origin) in &self.inputs[f] {
            let leaf = flow
                .inputs
                .get(name)
                .is_some_and(|i| i.ty == ParamType::String);
            secrets.add(
                "inputs",
                vec![Seg::Key(name.clone())],
                leaf,
                Origin::derived(format!("input `{name}`"), origin),
            );
            // A loop's inline `steps:` read their item and index by name.
            if flow.item.as_ref() == Some(name) || (flow.item.is_some() && name == "index") {
                secrets.add(
                    name,
                    Vec::new(),
                    false,
                    Origin::derived(format!("the loop's `{name}`"), origin),
                );
            }
        }
        let reads = self.auth_reads(f);
        for r in &reads {
            let mut segs = vec![Seg::Key(r.id.clone())];
            segs.extend(r.rest.iter().cloned().map(Seg::Key));
            let shown = std::iter::once(r.id.as_str())
                .chain(r.rest.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(".");
            secrets.add(
                "steps",
                segs,
                !r.whole,
                Origin::other(format!("`steps.{shown}` (a step's auth reads it)")),
            );
        }
        for step in &flow.steps {
            self.step(step, &reads, &mut secrets);
        }
        for (name, output) in &flow.outputs {
            if let Some(origin) =
                self.template(&output.value, &output.loc, &secrets, Use::Value, false)
            {
                self.outputs[f].entry(name.clone()).or_insert(origin);
            }
        }
    }

    /// What of `step` sees secrets and what it passes on: its loop item,
    /// its request, its criteria, and its outputs, which later steps see.
    fn step(&mut self, step: &super::Step, reads: &[AuthRead], secrets: &mut Secrets) {
        let item = self.loop_item(step, secrets);
        self.request(step, secrets);
        // The step's own response, where a later step's auth reads it.
        let own = step
            .def
            .id
            .as_deref()
            .map(|id| own_response(reads, id))
            .unwrap_or_default();
        for (root, segs, origin) in &own.paths {
            secrets.add(root, segs.clone(), true, origin.clone());
        }
        self.criteria(step, secrets);
        let mut tainted = self.step_outputs(step, &own, secrets);
        for root in RESPONSE_ROOTS {
            secrets.remove_root(root);
        }
        if let Some(name) = &item {
            secrets.remove_root(name);
        }
        let Some(id) = &step.def.id else { return };
        if let Run::Uses(target) = step.run {
            let outputs = &self.wf.flows[target].outputs;
            for (name, origin) in &self.outputs[target] {
                let leaf = outputs
                    .get(name)
                    .is_some_and(|o| whole_expression(&o.value).is_none());
                tainted.push((name.clone(), origin.clone(), leaf));
            }
        }
        for (name, origin, leaf) in tainted {
            publish_output(secrets, id, &name, origin, leaf);
        }
    }

    /// `for_each:`: what it loops over, and the item's name when the list
    /// is a literal list of secrets (each item is one, whole).
    fn loop_item(&mut self, step: &super::Step, secrets: &mut Secrets) -> Option<String> {
        let each = step.def.each.as_ref()?;
        match &each.list.value {
            Value::String(s) => {
                self.template(
                    s,
                    &each.list.loc,
                    secrets,
                    Use::Decides("`for_each` loops over"),
                    false,
                );
                None
            }
            list => {
                let origin = self.value(list, &each.list.loc, secrets, Use::Value)?;
                let name = each.name.value.clone();
                secrets.add(
                    &name,
                    Vec::new(),
                    false,
                    Origin::derived(format!("the loop's `{name}`"), &origin),
                );
                Some(name)
            }
        }
    }

    /// What the step sends or decides before sending: `if`, auth, params,
    /// `url`, and a sub-workflow's inputs.
    fn request(&mut self, step: &super::Step, secrets: &mut Secrets) {
        if let Some(c) = &step.def.condition
            && let Value::String(s) = &c.value
        {
            self.template(s, &c.loc, secrets, Use::Decides("`if` decides on"), false);
        }
        if let Some(auth) = &step.def.auth {
            self.auth(auth, secrets);
        }
        for given in step.def.params.values() {
            self.value(&given.value, &given.loc, secrets, Use::Value);
        }
        if let Some(url) = &step.def.url {
            self.template(&url.value, &url.loc, secrets, Use::Value, false);
        }
        if let Run::Uses(target) = step.run {
            for (name, given) in &step.def.with {
                if let Some(origin) = self.value(&given.value, &given.loc, secrets, Use::Value) {
                    self.inputs[target].entry(name.clone()).or_insert(origin);
                }
            }
        }
    }

    /// What decides on the response: `expect.that`, `until`, `paginate`.
    fn criteria(&mut self, step: &super::Step, secrets: &mut Secrets) {
        for that in &step.expect().that {
            if let Value::String(s) = &that.value {
                self.template(
                    s,
                    &that.loc,
                    secrets,
                    Use::Decides("`expect.that` tests"),
                    false,
                );
            }
        }
        if let Some(until) = &step.def.until
            && let Value::String(s) = &until.condition.value
        {
            self.template(
                s,
                &until.condition.loc,
                secrets,
                Use::Decides("`until` tests"),
                false,
            );
        }
        if let Some(p) = &step.def.paginate {
            if let crate::spec::Next::Cursor(c) = &p.next {
                self.template(&c.value.value, &c.value.loc, secrets, Use::Value, false);
            }
            if let Some(items) = &p.items {
                self.template(
                    &items.value,
                    &items.loc,
                    secrets,
                    Use::Decides("`paginate.items` lists"),
                    false,
                );
            }
        }
    }

    /// The step's outputs that hold a secret: name, origin, and whether
    /// the secret is only part of the output (a leaf). An output a later
    /// step's auth reads sees the whole response as secret.
    fn step_outputs(
        &mut self,
        step: &super::Step,
        own: &Own,
        secrets: &mut Secrets,
    ) -> Vec<(String, Origin, bool)> {
        let mut tainted = Vec::new();
        for (name, output) in &step.def.outputs {
            let feeds = own.outputs.iter().find(|(n, _)| n == name || n.is_empty());
            if let Some((_, origin)) = feeds {
                for root in RESPONSE_ROOTS {
                    secrets.add(root, Vec::new(), false, origin.clone());
                }
            }
            let t = self.template(&output.value, &output.loc, secrets, Use::Value, false);
            if feeds.is_some() {
                for root in RESPONSE_ROOTS {
                    secrets.remove_root(root);
                }
                for (root, segs, origin) in &own.paths {
                    secrets.add(root, segs.clone(), true, origin.clone());
                }
            }
            if let Some(origin) = t {
                tainted.push((
                    name.clone(),
                    origin,
                    whole_expression(&output.value).is_none(),
                ));
            }
        }
        tainted
    }
}

/// The names a step's response goes by in its own templates.
const RESPONSE_ROOTS: [&str; 3] = ["response", "headers", "status"];

/// Output `name` of step `id` holds a secret: so do `steps.<id>.outputs`
/// and every loop item's, from now on.
fn publish_output(secrets: &mut Secrets, id: &str, name: &str, origin: Origin, leaf: bool) {
    let origin = Origin::derived(format!("output `{name}` of step `{id}`"), &origin);
    secrets.add(
        "steps",
        vec![
            Seg::Key(id.to_string()),
            Seg::Key("outputs".into()),
            Seg::Key(name.to_string()),
        ],
        leaf,
        origin.clone(),
    );
    secrets.add(
        "steps",
        vec![
            Seg::Key(id.to_string()),
            Seg::Key("items".into()),
            Seg::Any,
            Seg::Key("outputs".into()),
            Seg::Key(name.to_string()),
        ],
        leaf,
        origin,
    );
}

/// A step's own response as its `expect.that`, `until`, `paginate` and
/// `outputs` see it, where a later step's auth reads it.
#[derive(Default)]
struct Own {
    /// `(root, path below it, origin)`: `("response", ["token"], ...)`.
    paths: Vec<(&'static str, Vec<Seg>, Origin)>,
    /// Outputs a later step's auth reads: their templates see the whole
    /// response as a secret.
    outputs: Vec<(String, Origin)>,
}

fn own_response(reads: &[AuthRead], id: &str) -> Own {
    let mut own = Own::default();
    for r in reads.iter().filter(|r| r.id == id) {
        let shown = format!("steps.{id}.{}", r.rest.join("."));
        let origin = Origin::other(format!(
            "`{}` (a step's auth reads it)",
            shown.trim_end_matches('.')
        ));
        // `items[i].response...` of a loop is each item's own `response...`.
        let rest: &[String] = match r.rest.as_slice() {
            [items, _, rest @ ..] if items == "items" => rest,
            rest => rest,
        };
        match rest {
            [root, below @ ..] if matches!(root.as_str(), "response" | "headers" | "status") => {
                let root = match root.as_str() {
                    "response" => "response",
                    "headers" => "headers",
                    _ => "status",
                };
                own.paths
                    .push((root, below.iter().cloned().map(Seg::Key).collect(), origin));
            }
            [outputs, name, ..] if outputs == "outputs" => {
                own.outputs.push((name.clone(), origin));
            }
            [other, ..] if other == "pages" => {}
            // The step whole, or all its items.
            _ => {
                for root in ["response", "headers", "status"] {
                    own.paths.push((root, Vec::new(), origin.clone()));
                }
                own.outputs.push((String::new(), origin));
            }
        }
    }
    own
}

/// Whether `refs` read anything `secrets` holds.
fn touches(refs: &Refs, secrets: &Secrets) -> bool {
    (!refs.env.is_empty() && secrets.has_root("env"))
        || refs.vars.iter().any(|v| secrets.has("vars", v))
        || refs.inputs.iter().any(|i| secrets.has("inputs", i))
        || refs.steps.iter().any(|(id, _)| secrets.has("steps", id))
        || refs.dynamic.iter().any(|root| secrets.has_root(root))
        || refs.other.iter().any(|name| secrets.has_root(name))
}
