#!/usr/bin/env bats
# 60_node.bats - node evidence with the real agent: TPM quotes from a swtpm
# (started here on a free loopback port pair), IMA logs written in the
# kernel's binary format with the same template hashes extended into the
# swtpm's PCR 10, kwidctl node ak/quote/verify/refresh, and the node
# selectors.

load helpers

FIXTURES="$KWID_ROOT/tests/fixtures"
NONCE=0123456789abcdef0123456789abcdef

# start_swtpm: a fresh swtpm; sets SWTPM_PID, SWTPM_DIR, TCTI and exports
# TPM2TOOLS_TCTI for tpm2-tools.
start_swtpm() {
	local port i
	SWTPM_DIR=$(mktemp -d /tmp/kwid-swtpm.XXXXXX)
	for i in 1 2 3 4 5; do
		port=$("$PY" "$FIXTURES/free_port_pair.py")
		swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR" \
			--server type=tcp,port="$port",bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear >"$SWTPM_DIR/log" 2>&1 &
		SWTPM_PID=$!
		TCTI="swtpm:host=127.0.0.1,port=$port"
		export TPM2TOOLS_TCTI="$TCTI"
		if wait_until 5 tpm2_getcap properties-fixed; then
			return 0
		fi
		kill "$SWTPM_PID" 2>/dev/null || true
		wait "$SWTPM_PID" 2>/dev/null || true
	done
	echo "cannot start swtpm" >&2
	return 1
}

stop_swtpm() {
	if [ -n "${SWTPM_PID:-}" ]; then
		kill "$SWTPM_PID" 2>/dev/null || true
		wait "$SWTPM_PID" 2>/dev/null || true
	fi
	[ -n "${SWTPM_DIR:-}" ] && rm -rf "$SWTPM_DIR"
	SWTPM_PID=
}

# ima_log ARGS...: write entries with tests/fixtures/ima_log.py and extend
# what it prints into the swtpm, as the kernel would.
ima_log_extended() {
	local line
	"$PY" "$FIXTURES/ima_log.py" --out "$IMA_LOG" "$@" >"$KWID_DIR/extends"
	while read -r line; do
		tpm2_pcrextend "$line"
	done <"$KWID_DIR/extends"
}

# start_node_agent [extra agent flags]: agent on the swtpm, reading $IMA_LOG.
start_node_agent() {
	cat >"$KWID_DIR/agent.json" <<-JSON
	{ "node": { "ima_log": "$IMA_LOG", "quote_interval_s": 300 } }
	JSON
	start_agent --config "$KWID_DIR/agent.json" --tcti "$TCTI" "$@"
	wait_until 10 node_verified
}

node_verified() {
	kwidctl status --json | grep -q '"evidence": "verified"'
}

# evidence_edit PYTHON: apply a Python snippet to evidence.json in place
# (variables: ev, the parsed document; log, the decoded IMA log bytes).
evidence_edit() {
	"$PY" - "$KWID_DIR/evidence.json" "$1" <<-'PY'
	import base64, json, sys
	path, code = sys.argv[1], sys.argv[2]
	ev = json.load(open(path))
	log = bytearray(base64.b64decode(ev["ima_log"]["data"])) if ev.get("ima_log") else None
	exec(code)
	if log is not None:
	    ev["ima_log"]["data"] = base64.b64encode(bytes(log)).decode()
	json.dump(ev, open(path, "w"))
	PY
}

setup() {
	new_agent_dir
	IMA_LOG="$KWID_DIR/binary_runtime_measurements"
}

teardown() {
	cleanup_agent
	stop_swtpm
}

@test "without a TPM the agent runs and says node evidence is unavailable" {
	start_agent --tcti "device:/dev/kwid-no-tpm-$$"
	run kwidctl status
	[ "$status" -eq 0 ]
	[[ "$output" == *"evidence"*"unavailable (no TPM at device:/dev/kwid-no-tpm-$$"* ]] || { echo "$output"; false; }
	run kwidctl node quote --nonce "$NONCE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unavailable"* ]]
	run kwidctl node ak
	[ "$status" -eq 1 ]
	grep -q "running without node evidence" "$KWID_LOG"
}

@test "the default device: no /dev/tpmrm0 on this host is reported as such" {
	[ ! -e /dev/tpmrm0 ] || skip "this host has a TPM"
	start_agent
	run kwidctl status
	[[ "$output" == *"unavailable (no TPM at device:/dev/tpmrm0"* ]] || { echo "$output"; false; }
}

