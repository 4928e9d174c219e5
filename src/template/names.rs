//! The names a template reads from its context, found on its syntax tree:
//! each root name (`env`, `steps`, `item`) and each chain of attributes
//! read from one (`steps.issue.response`).
//!
//! minijinja's own `undeclared_variables` skips the value a slice is taken
//! of (`env.TOKEN[1:]` reads no `env` for it) and the arguments of a
//! filter block or a filtered `set` block, so a template could read a
//! variable `validate` never saw. This walk visits every expression.

use std::collections::HashSet;

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};

/// Root names read, and the attribute chains read from them.
#[derive(Debug, Default)]
pub(super) struct Names {
    pub(crate) top: HashSet<String>,
    /// `steps.issue.response`, or the bare root when no attribute follows.
    pub(crate) nested: HashSet<String>,
}

pub(super) fn of(tree: &Stmt) -> Names {
    let mut w = Walk {
        names: Names::default(),
        bound: vec![HashSet::new()],
    };
    w.stmt(tree);
    w.names
}

struct Walk<'s> {
    names: Names,
    /// Names the template binds itself, innermost scope last.
    bound: Vec<HashSet<&'s str>>,
}

impl<'s> Walk<'s> {
    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|scope| scope.contains(name))
    }

    fn bind(&mut self, target: &Expr<'s>) {
        match target {
            Expr::Var(v) => {
                if let Some(scope) = self.bound.last_mut() {
                    scope.insert(v.id);
                }
            }
            Expr::List(l) => l.items.iter().for_each(|x| self.bind(x)),
            Expr::Tuple(t) => t.items.iter().for_each(|x| self.bind(x)),
            // `set ns.attr = ...` reads the namespace `ns`.
            other => self.expr(other),
        }
    }

    fn scoped(&mut self, names: &[&'s str], f: impl FnOnce(&mut Self)) {
        self.bound.push(names.iter().copied().collect());
        f(self);
        self.bound.pop();
    }

    fn body(&mut self, body: &[Stmt<'s>]) {
        self.scoped(&[], |w| body.iter().for_each(|s| w.stmt(s)));
    }

    fn stmt(&mut self, s: &Stmt<'s>) {
        match s {
            Stmt::Template(t) => t.children.iter().for_each(|c| self.stmt(c)),
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(l) => {
                self.expr(&l.iter);
                self.scoped(&["loop"], |w| {
                    w.bind(&l.target);
                    if let Some(x) = &l.filter_expr {
                        w.expr(x);
                    }
                    l.body.iter().for_each(|s| w.stmt(s));
                });
                self.body(&l.else_body);
            }
            Stmt::IfCond(c) => {
                self.expr(&c.expr);
                self.body(&c.true_body);
                self.body(&c.false_body);
            }
            Stmt::WithBlock(b) => self.scoped(&[], |w| {
                for (target, value) in &b.assignments {
                    w.expr(value);
                    w.bind(target);
                }
                b.body.iter().for_each(|s| w.stmt(s));
            }),
            Stmt::Set(set) => {
                self.expr(&set.expr);
                self.bind(&set.target);
            }
            Stmt::SetBlock(set) => {
                self.body(&set.body);
                if let Some(f) = &set.filter {
                    self.expr(f);
                }
                self.bind(&set.target);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.body(&a.body);
            }
            Stmt::FilterBlock(b) => {
                self.expr(&b.filter);
                self.body(&b.body);
            }
            Stmt::Block(b) => self.scoped(&["super"], |w| b.body.iter().for_each(|s| w.stmt(s))),
            // No loader: these fail when rendered; their names matter not.
            Stmt::Extends(_) | Stmt::Include(_) => {}
            Stmt::Import(i) => self.bind(&i.name),
            Stmt::FromImport(i) => {
                for (name, alias) in &i.names {
                    self.bind(alias.as_ref().unwrap_or(name));
                }
            }
            Stmt::Macro(m) => {
                if let Some(scope) = self.bound.last_mut() {
                    scope.insert(m.name);
                }
                self.macro_body(m);
            }
            Stmt::CallBlock(c) => {
                self.call(&c.call);
                self.macro_body(&c.macro_decl);
            }
            Stmt::Do(d) => self.call(&d.call),
        }
    }

    fn macro_body(&mut self, m: &ast::Macro<'s>) {
        m.defaults.iter().for_each(|d| self.expr(d));
        self.scoped(&["caller"], |w| {
            m.args.iter().for_each(|a| w.bind(a));
            m.body.iter().for_each(|s| w.stmt(s));
        });
    }

    fn call(&mut self, c: &ast::Call<'s>) {
        self.expr(&c.expr);
        self.args(&c.args);
    }

    fn args(&mut self, args: &[CallArg<'s>]) {
        for a in args {
            match a {
                CallArg::Pos(x)
                | CallArg::Kwarg(_, x)
                | CallArg::PosSplat(x)
                | CallArg::KwargSplat(x) => self.expr(x),
            }
        }
    }

    fn expr(&mut self, e: &Expr<'s>) {
        match e {
            Expr::Var(v) => {
                if !self.is_bound(v.id) {
                    self.names.top.insert(v.id.to_string());
                    self.names.nested.insert(v.id.to_string());
                }
            }
            Expr::Const(_) => {}
            Expr::GetAttr(g) => {
                // A chain of attributes on a name: recorded whole.
                let mut attrs = vec![g.name];
                let mut inner = &g.expr;
                while let Expr::GetAttr(next) = inner {
                    attrs.push(next.name);
                    inner = &next.expr;
                }
                match inner {
                    Expr::Var(v) if !self.is_bound(v.id) => {
                        self.names.top.insert(v.id.to_string());
                        let mut path = v.id.to_string();
                        for a in attrs.iter().rev() {
                            path.push('.');
                            path.push_str(a);
                        }
                        self.names.nested.insert(path);
                    }
                    other => self.expr(other),
                }
            }
            Expr::GetItem(g) => {
                self.expr(&g.expr);
                self.expr(&g.subscript_expr);
            }
            Expr::Slice(s) => {
                self.expr(&s.expr);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(x);
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                self.expr(&b.left);
                self.expr(&b.right);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                c.ops.iter().for_each(|o| self.expr(&o.expr));
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                if let Some(x) = &i.false_expr {
                    self.expr(x);
                }
            }
            Expr::Filter(f) => {
                if let Some(x) = &f.expr {
                    self.expr(x);
                }
                self.args(&f.args);
            }
            Expr::Test(t) => {
                self.expr(&t.expr);
                self.args(&t.args);
            }
            Expr::Call(c) => self.call(c),
            Expr::List(l) => l.items.iter().for_each(|x| self.expr(x)),
            Expr::Tuple(t) => t.items.iter().for_each(|x| self.expr(x)),
            Expr::Map(m) => {
                m.keys.iter().for_each(|x| self.expr(x));
                m.values.iter().for_each(|x| self.expr(x));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use minijinja::machinery::parse;
    use minijinja::syntax::SyntaxConfig;

    fn nested(source: &str) -> Vec<String> {
        let tree = parse(source, "t", SyntaxConfig::default()).unwrap();
        let mut out: Vec<String> = super::of(&tree).nested.into_iter().collect();
        out.sort();
        out
    }

    #[test]
    fn every_expression_is_visited() {
        assert_eq!(nested("{{ env.TOKEN[1:] }}"), ["env.TOKEN"]);
        assert_eq!(
            nested("{% filter replace('a', env.X) %}{{ vars.y }}{% endfilter %}"),
            ["env.X", "vars.y"]
        );
        assert_eq!(
            nested("{% set t | replace('a', env.X) %}b{% endset %}{{ t }}"),
            ["env.X"]
        );
        assert_eq!(
            nested("{% for x in steps.a.items %}{{ x.id }}{{ loop.index }}{% endfor %}"),
            ["steps.a.items"]
        );
        assert_eq!(
            nested("{% set x = env.A %}{{ x }}{{ steps['b'].c }}"),
            ["env.A", "steps"]
        );
    }
}
