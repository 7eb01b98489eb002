#!/usr/bin/env bats
# 00_agent.bats - the agent's start-up contract: flags and config, the
# root-only admin socket, clear errors, two agents side by side.

load helpers

setup() {
	new_agent_dir
}

teardown() {
	cleanup_agent
}

@test "agent starts with flags and reports them in status" {
	KWID_TD=flags.test start_agent
	run kwidctl status --json
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '"trust_domain": "flags.test"'
	echo "$output" | grep -q "\"admin_socket\": \"$KWID_ADMIN\""
	run kwidctl status
	[ "$status" -eq 0 ]
	echo "$output" | grep -Eq 'trust_domain +flags.test'
}

@test "admin socket is mode 0600 and the state directory 0700" {
	start_agent
	[ "$(stat -c %a "$KWID_ADMIN")" = 600 ]
	[ "$(stat -c %a "$KWID_STATE")" = 700 ]
}

@test "config file is read and flags override it" {
	cat >"$KWID_DIR/agent.json" <<-JSON
	// test config
	{ "trust_domain": "file.test", "log_level": "warn" }
	JSON
	start_agent --config "$KWID_DIR/agent.json"
	run kwidctl status --json
	echo "$output" | grep -q '"trust_domain": "example.org"'  # --trust-domain from start_agent wins
	echo "$output" | grep -q "\"config\": \"$KWID_DIR/agent.json\""
}

@test "a bad config key is refused with its name" {
	echo '{ "tracking": { "hash_workrs": 2 } }' >"$KWID_DIR/bad.json"
	run "$AGENT" --config "$KWID_DIR/bad.json" --admin-socket "$KWID_ADMIN" --state-dir "$KWID_STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown key 'tracking.hash_workrs'"* ]]
	echo '{ "tracking": { "hash_workers": "2" } }' >"$KWID_DIR/bad.json"
	run "$AGENT" --config "$KWID_DIR/bad.json"
	[ "$status" -eq 2 ]
	[[ "$output" == *"'tracking.hash_workers' must be of type int"* ]]
}

@test "kwidctl says clearly when no agent is running" {
	run kwidctl status
	[ "$status" -eq 3 ]
	[[ "$output" == *"kwid-agent is not running"* ]]
}

@test "non-root kwidctl is refused, by file mode and by peer uid" {
	start_agent
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$KWIDCTL" --admin-socket "$KWID_ADMIN" status
	[ "$status" -eq 3 ]
	[[ "$output" == *"permission denied"* ]]
	# Even with the file mode opened up, the agent checks the peer's uid.
	chmod 0755 "$KWID_DIR"
	chmod 0666 "$KWID_ADMIN"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$KWIDCTL" --admin-socket "$KWID_ADMIN" status
	[ "$status" -eq 3 ]
	[[ "$output" == *"root-only"* ]]
	grep -q "refused connection from uid 65534" "$KWID_LOG"
}

@test "two agents run side by side; a third cannot take a socket in use" {
	start_agent
	local first_dir=$KWID_DIR first_pid=$KWID_PID first_admin=$KWID_ADMIN
	new_agent_dir
	start_agent
	run "$KWIDCTL" --admin-socket "$first_admin" status --json
	[ "$status" -eq 0 ]
	echo "$output" | grep -q "\"pid\": $first_pid"
	run kwidctl status --json
	echo "$output" | grep -q "\"pid\": $KWID_PID"
	run "$AGENT" --admin-socket "$first_admin" --socket "$KWID_DIR/x.sock" --state-dir "$KWID_DIR/x"
	[ "$status" -ne 0 ]
	[[ "$output" == *"another agent is listening on $first_admin"* ]]
	kill -TERM "$first_pid"; wait "$first_pid" || true
	rm -rf "$first_dir"
}

@test "malformed admin requests get an error, not a crash" {
	start_agent
	run "$PY" - "$KWID_ADMIN" <<-'PY'
	import socket, sys, json
	def ask(line):
	    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(line)
	    data = b""
	    while not data.endswith(b"\n"):
	        chunk = s.recv(65536)
	        if not chunk: break
	        data += chunk
	    return data
	for line in [b"not json\n", b"[]\n", b"{\"cmd\": 5}\n", b"{\"cmd\": \"nope\"}\n", b"{\"cmd\":\"status\",\"args\":[]}\n"]:
	    r = json.loads(ask(line))
	    assert r["ok"] is False and r["code"] == "invalid", (line, r)
	# an oversized request closes that connection only
	s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
	try:
	    s.sendall(b"x" * (400 * 1024))
	except OSError:
	    pass
	print("ok")
	PY
	[ "$status" -eq 0 ]
	run kwidctl status
	[ "$status" -eq 0 ]
}
