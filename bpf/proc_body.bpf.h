/* proc_body.bpf.h - the bodies of the process-tracking programs, compiled
 * twice: with KWID_DIRECT defined for tp_btf programs (direct BTF pointer
 * loads, the cheap way) and without it for raw tracepoints and the task
 * iterator (BPF_CORE_READ, i.e. bpf_probe_read_kernel per field).
 *
 * The including file defines the maps `events` (ring buffer) and, for exec,
 * `exec_scratch` (per-CPU array of one struct exec_scratch). */
#ifndef KWID_PROC_BODY_BPF_H
#define KWID_PROC_BODY_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "proc.h"

#ifdef KWID_DIRECT
#define RD(...) (___arrow(__VA_ARGS__))
#else
#define RD(...) BPF_CORE_READ(__VA_ARGS__)
#endif

#define PF_KTHREAD 0x00200000

char LICENSE[] SEC("license") = "GPL";

/* Per v1 hierarchy id: the index of one cgroup subsystem bound to it, or
 * KWID_BPF_NO_SUBSYS. Filled by user space before load (rodata, so the
 * verifier sees constants and the loop below unrolls into fixed offsets). */
const volatile __u8 v1_subsys[KWID_BPF_V1_MAX] = {
	KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS,
	KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS,
	KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS,
	KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS, KWID_BPF_NO_SUBSYS,
};

/* Backlog (bytes) at which a record wakes the agent; below it the agent's
 * timer drains the ring. Set by user space to a quarter of the ring. A
 * wake-up is an irq_work, i.e. a self-IPI: ~10 us in this VM, ten times
 * the whole program, so it is paid once per backlog, not once per event. */
const volatile __u64 wakeup_bytes = 64 * 1024;

/* Records the ring buffer could not take. User space compares it after
 * every drain and repairs the table from a snapshot when it grew. A plain
 * global in .bss: user space reads it through the mmap'd skeleton without
 * a syscall, and the atomic add only runs on the (rare) failure path. */
__u64 ringbuf_drops = 0;

/* Inode time fields across kernel versions: i_{m,c}time_sec/_nsec since
 * 6.11, __i_{m,c}time (timespec64) in 6.7-6.10, __i_ctime with i_mtime in
 * 6.6, i_{m,c}time before. */
