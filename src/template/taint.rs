//! Which values of a template derive from a secret, found on its parsed
//! form without running it, and the operations that would launder one.
//!
//! The redactor masks a secret in the forms it knows: whole, inside longer
//! text, trimmed, JSON-escaped, percent-encoded, base64. So a secret (an env
//! value, a credential, a var built from one, a response field a step's auth
//! reads) may only travel through operations whose result still holds one
//! of those forms: interpolation and concatenation (`~`, `+`), the filters
//! `b64encode`, `urlencode`, `urlencode_component`, `tojson`, `trim` and
//! `default(<literal>)`, and the tests `defined` / `undefined`. Anything
//! else applied to one — another filter, a method, a slice, an index, a
//! comparison, a test, a loop over it, a condition on it — is refused:
//! `reverse`, a slice or a split-and-join turn it into text no redactor can
//! recognise, and a comparison lets a template probe it.
//!
//! The analysis is an abstract interpretation over minijinja's syntax tree:
//! every expression is either clean or derived from a secret (with that
//! secret's [`Origin`]). Paths into the context (`vars.creds.token`) are
//! matched against the [`Secrets`] in scope, so a clean field of a record
//! that also holds a secret stays usable.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};
use minijinja::machinery::parse;
use minijinja::syntax::SyntaxConfig;

/// The filters a secret may pass through: their results are forms the
/// redactor masks.
pub(crate) const PRESERVING_FILTERS: &[&str] = &[
    "b64encode",
    "urlencode",
    "urlencode_component",
    "tojson",
    "trim",
    "default",
];

/// The tests a secret may be given: they say whether it is there, nothing
/// about what it is.
const PRESERVING_TESTS: &[&str] = &["defined", "undefined"];

/// Where a secret comes from, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `env `TOKEN``, `var `auth` (built from env `TOKEN`)`.
    pub(crate) what: String,
    /// The env variable at its root, if it is one: the help suggests
    /// passing configuration as an input instead.
    pub(crate) env: Option<String>,
}

impl Origin {
    pub(crate) fn env(name: &str) -> Origin {
        Origin {
            what: format!("env `{name}`"),
            env: Some(name.to_string()),
        }
    }

    /// A secret named `what`, derived from `from`.
    pub(crate) fn derived(what: impl fmt::Display, from: &Origin) -> Origin {
        Origin {
            what: format!("{what} (built from {})", from.root()),
            env: from.env.clone(),
        }
    }

    pub(crate) fn other(what: impl Into<String>) -> Origin {
        Origin {
            what: what.into(),
            env: None,
        }
    }

    /// What the secret was first: `env `TOKEN`` for a var built from it.
    fn root(&self) -> &str {
        match self.what.find(" (built from ") {
            Some(at) => self.what[at + " (built from ".len()..].trim_end_matches(')'),
            None => &self.what,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// One segment of a path into the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    /// Any one segment: every item of a list (`steps.open.items[*]`).
    Any,
}

impl Seg {
    fn matches(&self, key: &str) -> bool {
        match self {
            Seg::Key(k) => k == key,
            Seg::Any => true,
        }
    }
}

#[derive(Debug, Clone)]
struct SecretPath {
    /// Below the root name.
    segs: Vec<Seg>,
    /// The value at the path is the secret text itself, so reading below
    /// it indexes the secret; otherwise it may be a record holding one.
    leaf: bool,
    origin: Origin,
}

/// The secrets a template may read, as paths into its context.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets {
    /// Every `env.NAME` is a secret.
    env: bool,
    by_root: HashMap<String, Vec<SecretPath>>,
}

impl Secrets {
    /// Every env value a secret, nothing else yet.
    pub(crate) fn with_env() -> Secrets {
        Secrets {
            env: true,
            by_root: HashMap::new(),
        }
    }

    /// `root.segs...` holds a secret; with `leaf`, it is the secret text.
    pub(crate) fn add(&mut self, root: &str, segs: Vec<Seg>, leaf: bool, origin: Origin) {
        self.by_root
            .entry(root.to_string())
            .or_default()
            .push(SecretPath { segs, leaf, origin });
    }

    /// Forgets every secret below `root`.
    pub(crate) fn remove_root(&mut self, root: &str) {
        self.by_root.remove(root);
    }

    /// Whether a template reading `root` could read a secret.
    pub(crate) fn has_root(&self, root: &str) -> bool {
        (root == "env" && self.env) || self.by_root.contains_key(root)
    }

