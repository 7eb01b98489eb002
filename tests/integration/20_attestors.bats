#!/usr/bin/env bats
# 20_attestors.bats - workload attestors against the real kernel: cgroups
# made here with the names real runtimes use (unified and v1 hierarchies),
# real processes moved in, runtime state files written in the runtimes'
# formats under temporary state roots; a forged container view; unix ids
# against id/getent; lineage of a three-level chain.

load helpers
load cgroups

CG2=/sys/fs/cgroup/unified
CGV1=/sys/fs/cgroup/cpu

setup() {
	[ -d "$CG2" ] || CG2=/sys/fs/cgroup
	new_agent_dir
	R="$KWID_DIR/roots"
	mkdir -p "$R/docker" "$R/containerd" "$R/crio" "$R/podman" "$R/units"
	cg_init
	cat >"$KWID_DIR/agent.json" <<-JSON
	{ "attestors": {
	    "docker_root": "$R/docker", "containerd_state": "$R/containerd",
	    "crio_state": "$R/crio", "podman_state": "$R/podman",
	    "docker_env_allow": ["APP_MODE"], "k8s_node_name": "node-a",
	    "systemd_unit_dirs": ["$R/units"] } }
	JSON
	start_agent --config "$KWID_DIR/agent.json"
	# The pipeline needs the process table (tracker); an agent built
	# without it has no "selectors" command: say so instead of failing.
	if kwidctl selectors 1 2>&1 | grep -q "unknown command 'selectors'"; then
		skip "this kwid-agent has no attestation pipeline (process tracker not built in)"
	fi
}

teardown() {
	cg_cleanup
	cleanup_agent
}

write_docker_state() { # ID IMAGE_REF
	local dir="$R/docker/containers/$1"
	mkdir -p "$dir"
	cat >"$dir/config.v2.json" <<-JSON
	{"StreamConfig":{},"State":{"Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"RemovalInProgress":false,"Dead":false,"Pid":$PID,"ExitCode":0,"Error":"","StartedAt":"2024-05-01T10:00:00.123456789Z","FinishedAt":"0001-01-01T00:00:00Z","Health":null},"ID":"$1","Created":"2024-05-01T09:59:59.5Z","Managed":false,"Path":"sleep","Args":["1000"],"Config":{"Hostname":"${1:0:12}","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","APP_MODE=blue","DB_PASSWORD=hunter2"],"Cmd":["sleep","1000"],"Image":"$2","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{"app":"billing","com.example.team":"payments"}},"Image":"sha256:$IMG","NetworkSettings":{"Bridge":"","SandboxID":"","Ports":{}},"LogPath":"/var/lib/docker/containers/$1/$1-json.log","Name":"/billing-1","Driver":"overlay2","OS":"linux","RestartCount":0,"MountLabel":"","ProcessLabel":"","AppArmorProfile":"docker-default","HasBeenStartedBefore":false,"HasBeenManuallyStopped":false}
	JSON
}

write_cri_bundle() { # DIR ID POD_UID
	mkdir -p "$1"
	cat >"$1/config.json" <<-JSON
	{"ociVersion":"1.1.0","process":{"user":{"uid":0,"gid":0},"args":["sleep","1000"],"cwd":"/"},"root":{"path":"rootfs"},"annotations":{"io.kubernetes.cri.container-name":"api","io.kubernetes.cri.container-type":"container","io.kubernetes.cri.image-name":"registry.example/shop/api:2.3","io.kubernetes.cri.sandbox-id":"$SANDBOX","io.kubernetes.cri.sandbox-name":"api-6d9f7b-q2x7p","io.kubernetes.cri.sandbox-namespace":"shop","io.kubernetes.cri.sandbox-uid":"$3"},"linux":{"cgroupsPath":"kubepods-burstable-pod${3//-/_}.slice:cri-containerd:$2"}}
	JSON
}

write_crio_bundle() { # ID POD_UID
	mkdir -p "$R/crio/$1/userdata"
	cat >"$R/crio/$1/userdata/config.json" <<-JSON
	{"ociVersion":"1.0.2-dev","process":{"args":["sleep","1000"],"cwd":"/"},"root":{"path":"/var/lib/containers/storage/overlay/x/merged"},"annotations":{"io.container.manager":"cri-o","io.kubernetes.container.name":"worker","io.kubernetes.cri-o.ContainerID":"$1","io.kubernetes.cri-o.ContainerName":"k8s_worker_jobs-0_batch_$2_0","io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.cri-o.ImageName":"quay.example/batch/worker:7","io.kubernetes.cri-o.ImageRef":"$IMG","io.kubernetes.cri-o.SandboxID":"$SANDBOX","io.kubernetes.pod.name":"jobs-0","io.kubernetes.pod.namespace":"batch","io.kubernetes.pod.uid":"$2"},"linux":{"cgroupsPath":"kubepods-besteffort-pod${2//-/_}.slice:crio:$1"}}
	JSON
}

