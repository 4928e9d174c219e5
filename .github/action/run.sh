#!/usr/bin/env bash
# The action's main step: `runner validate|plan|apply` on the spec, with the
# `inputs` input given as an inputs file and the `args` input split as a
# shell would (quotes honoured, nothing expanded). What runner printed goes
# to the log; runner writes its own summary of a plan or a run (under
# GitHub Actions), so the step summary gets a heading, and the printed
# output in a code block only for `validate` or a run that stopped before
# it began (exit 2), which runner summarises nowhere else; the workflow's
# outputs (`apply`), the exit code and the version become step outputs.
# Exits as runner did.
set -euo pipefail
source "$(dirname "$0")/common.sh"

command="${INPUT_COMMAND:-plan}"
spec="${INPUT_SPEC:?the spec input is required}"
case "$command" in
  validate | plan | apply) ;;
  *)
    echo "::error title=runner::the command input is validate, plan or apply, not \`$command\`"
    exit 2
    ;;
esac

work="$(mktemp -d "${RUNNER_TEMP:?}/runner-action.XXXXXX")"
trap 'rm -rf "$work"' EXIT

args=("$command" "$spec")
if [[ -n "${INPUT_INPUTS//[[:space:]]/}" ]]; then
  if [[ "$command" == validate ]]; then
    echo "::error title=runner::validate takes no inputs (give them to plan or apply)"
    exit 2
  fi
  printf '%s\n' "$INPUT_INPUTS" >"$work/inputs.yaml"
  args+=(--inputs-file "$work/inputs.yaml")
fi
if [[ "$command" == apply ]]; then
  args+=(--outputs-file "$work/outputs.json")
fi
if [[ -n "${INPUT_ARGS//[[:space:]]/}" ]]; then
  # xargs splits on blanks and honours quotes and backslashes, and expands
  # nothing, unlike eval.
  if ! printf '%s' "$INPUT_ARGS" | xargs printf '%s\0' >"$work/args"; then
    echo "::error title=runner::cannot split the args input (an unclosed quote?)"
    exit 2
  fi
  while IFS= read -r -d '' arg; do args+=("$arg"); done <"$work/args"
fi

output version "$(runner --version)"

set +e
runner "${args[@]}" | tee "$work/stdout"
code="${PIPESTATUS[0]}"
set -e

output exit-code "$code"
if [[ -s "$work/outputs.json" ]]; then
  output outputs "$(cat "$work/outputs.json")"
else
  output outputs "{}"
fi

# runner summarises a plan or a run itself; what it does not summarise
# (validate, a run stopped before it began) gets a heading here.
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]] && [[ "$command" == validate || "$code" == 2 ]]; then
  case "$code" in
    0) result="done" ;;
    1) result="a step failed (exit 1)" ;;
    *) result="stopped before anything was sent (exit $code); the reason is in the step's log" ;;
  esac
  # GitHub takes at most 1 MiB of summary per step.
  head -c 1000000 "$work/stdout" >"$work/summary"
  # A fence longer than any run of backticks in the text, so the text
  # cannot close it and be read as Markdown or HTML.
  longest="$({ grep -o '`*' "$work/summary" || true; } | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }')"
  fence='```'
  while ((${#fence} <= longest)); do fence="$fence\`"; done
  # The spec's name without what Markdown or HTML would read.
  title="$(printf '%s' "$spec" | tr -d '`<>|@*_[]')"
  {
    printf '### runner %s %s: %s\n\n' "$command" "$title" "$result"
    if [[ -s "$work/summary" ]]; then
      printf '%stext\n' "$fence"
      cat "$work/summary"
      [[ -z "$(tail -c1 "$work/summary")" ]] || echo
      printf '%s\n' "$fence"
      if [[ "$(wc -c <"$work/stdout")" -gt 1000000 ]]; then
        printf '\n(cut at 1 MB: the whole output is in the log)\n'
      fi
    fi
    echo
  } >>"$GITHUB_STEP_SUMMARY"
fi

exit "$code"
