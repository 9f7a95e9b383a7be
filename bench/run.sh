#!/usr/bin/env bash
# A benchmark: installs its tools from Debian when missing (bench/tools.sh), then runs the bench given
# (bench/run.ts, the throughput bench, by default; bench/tail.ts for `npm run bench:tail`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/tools.sh
exec node_modules/.bin/bun "${1:-bench/run.ts}" "${@:2}"
