#!/bin/bash
# bench_authority.sh - X.509-SVIDs minted per second per core, against the
# machine's ECDSA P-256 sign rate (`openssl speed ecdsap256`, one core)
# measured in the same run. A mint is a key generation plus a signature,
# so about 50% of the sign rate is the physical limit; the target is 40%.
#
#   BENCH_SECONDS=5 bash bench/bench_authority.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS=${BENCH_SECONDS:-5}
MINT="$ROOT/build/bench/bench_mint"

make -s -C "$ROOT" "build/bench/bench_mint" >/dev/null

sign_rate() {
	openssl speed -seconds "$SECS" ecdsap256 2>/dev/null | awk '/nistp256\)/ { print $(NF-1) }'
}

field() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

echo "bench_authority: ${SECS}s per run, $(nproc) cores, $(openssl version | cut -d' ' -f1-2)"
sign_before=$(sign_rate)
inline=$("$MINT" "$SECS" 0)
pooled=$("$MINT" "$SECS" 64)
sign_after=$(sign_rate)
sign=$(awk -v a="$sign_before" -v b="$sign_after" 'BEGIN { printf "%.0f", (a + b) / 2 }')

per_core_inline=$(echo "$inline" | field per_cpu_s)
per_core_pooled=$(echo "$pooled" | field per_cpu_s)
wall_pooled=$(echo "$pooled" | field per_wall_s)
burst=$(echo "$pooled" | field burst_us)

printf "openssl speed ecdsap256 sign/s (1 core)      %8.0f  (before %s, after %s)\n" "$sign" "$sign_before" "$sign_after"
printf "mints/s per core, no key pool                %8.0f  = %5.1f%% of sign/s\n" "$per_core_inline" \
	"$(awk -v m="$per_core_inline" -v s="$sign" 'BEGIN { print 100 * m / s }')"
printf "mints/s per core, key pool 64 (worker incl.) %8.0f  = %5.1f%% of sign/s\n" "$per_core_pooled" \
	"$(awk -v m="$per_core_pooled" -v s="$sign" 'BEGIN { print 100 * m / s }')"
printf "mints/s wall clock, key pool 64              %8.0f  (loop thread + key worker)\n" "$wall_pooled"
printf "burst of 64 from a full pool                 %8.1f  us per mint on the calling thread\n" "$burst"
# The headline is the lower of the two per-core figures.
ratio=$(awk -v a="$per_core_inline" -v b="$per_core_pooled" -v s="$sign" \
	'BEGIN { m = a < b ? a : b; printf "%.3f", m / s }')
echo "ratio mints_per_core/sign_per_s = $ratio (lower of the two; target >= 0.40)"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.40) }' || echo "bench_authority: below the 40% target" >&2
