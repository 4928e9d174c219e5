//! The crate's shape: its top-level modules import one way only, in the
//! order `src/lib.rs` lists them, so the pipeline reads top to bottom and a
//! cycle between modules fails here, naming the import that closes it.
//!
//! Every way one module can name another counts: `crate::` paths (grouped
//! and nested `use crate::{a::{b, c}, d}` too), `super::super::…` climbing to
//! the crate root and down again, names the root re-exports (`crate::Options`
//! is `execute::Options`), and the root's own items (`crate::load`), which
//! sit above every module. A module is its `name.rs` and everything under
//! `name/`, both when both exist. Each form has a planted violation below
//! that the check must catch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The modules `lib.rs` documents, in its order (`//! - `name`: ...`).
fn documented_order(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! - `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

/// The top-level modules `lib.rs` declares.
fn declared(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            l.strip_prefix("mod ")
        })
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

/// Every `.rs` file of module `name`: `name.rs` and everything under
/// `name/`, whichever exist.
fn files(src: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let single = src.join(format!("{name}.rs"));
    if single.exists() {
        out.push(single);
    }
    let below = crate::harness::files_under(&src.join(name));
    out.extend(
        below
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rs")),
    );
    out.sort();
    out
}

/// The module path of a file below `src` (`execute/walk/mod.rs` →
/// `[execute, walk]`, `execute.rs` → `[execute]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" && stem != "lib" {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// `code` without `//` comments, so a doc link is not an import.
fn without_comments(code: &str) -> String {
    code.lines()
        .map(|l| match l.find("//") {
            Some(at) if !l[..at].contains('"') => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths written in `code` that start at `crate`, `super` or `self`,
/// each flattened out of any `{…}` groups: `crate::{a::{b, c}, d}` gives
/// `crate::a::b`, `crate::a::c` and `crate::d`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0
            || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':');
        if boundary {
            for start in ["crate", "super", "self"] {
                let word: Vec<char> = start.chars().collect();
                let after = i + word.len();
                if chars[i..].starts_with(&word) && chars[after..].starts_with(&[':', ':']) {
                    let mut prefix = vec![start.to_string()];
                    let mut at = after;
                    tree(&chars, &mut at, &mut prefix, &mut out);
                    i = at;
                }
            }
        }
        i += 1;
    }
    out
}

/// Parses `::segment::…` or `::{…, …}` after `prefix`, at `at`.
fn tree(chars: &[char], at: &mut usize, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let depth = prefix.len();
    loop {
        if !chars[*at..].starts_with(&[':', ':']) {
            out.push(prefix.clone());
            break;
        }
        *at += 2;
        skip_space(chars, at);
        if chars.get(*at) == Some(&'{') {
            *at += 1;
            loop {
                skip_space(chars, at);
                if chars.get(*at) == Some(&'}') {
                    *at += 1;
                    break;
                }
                let mut branch = prefix.clone();
                let name = ident(chars, at);
                if name.is_empty() {
                    // `*` or something unexpected: the group itself.
                    out.push(branch);
                    while *at < chars.len() && !matches!(chars[*at], ',' | '}') {
                        *at += 1;
                    }
                } else {
                    branch.push(name);
                    tree(chars, at, &mut branch, out);
                    // `as alias`
                    skip_space(chars, at);
                    while *at < chars.len() && !matches!(chars[*at], ',' | '}') {
                        *at += 1;
                    }
                }
                if chars.get(*at) == Some(&',') {
                    *at += 1;
                }
                if *at >= chars.len() {
                    break;
                }
            }
            break;
        }
        let name = ident(chars, at);
        if name.is_empty() {
            out.push(prefix.clone());
            break;
        }
        prefix.push(name);
    }
    prefix.truncate(depth);
}

fn skip_space(chars: &[char], at: &mut usize) {
    while *at < chars.len() && chars[*at].is_whitespace() {
        *at += 1;
    }
}

fn ident(chars: &[char], at: &mut usize) -> String {
    let mut name = String::new();
    while *at < chars.len() && (chars[*at].is_alphanumeric() || chars[*at] == '_') {
        name.push(chars[*at]);
        *at += 1;
    }
    name
}

/// `path`, written in the module `at`, as a path from the crate root.
fn absolute(path: &[String], at: &[String]) -> Vec<String> {
    let mut base: Vec<String> = at.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        _ => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
    }
    base.extend(rest.iter().cloned());
    base
}

