//! Templates that are exactly one path into the context —
//! `{{ steps.issue.response.number }}`, `{{ inputs.repo }}`, `{{ item }}`,
//! `{{ vars.labels[0] }}` — the most common kind in a workflow, read
//! directly instead of through the template engine: nothing to compile,
//! and the same value, the same reads recorded (env, tracked leaves) and
//! the same errors as minijinja gives in strict mode.

use minijinja::machinery::ast::{Expr, Stmt};
use minijinja::value::Value as JValue;

use super::{BUILTINS, STATUS_FUNCTIONS, Scope, TemplateError};

/// One step of a path.
#[derive(Debug, Clone)]
enum Key {
    /// `.name`
    Attr(String),
    /// `[constant]`
    Item(JValue),
}

/// A root name and the steps below it.
#[derive(Debug, Clone)]
pub(super) struct Path {
    root: String,
    keys: Vec<Key>,
}

impl Path {
    /// The path `tree` is, when it is one `{{ path }}` and nothing else.
    pub(super) fn of(tree: &Stmt) -> Option<Path> {
        let Stmt::Template(t) = tree else { return None };
        let [Stmt::EmitExpr(emit)] = t.children.as_slice() else {
            return None;
        };
        let mut keys = Vec::new();
        let mut cur = &emit.expr;
        loop {
            match cur {
                Expr::Var(v) => {
                    let root = v.id;
                    if BUILTINS.contains(&root) || STATUS_FUNCTIONS.contains(&root) {
                        return None;
                    }
                    keys.reverse();
                    return Some(Path {
                        root: root.to_string(),
                        keys,
                    });
                }
                Expr::GetAttr(g) => {
                    keys.push(Key::Attr(g.name.to_string()));
                    cur = &g.expr;
                }
                Expr::GetItem(g) => match &g.subscript_expr {
                    Expr::Const(c) => {
                        keys.push(Key::Item(c.value.clone()));
                        cur = &g.expr;
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// The value at the path; `Ok(None)` when it is undefined.
    pub(super) fn read(&self, scope: &Scope) -> Result<Option<JValue>, TemplateError> {
        let mut value = scope.root(&self.root).unwrap_or(JValue::UNDEFINED);
        for (i, key) in self.keys.iter().enumerate() {
            if value.is_undefined() {
                // Strict undefined: reading below an undefined value fails,
                // naming it as minijinja does.
                return Err(TemplateError(format!(
                    "undefined value: `{}` is undefined",
                    self.shown(i)
                )));
            }
            value = match key {
                Key::Attr(name) => value.get_attr(name),
                Key::Item(k) => value.get_item(k),
            }
            .map_err(TemplateError::from)?;
        }
        Ok((!value.is_undefined()).then_some(value))
    }

    /// The path's first `n` keys as minijinja names an undefined value.
    fn shown(&self, n: usize) -> String {
        let mut out = self.root.clone();
        for key in &self.keys[..n] {
            match key {
                Key::Attr(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Key::Item(k) => out.push_str(&format!("[{k:?}]")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Templates, to_value};
    use super::*;
    use serde_json::json;

    /// Each path reads what the engine reads, and fails as it fails.
    #[test]
    fn paths_agree_with_the_engine() {
        let scope = Scope::new(std::sync::Arc::new(
            [("X".to_string(), "x-value".to_string())].into(),
        ))
        .with(
            "steps",
            to_value(
                &json!({"a": {"response": {"id": 1, "n": null, "l": [1, 2], "m": {"k": "v"}}}}),
            ),
        );
        for src in [
            "{{ nope }}",
            "{{ steps.b }}",
            "{{ steps.b.x }}",
            "{{ steps['b'].x }}",
            "{{ steps.a.response.missing }}",
            "{{ steps.a.response.n.x }}",
            "{{ steps.a.response.l[5] }}",
            "{{ steps.a.response['id'] }}",
            "{{ steps.a.response.id.x }}",
            "{{ steps.a.response.l.0 }}",
            "{{ steps.a.response.m }}",
            "{{ steps.a.response.n }}",
            "{{ env.X }}",
            "{{ env.Y }}",
        ] {
            let tree =
                minijinja::machinery::parse(src, "t", minijinja::syntax::SyntaxConfig::default())
                    .unwrap();
            let path = Path::of(&tree).unwrap_or_else(|| panic!("{src} is a path"));
            let mut t = Templates::new();
            t.add(src).unwrap();
            let engine = t.render_with_engine(src, &scope);
            let direct = path.read(&scope).and_then(|v| match v {
                Some(v) => super::super::to_json(&v),
                None => Err(TemplateError("undefined value".into())),
            });
            assert_eq!(direct, engine, "{src}");
        }
        for src in [
            "{{ range }}",
            "{{ x | upper }}",
            "a{{ x }}",
            "{{ x[y] }}",
            "{{ x.y() }}",
            "{{ x[-1] }}",
        ] {
            let tree =
                minijinja::machinery::parse(src, "t", minijinja::syntax::SyntaxConfig::default())
                    .unwrap();
            assert!(Path::of(&tree).is_none(), "{src}");
        }
    }
}