@test "docker, systemd driver: container, image and labels from the kernel's cgroup and Docker's state" {
	ID=$(hex64) IMG=$(hex64)
	spawn_in "$CG2" "system.slice/docker-$ID.scope"
	write_docker_state "$ID" "billing:1.4"
	selectors "$PID"
	has "container:id:$ID"
	has "container:runtime:docker"
	has "container:name:billing-1"
	has "container:image_name:billing:1.4"
	has "container:image_digest:sha256:$IMG"
	has "docker:image_id:billing:1.4"
	has "docker:image_config_digest:sha256:$IMG"
	has "docker:label:app:billing"
	has "docker:label:com.example.team:payments"
	has "docker:env:APP_MODE=blue"
	hasnt "docker:env:DB_PASSWORD"
	has "systemd:id:docker-$ID.scope"
	has "systemd:slice:system.slice"
	has "cgroup:path:/system.slice/docker-$ID.scope"
	hasnt "k8s:"
	# human form: grouped by attestor
	run kwidctl selectors "$PID"
	[ "$status" -eq 0 ]
	[[ "$output" == *"container:"*"  container:id:$ID"* ]]
}

@test "docker, cgroupfs driver on a v1 hierarchy" {
	[ -d "$CGV1" ] || skip "no v1 cpu hierarchy"
	ID=$(hex64) IMG=$(hex64)
	spawn_in "$CGV1" "docker/$ID"
	write_docker_state "$ID" "billing:1.4"
	selectors "$PID"
	has "container:id:$ID"
	has "container:runtime:docker"
	has "docker:label:app:billing"
	has "cgroup:path:/docker/$ID"
}

@test "hybrid host: the named v1 systemd hierarchy places a docker container" {
	[ -d /sys/fs/cgroup/systemd ] || skip "no name=systemd v1 hierarchy"
	ID=$(hex64) IMG=$(hex64)
	spawn_in /sys/fs/cgroup/systemd "system.slice/docker-$ID.scope"
	write_docker_state "$ID" "billing:1.4"
	selectors "$PID"
	has "container:id:$ID"
	has "systemd:id:docker-$ID.scope"
	has "cgroup:path:/system.slice/docker-$ID.scope"
}

@test "containerd under Kubernetes, systemd driver: pod and container from the cgroup, names from the CRI bundle" {
	ID=$(hex64) POD=$(uuid) SANDBOX=$(hex64)
	spawn_in "$CG2" "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD//-/_}.slice/cri-containerd-$ID.scope"
	write_cri_bundle "$R/containerd/io.containerd.runtime.v2.task/k8s.io/$ID" "$ID" "$POD"
	selectors "$PID"
	has "k8s:pod-uid:$POD"
	has "k8s:ns:shop"
	has "k8s:pod-name:api-6d9f7b-q2x7p"
	has "k8s:container-name:api"
	has "k8s:container-image:registry.example/shop/api:2.3"
	has "k8s:node-name:node-a"
	has "container:id:$ID"
	has "container:runtime:containerd"
	has "container:image_name:registry.example/shop/api:2.3"
}

@test "Kubernetes, cgroupfs driver (/kubepods/<qos>/pod<uid>/<id>): runtime found from its state" {
	ID=$(hex64) POD=$(uuid) SANDBOX=$(hex64)
	spawn_in "$CG2" "kubepods/besteffort/pod$POD/$ID"
	write_cri_bundle "$R/containerd/io.containerd.runtime.v2.task/k8s.io/$ID" "$ID" "$POD"
	selectors "$PID"
	has "k8s:pod-uid:$POD"
	has "k8s:container-name:api"
	has "container:id:$ID"
	has "container:runtime:containerd"
	hasnt "systemd:"
}

