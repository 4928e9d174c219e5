//! The request body as a description: JSON, form fields, multipart parts
//! or a raw body, with every file named but never read (`execute` streams
//! files from disk when it sends, and checks them before).

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::form;
use super::{FileParam, Params};
use crate::spec::{Action, ArrayStyle, BodyFormat, Param, ParamIn, ParamType};
use crate::units::show_size;

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    /// `application/x-www-form-urlencoded` fields, in order.
    Form(Vec<(String, String)>),
    /// `multipart/form-data` parts, in order.
    Multipart(Vec<Part>),
    /// One param as the whole body.
    Raw {
        content_type: String,
        content: Raw,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub content: PartContent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartContent {
    Text(String),
    File(Upload),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Text(String),
    File(Upload),
}

/// A file a body sends: named here, checked and read by `execute`.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// The param whose value names it.
    pub param: String,
    /// The path as the value gives it (or its template, in plan).
    pub shown: String,
    /// `shown`, resolved against where its text came from (see
    /// [`FileParam`]); symbolic links not resolved yet.
    pub path: PathBuf,
    /// The name a multipart part gives it: the last part of the path.
    pub file_name: String,
    pub content_type: String,
    /// The file the checks before sending found and allowed; what is
    /// opened when the request is sent.
    pub checked: Option<Checked>,
    /// The path waits for an earlier step (plan only): nothing to check yet.
    pub deferred: bool,
}

/// Which file a file on disk is: its device and inode on Unix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub device: u64,
    pub inode: u64,
}

/// The file an upload reads, as the checks before sending found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Absolute, with every symbolic link resolved: what is opened.
    pub path: PathBuf,
    /// How output shows it: relative to the current directory when it is
    /// inside it, else absolute.
    pub shown: String,
    pub size: u64,
    /// The file itself, so the one opened when sending is known to be the
    /// one checked (Unix).
    pub id: Option<FileId>,
}

impl Upload {
    /// `@path (type, size)`: how plan shows it, with the file it reads
    /// when that is not the path as given (`@a.txt -> specs/a.txt`).
    pub fn describe(&self) -> String {
        if self.deferred {
            return format!("@{} (a file, known after earlier steps run)", self.shown);
        }
        match &self.checked {
            Some(c) if c.shown == self.shown => format!(
                "@{} ({}, {})",
                self.shown,
                self.content_type,
                show_size(c.size)
            ),
            Some(c) => format!(
                "@{} -> {} ({}, {})",
                self.shown,
                c.shown,
                self.content_type,
                show_size(c.size)
            ),
            None => format!("@{} ({})", self.shown, self.content_type),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "file": self.shown,
            "reads": self.checked.as_ref().map(|c| &c.shown),
            "content_type": self.content_type,
            "size": self.checked.as_ref().map(|c| c.size),
        })
    }
}

impl Body {
    /// The `Content-Type` it is sent with (a multipart boundary is added
    /// when it is sent).
    pub fn content_type(&self) -> &str {
        match self {
            Body::Json(_) => "application/json",
            Body::Form(_) => "application/x-www-form-urlencoded",
            Body::Multipart(_) => "multipart/form-data",
            Body::Raw { content_type, .. } => content_type,
        }
    }

    /// The bytes of a body held in memory; `None` for multipart and file
    /// bodies, which are built when sent.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Body::Json(v) => Some(serde_json::to_vec(v).unwrap_or_default()),
            Body::Form(pairs) => Some(form::encode(pairs).into_bytes()),
            Body::Raw {
                content: Raw::Text(text),
                ..
            } => Some(text.clone().into_bytes()),
            Body::Multipart(_) | Body::Raw { .. } => None,
        }
    }

    /// Every file the body sends.
    pub fn files_mut(&mut self) -> Vec<&mut Upload> {
        match self {
            Body::Multipart(parts) => parts
                .iter_mut()
                .filter_map(|p| match &mut p.content {
                    PartContent::File(f) => Some(f),
                    PartContent::Text(_) => None,
                })
                .collect(),
            Body::Raw {
                content: Raw::File(f),
                ..
            } => vec![f],
            _ => Vec::new(),
        }
    }

    /// How reports show the body: JSON as itself, a form as its encoded
    /// text, multipart as its parts, raw as its size; file contents never.
    pub fn to_json(&self) -> Value {
        match self {
            Body::Json(v) => v.clone(),
            Body::Form(pairs) => Value::String(form::encode(pairs)),
            Body::Multipart(parts) => Value::Array(
                parts
                    .iter()
                    .map(|p| match &p.content {
                        PartContent::Text(text) => json!({"name": p.name, "value": text}),
                        PartContent::File(f) => {
                            let mut v = f.to_json();
                            v["name"] = Value::String(p.name.clone());
                            v
                        }
                    })
                    .collect(),
            ),
            Body::Raw {
                content_type,
                content,
            } => match content {
                Raw::Text(text) => json!({"content_type": content_type, "size": text.len()}),
                Raw::File(f) => f.to_json(),
            },
        }
    }

    /// How plan shows the body, line by line.
    pub fn describe(&self) -> Vec<String> {
        match self {
            Body::Json(v) => serde_json::to_string_pretty(v)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect(),
            Body::Form(pairs) => vec![form::encode(pairs)],
            Body::Multipart(parts) => parts
                .iter()
                .map(|p| match &p.content {
                    PartContent::Text(text) => format!("{}: {text}", p.name),
                    PartContent::File(f) => format!("{}: {}", p.name, f.describe()),
                })
                .collect(),
            Body::Raw {
                content_type,
                content,
            } => vec![match content {
                Raw::Text(text) => format!("({} bytes of {content_type})", text.len()),
                Raw::File(f) => f.describe(),
            }],
        }
    }
}

