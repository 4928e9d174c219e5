#!/usr/bin/env bash
# Packs one built binary as a release archive, with its checksum:
#   .github/release/package.sh TARGET TAG BINARY OUT_DIR
# writes OUT_DIR/runner-TAG-TARGET.tar.gz (a .zip for Windows) holding the
# directory runner-TAG-TARGET/ (the binary and the README), and beside it
# runner-TAG-TARGET.<ext>.sha256 in `sha256sum -c` form. These names are
# what `[package.metadata.binstall]` in Cargo.toml and the action's
# install.sh expect (tests/release.rs checks both against this script).
set -euo pipefail

target="${1:?target}" tag="${2:?tag}" binary="${3:?binary}" out="${4:?out dir}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
name="runner-$tag-$target"
ext=tar.gz
[[ "$target" == *windows* ]] && ext=zip

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name" "$out"
out="$(cd "$out" && pwd)"
cp "$binary" "$stage/$name/"
chmod 755 "$stage/$name/$(basename "$binary")"
cp "$root/README.md" "$stage/$name/"
if [[ "$ext" == zip ]]; then
  if command -v zip >/dev/null 2>&1; then
    (cd "$stage" && zip -qr "$out/$name.zip" "$name")
  else
    (cd "$stage" && 7z a -tzip -bd "$out/$name.zip" "$name" >/dev/null)
  fi
else
  tar -czf "$out/$name.tar.gz" -C "$stage" "$name"
fi
(
  cd "$out"
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$name.$ext" >"$name.$ext.sha256"
  else
    shasum -a 256 "$name.$ext" >"$name.$ext.sha256"
  fi
)
echo "$out/$name.$ext"
