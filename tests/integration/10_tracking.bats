#!/usr/bin/env bats
# 10_tracking.bats - process tracking on the real kernel: what kwidctl
# inspect reports for an exec (path, ids, sha256 against sha256sum),
# processes older than the agent, fork and exit, exec in place, a binary
# changed after exec, #! scripts, cgroup moves, repairs after lost events,
# the degraded modes' warnings, --probe, and kwidctl's errors. The
# contract of each tracking mode is checked mode by mode in
# modes/tracking.bats.

load helpers

setup() {
	new_agent_dir
	WORK=$(mktemp -d /tmp/kwid-track.XXXXXX)
	chmod 0755 "$WORK"
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	cleanup_agent
	if [ -n "${CGROUP_DIR:-}" ] && [ -d "$CGROUP_DIR" ]; then
		rmdir "$CGROUP_DIR" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}

# jget KEY.PATH: one field of the JSON on stdin (null prints "null").
jget() {
	"$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k) if v is not None else None
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)' "$1"
}

inspect_field() { # PID FIELD
	kwidctl inspect --json "$1" | jget "$2"
}

measured() { # PID: the measurement is no longer pending
	[ "$(inspect_field "$1" measurement.state)" != pending ]
}

field_is() { # PID FIELD VALUE
	[ "$(inspect_field "$1" "$2")" = "$3" ]
}

gone() { # PID: not in the table any more
	! kwidctl inspect "$1" >/dev/null 2>&1
}

# bg CMD...: start in the background, remember the pid for teardown.
bg() {
	"$@" &
	BG=$!
	PIDS+=("$BG")
}

@test "an exec of a fresh binary: path, uid/gid and sha256 as sha256sum says" {
	start_agent
	cp /bin/sleep "$WORK/fresh-sleep"
	printf 'kwid-test-%s' "$RANDOM" >>"$WORK/fresh-sleep" # a digest nobody has seen
	chmod 0755 "$WORK/fresh-sleep"
	bg setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/fresh-sleep" 300
	wait_until 10 measured "$BG" || { dump_log; false; }
	run kwidctl inspect --json "$BG"
	[ "$status" -eq 0 ]
	json=$output
	[ "$(echo "$json" | jget path)" = "$WORK/fresh-sleep" ]
	[ "$(echo "$json" | jget filename)" = "$WORK/fresh-sleep" ]
	[ "$(echo "$json" | jget creds.uid)" = 65534 ]
	[ "$(echo "$json" | jget creds.euid)" = 65534 ]
	[ "$(echo "$json" | jget creds.gid)" = 65534 ]
	[ "$(echo "$json" | jget creds.egid)" = 65534 ]
	[ "$(echo "$json" | jget origin)" = exec ]
	[ "$(echo "$json" | jget comm)" = fresh-sleep ]
	[ "$(echo "$json" | jget measurement.state)" = done ]
	[ "$(echo "$json" | jget sha256)" = "$(sha256sum "$WORK/fresh-sleep" | cut -d' ' -f1)" ]
	[ "$(echo "$json" | jget modified_since_exec)" = false ]
	[ "$(echo "$json" | jget file.ino)" = "$(stat -c %i "$WORK/fresh-sleep")" ]
	# dev as stat() encodes it, not the kernel's major<<20|minor
	[ "$(echo "$json" | jget file.dev)" = "$("$PY" -c 'import os, sys; s = os.stat(sys.argv[1]); print(f"{os.major(s.st_dev)}:{os.minor(s.st_dev)}")' "$WORK/fresh-sleep")" ]
	# the human form is an aligned table with the same digest
	run kwidctl inspect "$BG"
	[ "$status" -eq 0 ]
	[[ "$output" =~ sha256\ +$(sha256sum "$WORK/fresh-sleep" | cut -d' ' -f1) ]]
	[[ "$output" =~ uid\ \(r/e/s/fs\)\ +65534/65534 ]]
}

@test "a binary first seen in short-lived runs by relative path still gets its path and digest later" {
	start_agent
	cp /bin/sleep "$WORK/rel-sleep"
	printf 'kwid-test-%s' "$RANDOM" >>"$WORK/rel-sleep"
	chmod 0755 "$WORK/rel-sleep"
	# Runs that exit before the agent handles their exec: nothing left to
	# resolve the relative name against, nothing to hash through.
	for _ in $(seq 1 20); do (cd "$WORK" && ./rel-sleep 0); done
	cd "$WORK"
	bg ./rel-sleep 300
	cd - >/dev/null
	wait_until 10 measured "$BG" || { dump_log; false; }
	[ "$(inspect_field "$BG" path)" = "$WORK/rel-sleep" ]
	[ "$(inspect_field "$BG" filename)" = "./rel-sleep" ]
	[ "$(inspect_field "$BG" sha256)" = "$(sha256sum "$WORK/rel-sleep" | cut -d' ' -f1)" ]
}

