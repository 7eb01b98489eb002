#!/usr/bin/env bats
# 05_privileges.bats - after start-up the agent keeps exactly the
# capabilities its parts declared, with no_new_privs and seccomp on.

load helpers

setup() { new_agent_dir; }
teardown() { cleanup_agent; }

# cap names (as kwidctl status lists them) -> the kernel's hex mask
declared_mask() {
	"$PY" - "$1" <<-'PY'
	import json, sys, subprocess
	st = json.loads(sys.argv[1])
	names = [c.split(" ")[0] for c in st["privileges"]["capabilities"]]
	bits = 0
	for n in names:
	    out = subprocess.run(["capsh", "--explain=" + n], capture_output=True, text=True).stdout
	    num = int(out.split("(", 1)[1].split(")", 1)[0])  # "cap_sys_ptrace (19) [...]"
	    bits |= 1 << num
	print("%016x" % bits)
	PY
}

@test "the agent runs with exactly the declared capabilities" {
	start_agent
	run kwidctl status --json
	[ "$status" -eq 0 ]
	json=$output
	echo "$json" | grep -q '"dropped": true'
	echo "$json" | grep -q '"seccomp": "deny-list"'
	want=$(declared_mask "$json")
	eff=$(awk '/^CapEff/ {print $2}' /proc/$KWID_PID/status)
	prm=$(awk '/^CapPrm/ {print $2}' /proc/$KWID_PID/status)
	bnd=$(awk '/^CapBnd/ {print $2}' /proc/$KWID_PID/status)
	inh=$(awk '/^CapInh/ {print $2}' /proc/$KWID_PID/status)
	amb=$(awk '/^CapAmb/ {print $2}' /proc/$KWID_PID/status)
	echo "want=$want eff=$eff prm=$prm bnd=$bnd inh=$inh amb=$amb"
	[ "$eff" = "$want" ]
	[ "$prm" = "$want" ]
	[ "$bnd" = "$want" ]
	[ "$inh" = 0000000000000000 ]
	[ "$amb" = 0000000000000000 ]
	grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$KWID_PID/status
	grep -q '^Seccomp:[[:space:]]*2' /proc/$KWID_PID/status
}
