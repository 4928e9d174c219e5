//! Schemas as the catalog sees them: `$ref`s followed (chains too, cycles
//! cut), `allOf` merged, `oneOf`/`anyOf` kept as branches, and the one
//! runner type that fits.

use super::error::ImportError;
use crate::spec::ParamType;
use indexmap::IndexMap;
use openapiv3::{
    Components, OpenAPI, Parameter, ReferenceOr, RequestBody, Schema, SchemaKind, SecurityScheme,
    StringFormat, Type, VariantOrUnknownOrEmpty,
};
use serde_json::Value;

/// The longest `$ref` chain or `allOf`/`oneOf` nesting followed.
const MAX_DEPTH: usize = 64;

/// The most schemas one flattening visits.
const FUEL: usize = 10_000;

/// One flattening: the references being followed, to cut cycles, and how
/// many more schemas it may visit.
struct Walk<'a> {
    stack: Vec<&'a str>,
    fuel: usize,
}

/// The OpenAPI `type` a schema declares, as the runner's param type:
/// JSON Schema's names are the runner's, and anything else fits `any`.
fn declared_type(name: &str) -> ParamType {
    match name {
        "string" => ParamType::String,
        "integer" => ParamType::Integer,
        "number" => ParamType::Number,
        "boolean" => ParamType::Boolean,
        "array" => ParamType::Array,
        "object" => ParamType::Object,
        _ => ParamType::Any,
    }
}

/// The type of a JSON value.
fn type_of(value: &Value) -> ParamType {
    match value {
        Value::String(_) => ParamType::String,
        Value::Number(n) if n.is_i64() || n.is_u64() => ParamType::Integer,
        Value::Number(_) => ParamType::Number,
        Value::Bool(_) => ParamType::Boolean,
        Value::Array(_) => ParamType::Array,
        Value::Object(_) => ParamType::Object,
        Value::Null => ParamType::Any,
    }
}

/// The one type accepting values of every type in `types`: their common
/// type; `number` for integers and numbers; `string` for a string with
/// other scalars (the runner turns a number or boolean into a string
/// without loss, and the string branch accepts it); else `any`.
pub(super) fn unify(types: impl IntoIterator<Item = ParamType>) -> ParamType {
    let mut set: Vec<ParamType> = Vec::new();
    for ty in types {
        if !set.contains(&ty) {
            set.push(ty);
        }
    }
    let only = |allowed: &[ParamType]| set.iter().all(|t| allowed.contains(t));
    match set.as_slice() {
        [] => ParamType::Any,
        [one] => *one,
        _ if only(&[ParamType::Integer, ParamType::Number]) => ParamType::Number,
        _ if set.contains(&ParamType::String)
            && only(&[
                ParamType::String,
                ParamType::Integer,
                ParamType::Number,
                ParamType::Boolean,
            ]) =>
        {
            ParamType::String
        }
        _ => ParamType::Any,
    }
}

/// Whether `value` is a literal of type `ty`.
pub(super) fn accepts(ty: ParamType, value: &Value) -> bool {
    match (ty, value) {
        (ParamType::Any, _) => true,
        (ParamType::File, _) => false,
        (ParamType::Number, Value::Number(_)) => true,
        (ty, value) => type_of(value) == ty,
    }
}

/// A schema position: a reference or a schema written in place.
#[derive(Clone, Copy)]
pub(super) enum SchemaRef<'a> {
    Ref(&'a str),
    Inline(&'a Schema),
}

impl<'a> From<&'a ReferenceOr<Schema>> for SchemaRef<'a> {
    fn from(r: &'a ReferenceOr<Schema>) -> Self {
        match r {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Inline(schema),
        }
    }
}

impl<'a> From<&'a ReferenceOr<Box<Schema>>> for SchemaRef<'a> {
    fn from(r: &'a ReferenceOr<Box<Schema>>) -> Self {
        match r {
            ReferenceOr::Reference { reference } => SchemaRef::Ref(reference),
            ReferenceOr::Item(schema) => SchemaRef::Inline(schema),
        }
    }
}

