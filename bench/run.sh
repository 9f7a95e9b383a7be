#!/usr/bin/env bash
# The benchmark: installs wrk, nginx, haproxy and caddy from Debian when missing, then runs bench/run.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in wrk nginx haproxy caddy; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
exec node_modules/.bin/bun bench/run.ts "$@"