/// Why a body cannot be built from its params and auth's `body` fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    /// Auth's `body` fields and a whole-body param that is no object.
    #[error(
        "auth `body` fields cannot be merged into a body that is not an object (param `{param}` is the whole body)"
    )]
    MergeIntoWhole { param: String },
    #[error("auth `body` fields cannot be merged into a raw body")]
    MergeIntoRaw,
    /// A whole-body form or multipart param that is no object; `found` as
    /// [`crate::spec::coerce::describe`] shows it.
    #[error(
        "param `{param}` is the whole body, so it must be an object whose fields are the body's fields; found {found}"
    )]
    WholeNotObject { param: String, found: String },
}

/// The file `param` uploads, named by `value`: the path as resolved when
/// the params were rendered, its file name, its content type (`None`:
/// guessed from its extension). Not checked yet.
fn upload(params: &Params, param: &Param, value: &Value, content_type: Option<&str>) -> Upload {
    let shown = form::scalar_text(value);
    let resolved: Option<&FileParam> = params
        .files
        .iter()
        .find(|(n, _)| *n == param.name)
        .map(|(_, f)| f);
    let path = resolved.map_or_else(|| PathBuf::from(&shown), |f| f.path.clone());
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let content_type = match content_type {
        Some(t) => t.to_string(),
        None => mime_guess::from_path(&path)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_string(),
    };
    Upload {
        param: param.name.clone(),
        shown,
        path,
        file_name,
        content_type,
        checked: None,
        deferred: params.deferred.contains(&param.name),
    }
}

/// The body of `action` from its body params, with auth's `body` fields
/// merged in (over the params). `None` when nothing goes in the body.
pub(super) fn build(
    action: &Action,
    params: &Params,
    auth_body: Option<&Map<String, Value>>,
) -> Result<Option<Body>, BodyError> {
    let auth_body = auth_body.filter(|b| !b.is_empty());
    let in_body: Vec<(&Param, &Value)> = params
        .values
        .iter()
        .filter_map(|(name, v)| Some((action.params.get(name)?, v)))
        .filter(|(p, _)| p.placement == ParamIn::Body)
        .collect();
    let whole = in_body.iter().find(|(p, _)| p.whole_body).copied();
    let deferred = |name: &str| params.deferred.iter().any(|d| d == name);
    let file = |param: &Param, value: &Value, content_type: Option<&str>| {
        upload(params, param, value, content_type)
    };
    Ok(match action.body_format {
        BodyFormat::Json => match whole {
            Some((param, value)) => {
                let mut value = value.clone();
                if let Some(extra) = auth_body {
                    match &mut value {
                        Value::Object(map) => map.extend(extra.clone()),
                        _ => {
                            return Err(BodyError::MergeIntoWhole {
                                param: param.name.clone(),
                            });
                        }
                    }
                }
                Some(Body::Json(value))
            }
            None => {
                let mut fields = Map::new();
                for (param, value) in &in_body {
                    fields.insert(param.wire().to_string(), (*value).clone());
                }
                if let Some(extra) = auth_body {
                    fields.extend(extra.clone());
                }
                (!fields.is_empty()).then_some(Body::Json(Value::Object(fields)))
            }
        },
        BodyFormat::Form => {
            let mut pairs = Vec::new();
            for (param, value) in &in_body {
                named_fields(param, value, deferred(&param.name), &mut pairs)?;
            }
            for (k, v) in auth_body.into_iter().flatten() {
                form::fields(k, v, ArrayStyle::Repeat, &mut pairs);
            }
            (!pairs.is_empty()).then_some(Body::Form(pairs))
        }
        BodyFormat::Multipart => {
            let mut parts = Vec::new();
            for (param, value) in &in_body {
                if param.ty == ParamType::File {
                    parts.push(Part {
                        name: param.wire().to_string(),
                        content: PartContent::File(file(param, value, None)),
                    });
                    continue;
                }
                let mut pairs = Vec::new();
                named_fields(param, value, deferred(&param.name), &mut pairs)?;
                parts.extend(pairs.into_iter().map(text_part));
            }
            let mut pairs = Vec::new();
            for (k, v) in auth_body.into_iter().flatten() {
                form::fields(k, v, ArrayStyle::Repeat, &mut pairs);
            }
            parts.extend(pairs.into_iter().map(text_part));
            (!parts.is_empty()).then_some(Body::Multipart(parts))
        }
        BodyFormat::Raw => {
            if auth_body.is_some() {
                return Err(BodyError::MergeIntoRaw);
            }
            let content_type = action.raw_content_type().to_string();
            match in_body.first() {
                None => None,
                Some((param, value)) if param.ty == ParamType::File => Some(Body::Raw {
                    content: Raw::File(file(param, value, Some(&content_type))),
                    content_type,
                }),
                Some((_, value)) => Some(Body::Raw {
                    content_type,
                    content: Raw::Text(form::scalar_text(value)),
                }),
            }
        }
    })
}

