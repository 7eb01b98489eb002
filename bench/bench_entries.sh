#!/usr/bin/env bash
# bench_entries.sh - matching latency of registration entries with 100,000
# entries (target: <= 50 us per workload) against two baselines measured in
# the same run: the same matching with 100 entries (the ratio shows whether
# the cost grows with the number of entries) and a linear scan over all
# entries (what the index saves). Also the start-up load time of 100,000
# stored entries.
#
#   bash bench/bench_entries.sh [ENTRIES [LOOKUPS]]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/bench_entries
exec build/bench/bench_entries "$@"
