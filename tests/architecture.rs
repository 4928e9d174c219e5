//! The crate's shape: its top-level modules import one way only, in the
//! order `src/lib.rs` lists them, so the pipeline reads top to bottom and a
//! cycle between modules fails here, naming the import that closes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The modules `lib.rs` documents, in its order (`//! - [`name`]: ...`).
fn documented_order(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - [`"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

/// The top-level modules `lib.rs` declares.
fn declared(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

/// Every `.rs` file of module `name`.
fn files(name: &str) -> Vec<PathBuf> {
    let single = src().join(format!("{name}.rs"));
    if single.exists() {
        return vec![single];
    }
    let mut out = Vec::new();
    let mut dirs = vec![src().join(name)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("module directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The top-level modules a piece of code names through `crate::` paths,
/// grouped `use crate::{a, b::c}` imports included.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn modules_import_only_the_ones_listed_before_them() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs");
    let order = documented_order(&lib);
    let modules = declared(&lib);
    assert_eq!(
        order.iter().cloned().collect::<BTreeSet<_>>(),
        modules,
        "the module list in lib.rs's documentation must name every module, once"
    );
    let position: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut upward = Vec::new();
    for module in &order {
        for file in files(module) {
            let code = std::fs::read_to_string(&file).expect("source file");
            for dep in crate_refs(&code) {
                let Some(&at) = position.get(dep.as_str()) else {
                    continue; // an item of the crate root, not a module
                };
                if at >= position[module.as_str()] && dep != *module {
                    upward.push(format!(
                        "{} imports `crate::{dep}`, which is listed after `{module}`",
                        file.strip_prefix(src()).unwrap_or(&file).display()
                    ));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules must import downward only (the order of lib.rs):\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_nested_imports() {
    let refs = crate_refs("use crate::{error::Loc, spec};\nfn f() { crate::http::x(); }");
    assert_eq!(
        refs,
        ["error", "http", "spec"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    let lib = "//! - [`a`]: x\n//! - [`b`]: y\npub mod a;\nmod b;\n";
    assert_eq!(documented_order(lib), ["a", "b"]);
    assert_eq!(declared(lib).len(), 2);
}
