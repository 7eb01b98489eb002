#!/usr/bin/env bats
# 55_workload_api_node.bats - the SPIFFE Workload API with a real agent and
# a second gRPC stack kwid did not write: Node.js @grpc/grpc-js with
# @grpc/proto-loader loading kwid's proto/ files (pure-JavaScript HTTP/2,
# nothing shared with grpcio's C core of 50_workload_api.bats). The caller
# is the node binary itself: a copy of it, identified by unix:sha256 /
# unix:path and uid. Independent checks: openssl for the X.509-SVID,
# node:crypto for the JWT-SVID's ES256 signature against the JWKS.
#
# The modules come from `make deps` (npm ci in tests/integration/node).

load helpers

NODE_CLIENT="$BATS_TEST_DIRNAME/node/wlapi_client.mjs"

setup_file() {
	if [ ! -e "$BATS_TEST_DIRNAME/node/node_modules/.kwid-installed" ]; then
		echo "the @grpc/grpc-js client is not installed: run make deps" >&2
		return 1
	fi
	# A copy of node per file: entries name this binary (and no other node
	# on the host), and non-root callers can run it.
	export NODE_DIR NODE_BIN NODE_SHA
	NODE_DIR=$(mktemp -d /tmp/kwid-node.XXXXXX)
	chmod 0755 "$NODE_DIR"
	NODE_BIN="$NODE_DIR/node"
	cp "$(command -v node)" "$NODE_BIN"
	NODE_SHA=$(sha256sum "$NODE_BIN" | cut -d' ' -f1)
}

teardown_file() {
	rm -rf "$NODE_DIR"
}

setup() {
	new_agent_dir
	chmod 0755 "$KWID_DIR" # let non-root clients reach public/api.sock
}

teardown() {
	if [ -n "${CLIENT_PID:-}" ]; then
		kill "$CLIENT_PID" 2>/dev/null || true
		wait "$CLIENT_PID" 2>/dev/null || true
	fi
	cleanup_agent
}

# wlnode ARGS...: the grpc-js client, run by the copy of node, against this
# test's agent.
wlnode() {
	"$NODE_BIN" "$NODE_CLIENT" --socket "unix://$KWID_SOCKET" "$@"
}

# node_entry SPIFFE_ID [SELECTOR...]: an entry for root running the copy of node.
node_entry() {
	local id=$1
	shift
	entry "$id" "unix:sha256:$NODE_SHA" unix:uid:0 "$@"
}

@test "grpc-js FetchX509SVID: the caller's SPIFFE ID, a chain openssl verifies against the bundle, the key of the leaf" {
	start_agent
	node_entry spiffe://example.org/node-client >/dev/null
	entry spiffe://example.org/someone-else unix:uid:4242 >/dev/null
	run wlnode x509 --write "$KWID_DIR/out"
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	[ "$(echo "$output" | head -1 | json_get 'len(j["svids"])')" = 1 ]
	[ "$(echo "$output" | head -1 | json_get 'j["svids"][0]["spiffe_id"]')" = spiffe://example.org/node-client ]
	[[ "$output" != *someone-else* ]]
	[ "$(last_status)" = OK ]
	local out=$KWID_DIR/out untrusted=()
	[ -s "$out/chain.0.pem" ] && untrusted=(-untrusted "$out/chain.0.pem")
	run openssl verify -CAfile "$out/bundle.0.pem" "${untrusted[@]}" "$out/leaf.0.pem"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	openssl x509 -in "$out/leaf.0.pem" -noout -ext subjectAltName | grep -q 'URI:spiffe://example.org/node-client$'
	# The private key (PKCS#8, written as PEM by the client) is the leaf's.
	[ "$(openssl pkey -in "$out/key.0.pem" -pubout | sha256sum)" = \
	  "$(openssl x509 -in "$out/leaf.0.pem" -noout -pubkey | sha256sum)" ]
	# The bundle is the trust domain's CA, as the admin socket shows it.
	kwidctl bundle show --format pem >"$KWID_DIR/admin-bundle.pem"
	[ "$(openssl x509 -in "$out/bundle.0.pem" -noout -fingerprint -sha256)" = \
	  "$(openssl x509 -in "$KWID_DIR/admin-bundle.pem" -noout -fingerprint -sha256)" ]
	# FetchX509Bundles carries the same CA certificates.
	run wlnode x509-bundles
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | head -1 | json_get 'j["bundles"]["spiffe://example.org"]')" = \
	  "$(wlnode x509 | head -1 | json_get 'j["svids"][0]["bundle"]')" ]
}

@test "grpc-js: no matching entry is PERMISSION_DENIED (7) on every identity RPC" {
	start_agent
	entry spiffe://example.org/nobody unix:uid:4242 >/dev/null
	local cmd
	for cmd in x509 x509-bundles jwt-bundles "jwt --audience db"; do
		# shellcheck disable=SC2086
		run wlnode $cmd
		[ "$status" -eq 7 ] || { echo "$cmd: $output"; false; }
		[ "$(last_status)" = PERMISSION_DENIED ]
	done
	[[ "$output" == *"no identity issued"* ]]
}