/// What the crate root offers: each re-exported name with its module, and
/// its own items (`load`), each at the level of the highest module the
/// root's code uses (a function there calls into `check`, so only modules
/// after `check` may call it).
struct Root {
    reexports: BTreeMap<String, String>,
    items: BTreeSet<String>,
    /// The modules the root's own code uses.
    uses: BTreeSet<String>,
}

fn root(lib: &str, modules: &BTreeSet<String>) -> Root {
    let code = without_comments(lib);
    let mut reexports = BTreeMap::new();
    let mut own = String::new();
    for statement in code.split(';') {
        let s = statement.trim();
        let Some(used) = s.strip_prefix("pub use ") else {
            own.push_str(statement);
            own.push(';');
            continue;
        };
        let text = format!("crate::{used}");
        for p in paths(&text) {
            if let (Some(module), Some(name)) = (p.get(1), p.last())
                && p.len() > 2
            {
                reexports.insert(name.clone(), module.clone());
            }
        }
    }
    let mut items = BTreeSet::new();
    for line in own.lines() {
        let l = line.trim();
        for kind in [
            "pub fn ",
            "fn ",
            "pub struct ",
            "pub enum ",
            "pub const ",
            "pub type ",
        ] {
            if let Some(rest) = l.strip_prefix(kind) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                items.insert(name);
            }
        }
    }
    // `name::` in the root's own code, other than its `mod` lines.
    let uses = modules
        .iter()
        .filter(|m| {
            own.match_indices(&format!("{m}::")).any(|(at, _)| {
                at == 0
                    || !own[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            })
        })
        .cloned()
        .collect();
    Root {
        reexports,
        items,
        uses,
    }
}

/// Every import of a module listed at or after the importer, in the tree
/// under `src`.
fn upward_imports(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let order = documented_order(&lib);
    let modules = declared(&lib);
    assert_eq!(
        order.iter().cloned().collect::<BTreeSet<_>>(),
        modules,
        "the module list in lib.rs's documentation must name every module, once"
    );
    let root = root(&lib, &modules);
    let position: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    // The root's items are as high as the highest module its code uses.
    let root_level = root
        .uses
        .iter()
        .filter_map(|m| position.get(m.as_str()))
        .max()
        .copied();
    let root_module = root_level.map(|at| order[at].clone());
    let mut upward = Vec::new();
    for module in &order {
        let mine = position[module.as_str()];
        for file in files(src, module) {
            let code = without_comments(&std::fs::read_to_string(&file).expect("source file"));
            let at = module_path(src, &file);
            let shown = file
                .strip_prefix(src)
                .unwrap_or(&file)
                .display()
                .to_string();
            let mut seen = BTreeSet::new();
            for p in paths(&code) {
                let full = absolute(&p, &at);
                let Some(first) = full.first() else { continue };
                let written = p.join("::");
                let target = if let Some(&pos) = position.get(first.as_str()) {
                    (first != module && pos >= mine)
                        .then(|| format!("`{first}`, which is listed after `{module}`"))
                } else if let Some(m) = root.reexports.get(first) {
                    let pos = position.get(m.as_str()).copied().unwrap_or(usize::MAX);
                    (m != module && pos >= mine).then(|| {
                        format!("`{m}` (the root re-exports `{first}` from it), which is listed after `{module}`")
                    })
                } else if root.items.contains(first) {
                    root_level.filter(|&pos| pos >= mine).map(|_| {
                        format!(
                            "the crate root's `{first}`, which uses `{}`, listed after `{module}`",
                            root_module.as_deref().unwrap_or_default()
                        )
                    })
                } else {
                    None
                };
                if let Some(target) = target
                    && seen.insert(written.clone())
                {
                    upward.push(format!("{shown} imports `{written}`: {target}"));
                }
            }
        }
    }
    upward
}