@test "CRI-O: image digest and pod from its bundle; conmon is not the container" {
	ID=$(hex64) POD=$(uuid) IMG=$(hex64) SANDBOX=$(hex64)
	spawn_in "$CG2" "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD//-/_}.slice/crio-$ID.scope"
	write_crio_bundle "$ID" "$POD"
	selectors "$PID"
	has "container:runtime:crio"
	has "container:image_digest:sha256:$IMG"
	has "container:image_name:quay.example/batch/worker:7"
	has "k8s:ns:batch"
	has "k8s:pod-name:jobs-0"
	has "k8s:container-name:worker"
	local app=$PID
	spawn_in "$CG2" "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD//-/_}.slice/crio-conmon-$ID.scope"
	selectors "$PID"
	hasnt "container:"
	hasnt "k8s:"
	has "systemd:id:crio-conmon-$ID.scope"
	selectors "$app"
	has "container:id:$ID"
}

@test "podman: machine.slice/libpod-<id>.scope with containers/storage state" {
	ID=$(hex64) IMG=$(hex64)
	spawn_in "$CG2" "machine.slice/libpod-$ID.scope"
	cat >"$R/podman/containers.json" <<-JSON
	[{"id":"$ID","names":["cache"],"image":"$IMG","layer":"$(hex64)","metadata":"{\"image-name\":\"docker.io/library/redis:7\",\"image-id\":\"$IMG\",\"name\":\"cache\",\"created-at\":1714557600,\"mountlabel\":\"\"}","created":"2024-05-01T10:00:00.5Z","flags":{"MountLabel":"","ProcessLabel":""}}]
	JSON
	selectors "$PID"
	has "container:id:$ID"
	has "container:runtime:podman"
	has "container:name:cache"
	has "container:image_name:docker.io/library/redis:7"
	has "container:image_digest:sha256:$IMG"
}

@test "a forged container view (own mount namespace, bind mounts over /proc/self/cgroup and mountinfo) gets no container selectors" {
	ID=$(hex64) IMG=$(hex64)
	PID=0
	write_docker_state "$ID" "billing:1.4" # the state a forger would want to borrow
	local fake="$KWID_DIR/fake"
	mkdir -p "$fake"
	printf '0::/system.slice/docker-%s.scope\n' "$ID" >"$fake/cgroup"
	printf '1 0 0:1 / / rw - overlay overlay rw,upperdir=/var/lib/docker/overlay2/x/diff\n2 1 0:2 / /etc/hostname rw - ext4 /dev/sda1 rw,/var/lib/docker/containers/%s/hostname\n' "$ID" >"$fake/mountinfo"
	# /proc/$$, not /proc/self: mount(8) would resolve "self" to itself.
	unshare -m --propagation private bash -c '
		mount --bind "$1/cgroup" /proc/$$/cgroup &&
		mount --bind "$1/mountinfo" /proc/$$/mountinfo &&
		cat /proc/$$/cgroup >"$1/seen" && exec sleep 1000' _ "$fake" &
	PID=$!
	echo "$PID" >>"$PIDS"
	wait_until 10 test -s "$fake/seen"
	# The forgery works from the inside...
	grep -q "docker-$ID.scope" "$fake/seen"
	wait_until 10 grep -q sleep /proc/$PID/comm
	# ...and the agent, reading from its own namespaces, is not fooled.
	selectors "$PID"
	hasnt "container:"
	hasnt "docker:"
	hasnt "systemd:id:docker-"
	has "unix:path:$(readlink -f /usr/bin/sleep)"
}

@test "inside its own cgroup namespace a container process cannot hide its cgroup" {
	ID=$(hex64) IMG=$(hex64)
	mkcg "$CG2" "system.slice/docker-$ID.scope"
	local seen="$KWID_DIR/seen"
	bash -c 'echo $$ >"$1/cgroup.procs" && exec unshare -C bash -c "cat /proc/self/cgroup >\"\$0\"; exec sleep 1000" "$2"' _ "$CG2/system.slice/docker-$ID.scope" "$seen" &
	PID=$!
	echo "$PID" >>"$PIDS"
	wait_until 10 grep -q sleep /proc/$PID/comm
	write_docker_state "$ID" "billing:1.4"
	grep -qx '0::/' "$seen" # it sees itself at the root of its namespace
	selectors "$PID"
	has "container:id:$ID"
	has "cgroup:path:/system.slice/docker-$ID.scope"
}

