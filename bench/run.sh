#!/usr/bin/env bash
# What users run, timed with hyperfine against nginx on 127.0.0.1 (it answers
# every request with a small JSON body at once, so the time measured is the
# client's): side by side with Hurl 8.0.1 and with wrk, one hyperfine run per
# comparison, and per-step costs and ratios printed after each.
#
#   bench/run.sh              measure and print
#   bench/run.sh --write      also write bench/results.md
#   bench/run.sh --quick      fewer runs (a smoke test of the script)
#
# Workloads: a chain of N JSON POSTs, each using the previous answer (N = 1,
# 1,000 and 10,000), the same chain of GETs, a `for_each` over 10,000 GET
# items at `concurrency: 8`, `validate` and `plan` of 10,000 steps, and cold
# `validate` of specs/github.yaml (beside `runner --version`) and of the
# generated GitHub catalog (beside one serde_yaml parse of it). Per-step cost
# is (t(N) - t(1)) / (N - 1): start-up left out.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

write=0
runs=(--warmup 2 --min-runs 5)
for arg in "$@"; do
  case $arg in
    --write) write=1 ;;
    --quick) runs=(--warmup 0 --runs 2) ;;
    *) echo "usage: bench/run.sh [--write] [--quick]" >&2; exit 2 ;;
  esac
done

# --- tools: installed when missing (as root), else the command is printed
need() { # command, how to install it
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "installing $1: $2" >&2
    eval "$2" >&2
  else
    echo "needs $1; install it with: $2" >&2
    exit 2
  fi
}
need hyperfine "apt-get install -y hyperfine"
need wrk "apt-get install -y wrk"
need nginx "apt-get install -y nginx-light"
hurl=${HURL:-$(command -v hurl || true)}
if [ -z "$hurl" ]; then
  deps="apt-get install -y libcurl4-openssl-dev libxml2-dev pkg-config libclang-dev"
  install="cargo install hurl@8.0.1 --locked --root \"$root/target/hurl\""
  if [ "$(id -u)" = 0 ]; then
    echo "installing Hurl 8.0.1 (several minutes, once)" >&2
    eval "$deps" >&2 && eval "$install" >&2
    hurl=$root/target/hurl/bin/hurl
  else
    echo "needs Hurl 8.0.1: $deps && $install (or set HURL=/path/to/hurl)" >&2
    exit 2
  fi
fi
"$hurl" --version | head -1 | grep -q "8.0.1" || echo "warning: not Hurl 8.0.1: $("$hurl" --version | head -1)" >&2

target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin runner --example yaml_parse
runner=$target_dir/release/runner
yaml_parse=$target_dir/release/examples/yaml_parse

# Inside the project: specs may only include files inside the project root.
work=$target_dir/bench
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)

# --- nginx on a free port
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work;
  proxy_temp_path $work;
  fastcgi_temp_path $work;
  uwsgi_temp_path $work;
  scgi_temp_path $work;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / {
      default_type application/json;
      return 200 '{"id": 7, "ok": true}';
    }
  }
}
NGINX
nginx -e "$work/nginx.log" -c "$work/nginx.conf" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
url=http://127.0.0.1:$port
for _ in $(seq 50); do
  curl -sf "$url/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$url/" >/dev/null || { echo "nginx did not start on $url within 5 s (see $work/nginx.log)" >&2; exit 1; }

