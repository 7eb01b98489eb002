#!/usr/bin/env bats
# 40_authority.bats - the signing authority with the real agent: SVIDs and
# bundles checked by independent tools (openssl verify, python3-cryptography,
# python3-jwt), a local and an upstream CA, key rotation with second-scale
# lifetimes, persistence across restarts, and refusals with clear errors.

load helpers

CHECK="$BATS_TEST_DIRNAME/authority_checks.py"
SUB=spiffe://example.org/ns/prod/sa/web

setup() {
	new_agent_dir
}

teardown() {
	cleanup_agent
}

# config JSON: write $KWID_DIR/agent.json with an "authority" section.
config() {
	printf '{ "authority": %s }\n' "$1" >"$KWID_DIR/agent.json"
}

# split_chain PEM LEAF REST: first certificate to LEAF, the others to REST.
split_chain() {
	awk -v leaf="$2" -v rest="$3" '
		/-----BEGIN CERTIFICATE-----/ { n++ }
		{ print > (n == 1 ? leaf : rest) }' "$1"
	[ -f "$3" ] || : >"$3"
}

# make_ca DIR NAME ISSUER [EXTRA_EXT]: an EC P-256 CA NAME.pem/.key signed
# by ISSUER (or self-signed when ISSUER is "self").
make_ca() {
	local d=$1 name=$2 issuer=$3 extra=${4:-}
	printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n%s\n' \
		"$extra" >"$d/$name.ext"
	if [ "$issuer" = self ]; then
		openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$name.key" \
			-out "$d/$name.pem" -days 30 -subj "/O=test/CN=$name" -extensions v3 \
			-config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$d/$name.ext") 2>/dev/null
	else
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/$name.key" \
			-out "$d/$name.csr" -subj "/O=test/CN=$name" 2>/dev/null
		printf 'authorityKeyIdentifier=keyid\n' >>"$d/$name.ext"
		openssl x509 -req -in "$d/$name.csr" -CA "$d/$issuer.pem" -CAkey "$d/$issuer.key" -CAcreateserial \
			-days 10 -extfile "$d/$name.ext" -out "$d/$name.pem" 2>/dev/null
	fi
}

upstream_config() {
	config "{ \"upstream\": { \"cert\": \"$1\", \"key\": \"$2\", \"bundle\": \"$3\" } }"
}

