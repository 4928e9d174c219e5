//! Checks of one action alone (its params and its body), once however many
//! steps use it: types and defaults, `enum`, wire names, `whole_body`,
//! `array_style`, `type: file`, and what each `body_format` needs.

use serde_json::Value;

use crate::error::{Diagnostic, Loc, ticked};
use crate::http::header;
use crate::spec::coerce::{ValueError, coerce};
use crate::spec::{Action, BodyFormat, Param, ParamIn, ParamType};

/// Why `value` cannot be the value of `param`: not of its type, or not one
/// of its `enum`.
pub(super) fn value_error(param: &Param, value: &Value) -> Option<ValueError> {
    param.conform(value.clone()).err()
}

/// The diagnostics of one action, in the order its checks find them.
struct Errors(Vec<Diagnostic>);

impl Errors {
    fn add(&mut self, message: String, loc: &Loc) {
        self.0.push(Diagnostic::new(message, Some(loc.clone())));
    }
}

pub(super) fn check(action: &Action) -> Vec<Diagnostic> {
    let mut errors = Errors(Vec::new());
    let in_body: Vec<&Param> = action
        .params
        .values()
        .filter(|p| p.placement == ParamIn::Body)
        .collect();
    for (name, param) in &action.params {
        enum_values(&mut errors, name, param);
        default_value(&mut errors, name, param);
        wire_name(&mut errors, name, param);
        whole_body(&mut errors, name, param, &in_body, action.body_format);
        array_style(&mut errors, name, param, action.body_format);
        file_param(&mut errors, name, param, action.body_format);
        if let Some(shape) = &param.shape {
            errors
                .0
                .extend(super::shape::check(name, param.ty, shape, &param.loc));
        }
    }
    same_wire_names(&mut errors, action);
    raw_body(&mut errors, action, &in_body);
    content_type(&mut errors, action);
    errors.0
}

/// `enum:`: for types it applies to, not empty, each value of the type.
fn enum_values(errors: &mut Errors, name: &str, param: &Param) {
    let Some(allowed) = &param.allowed else {
        return;
    };
    let at = param.loc.child("enum");
    if matches!(param.ty, ParamType::Object | ParamType::File) {
        errors.add(
            format!(
                "param `{name}`: `enum` does not apply to `type: {}` params",
                param.ty.name()
            ),
            &at,
        );
    } else if allowed.is_empty() {
        errors.add(
            format!("param `{name}`: `enum` is empty, so no value is allowed"),
            &at,
        );
    } else if param.ty != ParamType::Array {
        for (i, value) in allowed.iter().enumerate() {
            if let Err(e) = coerce(param.ty, value.clone()) {
                errors.add(format!("param `{name}`: `enum` value {i}: {e}"), &at);
            }
        }
    }
}

/// `default:` and `server_default:`: values the param could have (of its
/// type, one of its `enum`, within its bounds).
fn default_value(errors: &mut Errors, name: &str, param: &Param) {
    // An empty `enum` is said once, by `enum_values`.
    if param.allowed.as_ref().is_some_and(Vec::is_empty) {
        return;
    }
    for (key, value) in [
        ("default", &param.default),
        ("server_default", &param.server_default),
    ] {
        if let Some(value) = value
            && let Err(e) = param.conform(value.clone())
        {
            let key_shown = key.replace('_', " ");
            errors.add(
                format!("{key_shown} of param `{name}`: {e}"),
                &param.loc.child(key),
            );
        }
    }
}

/// `name:` (the wire name), or the param's own name for a header.
fn wire_name(errors: &mut Errors, name: &str, param: &Param) {
    if let Some(wire) = &param.wire_name {
        let at = param.loc.child("name");
        if wire.is_empty() {
            errors.add(format!("param `{name}`: `name` is empty"), &at);
        } else if param.whole_body {
            errors.add(
                format!(
                    "param `{name}`: a `whole_body` param is the body itself, so it has no `name` on the wire"
                ),
                &at,
            );
        } else if param.placement == ParamIn::Header
            && let Err(e) = header::check_name(wire)
        {
            errors.add(format!("param `{name}`: {e}"), &at);
        }
    } else if param.placement == ParamIn::Header && header::check_name(name).is_err() {
        errors.add(
            format!("param `{name}` is `in: header` but `{name}` is not a valid header name"),
            &param.loc,
        );
    }
}

/// `whole_body:`: in the body, the only such param, an object for form and
/// multipart bodies; and no other body param beside one.
fn whole_body(
    errors: &mut Errors,
    name: &str,
    param: &Param,
    in_body: &[&Param],
    format: BodyFormat,
) {
    if param.whole_body {
        let at = param.loc.child("whole_body");
        if param.placement != ParamIn::Body {
            errors.add(
                format!("param `{name}` is `whole_body: true` but not `in: body`"),
                &at,
            );
        } else if let Some(first) = in_body.iter().find(|p| p.whole_body)
            && first.name != *name
        {
            errors.add(
                format!(
                    "param `{name}` is `whole_body: true`, and so is `{}`: an action has one body",
                    first.name
                ),
                &at,
            );
        } else if matches!(format, BodyFormat::Form | BodyFormat::Multipart)
            && !matches!(param.ty, ParamType::Object | ParamType::Any)
        {
            errors.add(
                format!(
                    "param `{name}` is the whole body of a `body_format: {}` action, so it must be `type: object` (its fields are the body's fields), not `{}`",
                    format.name(),
                    param.ty.name()
                ),
                &at,
            );
        }
    } else if param.placement == ParamIn::Body
        && let Some(whole) = in_body.iter().find(|p| p.whole_body)
    {
        errors.add(
            format!(
                "param `{name}` is `in: body`, but `{}` is `whole_body: true` and is the entire body",
                whole.name
            ),
            &param.loc,
        );
    }
}

