//! Checks of a param's bounds, fields and items (`spec::shape`): each bound
//! suits the type it is given to (`minimum` a number, `min_length` a
//! string, `fields` an object, `items` an array), lower bounds are not
//! above upper ones, and every field's `enum` and `server_default` fit it.

use crate::error::{Diagnostic, Loc};
use crate::spec::{Field, ParamType, Shape};

/// The diagnostics of the shape of param `name` of type `ty`, at `loc`.
pub(super) fn check(name: &str, ty: ParamType, shape: &Shape, loc: &Loc) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    walk(&format!("param `{name}`"), ty, shape, loc, &mut out);
    out
}

fn walk(what: &str, ty: ParamType, shape: &Shape, loc: &Loc, out: &mut Vec<Diagnostic>) {
    let fits = |types: &[ParamType]| ty == ParamType::Any || types.contains(&ty);
    let mut refuse = |key: &str, types: &[ParamType], given: bool| {
        if given && !fits(types) {
            let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
            out.push(Diagnostic::new(
                format!(
                    "{what}: `{key}` applies to {} values, not `type: {}`",
                    names.join(" and "),
                    ty.name()
                ),
                Some(loc.child(key)),
            ));
        }
    };
    let numbers = [ParamType::Integer, ParamType::Number];
    refuse("minimum", &numbers, shape.minimum.is_some());
    refuse("maximum", &numbers, shape.maximum.is_some());
    refuse(
        "min_length",
        &[ParamType::String],
        shape.min_length.is_some(),
    );
    refuse(
        "max_length",
        &[ParamType::String],
        shape.max_length.is_some(),
    );
    refuse("pattern", &[ParamType::String], shape.pattern.is_some());
    refuse("min_items", &[ParamType::Array], shape.min_items.is_some());
    refuse("max_items", &[ParamType::Array], shape.max_items.is_some());
    refuse("items", &[ParamType::Array], shape.items.is_some());
    refuse("fields", &[ParamType::Object], !shape.fields.is_empty());
    let lower_above = match (&shape.minimum, &shape.maximum) {
        (Some(min), Some(max)) => min.as_f64() > max.as_f64(),
        _ => false,
    };
    let ordered = [
        ("minimum", "maximum", lower_above),
        (
            "min_length",
            "max_length",
            matches!((shape.min_length, shape.max_length), (Some(a), Some(b)) if a > b),
        ),
        (
            "min_items",
            "max_items",
            matches!((shape.min_items, shape.max_items), (Some(a), Some(b)) if a > b),
        ),
    ];
    for (low, high, wrong) in ordered {
        if wrong {
            out.push(Diagnostic::new(
                format!("{what}: `{low}` is above `{high}`, so no value is allowed"),
                Some(loc.child(low)),
            ));
        }
    }
    for (name, field) in &shape.fields {
        let at = loc.child("fields").child(name);
        field_checks(&format!("{what}, field `{name}`"), field, &at, out);
    }
    if let Some(items) = &shape.items {
        field_checks(&format!("{what}, items"), items, &loc.child("items"), out);
    }
}

fn field_checks(what: &str, field: &Field, loc: &Loc, out: &mut Vec<Diagnostic>) {
    if let Some(allowed) = &field.allowed {
        for (i, value) in allowed.iter().enumerate() {
            if let Err(e) = crate::spec::coerce::coerce(field.ty, value.clone()) {
                out.push(Diagnostic::new(
                    format!("{what}: `enum` value {i}: {e}"),
                    Some(loc.child("enum")),
                ));
            }
        }
    }
    if let Some(default) = &field.server_default
        && let Err(e) = field.conform(default.clone())
    {
        out.push(Diagnostic::new(
            format!("{what}: server default: {e}"),
            Some(loc.child("server_default")),
        ));
    }
    if let Some(shape) = &field.shape {
        walk(what, field.ty, shape, loc, out);
    }
}