@test "local CA: state files are private, keys never reach the log" {
	start_agent
	local d="$KWID_STATE/authority"
	[ "$(stat -c %a "$d")" = 700 ]
	[ "$(stat -c %a "$d/state.json")" = 600 ]
	ls "$d"/x509-*.key "$d"/x509-*.crt "$d"/jwt-*.key >/dev/null
	for f in "$d"/*.key "$d"/*.crt; do
		[ "$(stat -c %a "$f")" = 600 ]
	done
	# no line of any key file appears in the log
	for f in "$d"/*.key; do
		sed -n '2p;3p' "$f" | while read -r line; do
			! grep -qF "$line" "$KWID_LOG"
		done
	done
	! grep -q "PRIVATE KEY" "$KWID_LOG"
	run kwidctl status --json
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '"mode": "local"'
	echo "$output" | grep -q '"bundle_sequence": 2'
	run "$PY" "$CHECK" ca <(kwidctl bundle show) example.org
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "local CA: minted X.509-SVIDs pass openssl verify and every leaf rule" {
	start_agent
	kwidctl bundle show >"$KWID_DIR/bundle.pem"
	run kwidctl svid mint "$SUB" --dns web.example.org --dns '*.web.example.org' --out "$KWID_DIR/svid"
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	for f in svid.pem svid.key bundle.pem; do
		[ "$(stat -c %a "$KWID_DIR/svid/$f")" = 600 ]
	done
	[ "$(grep -c BEGIN "$KWID_DIR/svid/svid.pem")" = 1 ] # local CA: the chain is the leaf
	run openssl verify -CAfile "$KWID_DIR/bundle.pem" -purpose sslclient "$KWID_DIR/svid/svid.pem"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run openssl verify -CAfile "$KWID_DIR/bundle.pem" -purpose sslserver "$KWID_DIR/svid/svid.pem"
	[ "$status" -eq 0 ]
	run "$PY" "$CHECK" leaf "$KWID_DIR/svid/svid.pem" "$KWID_DIR/svid/svid.key" "$KWID_DIR/bundle.pem" \
		"$SUB" 3600 example.org web.example.org '*.web.example.org'
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# a custom lifetime, and a wrong expectation really fails
	kwidctl svid mint "$SUB" --ttl 120 --out "$KWID_DIR/short" >/dev/null
	run "$PY" "$CHECK" leaf "$KWID_DIR/short/svid.pem" "$KWID_DIR/short/svid.key" "$KWID_DIR/bundle.pem" \
		"$SUB" 120 example.org
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run "$PY" "$CHECK" leaf "$KWID_DIR/short/svid.pem" "$KWID_DIR/svid/svid.key" "$KWID_DIR/bundle.pem" \
		"$SUB" 120 example.org
	[ "$status" -ne 0 ]
	[[ "$output" == *"private key does not match"* ]]
}

@test "JWT-SVIDs verify with python3-jwt against the SPIFFE JWKS" {
	start_agent
	kwidctl bundle show >"$KWID_DIR/bundle.pem"
	kwidctl bundle show --format jwks >"$KWID_DIR/jwks.json"
	run "$PY" "$CHECK" jwks "$KWID_DIR/jwks.json" "$KWID_DIR/bundle.pem"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	run kwidctl svid mint "$SUB" --type jwt --audience spiffe://example.org/db --audience other --out "$KWID_DIR/jwt"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(stat -c %a "$KWID_DIR/jwt/svid.jwt")" = 600 ]
	run "$PY" "$CHECK" jwt "$KWID_DIR/jwt/svid.jwt" "$KWID_DIR/jwks.json" spiffe://example.org/db "$SUB"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# the wrong audience is refused by the independent implementation too
	run "$PY" "$CHECK" jwt "$KWID_DIR/jwt/svid.jwt" "$KWID_DIR/jwks.json" spiffe://example.org/nope "$SUB"
	[ "$status" -ne 0 ]
	[[ "$output" == *"audience"* ]]
	# lifetime: 300 s by default
	run "$PY" -c 'import jwt,sys; c=jwt.decode(open(sys.argv[1]).read().strip(), options={"verify_signature": False}); assert c["exp"]-c["iat"]==300, c' "$KWID_DIR/jwt/svid.jwt"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "svid mint refuses what it must not sign, and the agent carries on" {
	start_agent
	run kwidctl svid mint spiffe://other.org/web
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a workload SPIFFE ID of trust domain example.org"* ]]
	run kwidctl svid mint spiffe://example.org
	[ "$status" -eq 1 ]
	run kwidctl svid mint spiffe://Example.org/web
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a SPIFFE ID"* ]]
	run kwidctl svid mint "$SUB" --dns 'bad name'
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a DNS name"* ]]
	run kwidctl svid mint "$SUB" --type jwt
	[ "$status" -eq 1 ]
	[[ "$output" == *"audience"* ]]
	run kwidctl svid mint "$SUB" --type pgp
	[ "$status" -eq 1 ]
	run kwidctl bundle show --format der
	[ "$status" -eq 2 ]
	run kwidctl status
	[ "$status" -eq 0 ]
}

@test "upstream authority: SVIDs chain through two intermediates to a root the agent does not hold" {
	local pki="$KWID_DIR/pki"
	mkdir -p "$pki"
	make_ca "$pki" root self
	make_ca "$pki" mid root
	make_ca "$pki" int mid "subjectAltName=URI:spiffe://example.org"
	cat "$pki/int.pem" "$pki/mid.pem" >"$pki/chain.pem"
	upstream_config "$pki/chain.pem" "$pki/int.key" "$pki/root.pem"
	start_agent --config "$KWID_DIR/agent.json"
	run kwidctl status --json
	echo "$output" | grep -q '"mode": "upstream"'
	kwidctl bundle show >"$KWID_DIR/bundle.pem"
	cmp <(openssl x509 -in "$KWID_DIR/bundle.pem" -outform DER) <(openssl x509 -in "$pki/root.pem" -outform DER)
	kwidctl svid mint "$SUB" --dns web.example.org --out "$KWID_DIR/svid" >/dev/null
	[ "$(grep -c BEGIN "$KWID_DIR/svid/svid.pem")" = 3 ] # leaf, int, mid
	split_chain "$KWID_DIR/svid/svid.pem" "$KWID_DIR/leaf.pem" "$KWID_DIR/inter.pem"
	run openssl verify -CAfile "$KWID_DIR/bundle.pem" -untrusted "$KWID_DIR/inter.pem" "$KWID_DIR/leaf.pem"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# without the intermediates the leaf does not verify: the chain matters
	run openssl verify -CAfile "$KWID_DIR/bundle.pem" "$KWID_DIR/leaf.pem"
	[ "$status" -ne 0 ]
	run "$PY" "$CHECK" leaf "$KWID_DIR/svid/svid.pem" "$KWID_DIR/svid/svid.key" "$KWID_DIR/bundle.pem" \
		"$SUB" 3600 example.org web.example.org
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	kwidctl bundle show --format jwks >"$KWID_DIR/jwks.json"
	run "$PY" "$CHECK" jwks "$KWID_DIR/jwks.json" "$KWID_DIR/bundle.pem"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	# the upstream root's key is nowhere in the state directory
	! grep -rqF "$(sed -n 2p "$pki/root.key")" "$KWID_STATE"
}

@test "upstream authority: bad files are refused at start with the reason" {
	local pki="$KWID_DIR/pki"
	mkdir -p "$pki"
	make_ca "$pki" root self
	make_ca "$pki" other self
	make_ca "$pki" int root "subjectAltName=URI:spiffe://example.org"
	make_ca "$pki" wrongtd root "subjectAltName=URI:spiffe://other.org"
	make_ca "$pki" withpath root "subjectAltName=URI:spiffe://example.org/ca"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/leaf.key" \
		-out "$pki/leaf.pem" -days 1 -subj "/CN=leaf" -addext "basicConstraints=critical,CA:FALSE" 2>/dev/null
	agent() { run "$AGENT" --config "$KWID_DIR/agent.json" --admin-socket "$KWID_ADMIN" --state-dir "$KWID_STATE"; }

	upstream_config "$pki/int.pem" "$pki/root.key" "$pki/root.pem"
	agent
	[ "$status" -ne 0 ]
	[[ "$output" == *"does not match certificate"* ]]
	upstream_config "$pki/int.pem" "$pki/int.key" "$pki/other.pem"
	agent
	[ "$status" -ne 0 ]
	[[ "$output" == *"does not chain to the roots"* ]]
	upstream_config "$pki/wrongtd.pem" "$pki/wrongtd.key" "$pki/root.pem"
	agent
	[ "$status" -ne 0 ]
	[[ "$output" == *"may only hold 'spiffe://example.org'"* ]]
	upstream_config "$pki/withpath.pem" "$pki/withpath.key" "$pki/root.pem"
	agent
	[ "$status" -ne 0 ]
	[[ "$output" == *"spiffe://example.org/ca"* ]]
	upstream_config "$pki/leaf.pem" "$pki/leaf.key" "$pki/leaf.pem"
	agent
	[ "$status" -ne 0 ]
	[[ "$output" == *"is not a CA"* ]]
	config "{ \"upstream\": { \"cert\": \"$pki/int.pem\" } }"
	agent
	[ "$status" -ne 0 ]
	[[ "$output" == *"needs all of cert, key and bundle"* ]]
	upstream_config "$pki/missing.pem" "$pki/int.key" "$pki/root.pem"
	agent
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot read upstream certificate $pki/missing.pem"* ]]
}

@test "upstream authority: SIGHUP swaps in a new intermediate, refuses a bad one" {
	local pki="$KWID_DIR/pki"
	mkdir -p "$pki"
	make_ca "$pki" root self
	make_ca "$pki" int1 root
	make_ca "$pki" int2 root
	cp "$pki/int1.pem" "$pki/cur.pem"
	cp "$pki/int1.key" "$pki/cur.key"
	upstream_config "$pki/cur.pem" "$pki/cur.key" "$pki/root.pem"
	start_agent --config "$KWID_DIR/agent.json"
	issuer() { kwidctl svid mint "$SUB" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["svid_pem"])' \
		| openssl x509 -noout -issuer; }
	[[ "$(issuer)" == *"CN = int1"* ]]
	cp "$pki/int2.pem" "$pki/cur.pem"
	cp "$pki/int2.key" "$pki/cur.key"
	kill -HUP "$KWID_PID"
	wait_until 10 grep -q "upstream intermediate .* in use" "$KWID_LOG"
	[[ "$(issuer)" == *"CN = int2"* ]]
	cp "$pki/int1.key" "$pki/cur.key" # key no longer matches
	kill -HUP "$KWID_PID"
	wait_until 10 grep -q "upstream files refused" "$KWID_LOG"
	[[ "$(issuer)" == *"CN = int2"* ]]
	run kwidctl status
	[ "$status" -eq 0 ]
}

@test "rotation: keys are published before they sign and kept until what they signed expired" {
	# Keys rotate every few seconds; 3 s of propagation leave the test many
	# polls in which a key is published but not yet signing, even on a busy
	# machine.
	config '{ "jwt_key_ttl_s": 12, "jwt_svid_ttl_s": 2, "ca_ttl_s": 16, "x509_svid_ttl_s": 4,
		  "rotate_at_percent": 50, "propagation_delay_s": 3, "backdate_s": 1 }'
	start_agent --config "$KWID_DIR/agent.json"
	run "$PY" "$CHECK" rotation 30 "$SUB" "$KWIDCTL" --admin-socket "$KWID_ADMIN"
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	echo "$output"
	run kwidctl status --json
	echo "$output" | grep -Eq '"rotations": ([4-9]|[1-9][0-9])'
	# retired keys' files are gone from the state directory too
	[ "$(ls "$KWID_STATE"/authority/jwt-*.key | wc -l)" -le 3 ]
	[ "$(ls "$KWID_STATE"/authority/x509-*.key | wc -l)" -le 3 ]
}

@test "restart: same CA and JWT key, the sequence does not go backwards, old SVIDs still verify" {
	start_agent
	kwidctl bundle show >"$KWID_DIR/bundle1.pem"
	kwidctl bundle show --format jwks >"$KWID_DIR/jwks1.json"
	kwidctl svid mint "$SUB" --out "$KWID_DIR/svid" >/dev/null
	kwidctl svid mint "$SUB" --type jwt --audience db --out "$KWID_DIR/jwt" >/dev/null
	local seq1
	seq1=$(jq_seq "$KWID_DIR/jwks1.json")
	stop_agent
	start_agent
	kwidctl bundle show >"$KWID_DIR/bundle2.pem"
	kwidctl bundle show --format jwks >"$KWID_DIR/jwks2.json"
	cmp "$KWID_DIR/bundle1.pem" "$KWID_DIR/bundle2.pem"
	[ "$(jq_seq "$KWID_DIR/jwks2.json")" -ge "$seq1" ]
	[ "$(jq_seq "$KWID_DIR/jwks2.json")" -eq "$seq1" ] # nothing changed: same number
	run openssl verify -CAfile "$KWID_DIR/bundle2.pem" "$KWID_DIR/svid/svid.pem"
	[ "$status" -eq 0 ]
	run "$PY" "$CHECK" jwt "$KWID_DIR/jwt/svid.jwt" "$KWID_DIR/jwks2.json" db "$SUB"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	grep -q "loaded 1 CA and 1 JWT key(s)" "$KWID_LOG"
}

@test "restart: another trust domain, a second agent or a damaged state is refused" {
	start_agent
	run "$AGENT" --trust-domain other.org --admin-socket "$KWID_DIR/b.sock" --socket "$KWID_DIR/b-api.sock" \
		--state-dir "$KWID_STATE"
	[ "$status" -ne 0 ]
	[[ "$output" == *"in use by another agent"* ]]
	stop_agent
	run "$AGENT" --trust-domain other.org --admin-socket "$KWID_ADMIN" --socket "$KWID_SOCKET" --state-dir "$KWID_STATE"
	[ "$status" -ne 0 ]
	[[ "$output" == *"belongs to trust domain 'example.org'"* ]]
	local key
	key=$(ls "$KWID_STATE"/authority/jwt-*.key)
	cp "$key" "$KWID_DIR/key.bak"
	echo garbage >"$key"
	run "$AGENT" --admin-socket "$KWID_ADMIN" --socket "$KWID_SOCKET" --state-dir "$KWID_STATE"
	[ "$status" -ne 0 ]
	[[ "$output" == *"holds no usable private key"* ]]
	cp "$KWID_DIR/key.bak" "$key"
	chmod 0644 "$key"
	start_agent
	grep -q "was readable by others" "$KWID_LOG"
	[ "$(stat -c %a "$key")" = 600 ]
}

jq_seq() {
	"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["spiffe_sequence"])' "$1"
}

# svid_field JSON KEY
svid_field() {
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d[sys.argv[1]])' "$1"
}

@test "SVID cache: renewed before half-life, dropped when unused or when its entry goes" {
	config '{ "backdate_s": 1 }'
	start_agent --config "$KWID_DIR/agent.json"
	run kwidctl entry create --id web --spiffe-id "$SUB" --selector unix:uid:4242 --x509-svid-ttl 10 \
		--dns-name web.example.org
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	local first nb1 na1 serial1 now renewed=
	first=$(kwidctl --json svid show web)
	nb1=$(echo "$first" | svid_field not_before)
	na1=$(echo "$first" | svid_field not_after)
	[ $((na1 - nb1)) -eq 11 ] # 10 s + 1 s back-dating
	serial1=$(echo "$first" | svid_field svid_pem | openssl x509 -noout -serial)
	kwidctl bundle show >"$KWID_DIR/bundle.pem"
	echo "$first" | svid_field svid_pem >"$KWID_DIR/cached.pem"
	run openssl verify -CAfile "$KWID_DIR/bundle.pem" "$KWID_DIR/cached.pem"
	[ "$status" -eq 0 ]
	openssl x509 -in "$KWID_DIR/cached.pem" -noout -ext subjectAltName | grep -q "DNS:web.example.org"
	# fetching again gives the same SVID until it is renewed
	[ "$(kwidctl --json svid show web | svid_field svid_pem | openssl x509 -noout -serial)" = "$serial1" ]
	for _ in $(seq 1 100); do
		local cur
		cur=$(kwidctl --json svid show web)
		if [ "$(echo "$cur" | svid_field svid_pem | openssl x509 -noout -serial)" != "$serial1" ]; then
			renewed=$cur
			break
		fi
		sleep 0.2
	done
	[ -n "$renewed" ] || { dump_log; false; }
	# issued (notBefore + back-dating) no later than half the first one's life
	local issued1=$((nb1 + 1)) issued2=$(($(echo "$renewed" | svid_field not_before) + 1))
	[ "$issued2" -le $((issued1 + (na1 - issued1) / 2)) ]
	[ "$issued2" -ge $((issued1 + 3)) ] # and not absurdly early (jitter is at most a tenth)
	run kwidctl status --json
	echo "$output" | grep -Eq '"svid_renewals": [1-9]'
	echo "$output" | grep -q '"svids_cached": 1'
	grep -q "renewed the X.509-SVID of entry web" "$KWID_LOG"
	# nobody asks any more: dropped at the next renewal instead of renewed
	wait_until 15 bash -c "\"$KWIDCTL\" --admin-socket \"$KWID_ADMIN\" status --json | grep -q '\"svids_cached\": 0'"
	grep -q "entry web unused since its last renewal" "$KWID_LOG"
	# the entry goes: its SVID goes with it
	kwidctl svid show web >/dev/null
	run kwidctl status --json
	echo "$output" | grep -q '"svids_cached": 1'
	kwidctl entry delete web
	run kwidctl status --json
	echo "$output" | grep -q '"svids_cached": 0'
	run kwidctl svid show web
	[ "$status" -eq 1 ]
	[[ "$output" == *"no entry 'web'"* ]]
}

@test "the key-pool worker thread runs with the agent's dropped privileges" {
	start_agent
	kwidctl svid mint "$SUB" >/dev/null # the pool is in use
	local main_eff tasks=0 t
	main_eff=$(awk '/^CapEff/ {print $2}' "/proc/$KWID_PID/status")
	for t in /proc/"$KWID_PID"/task/*; do
		tasks=$((tasks + 1))
		[ "$(awk '/^CapEff/ {print $2}' "$t/status")" = "$main_eff" ] || { grep -H Cap "$t/status"; false; }
		[ "$(awk '/^CapPrm/ {print $2}' "$t/status")" = "$(awk '/^CapPrm/ {print $2}' "/proc/$KWID_PID/status")" ]
		grep -q '^Seccomp:[[:space:]]*2' "$t/status"
		grep -q '^NoNewPrivs:[[:space:]]*1' "$t/status"
	done
	[ "$tasks" -ge 2 ] # the main thread and the key-pool worker
	# and it does produce keys (however long the busy machine takes to run it)
	wait_until 20 bash -c "\"$KWIDCTL\" --admin-socket \"$KWID_ADMIN\" svid mint $SUB >/dev/null &&
		\"$KWIDCTL\" --admin-socket \"$KWID_ADMIN\" status --json | grep -Eq '\"taken_ready\": [1-9]'"
}
