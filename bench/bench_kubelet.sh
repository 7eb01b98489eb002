#!/usr/bin/env bash
# bench_kubelet.sh - the kubelet client's per-fetch work (parsing the
# PodList on its worker thread) for 110 and 4096 realistic pods, against
# json-c parsing the same bytes alone in the same run, and the per-
# attestation look-up by pod UID.
#
#   bash bench/bench_kubelet.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/bench/bench_kubelet
exec build/bench/bench_kubelet "$@"
