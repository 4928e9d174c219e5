#!/usr/bin/env bash
# Regenerates specs/apps/github-rest.yaml, GitHub's whole REST API as an app
# catalog, from the OpenAPI description in @octokit/openapi.
#
#     scripts/github-catalog.sh            # needs npm, tar and cargo
#     scripts/github-catalog.sh --subset   # also tests/fixtures/openapi/github-subset.json
#
# It fetches the package with `npm pack` into a temporary directory, extracts
# package/generated/api.github.com.json and runs `runner import openapi`
# (a release build) with app `github` and prefix GITHUB, taking the names
# the hand-written specs/apps/github.yaml gives the same endpoints (Composio's)
# as aliases, and its keywords. The output depends only on the package
# version below and that file.
set -euo pipefail
cd "$(dirname "$0")/.."

version=23.0.2
out=specs/apps/github-rest.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "@octokit/openapi@$version" >/dev/null)
tar -xzf "$tmp/octokit-openapi-$version.tgz" -C "$tmp" package/generated/api.github.com.json
source="$tmp/package/generated/api.github.com.json"

# RUNNER=target/debug/runner uses that build instead of making a release one.
runner=${RUNNER:-}
if [[ -z "$runner" ]]; then
  cargo build --quiet --release --bin runner
  runner=target/release/runner
fi
{
  cat <<HEADER
# yaml-language-server: \$schema=../../schema/runner.schema.json
# GENERATED: do not edit. GitHub's REST API (api.github.com) as an app
# catalog: every operation of @octokit/openapi $version
# (package/generated/api.github.com.json), imported by runner's OpenAPI
# importer as app \`github\` with prefix GITHUB.
# Regenerate: scripts/github-catalog.sh
# It defines the same app as the hand-written specs/apps/github.yaml, so a
# workflow includes one or the other; the names that file gives the same
# endpoints are aliases here.
#
HEADER
  "$runner" import openapi "$source" --app github --prefix GITHUB \
    --aliases-from specs/apps/github.yaml
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out: $(grep -c '^      GITHUB_' "$out") actions, $(wc -c < "$out") bytes"

if [[ "${1:-}" == --subset ]]; then
  python3 scripts/github-subset.py "$source" tests/fixtures/openapi/github-subset.json
fi