@test "grpc-js: a missing or wrong security header is INVALID_ARGUMENT (3) on every RPC" {
	start_agent
	node_entry spiffe://example.org/node-client >/dev/null
	# With the header, the caller is served: the refusals below are the header's.
	run wlnode x509
	[ "$status" -eq 0 ]
	local cmd hdr
	for cmd in x509 x509-bundles jwt jwt-bundles validate wit wit-bundles; do
		for hdr in --no-header "--header false" "--header TRUE" "--header true,true" --header-twice; do
			# shellcheck disable=SC2086
			run wlnode $hdr "$cmd" --audience a --token t
			[ "$status" -eq 3 ] || { echo "$cmd $hdr: $output"; false; }
			[ "$(last_status)" = INVALID_ARGUMENT ]
			[[ "$output" == *"security header missing from request"* ]]
		done
	done
}

@test "grpc-js: FetchJWTSVID without audience and ValidateJWTSVID without fields are INVALID_ARGUMENT (3)" {
	start_agent
	node_entry spiffe://example.org/node-client >/dev/null
	run wlnode jwt
	[ "$status" -eq 3 ]
	[[ "$output" == *"audience must be specified"* ]]
	run wlnode validate --token abc
	[ "$status" -eq 3 ]
	[[ "$output" == *"audience must be specified"* ]]
	run wlnode validate --audience db
	[ "$status" -eq 3 ]
	[[ "$output" == *"svid must be specified"* ]]
}