#[test]
fn modules_import_only_the_ones_listed_before_them() {
    let upward = upward_imports(&src());
    assert!(
        upward.is_empty(),
        "modules must import downward only (the order of lib.rs):\n{}",
        upward.join("\n")
    );
}

/// A scratch `src` tree with modules `low` and `high` (listed in that
/// order), `high` re-exporting `Thing`, plus `files`.
fn planted(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "//! - `low`: below\n//! - `high`: above\npub mod low;\npub mod high;\npub use high::{Thing, other::Other};\n\n/// Loads.\npub fn load() {\n    low::go()\n}\n",
    );
    write("high.rs", "pub struct Thing;\n");
    for (name, text) in files {
        write(name, text);
    }
    dir
}

#[track_caller]
fn caught(files: &[(&str, &str)], expected: &str) {
    let dir = planted(files);
    let found = upward_imports(dir.path());
    assert!(
        found.iter().any(|f| f.contains(expected)),
        "not caught ({expected}): {found:?}"
    );
}

#[test]
fn a_plain_path_is_caught() {
    caught(
        &[("low.rs", "fn f() { crate::high::g(); }\n")],
        "`crate::high::g`: `high`",
    );
    caught(&[("low.rs", "use crate::high;\n")], "`crate::high`: `high`");
}

#[test]
fn a_nested_group_is_caught() {
    caught(
        &[("low.rs", "use crate::{low::{a, b}, high::Thing};\n")],
        "`crate::high::Thing`",
    );
    caught(
        &[(
            "low.rs",
            "use crate::{\n    low::{a::{b, c}, d},\n    high::{x, y},\n};\n",
        )],
        "`crate::high::x`",
    );
}

#[test]
fn a_root_reexport_is_caught() {
    caught(
        &[("low.rs", "use crate::Thing;\n")],
        "the root re-exports `Thing`",
    );
    caught(
        &[("low.rs", "use crate::{Other};\n")],
        "the root re-exports `Other`",
    );
}

#[test]
fn a_root_item_is_caught() {
    caught(
        &[("low.rs", "fn f() { crate::load(); }\n")],
        "the crate root's `load`, which uses `low`",
    );
    // From a module after the one it uses, the root's item is fine.
    let dir = planted(&[("high/deep.rs", "fn f() { crate::load(); }\n")]);
    assert!(upward_imports(dir.path()).is_empty());
}

#[test]
fn super_climbing_to_the_root_is_caught() {
    caught(
        &[
            ("low/deep/mod.rs", "use super::super::high::Thing;\n"),
            ("low.rs", "mod deep;\n"),
        ],
        "`super::super::high::Thing`",
    );
    caught(&[("low.rs", "use super::high;\n")], "`super::high`");
    // Climbing inside its own module is fine.
    let dir = planted(&[
        ("low/a.rs", "use super::b;\nuse self::c;\n"),
        ("low/mod.rs", "mod a; mod b;\n"),
    ]);
    assert!(upward_imports(dir.path()).is_empty());
}

#[test]
fn a_file_beside_a_folder_of_the_same_name_is_read_whole() {
    caught(
        &[
            ("low.rs", "mod inner;\n"),
            ("low/inner.rs", "use crate::high::Thing;\n"),
        ],
        "low/inner.rs imports",
    );
}

#[test]
fn comments_and_downward_imports_are_not_violations() {
    let dir = planted(&[
        ("low.rs", "// see crate::high::Thing\n"),
        (
            "high/other.rs",
            "use crate::low::x;\nuse crate::{low, Thing};\n",
        ),
    ]);
    assert!(
        upward_imports(dir.path()).is_empty(),
        "{:?}",
        upward_imports(dir.path())
    );
}
