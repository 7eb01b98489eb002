#!/usr/bin/env bats
# modes/tracking.bats - process tracking and attestation in one tracking
# mode, forced with --tracking-mode: KWID_MODE=tp_btf|raw_tp|proc_connector|
# proc_poll (the Makefile runs this file once per mode). A mode the
# agent's probe does not offer on this kernel is skipped with the probe's
# reason; a mode it offers must keep that mode's contract:
#   - BPF modes: exact boot-clock start times for processes older than the
#     agent when the task iterator loads (coarse and flagged otherwise),
#     the kernel's exec sequence;
#   - degraded modes: start times in clock ticks, flagged; synthetic exec
#     sequences (bit 63) that still change on every exec seen.
#   - degraded modes know no script named on exec (only the kernel does):
#     no script identity;
# Every mode: exec/fork/exit, a fresh binary's path and sha256, an exec in
# place, a reused pid, a #! script, container cgroups.

load ../helpers
load ../cgroups

M=${KWID_MODE:-tp_btf}

# The agent's probe, once per file run: {"modes": {M: {available, why}}, ...}
setup_file() {
	"$AGENT" --probe --json >"$BATS_FILE_TMPDIR/probe.json"
}

probe_get() { # PYTHON-EXPR over the probe as j
	json_get "$1" <"$BATS_FILE_TMPDIR/probe.json"
}

setup() {
	[ -f "$BATS_FILE_TMPDIR/probe.json" ] || skip "the probe did not run"
	if [ "$(probe_get "j['modes']['$M']['available']")" != True ]; then
		skip "mode $M is not offered by this kernel: $(probe_get "j['modes']['$M']['why']")"
	fi
	new_agent_dir
	WORK=$(mktemp -d /tmp/kwid-modes.XXXXXX)
	chmod 0755 "$WORK"
	BGPIDS=()
	cg_init
}

teardown() {
	local p
	for p in "${BGPIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	cg_cleanup
	cleanup_agent
	rm -rf "$WORK"
}

bpf_mode() { [ "$M" = tp_btf ] || [ "$M" = raw_tp ]; }

start_in_mode() {
	start_agent --tracking-mode "$M" "$@"
	[ "$(kwidctl status --json | json_get "j['tracking']['mode']")" = "$M" ]
}

# jget KEY.PATH over the JSON on stdin ("null" when absent)
jget() {
	"$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k) if v is not None else None
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)' "$1"
}

inspect_field() { kwidctl inspect --json "$1" | jget "$2"; }
measured() { [ "$(inspect_field "$1" measurement.state)" = done ]; }
field_is() { [ "$(inspect_field "$1" "$2")" = "$3" ]; }
gone() { ! kwidctl inspect "$1" >/dev/null 2>&1; }
bg() { "$@" & BG=$!; BGPIDS+=("$BG"); }

