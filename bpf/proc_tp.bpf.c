/* proc_tp.bpf.c - process tracking on BTF-typed tracepoints (tp_btf): exec,
 * fork, exit and cgroup moves into the `events` ring buffer, with direct
 * BTF pointer loads (no probe-read helper per field). The bodies live in
 * proc_body.bpf.h; proc_raw.bpf.c builds the same ones for raw tracepoints. */
#define KWID_DIRECT 1
#define KWID_WITH_LIVE_EVENTS 1
#include "proc_maps.bpf.h"

SEC("tp_btf/sched_process_exec")
int BPF_PROG(kwid_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return emit_exec(task, bprm);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(kwid_fork, struct task_struct *parent, struct task_struct *child)
{
	return emit_fork(parent, child);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(kwid_exit, struct task_struct *task)
{
	return emit_exit(task);
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(kwid_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	return emit_cgroup(dst, task, threadgroup);
}

SEC("tp_btf/cgroup_transfer_tasks")
int BPF_PROG(kwid_cgroup_transfer, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	return emit_cgroup(dst, task, threadgroup);
}
