#!/usr/bin/env bash
# Times the runner with hyperfine against the local stand-in API on 127.0.0.1,
# side by side with Hurl when it is installed (`cargo install hurl --version 8.0.1`):
# a cold `validate` (of the small catalog and of GitHub's full generated one),
# a `plan`, `apply` of specs/github.yaml, `apply` of 1 and 100 GET steps
# (per-step overhead = the difference / 99), and a loop of 100 items.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }

cargo build --release --quiet --bin runner --example stand_in --example yaml_parse
# Inside the project: specs may only include files inside the project root.
work=target/bench
rm -rf "$work" && mkdir -p "$work"
trap 'kill "$server" 2>/dev/null' EXIT
./target/release/examples/stand_in > "$work/url" &
server=$!
until [ -s "$work/url" ]; do sleep 0.05; done
url=$(cat "$work/url")

steps() {
  printf 'version: 1\ninclude: [../../specs/apps/github.yaml]\nsteps:\n'
  for _ in $(seq "$1"); do printf '  - action: GITHUB_GET_AUTHENTICATED_USER\n'; done
}
steps 1 > "$work/one.yaml"
steps 100 > "$work/hundred.yaml"
cat > "$work/loop.yaml" <<'YAML'
version: 1
include: [../../specs/apps/github.yaml]
inputs:
  n: {type: integer, default: 100}
steps:
  - id: each
    for_each: "{{ range(inputs.n) | list }}"
    concurrency: 8
    action: GITHUB_GET_AUTHENTICATED_USER
YAML

runner=./target/release/runner
export GITHUB_TOKEN=bench-token-0000
commands=(
  "$runner validate specs/github.yaml"
  "$runner plan specs/github.yaml"
  "$runner apply specs/github.yaml --no-journal --base-url github=$url"
  "$runner apply $work/one.yaml --no-journal --base-url github=$url"
  "$runner apply $work/hundred.yaml --no-journal --base-url github=$url"
  "$runner apply $work/hundred.yaml --base-url github=$url --journal $work/journal.jsonl"
  "$runner apply $work/loop.yaml --no-journal --base-url github=$url"
)
if [ -f specs/apps/github-rest.yaml ]; then
  # The yardstick: one serde_yaml parse of the same file, nothing else.
  commands+=(
    "./target/release/examples/yaml_parse specs/apps/github-rest.yaml"
    "$runner validate specs/apps/github-rest.yaml"
    "$runner actions specs/apps/github-rest.yaml --query issue"
  )
fi
if command -v hurl >/dev/null; then
  # The same 1 and 100 GETs as Hurl files.
  hurl_steps() {
    for _ in $(seq "$1"); do
      printf 'GET %s/user\nAuthorization: Bearer {{token}}\nHTTP 200\n\n' "$url"
    done
  }
  hurl_steps 1 > "$work/one.hurl"
  hurl_steps 100 > "$work/hundred.hurl"
  commands+=(
    "hurl --variable token=$GITHUB_TOKEN $work/one.hurl"
    "hurl --variable token=$GITHUB_TOKEN $work/hundred.hurl"
  )
fi
hyperfine -N --warmup 5 --export-markdown bench/results.md "${commands[@]}"