@test "every process alive across the agent's start is in the table, pid 1 included" {
	local before after missing
	before=$(ls /proc | grep -E '^[0-9]+$' | sort)
	start_agent
	kwidctl ps --list --json >"$WORK/ps.json"
	after=$(ls /proc | grep -E '^[0-9]+$' | sort)
	# kernel threads are not processes of the table
	missing=$(comm -12 <(echo "$before") <(echo "$after") | while read -r p; do
		[ -n "$(tr -d '\0' </proc/$p/cmdline 2>/dev/null | head -c1)" ] || continue
		"$PY" -c 'import json, sys; pids = {p["tgid"] for p in json.load(open(sys.argv[1]))["processes"]}; sys.exit(0 if int(sys.argv[2]) in pids else 1)' \
			"$WORK/ps.json" "$p" || echo "$p"
	done)
	[ -z "$missing" ] || { echo "missing from the table: $missing"; dump_log; false; }
	"$PY" -c 'import json, sys; sys.exit(0 if 1 in {p["tgid"] for p in json.load(open(sys.argv[1]))["processes"]} else 1)' \
		"$WORK/ps.json"
}

@test "a forked child is in the table and leaves it when it exits" {
	start_agent
	mkfifo "$WORK/go"
	# a subshell is a fork without exec; `read` is a builtin
	( read -r _ <"$WORK/go" ) &
	child=$!
	PIDS+=("$child")
	wait_until 10 kwidctl inspect "$child"
	me=$BASHPID # (in a pipeline, $BASHPID is the pipeline's subshell)
	run kwidctl inspect --json "$child"
	[ "$(echo "$output" | jget origin)" = fork ]
	[ "$(echo "$output" | jget ppid)" = "$me" ]
	[ "$(echo "$output" | jget path)" = "$(readlink /proc/$me/exe)" ]
	# in the tree, indented under this shell
	run kwidctl ps
	[ "$status" -eq 0 ]
	echo "$output" | grep -Eq "^$child +$me +0 +.*\\\\_ "
	run kwidctl ps --list --json
	echo "$output" | "$PY" -c "
import json, sys
procs = json.load(sys.stdin)['processes']
assert any(p['tgid'] == $child and p['ppid'] == $me for p in procs)"
	echo go >"$WORK/go"
	wait "$child" || true
	wait_until 10 gone "$child"
	run kwidctl inspect "$child"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no process with pid $child in the table"* ]]
}

@test "exec in place: same pid, new exec seq, new measurement" {
	start_agent
	cp /bin/bash "$WORK/first"
	cp /bin/sleep "$WORK/second"
	mkfifo "$WORK/go"
	bg "$WORK/first" -c "read -r _ <'$WORK/go'; exec '$WORK/second' 300"
	pid=$BG
	wait_until 10 measured "$pid"
	[ "$(inspect_field "$pid" path)" = "$WORK/first" ]
	[ "$(inspect_field "$pid" sha256)" = "$(sha256sum "$WORK/first" | cut -d' ' -f1)" ]
	seq1=$(inspect_field "$pid" exec_seq)
	start1=$(inspect_field "$pid" start_ns)
	echo go >"$WORK/go"
	wait_until 10 field_is "$pid" path "$WORK/second"
	wait_until 10 measured "$pid"
	[ "$(inspect_field "$pid" sha256)" = "$(sha256sum "$WORK/second" | cut -d' ' -f1)" ]
	[ "$(inspect_field "$pid" exec_seq)" -eq $((seq1 + 1)) ]
	[ "$(inspect_field "$pid" start_ns)" = "$start1" ]
	[ "$(inspect_field "$pid" origin)" = exec ]
}

@test "a binary modified after exec is flagged, its measurement kept" {
	start_agent
	cp /bin/sleep "$WORK/victim"
	bg "$WORK/victim" 300
	pid=$BG
	wait_until 10 measured "$pid"
	digest=$(inspect_field "$pid" sha256)
	[ "$digest" = "$(sha256sum "$WORK/victim" | cut -d' ' -f1)" ]
	[ "$(inspect_field "$pid" modified_since_exec)" = false ]
	# Writing to a running executable fails (ETXTBSY); metadata changes work.
	run sh -c "echo x >>'$WORK/victim'"
	[ "$status" -ne 0 ]
	touch -d '2001-01-01' "$WORK/victim"
	[ "$(inspect_field "$pid" modified_since_exec)" = true ]
	[ "$(inspect_field "$pid" sha256)" = "$digest" ]
	run kwidctl inspect "$pid"
	[[ "$output" =~ modified\ since\ exec\ +yes ]]
}

