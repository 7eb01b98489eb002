#!/usr/bin/env bash
# bench_attestors.sh - time to compute a process's full selector set
# through the agent (admin "selectors" request: table lookup, measurement
# wait, /proc reads, every attestor, exec confirmation), for a process
# whose executable is 100 MB and one whose executable is 1 MB:
#   cold: from spawning the process until its selectors are answered,
#         with a file version never seen before (hashing included);
#   warm: the same process asked again (measurement cached).
# Warm must not grow with the binary's size: the script prints the ratio
# warm(100 MB) / warm(1 MB) measured in the same run, and the cost of a
# no-op admin request (status) as the floor of the protocol.
#
# usage: sudo bash bench/bench_attestors.sh [WARM_ROUNDS] [COLD_ROUNDS]
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
AGENT="$ROOT/build/kwid-agent"
PY=/usr/bin/python3
WARM=${1:-300}
COLD=${2:-5}

[ "$(id -u)" = 0 ] || { echo "bench_attestors: needs root (the agent loads BPF programs)" >&2; exit 1; }
[ -x "$AGENT" ] || { echo "bench_attestors: build first (make)" >&2; exit 1; }

DIR=$(mktemp -d /tmp/kwid-bench.XXXXXX)
AGENT_PID=
cleanup() {
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT

# Executables of the two sizes: a real program (sleep) padded with random
# bytes, which the kernel ignores but the measurer must hash.
make_binary() { # NAME SIZE_MB
	cp "$(readlink -f /usr/bin/sleep)" "$DIR/$1"
	head -c $(($2 * 1024 * 1024 - $(stat -c %s "$DIR/$1"))) /dev/urandom >>"$DIR/$1"
	chmod 0755 "$DIR/$1"
}
make_binary big 100
make_binary small 1

"$AGENT" --admin-socket "$DIR/admin.sock" --socket "$DIR/api.sock" --state-dir "$DIR/state" \
	--log-level warn >"$DIR/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 300); do
	[ -S "$DIR/admin.sock" ] && break
	sleep 0.1
done

"$PY" - "$DIR" "$WARM" "$COLD" <<'PY'
import json, os, shutil, socket, statistics, subprocess, sys, time

d, warm_rounds, cold_rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = os.path.join(d, "admin.sock")

def ask(cmd, args=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(json.dumps({"cmd": cmd, "args": args or {}}).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf)

def selectors(pid):
    r = ask("selectors", {"pid": pid})
    if not r["ok"]:
        raise SystemExit("selectors failed: %s" % r)
    return r["result"]["selectors"]

def has_sha(sels):
    return any(s.startswith("unix:sha256:") for s in sels)

def wait_ready(pid, path):
    """Ask until the answer is about the program at path, with its digest
    (before that the child may still be the forking python)."""
    while True:
        r = ask("selectors", {"pid": pid})
        if r["ok"] and has_sha(r["result"]["selectors"]) and \
           "unix:path:" + path in r["result"]["selectors"]:
            return

def cold(name, rounds):
    times = []
    for i in range(rounds):
        path = os.path.join(d, "%s-%d" % (name, i))
        shutil.copyfile(os.path.join(d, name), path)  # a file version never measured
        os.chmod(path, 0o755)
        t0 = time.perf_counter()
        p = subprocess.Popen([path, "1000"])
        wait_ready(p.pid, path)
        times.append(time.perf_counter() - t0)
        p.kill(); p.wait()
        os.unlink(path)
    return times

def warm(path, rounds):
    p = subprocess.Popen([path, "1000"])
    try:
        wait_ready(p.pid, path)
        for _ in range(20):
            selectors(p.pid)
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            selectors(p.pid)
            times.append(time.perf_counter() - t0)
        return times
    finally:
        p.kill(); p.wait()

def floor(rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        ask("status")
        times.append(time.perf_counter() - t0)
    return times

def us(x):
    return "%8.1f us" % (x * 1e6)

def report(label, t):
    t = sorted(t)
    print("%-34s median %s  p90 %s  (n=%d)" % (label, us(statistics.median(t)), us(t[int(len(t) * 0.9)]), len(t)))
    return statistics.median(t)

big, small = os.path.join(d, "big"), os.path.join(d, "small")
# Interleave the warm runs so drift on the shared machine hits both.
wb, ws, fl = [], [], []
for _ in range(3):
    wb += warm(big, warm_rounds // 3)
    ws += warm(small, warm_rounds // 3)
    fl += floor(warm_rounds // 3)
cb = cold("big", cold_rounds)
cs = cold("small", cold_rounds)

print("selector set of one process (admin round trip, python client)")
f = report("floor: no-op admin request", fl)
mb = report("warm, 100 MB executable", wb)
ms = report("warm, 1 MB executable", ws)
cbm = report("cold, 100 MB executable", cb)
csm = report("cold, 1 MB executable", cs)
print("ratio warm 100 MB / warm 1 MB:     %.2f  (size-independent when ~1)" % (mb / ms))
print("warm attestation above the floor:   100 MB %s, 1 MB %s" % (us(mb - f), us(ms - f)))
print("ratio cold 100 MB / warm 100 MB:   %.0f  (hashing 100 MB happens once per file version)" % (cbm / mb))
PY