/// `array_style:`: only for arrays, and only where arrays are spelled out
/// as fields (queries, form and multipart bodies).
fn array_style(errors: &mut Errors, name: &str, param: &Param, format: BodyFormat) {
    if param.array_style_given.is_none() {
        return;
    }
    let at = param.loc.child("array_style");
    if !matches!(
        param.ty,
        ParamType::Array | ParamType::Object | ParamType::Any
    ) {
        errors.add(
            format!(
                "param `{name}`: `array_style` applies to arrays (and arrays inside objects), not to `type: {}`",
                param.ty.name()
            ),
            &at,
        );
    } else if !matches!(
        (param.placement, format),
        (ParamIn::Query, _) | (ParamIn::Body, BodyFormat::Form | BodyFormat::Multipart)
    ) {
        errors.add(
            format!(
                "param `{name}`: `array_style` applies to query params and to `form` and `multipart` bodies; {}",
                match param.placement {
                    ParamIn::Body => format!("a `{}` body sends arrays as they are", format.name()),
                    ParamIn::Path => "a path param is sent as one segment".to_string(),
                    _ => "a header param is sent as one value".to_string(),
                }
            ),
            &at,
        );
    }
}

/// `type: file`: in a body that can carry files.
fn file_param(errors: &mut Errors, name: &str, param: &Param, format: BodyFormat) {
    if param.ty != ParamType::File {
        return;
    }
    if param.placement != ParamIn::Body {
        errors.add(
            format!(
                "param `{name}` is `type: file`, which is sent in the body, but it is `in: {}`",
                param.placement.name()
            ),
            &param.loc,
        );
    } else if !matches!(format, BodyFormat::Multipart | BodyFormat::Raw) {
        errors.add(
            format!(
                "param `{name}` is `type: file`, but a `{}` body cannot carry files: use `body_format: multipart` or `raw`",
                format.name()
            ),
            &param.loc,
        );
    }
}

/// Two params sent under one name.
fn same_wire_names(errors: &mut Errors, action: &Action) {
    for (i, (name, param)) in action.params.iter().enumerate() {
        if !matches!(param.placement, ParamIn::Header | ParamIn::Body) || param.whole_body {
            continue;
        }
        let same = |other: &Param| {
            other.placement == param.placement
                && if param.placement == ParamIn::Header {
                    other.wire().eq_ignore_ascii_case(param.wire())
                } else {
                    other.wire() == param.wire()
                }
        };
        if let Some(first) = action.params.values().take(i).find(|p| same(p)) {
            let at = match &param.wire_name {
                Some(_) => param.loc.child("name"),
                None => param.loc.clone(),
            };
            errors.add(
                format!(
                    "params `{}` and `{name}` are both sent as {} `{}`",
                    first.name,
                    if param.placement == ParamIn::Header {
                        "header"
                    } else {
                        "body field"
                    },
                    param.wire()
                ),
                &at,
            );
        }
    }
}

/// `body_format: raw`: exactly one body param, a string or a file.
fn raw_body(errors: &mut Errors, action: &Action, in_body: &[&Param]) {
    if action.body_format != BodyFormat::Raw {
        return;
    }
    let at = action.loc.child("body_format");
    match in_body {
        [] => errors.add(
            format!(
                "action `{}` has `body_format: raw` but no `in: body` param: a raw body is one param, a string or a `type: file`",
                action.name
            ),
            &at,
        ),
        [one] => {
            if !matches!(one.ty, ParamType::String | ParamType::File) {
                errors.add(
                    format!(
                        "param `{}` is the raw body of `{}`, so it must be `type: string` or `type: file`, not `{}`",
                        one.name,
                        action.name,
                        one.ty.name()
                    ),
                    &one.loc,
                );
            }
        }
        several => errors.add(
            format!(
                "action `{}` has `body_format: raw` but {} `in: body` params ({}): a raw body is exactly one",
                action.name,
                several.len(),
                ticked(several.iter().map(|p| p.name.as_str()))
            ),
            &at,
        ),
    }
}

/// `content_type:`: for raw bodies only, a media type fit for a header.
fn content_type(errors: &mut Errors, action: &Action) {
    let Some(content_type) = &action.content_type else {
        return;
    };
    let format = action.body_format;
    let at = action.loc.child("content_type");
    if format != BodyFormat::Raw {
        errors.add(
            format!(
                "`content_type` is for `body_format: raw`; a `{}` body is sent as `{}`",
                format.name(),
                match format {
                    BodyFormat::Form => "application/x-www-form-urlencoded",
                    BodyFormat::Multipart => "multipart/form-data",
                    _ => "application/json",
                }
            ),
            &at,
        );
    } else if !content_type.contains('/') {
        errors.add(
            format!(
                "`content_type` must be a media type like `text/plain`, found `{content_type}`"
            ),
            &at,
        );
    } else if let Err(e) = header::check_value("Content-Type", content_type, "the value of header")
    {
        errors.add(e.to_string(), &at);
    }
}
