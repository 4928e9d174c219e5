#!/usr/bin/env bash
# The action's fallback: builds runner from the action's own checkout with
# `cargo install --locked` into a cargo root the cache step restored (a
# cache hit builds nothing), and puts it on PATH.
set -euo pipefail

root="${RUNNER_CARGO_ROOT:?}"
if [[ ! -x "$root/bin/runner" && ! -x "$root/bin/runner.exe" ]]; then
  cargo install --locked --path "${GITHUB_ACTION_PATH:?}" --root "$root"
fi
echo "$root/bin" >>"$GITHUB_PATH"