fresh_copy() { # SRC DEST: a copy with a digest nobody has seen
	cp "$1" "$2"
	printf 'kwid-mode-test-%s-%s' "$M" "$RANDOM$RANDOM" >>"$2"
	chmod 0755 "$2"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

@test "[$M] an exec of a fresh binary: path, ids and sha256; its exit leaves the table" {
	start_in_mode
	fresh_copy /bin/sleep "$WORK/fresh"
	bg setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/fresh" 300
	wait_until 10 measured "$BG" || { dump_log; false; }
	json=$(kwidctl inspect --json "$BG")
	[ "$(echo "$json" | jget path)" = "$WORK/fresh" ]
	[ "$(echo "$json" | jget sha256)" = "$(sha "$WORK/fresh")" ]
	[ "$(echo "$json" | jget creds.uid)" = 65534 ]
	[ "$(echo "$json" | jget creds.gid)" = 65534 ]
	[ "$(echo "$json" | jget file.ino)" = "$(stat -c %i "$WORK/fresh")" ]
	if bpf_mode; then
		[ "$(echo "$json" | jget origin)" = exec ]
		[ "$(echo "$json" | jget exec_seq_synthetic)" = false ]
		[ "$(echo "$json" | jget start_coarse)" = false ]
	else
		[ "$(echo "$json" | jget exec_seq_synthetic)" = true ]
		[ "$(echo "$json" | jget start_coarse)" = true ]
	fi
	kill "$BG"
	wait "$BG" 2>/dev/null || true
	wait_until 10 gone "$BG"
}

@test "[$M] a forked child is in the table and leaves it when it exits" {
	start_in_mode
	mkfifo "$WORK/go"
	( read -r _ <"$WORK/go" ) &
	child=$!
	BGPIDS+=("$child")
	wait_until 10 kwidctl inspect "$child" || { dump_log; false; }
	[ "$(inspect_field "$child" ppid)" = "$BASHPID" ]
	[ "$(inspect_field "$child" path)" = "$(readlink /proc/$BASHPID/exe)" ]
	if [ "$M" = proc_poll ]; then
		[ "$(inspect_field "$child" origin)" = scan ]
	else
		[ "$(inspect_field "$child" origin)" = fork ]
	fi
	echo go >"$WORK/go"
	wait "$child" || true
	wait_until 10 gone "$child"
}

@test "[$M] a process started before the agent: the start time the mode promises" {
	fresh_copy /bin/sleep "$WORK/early"
	bg "$WORK/early" 300
	early=$BG
	sleep 0.2
	start_in_mode
	exact=$(kwidctl status --json | jget tracking.features.snapshot_start_times)
	if bpf_mode && [ "$(probe_get "j['task_iterator']")" = True ]; then
		[ "$exact" = exact ]
	else
		[ "$exact" = coarse ]
	fi
	json=$(kwidctl inspect --json "$early")
	[ "$(echo "$json" | jget origin)" = scan ]
	[ "$(echo "$json" | jget path)" = "$WORK/early" ]
	ticks=$(awk '{print $22}' /proc/$early/stat)
	hz=$(getconf CLK_TCK)
	start=$(echo "$json" | jget start_ns)
	[ $((start * hz / 1000000000)) -eq "$ticks" ]
	if [ "$exact" = exact ]; then
		[ "$(echo "$json" | jget start_coarse)" = false ]
		# nanoseconds, not a whole number of ticks (1 in 10^7 by chance)
		[ $((start % (1000000000 / hz))) -ne 0 ]
	else
		[ "$(echo "$json" | jget start_coarse)" = true ]
		[ $((start % (1000000000 / hz))) -eq 0 ]
	fi
	wait_until 10 measured "$early"
	[ "$(inspect_field "$early" sha256)" = "$(sha "$WORK/early")" ]
}

@test "[$M] exec in place: same pid and start, a new exec identity and measurement" {
	start_in_mode
	fresh_copy /bin/bash "$WORK/first"
	fresh_copy /bin/sleep "$WORK/second"
	mkfifo "$WORK/go"
	bg "$WORK/first" -c "read -r _ <'$WORK/go'; exec '$WORK/second' 300"
	pid=$BG
	wait_until 10 measured "$pid" || { dump_log; false; }
	[ "$(inspect_field "$pid" path)" = "$WORK/first" ]
	seq1=$(inspect_field "$pid" exec_seq)
	start1=$(inspect_field "$pid" start_ns)
	echo go >"$WORK/go"
	wait_until 10 field_is "$pid" path "$WORK/second" || { dump_log; false; }
	wait_until 10 measured "$pid"
	[ "$(inspect_field "$pid" sha256)" = "$(sha "$WORK/second")" ]
	[ "$(inspect_field "$pid" start_ns)" = "$start1" ]
	seq2=$(inspect_field "$pid" exec_seq)
	if bpf_mode; then
		[ "$seq2" -eq $((seq1 + 1)) ]
	else
		[ "$seq2" != "$seq1" ]
	fi
}

@test "[$M] a reused pid is a new process: new start time, new binary, none of the old selectors" {
	start_in_mode
	fresh_copy /bin/sleep "$WORK/victim"
	fresh_copy /bin/sleep "$WORK/intruder"
	entry spiffe://example.org/victim "unix:sha256:$(sha "$WORK/victim")" >/dev/null
	bg "$WORK/victim" 300
	victim=$BG
	wait_until 10 measured "$victim" || { dump_log; false; }
	old_start=$(inspect_field "$victim" start_ns)
	kwidctl why "$victim" | grep -q spiffe://example.org/victim
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null || true
	# Hand the same pid to another binary: ns_last_pid makes the next fork
	# take it (retried: any other fork on the host may get there first).
	reused=
	for _ in $(seq 1 50); do
		echo $((victim - 1)) >/proc/sys/kernel/ns_last_pid
		bg "$WORK/intruder" 300
		if [ "$BG" = "$victim" ]; then reused=$BG; break; fi
		kill -KILL "$BG"; wait "$BG" 2>/dev/null || true
	done
	[ -n "$reused" ] || skip "could not get pid $victim back in 50 tries (a busy host)"
	wait_until 10 field_is "$reused" path "$WORK/intruder" || { dump_log; false; }
	wait_until 10 measured "$reused"
	[ "$(inspect_field "$reused" start_ns)" != "$old_start" ]
	[ "$(inspect_field "$reused" sha256)" = "$(sha "$WORK/intruder")" ]
	run kwidctl selectors --json "$reused"
	[ "$status" -eq 0 ]
	[[ "$output" != *"$(sha "$WORK/victim")"* ]]
	run kwidctl why "$reused"
	[[ "$output" != *"matching entries (1"* ]]
}

@test "[$M] a #! script: the interpreter executed and, with BPF, the script named on exec" {
	start_in_mode
	printf '#!/bin/sh\nread -r _ <"%s/go"\n' "$WORK" >"$WORK/run.sh"
	chmod 0755 "$WORK/run.sh"
	mkfifo "$WORK/go"
	bg "$WORK/run.sh"
	pid=$BG
	wait_until 10 measured "$pid" || { dump_log; false; }
	[ "$(inspect_field "$pid" path)" = "$(readlink -f /bin/sh)" ]
	if bpf_mode; then
		wait_until 10 field_is "$pid" script.state done || { dump_log; false; }
		[ "$(inspect_field "$pid" script.path)" = "$WORK/run.sh" ]
		[ "$(inspect_field "$pid" script.sha256)" = "$(sha "$WORK/run.sh")" ]
	else
		# Only the kernel knows the name given to exec; /proc shows an
		# argv the process can rewrite: no script identity at all.
		[ "$(inspect_field "$pid" script)" = null ]
		run kwidctl selectors --json "$pid"
		[[ "$output" != *"unix:script"* ]]
	fi
	echo go >"$WORK/go"
}

@test "[$M] container cgroups: a process in a docker scope gets the container's selectors" {
	R="$KWID_DIR/roots"
	mkdir -p "$R/docker"
	echo "{ \"attestors\": { \"docker_root\": \"$R/docker\" } }" >"$KWID_DIR/agent.json"
	start_in_mode --config "$KWID_DIR/agent.json"
	cg2=$(probe_get "j['cgroups']['v2_mount'] or ''")
	if [ -n "$cg2" ]; then
		root=$cg2 rel=system.slice
	elif [ -d /sys/fs/cgroup/systemd ]; then
		root=/sys/fs/cgroup/systemd rel=system.slice
	else
		skip "neither a v2 nor a name=systemd hierarchy is mounted"
	fi
	ID=$(hex64)
	# moved after exec (a cgroup event in BPF modes; every mode reads the
	# membership live at attestation)
	spawn_in "$root" "$rel/docker-$ID.scope"
	mkdir -p "$R/docker/containers/$ID"
	echo "{\"ID\":\"$ID\",\"Name\":\"/c1\",\"Config\":{\"Image\":\"app:1\"},\"Image\":\"sha256:$(hex64)\",\"State\":{\"Pid\":$PID}}" \
		>"$R/docker/containers/$ID/config.v2.json"
	selectors "$PID"
	has "container:id:$ID"
	has "container:runtime:docker"
	has "systemd:id:docker-$ID.scope"
	# born into it (exec after the move): the table's cgroup ids too
	(echo "$BASHPID" >"$root/$rel/docker-$ID.scope/cgroup.procs" && exec sleep 300) &
	born=$!
	echo "$born" >>"$PIDS"
	wait_until 10 kwidctl inspect "$born"
	selectors "$born"
	has "container:id:$ID"
	if [ "$root" = "$cg2" ]; then
		want=$(stat -c %i "$root/$rel/docker-$ID.scope")
		wait_until 10 field_is "$born" cgroups.v2_id "$want" || { kwidctl inspect --json "$born"; false; }
	fi
}

@test "[$M] the Workload API serves a fresh binary its identity, and nobody else" {
	start_in_mode
	chmod 0755 "$KWID_DIR"
	fresh_copy "$KWIDCTL" "$WORK/client"
	entry spiffe://example.org/client "unix:sha256:$(sha "$WORK/client")" unix:uid:65534 >/dev/null
	# started right after exec: no retry, whatever the mode
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/client" --socket "$KWID_SOCKET" fetch x509 --json
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; false; }
	[ "$(echo "$output" | json_get 'j["svids"][0]["spiffe_id"]')" = spiffe://example.org/client ]
	# the same bytes as root, and another binary as the right uid: no
	fresh_copy "$KWIDCTL" "$WORK/other"
	run "$WORK/client" --socket "$KWID_SOCKET" fetch x509
	[ "$status" -eq 1 ]
	[[ "$output" == *PERMISSION_DENIED* ]]
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/other" --socket "$KWID_SOCKET" fetch x509
	[ "$status" -eq 1 ]
	[[ "$output" == *PERMISSION_DENIED* ]]
}