/// A schema flattened: what the catalog needs of it.
#[derive(Default, Clone)]
pub(super) struct Flat<'a> {
    /// The declared type, if any (after `allOf`).
    pub declared: Option<ParamType>,
    /// `type: "null"` and nothing else: dropped from `oneOf`/`anyOf`.
    pub null: bool,
    /// `format: binary` (or 3.1's `contentMediaType`).
    pub binary: bool,
    pub description: Option<&'a str>,
    pub default: Option<&'a Value>,
    pub enumeration: Option<Vec<Value>>,
    pub properties: IndexMap<&'a str, SchemaRef<'a>>,
    pub required: Vec<&'a str>,
    pub read_only: bool,
    pub items: Option<SchemaRef<'a>>,
    /// The `oneOf`/`anyOf` branches, flattened, null branches left out.
    pub branches: Vec<Flat<'a>>,
    pub bounds: Bounds,
}

/// The validation keywords the catalog keeps, in the spec's own form
/// (exclusive bounds of integers as inclusive ones; those of numbers have
/// no catalog form and are dropped).
pub(super) use crate::spec::Bounds;

impl Bounds {
    /// Each bound `self` leaves unset taken from `other`.
    fn or(self, other: Bounds) -> Bounds {
        Bounds {
            minimum: self.minimum.or(other.minimum),
            maximum: self.maximum.or(other.maximum),
            min_length: self.min_length.or(other.min_length),
            max_length: self.max_length.or(other.max_length),
            pattern: self.pattern.or(other.pattern),
            min_items: self.min_items.or(other.min_items),
            max_items: self.max_items.or(other.max_items),
        }
    }

    fn number(n: Option<f64>, exclusive: bool) -> Option<serde_json::Number> {
        let n = n.filter(|_| !exclusive)?;
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            return Some((n as i64).into());
        }
        serde_json::Number::from_f64(n)
    }

    /// A pattern the runner can check (Rust's `regex` lacks look-around
    /// and back-references): one it cannot is dropped, not guessed at.
    fn pattern(pattern: Option<&String>) -> Option<String> {
        pattern.filter(|p| regex::Regex::new(p).is_ok()).cloned()
    }
}

impl<'a> Flat<'a> {
    /// The runner type: the declared one, else what the properties, items,
    /// enum or branches imply, else `any`. `file` is for the caller to decide.
    pub(super) fn ty(&self) -> ParamType {
        if let Some(ty) = self.declared {
            return ty;
        }
        if !self.properties.is_empty() {
            return ParamType::Object;
        }
        if self.items.is_some() {
            return ParamType::Array;
        }
        if let Some(values) = &self.enumeration {
            return unify(values.iter().map(type_of));
        }
        if !self.branches.is_empty() {
            return unify(self.branches.iter().map(Flat::ty));
        }
        if !self.required.is_empty() {
            return ParamType::Object;
        }
        ParamType::Any
    }

    /// The allowed values: the enum, or the union of the branches' enums
    /// when every branch has one.
    pub(super) fn enum_values(&self) -> Option<Vec<Value>> {
        if let Some(values) = &self.enumeration {
            return Some(values.clone());
        }
        if self.branches.is_empty() {
            return None;
        }
        let mut union: Vec<Value> = Vec::new();
        for branch in &self.branches {
            for value in branch.enum_values()? {
                if !union.contains(&value) {
                    union.push(value);
                }
            }
        }
        Some(union)
    }

    /// Whether this is an object shape: properties or required names, and no
    /// other declared type.
    pub(super) fn is_object(&self) -> bool {
        self.ty() == ParamType::Object
    }