    /// Whether a template reading `root.first...` could read a secret.
    pub(crate) fn has(&self, root: &str, first: &str) -> bool {
        if root == "env" {
            return self.env;
        }
        self.by_root.get(root).is_some_and(|paths| {
            paths
                .iter()
                .any(|p| p.segs.first().is_none_or(|s| s.matches(first)))
        })
    }
}

/// A use of a secret the redactor could not follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The expression, as written.
    pub(crate) expression: String,
    /// What it does to the secret: `applies filter `reverse` to`.
    pub(crate) verb: String,
    pub(crate) origin: Origin,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` {} {}, a secret",
            self.expression, self.verb, self.origin
        )
    }
}

/// What the analysis of one template found.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// The template's value derives from a secret.
    pub(crate) output: Option<Origin>,
    pub(crate) refused: Vec<Refusal>,
}

/// Taint of a value: clean, or derived from the secret `Origin`.
type T = Option<Arc<Origin>>;

fn join(a: T, b: T) -> T {
    a.or(b)
}

/// Analyzes `source` against the `secrets` in its scope.
pub(crate) fn analyze(source: &str, secrets: &Secrets) -> Analysis {
    let Ok(tree) = parse(source, "<template>", SyntaxConfig::default()) else {
        // Compiling it already failed and was reported.
        return Analysis::default();
    };
    let mut a = Analyzer {
        source,
        secrets,
        locals: vec![HashMap::new()],
        macros: HashMap::new(),
        block_input: None,
        refused: Vec::new(),
    };
    let output = a.stmt(&tree);
    let mut refused = a.refused;
    refused.dedup();
    Analysis {
        output: output.map(|o| (*o).clone()),
        refused,
    }
}

/// Every constant path below `root` that `source` reads (`steps.login.response.token`
/// → `["login", "response", "token"]`), and whether it subscripts `root`
/// itself (or a path below it) by a computed key.
pub(crate) fn paths(source: &str, root: &str) -> (Vec<Vec<String>>, bool) {
    let Ok(tree) = parse(source, "<template>", SyntaxConfig::default()) else {
        return (Vec::new(), false);
    };
    let mut found = Vec::new();
    let mut dynamic = false;
    visit_stmt(&tree, &mut |e| {
        if let Some((var, segs, computed)) = chain(e)
            && var == root
        {
            dynamic |= computed;
            found.push(segs);
            return true;
        }
        false
    });
    (found, dynamic)
}

/// A chain of attribute and constant-item lookups on a name: the name, the
/// keys, and whether a computed subscript ended it.
fn chain<'a>(e: &'a Expr<'a>) -> Option<(&'a str, Vec<String>, bool)> {
    let mut keys = Vec::new();
    let mut cur = e;
    let mut computed = false;
    loop {
        match cur {
            Expr::Var(v) => {
                keys.reverse();
                return Some((v.id, keys, computed));
            }
            Expr::GetAttr(g) => {
                keys.push(g.name.to_string());
                cur = &g.expr;
            }
            Expr::GetItem(g) => {
                match const_key(&g.subscript_expr) {
                    Some(k) => keys.push(k),
                    None => {
                        // Only the part before the computed key is a path.
                        keys.clear();
                        computed = true;
                    }
                }
                cur = &g.expr;
            }
            _ => return None,
        }
    }
}

fn const_key(e: &Expr) -> Option<String> {
    match e {
        Expr::Const(c) => {
            let v = &c.value;
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        }
        _ => None,
    }
}

/// Calls `f` on every expression, outermost first; `f` returning true
/// skips the expression's insides except computed subscripts.
fn visit_stmt(s: &Stmt, f: &mut impl FnMut(&Expr) -> bool) {
    match s {
        Stmt::Template(t) => t.children.iter().for_each(|c| visit_stmt(c, f)),
        Stmt::EmitExpr(e) => visit_expr(&e.expr, f),
        Stmt::EmitRaw(_) => {}
        Stmt::ForLoop(l) => {
            visit_expr(&l.iter, f);
            if let Some(x) = &l.filter_expr {
                visit_expr(x, f);
            }
            l.body.iter().for_each(|c| visit_stmt(c, f));
            l.else_body.iter().for_each(|c| visit_stmt(c, f));
        }
        Stmt::IfCond(c) => {
            visit_expr(&c.expr, f);
            c.true_body.iter().for_each(|s| visit_stmt(s, f));
            c.false_body.iter().for_each(|s| visit_stmt(s, f));
        }
        Stmt::WithBlock(w) => {
            for (_, e) in &w.assignments {
                visit_expr(e, f);
            }
            w.body.iter().for_each(|s| visit_stmt(s, f));
        }
        Stmt::Set(s) => visit_expr(&s.expr, f),
        Stmt::SetBlock(s) => {
            if let Some(x) = &s.filter {
                visit_expr(x, f);
            }
            s.body.iter().for_each(|c| visit_stmt(c, f));
        }
        Stmt::AutoEscape(a) => a.body.iter().for_each(|s| visit_stmt(s, f)),
        Stmt::FilterBlock(b) => {
            visit_expr(&b.filter, f);
            b.body.iter().for_each(|s| visit_stmt(s, f));
        }
        Stmt::Block(b) => b.body.iter().for_each(|s| visit_stmt(s, f)),
        Stmt::Import(_) | Stmt::FromImport(_) | Stmt::Extends(_) | Stmt::Include(_) => {}
        Stmt::Macro(m) => {
            m.defaults.iter().for_each(|d| visit_expr(d, f));
            m.body.iter().for_each(|s| visit_stmt(s, f));
        }
        Stmt::CallBlock(c) => {
            visit_call(&c.call, f);
            c.macro_decl.body.iter().for_each(|s| visit_stmt(s, f));
        }
        Stmt::Do(d) => visit_call(&d.call, f),
    }
}

fn visit_call(c: &ast::Call, f: &mut impl FnMut(&Expr) -> bool) {
    visit_expr(&c.expr, f);
    visit_args(&c.args, f);
}

fn visit_args(args: &[CallArg], f: &mut impl FnMut(&Expr) -> bool) {
    for a in args {
        match a {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => visit_expr(e, f),
        }
    }
}

fn visit_expr(e: &Expr, f: &mut impl FnMut(&Expr) -> bool) {
    if f(e) {
        // A path: only its computed subscripts hold other expressions.
        let mut cur = e;
        loop {
            match cur {
                Expr::GetAttr(g) => cur = &g.expr,
                Expr::GetItem(g) => {
                    visit_expr(&g.subscript_expr, f);
                    cur = &g.expr;
                }
                _ => return,
            }
        }
    }
    match e {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            visit_expr(&s.expr, f);
            for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                visit_expr(x, f);
            }
        }
        Expr::UnaryOp(u) => visit_expr(&u.expr, f),
        Expr::BinOp(b) => {
            visit_expr(&b.left, f);
            visit_expr(&b.right, f);
        }
        Expr::Compare(c) => {
            visit_expr(&c.expr, f);
            c.ops.iter().for_each(|o| visit_expr(&o.expr, f));
        }
        Expr::IfExpr(i) => {
            visit_expr(&i.test_expr, f);
            visit_expr(&i.true_expr, f);
            if let Some(x) = &i.false_expr {
                visit_expr(x, f);
            }
        }
        Expr::Filter(x) => {
            if let Some(inner) = &x.expr {
                visit_expr(inner, f);
            }
            visit_args(&x.args, f);
        }
        Expr::Test(t) => {
            visit_expr(&t.expr, f);
            visit_args(&t.args, f);
        }
        Expr::GetAttr(g) => visit_expr(&g.expr, f),
        Expr::GetItem(g) => {
            visit_expr(&g.expr, f);
            visit_expr(&g.subscript_expr, f);
        }
        Expr::Call(c) => {
            visit_expr(&c.expr, f);
            visit_args(&c.args, f);
        }
        Expr::List(l) => l.items.iter().for_each(|x| visit_expr(x, f)),
        Expr::Tuple(t) => t.items.iter().for_each(|x| visit_expr(x, f)),
        Expr::Map(m) => {
            m.keys.iter().for_each(|x| visit_expr(x, f));
            m.values.iter().for_each(|x| visit_expr(x, f));
        }
    }
}

/// Where an expression starts and ends in its source: minijinja's span of
/// a filter or test covers only its name, so the operands are added.
fn extent(e: &Expr) -> (u32, u32) {
    let span = e.span();
    // An operator's own span can start at the tag before it.
    let mut out = match e {
        Expr::BinOp(_) | Expr::Compare(_) => (u32::MAX, 0),
        _ => (span.start_offset, span.end_offset),
    };
    let mut add = |x: &Expr| {
        let (s, t) = extent(x);
        out = (out.0.min(s), out.1.max(t));
    };
    match e {
        Expr::Filter(f) => {
            if let Some(x) = &f.expr {
                add(x);
            }
        }
        Expr::Test(t) => add(&t.expr),
        Expr::GetAttr(g) => add(&g.expr),
        Expr::GetItem(g) => add(&g.expr),
        Expr::Slice(s) => add(&s.expr),
        Expr::Call(c) => add(&c.expr),
        Expr::BinOp(b) => {
            add(&b.left);
            add(&b.right);
        }
        Expr::Compare(c) => {
            add(&c.expr);
            c.ops.iter().for_each(|o| add(&o.expr));
        }
        _ => {}
    }
    out
}

/// What a lookup chain is so far: still a path into the context, or a value.
enum Access<'s> {
    Path(&'s str, Vec<String>),
    Value(T),
}

struct Analyzer<'s, 'x> {
    source: &'s str,
    secrets: &'x Secrets,
    /// Names the template binds itself (`set`, `for`, `with`, macro
    /// arguments), innermost last.
    locals: Vec<HashMap<&'s str, T>>,
    /// What each macro's output derives from.
    macros: HashMap<&'s str, T>,
    /// The rendered body a filter block or `set` block filters.
    block_input: Option<T>,
    refused: Vec<Refusal>,
}

impl<'s> Analyzer<'s, '_> {
    fn refuse(&mut self, e: &Expr, verb: impl Into<String>, origin: &Origin) -> T {
        let (start, end) = extent(e);
        let expression = self
            .source
            .get(start as usize..end as usize)
            .unwrap_or(self.source)
            .trim()
            .to_string();
        self.refused.push(Refusal {
            expression,
            verb: verb.into(),
            origin: origin.clone(),
        });
        // Said once: what the refused expression yields is not followed
        // further, so one laundering is one message.
        None
    }

    fn local(&self, name: &str) -> Option<T> {
        self.locals
            .iter()
            .rev()
            .find_map(|scope| scope.get(name).cloned())
    }

    fn bind(&mut self, target: &Expr<'s>, t: T) {
        match target {
            Expr::Var(v) => {
                if let Some(scope) = self.locals.last_mut() {
                    scope.insert(v.id, t);
                }
            }
            Expr::List(l) => {
                if let Some(o) = &t {
                    self.refuse(target, "unpacks", &o.clone());
                }
                for item in &l.items {
                    self.bind(item, None);
                }
            }
            Expr::Tuple(l) => {
                if let Some(o) = &t {
                    self.refuse(target, "unpacks", &o.clone());
                }
                for item in &l.items {
                    self.bind(item, None);
                }
            }
            // `set ns.attr = ...`: a namespace slot.
            _ => {
                if let Some(o) = &t {
                    self.refuse(target, "stores in a namespace", &o.clone());
                }
            }
        }
    }

    fn stmts(&mut self, body: &[Stmt<'s>]) -> T {
        let mut out = None;
        for s in body {
            out = join(out, self.stmt(s));
        }
        out
    }

    fn scoped(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.locals.push(HashMap::new());
        let out = f(self);
        self.locals.pop();
        out
    }

    /// What a statement emits.
    fn stmt(&mut self, s: &Stmt<'s>) -> T {
        match s {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) => None,
            Stmt::ForLoop(l) => {
                if let Some(o) = self.expr(&l.iter) {
                    self.refuse(&l.iter, "loops over", &o);
                }
                self.scoped(|a| {
                    a.bind(&l.target, None);
                    if let Some(x) = &l.filter_expr
                        && let Some(o) = a.expr(x)
                    {
                        a.refuse(x, "filters a loop on", &o);
                    }
                    let body = a.stmts(&l.body);
                    join(body, a.stmts(&l.else_body))
                })
            }
            Stmt::IfCond(c) => {
                if let Some(o) = self.expr(&c.expr) {
                    self.refuse(&c.expr, "decides an `if` on", &o);
                }
                let yes = self.stmts(&c.true_body);
                join(yes, self.stmts(&c.false_body))
            }
            Stmt::WithBlock(w) => self.scoped(|a| {
                for (target, value) in &w.assignments {
                    let t = a.expr(value);
                    a.bind(target, t);
                }
                a.stmts(&w.body)
            }),
            Stmt::Set(s) => {
                let t = self.expr(&s.expr);
                self.bind(&s.target, t);
                None
            }
            Stmt::SetBlock(s) => {
                let body = self.scoped(|a| a.stmts(&s.body));
                let t = match &s.filter {
                    Some(f) => self.filtered(f, body),
                    None => body,
                };
                self.bind(&s.target, t);
                None
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.stmts(&a.body)
            }
            Stmt::FilterBlock(b) => {
                let body = self.scoped(|a| a.stmts(&b.body));
                self.filtered(&b.filter, body)
            }
            Stmt::Block(b) => self.stmts(&b.body),
            Stmt::Import(i) => {
                self.expr(&i.expr);
                None
            }
            Stmt::FromImport(i) => {
                self.expr(&i.expr);
                None
            }
            Stmt::Extends(e) => {
                self.expr(&e.name);
                None
            }
            Stmt::Include(i) => {
                self.expr(&i.name);
                None
            }
            Stmt::Macro(m) => {
                let t = self.macro_body(m);
                self.macros.insert(m.name, t);
                None
            }
            Stmt::CallBlock(c) => {
                let caller = self.macro_body(&c.macro_decl);
                self.macros.insert("caller", caller);
                self.call(&c.call, None)
            }
            Stmt::Do(d) => {
                self.call(&d.call, None);
                None
            }
        }
    }

    fn macro_body(&mut self, m: &ast::Macro<'s>) -> T {
        for d in &m.defaults {
            if let Some(o) = self.expr(d) {
                self.refuse(d, "is the default of a macro argument:", &o);
            }
        }
        self.scoped(|a| {
            for arg in &m.args {
                a.bind(arg, None);
            }
            a.stmts(&m.body)
        })
    }

    /// A filter chain applied to a block's rendered `body`.
    fn filtered(&mut self, filter: &Expr<'s>, body: T) -> T {
        let saved = self.block_input.replace(body);
        let out = self.expr(filter);
        self.block_input = saved;
        out
    }

    fn expr(&mut self, e: &Expr<'s>) -> T {
        match e {
            Expr::Var(v) => match self.local(v.id) {
                Some(t) => t,
                None => self.path(e, v.id, &[]),
            },
            Expr::Const(_) => None,
            Expr::GetAttr(_) | Expr::GetItem(_) => match self.access(e) {
                Access::Path(root, keys) => self.path(e, root, &keys),
                Access::Value(t) => t,
            },
            Expr::Slice(s) => {
                let base = self.expr(&s.expr);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    if let Some(o) = self.expr(x) {
                        self.refuse(x, "slices by", &o);
                    }
                }
                match base {
                    Some(o) => self.refuse(e, "slices", &o),
                    None => None,
                }
            }
            Expr::UnaryOp(u) => {
                let t = self.expr(&u.expr);
                let verb = match u.op {
                    ast::UnaryOpKind::Not => "negates (`not`)",
                    ast::UnaryOpKind::Neg => "negates",
                };
                match t {
                    Some(o) => self.refuse(e, verb, &o),
                    None => None,
                }
            }
            Expr::BinOp(b) => self.bin_op(e, b),
            Expr::Compare(c) => {
                let mut t = self.expr(&c.expr);
                for op in &c.ops {
                    t = join(t, self.expr(&op.expr));
                }
                match t {
                    Some(o) => self.refuse(e, "compares", &o),
                    None => None,
                }
            }
            Expr::IfExpr(i) => {
                if let Some(o) = self.expr(&i.test_expr) {
                    self.refuse(&i.test_expr, "decides an `if` on", &o);
                }
                let yes = self.expr(&i.true_expr);
                let no = i.false_expr.as_ref().and_then(|x| self.expr(x));
                join(yes, no)
            }
            Expr::Filter(f) => self.filter(e, f),
            Expr::Test(t) => {
                let input = self.expr(&t.expr);
                let args = self.args(&t.args);
                if let Some(o) = args.iter().find_map(|(t, _)| t.clone()) {
                    return self.refuse(e, format!("tests (`is {}`) against", t.name), &o);
                }
                match input {
                    Some(o) if !PRESERVING_TESTS.contains(&t.name) => {
                        self.refuse(e, format!("tests (`is {}`)", t.name), &o)
                    }
                    _ => None,
                }
            }
            Expr::Call(c) => self.call(c, Some(e)),
            Expr::List(l) => {
                let mut t = None;
                for x in &l.items {
                    t = join(t, self.expr(x));
                }
                t
            }
            Expr::Tuple(l) => {
                let mut t = None;
                for x in &l.items {
                    t = join(t, self.expr(x));
                }
                t
            }
            Expr::Map(m) => {
                for k in &m.keys {
                    if let Some(o) = self.expr(k) {
                        self.refuse(k, "uses as a key", &o);
                    }
                }
                let mut t = None;
                for v in &m.values {
                    t = join(t, self.expr(v));
                }
                t
            }
        }
    }

    /// A binary operation: `+` and `~` keep a secret's text whole; the
    /// others decide on it or compute from it.
    fn bin_op(&mut self, e: &Expr<'s>, b: &ast::BinOp<'s>) -> T {
        use ast::BinOpKind as K;
        let left = self.expr(&b.left);
        let right = self.expr(&b.right);
        match b.op {
            // The secret's text survives whole in the result.
            K::Concat | K::Add => join(left, right),
            // `a or b`, `a and b` test `a` and yield either.
            K::ScAnd | K::ScOr => match left {
                Some(o) => self.refuse(e, "tests the truth of", &o),
                None => right,
            },
            K::Eq | K::Ne | K::Lt | K::Lte | K::Gt | K::Gte | K::In => match left.or(right) {
                Some(o) => self.refuse(e, "compares", &o),
                None => None,
            },
            op => {
                let name = match op {
                    K::Sub => "-",
                    K::Mul => "*",
                    K::Div => "/",
                    K::FloorDiv => "//",
                    K::Rem => "%",
                    _ => "**",
                };
                match left.or(right) {
                    Some(o) => self.refuse(e, format!("applies `{name}` to"), &o),
                    None => None,
                }
            }
        }
    }

    /// Positional and keyword arguments: each one's taint, and whether it
    /// is a literal.
    fn args(&mut self, args: &[CallArg<'s>]) -> Vec<(T, bool)> {
        args.iter()
            .map(|a| match a {
                CallArg::Pos(x) | CallArg::Kwarg(_, x) => {
                    (self.expr(x), matches!(x, Expr::Const(_)))
                }
                CallArg::PosSplat(x) | CallArg::KwargSplat(x) => (self.expr(x), false),
            })
            .collect()
    }

    fn filter(&mut self, e: &Expr<'s>, f: &ast::Filter<'s>) -> T {
        let input = match &f.expr {
            Some(x) => self.expr(x),
            None => self.block_input.clone().flatten(),
        };
        let args = self.args(&f.args);
        let tainted_arg = args.iter().find_map(|(t, _)| t.clone());
        if input.is_none() && tainted_arg.is_none() {
            return None;
        }
        let all_literal = args.iter().all(|(_, literal)| *literal);
        let allowed = match f.name {
            "b64encode" | "urlencode" | "urlencode_component" | "trim" => args.is_empty(),
            "tojson" => all_literal,
            // The fallback passes through whole; for a secret input the
            // fallback must be a literal.
            "default" => input.is_none() || all_literal,
            _ => false,
        };
        if allowed {
            return join(input, tainted_arg);
        }
        let origin = input.or(tainted_arg).expect("one is tainted");
        let verb = if PRESERVING_FILTERS.contains(&f.name) {
            format!("applies filter `{}` with arguments to", f.name)
        } else {
            format!("applies filter `{}` to", f.name)
        };
        self.refuse(e, verb, &origin)
    }

    /// A call: of a macro (its output's taint), or of a function or method.
    fn call(&mut self, c: &ast::Call<'s>, whole: Option<&Expr<'s>>) -> T {
        let args = self.args(&c.args);
        let at = whole.unwrap_or(&c.expr);
        let callee = match &c.expr {
            Expr::GetAttr(g) => {
                // A method: `x.upper()`.
                let base = self.expr(&g.expr);
                if let Some(o) = base {
                    return self.refuse(at, format!("calls method `{}` of", g.name), &o);
                }
                None
            }
            Expr::Var(v) => self.macros.get(v.id).cloned().flatten(),
            other => self.expr(other),
        };
        if let Some(o) = args.iter().find_map(|(t, _)| t.clone()) {
            let name = match &c.expr {
                Expr::Var(v) => format!("`{}`", v.id),
                _ => "a function".to_string(),
            };
            return self.refuse(at, format!("passes to {name}"), &o);
        }
        callee
    }

    /// An attribute or item lookup: still a path while it has constant keys.
    fn access(&mut self, e: &Expr<'s>) -> Access<'s> {
        match e {
            Expr::Var(v) => match self.local(v.id) {
                Some(t) => Access::Value(t),
                None => Access::Path(v.id, Vec::new()),
            },
            Expr::GetAttr(g) => match self.access(&g.expr) {
                Access::Path(root, mut keys) => {
                    keys.push(g.name.to_string());
                    Access::Path(root, keys)
                }
                Access::Value(Some(o)) => {
                    Access::Value(self.refuse(e, format!("reads attribute `{}` of", g.name), &o))
                }
                Access::Value(None) => Access::Value(None),
            },
            Expr::GetItem(g) => {
                let key = const_key(&g.subscript_expr);
                let base = self.access(&g.expr);
                if key.is_none()
                    && let Some(o) = self.expr(&g.subscript_expr)
                {
                    self.refuse(&g.subscript_expr, "uses as a key", &o);
                }
                match (base, key) {
                    (Access::Path(root, mut keys), Some(k)) => {
                        keys.push(k);
                        Access::Path(root, keys)
                    }
                    (Access::Path(root, keys), None) => {
                        // A computed key may pick any field: refused where
                        // a secret is below.
                        match self.below(root, &keys) {
                            Some(o) => {
                                Access::Value(self.refuse(e, "picks by a computed key from", &o))
                            }
                            None => Access::Value(None),
                        }
                    }
                    (Access::Value(Some(o)), _) => Access::Value(self.refuse(e, "indexes", &o)),
                    (Access::Value(None), _) => Access::Value(None),
                }
            }
            other => Access::Value(self.expr(other)),
        }
    }

    /// A secret at or below `root.keys`, if any.
    fn below(&self, root: &str, keys: &[String]) -> Option<Arc<Origin>> {
        if root == "env" && self.secrets.env {
            return Some(Arc::new(match keys.first() {
                Some(name) => Origin::env(name),
                None => Origin::other("the environment"),
            }));
        }
        self.secrets.by_root.get(root)?.iter().find_map(|p| {
            let related = p.segs.iter().zip(keys).all(|(s, k)| s.matches(k));
            related.then(|| Arc::new(p.origin.clone()))
        })
    }

    /// The taint of the value at `root.keys`.
    fn path(&mut self, e: &Expr<'s>, root: &str, keys: &[String]) -> T {
        if root == "env" && self.secrets.env {
            return match keys {
                [] => Some(Arc::new(Origin::other("the environment"))),
                [name] => Some(Arc::new(Origin::env(name))),
                [name, below, ..] => {
                    self.refuse(e, format!("reads `{below}` inside"), &Origin::env(name))
                }
            };
        }
        let paths = self.secrets.by_root.get(root)?;
        let mut found: T = None;
        let mut inside: Option<(String, Origin)> = None;
        for p in paths {
            if !p.segs.iter().zip(keys).all(|(s, k)| s.matches(k)) {
                continue;
            }
            if keys.len() > p.segs.len() && p.leaf {
                inside = Some((keys[p.segs.len()].clone(), p.origin.clone()));
                continue;
            }
            found = found.or_else(|| Some(Arc::new(p.origin.clone())));
        }
        match inside {
            Some((below, origin)) => self.refuse(e, format!("reads `{below}` inside"), &origin),
            None => found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        let mut s = Secrets::with_env();
        s.add(
            "vars",
            vec![Seg::Key("creds".into()), Seg::Key("token".into())],
            true,
            Origin::derived("var `creds`", &Origin::env("T")),
        );
        s.add(
            "steps",
            vec![
                Seg::Key("login".into()),
                Seg::Key("response".into()),
                Seg::Key("token".into()),
            ],
            true,
            Origin::other("`steps.login.response.token`"),
        );
        s
    }

    fn refused(source: &str) -> Vec<String> {
        analyze(source, &secrets())
            .refused
            .iter()
            .map(|r| r.to_string())
            .collect()
    }

    #[test]
    fn preserving_uses_pass_and_carry_the_taint() {
        for src in [
            "Bearer {{ env.T }}",
            "{{ env.T ~ ':' ~ env.U }}",
            "{{ (env.U ~ ':' ~ env.T) | b64encode }}",
            "{{ env.T | trim }}",
            "{{ env.T | tojson }}",
            "{{ env.T | urlencode }}",
            "{{ env.T | urlencode_component }}",
            "{{ env.T | default('x') }}",
            "{{ env['T'] }}",
            "{% set t = env.T %}{{ t }}",
            "{{ vars.creds.token }}",
            "{{ vars.creds | tojson }}",
            "{{ env.T if inputs.on else 'off' }}",
        ] {
            let a = analyze(src, &secrets());
            assert!(a.refused.is_empty(), "{src}: {:?}", a.refused);
            assert!(a.output.is_some(), "{src}");
        }
        for src in [
            "{{ env.T is defined }}",
            "{{ vars.creds.user | upper }}",
            "{{ steps.login.status == 200 }}",
            "{{ inputs.x | reverse }}",
        ] {
            let a = analyze(src, &secrets());
            assert!(a.refused.is_empty(), "{src}: {:?}", a.refused);
            assert!(a.output.is_none(), "{src}");
        }
    }

    #[test]
    fn laundering_is_refused_naming_the_expression_and_origin() {
        assert_eq!(
            refused("{{ env.TOK | reverse }}"),
            ["`env.TOK | reverse` applies filter `reverse` to env `TOK`, a secret"]
        );
        assert_eq!(
            refused("{{ env.DRY_RUN == '1' }}"),
            ["`env.DRY_RUN == '1'` compares env `DRY_RUN`, a secret"]
        );
        assert_eq!(
            refused("{{ vars.creds.token[2:] }}"),
            ["`vars.creds.token[2:]` slices var `creds` (built from env `T`), a secret"]
        );
        for src in [
            "{{ env.T[0] }}",
            "{{ env.T[1:3] }}",
            "{{ env.T | list | join('-') }}",
            "{{ env.T.split('a') | join('a') }}",
            "{{ env.T | replace('a', 'b') }}",
            "{{ env.T | trim('x') }}",
            "{{ env.T | default(inputs.x) }}",
            "{% for c in env.T %}{{ c }}{% endfor %}",
            "{% if env.T %}x{% endif %}",
            "{{ 'a' if env.T == 'b' else 'c' }}",
            "{{ env.T is string }}",
            "{{ env.T or 'x' }}",
            "{{ not env.T }}",
            "{{ env.T | length }}",
            "{% set t = env.T %}{{ t | reverse }}",
            "{% set t %}{{ env.T }}{% endset %}{{ t | upper }}",
            "{% filter upper %}{{ env.T }}{% endfilter %}",
            "{% macro m() %}{{ env.T }}{% endmacro %}{{ m() | reverse }}",
            "{{ range(env.T | length) }}",
            "{{ vars.creds | items | list }}",
            "{{ vars.creds[inputs.k] }}",
            "{{ vars.creds.token.x }}",
            "{{ steps.login.response | dictsort }}",
            "{{ steps.login.response.token | upper }}",
            "{{ {'a': env.T} | dictsort }}",
            "{{ [env.T] | first }}",
            "{{ env.T in 'abc' }}",
            "{{ 'abc' in env.T }}",
        ] {
            assert!(!refused(src).is_empty(), "{src} was not refused");
        }
    }

    #[test]
    fn time_is_clean_and_a_secret_cannot_be_shifted_or_parsed() {
        for src in [
            "{{ now() }}",
            "{{ now() | shift('-7d') }}",
            "{{ (vars.creds.user | parse_time) < (now() | shift('-30d')) }}",
            "{{ now() | datetimeformat(format='%Y') }}",
        ] {
            let a = analyze(src, &secrets());
            assert!(a.refused.is_empty(), "{src}: {:?}", a.refused);
            assert!(a.output.is_none(), "{src}");
        }
        assert_eq!(
            refused("{{ env.T | parse_time }}"),
            ["`env.T | parse_time` applies filter `parse_time` to env `T`, a secret"]
        );
        assert_eq!(
            refused("{{ now() | shift(env.T) }}"),
            ["`now() | shift(env.T)` applies filter `shift` to env `T`, a secret"]
        );
    }

    #[test]
    fn paths_below_a_root() {
        let (found, dynamic) = paths(
            "{{ steps.login.response.token }} {{ steps.a['b'][0] }} {{ x.steps }}",
            "steps",
        );
        assert_eq!(
            found,
            [vec!["login", "response", "token"], vec!["a", "b", "0"]]
        );
        assert!(!dynamic);
        assert!(paths("{{ steps[inputs.id].response }}", "steps").1);
    }
}
