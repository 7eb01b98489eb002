/* proc_iter.bpf.c - task iterator (iter/task): one KWID_EV_SCAN record per
 * live process (thread group leader, no kernel threads, no zombies), with
 * the same fields as an exec event, the ids of named v1 hierarchies
 * (name=systemd), which have no subsystem, and - where the verifier allows
 * bpf_d_path on the executable - its path. Two programs, one loaded: user
 * space tries kwid_scan and falls back to kwid_scan_nopath. Used to seed
 * the table at start and to repair it after lost events. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "proc.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct kwid_ev_exec) + KWID_BPF_STR_MAX);
} scan_scratch SEC(".maps");

#include "proc_body.bpf.h"

#define MAX_CGROUP_LINKS 24

/* Walk css_set->cgrp_links: one link per hierarchy the process is in, named
 * ones included. Probe reads only; the cost does not matter here. */
static __always_inline void fill_all_hierarchies(__u64 *v1, struct task_struct *task)
{
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	struct list_head *head = &cset->cgrp_links;
	struct list_head *pos = BPF_CORE_READ(head, next);

	for (int i = 0; i < MAX_CGROUP_LINKS && pos && pos != head; i++) {
		struct cgrp_cset_link *link = container_of(pos, struct cgrp_cset_link, cgrp_link);
		struct cgroup *cgrp = BPF_CORE_READ(link, cgrp);
		int hier = BPF_CORE_READ(cgrp, root, hierarchy_id);
		__u32 idx = (__u32)hier & (KWID_BPF_V1_MAX - 1);

		barrier_var(idx);
		if (hier > 0 && hier < KWID_BPF_V1_MAX)
			v1[idx] = BPF_CORE_READ(cgrp, kn, id);
		pos = BPF_CORE_READ(pos, next);
	}
}

/* One record for `task`; with_path: add the executable's path from
 * bpf_d_path. */
static __always_inline int scan_task(struct bpf_iter__task *ctx, bool with_path)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *exe;
	struct kwid_ev_exec *ev;
	__u32 zero = 0, plen = 0;

	if (!task || task->pid != task->tgid || (task->flags & PF_KTHREAD))
		return 0;
	if (task->exit_state || task->signal->live.counter == 0)
		return 0;
	ev = bpf_map_lookup_elem(&scan_scratch, &zero);
	if (!ev)
		return 0;
	fill_task(&ev->task, task);
	__builtin_memset(ev->cgroup_v1, 0, sizeof(ev->cgroup_v1));
	fill_all_hierarchies(ev->cgroup_v1, task);
	/* A process without an executable (its mm is gone, or exec'd from
	 * something without a path) is still a process: no file, no path. */
	exe = task->mm->exe_file;
	if (exe) {
		fill_file(&ev->file, exe);
		if (with_path)
			plen = str_len(bpf_d_path((struct path *)&exe->f_path, ev->strings, KWID_BPF_STR_MAX));
	} else {
		__builtin_memset(&ev->file, 0, sizeof(ev->file));
	}
	ev->filename_len = 0;
	ev->interp_len = 0;
	ev->path_len = plen;
	ev->reserved = 0;
	fill_hdr(&ev->hdr, KWID_EV_SCAN, sizeof(*ev) + plen);
	bpf_seq_write(seq, ev, sizeof(*ev) + plen);
	return 0;
}

/* Where the verifier lets bpf_d_path take a path reached through
 * task->mm->exe_file (it did up to some 6.18 builds). */
SEC("iter/task")
int kwid_scan(struct bpf_iter__task *ctx)
{
	return scan_task(ctx, true);
}

/* Where it does not (later 6.18 stable builds: "R1 type=untrusted_ptr_"):
 * the same record without the path; user space resolves it through
 * /proc/<pid>/exe and checks the inode against this record. Loaded only
 * when kwid_scan is refused (user space picks one with set_autoload). */
SEC("iter/task")
int kwid_scan_nopath(struct bpf_iter__task *ctx)
{
	return scan_task(ctx, false);
}