@test "a binary replaced on disk after exec: the running file is measured, not the new one" {
	start_agent
	cp /bin/sleep "$WORK/swapped"
	bg "$WORK/swapped" 300
	pid=$BG
	wait_until 10 measured "$pid"
	digest=$(inspect_field "$pid" sha256)
	cp /bin/true "$WORK/swapped.new"
	mv -f "$WORK/swapped.new" "$WORK/swapped"
	[ "$(inspect_field "$pid" file_on_disk)" = replaced ]
	# (unlinking bumps the old inode's ctime: modified_since_exec may say
	# yes, which is the conservative answer; the digest must not change)
	[ "$(inspect_field "$pid" sha256)" = "$digest" ]
	[ "$digest" != "$(sha256sum "$WORK/swapped" | cut -d' ' -f1)" ]
}

@test "a #! script: the interpreter executed and the script named on exec" {
	start_agent
	printf '#!/bin/sh\nread -r _ <"%s/go"\n' "$WORK" >"$WORK/run.sh"
	chmod 0755 "$WORK/run.sh"
	mkfifo "$WORK/go"
	# env passes the relative name to execve as it is (bash would not)
	(cd "$WORK" && exec env ./run.sh) &
	pid=$!
	PIDS+=("$pid")
	wait_until 10 measured "$pid"
	wait_until 10 field_is "$pid" script.state done
	run kwidctl inspect --json "$pid"
	[ "$(echo "$output" | jget path)" = "$(readlink -f /bin/sh)" ]
	[ "$(echo "$output" | jget filename)" = ./run.sh ]
	[ "$(echo "$output" | jget script.path)" = "$WORK/run.sh" ]
	[ "$(echo "$output" | jget script.sha256)" = "$(sha256sum "$WORK/run.sh" | cut -d' ' -f1)" ]
	[ "$(echo "$output" | jget sha256)" = "$(sha256sum "$(readlink -f /bin/sh)" | cut -d' ' -f1)" ]
	echo go >"$WORK/go"
}

@test "a cgroup move is seen with the moved process's ids" {
	[ -d /sys/fs/cgroup/unified ] || skip "no cgroup v2 hierarchy at /sys/fs/cgroup/unified"
	start_agent
	CGROUP_DIR=/sys/fs/cgroup/unified/kwid-test-$RANDOM$RANDOM
	mkdir "$CGROUP_DIR"
	bg sleep 300
	pid=$BG
	wait_until 10 kwidctl inspect "$pid"
	echo "$pid" >"$CGROUP_DIR/cgroup.procs"
	want=$(stat -c %i "$CGROUP_DIR")
	wait_until 10 field_is "$pid" cgroups.v2_id "$want"
	kwidctl inspect --json "$pid" | grep -q "0::/${CGROUP_DIR#/sys/fs/cgroup/unified/}"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

@test "lost ring-buffer events are counted and the repair leaves no stale entry" {
	probe_offers tp_btf || probe_offers raw_tp || skip "no BPF mode here: no ring buffer to lose records from"
	echo '{ "tracking": { "ringbuf_kib": 64 } }' >"$KWID_DIR/small.json"
	start_agent --config "$KWID_DIR/small.json"
	sleepers=()
	for i in 1 2 3 4 5; do
		bg sleep 300
		sleepers+=("$BG")
	done
	for p in "${sleepers[@]}"; do wait_until 10 kwidctl inspect "$p"; done
	# Stop the agent so nobody drains the ring, overflow it, and let the
	# sleepers die while their exit events have no room.
	kill -STOP "$KWID_PID"
	for i in $(seq 1 1500); do /bin/true; done
	for p in "${sleepers[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
	kill -CONT "$KWID_PID"
	run kwidctl status --json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jget tracking.drops)" -gt 0 ]
	[ "$(echo "$output" | jget tracking.resyncs.count)" -ge 2 ]
	for p in "${sleepers[@]}"; do
		run kwidctl inspect "$p"
		[ "$status" -eq 1 ]
	done
	# every process the table shows is alive, or gone from the table by
	# the next sync (kwidctl itself and others exit meanwhile)
	kwidctl ps --list --json | "$PY" -c '
import json, os, subprocess, sys
for p in json.load(sys.stdin)["processes"]:
    try:
        os.kill(p["tgid"], 0)
    except ProcessLookupError:
        r = subprocess.run(sys.argv[1:] + ["inspect", str(p["tgid"])], capture_output=True)
        assert r.returncode == 1, ("stale entry", p)' "$KWIDCTL" --admin-socket "$KWID_ADMIN"
	grep -q "events lost, repairing the process table" "$KWID_LOG"
}

