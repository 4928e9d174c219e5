#!/usr/bin/env bash
# The action's first step: puts the release binary for the action's ref on
# PATH, its SHA-256 checked against the `.sha256` file published beside it
# (a mismatch stops the job). A ref that is no release (a branch, a commit,
# `uses: ./`), or a release without a binary for this machine, gives
# `installed=false` with the cargo root and cache key the build step uses.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ref="${RUNNER_ACTION_REF:-}"
action_path="${GITHUB_ACTION_PATH:?}"
# RUNNER_RELEASES_URL: a mirror of the releases (and the tests' stand-in).
releases="${RUNNER_RELEASES_URL:-https://github.com/${RUNNER_ACTION_REPOSITORY:-}/releases/download}"

# The release target for this machine (the names release.yml builds).
target() {
  case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
    Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64) echo aarch64-unknown-linux-musl ;;
    macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
    macOS/ARM64 | Darwin/arm64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) return 1 ;;
  esac
}

# Downloads, checks and unpacks the release archive into $1; false when
# the release or its archive for this target does not exist.
download() {
  local into="$1" target ext name tmp expected actual
  [[ "$ref" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] || return 1
  target="$(target)" || return 1
  ext=tar.gz
  [[ "$target" == *windows* ]] && ext=zip
  name="runner-$ref-$target"
  tmp="$(mktemp -d "${RUNNER_TEMP:?}/runner-download.XXXXXX")"
  curl -fsSL --retry 3 -o "$tmp/$name.$ext" "$releases/$ref/$name.$ext" || return 1
  curl -fsSL --retry 3 -o "$tmp/$name.$ext.sha256" "$releases/$ref/$name.$ext.sha256" || return 1
  expected="$(cut -d' ' -f1 "$tmp/$name.$ext.sha256")"
  actual="$(sha256 "$tmp/$name.$ext")"
  if [[ "$expected" != "$actual" ]]; then
    echo "::error title=runner::$name.$ext does not match its published SHA-256 (expected $expected, got $actual)"
    exit 1
  fi
  if [[ "$ext" == zip ]]; then
    unzip -q "$tmp/$name.$ext" -d "$tmp" || return 1
  else
    tar -xzf "$tmp/$name.$ext" -C "$tmp" || return 1
  fi
  mkdir -p "$into" && mv "$tmp/$name"/runner* "$into/" || return 1
  rm -rf "$tmp"
}

bin="${RUNNER_TEMP:?}/runner-bin"
if download "$bin"; then
  echo "$bin" >>"$GITHUB_PATH"
  output installed true
  echo "runner $ref installed from its release"
  exit 0
fi

echo "runner: no release binary for \`${ref:-this checkout}\` on this machine; building it from source (cached)"
output installed false
output cargo-root "$RUNNER_TEMP/runner-cargo"
# The ref names the build; the sources' hash tells a moved branch apart.
sources="$(cd "$action_path" && find Cargo.toml Cargo.lock src -type f | LC_ALL=C sort | while read -r f; do
  printf '%s %s\n' "$(sha256 "$f")" "$f"
done)"
hash="$(printf '%s' "$sources" | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)"
output cache-key "runner-${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}-${ref:-local}-$hash"
