#!/usr/bin/env bats
# 50_workload_api.bats - the SPIFFE Workload API with a real agent, the real
# kernel and gRPC clients kwid did not write (Debian's python3-grpcio):
# transport, security header, status codes, limits, abuse, the
# unprivileged front, and kwidctl as a client.

load helpers

WLAPI_PY="$BATS_TEST_DIRNAME/wlapi_client.py"
GARBAGE_PY="$BATS_TEST_DIRNAME/h2_garbage.py"

setup_file() {
	export WLAPI_STUBS
	WLAPI_STUBS=$(mktemp -d /tmp/kwid-stubs.XXXXXX)
	chmod 0755 "$WLAPI_STUBS" # non-root clients import them too
	# Generate the Python stubs once for the file.
	/usr/bin/python3 "$WLAPI_PY" --stubs "$WLAPI_STUBS" --socket /nonexistent health --timeout 0.1 >/dev/null 2>&1 || true
	[ -f "$WLAPI_STUBS/workload_pb2_grpc.py" ]
}

teardown_file() {
	rm -rf "$WLAPI_STUBS"
}

setup() {
	new_agent_dir
	chmod 0755 "$KWID_DIR" # let non-root clients reach public/api.sock
}

teardown() {
	cleanup_agent
}

# wl ARGS...: the grpcio client against this test's agent.
wl() {
	/usr/bin/python3 "$WLAPI_PY" --socket "$KWID_SOCKET" "$@"
}

# last_status: the final status line of the client's output.
last_status() {
	echo "$output" | tail -n 1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'
}

status_field() {
	kwidctl status --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['workload_api']$1)"
}

front_pid() {
	status_field "['front_pid']"
}

# wl_is KEY VALUE / wl_ge KEY N: a workload_api status field, for wait_until
# (which re-runs them until they hold).
wl_is() {
	[ "$(status_field "['$1']")" = "$2" ]
}
wl_ge() {
	[ "$(status_field "['$1']")" -ge "$2" ]
}

@test "socket is world-connectable in a 0755 directory" {
	start_agent
	[ "$(stat -c %a "$KWID_SOCKET")" = 666 ]
	[ "$(stat -c %a "$(dirname "$KWID_SOCKET")")" = 755 ]
	grep -q "SPIFFE_ENDPOINT_SOCKET=unix://$KWID_SOCKET" "$KWID_LOG"
}

@test "the front runs unprivileged: uid 65534, no capabilities, no_new_privs, seccomp, not dumpable" {
	start_agent
	wait_until 5 wl_ge front_pid 1
	local pid
	pid=$(front_pid)
	[ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' /proc/$pid/status)" = 65534655346553465534 ]
	[ "$(awk '/^Gid:/ {print $2 $3 $4 $5}' /proc/$pid/status)" = 65534655346553465534 ]
	[ -z "$(awk '/^Groups:/ {print $2}' /proc/$pid/status)" ]
	for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
		[ "$(awk "/^$cap:/ {print \$2}" /proc/$pid/status)" = 0000000000000000 ]
	done
	[ "$(awk '/^NoNewPrivs:/ {print $2}' /proc/$pid/status)" = 1 ]
	[ "$(awk '/^Seccomp:/ {print $2}' /proc/$pid/status)" = 2 ]
	# Not dumpable: its /proc files belong to root, so other processes
	# of uid 65534 cannot ptrace it or read its memory.
	[ "$(stat -c %u /proc/$pid/mem)" = 0 ]
	[ "$(cat /proc/$pid/cmdline | tr '\0' ' ')" = "kwid-agent --wlapi-front " ]
	# Besides stdio: only sockets and the loop's epoll/timerfd/signalfd.
	local fd target
	for fd in /proc/$pid/fd/*; do
		[ "${fd##*/}" -le 2 ] && continue
		target=$(readlink "$fd")
		[[ "$target" == socket:* || "$target" == anon_inode:* ]] || { echo "fd ${fd##*/} -> $target"; false; }
	done
}

@test "health check answers SERVING without the security header" {
	start_agent
	run wl --no-header health
	[ "$status" -eq 0 ]
	[[ "$output" == *'"serving_status": "SERVING"'* ]]
	run wl health --service SpiffeWorkloadAPI
	[ "$status" -eq 0 ]
	run wl health --service no.such.Service
	[ "$(last_status)" = NOT_FOUND ]
}

@test "missing or wrong security header is INVALID_ARGUMENT on every RPC" {
	start_agent
	local cmd hdr
	for cmd in x509 x509-bundles jwt jwt-bundles validate wit wit-bundles; do
		for hdr in --no-header "--header false" "--header TRUE" --header-twice; do
			# shellcheck disable=SC2086
			run wl $hdr "$cmd" --audience a --token t
			[ "$status" -eq 1 ]
			[ "$(last_status)" = INVALID_ARGUMENT ] || { echo "$cmd $hdr: $output"; false; }
			[[ "$output" == *"security header missing from request"* ]]
		done
	done
}

@test "FetchJWTSVID without audience and ValidateJWTSVID without fields are INVALID_ARGUMENT" {
	start_agent
	run wl jwt
	[ "$(last_status)" = INVALID_ARGUMENT ]
	[[ "$output" == *"audience must be specified"* ]]
	run wl validate --token abc
	[ "$(last_status)" = INVALID_ARGUMENT ]
	[[ "$output" == *"audience must be specified"* ]]
	run wl validate --audience db
	[ "$(last_status)" = INVALID_ARGUMENT ]
	[[ "$output" == *"svid must be specified"* ]]
}

