# helpers.bash - shared by the bats integration tests: start and stop real
# agents (as root, real kernel) with their own sockets and state directories.

# The checkout: the nearest directory above the test file with the Makefile
# (tests live in tests/integration and in subfolders of it).
KWID_ROOT="$BATS_TEST_DIRNAME"
while [ "$KWID_ROOT" != / ] && [ ! -f "$KWID_ROOT/Makefile" ]; do KWID_ROOT=$(dirname "$KWID_ROOT"); done
AGENT="$KWID_ROOT/build/kwid-agent"
KWIDCTL="$KWID_ROOT/build/kwidctl"
PY=/usr/bin/python3

# new_agent_dir: a fresh directory for one agent's sockets, state and log.
# Sets KWID_DIR, KWID_ADMIN, KWID_SOCKET, KWID_STATE, KWID_LOG.
new_agent_dir() {
	KWID_DIR=$(mktemp -d /tmp/kwid-it.XXXXXX)
	KWID_ADMIN="$KWID_DIR/admin.sock"
	KWID_SOCKET="$KWID_DIR/public/api.sock"
	KWID_STATE="$KWID_DIR/state"
	KWID_LOG="$KWID_DIR/agent.log"
}

# start_agent [agent flags...]: start kwid-agent in the background and wait
# (up to 30 s) until `kwidctl status` answers. Sets KWID_PID. A test may set
# the array AGENT_PREFIX to a command the agent runs under (unshare ...);
# it must exec the agent so that KWID_PID stays the agent's pid.
start_agent() {
	[ -n "${KWID_DIR:-}" ] || new_agent_dir
	"${AGENT_PREFIX[@]}" "$AGENT" --admin-socket "$KWID_ADMIN" --socket "$KWID_SOCKET" \
		--state-dir "$KWID_STATE" --trust-domain "${KWID_TD:-example.org}" \
		--log-level "${KWID_LOG_LEVEL:-debug}" "$@" >>"$KWID_LOG" 2>&1 &
	KWID_PID=$!
	wait_agent_ready
}

wait_agent_ready() {
	local i
	for i in $(seq 1 300); do
		if ! kill -0 "$KWID_PID" 2>/dev/null; then
			echo "kwid-agent exited during start-up; log:" >&2
			cat "$KWID_LOG" >&2
			return 1
		fi
		if "$KWIDCTL" --admin-socket "$KWID_ADMIN" status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "kwid-agent did not become ready in 30 s; log:" >&2
	cat "$KWID_LOG" >&2
	return 1
}

# stop_agent: SIGTERM, wait, and keep the log around on failure.
stop_agent() {
	if [ -n "${KWID_PID:-}" ] && kill -0 "$KWID_PID" 2>/dev/null; then
		kill -TERM "$KWID_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$KWID_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$KWID_PID" 2>/dev/null || true
		wait "$KWID_PID" 2>/dev/null || true
	fi
	KWID_PID=
}

cleanup_agent() {
	stop_agent
	if [ -n "${KWID_DIR:-}" ]; then
		if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ -z "${KWID_KEEP_FAILED:-}" ]; then
			rm -rf "$KWID_DIR"
		else
			echo "kept $KWID_DIR for inspection" >&2
		fi
	fi
	KWID_DIR=
}

# kwidctl ARGS...: kwidctl bound to the test's agent.
kwidctl() {
	"$KWIDCTL" --admin-socket "$KWID_ADMIN" --socket "$KWID_SOCKET" "$@"
}

# wait_until TIMEOUT_S CMD...: retry CMD every 0.1 s until it succeeds.
wait_until() {
	local timeout=$1 i
	shift
	for i in $(seq 1 $((timeout * 10))); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	"$@"
}

# json_get EXPR: evaluate a Python expression over the JSON on stdin (as j).
json_get() {
	"$PY" -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# status_field SUFFIX: a field of the agent's workload_api status section,
# e.g. status_field "['front_pid']".
status_field() {
	kwidctl status --json | json_get "j['workload_api']$1"
}

# wl_is KEY VALUE / wl_ge KEY N: a workload_api status field, for wait_until
# (which re-runs them until they hold).
wl_is() {
	[ "$(status_field "['$1']")" = "$2" ]
}
wl_ge() {
	[ "$(status_field "['$1']")" -ge "$2" ]
}

# entry SPIFFE_ID SELECTOR... [-- EXTRA FLAGS]: create an entry, print its id.
entry() {
	local id=$1 sels=() extra=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sels+=(--selector "$1"); shift; done
	[ "${1:-}" = -- ] && { shift; extra=("$@"); }
	kwidctl entry create --spiffe-id "$id" "${sels[@]}" "${extra[@]}" --json | json_get 'j["id"]'
}

# The Workload API test clients (wlapi_client.py, node/wlapi_client.mjs)
# print JSON lines and end with {"status": "<gRPC code name>", ...}.

# last_status: the final status of the client output in $output.
last_status() {
	echo "$output" | tail -n 1 | json_get 'j["status"]'
}

# lines FILE: number of JSON lines a background client wrote.
lines() {
	[ -f "$1" ] && wc -l <"$1" || echo 0
}
lines_ge() {
	[ "$(lines "$1")" -ge "$2" ]
}

# dump_log: print the agent log (use in failing assertions).
dump_log() {
	echo "--- agent log ($KWID_LOG) ---" >&2
	tail -n 100 "$KWID_LOG" >&2 || true
}
