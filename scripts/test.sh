#!/usr/bin/env bash
# vigil's full check, as CI runs it: packages, formatting, then configure/build/test per preset.
# Usage: scripts/test.sh            (presets: default dev tsan)
#        VIGIL_PRESETS="default" scripts/test.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

read -r -a presets <<<"${VIGIL_PRESETS:-default dev tsan}"
if ((${#presets[@]} == 0)); then
  echo "test.sh: VIGIL_PRESETS is empty" >&2
  exit 2
fi

# Runs "$@" as the phase named $1, printing its elapsed seconds; exits on failure.
phase() {
  local name="$1"
  shift
  local start=${SECONDS} rc=0
  "$@" || rc=$?
  local elapsed=$((SECONDS - start))
  if ((rc != 0)); then
    echo "FAILED: ${name} (exit ${rc}, ${elapsed}s)" >&2
    exit "${rc}"
  fi
  echo "-- ${name}: ${elapsed}s"
}

check_format() {
  local files=() f
  while IFS= read -r -d '' f; do
    if [[ "${f}" =~ ^(include|src|tests|examples|demo|bench|cli)/.*\.(cpp|hpp)$ && -f "${f}" ]]; then
      files+=("${f}")
    fi
  done < <(git ls-files -z -co --exclude-standard)
  if ((${#files[@]} == 0)); then
    echo "format: no C++ files yet"
    return 0
  fi
  if ! clang-format --dry-run --Werror "${files[@]}"; then
    echo "format: run: clang-format -i <files above>" >&2
    return 1
  fi
  echo "format: ${#files[@]} file(s) clean"
}

echo "== setup"
phase "setup" bash scripts/setup.sh

echo "== format"
phase "format" check_format

for preset in "${presets[@]}"; do
  echo
  echo "== preset ${preset}"
  phase "${preset}: configure" cmake --preset "${preset}"
  phase "${preset}: build" cmake --build --preset "${preset}" --parallel 2
  phase "${preset}: test" ctest --preset "${preset}" -j2 --output-on-failure
done

echo
echo "all presets passed: ${presets[*]}"
