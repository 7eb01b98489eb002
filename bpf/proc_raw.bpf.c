/* proc_raw.bpf.c - the fallback when tp_btf programs cannot be loaded: the
 * same bodies as proc_tp.bpf.c on raw tracepoints, every kernel read through
 * BPF_CORE_READ (bpf_probe_read_kernel). */
#define KWID_WITH_LIVE_EVENTS 1
#include "proc_maps.bpf.h"

SEC("raw_tp/sched_process_exec")
int BPF_PROG(kwid_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	return emit_exec(task, bprm);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(kwid_fork, struct task_struct *parent, struct task_struct *child)
{
	return emit_fork(parent, child);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(kwid_exit, struct task_struct *task)
{
	return emit_exit(task);
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(kwid_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	return emit_cgroup(dst, task, threadgroup);
}

SEC("raw_tp/cgroup_transfer_tasks")
int BPF_PROG(kwid_cgroup_transfer, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	return emit_cgroup(dst, task, threadgroup);
}
