#!/usr/bin/env bats
# 25_kubelet.bats - k8s:sa and k8s:pod-label from the kubelet's API. There
# is no kubelet here: tests/fixtures/fake_kubelet.py serves a PodList in the
# kubelet's JSON over real TLS (a CA and certificates made here with
# openssl) and checks the bearer token. Real processes in real kubepods
# cgroups (random pod UIDs) are attested by a real agent; a Workload API
# client (Debian's grpcio) watches its stream receive the SVID that needs
# k8s:sa once the kubelet's answer arrives.

load helpers
load cgroups

FAKE="$BATS_TEST_DIRNAME/../fixtures/fake_kubelet.py"
WLAPI_PY="$BATS_TEST_DIRNAME/wlapi_client.py"

setup_file() {
	export PKI WLAPI_STUBS
	PKI=$(mktemp -d /tmp/kwid-kpki.XXXXXX)
	# The cluster CA, the kubelet's serving certificate for 127.0.0.1, a
	# certificate of the same CA for another node, and an unrelated CA.
	new_ca "$PKI/ca"
	new_ca "$PKI/other-ca"
	new_cert "$PKI/ca" "$PKI/server" "subjectAltName=IP:127.0.0.1,DNS:localhost"
	new_cert "$PKI/ca" "$PKI/elsewhere" "subjectAltName=IP:10.9.9.9,DNS:node-b.example"
	WLAPI_STUBS=$(mktemp -d /tmp/kwid-stubs.XXXXXX)
	$PY "$WLAPI_PY" --stubs "$WLAPI_STUBS" --socket /nonexistent health --timeout 0.1 >/dev/null 2>&1 || true
	[ -f "$WLAPI_STUBS/workload_pb2_grpc.py" ]
}

teardown_file() {
	rm -rf "$PKI" "$WLAPI_STUBS"
}

new_ca() { # PREFIX
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
		-days 2 -subj "/CN=kwid test $(basename "$1")" 2>/dev/null
}

new_cert() { # CA_PREFIX PREFIX EXTENSION
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$2.key" -out "$2.csr" \
		-subj "/CN=system:node:node-a" 2>/dev/null
	printf '%s\nextendedKeyUsage=serverAuth\n' "$3" >"$2.ext"
	openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial -days 2 \
		-extfile "$2.ext" -out "$2.pem" 2>/dev/null
}

setup() {
	CG2=/sys/fs/cgroup/unified
	[ -d "$CG2" ] || CG2=/sys/fs/cgroup
	new_agent_dir
	cg_init
	POD=$(uuid) OTHER=$(uuid) UNLISTED=$(uuid)
	TOKEN="$KWID_DIR/token"      # what the agent sends
	ACCEPTED="$KWID_DIR/accepted" # what the fake kubelet accepts
	echo "eyJhbGciOiJSUzI1NiJ9.kwid-test-$RANDOM$RANDOM.sig" >"$ACCEPTED"
	install -m 0600 "$ACCEPTED" "$TOKEN"
	write_pods
}

teardown() {
	cg_cleanup
	cleanup_agent
}

# write_pods: the kubelet lists POD (service account web-sa, labels) and
# OTHER (admin); never UNLISTED.
write_pods() {
	$PY "$FAKE" podlist \
		--pod "{\"uid\": \"$POD\", \"ns\": \"shop\", \"name\": \"web-7d4b9c-xk2lp\", \"sa\": \"web-sa\",
		        \"labels\": {\"app\": \"web\", \"team name\": \"a b\", \"tier\": \"\", \"bad:key\": \"x\"}}" \
		--pod "{\"uid\": \"$OTHER\", \"ns\": \"kube-system\", \"name\": \"ops-0\", \"sa\": \"admin\",
		        \"labels\": {\"app\": \"ops\"}}" >"$KWID_DIR/pods.json.tmp"
	mv "$KWID_DIR/pods.json.tmp" "$KWID_DIR/pods.json"
}

