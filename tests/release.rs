//! Installing without building (issue #17): the archives the release
//! workflow builds (named and packed by `.github/release/package.sh`) are
//! the ones `cargo binstall` looks for, as `[package.metadata.binstall]`
//! in Cargo.toml says, read by cargo itself.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::Workspace;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The package as `cargo metadata` reads Cargo.toml.
fn package() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "{out:?}");
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    meta["packages"][0].clone()
}

/// The targets of the release workflow's build matrix.
fn release_targets() -> Vec<String> {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml"))
        .expect("read release.yml");
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).expect("release.yml is YAML");
    workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("a matrix of targets")
        .iter()
        .map(|row| row["target"].as_str().expect("target").to_string())
        .collect()
}

/// binstall's template with its placeholders filled in, as binstall does.
fn expand(template: &str, target: &str, version: &str) -> String {
    let exe = if target.contains("windows") {
        ".exe"
    } else {
        ""
    };
    template
        .replace("{ repo }", "https://github.com/owner/runner")
        .replace("{ name }", "runner")
        .replace("{ bin }", "runner")
        .replace("{ version }", version)
        .replace("{ target }", target)
        .replace("{ binary-ext }", exe)
}

#[test]
fn the_release_builds_static_linux_macos_and_windows_binaries() {
    let mut targets = release_targets();
    targets.sort();
    assert_eq!(
        targets,
        [
            "aarch64-apple-darwin",
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "x86_64-pc-windows-msvc",
            "x86_64-unknown-linux-musl",
        ]
    );
}

#[test]
fn binstall_finds_the_archives_and_binaries_the_release_packs() {
    let package = package();
    let version = package["version"].as_str().expect("version");
    let binstall = &package["metadata"]["binstall"];
    let tag = format!("v{version}");
    for target in release_targets() {
        let over = &binstall["overrides"][&target];
        let field = |name: &str| {
            over[name]
                .as_str()
                .or(binstall[name].as_str())
                .unwrap_or_else(|| panic!("binstall has no {name}"))
                .to_string()
        };
        let url = expand(&field("pkg-url"), &target, version);
        let bin = expand(&field("bin-dir"), &target, version);
        let (ext, fmt) = if target.contains("windows") {
            ("zip", "zip")
        } else {
            ("tar.gz", "tgz")
        };
        assert_eq!(field("pkg-fmt"), fmt, "{target}");

        let ws = Workspace::new();
        let exe = bin.rsplit('/').next().expect("binary name");
        let binary = ws.write(exe, "stand-in");
        let packed = Command::new("bash")
            .arg(root().join(".github/release/package.sh"))
            .args([&target, &tag])
            .arg(&binary)
            .arg(ws.path().join("dist"))
            .output()
            .expect("run package.sh");
        assert!(packed.status.success(), "{target}: {packed:?}");
        let name = format!("runner-{tag}-{target}.{ext}");
        assert_eq!(
            url,
            format!("https://github.com/owner/runner/releases/download/{tag}/{name}"),
            "{target}: binstall's URL names the archive"
        );

        let archive = std::fs::read(ws.path().join("dist").join(&name)).expect("the archive");
        let sum = ws.read(&format!("dist/{name}.sha256"));
        let hex: String = Sha256::digest(&archive)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            sum,
            format!("{hex}  {name}\n"),
            "{target}: the checksum file"
        );

        let (lister, flag) = if ext == "zip" {
            ("unzip", "-Z1")
        } else {
            ("tar", "-tzf")
        };
        let listed = Command::new(lister)
            .arg(flag)
            .arg(ws.path().join("dist").join(&name))
            .output()
            .expect("list the archive");
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(
            listed.lines().any(|l| l == bin),
            "{target}: {bin} is not in the archive:\n{listed}"
        );
    }
}
