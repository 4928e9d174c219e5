//! Lowering a param's bounds, fields and items (`spec::shape`): values
//! converted to JSON, patterns compiled once, a field without a `type`
//! taken as `any`. Whether each bound suits the param's type is `check`'s.

use indexmap::IndexMap;

use super::Lower;
use crate::error::Diagnostic;
use crate::source::child;
use crate::spec::raw;
use crate::spec::{Bounds, Field, ParamType, Pattern, Shape};

/// Nesting past this is refused: catalogs stop well before it, and the
/// checks recurse.
const MAX_DEPTH: usize = 16;

impl Lower {
    /// The shape at `path`, or `None` when it says nothing.
    pub(super) fn shape(
        &mut self,
        path: &str,
        bounds: Bounds,
        fields: Option<IndexMap<String, raw::Field>>,
        items: Option<Box<raw::Field>>,
    ) -> Option<Box<Shape>> {
        self.shape_at(path, bounds, fields, items, 0)
    }

    fn shape_at(
        &mut self,
        path: &str,
        bounds: Bounds,
        fields: Option<IndexMap<String, raw::Field>>,
        items: Option<Box<raw::Field>>,
        depth: usize,
    ) -> Option<Box<Shape>> {
        if depth > MAX_DEPTH && (fields.is_some() || items.is_some()) {
            self.diagnostics.push(Diagnostic::new(
                format!("fields and items nest deeper than {MAX_DEPTH} levels"),
                Some(self.loc(path)),
            ));
            return None;
        }
        let pattern = bounds
            .pattern
            .and_then(|source| match regex::Regex::new(&source) {
                Ok(regex) => Some(Pattern { source, regex }),
                Err(e) => {
                    self.diagnostics.push(Diagnostic::new(
                        format!("`pattern` is not a valid regular expression: {e}"),
                        Some(self.loc(&child(path, "pattern"))),
                    ));
                    None
                }
            });
        let fields = fields
            .unwrap_or_default()
            .into_iter()
            .map(|(name, raw)| {
                let at = child(&child(path, "fields"), &name);
                let field = self.field(&at, raw, depth);
                (name, field)
            })
            .collect();
        let items = items.map(|raw| Box::new(self.field(&child(path, "items"), *raw, depth)));
        let shape = Shape {
            minimum: bounds.minimum,
            maximum: bounds.maximum,
            min_length: bounds.min_length,
            max_length: bounds.max_length,
            pattern,
            min_items: bounds.min_items,
            max_items: bounds.max_items,
            fields,
            items,
        };
        (!shape.is_empty()).then(|| Box::new(shape))
    }

    fn field(&mut self, path: &str, raw: raw::Field, depth: usize) -> Field {
        let allowed = raw.allowed.map(|values| {
            let at = child(path, "enum");
            values
                .into_iter()
                .enumerate()
                .filter_map(|(i, v)| self.json(&crate::source::item(&at, i), v))
                .collect()
        });
        let server_default = raw
            .server_default
            .and_then(|d| self.json(&child(path, "server_default"), d));
        let shape = self.shape_at(
            path,
            Bounds {
                minimum: raw.minimum,
                maximum: raw.maximum,
                min_length: raw.min_length,
                max_length: raw.max_length,
                pattern: raw.pattern,
                min_items: raw.min_items,
                max_items: raw.max_items,
            },
            raw.fields,
            raw.items,
            depth + 1,
        );
        Field {
            ty: raw.ty.unwrap_or(ParamType::Any),
            required: raw.required,
            allowed,
            description: raw.description,
            server_default,
            shape,
        }
    }
}