@test "hostile cgroups: two container ids, a container below a user's own manager" {
	ID=$(hex64) ID2=$(hex64) IMG=$(hex64)
	spawn_in "$CG2" "system.slice/docker-$ID.scope/docker-$ID2.scope"
	write_docker_state "$ID"
	selectors "$PID"
	hasnt "container:"
	has "systemd:id:docker-$ID.scope"
	grep -q '"message": "container refused: two different container ids' <<<"$SEL"
	run kwidctl selectors "$PID"
	[[ "$output" == *"container: FAILED: container refused: two different container ids"* ]]

	spawn_in "$CG2" "user.slice/user-4242.slice/user@4242.service/app.slice/docker-$ID.scope"
	selectors "$PID"
	hasnt "container:"
	has "systemd:id:user@4242.service"
	has "systemd:user_unit:docker-$ID.scope"
	run kwidctl status --json
	echo "$output" | grep -q '"attestors"'
}

@test "unix selectors match id and getent, and follow setuid after exec" {
	local user group
	user=$(getent passwd 65534 | cut -d: -f1)
	group=$(getent group "$(id -g "$user")" | cut -d: -f1)
	setpriv --reuid=65534 --regid="$(id -g "$user")" --groups=0,4 sleep 1000 &
	PID=$!
	echo "$PID" >>"$PIDS"
	wait_until 10 grep -q sleep /proc/$PID/comm
	selectors "$PID"
	has "unix:uid:$(id -u "$user")"
	has "unix:user:$user"
	has "unix:gid:$(id -g "$user")"
	has "unix:group:$group"
	has "unix:supplementary_gid:0"
	has "unix:supplementary_group:$(getent group 0 | cut -d: -f1)"
	has "unix:supplementary_gid:4"
	has "unix:supplementary_group:$(getent group 4 | cut -d: -f1)"
	has "unix:path:$(readlink -f /usr/bin/sleep)"
	has "unix:sha256:$(sha256sum "$(readlink -f /usr/bin/sleep)" | cut -d' ' -f1)"
	hasnt "unix:uid:0"

	# setuid after exec: the live ids, not those at exec
	"$PY" -c 'import os, time
os.setgroups([]); os.setgid(65534); os.setuid(65534)
time.sleep(1000)' &
	PID=$!
	echo "$PID" >>"$PIDS"
	wait_until 10 grep -qP '^Uid:\t65534\t' /proc/$PID/status
	selectors "$PID"
	has "unix:uid:65534"
	has "unix:gid:65534"
	hasnt "unix:uid:0"
	hasnt "unix:supplementary_gid:"
}

@test "lineage of a three-level chain: bash -> python3 -> sleep" {
	local bash_bin py_bin
	bash_bin=$(readlink -f /usr/bin/bash)
	py_bin=$(readlink -f "$PY")
	/usr/bin/bash -c '"$1" -c "import subprocess; subprocess.run([\"/usr/bin/sleep\", \"1000\"])"; true' _ "$PY" &
	local top=$!
	echo "$top" >>"$PIDS"
	wait_until 10 pgrep -P "$(pgrep -P "$top" | head -1)" sleep
	PID=$(pgrep -P "$(pgrep -P "$top" | head -1)" sleep)
	echo "$PID" >>"$PIDS"
	selectors "$PID"
	has "lineage:parent_path:$py_bin"
	has "lineage:parent_sha256:$(sha256sum "$py_bin" | cut -d' ' -f1)"
	has "lineage:ancestor_path:$py_bin"
	has "lineage:ancestor_path:$bash_bin"
	has "lineage:ancestor_sha256:$(sha256sum "$bash_bin" | cut -d' ' -f1)"
	hasnt "lineage:parent_path:$bash_bin"
}

@test "a binary changed after exec loses its unix:sha256" {
	cp "$(readlink -f /usr/bin/sleep)" "$KWID_DIR/mysleep"
	"$KWID_DIR/mysleep" 1000 &
	PID=$!
	echo "$PID" >>"$PIDS"
	selectors "$PID"
	has "unix:sha256:$(sha256sum "$KWID_DIR/mysleep" | cut -d' ' -f1)"
	chmod 0700 "$KWID_DIR/mysleep" # a new inode ctime: not the executed version
	selectors "$PID"
	hasnt "unix:sha256:"
	has "unix:path:$KWID_DIR/mysleep"
	grep -q 'changed since exec' <<<"$SEL"
}

@test "kwidctl selectors: clear errors for a missing pid and bad arguments" {
	run kwidctl selectors 4194304
	[ "$status" -eq 1 ]
	[[ "$output" == *"no process with pid 4194304"* ]]
	run kwidctl selectors notapid
	[ "$status" -eq 2 ]
	run kwidctl selectors
	[ "$status" -eq 2 ]
	run kwidctl status --json
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '"by_attestor"'
}