@test "quote and verify round trip; wrong nonce, wrong AK, flipped bytes fail with a reason" {
	start_swtpm
	start_node_agent
	run kwidctl node ak --out "$KWID_DIR/ak.pem"
	[ "$status" -eq 0 ]
	grep -q "BEGIN PUBLIC KEY" "$KWID_DIR/ak.pem"
	run kwidctl node quote --nonce "$NONCE" --out "$KWID_DIR/evidence.json"
	[ "$status" -eq 0 ]

	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == "OK: quote signed by the AK, nonce matches, PCRs sha256:0,1,2,3,4,5,6,7,10 authenticated"* ]]

	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "${NONCE%?}0"
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAILED: quote: the nonce"* ]]

	openssl ecparam -name prime256v1 -genkey -noout -out "$KWID_DIR/other.key" 2>/dev/null
	openssl ec -in "$KWID_DIR/other.key" -pubout -out "$KWID_DIR/other.pem" 2>/dev/null
	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/other.pem" --nonce "$NONCE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAILED: quote: the signature does not verify with the AK public key"* ]]

	cp "$KWID_DIR/evidence.json" "$KWID_DIR/good.json"
	evidence_edit '
a = bytearray(base64.b64decode(ev["quote"]["attest"])); a[40] ^= 1
ev["quote"]["attest"] = base64.b64encode(bytes(a)).decode()'
	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not verify"* ]]

	cp "$KWID_DIR/good.json" "$KWID_DIR/evidence.json"
	evidence_edit '
s = bytearray(base64.b64decode(ev["quote"]["signature"])); s[-1] ^= 1
ev["quote"]["signature"] = base64.b64encode(bytes(s)).decode()'
	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not verify"* ]]

	cp "$KWID_DIR/good.json" "$KWID_DIR/evidence.json"
	evidence_edit 'ev["pcrs"]["sha256"]["7"] = "ab" * 32'
	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"PCR"* ]]

	run "$KWIDCTL" node verify "$KWID_DIR/good.json" --ak-pub "$KWID_DIR/ak.pem"
	[ "$status" -eq 2 ]
}

@test "IMA log: replay matches; edited, removed and reordered entries fail; violations are handled" {
	start_swtpm
	cp /bin/true "$KWID_DIR/payload"
	ima_log_extended /bin/true "$KWID_DIR/payload" violation:/var/log/racy /bin/ls
	start_node_agent
	kwidctl node ak --out "$KWID_DIR/ak.pem"
	kwidctl node quote --nonce "$NONCE" --out "$KWID_DIR/evidence.json"
	cp "$KWID_DIR/evidence.json" "$KWID_DIR/good.json"
	verify() { "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE" "$@"; }

	run verify
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"IMA log: 4 of 4 entries verified"* ]]

	# Offsets of the records, from a parse of the same bytes.
	offsets=$("$PY" - "$IMA_LOG" <<-'PY'
	import struct, sys
	b = open(sys.argv[1], "rb").read(); o = 0; out = []
	while o < len(b):
	    out.append(o); n = struct.unpack_from("<I", b, o + 24)[0]
	    o += 28 + n; o += 4 + struct.unpack_from("<I", b, o)[0]
	print(" ".join(map(str, out + [len(b)])))
	PY
	)
	read -r r0 r1 r2 r3 end <<<"$offsets"

	evidence_edit "log[$r2 - 3] ^= 1"                              # edited path of entry 1
	run verify
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAILED: IMA log: entry 1 ($KWID_DIR/paylo"* ]]

	cp "$KWID_DIR/good.json" "$KWID_DIR/evidence.json"
	evidence_edit "del log[$r1:$r2]"                                # removed entry
	run verify
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not reproduce the quoted sha256 PCR 10"* ]]

	cp "$KWID_DIR/good.json" "$KWID_DIR/evidence.json"
	evidence_edit "log[:] = log[:$r1] + log[$r2:$r3] + log[$r1:$r2] + log[$r3:]"   # swapped pair
	run verify
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not reproduce the quoted"* ]]

	# An entry appended after the quote is not a failure, and is reported.
	"$PY" "$FIXTURES/ima_log.py" --append --out "$IMA_LOG" /bin/cat >/dev/null
	kwidctl node quote --nonce "$NONCE" --out "$KWID_DIR/evidence.json"
	run verify
	[ "$status" -eq 0 ]
	[[ "$output" == *"IMA log: 4 of 5 entries verified (1 appended after the quote)"* ]]
}

@test "an IMA runtime policy violation is reported with the path" {
	start_swtpm
	ima_log_extended /bin/true /bin/ls
	start_node_agent
	kwidctl node ak --out "$KWID_DIR/ak.pem"
	kwidctl node quote --nonce "$NONCE" --out "$KWID_DIR/evidence.json"
	cat >"$KWID_DIR/policy.json" <<-JSON
	{ "meta": {"version": 1},
	  "digests": { "/bin/true": ["$(sha256sum /bin/true | cut -d' ' -f1)"],
	               "/bin/ls": ["$(sha256sum /bin/true | cut -d' ' -f1)"] },
	  "excludes": [] }
	JSON
	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE" \
		--policy "$KWID_DIR/policy.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"FAILED: IMA policy: 1 of 2 entries fail; first: entry 1 (/bin/ls): digest not allowed for this path"* ]]
	run "$KWIDCTL" --json node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE" \
		--policy "$KWID_DIR/policy.json"
	echo "$output" | grep -q '"path": "/bin/ls"'
	# With /bin/ls excluded it passes.
	sed -i 's|"excludes": \[\]|"excludes": ["/bin/l"]|' "$KWID_DIR/policy.json"
	run "$KWIDCTL" node verify "$KWID_DIR/evidence.json" --ak-pub "$KWID_DIR/ak.pem" --nonce "$NONCE" \
		--policy "$KWID_DIR/policy.json"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[[ "$output" == *"policy: 2 entries checked, 1 excluded, 0 failed"* ]]
}

