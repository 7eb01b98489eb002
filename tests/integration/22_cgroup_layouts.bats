#!/usr/bin/env bats
# 22_cgroup_layouts.bats - container, pod and systemd selectors on every
# cgroup layout a host may have, built here rather than assumed: the agent
# runs in a private mount namespace where /sys/fs/cgroup is a pure cgroup2
# mount (current distributions), or where no cgroup2 is mounted (older
# pure-v1 hosts), and in a cgroup namespace of its own (a container). This
# machine's own layout (hybrid, or whatever it is) is covered by
# 20_attestors.bats. Each test needs the hierarchies it builds on and says
# so when the machine lacks them.

load helpers
load cgroups

setup() {
	new_agent_dir
	# several agents per test: what to clean up lives outside their dirs
	CG_STATE_DIR=$BATS_TEST_TMPDIR
	cg_init
	R="$BATS_TEST_TMPDIR/roots"
	mkdir -p "$R/docker" "$R/containerd"
	cat >"$KWID_DIR/agent.json" <<-JSON
	{ "attestors": { "docker_root": "$R/docker", "containerd_state": "$R/containerd",
	                 "k8s_node_name": "node-a" } }
	JSON
	AGENT_PREFIX=()
	V2=$("$AGENT" --probe --json | json_get "j['cgroups']['v2_mount'] or ''")
}

teardown() {
	cleanup_agent
	cg_cleanup
	if [ -n "${AGENT_CG:-}" ]; then
		rmdir "$AGENT_CG" 2>/dev/null || true
	fi
}

write_docker_state() { # ID
	mkdir -p "$R/docker/containers/$1"
	echo "{\"ID\":\"$1\",\"Name\":\"/c-$2\",\"Config\":{\"Image\":\"app:$2\",\"Labels\":{\"layout\":\"$2\"}},\"Image\":\"sha256:$(hex64)\",\"State\":{\"Pid\":$PID}}" \
		>"$R/docker/containers/$1/config.v2.json"
}

# docker_in ROOT RELDIR LAYOUT: a process in a docker container's cgroup
# below ROOT, with Docker's state; checks the selectors and, with
# V2ID_MOUNT set, the v2 cgroup id the agent records.
docker_in() {
	local id
	id=$(hex64)
	spawn_in "$1" "$2/docker-$id.scope"
	write_docker_state "$id" "$3"
	selectors "$PID"
	has "container:id:$id"
	has "container:runtime:docker"
	has "docker:label:layout:$3"
	has "systemd:id:docker-$id.scope"
	has "cgroup:path:/$2/docker-$id.scope"
	if [ -n "${V2ID_MOUNT:-}" ]; then
		want=$(stat -c %i "$1/$2/docker-$id.scope")
		wait_until 10 v2_id_is "$PID" "$want" || { kwidctl inspect --json "$PID"; false; }
	fi
}

v2_id_is() { # PID ID
	[ "$(kwidctl inspect --json "$1" | json_get "j['cgroups']['v2_id']")" = "$2" ]
}

# pod_in ROOT: a Kubernetes container (containerd, systemd driver)
pod_in() {
	local id uid
	id=$(hex64) uid=$(uuid)
	spawn_in "$1" "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid//-/_}.slice/cri-containerd-$id.scope"
	selectors "$PID"
	has "container:id:$id"
	has "k8s:pod-uid:$uid"
}

