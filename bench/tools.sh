#!/usr/bin/env bash
# Installs the benchmarks' tools from Debian when missing: wrk, nginx, haproxy and caddy.
set -euo pipefail
missing=()
for tool in wrk nginx haproxy caddy; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
