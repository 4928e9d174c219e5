"""Turns bench/run.sh's hyperfine results into per-step costs, ratios and
the targets they are held to, as Markdown.

    python3 bench/report.py RESULTS_DIR DATE MACHINE
"""
import json
import re
import sys
from pathlib import Path

results, date, machine = Path(sys.argv[1]), sys.argv[2], sys.argv[3]


def load(name):
    data = json.loads((results / f"{name}.json").read_text())
    return {r["command"]: r for r in data["results"]}


def median(runs, pattern):
    """The median seconds of the one command matching `pattern`."""
    found = [r for c, r in runs.items() if re.search(pattern, c)]
    if len(found) != 1:
        raise SystemExit(f"{len(found)} commands match {pattern!r}: {list(runs)}")
    return found[0]["median"]


def per_step(runs, one, many, n):
    return (median(runs, many) - median(runs, one)) / (n - 1)


def ms(seconds):
    return f"{seconds * 1000:.3f} ms"


out = [f"# Benchmarks\n\n{date}, {machine}; `bench/run.sh` against nginx on 127.0.0.1.\n"]
verdicts = []


def check(what, ok, detail):
    verdicts.append(f"| {what} | {detail} | {'yes' if ok else '**no**'} |")


floor = 1 / float(re.search(r"Requests/sec:\s+([\d.]+)", (results / "wrk1.txt").read_text()).group(1))

for kind, name in (("post", "chain_post"), ("get", "chain_get")):
    runs = load(name)
    yaml = lambda n: rf"apply \S*/{kind}{n}\.yaml --journal \S+$"
    hurl = lambda n: rf"/{kind}{n}\.hurl$"
    r1k = per_step(runs, yaml(1), yaml(1000), 1000)
    r10k = per_step(runs, yaml(1), yaml(10000), 10000)
    h1k = per_step(runs, hurl(1), hurl(1000), 1000)
    h10k = per_step(runs, hurl(1), hurl(10000), 10000)
    out.append(f"## Chain of {kind.upper()}s, each using the previous answer\n")
    out.append("| steps | runner (journal on) | Hurl 8.0.1 | runner / Hurl |")
    out.append("|---:|---:|---:|---:|")
    out.append(f"| 1,000 | {ms(r1k)} per step | {ms(h1k)} per step | {r1k / h1k:.2f} |")
    out.append(f"| 10,000 | {ms(r10k)} per step | {ms(h10k)} per step | {r10k / h10k:.2f} |")
    if kind == "post":
        nj = per_step(runs, yaml(1), rf"apply \S*/post1000\.yaml --no-journal", 1000)
        strict = per_step(runs, yaml(1), rf"post1000\.yaml .*--journal-sync strict", 1000)
        out.append(f"\n`--no-journal`: {ms(nj)} per step; `--journal-sync strict`: {ms(strict)} per step (1,000 steps).")
    out.append(f"\nThe round trip alone (`wrk -t1 -c1`, one request after the other): {ms(floor)} per request, {floor / h1k:.2f}x Hurl's step; runner's own share of a step: {ms(r1k - floor)}, Hurl's: {ms(h1k - floor)}.")
    out.append("")
    check(f"{kind.upper()} chain: runner at most 0.5x Hurl per step (1,000)", r1k <= 0.5 * h1k, f"{r1k / h1k:.2f}x")
    check(f"{kind.upper()} chain linear: 10,000 within 1.2x of 1,000 per step", r10k <= 1.2 * r1k, f"{r10k / r1k:.2f}x")

runs = load("static")
out.append("## Without the network\n")
out.append("| command | 1 step | 1,000 steps | 10,000 steps | per step at 10,000 / at 1,000 |")
out.append("|---|---:|---:|---:|---:|")
for command in ("validate", "plan"):
    one, k, tk = (median(runs, rf"{command} \S*/post{n}\.yaml$") for n in (1, 1000, 10000))
    a, b = (k - one) / 999, (tk - one) / 9999
    out.append(f"| `{command}` | {ms(one)} | {ms(k)} | {ms(tk)} | {b / a:.2f} |")
    check(f"`{command}` linear", b <= 1.2 * a, f"{b / a:.2f}x")
version = median(runs, r"--version$")
small = median(runs, r"validate specs/github\.yaml$")
parse = median(runs, r"yaml_parse")
catalog = median(runs, r"validate specs/apps/github-rest\.yaml$")
out.append(f"\nCold `validate specs/github.yaml`: {ms(small)} (`runner --version`: {ms(version)}, {small / version:.2f}x). "
           f"`validate` of the generated GitHub catalog: {ms(catalog)} (one serde_yaml parse of it: {ms(parse)}, {catalog / parse:.2f}x).\n")
check("cold `validate specs/github.yaml` at most 1.5x `--version`", small <= 1.5 * version, f"{small / version:.2f}x")
check("`validate` of the GitHub catalog at most 1.5x a serde_yaml parse", catalog <= 1.5 * parse, f"{catalog / parse:.2f}x")

runs = load("loop")
wrk = float(re.search(r"Requests/sec:\s+([\d.]+)", (results / "wrk.txt").read_text()).group(1))
l1k = median(runs, r"loop\.yaml --journal \S+ --input n=1000$")
l10k = median(runs, r"loop\.yaml --journal \S+$")
strict = median(runs, r"loop\.yaml .*--journal-sync strict")
rate = 10000 / l10k
out.append("## A loop of 10,000 GETs, `concurrency: 8`\n")
out.append(f"runner: {rate:,.0f} items/s ({ms(l10k)} in all; `--journal-sync strict`: {ms(strict)}); "
           f"`wrk -t2 -c8`: {wrk:,.0f} requests/s; runner / wrk = {rate / wrk:.2f}. "
           f"Per item at 10,000 / at 1,000: {(l10k / 10000) / (l1k / 1000):.2f}.\n")
check("loop at least 40% of wrk's rate", rate >= 0.4 * wrk, f"{rate / wrk:.2f}")
check("loop linear: per item at 10,000 within 1.2x of 1,000", (l10k / 10000) <= 1.2 * (l1k / 1000), f"{(l10k / 10000) / (l1k / 1000):.2f}x")

rss = dict(line.split("=") for line in (results / "rss.txt").read_text().split())
mb = {k: int(v) / 1024 for k, v in rss.items()}
out.append("## Peak memory (RSS, text output)\n")
out.append("| workload | 1,000 | 10,000 |")
out.append("|---|---:|---:|")
out.append(f"| POST chain | {mb['apply_post1000_kb']:.1f} MB | {mb['apply_post10000_kb']:.1f} MB |")
out.append(f"| loop | {mb['apply_loop1000_kb']:.1f} MB | {mb['apply_loop10000_kb']:.1f} MB |\n")
for w in ("post", "loop"):
    big, small_ = mb[f"apply_{w}10000_kb"], mb[f"apply_{w}1000_kb"]
    check(f"{w} at 10,000: at most 25 MB and 1.5x the 1,000 figure", big <= 25 and big <= 1.5 * small_, f"{big:.1f} MB, {big / small_:.2f}x")

out.append("## Targets\n")
out.append("| target | measured | holds |")
out.append("|---|---:|---|")
out.extend(verdicts)
print("\n".join(out))
