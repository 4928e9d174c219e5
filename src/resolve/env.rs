//! The environment templates see: `.env` (or `--env-file`) under the real
//! process environment, which wins. An env file is read up to 1 MiB, so a
//! pipe (`--env-file <(op inject ...)`) works but `/dev/zero` cannot fill
//! memory.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The largest env file read.
const MAX_ENV_FILE: u64 = 1 << 20;

/// The environment, and which names an env file set.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub vars: Arc<BTreeMap<String, String>>,
    /// Names the env file set: their values are secrets, read or not.
    pub from_file: Vec<String>,
}

pub fn environment(env_file: Option<&Path>) -> Result<Environment> {
    let mut vars = BTreeMap::new();
    let mut from_file = Vec::new();
    let file = match env_file {
        Some(path) => Some(path.to_path_buf()),
        None => Some(Path::new(".env").to_path_buf()).filter(|p| p.is_file()),
    };
    if let Some(path) = file {
        let cannot = |what: crate::fsio::ReadError| {
            Error::Environment(format!("cannot read env file `{}`: {what}", path.display()))
        };
        let bytes = crate::fsio::read_file(&path, MAX_ENV_FILE).map_err(cannot)?;
        for item in dotenvy::from_read_iter(bytes.as_slice()) {
            let (k, v) = item.map_err(|e| {
                Error::Environment(format!(
                    "invalid env file `{}`: {}",
                    path.display(),
                    env_error(&e)
                ))
            })?;
            from_file.push(k.clone());
            vars.insert(k, v);
        }
    }
    vars.extend(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    Ok(Environment {
        vars: Arc::new(vars),
        from_file,
    })
}

/// dotenvy's message without the line's content, which may hold a secret.
fn env_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => format!("cannot parse it at character {index}"),
        dotenvy::Error::Io(io) => crate::fsio::io_words(io),
        _ => "cannot parse it".to_string(),
    }
}
