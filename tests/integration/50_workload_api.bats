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
	# Non-root clients run copies of the scripts from there: the checkout
	# may sit below a root-only directory (a CI clone in /root, say).
	cp "$WLAPI_PY" "$GARBAGE_PY" "$WLAPI_STUBS/"
	chmod 0644 "$WLAPI_STUBS"/*.py
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

front_pid() {
	status_field "['front_pid']"
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
	[ "$(cat /proc/$pid/cmdline | tr '\0' ' ')" = "kwid-wlapi-front " ]
	# the process that parses the public socket maps none of the
	# privileged parts' libraries
	! grep -Eq 'libbpf|libtss2|libcap\.so' /proc/$pid/maps
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
	wait_until 5 wl_ge front_pid 1
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
	run setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 "$WLAPI_STUBS/h2_garbage.py" "$KWID_SOCKET" hello --wait 2
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
	run setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 "$WLAPI_STUBS/wlapi_client.py" --socket "$KWID_SOCKET" --no-header health
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

# ---- identities end to end: tracker, attestors, entries, authority ----

# interpreters DIR: two copies of the Python interpreter, the second made
# different by appended bytes (it still runs): $DIR/py-a, $DIR/py-b.
interpreters() {
	cp /usr/bin/python3.11 "$1/py-a"
	cp /usr/bin/python3.11 "$1/py-b"
	head -c 1000 /dev/urandom >>"$1/py-b"
	SHA_A=$(sha256sum "$1/py-a" | cut -d' ' -f1)
	SHA_B=$(sha256sum "$1/py-b" | cut -d' ' -f1)
	[ "$SHA_A" != "$SHA_B" ]
}

# wl_as BINARY ARGS...: the grpcio client run by that interpreter.
wl_as() {
	local bin=$1
	shift
	"$bin" "$WLAPI_PY" --socket "$KWID_SOCKET" "$@"
}

@test "two copies of one interpreter, told apart by unix:sha256, each get only their own SPIFFE ID; the chain verifies" {
	start_agent
	interpreters "$KWID_DIR"
	entry spiffe://example.org/py-a "unix:sha256:$SHA_A"
	entry spiffe://example.org/py-b "unix:sha256:$SHA_B"
	run wl_as "$KWID_DIR/py-a" x509 --write "$KWID_DIR/a"
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	echo "$output" | head -1 | grep -q '"spiffe_id": "spiffe://example.org/py-a"'
	! echo "$output" | grep -q py-b
	run wl_as "$KWID_DIR/py-b" x509 --write "$KWID_DIR/b"
	[ "$status" -eq 0 ]
	echo "$output" | head -1 | grep -q '"spiffe_id": "spiffe://example.org/py-b"'
	! echo "$output" | grep -q 'example.org/py-a'
	# Identity is by content: the original interpreter has py-a's bytes.
	run wl x509
	[ "$status" -eq 0 ]
	echo "$output" | head -1 | grep -q '"spiffe_id": "spiffe://example.org/py-a"'
	local d
	for d in a b; do
		local untrusted=()
		[ -s "$KWID_DIR/$d/chain.0.pem" ] && untrusted=(-untrusted "$KWID_DIR/$d/chain.0.pem")
		run openssl verify -CAfile "$KWID_DIR/$d/bundle.0.pem" "${untrusted[@]}" "$KWID_DIR/$d/leaf.0.pem"
		[ "$status" -eq 0 ] || { echo "$output"; false; }
		openssl x509 -in "$KWID_DIR/$d/leaf.0.pem" -noout -ext subjectAltName | grep -q "URI:spiffe://example.org/py-$d"
		# The key is the leaf's.
		[ "$(openssl pkey -inform DER -in "$KWID_DIR/$d/key.0.der" -pubout | sha256sum)" = \
		  "$(openssl x509 -in "$KWID_DIR/$d/leaf.0.pem" -noout -pubkey | sha256sum)" ]
	done
}

@test "no matching entry: PERMISSION_DENIED on every identity RPC" {
	start_agent
	entry spiffe://example.org/nobody unix:uid:4242
	local cmd
	for cmd in x509 x509-bundles jwt-bundles; do
		run wl "$cmd"
		[ "$(last_status)" = PERMISSION_DENIED ] || { echo "$cmd: $output"; false; }
		[[ "$output" == *"no identity issued"* ]]
	done
	run wl jwt --audience db
	[ "$(last_status)" = PERMISSION_DENIED ]
}

@test "JWT-SVIDs: audience, spiffe_id selection, ValidateJWTSVID accepts good tokens and refuses bad ones" {
	start_agent
	interpreters "$KWID_DIR"
	entry spiffe://example.org/one "unix:sha256:$SHA_A"
	entry spiffe://example.org/two "unix:sha256:$SHA_A" unix:uid:0
	run wl_as "$KWID_DIR/py-a" jwt --audience db --audience cache
	[ "$status" -eq 0 ]
	local svids=$output
	[ "$(echo "$svids" | head -1 | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["svids"]))')" = 2 ]
	local token
	token=$(echo "$svids" | head -1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["svids"][0]["token"])')
	# An independent check: PyJWT with the JWKS from FetchJWTBundles.
	run wl_as "$KWID_DIR/py-a" jwt-bundles
	[ "$status" -eq 0 ]
	echo "$output" | head -1 >"$KWID_DIR/jwks.json"
	run /usr/bin/python3 - "$token" "$KWID_DIR/jwks.json" <<-'PY'
	import json, sys, jwt
	bundles = json.load(open(sys.argv[2]))["bundles"]
	keys = bundles["spiffe://example.org"]["keys"]
	assert all(k["use"] == "jwt-svid" and k["kid"] for k in keys), keys
	kid = jwt.get_unverified_header(sys.argv[1])["kid"]
	key = jwt.PyJWK([k for k in keys if k["kid"] == kid][0]).key
	claims = jwt.decode(sys.argv[1], key, algorithms=["ES256"], audience="cache")
	assert claims["sub"] == "spiffe://example.org/one" and sorted(claims["aud"]) == ["cache", "db"], claims
	print("pyjwt ok")
	PY
	[ "$output" = "pyjwt ok" ] || { echo "$output"; false; }

	# spiffe_id picks one identity; one the caller does not hold is refused.
	run wl_as "$KWID_DIR/py-a" jwt --audience db --spiffe-id spiffe://example.org/two
	[ "$status" -eq 0 ]
	[[ "$output" == *'"spiffe_id": "spiffe://example.org/two"'* ]]
	[[ "$output" != *'example.org/one'* ]]
	run wl_as "$KWID_DIR/py-a" jwt --audience db --spiffe-id spiffe://example.org/three
	[ "$(last_status)" = PERMISSION_DENIED ]

	# ValidateJWTSVID (any caller may validate: only public keys are involved).
	run wl validate --audience db --token "$token"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *'"spiffe_id": "spiffe://example.org/one"'* ]]
	[[ "$output" == *'"sub": "spiffe://example.org/one"'* ]]
	run wl validate --audience other --token "$token"
	[ "$(last_status)" = INVALID_ARGUMENT ]
	[[ "$output" == *"audience"* ]]
	local tampered
	tampered=$(/usr/bin/python3 -c '
import base64, sys
h, p, s = sys.argv[1].split(".")
sig = bytearray(base64.urlsafe_b64decode(s + "=="))
sig[7] ^= 1
print(h + "." + p + "." + base64.urlsafe_b64encode(bytes(sig)).decode().rstrip("="))' "$token")
	run wl validate --audience db --token "$tampered"
	[ "$(last_status)" = INVALID_ARGUMENT ]
	[[ "$output" == *"signature"* ]]
	run wl validate --audience db --token "not.a.jwt"
	[ "$(last_status)" = INVALID_ARGUMENT ]
}

@test "a stream gets a new message when a second entry starts matching and when entries are deleted, then PERMISSION_DENIED" {
	start_agent
	interpreters "$KWID_DIR"
	local e1 e2
	e1=$(entry spiffe://example.org/first "unix:sha256:$SHA_A")
	wl_as "$KWID_DIR/py-a" x509 --count 10 --timeout 60 >"$KWID_DIR/stream" 2>&1 &
	local client=$!
	wait_until 10 lines_ge "$KWID_DIR/stream" 1
	grep -q 'example.org/first' "$KWID_DIR/stream"
	e2=$(entry spiffe://example.org/second "unix:sha256:$SHA_A" unix:uid:0)
	wait_until 10 lines_ge "$KWID_DIR/stream" 2
	sed -n 2p "$KWID_DIR/stream" | grep -q 'example.org/first.*example.org/second'
	# An entry for someone else changes nothing for this caller.
	entry spiffe://example.org/other "unix:sha256:$SHA_B" >/dev/null
	sleep 1
	[ "$(lines "$KWID_DIR/stream")" = 2 ]
	kwidctl entry delete "$e1"
	wait_until 10 lines_ge "$KWID_DIR/stream" 3
	sed -n 3p "$KWID_DIR/stream" | grep -q 'example.org/second'
	! sed -n 3p "$KWID_DIR/stream" | grep -q 'example.org/first'
	kwidctl entry delete "$e2"
	wait "$client" || true
	tail -1 "$KWID_DIR/stream" | grep -q '"status": "PERMISSION_DENIED"'
	[ "$(lines "$KWID_DIR/stream")" = 4 ]
}

@test "a stream gets the rotated SVID (short TTL)" {
	start_agent
	interpreters "$KWID_DIR"
	entry spiffe://example.org/short "unix:sha256:$SHA_A" -- --x509-svid-ttl 10
	wl_as "$KWID_DIR/py-a" x509 --count 2 --timeout 30 >"$KWID_DIR/stream" 2>&1 &
	local client=$!
	wait_until 10 lines_ge "$KWID_DIR/stream" 1
	wait_until 20 lines_ge "$KWID_DIR/stream" 2
	wait "$client"
	local d1 d2
	d1=$(sed -n 1p "$KWID_DIR/stream" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["svids"][0]["digest"])')
	d2=$(sed -n 2p "$KWID_DIR/stream" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["svids"][0]["digest"])')
	[ "$d1" != "$d2" ]
	sed -n 2p "$KWID_DIR/stream" | grep -q 'example.org/short'
	wait_until 3 wl_ge pushes 1
}

@test "a process that execs another binary while its stream is open: the stream ends, the new image's identity never reaches that connection" {
	start_agent
	interpreters "$KWID_DIR"
	entry spiffe://example.org/py-a "unix:sha256:$SHA_A"
	entry spiffe://example.org/py-b "unix:sha256:$SHA_B"
	# py-a opens a stream, forks a reader sharing the socket, then execs py-b.
	run "$KWID_DIR/py-a" "$BATS_TEST_DIRNAME/exec_reader.py" "$KWID_SOCKET" "$WLAPI_STUBS" "$KWID_DIR/reader" \
		"$KWID_DIR/py-b" -c 'import time; time.sleep(2)'
	[ "$status" -eq 0 ]
	[[ "$output" == *'"first": ["spiffe://example.org/py-a"]'* ]]
	wait_until 15 grep -q '"status"\|"closed"' "$KWID_DIR/reader"
	cat "$KWID_DIR/reader"
	! grep -q 'py-b' "$KWID_DIR/reader"
	grep -q '"status": 7' "$KWID_DIR/reader"
	grep -q "exec'd another binary" "$KWID_LOG"
	wait_until 3 wl_ge retired_on_exec 1
	# A new connection from the new image gets the new image's identity.
	run wl_as "$KWID_DIR/py-b" x509
	[ "$status" -eq 0 ]
	echo "$output" | head -1 | grep -q 'example.org/py-b'
}

@test "when the process a connection is bound to exits, a child holding the socket sees the stream end UNAVAILABLE" {
	start_agent
	interpreters "$KWID_DIR"
	entry spiffe://example.org/py-a "unix:sha256:$SHA_A"
	run "$KWID_DIR/py-a" "$BATS_TEST_DIRNAME/exec_reader.py" "$KWID_SOCKET" "$WLAPI_STUBS" "$KWID_DIR/reader" --exit
	[ "$status" -eq 0 ]
	wait_until 15 grep -q '"status"\|"closed"' "$KWID_DIR/reader"
	cat "$KWID_DIR/reader"
	grep -q '"status": 14' "$KWID_DIR/reader"
	wait_until 3 wl_ge retired_on_exit 1
}

@test "bundle streams: X.509 roots and JWT keys of the trust domain" {
	start_agent
	entry spiffe://example.org/root-python unix:uid:0
	run wl x509-bundles
	[ "$status" -eq 0 ]
	echo "$output" | head -1 | grep -q '"spiffe://example.org"'
	echo "$output" | head -1 | /usr/bin/python3 -c '
import json, sys, base64
b = json.load(sys.stdin)["bundles"]["spiffe://example.org"]
open(sys.argv[1], "w").write("".join("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % c for c in b))' \
		"$KWID_DIR/wl-bundle.pem"
	kwidctl bundle show --format pem >"$KWID_DIR/admin-bundle.pem"
	[ "$(openssl x509 -in "$KWID_DIR/wl-bundle.pem" -noout -fingerprint -sha256)" = \
	  "$(openssl x509 -in "$KWID_DIR/admin-bundle.pem" -noout -fingerprint -sha256)" ]
	run wl jwt-bundles
	[ "$status" -eq 0 ]
	[[ "$output" == *'"use": "jwt-svid"'* ]]
	[[ "$output" != *'"x509-svid"'* ]]
}

@test "streams per connection beyond max_streams_per_conn wait; the connection keeps working" {
	cat >"$KWID_DIR/agent.json" <<-JSON
	{ "workload_api": { "max_streams_per_conn": 2 } }
	JSON
	start_agent --config "$KWID_DIR/agent.json"
	entry spiffe://example.org/root-python unix:uid:0
	run /usr/bin/python3 - "$KWID_SOCKET" "$WLAPI_STUBS" <<-'PY'
	import sys, grpc
	sys.path.insert(0, sys.argv[2])
	import workload_pb2 as wl, workload_pb2_grpc as wlg
	stub = wlg.SpiffeWorkloadAPIStub(grpc.insecure_channel("unix://" + sys.argv[1]))
	md = [("workload.spiffe.io", "true")]
	open_streams = [stub.FetchX509SVID(wl.X509SVIDRequest(), metadata=md) for _ in range(2)]
	for s in open_streams:
	    next(s)
	third = stub.FetchX509SVID(wl.X509SVIDRequest(), metadata=md, timeout=2)
	try:
	    next(third); print("third: answered")
	except grpc.RpcError as e:
	    print("third:", e.code().name)
	open_streams[0].cancel()
	fourth = stub.FetchX509SVID(wl.X509SVIDRequest(), metadata=md, timeout=5)
	print("fourth:", "answered" if next(fourth).svids else "empty")
	PY
	echo "$output"
	[[ "$output" == *"third: DEADLINE_EXCEEDED"* ]]
	[[ "$output" == *"fourth: answered"* ]]
}

@test "a non-root workload gets the identity of its uid" {
	start_agent
	entry spiffe://example.org/uid-1000 unix:uid:1000
	run setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 "$WLAPI_STUBS/wlapi_client.py" --socket "$KWID_SOCKET" x509
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output" | head -1 | grep -q 'example.org/uid-1000'
	run wl x509
	[ "$(last_status)" = PERMISSION_DENIED ]
}

@test "kwidctl fetch x509 --write, fetch jwt, validate jwt and watch" {
	start_agent
	entry spiffe://example.org/kwidctl "unix:sha256:$(sha256sum "$KWIDCTL" | cut -d' ' -f1)" -- --x509-svid-ttl 10
	run kwidctl fetch x509 --write "$KWID_DIR/out"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"spiffe://example.org/kwidctl"* ]]
	[ "$(stat -c %a "$KWID_DIR/out/svid.0.key")" = 600 ]
	openssl verify -CAfile "$KWID_DIR/out/bundle.0.pem" "$KWID_DIR/out/svid.0.pem"
	[ "$(openssl pkey -in "$KWID_DIR/out/svid.0.key" -pubout | sha256sum)" = \
	  "$(openssl x509 -in "$KWID_DIR/out/svid.0.pem" -noout -pubkey | sha256sum)" ]
	run kwidctl fetch jwt --audience db --json
	[ "$status" -eq 0 ]
	local token
	token=$(echo "$output" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["token"])')
	run kwidctl validate jwt --audience db --token "$token"
	[ "$status" -eq 0 ]
	[[ "$output" == *"valid: spiffe://example.org/kwidctl"* ]]
	run kwidctl validate jwt --audience nope --token "$token"
	[ "$status" -eq 1 ]
	[[ "$output" == *INVALID_ARGUMENT* ]]
	run kwidctl fetch bundle
	[ "$status" -eq 0 ]
	[[ "$output" == *"# spiffe://example.org"* ]]
	# watch prints the first message and the rotation (TTL 10 s).
	run timeout 30 "$KWIDCTL" --socket "$KWID_SOCKET" watch --count 2
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(echo "$output" | grep -c 'update: 1 SVID')" = 2 ]
	# A copy with other bytes has no entry: kwidctl says why.
	cp "$KWIDCTL" "$KWID_DIR/kwidctl-other"
	echo other >>"$KWID_DIR/kwidctl-other"
	run env SPIFFE_ENDPOINT_SOCKET="unix://$KWID_SOCKET" "$KWID_DIR/kwidctl-other" fetch x509
	[ "$status" -eq 1 ]
	[[ "$output" == *"PERMISSION_DENIED: no identity issued"* ]]
}