    /// `other` (an `allOf` member) merged in: properties and required names
    /// united, everything else kept from `self` when set.
    fn merge(&mut self, other: Flat<'a>) {
        self.declared = match (self.declared, other.declared) {
            (None, ty) => ty,
            (Some(ParamType::Number), Some(ParamType::Integer)) => Some(ParamType::Integer),
            (ty, _) => ty,
        };
        self.binary |= other.binary;
        self.read_only |= other.read_only;
        self.description = self.description.or(other.description);
        self.default = self.default.or(other.default);
        if self.enumeration.is_none() {
            self.enumeration = other.enumeration;
        }
        for (name, schema) in other.properties {
            self.properties.entry(name).or_insert(schema);
        }
        for name in other.required {
            if !self.required.contains(&name) {
                self.required.push(name);
            }
        }
        self.items = self.items.or(other.items);
        self.branches.extend(other.branches);
        self.bounds = std::mem::take(&mut self.bounds).or(other.bounds);
    }
}

/// Follows references by name into `components`.
pub(super) struct Resolver<'a> {
    components: Option<&'a Components>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(doc: &'a OpenAPI) -> Self {
        Resolver {
            components: doc.components.as_ref(),
        }
    }

    /// The schema at `r`, flattened.
    pub(super) fn flatten(&self, r: SchemaRef<'a>) -> Result<Flat<'a>, ImportError> {
        let mut walk = Walk {
            stack: Vec::new(),
            fuel: FUEL,
        };
        self.flatten_at(r, &mut walk)
    }

    fn flatten_at(&self, r: SchemaRef<'a>, walk: &mut Walk<'a>) -> Result<Flat<'a>, ImportError> {
        // A document can nest `allOf`s so that their expansion grows
        // exponentially: past the budget nothing more is known.
        if walk.fuel == 0 {
            return Ok(Flat::default());
        }
        walk.fuel -= 1;
        let stack = &mut walk.stack;
        let depth = stack.len();
        let mut current = r;
        let schema = loop {
            match current {
                SchemaRef::Inline(schema) => break Some(schema),
                SchemaRef::Ref(reference) => {
                    // A cycle (`A: {$ref: B}`, `B: {allOf: [A]}`) or a chain
                    // too long: nothing more is known.
                    if stack.contains(&reference) || stack.len() >= MAX_DEPTH {
                        break None;
                    }
                    stack.push(reference);
                    let schemas = self.components.map(|c| &c.schemas);
                    current = lookup(schemas, reference, "schemas")?.into();
                }
            }
        };
        let flat = match schema {
            Some(schema) => self.flatten_schema(schema, walk),
            None => Ok(Flat::default()),
        };
        walk.stack.truncate(depth);
        flat
    }

    fn flatten_schema(
        &self,
        schema: &'a Schema,
        walk: &mut Walk<'a>,
    ) -> Result<Flat<'a>, ImportError> {
        let data = &schema.schema_data;
        let mut flat = Flat {
            description: data.description.as_deref(),
            default: data.default.as_ref(),
            read_only: data.read_only,
            ..Flat::default()
        };
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(s)) => {
                flat.declared = Some(ParamType::String);
                flat.binary = matches!(
                    s.format,
                    VariantOrUnknownOrEmpty::Item(StringFormat::Binary)
                );
                flat.enumeration = values(s.enumeration.iter().flatten().cloned());
                flat.bounds.min_length = s.min_length.map(|n| n as u64);
                flat.bounds.max_length = s.max_length.map(|n| n as u64);
                flat.bounds.pattern = Bounds::pattern(s.pattern.as_ref());
            }
            SchemaKind::Type(Type::Number(n)) => {
                flat.declared = Some(ParamType::Number);
                flat.enumeration = values(
                    n.enumeration
                        .iter()
                        .flatten()
                        .filter_map(|f| serde_json::Number::from_f64(*f)),
                );
                flat.bounds.minimum = Bounds::number(n.minimum, n.exclusive_minimum);
                flat.bounds.maximum = Bounds::number(n.maximum, n.exclusive_maximum);
            }
            SchemaKind::Type(Type::Integer(i)) => {
                flat.declared = Some(ParamType::Integer);
                flat.enumeration = values(i.enumeration.iter().flatten().copied());
                // An exclusive bound of an integer is the next integer in.
                flat.bounds.minimum = i
                    .minimum
                    .map(|m| m.saturating_add(i64::from(i.exclusive_minimum)).into());
                flat.bounds.maximum = i
                    .maximum
                    .map(|m| m.saturating_sub(i64::from(i.exclusive_maximum)).into());
            }
            SchemaKind::Type(Type::Boolean(b)) => {
                flat.declared = Some(ParamType::Boolean);
                flat.enumeration = values(b.enumeration.iter().flatten().copied());
            }
            SchemaKind::Type(Type::Object(o)) => {
                flat.declared = Some(ParamType::Object);
                flat.properties = o
                    .properties
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.into()))
                    .collect();
                flat.required = o.required.iter().map(String::as_str).collect();
            }
            SchemaKind::Type(Type::Array(a)) => {
                flat.declared = Some(ParamType::Array);
                flat.items = a.items.as_ref().map(SchemaRef::from);
                flat.bounds.min_items = a.min_items.map(|n| n as u64);
                flat.bounds.max_items = a.max_items.map(|n| n as u64);
            }
            SchemaKind::OneOf { one_of: branches } | SchemaKind::AnyOf { any_of: branches } => {
                flat.branches = self.branches(branches, walk)?;
            }
            SchemaKind::AllOf { all_of } => {
                for member in all_of {
                    let member = self.flatten_at(member.into(), walk)?;
                    flat.merge(member);
                }
            }
            SchemaKind::Not { .. } => flat.declared = Some(ParamType::Any),
            SchemaKind::Any(any) => {
                match any.typ.as_deref() {
                    Some("null") => flat.null = true,
                    Some(name) => flat.declared = Some(declared_type(name)),
                    None => {}
                }
                flat.binary = any.format.as_deref() == Some("binary");
                let listed = any.enumeration.iter().filter(|v| !v.is_null()).cloned();
                flat.enumeration = values(listed);
                flat.properties = any
                    .properties
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.into()))
                    .collect();
                flat.required = any.required.iter().map(String::as_str).collect();
                flat.items = any.items.as_ref().map(SchemaRef::from);
                flat.bounds = Bounds {
                    minimum: Bounds::number(any.minimum, any.exclusive_minimum == Some(true)),
                    maximum: Bounds::number(any.maximum, any.exclusive_maximum == Some(true)),
                    min_length: any.min_length.map(|n| n as u64),
                    max_length: any.max_length.map(|n| n as u64),
                    pattern: Bounds::pattern(any.pattern.as_ref()),
                    min_items: any.min_items.map(|n| n as u64),
                    max_items: any.max_items.map(|n| n as u64),
                };
                for member in &any.all_of {
                    let member = self.flatten_at(member.into(), walk)?;
                    flat.merge(member);
                }
                let mut branches = self.branches(&any.one_of, walk)?;
                branches.extend(self.branches(&any.any_of, walk)?);
                flat.branches.extend(branches);
            }
        }
        Ok(flat)
    }

    fn branches(
        &self,
        branches: &'a [ReferenceOr<Schema>],
        walk: &mut Walk<'a>,
    ) -> Result<Vec<Flat<'a>>, ImportError> {
        let mut out = Vec::new();
        for branch in branches {
            let flat = self.flatten_at(branch.into(), walk)?;
            if !flat.null {
                out.push(flat);
            }
        }
        Ok(out)
    }

    pub(super) fn parameter(
        &self,
        r: &'a ReferenceOr<Parameter>,
    ) -> Result<&'a Parameter, ImportError> {
        follow(r, |reference| {
            lookup(
                self.components.map(|c| &c.parameters),
                reference,
                "parameters",
            )
        })
    }

    pub(super) fn request_body(
        &self,
        r: &'a ReferenceOr<RequestBody>,
    ) -> Result<&'a RequestBody, ImportError> {
        follow(r, |reference| {
            lookup(
                self.components.map(|c| &c.request_bodies),
                reference,
                "requestBodies",
            )
        })
    }

    pub(super) fn security_scheme(
        &self,
        r: &'a ReferenceOr<SecurityScheme>,
    ) -> Result<&'a SecurityScheme, ImportError> {
        follow(r, |reference| {
            lookup(
                self.components.map(|c| &c.security_schemes),
                reference,
                "securitySchemes",
            )
        })
    }
}