@test "the agent's own verified quote yields node selectors; a tampered host log withdraws them" {
	start_swtpm
	ima_log_extended /bin/true
	start_node_agent
	run kwidctl status --json
	echo "$output" | grep -q '"selectors": 8'
	echo "$output" | grep -q '"measured_digests": 1'
	run kwidctl node refresh
	[ "$status" -eq 0 ]
	want=$(tpm2_pcrread sha256:7 | awk '/7 :/ {print tolower(substr($3, 3))}')
	echo "$output" | grep -q "\"7\": \"$want\""

	# The log on the host is edited: the next quote does not verify.
	"$PY" - "$IMA_LOG" <<-'PY'
	import sys
	b = bytearray(open(sys.argv[1], "rb").read()); b[-3] ^= 1; open(sys.argv[1], "wb").write(b)
	PY
	run kwidctl node refresh
	[ "$status" -eq 1 ]
	run kwidctl status
	[[ "$output" == *"evidence"*"failed: IMA log: entry 0 (/bin/tr"*"template digest does not match its template data"* ]] || { echo "$output"; false; }
	run kwidctl status --json
	echo "$output" | grep -q '"selectors": 0'
	grep -q "our own evidence does not verify" "$KWID_LOG"
}

@test "no transient object or session stays loaded in the TPM after many quotes" {
	start_swtpm
	ima_log_extended /bin/true
	start_node_agent
	for i in $(seq 1 15); do
		kwidctl node quote --nonce "$(printf '%032x' "$i")" >/dev/null
	done
	kwidctl node refresh >/dev/null
	run tpm2_getcap handles-transient
	[ "$status" -eq 0 ]
	[ -z "$output" ] || { echo "transient handles left: $output"; false; }
	run tpm2_getcap handles-loaded-session
	[ -z "$output" ] || { echo "sessions left: $output"; false; }
	run kwidctl status --json
	echo "$output" | grep -q '"failures": 0'
}

@test "the TPM worker thread runs with the agent's dropped privileges" {
	start_swtpm
	start_node_agent
	local main_eff tasks=0 t
	main_eff=$(awk '/^CapEff/ {print $2}' "/proc/$KWID_PID/status")
	for t in /proc/"$KWID_PID"/task/*; do
		tasks=$((tasks + 1))
		[ "$(awk '/^CapEff/ {print $2}' "$t/status")" = "$main_eff" ] || { grep -H Cap "$t/status"; false; }
		[ "$(awk '/^CapBnd/ {print $2}' "$t/status")" = "$(awk '/^CapBnd/ {print $2}' "/proc/$KWID_PID/status")" ]
		grep -q '^Seccomp:[[:space:]]*2' "$t/status"
		grep -q '^NoNewPrivs:[[:space:]]*1' "$t/status"
	done
	[ "$tasks" -ge 2 ] # the event loop and the TPM worker
	# ... and it still quotes.
	run kwidctl node refresh
	[ "$status" -eq 0 ]
}

@test "kwidctl selectors shows tpm:pcr and ima:measured for a binary in the verified log" {
	"$KWIDCTL" --help | grep -q '^  selectors ' || skip "kwidctl selectors is not in this build (attestors branch not merged)"
	start_swtpm
	cp /bin/sleep "$KWID_DIR/measured-sleep"
	printf 'x' >>"$KWID_DIR/measured-sleep"    # its own digest, unlike /bin/sleep
	ima_log_extended "$KWID_DIR/measured-sleep"
	start_node_agent
	"$KWID_DIR/measured-sleep" 30 &
	local pid=$!
	run wait_until 10 sh -c "\"$KWIDCTL\" --admin-socket \"$KWID_ADMIN\" selectors $pid | grep -q ima:measured"
	kwidctl selectors "$pid" >"$KWID_DIR/sel" || true
	kill "$pid"; wait "$pid" 2>/dev/null || true
	grep -q "ima:measured" "$KWID_DIR/sel" || { cat "$KWID_DIR/sel"; dump_log; false; }
	grep -q "ima:sha256:$(sha256sum "$KWID_DIR/measured-sleep" | cut -d' ' -f1)" "$KWID_DIR/sel"
	grep -q "tpm:pcr:sha256:7:" "$KWID_DIR/sel"
	! grep -q "tpm:pcr:sha256:10:" "$KWID_DIR/sel"
	# A binary not in the log gets the node selectors but no ima:measured.
	sleep 30 &
	pid=$!
	kwidctl selectors "$pid" >"$KWID_DIR/sel2" || true
	kill "$pid"; wait "$pid" 2>/dev/null || true
	grep -q "tpm:pcr:sha256:7:" "$KWID_DIR/sel2"
	! grep -q "ima:measured" "$KWID_DIR/sel2"
}