# start_kubelet [CERT_PREFIX] [fake_kubelet.py serve flags...]: sets KUBELET_PORT.
start_kubelet() {
	local cert=$PKI/server
	if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then cert=$1; shift; fi
	rm -f "$KWID_DIR/port"
	$PY "$FAKE" serve --cert "$cert.pem" --key "$cert.key" --pods "$KWID_DIR/pods.json" \
		--port-file "$KWID_DIR/port" --token-file "$ACCEPTED" --log "$KWID_DIR/requests" "$@" \
		>>"$KWID_DIR/kubelet.log" 2>&1 &
	echo $! >>"$PIDS"
	wait_until 10 test -s "$KWID_DIR/port"
	KUBELET_PORT=$(cat "$KWID_DIR/port")
}

# start_agent_with KUBELET_JSON: the agent with attestors.kubelet set so.
start_agent_with() {
	cat >"$KWID_DIR/agent.json" <<-JSON
	{ "attestors": { "containerd_state": "$KWID_DIR/containerd", "kubelet": $1 } }
	JSON
	start_agent --config "$KWID_DIR/agent.json"
}

kubelet_url() { echo "https://127.0.0.1:$KUBELET_PORT/pods"; }

# pod_process UID: a process in a container of that pod (containerd,
# systemd driver); sets PID.
pod_process() {
	spawn_in "$CG2" "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${1//-/_}.slice/cri-containerd-$(hex64).scope"
}

# kubelet_status FIELD: attestors.by_attestor.k8s.kubelet.FIELD
kubelet_status() {
	kwidctl status --json | json_get "j['attestors']['by_attestor']['k8s']['kubelet'].get('$1', '')"
}

kubelet_state_is() { [ "$(kubelet_status state)" = "$1" ]; }
kubelet_expired() { [ "$(kubelet_status answers_expired)" -ge 1 ]; }

# k8s_group FIELD: the k8s attestor's group in $SEL.
k8s_group() {
	json_get "[g for g in j['groups'] if g['attestor'] == 'k8s'][0].get('$1')" <<<"$SEL"
}

# has_eventually PID SELECTOR: attest again until SELECTOR shows up (the
# first attestation may come before the kubelet's answer).
has_eventually() {
	local i
	for i in $(seq 1 100); do
		selectors "$1" && grep -qF "\"$2\"" <<<"$SEL" && return 0
		sleep 0.1
	done
	echo "never got $2:"
	echo "$SEL"
	dump_log
	return 1
}

# note_eventually PID TEXT: attest again until the k8s group's note holds TEXT.
note_eventually() {
	local i
	for i in $(seq 1 100); do
		selectors "$1" && [[ "$(k8s_group message)" == *"$2"* ]] && return 0
		sleep 0.1
	done
	echo "the k8s note never said '$2':"
	echo "$SEL"
	dump_log
	return 1
}

@test "k8s:sa and k8s:pod-label from the kubelet for the pod the kernel's cgroup path names" {
	start_kubelet
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\"}"
	pod_process "$POD"
	has_eventually "$PID" "k8s:sa:web-sa"
	has "k8s:pod-uid:$POD"
	has "k8s:pod-label:app:web"
	# SPIRE's spellings; unsafe bytes percent-encoded, an empty value kept
	has "k8s:pod-label:team%20name:a%20b"
	has "k8s:pod-label:tier:"
	# a key holding ':' would be ambiguous: left out
	hasnt "k8s:pod-label:bad"
	# nothing of the other pod's
	hasnt "k8s:sa:admin"
	hasnt "k8s:pod-label:app:ops"
	[ "$(k8s_group incomplete)" = None ]
	# the other pod gets its own
	local web=$PID
	pod_process "$OTHER"
	has_eventually "$PID" "k8s:sa:admin"
	has "k8s:pod-label:app:ops"
	hasnt "k8s:sa:web-sa"
	# status: the client and what it parsed
	[ "$(kubelet_status state)" = ok ]
	[ "$(kubelet_status pods_cached)" = 2 ]
	[ "$(kubelet_status labels_refused)" = 1 ]
	[ "$(kubelet_status fetches)" -ge 1 ]
	[ "$(kubelet_status failures)" = 0 ]
	[ -n "$(kubelet_status last_success_unix)" ]
	[[ "$(kubelet_status tls_verify)" == "$PKI/ca.pem" ]]
	# every request carried the right token (the fake kubelet answers 401 otherwise)
	! grep -v '^/pods 200$' "$KWID_DIR/requests"
	# the selectors of a pod do not depend on who asks first
	selectors "$web"
	has "k8s:sa:web-sa"
}

