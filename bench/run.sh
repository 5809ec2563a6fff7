#!/usr/bin/env bash
# Benchmark picket-server against Redis 7.0 (apt's redis-server) in the same run.
# Needs redis-server, redis-cli and redis-benchmark (apt-get install redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
for p in redis-server redis-cli redis-benchmark; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install redis-server redis-tools)" >&2; exit 1; }
done
cargo build --release -p picket-server
exec python3 bench/compare.py "$@"
