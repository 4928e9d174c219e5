# Shared by the action's scripts (sourced, not run).

# Appends output `name` with `value` to the step's outputs, always between
# random delimiters that the value does not hold: a value may have come from
# an API, and must not be able to end itself and set other outputs.
output() {
  local name="$1" value="$2" delimiter
  while
    delimiter="runner_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    [[ "$value" == *"$delimiter"* ]]
  do :; done
  printf '%s<<%s\n%s\n%s\n' "$name" "$delimiter" "$value" "$delimiter" >>"$GITHUB_OUTPUT"
}

# The SHA-256 of a file, in hex (sha256sum on Linux and Windows, shasum on macOS).
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}
