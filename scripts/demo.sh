#!/usr/bin/env bash
# Builds the demo in the release preset and runs it; arguments go to the demo.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
cmake --preset release
cmake --build --preset release --target vigil_demo --parallel 2
exec build/release/demo/vigil_demo "$@"
