#!/bin/bash
# bench_node.sh - node evidence benchmarks, each against a baseline run in
# the same script (the machine is shared and noisy):
#  1. IMA replay + runtime policy check of a 100,000-entry log
#     (in-process, and end to end with `kwidctl node verify --policy`),
#     against sha256sum and `openssl dgst -sha256` over the same bytes;
#  2. quote latency against swtpm (`kwidctl node quote`, p50/p99 over N
#     quotes), against tpm2-tools' `tpm2_quote` with a loaded AK context.
# Usage: bash bench/bench_node.sh   (env: ENTRIES=100000 QUOTES=50)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KWIDCTL=$ROOT/build/kwidctl
AGENT=$ROOT/build/kwid-agent
PY=/usr/bin/python3
FIXTURES=$ROOT/tests/fixtures
ENTRIES=${ENTRIES:-100000}
QUOTES=${QUOTES:-50}
W=$(mktemp -d /tmp/kwid-bench-node.XXXXXX)
SWTPM_PID= AGENT_PID=

cleanup() {
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -n "$SWTPM_PID" ] && kill "$SWTPM_PID" 2>/dev/null && wait "$SWTPM_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

now_us() { echo $(($(date +%s%N) / 1000)); }
best_of() { # best_of N CMD...: smallest wall time in ms over N runs
	local n=$1 best= t0 t1 i
	shift
	for i in $(seq 1 "$n"); do
		t0=$(now_us)
		"$@" >/dev/null
		t1=$(now_us)
		if [ -z "$best" ] || [ $((t1 - t0)) -lt "$best" ]; then best=$((t1 - t0)); fi
	done
	awk -v us="$best" 'BEGIN { printf "%.1f", us / 1000 }'
}
percentiles() { # stdin: one number per line -> "p50 p99"
	sort -n | awk '{ v[NR] = $1 } END { i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5);
		if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1; printf "%.1f %.1f\n", v[i50] / 1000, v[i99] / 1000 }'
}

start_swtpm() {
	local port
	port=$("$PY" "$FIXTURES/free_port_pair.py")
	mkdir -p "$W/tpm"
	swtpm socket --tpm2 --tpmstate dir="$W/tpm" --server type=tcp,port="$port",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear \
		>"$W/swtpm.log" 2>&1 &
	SWTPM_PID=$!
	TCTI="swtpm:host=127.0.0.1,port=$port"
	export TPM2TOOLS_TCTI=$TCTI TSS2_LOG=all+none
	for _ in $(seq 1 50); do tpm2_getcap properties-fixed >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "swtpm did not start" >&2
	exit 1
}

start_agent() { # start_agent CONFIG_JSON
	echo "$1" >"$W/agent.json"
	"$AGENT" --config "$W/agent.json" --tcti "$TCTI" --admin-socket "$W/admin.sock" --socket "$W/api.sock" \
		--state-dir "$W/state" --log-level warn >>"$W/agent.log" 2>&1 &
	AGENT_PID=$!
	for _ in $(seq 1 600); do
		"$KWIDCTL" --admin-socket "$W/admin.sock" status --json 2>/dev/null | grep -q '"evidence": "verified"' && return 0
		sleep 0.1
	done
	echo "agent did not verify its evidence; log:" >&2
	cat "$W/agent.log" >&2
	exit 1
}

stop_agent() {
	kill "$AGENT_PID" && wait "$AGENT_PID" || true
	AGENT_PID=
}

echo "== build helper"
cc -O2 -I"$ROOT/include" -D_GNU_SOURCE "$ROOT/bench/node_bench.c" "$ROOT/build/libkwid.a" -o "$W/node_bench" \
	-lssl -lcrypto -ljson-c -ltss2-esys -ltss2-tctildr -ltss2-mu -ltss2-rc

echo "== generate a $ENTRIES-entry IMA log (ima-ng, SHA-1 template hashes) and a policy for it"
"$PY" - "$ENTRIES" "$W/entries" "$W/policy.json" <<'PY'
import hashlib, json, sys
n, entries, policy = int(sys.argv[1]), sys.argv[2], sys.argv[3]
digests = {}
with open(entries, "w") as f:
    for i in range(n):
        path = f"/tmp/scratch/f{i}" if i % 100 == 99 else f"/usr/lib/x86_64-linux-gnu/pkg{i % 997}/lib{i}.so.1"
        d = hashlib.sha256(path.encode()).hexdigest()
        f.write(f"{path}={d}\n")
        if not path.startswith("/tmp/"):
            digests[path] = [d]
json.dump({"meta": {"version": 1}, "release": 0, "digests": digests, "excludes": ["/tmp/.*", "/var/log/.*"],
           "keyrings": {}, "ima": {"ignored_keyrings": []}}, open(policy, "w"))