@test "grpc-js: FetchJWTSVID, ValidateJWTSVID round trip; the JWKS from FetchJWTBundles verifies the token in node:crypto" {
	start_agent
	node_entry spiffe://example.org/node-client >/dev/null
	run wlnode jwt --audience db --audience cache
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	[ "$(echo "$output" | head -1 | json_get 'j["svids"][0]["spiffe_id"]')" = spiffe://example.org/node-client ]
	local token
	token=$(echo "$output" | head -1 | json_get 'j["svids"][0]["token"]')

	# The agent validates it for each audience in aud, with the claims as a Struct.
	run wlnode validate --audience cache --token "$token"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(echo "$output" | head -1 | json_get 'j["spiffe_id"]')" = spiffe://example.org/node-client ]
	[ "$(echo "$output" | head -1 | json_get 'j["claims"]["sub"]')" = spiffe://example.org/node-client ]
	[ "$(echo "$output" | head -1 | json_get 'sorted(j["claims"]["aud"])')" = "['cache', 'db']" ]
	# A wrong audience is refused, with the reason.
	run wlnode validate --audience other --token "$token"
	[ "$status" -eq 3 ]
	[[ "$output" == *audience* ]]

	# Independently of the agent: node:crypto verifies the ES256 signature
	# with the key the JWKS names by kid.
	run wlnode jwt-bundles
	[ "$status" -eq 0 ]
	echo "$output" | head -1 >"$KWID_DIR/jwks.json"
	[[ "$(cat "$KWID_DIR/jwks.json")" != *x509-svid* ]]
	run wlnode verify-jwt --token "$token" --bundles "$KWID_DIR/jwks.json" --audience db
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(echo "$output" | json_get 'j["verified"]["sub"]')" = spiffe://example.org/node-client ]
	# The checker can fail: a wrong audience, a flipped signature bit.
	run wlnode verify-jwt --token "$token" --bundles "$KWID_DIR/jwks.json" --audience other
	[ "$status" -eq 65 ]
	local tampered
	tampered=$("$PY" -c '
import base64, sys
h, p, s = sys.argv[1].split(".")
sig = bytearray(base64.urlsafe_b64decode(s + "=="))
sig[7] ^= 1
print(h + "." + p + "." + base64.urlsafe_b64encode(bytes(sig)).decode().rstrip("="))' "$token")
	run wlnode verify-jwt --token "$tampered" --bundles "$KWID_DIR/jwks.json" --audience db
	[ "$status" -eq 65 ]
	[[ "$output" == *"bad signature"* ]]
	run wlnode validate --audience db --token "$tampered"
	[ "$status" -eq 3 ]
	[[ "$output" == *signature* ]]
}

@test "grpc-js: the health service answers SERVING without the security header" {
	start_agent
	run wlnode health
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(echo "$output" | head -1 | json_get 'j["serving_status"]')" = SERVING ]
	run wlnode health --service SpiffeWorkloadAPI
	[ "$status" -eq 0 ]
	[[ "$output" == *'"serving_status":"SERVING"'* ]]
	run wlnode health --service no.such.Service
	[ "$status" -eq 5 ]
	[ "$(last_status)" = NOT_FOUND ]
}

@test "grpc-js: a FetchX509SVID stream receives a second message when a second entry starts matching, and ends PERMISSION_DENIED (7)" {
	start_agent
	local e1 e2
	e1=$(node_entry spiffe://example.org/first)
	wlnode watch --timeout 60 >"$KWID_DIR/stream" 2>&1 &
	CLIENT_PID=$!
	wait_until 15 lines_ge "$KWID_DIR/stream" 1
	sed -n 1p "$KWID_DIR/stream" | grep -q 'example.org/first'
	# The second entry names the same binary by path.
	e2=$(entry spiffe://example.org/second "unix:path:$NODE_BIN" unix:uid:0)
	wait_until 15 lines_ge "$KWID_DIR/stream" 2
	[ "$(sed -n 2p "$KWID_DIR/stream" | json_get '[s["spiffe_id"] for s in j["svids"]]')" = \
	  "['spiffe://example.org/first', 'spiffe://example.org/second']" ] || { cat "$KWID_DIR/stream"; false; }
	# Full state on every change: without the first entry, only the second.
	kwidctl entry delete "$e1"
	wait_until 15 lines_ge "$KWID_DIR/stream" 3
	[ "$(sed -n 3p "$KWID_DIR/stream" | json_get '[s["spiffe_id"] for s in j["svids"]]')" = \
	  "['spiffe://example.org/second']" ]
	# No identity left: grpc-js sees the stream end with trailers after data.
	kwidctl entry delete "$e2"
	local rc=0
	wait "$CLIENT_PID" || rc=$?
	CLIENT_PID=
	[ "$rc" -eq 7 ] || { cat "$KWID_DIR/stream"; false; }
	[ "$(tail -1 "$KWID_DIR/stream" | json_get 'j["status"]')" = PERMISSION_DENIED ]
	[ "$(lines "$KWID_DIR/stream")" = 4 ]
}

@test "grpc-js: an answer larger than the HTTP/2 flow-control window (64 KiB) arrives whole" {
	start_agent
	local i
	for i in $(seq 1 80); do
		node_entry "spiffe://example.org/many/$i" >/dev/null
	done
	run wlnode x509
	[ "$status" -eq 0 ] || { echo "$output" | tail -1; false; }
	[ "$(echo "$output" | head -1 | json_get 'len(j["svids"])')" = 80 ]
	# Each SVID is a leaf, its key and the CA: well above 64 KiB in all.
	[ "$(echo "$output" | head -1 | json_get 'sum(len(s["chain"][0]) + len(s["key"]) + len(s["bundle"][0]) for s in j["svids"]) * 3 // 4')" -gt 65536 ]
	run wlnode jwt --audience db
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | head -1 | json_get 'len(j["svids"])')" = 80 ]
}

@test "grpc-js: a node workload of uid 1000 gets the identity of its uid, root's node none" {
	start_agent
	entry spiffe://example.org/node-1000 "unix:sha256:$NODE_SHA" unix:uid:1000 >/dev/null
	# The checkout may sit where uid 1000 cannot enter (a root-only
	# mktemp -d): run a copy of the client, its modules and the protos.
	mkdir -p "$KWID_DIR/tree/tests/integration"
	cp -r "$KWID_ROOT/proto" "$KWID_DIR/tree/"
	cp -r "$BATS_TEST_DIRNAME/node" "$KWID_DIR/tree/tests/integration/"
	chmod -R go+rX "$KWID_DIR/tree"
	run setpriv --reuid=1000 --regid=1000 --clear-groups "$NODE_BIN" \
		"$KWID_DIR/tree/tests/integration/node/wlapi_client.mjs" --socket "$KWID_SOCKET" x509
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(echo "$output" | head -1 | json_get 'j["svids"][0]["spiffe_id"]')" = spiffe://example.org/node-1000 ]
	run wlnode x509
	[ "$status" -eq 7 ]
}

# grpc-js with a default compression algorithm sends grpc-encoding: gzip and
# compressed messages. kwid decodes identity only: gRPC's compression spec
# wants UNIMPLEMENTED with grpc-accept-encoding, and grpc-js reads that header
# only from real response headers: then its next calls go uncompressed. (The
# server used to answer trailers-only and GOAWAY the connection: every call
# of such a channel failed.)
@test "grpc-js with gzip compression: the first call is UNIMPLEMENTED (12), the next go uncompressed on the same connection" {
	start_agent
	node_entry spiffe://example.org/node-client >/dev/null
	run wlnode --compress gzip --repeat 3 jwt --audience db
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	[ "$(echo "$output" | sed -n 1p | json_get 'j["status"]')" = UNIMPLEMENTED ]
	[[ "$(echo "$output" | sed -n 1p)" == *"grpc-encoding not supported"* ]]
	[ "$(echo "$output" | grep -c '"spiffe_id":"spiffe://example.org/node-client"')" = 2 ]
	# A stream on a compressing channel: refused once, then served.
	run wlnode --compress deflate --repeat 2 x509
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(echo "$output" | sed -n 1p | json_get 'j["code"]')" = 12 ]
	# A well-formed request under an encoding the server lacks is no
	# protocol error, and no connection was closed over it: one connection
	# per client run.
	wait_until 5 wl_ge connections_accepted 2
	wait_until 5 wl_is connections 0
	[ "$(status_field "['connections_accepted']")" = 2 ]
	[ "$(status_field "['protocol_errors']")" = 0 ]
}