@test "WIT-SVID methods and unknown methods are UNIMPLEMENTED" {
	start_agent
	run wl wit
	[ "$(last_status)" = UNIMPLEMENTED ]
	run wl wit-bundles
	[ "$(last_status)" = UNIMPLEMENTED ]
	run wl call /SpiffeWorkloadAPI/FetchNothing
	[ "$(last_status)" = UNIMPLEMENTED ]
	run wl call /other.Service/Method
	[ "$(last_status)" = UNIMPLEMENTED ]
}

@test "a garbage-spewing client gets its connection closed; the agent keeps serving" {
	start_agent
	local kind before
	before=$(front_pid)
	for kind in random bad-preface huge-frame bad-hpack grpc-huge-prefix grpc-truncated grpc-compressed; do
		run /usr/bin/python3 "$GARBAGE_PY" "$KWID_SOCKET" "$kind" --wait 5
		[ "$output" = closed ] || { echo "$kind: $output"; dump_log; false; }
		run wl --no-header health
		[ "$status" -eq 0 ]
	done
	# Same front, no crash, every connection counted.
	[ "$(front_pid)" = "$before" ]
	[ "$(status_field "['front_restarts']")" = 0 ]
	wait_until 3 wl_ge protocol_errors 7
}

@test "limits: time to first request and request message size" {
	cat >"$KWID_DIR/agent.json" <<-JSON
	{ "workload_api": { "max_message_bytes": 1024, "first_request_timeout_ms": 300 } }
	JSON
	start_agent --config "$KWID_DIR/agent.json"
	# A silent connection is closed after first_request_timeout_ms, and so
	# is one that stalls inside a frame.
	run /usr/bin/python3 "$GARBAGE_PY" "$KWID_SOCKET" idle --wait 5
	[ "$output" = closed ]
	run /usr/bin/python3 "$GARBAGE_PY" "$KWID_SOCKET" truncated-frame --wait 5
	[ "$output" = closed ]
	wait_until 3 wl_ge first_request_timeouts 2
	# A request message above max_message_bytes: RESOURCE_EXHAUSTED.
	run wl jwt --audience "$(head -c 2000 /dev/zero | tr '\0' a)"
	[ "$(last_status)" = RESOURCE_EXHAUSTED ]
	run wl jwt --audience "$(head -c 900 /dev/zero | tr '\0' a)"
	[ "$(last_status)" != RESOURCE_EXHAUSTED ]
}

@test "limits: connections per uid and in total" {
	cat >"$KWID_DIR/agent.json" <<-JSON
	{ "workload_api": { "max_conns_per_uid": 3, "max_conns": 5 } }
	JSON
	start_agent --config "$KWID_DIR/agent.json"
	# Hold three connections of uid 0 while probing.
	/usr/bin/python3 -c '
import socket, sys, time
held = []
for _ in range(3):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
time.sleep(6)' "$KWID_SOCKET" &
	local holder=$!
	wait_until 5 wl_is connections 3
	# A fourth from uid 0 is closed at once; uid 1000 still gets in.
	run /usr/bin/python3 "$GARBAGE_PY" "$KWID_SOCKET" hello --wait 2
	[ "$output" = closed ]
	run setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 "$GARBAGE_PY" "$KWID_SOCKET" hello --wait 2
	[ "$output" = answered ]
	wait_until 3 wl_ge connections_refused 1
	kill "$holder" 2>/dev/null || true
	wait "$holder" 2>/dev/null || true
	# Once they are gone, uid 0 is welcome again.
	wait_until 5 wl_is connections 0
	run /usr/bin/python3 "$GARBAGE_PY" "$KWID_SOCKET" hello --wait 2
	[ "$output" = answered ]
}

@test "a killed front is restarted and serves again" {
	start_agent
	wait_until 5 wl_ge front_pid 1
	local pid
	pid=$(front_pid)
	kill -KILL "$pid"
	wait_until 10 wl_is front_restarts 1
	wait_until 10 wl_ge front_pid 1
	[ "$(front_pid)" != "$pid" ]
	run wl --no-header health
	[ "$status" -eq 0 ]
	grep -q "the front (pid $pid) was killed by signal 9" "$KWID_LOG"
	# The front dies with the agent.
	pid=$(front_pid)
	stop_agent
	! kill -0 "$pid" 2>/dev/null
	[ ! -e "$KWID_SOCKET" ]
}

@test "non-root workloads reach the socket" {
	start_agent
	run setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 "$WLAPI_PY" --socket "$KWID_SOCKET" --no-header health
	[ "$status" -eq 0 ]
	[[ "$output" == *SERVING* ]]
}

@test "kwidctl speaks the Workload API: socket from --socket or SPIFFE_ENDPOINT_SOCKET, clear errors" {
	start_agent
	run "$KWIDCTL" --socket "$KWID_DIR/nope.sock" fetch x509
	[ "$status" -eq 3 ]
	[[ "$output" == *"cannot connect to the Workload API at $KWID_DIR/nope.sock"* ]]
	run env SPIFFE_ENDPOINT_SOCKET="unix://$KWID_DIR/nope.sock" "$KWIDCTL" fetch bundle
	[ "$status" -eq 3 ]
	[[ "$output" == *"$KWID_DIR/nope.sock"* ]]
	run kwidctl fetch jwt
	[ "$status" -eq 2 ]
	run kwidctl validate jwt --audience a
	[ "$status" -eq 2 ]
}