PY
LOG=$W/binary_runtime_measurements
"$PY" "$FIXTURES/ima_log.py" --out "$LOG" --from "$W/entries" >"$W/extends"
BYTES=$(stat -c %s "$LOG")
echo "   log: $BYTES bytes; policy: $(stat -c %s "$W/policy.json") bytes"

start_swtpm
t0=$(now_us)
"$W/node_bench" extend "$TCTI" "$W/extends"
echo "   extended into the swtpm's PCR 10 in $(( ($(now_us) - t0) / 1000 )) ms"

echo "== 1. IMA replay + policy, $ENTRIES entries"
for i in 1 2 3; do "$W/node_bench" replay "$LOG" "$W/policy.json"; done | tee "$W/inproc"
REPLAY=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(parse|replay|policy)_ms=/) { split($i, kv, "="); s += kv[2] }
	if (best == "" || s < best) best = s; s = 0 } END { printf "%.1f", best }' "$W/inproc")
SHA=$(best_of 3 sha256sum "$LOG")
OSSL=$(best_of 3 openssl dgst -sha256 "$LOG")
echo "   in-process parse+replay+policy (best of 3): $REPLAY ms"
echo "   baseline sha256sum over the same bytes:      $SHA ms"
echo "   baseline openssl dgst -sha256:               $OSSL ms"
awk -v a="$REPLAY" -v b="$SHA" 'BEGIN { printf "   ratio replay+policy / sha256sum: %.1fx\n", a / b }'

start_agent "{ \"node\": { \"ima_log\": \"$LOG\", \"ima_policy\": \"$W/policy.json\", \"quote_interval_s\": 3600 } }"
"$KWIDCTL" --admin-socket "$W/admin.sock" node ak --out "$W/ak.pem" >/dev/null
"$KWIDCTL" --admin-socket "$W/admin.sock" node quote --nonce 00112233445566778899aabbccddeeff --out "$W/ev.json"
"$KWIDCTL" --admin-socket "$W/admin.sock" node refresh >/dev/null
SELF=$("$KWIDCTL" --admin-socket "$W/admin.sock" status --json | awk -F': ' '/"last_quote_ms"/ { gsub(/[",]/, "", $2); print $2 }')
E2E=$(best_of 3 "$KWIDCTL" node verify "$W/ev.json" --ak-pub "$W/ak.pem" --nonce 00112233445566778899aabbccddeeff \
	--policy "$W/policy.json")
"$KWIDCTL" node verify "$W/ev.json" --ak-pub "$W/ak.pem" --nonce 00112233445566778899aabbccddeeff --policy "$W/policy.json"
echo "   end to end: kwidctl node verify --policy (evidence $(stat -c %s "$W/ev.json") bytes, best of 3): $E2E ms"
echo "   agent self-quote incl. log read, replay, policy (worker thread): $SELF ms"
stop_agent

echo "== 2. quote latency against swtpm, $QUOTES quotes (PCRs sha256:0-7,10, no IMA log)"
rm -rf "$W/state"
start_agent '{ "node": { "ima_log": null, "quote_interval_s": 3600 } }'
for i in $(seq 1 "$QUOTES"); do
	t0=$(now_us)
	"$KWIDCTL" --admin-socket "$W/admin.sock" node quote --nonce "$(printf '%032x' "$i")" >/dev/null
	echo $(($(now_us) - t0))
done | percentiles >"$W/kwid_q"
stop_agent
tpm2_createek -c "$W/ek.ctx" -G ecc -Q
tpm2_createak -C "$W/ek.ctx" -c "$W/ak.ctx" -G ecc -g sha256 -s ecdsa -Q
tpm2_flushcontext -t
for i in $(seq 1 "$QUOTES"); do
	t0=$(now_us)
	tpm2_quote -Q -c "$W/ak.ctx" -l sha256:0,1,2,3,4,5,6,7,10 -q "$(printf '%032x' "$i")" -m "$W/q.msg" -s "$W/q.sig"
	echo $(($(now_us) - t0))
	tpm2_flushcontext -t
done | percentiles >"$W/tools_q"
read -r KP50 KP99 <"$W/kwid_q"
read -r TP50 TP99 <"$W/tools_q"
echo "   kwidctl node quote (EK + AK load, quote, PCR read, JSON, admin socket): p50 $KP50 ms, p99 $KP99 ms"
echo "   baseline tpm2_quote (AK context load, quote):                         p50 $TP50 ms, p99 $TP99 ms"
awk -v a="$KP50" -v b="$TP50" 'BEGIN { printf "   ratio p50 kwid / tpm2_quote: %.2fx\n", a / b }'
