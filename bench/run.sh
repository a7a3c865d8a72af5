#!/usr/bin/env bash
# Builds the benchmarks in the release preset and runs them all: the SCENARIOS.md runner
# (vigil_bench) and the core micro-benchmarks (vigil_micro_bench). Every line goes to stdout and
# to build/release/bench-results.txt. Under five minutes on 2 cores; --big adds the 1,000,000-
# children scenarios (a few minutes more). Other arguments are passed to vigil_bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cmake --preset release >/dev/null
cmake --build --preset release -j2 --target vigil_bench vigil_micro_bench >/dev/null

results=build/release/bench-results.txt
{
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  if git rev-parse --git-dir >/dev/null 2>&1; then
    changes=""
    git diff --quiet HEAD -- src include || changes=" (with local changes in src/ or include/)"
    echo "# commit: $(git rev-parse --short HEAD)${changes}"
  fi
  echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(uname -sr)"
  build/release/bench/vigil_bench "$@"
  echo "# micro-benchmarks (Google Benchmark): vigil_micro_bench"
  build/release/bench/vigil_micro_bench --benchmark_min_time=0.2 --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true 2>&1 |
    grep -E "^(Benchmark|---|.*_median)" | sed "s/^/# /"
} | tee "${results}"
