#!/usr/bin/env bash
# Times the runner with hyperfine against the local stand-in API on 127.0.0.1:
# a cold `validate`, a `plan`, `apply` of specs/github.yaml, and `apply` of
# 1 and 100 GET steps (per-step overhead = the difference / 99).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }

cargo build --release --quiet --bin runner --example stand_in
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
./target/release/examples/stand_in > "$work/url" &
server=$!
until [ -s "$work/url" ]; do sleep 0.05; done
url=$(cat "$work/url")

steps() {
  printf 'version: 1\ninclude: [%s/specs/apps/github.yaml]\nsteps:\n' "$PWD"
  for _ in $(seq "$1"); do printf '  - action: GITHUB_GET_AUTHENTICATED_USER\n'; done
}
steps 1 > "$work/one.yaml"
steps 100 > "$work/hundred.yaml"

runner=./target/release/runner
export GITHUB_TOKEN=bench-token-0000
hyperfine -N --warmup 5 --export-markdown bench/results.md \
  "$runner validate specs/github.yaml" \
  "$runner plan specs/github.yaml" \
  "$runner apply specs/github.yaml --no-journal --base-url github=$url" \
  "$runner apply $work/one.yaml --no-journal --base-url github=$url" \
  "$runner apply $work/hundred.yaml --no-journal --base-url github=$url" \
  "$runner apply $work/hundred.yaml --base-url github=$url --journal $work/journal.jsonl"