@test "the fetch thread starts after the privilege drop and keeps no more than the agent" {
	start_kubelet
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\"}"
	wait_until 10 kubelet_state_is ok
	local t found=
	for t in /proc/"$KWID_PID"/task/*; do
		[ "$(cat "$t/comm")" = kwid-kubelet ] || continue
		found=1
		[ "$(awk '/^CapEff/ {print $2}' "$t/status")" = "$(awk '/^CapEff/ {print $2}' "/proc/$KWID_PID/status")" ]
		[ "$(awk '/^CapPrm/ {print $2}' "$t/status")" = "$(awk '/^CapPrm/ {print $2}' "/proc/$KWID_PID/status")" ]
		[ "$(awk '/^CapBnd/ {print $2}' "$t/status")" = "$(awk '/^CapBnd/ {print $2}' "/proc/$KWID_PID/status")" ]
		grep -q '^Seccomp:[[:space:]]*2' "$t/status"
		grep -q '^NoNewPrivs:[[:space:]]*1' "$t/status"
	done
	[ -n "$found" ]
	# the drop left the agent fewer capabilities than root has
	[ "$(awk '/^CapEff/ {print $2}' "/proc/$KWID_PID/status")" != 000001ffffffffff ]
}

@test "a pod the kubelet does not list gets no k8s:sa, and the group says why (chunked answers)" {
	start_kubelet --chunked
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\"}"
	pod_process "$UNLISTED"
	note_eventually "$PID" "does not list this pod"
	has "k8s:pod-uid:$UNLISTED"
	hasnt "k8s:sa:"
	hasnt "k8s:pod-label:"
	[ "$(k8s_group error)" = None ]
	# a definite answer, not evidence still to come
	[ "$(k8s_group incomplete)" = None ]
	[ "$(kubelet_status pods_cached)" = 2 ]
}

@test "a kubelet certificate from another CA: no kubelet selectors, the error in status, the rest attested" {
	start_kubelet
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/other-ca.pem\", \"token_file\": \"$TOKEN\"}"
	wait_until 10 kubelet_state_is error
	[[ "$(kubelet_status last_error)" == *"certificate is not trusted"* ]]
	[ "$(kubelet_status pods_cached)" = 0 ]
	pod_process "$POD"
	note_eventually "$PID" "certificate is not trusted"
	has "k8s:pod-uid:$POD"
	has "container:runtime:containerd"
	has "unix:uid:0"
	hasnt "k8s:sa:"
	hasnt "k8s:pod-label:"
	# the evidence is missing, not refused: the group is incomplete, not failed
	[ "$(k8s_group error)" = None ]
	[ "$(k8s_group incomplete)" = True ]
	run kwidctl selectors "$PID"
	[[ "$output" == *"k8s: INCOMPLETE: "*"certificate is not trusted"* ]]
	# no request got past the handshake
	[ ! -s "$KWID_DIR/requests" ]
	grep -q "kubelet: fetching .* failed: the kubelet's certificate is not trusted" "$KWID_LOG"
}

@test "a certificate of the right CA for another host is refused (host name and IP checked)" {
	start_kubelet "$PKI/elsewhere"
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\"}"
	wait_until 10 kubelet_state_is error
	[[ "$(kubelet_status last_error)" == *"IP address mismatch"* ]]
	pod_process "$POD"
	selectors "$PID"
	hasnt "k8s:sa:"
	[ ! -s "$KWID_DIR/requests" ]
}

@test "a refused token (HTTP 401): no kubelet selectors; a rotated token file is read at the next fetch" {
	start_kubelet
	echo "stale-token" >"$TOKEN"
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\"}"
	wait_until 10 kubelet_state_is error
	[[ "$(kubelet_status last_error)" == *"HTTP 401 Unauthorized"* ]]
	pod_process "$POD"
	note_eventually "$PID" "HTTP 401"
	hasnt "k8s:sa:"
	grep -q '^/pods 401$' "$KWID_DIR/requests"
	# the token never reaches the log
	! grep -q "stale-token" "$KWID_LOG"
	# The projected token rotates: the agent reads the file again before
	# each fetch (an attestation of the pod asks for one, at most 1/s).
	cp "$ACCEPTED" "$TOKEN"
	has_eventually "$PID" "k8s:sa:web-sa"
	[ "$(kubelet_status state)" = ok ]
	! grep -qF "$(cat "$ACCEPTED")" "$KWID_LOG"
}

@test "the kubelet unreachable: every other selector still comes, the error in status" {
	local closed
	closed=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	start_agent_with "{\"url\": \"https://127.0.0.1:$closed/pods\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\", \"connect_timeout_ms\": 500}"
	wait_until 10 kubelet_state_is error
	[[ "$(kubelet_status last_error)" == *"cannot connect to 127.0.0.1:$closed"* ]]
	pod_process "$POD"
	note_eventually "$PID" "cannot connect"
	has "k8s:pod-uid:$POD"
	grep -qF '"cgroup:path:/kubepods.slice/' <<<"$SEL"
	has "container:runtime:containerd"
	has "systemd:slice:kubepods-besteffort-pod${POD//-/_}.slice"
	hasnt "k8s:sa:"
	[ "$(kubelet_status failures)" -ge 1 ]
	# the agent is fine: status and attestation keep answering
	kwidctl status >/dev/null
}

@test "an answer over max_response_bytes is refused, not cut" {
	start_kubelet
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\", \"max_response_bytes\": 4096}"
	[ "$(stat -c %s "$KWID_DIR/pods.json")" -gt 4096 ]
	wait_until 10 kubelet_state_is error
	[[ "$(kubelet_status last_error)" == *"larger than max_response_bytes (4096)"* ]]
	pod_process "$POD"
	selectors "$PID"
	hasnt "k8s:sa:"
}

@test "skip_verify: no certificate check, said loudly in the log and in status" {
	start_kubelet "$PKI/elsewhere"
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"skip_verify\": true, \"token_file\": \"$TOKEN\"}"
	grep -q "TLS verification of $(kubelet_url) is OFF" "$KWID_LOG"
	[[ "$(kubelet_status tls_verify)" == "OFF (skip_verify)"* ]]
	pod_process "$POD"
	has_eventually "$PID" "k8s:sa:web-sa"
}

@test "a Workload API stream receives the SVID that needs k8s:sa once the kubelet answers" {
	# The fake kubelet holds every answer until the gate file exists: the
	# agent's first fetch is under way but unanswered.
	start_kubelet --gate "$KWID_DIR/gate"
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\", \"timeout_ms\": 60000}"
	entry spiffe://example.org/pod "k8s:pod-uid:$POD" >/dev/null
	entry spiffe://example.org/web-sa "k8s:pod-uid:$POD" "k8s:sa:web-sa" >/dev/null
	entry spiffe://example.org/ops "k8s:sa:admin" >/dev/null
	local cg="kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD//-/_}.slice/cri-containerd-$(hex64).scope"
	local ocg="kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${OTHER//-/_}.slice/cri-containerd-$(hex64).scope"
	mkcg "$CG2" "$cg"
	mkcg "$CG2" "$ocg"
	# The client joins the pod's cgroup, then execs the gRPC client.
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG2/$cg" \
		$PY "$WLAPI_PY" --socket "$KWID_SOCKET" x509 --count 2 --timeout 60 >"$KWID_DIR/stream" 2>&1 &
	echo $! >>"$PIDS"
	local client=$!
	wait_until 20 grep -q spiffe_id "$KWID_DIR/stream"
	# First message: the pod's identity only; the kubelet has not answered.
	sed -n 1p "$KWID_DIR/stream" | grep -q '"spiffe://example.org/pod"'
	! sed -n 1p "$KWID_DIR/stream" | grep -q 'web-sa'
	selectors "$client"
	[ "$(k8s_group incomplete)" = True ]
	[[ "$(k8s_group message)" == *"waiting for the kubelet"* ]]
	# A caller whose only entry needs k8s:sa is told to retry, not denied.
	run sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG2/$ocg" \
		$PY "$WLAPI_PY" --socket "$KWID_SOCKET" x509 --timeout 20
	[ "$status" -eq 1 ]
	[[ "$output" == *'"status": "UNAVAILABLE"'* ]]
	[[ "$output" == *"lacks evidence"*"waiting for the kubelet"* ]]
	# The kubelet answers: the open stream gets the second identity.
	touch "$KWID_DIR/gate"
	wait_until 20 grep -q '"status": "OK"' "$KWID_DIR/stream"
	sed -n 2p "$KWID_DIR/stream" | grep -q '"spiffe://example.org/web-sa"'
	sed -n 2p "$KWID_DIR/stream" | grep -q '"spiffe://example.org/pod"'
	# and the caller that was told to retry now gets its SVID
	run sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG2/$ocg" \
		$PY "$WLAPI_PY" --socket "$KWID_SOCKET" x509 --timeout 20
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	[[ "$output" == *'"spiffe://example.org/ops"'* ]]
	[ "$(kubelet_status change_notifications)" -ge 1 ]
}

@test "a label changed at the kubelet reaches the open stream at the next scheduled fetch" {
	start_kubelet
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\", \"refresh_s\": 1}"
	entry spiffe://example.org/pod "k8s:pod-uid:$POD" >/dev/null
	entry spiffe://example.org/canary "k8s:pod-label:track:canary" >/dev/null
	local cg="kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD//-/_}.slice/cri-containerd-$(hex64).scope"
	mkcg "$CG2" "$cg"
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG2/$cg" \
		$PY "$WLAPI_PY" --socket "$KWID_SOCKET" x509 --count 2 --timeout 60 >"$KWID_DIR/stream" 2>&1 &
	echo $! >>"$PIDS"
	wait_until 20 grep -q spiffe_id "$KWID_DIR/stream"
	! grep -q canary "$KWID_DIR/stream"
	# The pod is relabelled; nothing else happens on this host.
	sed -i "s/\"app\": \"web\"/\"app\": \"web\", \"track\": \"canary\"/" "$KWID_DIR/pods.json"
	grep -q '"track": "canary"' "$KWID_DIR/pods.json"
	wait_until 20 grep -q '"status": "OK"' "$KWID_DIR/stream"
	sed -n 2p "$KWID_DIR/stream" | grep -q '"spiffe://example.org/canary"'
}

@test "the kubelet's answer is dropped max_age_s after it stopped answering" {
	start_kubelet
	local kubelet_pid
	kubelet_pid=$(tail -1 "$PIDS")
	start_agent_with "{\"url\": \"$(kubelet_url)\", \"ca_file\": \"$PKI/ca.pem\", \"token_file\": \"$TOKEN\", \"refresh_s\": 1, \"max_age_s\": 2, \"connect_timeout_ms\": 200}"
	pod_process "$POD"
	has_eventually "$PID" "k8s:sa:web-sa"
	kill "$kubelet_pid"
	# Until max_age_s the last answer stands; then it goes, visibly.
	wait_until 20 kubelet_expired
	[ "$(kubelet_status pods_cached)" = 0 ]
	[ "$(kubelet_status state)" = error ]
	selectors "$PID"
	hasnt "k8s:sa:"
	has "k8s:pod-uid:$POD"
	[ "$(k8s_group incomplete)" = True ]
	grep -q "kubelet: no answer for 2 s: dropping its pod facts" "$KWID_LOG"
}