# probe_offers MODE: the agent's probe says MODE works on this kernel.
probe_offers() {
	[ "$("$AGENT" --probe --json | json_get "j['modes']['$1']['available']")" = True ]
}

@test "the degraded modes say so loudly, in the log and in status" {
	local m
	for m in proc_connector proc_poll; do
		probe_offers "$m" || { echo "# $m not offered here" >&3; continue; }
		new_agent_dir
		start_agent --tracking-mode "$m"
		[ "$(kwidctl status --json | jget tracking.degraded)" = true ]
		grep -q "DEGRADED: process tracking runs without BPF, in mode $m" "$KWID_LOG"
		cleanup_agent
	done
}

@test "kwid-agent --probe prints what the kernel offers and the mode in use" {
	"$AGENT" --probe --json >"$WORK/probe.json"
	best=$(json_get 'j["mode"]' <"$WORK/probe.json")
	run "$AGENT" --probe
	[ "$status" -eq 0 ]
	[[ "$output" == *"tp_btf tracepoints"* ]]
	[[ "$output" == *"task iterator"* ]]
	[[ "$output" == *"mode: configured auto, in use: $best"* ]]
	# auto picks the first mode the probe offers, in order of exactness
	for m in tp_btf raw_tp proc_connector proc_poll; do
		if [ "$(json_get "j['modes']['$m']['available']" <"$WORK/probe.json")" = True ]; then
			[ "$best" = "$m" ]
			break
		fi
	done
	run "$AGENT" --probe --json --tracking-mode raw_tp
	[ "$(echo "$output" | json_get 'j["configured_mode"]')" = raw_tp ]
	run "$AGENT" --json
	[ "$status" -ne 0 ]
	[[ "$output" == *"--json goes with --probe"* ]]
	run "$AGENT" --probe --tracking-mode proc_poll
	[ "$status" -eq 0 ]
	[[ "$output" == *"in use: proc_poll (DEGRADED: no BPF)"* ]]
	run "$AGENT" --tracking-mode bogus --probe
	[ "$status" -ne 0 ]
}

@test "status reports the tracking features and counters" {
	"$AGENT" --probe --json >"$WORK/probe.json"
	best=$(json_get 'j["mode"]' <"$WORK/probe.json")
	iter=$(json_get 'j["task_iterator"]' <"$WORK/probe.json")
	start_agent
	run kwidctl status --json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jget tracking.mode)" = "$best" ]
	# what the probe found is what the agent uses
	case "$best" in
	tp_btf|raw_tp)
		if [ "$iter" = True ]; then
			[ "$(echo "$output" | jget tracking.features.task_iterator)" = yes ]
			[ "$(echo "$output" | jget tracking.features.snapshot_start_times)" = exact ]
		else
			[ "$(echo "$output" | jget tracking.features.task_iterator)" = no ]
			[ "$(echo "$output" | jget tracking.features.snapshot_start_times)" = coarse ]
		fi ;;
	*)
		[ "$(echo "$output" | jget tracking.features.snapshot_start_times)" = coarse ] ;;
	esac
	[ "$(echo "$output" | jget tracking.processes)" -gt 0 ]
	echo "$output" | jget tracking.measurer.cache_hits
	echo "$output" | jget tracking.events.exec
	run kwidctl status
	[[ "$output" =~ mode\ +$best ]]
}

@test "kwidctl ps and inspect: clear errors" {
	run kwidctl inspect 12345678
	[ "$status" -eq 3 ]
	[[ "$output" == *"kwid-agent is not running"* ]]
	start_agent
	run kwidctl inspect 999999999
	[ "$status" -eq 1 ]
	[[ "$output" == *"no process with pid 999999999 in the table"* ]]
	run kwidctl inspect notapid
	[ "$status" -eq 2 ]
	run kwidctl ps --bogus
	[ "$status" -eq 2 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$KWIDCTL" --admin-socket "$KWID_ADMIN" ps
	[ "$status" -eq 3 ]
	[[ "$output" == *"permission denied"* ]]
}