fn text_part((name, text): (String, String)) -> Part {
    Part {
        name,
        content: PartContent::Text(text),
    }
}

/// The form fields of one body param: under its wire name, or, for a
/// whole-body param, its object's own fields.
fn named_fields(
    param: &Param,
    value: &Value,
    deferred: bool,
    out: &mut Vec<(String, String)>,
) -> Result<(), BodyError> {
    let style = param.array_style();
    if !param.whole_body {
        form::fields(param.wire(), value, style, out);
        return Ok(());
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                form::fields(k, v, style, out);
            }
            Ok(())
        }
        // Still a template (plan): shown as written.
        _ if deferred => {
            out.push((param.name.clone(), form::scalar_text(value)));
            Ok(())
        }
        other => Err(BodyError::WholeNotObject {
            param: param.name.clone(),
            found: crate::spec::coerce::describe(other),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The action `name` of a small catalog.
    fn action(name: &str) -> std::sync::Arc<Action> {
        let wf = crate::load_str(
            "t.yaml",
            r#"version: 1
apps:
  a:
    base_url: https://api.example.com
    actions:
      TAGS: {method: PUT, path: /t, params: {tags: {type: array, whole_body: true}}}
      FORM: {method: POST, path: /f, body_format: form, params: {all: {type: any, whole_body: true}}}
      RAW: {method: POST, path: /r, body_format: raw, params: {text: {type: string}}}
      JSON: {method: POST, path: /j, params: {n: {type: integer, name: "+1"}}}
"#,
        )
        .expect("valid");
        wf.spec.action(name).expect("action").clone()
    }

    fn params(values: Vec<(&str, Value)>) -> Params {
        Params {
            values: values
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            deferred: Vec::new(),
            files: Vec::new(),
        }
    }

    fn auth_body() -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("team".into(), json!("core"));
        map
    }

    #[test]
    fn json_fields_go_by_wire_name_and_auth_fields_win() {
        let body = build(
            &action("JSON"),
            &params(vec![("n", json!(1))]),
            Some(&auth_body()),
        );
        assert_eq!(body, Ok(Some(Body::Json(json!({"+1": 1, "team": "core"})))));
        assert_eq!(build(&action("JSON"), &params(vec![]), None), Ok(None));
    }

    #[test]
    fn a_whole_body_that_is_no_object_takes_no_auth_fields() {
        let p = params(vec![("tags", json!(["a"]))]);
        assert_eq!(
            build(&action("TAGS"), &p, None),
            Ok(Some(Body::Json(json!(["a"]))))
        );
        assert_eq!(
            build(&action("TAGS"), &p, Some(&auth_body())),
            Err(BodyError::MergeIntoWhole {
                param: "tags".to_string()
            })
        );
        assert!(
            build(
                &action("RAW"),
                &params(vec![("text", json!("x"))]),
                Some(&auth_body())
            )
            .is_err()
        );
    }

    #[test]
    fn a_whole_form_body_must_be_an_object() {
        let ok = build(
            &action("FORM"),
            &params(vec![("all", json!({"a": [1, 2]}))]),
            None,
        );
        assert_eq!(
            ok,
            Ok(Some(Body::Form(vec![
                ("a".to_string(), "1".to_string()),
                ("a".to_string(), "2".to_string())
            ])))
        );
        let err = build(&action("FORM"), &params(vec![("all", json!([1]))]), None).unwrap_err();
        assert!(err.to_string().contains("must be an object"), "{err}");
    }

    #[test]
    fn raw_text_is_shown_by_size() {
        let body = build(
            &action("RAW"),
            &params(vec![("text", json!("héllo"))]),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(body.bytes(), Some("héllo".as_bytes().to_vec()));
        assert_eq!(body.describe(), ["(6 bytes of application/octet-stream)"]);
        assert_eq!(body.content_type(), "application/octet-stream");
    }
}
