//! What can go wrong importing a description, in words a user can act on.

use std::fmt;

/// Why a description could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The text is neither JSON nor YAML.
    Syntax {
        /// `JSON` or `YAML`: what the text was read as.
        format: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A Swagger 2.0 document.
    Swagger2,
    /// Parsed, but not an OpenAPI document (no `openapi` field, not a mapping).
    NotOpenApi(String),
    /// An `openapi` version other than 3.x.
    UnsupportedVersion(String),
    /// The document does not follow the OpenAPI structure.
    Invalid {
        /// The JSON path of the offending value, e.g. `paths./pets.get.parameters[0]`.
        at: String,
        /// What is wrong there.
        message: String,
    },
    /// A `$ref` that cannot be followed.
    Reference {
        /// The reference as written.
        reference: String,
        /// Why it cannot be followed, and what to do.
        reason: String,
    },
    /// No `paths`, or no operation in them.
    NoPaths,
    /// An app name that cannot be used.
    BadApp(String),
    /// An `--operation` that names no operation of the document.
    UnknownOperation {
        id: String,
        suggestion: Option<String>,
    },
    /// A `--tag` that no operation has.
    UnknownTag {
        tag: String,
        suggestion: Option<String>,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Syntax { format, message } => {
                write!(f, "the description is not valid {format}: {message}")
            }
            ImportError::Swagger2 => f.write_str(
                "this is a Swagger 2.0 document; convert it to OpenAPI 3 first \
                 (e.g. with swagger2openapi)",
            ),
            ImportError::NotOpenApi(why) => write!(f, "this is not an OpenAPI document: {why}"),
            ImportError::UnsupportedVersion(version) => write!(
                f,
                "unsupported OpenAPI version `{version}`: only OpenAPI 3.0 and 3.1 can be imported"
            ),
            ImportError::Invalid { at, message } if at.is_empty() || at == "." => {
                write!(f, "the document is not valid OpenAPI: {message}")
            }
            ImportError::Invalid { at, message } => {
                write!(f, "the document is not valid OpenAPI at `{at}`: {message}")
            }
            ImportError::Reference { reference, reason } => {
                write!(f, "cannot follow `$ref: {reference}`: {reason}")
            }
            ImportError::NoPaths => {
                f.write_str("the document has no paths with operations: there is nothing to import")
            }
            ImportError::BadApp(why) => write!(f, "bad app name: {why}"),
            ImportError::UnknownOperation { id, suggestion } => {
                write!(f, "no operation has the operationId `{id}`")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => Ok(()),
                }
            }
            ImportError::UnknownTag { tag, suggestion } => {
                write!(f, "no operation has the tag `{tag}`")?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for ImportError {}
