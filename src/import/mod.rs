//! Importing API descriptions into app catalogs: OpenAPI 3.0 and 3.1, JSON or
//! YAML, to the YAML of one app and its actions.
//!
//! ```
//! let source = r#"
//! openapi: 3.0.3
//! info: {title: Pets, version: "1"}
//! servers: [{url: "https://pets.example/v1"}]
//! paths:
//!   /pets/{petId}:
//!     get:
//!       operationId: getPet
//!       summary: Get a pet
//!       parameters:
//!         - {name: petId, in: path, required: true, schema: {type: integer}}
//!       responses: {"200": {description: ok}}
//! "#;
//! let options = runner::import::Options { app: "pets".into(), ..Default::default() };
//! let catalog = runner::import::openapi(source, &options).unwrap();
//! assert!(catalog.contains("PETS_GET_PET:"));
//! assert!(catalog.contains("path: /pets/{pet_id}"));
//! assert!(catalog.contains("pet_id: {type: integer, required: true, in: path, name: petId}"));
//! ```
//!
//! What the catalog holds, and the rules (see [`openapi`](fn@openapi) for the
//! per-operation ones):
//!
//! - `base_url` is `servers[0].url` with its variables replaced by their
//!   defaults. When the document names no server, or a relative one, it is
//!   `https://example.invalid` (plus the relative path) under a `# TODO`
//!   comment: the catalog stays loadable, and `--base-url APP=URL` or an edit
//!   fixes it. An operation (or path) served from a server of its own gets it
//!   as the action's `base_url` (a relative one is a comment).
//! - The app's `description` is `info.title` and the first sentence of
//!   `info.description`. Descriptions are one line, the first sentence (a
//!   `summary` whole), markdown links reduced to their text, at most 200
//!   characters.
//! - The app gets no `headers`: OpenAPI has no headers sent with every
//!   request, only per-operation parameters, which become params.
//! - Security schemes become a commented-out `auth:` skeleton at the top.
//! - Strings are quoted whenever YAML could read them as anything else.
//!   Output depends only on the input and the options: the same call gives
//!   the same bytes.
//! - `--tag` and `--operation` add up: an operation is kept when it has one
//!   of the tags or is one of the operations. Either naming nothing in the
//!   document is an error with a suggestion.
//!
//! Mapped approximately, since a catalog param is one name, one type and
//! one place:
//!
//! - `oneOf`/`anyOf` bodies: the properties of the object branches united
//!   (required when every object branch requires them; a property only
//!   branches declare allows every branch's enum values, and has a default
//!   only when every branch gives it the same); non-object branches
//!   dropped. Elsewhere the branches' types unify as [`openapi`](fn@openapi) says.
//! - Defaults are the server's: they are written as `server_default`, shown
//!   and never sent.
//! - Bounds (`minimum`, `maximum`, `minLength`, `maxLength`, `pattern`,
//!   `minItems`, `maxItems`) are kept where they suit the param's type, an
//!   integer's exclusive bound as the inclusive one next to it; a number's
//!   exclusive bound, and a pattern Rust's `regex` cannot read (look-around,
//!   back-references), are dropped. The fields of object params and the
//!   items of array params are kept three levels down, a recursive schema
//!   once.
//! - `format` other than `binary`, `multipleOf`, `uniqueItems`, `not`,
//!   `discriminator`, and an `additionalProperties` beside `properties` are
//!   dropped.
//! - Serialization styles: query and header arrays are sent as the runner
//!   sends them (the key repeated), whatever `style`/`explode` say; in a form
//!   body `style: deepObject` gives `array_style: brackets` and every other
//!   style the default `repeat`; `indexed` is never produced. A parameter
//!   described with `content` (JSON in a query string) is a `string` the
//!   caller serializes. Multipart part `contentType`s are dropped, and an
//!   array of files is an `array`.
//! - Relative operation-level `servers`, cookie parameters and cookie API keys, HTTP
//!   auth other than basic and bearer, and 3.1's `mutualTLS` become comments.
//! - A `$ref` with siblings (3.1) is the referenced schema alone, as in 3.0.

mod auth;
mod catalog;
mod error;
mod load;
mod names;
mod normalize;
mod responses;
mod openapi;
mod schema;
mod text;
mod yaml;

#[cfg(test)]
mod tests;

pub use error::ImportError;

/// What to import, and under which names.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The app's name in the catalog (`apps.<app>`); also the stem of the
    /// environment variables in the auth skeleton.
    pub app: String,
    /// The action-name prefix; default: the app name upper-cased, every
    /// character other than a letter or digit as `_`. Empty: no prefix.
    pub prefix: Option<String>,
    /// Keep only operations with any of these tags (or listed in `operations`).
    pub tags: Vec<String>,
    /// Keep only these operationIds (or operations with one of `tags`).
    pub operations: Vec<String>,
    /// Actions another catalog defines (`--aliases-from`): an operation
    /// with the same method and path takes their names as aliases, and
    /// their keywords.
    pub known: Vec<Known>,
}

/// An action of another catalog, for [`Options::known`].
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub method: String,
    /// Its path; placeholders match whatever they are named.
    pub path: String,
    /// Its name and aliases.
    pub names: Vec<String>,
    pub keywords: Vec<String>,
}

/// The catalog YAML for the OpenAPI 3.0 or 3.1 description `source` (JSON
/// or YAML text).
///
/// Operation rules:
///
/// - One action per operation, paths in document order, methods GET, HEAD,
///   POST, PUT, PATCH, DELETE, OPTIONS within a path; TRACE is left out with
///   a comment.
/// - Named `<PREFIX>_<OPERATION_ID>` in UPPER_SNAKE_CASE (`issues/create` →
///   `GITHUB_ISSUES_CREATE`), or `<PREFIX>_<METHOD>_<PATH>` without an
///   operationId; a taken name gets `_2`, `_3`, … in document order.
/// - `docs:` is the operation's `externalDocs.url`. `aliases:` and
///   `keywords:` come from [`Options::known`]: the names (other than its
///   own) and keywords of the known actions with the same method and path.
/// - Params: path (in placeholder order), query, header, then body.
///   A wire name that is not `[a-z_][a-z0-9_]*` gets a snake_case key and
///   `name: <wire name>`; a key used twice in an action gets `_<in>`.
/// - Path placeholders become `{+key}` (slashes kept) for parameters marked
///   `x-multi-segment` or `allowReserved`, or named like a file path when
///   they end the path.
/// - Request bodies: JSON objects give one body param per property; other
///   JSON (arrays, scalars, maps without properties) one `whole_body` param;
///   form and multipart bodies `body_format: form|multipart`; anything else
///   `body_format: raw` with `content_type` and one `body` param.
/// - Types: `$ref`s followed (cycles cut), `allOf` merged, `oneOf`/`anyOf`
///   the one type accepting every branch (integer and number: `number`; a
///   string and other scalars: `string`; else `any`), nullable ignored.
///   Defaults that look like templates (`{{`, `{%`, `{#`) are dropped.
///
/// Errors say what is wrong in user words: a Swagger 2.0 document, text
/// that is not JSON or YAML, no paths, an unknown `--operation` or `--tag`
/// (with a suggestion), a `$ref` into another file.
pub fn openapi(source: &str, options: &Options) -> Result<String, ImportError> {
    let loaded = load::load(source)?;
    Ok(openapi::build(&loaded, options)?.to_yaml())
}