# --- the workloads, as runner specs and as Hurl files
python3 - "$work" "$url" <<'PY'
import sys
work, url = sys.argv[1], sys.argv[2]
head = f"""version: 1
apps:
  api:
    base_url: {url}
    actions:
      CREATE:
        method: POST
        path: /items
        params:
          prev: {{type: integer}}
          name: {{type: string}}
      GET:
        method: GET
        path: /items/{{id}}
        params:
          id: {{type: integer, required: true}}
"""
for n in (1, 1000, 10000):
    for kind in ("post", "get"):
        spec, hurl = [head, "steps:\n"], []
        for i in range(n):
            if kind == "post":
                prev = "" if i == 0 else f", prev: \"{{{{ steps.s{i-1}.response.id }}}}\""
                spec.append(f"  - {{id: s{i}, action: CREATE, params: {{name: n{i}{prev}}}}}\n")
                body = '{"name": "n%d"}' % i if i == 0 else '{"name": "n%d", "prev": {{id}}}' % i
                hurl.append(f"POST {url}/items\n{body}\nHTTP 200\n[Captures]\nid: jsonpath \"$.id\"\n\n")
            else:
                arg = "1" if i == 0 else f"\"{{{{ steps.s{i-1}.response.id }}}}\""
                spec.append(f"  - {{id: s{i}, action: GET, params: {{id: {arg}}}}}\n")
                target = "1" if i == 0 else "{{id}}"
                hurl.append(f"GET {url}/items/{target}\nHTTP 200\n[Captures]\nid: jsonpath \"$.id\"\n\n")
        open(f"{work}/{kind}{n}.yaml", "w").write("".join(spec))
        open(f"{work}/{kind}{n}.hurl", "w").write("".join(hurl))
open(f"{work}/loop.yaml", "w").write(head + """inputs:
  n: {type: integer, default: 10000}
steps:
  - id: each
    for_each: "{{ range(inputs.n) | list }}"
    concurrency: 8
    max_items: 10000
    action: GET
    params: {id: "{{ item }}"}
""")
PY

results=$work/results
mkdir -p "$results"
# One hyperfine run: name, then commands.
compare() {
  local name=$1; shift
  hyperfine -N "${runs[@]}" --export-json "$results/$name.json" --export-markdown "$results/$name.md" "$@" >&2
}

r=$runner
j="--journal $work/journal.jsonl"
compare chain_post \
  "$r apply $work/post1.yaml $j" "$r apply $work/post1000.yaml $j" "$r apply $work/post10000.yaml $j" \
  "$r apply $work/post1000.yaml --no-journal" "$r apply $work/post1000.yaml $j --journal-sync strict" \
  "$hurl $work/post1.hurl" "$hurl $work/post1000.hurl" "$hurl $work/post10000.hurl"
compare chain_get \
  "$r apply $work/get1.yaml $j" "$r apply $work/get1000.yaml $j" "$r apply $work/get10000.yaml $j" \
  "$hurl $work/get1.hurl" "$hurl $work/get1000.hurl" "$hurl $work/get10000.hurl"
compare static \
  "$r validate $work/post1.yaml" "$r validate $work/post1000.yaml" "$r validate $work/post10000.yaml" \
  "$r plan $work/post1.yaml" "$r plan $work/post1000.yaml" "$r plan $work/post10000.yaml" \
  "$r --version" "$r validate specs/github.yaml" \
  "$yaml_parse specs/apps/github-rest.yaml" "$r validate specs/apps/github-rest.yaml"
compare loop \
  "$r apply $work/loop.yaml $j --input n=1000" "$r apply $work/loop.yaml $j" \
  "$r apply $work/loop.yaml $j --journal-sync strict"
wrk -t2 -c8 -d5s "$url/items/1" > "$results/wrk.txt"
# The round trip alone, one request after the other: the floor of any chain.
wrk -t1 -c1 -d5s "$url/items/1" > "$results/wrk1.txt"

# Peak memory, with text output.
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
{
  echo "apply_post1000_kb=$(rss $r apply $work/post1000.yaml $j)"
  echo "apply_post10000_kb=$(rss $r apply $work/post10000.yaml $j)"
  echo "apply_loop1000_kb=$(rss $r apply $work/loop.yaml $j --input n=1000)"
  echo "apply_loop10000_kb=$(rss $r apply $work/loop.yaml $j)"
} > "$results/rss.txt"

python3 bench/report.py "$results" "$(date -u +%F)" "$(nproc) cores, $(uname -sm)" > "$results/summary.md"
cat "$results/summary.md"
if [ "$write" = 1 ]; then
  cp "$results/summary.md" bench/results.md
  echo "wrote bench/results.md" >&2
fi