@test "pure cgroup v2 (cgroup2 mounted at /sys/fs/cgroup): docker and pod selectors, v2 ids" {
	[ -n "$V2" ] || skip "this kernel has no cgroup2 hierarchy mounted to build on"
	for mode in auto proc_poll; do
		new_agent_dir
		cat >"$KWID_DIR/agent.json" <<-JSON
		{ "attestors": { "docker_root": "$R/docker", "containerd_state": "$R/containerd",
		                 "k8s_node_name": "node-a" } }
		JSON
		AGENT_PREFIX=(unshare -m --propagation private sh -c
			'umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' layout)
		start_agent --config "$KWID_DIR/agent.json" --tracking-mode "$mode"
		[ "$(kwidctl status --json | json_get "j['attestors']" >/dev/null; echo ok)" = ok ]
		# the agent's view: one cgroup2 mount, at /sys/fs/cgroup
		grep -q ' /sys/fs/cgroup cgroup2 ' "/proc/$KWID_PID/mounts"
		! grep -q ' /sys/fs/cgroup/unified ' "/proc/$KWID_PID/mounts"
		V2ID_MOUNT=1 docker_in "$V2" system.slice "v2-$mode"
		pod_in "$V2"
		cleanup_agent
	done
}

@test "pure cgroup v1 (no cgroup2 mount): docker selectors from the v1 hierarchies" {
	[ -d /sys/fs/cgroup/systemd ] && [ -d /sys/fs/cgroup/cpu ] ||
		skip "this machine has no v1 name=systemd and cpu hierarchies to build on"
	for mode in auto proc_poll; do
		new_agent_dir
		cat >"$KWID_DIR/agent.json" <<-JSON
		{ "attestors": { "docker_root": "$R/docker" } }
		JSON
		AGENT_PREFIX=(unshare -m --propagation private sh -c
			'for m in $(awk "\$3 == \"cgroup2\" {print \$2}" /proc/self/mounts); do umount "$m"; done; exec "$@"' layout)
		start_agent --config "$KWID_DIR/agent.json" --tracking-mode "$mode"
		! grep -q ' cgroup2 ' "/proc/$KWID_PID/mounts"
		# a systemd-driver container seen through name=systemd (and cpu)
		local id
		id=$(hex64)
		spawn_in /sys/fs/cgroup/systemd "system.slice/docker-$id.scope"
		mkcg /sys/fs/cgroup/cpu "system.slice/docker-$id.scope"
		echo "$PID" >"/sys/fs/cgroup/cpu/system.slice/docker-$id.scope/cgroup.procs"
		write_docker_state "$id" "v1-$mode"
		selectors "$PID"
		has "container:id:$id"
		has "docker:label:layout:v1-$mode"
		has "systemd:id:docker-$id.scope"
		# a cgroupfs-driver container on the cpu hierarchy only
		id=$(hex64)
		spawn_in /sys/fs/cgroup/cpu "docker/$id"
		write_docker_state "$id" "v1cfs-$mode"
		selectors "$PID"
		has "container:id:$id"
		has "cgroup:path:/docker/$id"
		cleanup_agent
	done
}

@test "the agent started in a cgroup namespace of its own joins the initial one" {
	[ -n "$V2" ] || skip "this kernel has no cgroup2 hierarchy mounted to build on"
	# The agent's namespace is rooted at its own cgroup, below the root:
	# read from there, every other process's path would start with "/..".
	AGENT_CG="$V2/kwid-agent-cgns-$RANDOM$RANDOM"
	mkdir "$AGENT_CG"
	AGENT_PREFIX=(sh -c 'echo $$ >"$0/cgroup.procs" && exec unshare -C "$@"' "$AGENT_CG")
	start_agent --config "$KWID_DIR/agent.json"
	[ "$(kwidctl status --json | json_get "j['tracking']['cgroup_namespace']")" = "joined initial" ]
	grep -q "joined the initial one" "$KWID_LOG"
	[ "$(readlink /proc/$KWID_PID/ns/cgroup)" = "cgroup:[4026531835]" ]
	docker_in "$V2" system.slice cgns
	pod_in "$V2"
	cleanup_agent
	# its cgroup empties once it is gone
	for _ in $(seq 1 50); do rmdir "$AGENT_CG" 2>/dev/null && break; sleep 0.1; done
}

@test "an agent in the initial cgroup namespace says so" {
	start_agent --config "$KWID_DIR/agent.json"
	[ "$(kwidctl status --json | json_get "j['tracking']['cgroup_namespace']")" = initial ]
	! grep -q "cgroup namespace" "$KWID_LOG"
}
