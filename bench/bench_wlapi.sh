#!/bin/bash
# bench_wlapi.sh - Workload API benchmarks against a real agent (root).
#
# 1. Latency of the first FetchX509SVID response on a new connection
#    (connect, request, first message), p50 and p99, warm, for a caller
#    whose binary is 1 MB and one whose binary is 100 MB (copies of the
#    driver padded with zeros). Baseline in the same run: what the SPIRE
#    agent's unix attestor does on every call for the same caller (read
#    /proc/<pid>/status, readlink /proc/<pid>/exe, SHA-256 of the whole exe).
# 2. CLIENTS (default 1000) concurrent FetchX509SVID streams: RSS of the
#    agent's two processes (core + front), and the time from triggering a
#    change (a second entry for the callers' selectors, created with
#    kwidctl: one new SVID, every stream recomputed and pushed, as on a
#    rotation) to the last stream receiving the new message. Creating an
#    entry is durable (fsync) before anyone is told; its cost alone is
#    measured with an entry that concerns no stream.
#
# Environment: N (latency samples, default 1000), N_BIG (samples for the
# 100 MB baseline, default 50), CLIENTS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
N=${N:-1000}
N_BIG=${N_BIG:-50}
CLIENTS=${CLIENTS:-1000}
AGENT=$BUILD/kwid-agent
KWIDCTL=$BUILD/kwidctl
DRIVER=$BUILD/bench/wlapi_bench

[ "$(id -u)" = 0 ] || { echo "bench_wlapi.sh: run as root (the agent loads BPF programs)" >&2; exit 1; }
make -s -C "$ROOT" all bench-bins >/dev/null

D=$(mktemp -d /tmp/kwid-bench-wlapi.XXXXXX)
chmod 0755 "$D"
SOCK=$D/public/api.sock
ADMIN=$D/admin.sock
cat >"$D/agent.json" <<-JSON
{ "log_level": "warn", "workload_api": { "max_conns_per_uid": $((CLIENTS + 64)), "max_conns": $((CLIENTS + 256)) } }
JSON
"$AGENT" --config "$D/agent.json" --socket "$SOCK" --admin-socket "$ADMIN" --state-dir "$D/state" \
	>"$D/agent.log" 2>&1 &
AGENT_PID=$!
STREAMS_PID=
cleanup() {
	[ -n "$STREAMS_PID" ] && kill "$STREAMS_PID" 2>/dev/null || true
	kill "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
for _ in $(seq 100); do "$KWIDCTL" --admin-socket "$ADMIN" status >/dev/null 2>&1 && break; sleep 0.1; done
kwidctl() { "$KWIDCTL" --admin-socket "$ADMIN" --socket "$SOCK" "$@"; }

# Callers: the driver stripped, then padded with zeros to the size.
strip -o "$D/caller" "$DRIVER"
for size in 1M 100M; do
	cp "$D/caller" "$D/caller-$size"
	truncate -s "$size" "$D/caller-$size"
	kwidctl entry create --spiffe-id "spiffe://example.org/bench-$size" \
		--selector "unix:sha256:$(sha256sum "$D/caller-$size" | cut -d' ' -f1)" >/dev/null
done

echo "# latency of the first FetchX509SVID response on a new connection (warm), microseconds"
printf "%-10s %-22s %10s %10s\n" binary what p50_us p99_us
declare -A P50 P99
for size in 1M 100M; do
	"$D/caller-$size" latency "$SOCK" 20 >/dev/null # warm: measured once per file version
	read -r p50 p99 < <("$D/caller-$size" latency "$SOCK" "$N")
	printf "%-10s %-22s %10s %10s\n" "$size" "kwid FetchX509SVID" "$p50" "$p99"
	P50[kwid-$size]=$p50
	P99[kwid-$size]=$p99
	n=$N
	[ "$size" = 100M ] && n=$N_BIG
	read -r p50 p99 < <("$D/caller-$size" spire-baseline "$n")
	printf "%-10s %-22s %10s %10s\n" "$size" "SPIRE unix attestor" "$p50" "$p99"
	P50[spire-$size]=$p50
	P99[spire-$size]=$p99
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "baseline attestor work alone / kwid full RPC, p99: 1M $(ratio "${P99[spire-1M]}" "${P99[kwid-1M]}")x," \
	"100M $(ratio "${P99[spire-100M]}" "${P99[kwid-100M]}")x; p50: 1M $(ratio "${P50[spire-1M]}" "${P50[kwid-1M]}")x," \
	"100M $(ratio "${P50[spire-100M]}" "${P50[kwid-100M]}")x"
echo "kwid flat in binary size: p99 100M / p99 1M = $(ratio "${P99[kwid-100M]}" "${P99[kwid-1M]}")"

echo
echo "# $CLIENTS concurrent FetchX509SVID streams"
kwidctl entry create --spiffe-id spiffe://example.org/bench-streams \
	--selector "unix:sha256:$(sha256sum "$D/caller" | cut -d' ' -f1)" >/dev/null
mkdir -p "$D/streams"
"$D/caller" streams "$SOCK" "$CLIENTS" "$D/streams" >"$D/streams.out" 2>&1 &
STREAMS_PID=$!
for _ in $(seq 600); do [ -e "$D/streams/ready" ] && break; sleep 0.1; done
[ -e "$D/streams/ready" ] || { echo "streams did not start:"; cat "$D/streams.out"; exit 1; }
FRONT_PID=$(pgrep -P "$AGENT_PID" -f kwid-wlapi-front)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
RSS_CORE=$(rss "$AGENT_PID")
RSS_FRONT=$(rss "$FRONT_PID")
PSS=$(( $(pss "$AGENT_PID") + $(pss "$FRONT_PID") ))
# What the trigger itself costs: creating an entry is durable (fsync)
# before subscribers are told; time one that concerns no stream.
t0=$(date +%s%N)
kwidctl entry create --spiffe-id spiffe://example.org/bench-unrelated --selector unix:uid:4242 >/dev/null
CREATE_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
date +%s%N >"$D/streams/trigger.tmp"
mv "$D/streams/trigger.tmp" "$D/streams/trigger"
kwidctl entry create --spiffe-id spiffe://example.org/bench-streams-2 --selector unix:uid:0 \
	--selector "unix:sha256:$(sha256sum "$D/caller" | cut -d' ' -f1)" >/dev/null
wait "$STREAMS_PID" || { cat "$D/streams.out"; exit 1; }
STREAMS_PID=
read -r clients trigger_ms spread_ms <"$D/streams.out"
RSS_CORE_AFTER=$(rss "$AGENT_PID")
RSS_FRONT_AFTER=$(rss "$FRONT_PID")
echo "streams: $clients"
echo "RSS with the streams open: core $((RSS_CORE / 1024)) MiB + front $((RSS_FRONT / 1024)) MiB" \
	"= $(((RSS_CORE + RSS_FRONT) / 1024)) MiB (after the push: $(((RSS_CORE_AFTER + RSS_FRONT_AFTER) / 1024)) MiB)"
echo "PSS (shared library pages counted once across the two processes): $((PSS / 1024)) MiB"
echo "change pushed to all: trigger -> last client ${trigger_ms} ms, of which ~${CREATE_MS} ms is the durable" \
	"entry create alone; first -> last client ${spread_ms} ms"
kwidctl status --json | python3 -c 'import json,sys; w=json.load(sys.stdin)["workload_api"]; print("status: connections", w["connections"], "streams", w["streams"], "pushes", w["pushes"])'