/// `Some(values)` unless there are none.
fn values<T: Into<Value>>(values: impl Iterator<Item = T>) -> Option<Vec<Value>> {
    let values: Vec<Value> = values.map(Into::into).collect();
    (!values.is_empty()).then_some(values)
}

/// Follows a chain of references to an item.
fn follow<'a, T>(
    mut r: &'a ReferenceOr<T>,
    next: impl Fn(&'a str) -> Result<&'a ReferenceOr<T>, ImportError>,
) -> Result<&'a T, ImportError> {
    for _ in 0..MAX_DEPTH {
        match r {
            ReferenceOr::Item(item) => return Ok(item),
            ReferenceOr::Reference { reference } => r = next(reference)?,
        }
    }
    let reference = match r {
        ReferenceOr::Reference { reference } => reference.clone(),
        ReferenceOr::Item(_) => String::new(),
    };
    Err(ImportError::Reference {
        reference,
        reason: "the references form a cycle".into(),
    })
}

/// The component `reference` names in `section`.
fn lookup<'a, T>(
    section: Option<&'a IndexMap<String, ReferenceOr<T>>>,
    reference: &str,
    name: &str,
) -> Result<&'a ReferenceOr<T>, ImportError> {
    let error = |reason: String| ImportError::Reference {
        reference: reference.to_string(),
        reason,
    };
    let Some(pointer) = reference.strip_prefix('#') else {
        return Err(error(
            "it points into another file; bundle the description into one file first \
             (e.g. with `npx @redocly/cli bundle`)"
                .into(),
        ));
    };
    let prefix = format!("/components/{name}/");
    let Some(escaped) = pointer.strip_prefix(&prefix) else {
        return Err(error(format!(
            "expected a reference to `#/components/{name}/…` here"
        )));
    };
    let decoded = percent_encoding::percent_decode_str(escaped).decode_utf8_lossy();
    let key = decoded.replace("~1", "/").replace("~0", "~");
    if let Some(found) = section.and_then(|s| s.get(&key)) {
        return Ok(found);
    }
    if key.contains('/') {
        // A deep reference the normalizing pass could not copy: name it as written.
        return Err(ImportError::Reference {
            reference: format!("#/{key}"),
            reason: "the document has nothing there".into(),
        });
    }
    Err(error(format!(
        "the document has no `components.{name}.{key}`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unify_finds_the_one_type_that_fits() {
        assert_eq!(
            unify([ParamType::String, ParamType::String]),
            ParamType::String
        );
        assert_eq!(
            unify([ParamType::Integer, ParamType::Number]),
            ParamType::Number
        );
        assert_eq!(
            unify([ParamType::Number, ParamType::Integer, ParamType::Integer]),
            ParamType::Number
        );
        assert_eq!(
            unify([ParamType::String, ParamType::Integer, ParamType::Boolean]),
            ParamType::String
        );
        assert_eq!(
            unify([ParamType::Integer, ParamType::Boolean]),
            ParamType::Any
        );
        assert_eq!(unify([ParamType::String, ParamType::Array]), ParamType::Any);
        assert_eq!(
            unify([ParamType::Object, ParamType::Object]),
            ParamType::Object
        );
        assert_eq!(unify([]), ParamType::Any);
    }
}