struct inode___v611 {
	time64_t i_mtime_sec;
	time64_t i_ctime_sec;
	u32 i_mtime_nsec;
	u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

struct inode___v67 {
	struct timespec64 __i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___v66 {
	struct timespec64 i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

/* Since 6.13 (multigrain timestamps) bit 31 of i_ctime_nsec flags "ctime
 * was queried"; nanoseconds never exceed 30 bits, so mask in every flavor. */
#define NSEC_MASK 0x3fffffff
#define TS_NS(sec, nsec) ((__s64)(sec) * 1000000000LL + (__s64)((nsec) & NSEC_MASK))

static __always_inline void fill_inode_times(struct kwid_ev_file *f, struct inode *inode)
{
	if (bpf_core_field_exists(struct inode___v611, i_ctime_sec)) {
		struct inode___v611 *i = (void *)inode;
		f->mtime_ns = TS_NS(RD(i, i_mtime_sec), RD(i, i_mtime_nsec));
		f->ctime_ns = TS_NS(RD(i, i_ctime_sec), RD(i, i_ctime_nsec));
	} else if (bpf_core_field_exists(struct inode___v67, __i_mtime)) {
		struct inode___v67 *i = (void *)inode;
		f->mtime_ns = TS_NS(RD(i, __i_mtime.tv_sec), RD(i, __i_mtime.tv_nsec));
		f->ctime_ns = TS_NS(RD(i, __i_ctime.tv_sec), RD(i, __i_ctime.tv_nsec));
	} else if (bpf_core_field_exists(struct inode___v66, __i_ctime)) {
		struct inode___v66 *i = (void *)inode;
		f->mtime_ns = TS_NS(RD(i, i_mtime.tv_sec), RD(i, i_mtime.tv_nsec));
		f->ctime_ns = TS_NS(RD(i, __i_ctime.tv_sec), RD(i, __i_ctime.tv_nsec));
	} else {
		struct inode___old *i = (void *)inode;
		f->mtime_ns = TS_NS(RD(i, i_mtime.tv_sec), RD(i, i_mtime.tv_nsec));
		f->ctime_ns = TS_NS(RD(i, i_ctime.tv_sec), RD(i, i_ctime.tv_nsec));
	}
}

static __always_inline void fill_file(struct kwid_ev_file *f, struct file *file)
{
	struct inode *inode = RD(file, f_inode);

	f->dev = RD(inode, i_sb, s_dev);
	f->ino = RD(inode, i_ino);
	f->size = RD(inode, i_size);
	fill_inode_times(f, inode);
}

/* Per v1 hierarchy, the id of the cgroup the process is in (through one
 * subsystem bound to the hierarchy). */
static __always_inline void fill_v1_cgroups(__u64 *v1, struct task_struct *task)
{
	struct css_set *cset = RD(task, cgroups);

	__builtin_memset(v1, 0, KWID_BPF_V1_MAX * sizeof(__u64));
#pragma unroll
	for (int h = 1; h < KWID_BPF_V1_MAX; h++) {
		__u32 ss = v1_subsys[h];

		if (ss >= KWID_BPF_NO_SUBSYS)
			continue;
		v1[h] = RD(cset, subsys[ss], cgroup, kn, id);
	}
}

/* The pid namespace the task's pid lives in (task_active_pid_ns). Its
 * pid_ns_for_children is the same namespace unless the task unshared or
 * entered another one since, and that one is then always a descendant, at
 * a deeper level: equal levels mean the same namespace, read with cheap
 * direct loads. Otherwise numbers[level] needs a variable index, which
 * direct BTF access does not allow: probe reads. */
static __always_inline __u32 task_pid_ns_inum(struct task_struct *task, struct nsproxy *nsp)
{
	struct pid *pid = RD(task, thread_pid);
	struct pid_namespace *pns = RD(nsp, pid_ns_for_children);
	unsigned int level = RD(pid, level);

	if (pns && RD(pns, level) == level)
		return RD(pns, ns.inum);
	return BPF_CORE_READ(pid, numbers[level].ns, ns.inum);
}

/* `task` is a thread group leader (fork child, exec'ing task after
 * de_thread, iterator) or any thread of the group (exit, cgroup). */
static __always_inline void fill_task(struct kwid_ev_task *t, struct task_struct *task)
{
	struct task_struct *leader = RD(task, group_leader);
	struct task_struct *parent = RD(leader, real_parent);
	const struct cred *cred = RD(task, real_cred);
	struct nsproxy *nsp = RD(task, nsproxy);

	t->tgid = RD(task, tgid);
	t->start_ns = RD(leader, start_boottime);
	t->exec_seq = RD(leader, self_exec_id);
	t->ppid = RD(parent, tgid);
	t->parent_start_ns = RD(parent, group_leader, start_boottime);
	t->uid = RD(cred, uid.val);
	t->euid = RD(cred, euid.val);
	t->suid = RD(cred, suid.val);
	t->fsuid = RD(cred, fsuid.val);
	t->gid = RD(cred, gid.val);
	t->egid = RD(cred, egid.val);
	t->sgid = RD(cred, sgid.val);
	t->fsgid = RD(cred, fsgid.val);
	t->user_ns = RD(cred, user_ns, ns.inum);
	t->mnt_ns = RD(nsp, mnt_ns, ns.inum);
	t->net_ns = RD(nsp, net_ns, ns.inum);
	t->cgroup_ns = RD(nsp, cgroup_ns, ns.inum);
	t->pid_ns = task_pid_ns_inum(leader, nsp);
	t->reserved = 0;
	t->cgroup_id = RD(leader, cgroups, dfl_cgrp, kn, id);
#ifdef KWID_DIRECT
	/* Two 8-byte loads instead of a helper call. */
	__builtin_memcpy(t->comm, leader->comm, sizeof(t->comm));
#else
	bpf_probe_read_kernel(t->comm, sizeof(t->comm), &leader->comm);
#endif
}

static __always_inline void fill_hdr(struct kwid_ev_hdr *h, __u16 type, __u32 size)
{
	h->type = type;
	h->reserved = 0;
	h->size = size;
	h->ts = bpf_ktime_get_ns();
}

static __always_inline void count_drop(void)
{
	__sync_fetch_and_add(&ringbuf_drops, 1);
}

/* Bytes copied by a *_str helper (NUL included), clamped to
 * [0, KWID_BPF_STR_MAX] in a way clang cannot fold away, so the verifier
 * knows the bound when the length sizes a copy. */
static __always_inline __u32 str_len(long n)
{
	__u64 len = n < 0 ? 0 : (__u64)n;

	asm volatile("if %0 <= %1 goto +1; %0 = %1" : "+r"(len) : "i"(KWID_BPF_STR_MAX));
	return (__u32)len;
}

#ifdef KWID_WITH_LIVE_EVENTS

/* BPF_RB_FORCE_WAKEUP when a record of `size` bytes makes the backlog
 * cross wakeup_bytes; `reserved`: the record is already counted in it. */
static __always_inline __u64 wakeup_flag(__u32 size, bool reserved)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	if (reserved)
		avail = avail >= size ? avail - size : 0;
	return avail < wakeup_bytes && avail + size >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline int emit_exec(struct task_struct *task, struct linux_binprm *bprm)
{
	__u32 zero = 0, flen, ilen = 0, size;
	struct kwid_ev_exec *ev = bpf_map_lookup_elem(&exec_scratch, &zero);
	const char *filename, *interp;

	if (!ev)
		return 0;
	fill_task(&ev->task, task);
	fill_v1_cgroups(ev->cgroup_v1, task);
	fill_file(&ev->file, RD(bprm, file));
	filename = RD(bprm, filename);
	interp = RD(bprm, interp);
	flen = str_len(bpf_probe_read_kernel_str(ev->strings, KWID_BPF_STR_MAX, filename));
	if (interp != filename)
		ilen = str_len(bpf_probe_read_kernel_str(ev->strings + flen, KWID_BPF_STR_MAX, interp));
	ev->filename_len = flen;
	ev->interp_len = ilen;
	ev->path_len = 0;
	ev->reserved = 0;
	size = sizeof(*ev) + flen + ilen;
	fill_hdr(&ev->hdr, KWID_EV_EXEC, size);
	if (bpf_ringbuf_output(&events, ev, size, wakeup_flag(size, false)) < 0)
		count_drop();
	return 0;
}

static __always_inline int emit_fork(struct task_struct *parent, struct task_struct *child)
{
	struct kwid_ev_fork *ev;

	/* Threads (CLONE_THREAD) and kernel threads are not processes here. */
	if (RD(child, pid) != RD(child, tgid) || (RD(child, flags) & PF_KTHREAD))
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop();
		return 0;
	}
	fill_hdr(&ev->hdr, KWID_EV_FORK, sizeof(*ev));
	fill_task(&ev->task, child);
	ev->creator_tgid = RD(parent, tgid);
	ev->reserved = 0;
	ev->creator_start_ns = RD(parent, group_leader, start_boottime);
	bpf_ringbuf_submit(ev, wakeup_flag(sizeof(*ev), true));
	return 0;
}

static __always_inline int emit_exit(struct task_struct *task)
{
	struct task_struct *leader;
	struct kwid_ev_exit *ev;

	/* sched_process_exit fires per thread, after the thread took its
	 * count off signal->live: the group is dead when that reached zero.
	 * Two threads racing may both see zero; user space treats the
	 * second event as a no-op. */
	if ((RD(task, flags) & PF_KTHREAD) || RD(task, signal, live.counter) != 0)
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop();
		return 0;
	}
	leader = RD(task, group_leader);
	fill_hdr(&ev->hdr, KWID_EV_EXIT, sizeof(*ev));
	ev->tgid = RD(task, tgid);
	ev->exit_code = RD(task, exit_code);
	ev->start_ns = RD(leader, start_boottime);
	ev->exec_seq = RD(leader, self_exec_id);
	bpf_ringbuf_submit(ev, wakeup_flag(sizeof(*ev), true));
	return 0;
}

/* cgroup_attach_task: `current` is the writer (runc, systemd), `task` the
 * one moved. One event per process: the leader moved alone, or the whole
 * thread group. */
static __always_inline int emit_cgroup(struct cgroup *dst, struct task_struct *task, bool threadgroup)
{
	struct task_struct *leader = RD(task, group_leader);
	struct kwid_ev_cgroup *ev;

	if (!threadgroup && leader != task)
		return 0;
	if (RD(task, flags) & PF_KTHREAD)
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop();
		return 0;
	}
	fill_hdr(&ev->hdr, KWID_EV_CGROUP, sizeof(*ev));
	ev->tgid = RD(task, tgid);
	ev->dst_hierarchy = RD(dst, root, hierarchy_id);
	ev->start_ns = RD(leader, start_boottime);
	ev->exec_seq = RD(leader, self_exec_id);
	ev->dst_cgroup_id = RD(dst, kn, id);
	ev->cgroup_id = RD(leader, cgroups, dfl_cgrp, kn, id);
	fill_v1_cgroups(ev->cgroup_v1, leader);
	bpf_ringbuf_submit(ev, wakeup_flag(sizeof(*ev), true));
	return 0;
}

#endif /* KWID_WITH_LIVE_EVENTS */

#endif
