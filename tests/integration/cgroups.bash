# cgroups.bash - real cgroups with the names container runtimes and the
# kubelet use, real processes moved into them, and the selectors the agent
# gives them. Shared by 20_attestors.bats and 25_kubelet.bats (load after
# helpers). Random ids keep tests of other helpers apart; teardown removes
# only what the test created.

# cg_init: remember created cgroups and started processes in $CG_STATE_DIR
# (default $KWID_DIR; a test that runs several agents sets its own).
cg_init() {
	CREATED="${CG_STATE_DIR:-$KWID_DIR}/cgroups.created"
	PIDS="${CG_STATE_DIR:-$KWID_DIR}/pids"
	: >"$CREATED"
	: >"$PIDS"
}

# cg_cleanup: kill the processes, remove the cgroups this test created,
# deepest first; a parent another test still uses stays (rmdir refuses).
cg_cleanup() {
	local pid dir i
	[ -n "${PIDS:-}" ] && [ -f "$PIDS" ] || return 0
	while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$PIDS"
	if [ -s "$CREATED" ]; then
		tac "$CREATED" | while read -r dir; do
			for i in $(seq 1 50); do
				rmdir "$dir" 2>/dev/null && break
				[ -d "$dir" ] || break
				sleep 0.05
			done
		done
	fi
}

hex64() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
uuid() { cat /proc/sys/kernel/random/uuid; }

# mkcg ROOT RELPATH: create the cgroup (and missing parents), remembering
# what was created for teardown.
mkcg() {
	local root=$1 rel=$2 path=$1 part
	local IFS=/
	for part in $rel; do
		[ -n "$part" ] || continue
		path="$path/$part"
		if [ ! -d "$path" ]; then
			mkdir "$path"
			echo "$path" >>"$CREATED"
		fi
	done
}

# spawn_in ROOT RELPATH: a sleeping process moved into that cgroup; sets PID.
spawn_in() {
	mkcg "$1" "$2"
	sleep 1000 &
	PID=$!
	echo "$PID" >>"$PIDS"
	echo "$PID" >"$1/$2/cgroup.procs"
}

# selectors PID: its attestation (kwidctl selectors --json) into $SEL.
selectors() {
	run kwidctl selectors --json "$1"
	[ "$status" -eq 0 ] || { echo "$output"; dump_log; return 1; }
	SEL="$output"
}

has() {
	grep -qF "\"$1\"" <<<"$SEL" || { echo "missing $1 in:"; echo "$SEL"; return 1; }
}

hasnt() {
	! grep -qF "\"$1" <<<"$SEL" || { echo "unexpected $1 in:"; echo "$SEL"; return 1; }
}
