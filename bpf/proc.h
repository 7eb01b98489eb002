/* proc.h - the records the process-tracking BPF programs emit (ring
 * buffer for live events, seq_file for the task iterator), shared by the
 * BPF programs and user space (userspace/proc_event.c decodes them).
 *
 * Every record starts with struct kwid_ev_hdr; `size` is the record's full
 * length including variable strings, so a stream of records (the iterator)
 * can be split without knowing the types. Strings are NUL-terminated and
 * their lengths count the NUL; a length of 0 means "absent". Device numbers
 * are in the kernel's encoding (major << 20 | minor). Start times are
 * CLOCK_BOOTTIME nanoseconds (task->start_boottime); the header's ts is
 * CLOCK_MONOTONIC (bpf_ktime_get_ns: here five times cheaper than the boot
 * clock helper) and user space converts it. */
#ifndef KWID_BPF_PROC_H
#define KWID_BPF_PROC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KWID_EV_EXEC 1	 /* struct kwid_ev_exec: a process exec'd */
#define KWID_EV_FORK 2	 /* struct kwid_ev_fork: a new process (not a thread) */
#define KWID_EV_EXIT 3	 /* struct kwid_ev_exit: the whole thread group is dead */
#define KWID_EV_CGROUP 4 /* struct kwid_ev_cgroup: a process moved between cgroups */
#define KWID_EV_SCAN 5	 /* struct kwid_ev_exec: one running process (task iterator) */

/* v1 cgroup ids are reported per hierarchy id (index); hierarchy 0 is the
 * v2 (default) hierarchy and is reported in cgroup_id. */
#define KWID_BPF_V1_MAX 16
/* Longest string copied (the kernel's PATH_MAX, NUL included). */
#define KWID_BPF_STR_MAX 4096
/* "no subsystem" marker in the v1_subsys rodata table. */
#define KWID_BPF_NO_SUBSYS 0xff

struct kwid_ev_hdr {
	__u16 type;
	__u16 reserved;
	__u32 size; /* whole record, header and strings included */
	__u64 ts;   /* CLOCK_MONOTONIC ns when the event was emitted */
};

/* Who the process is; the same block for exec, fork and scan records.
 * v1 cgroup ids are not part of it: a fork inherits them (only the v2
 * cgroup can differ, with CLONE_INTO_CGROUP), so only exec and scan
 * records carry them. */
struct kwid_ev_task {
	__u32 tgid;
	__u32 ppid;		 /* real parent's tgid */
	__u64 start_ns;		 /* group leader's start_boottime */
	__u64 parent_start_ns;	 /* real parent's group leader start_boottime */
	__u64 exec_seq;		 /* self_exec_id */
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u32 mnt_ns, pid_ns, user_ns, cgroup_ns, net_ns;
	__u32 reserved;
	__u64 cgroup_id; /* v2 cgroup (kernfs id) */
	char comm[16];
};

struct kwid_ev_file {
	__u32 dev; /* kernel encoding */
	__u32 reserved;
	__u64 ino;
	__u64 size;
	__s64 mtime_ns;
	__s64 ctime_ns;
};

/* KWID_EV_EXEC and KWID_EV_SCAN. strings[] holds, in this order, the
 * filename passed to exec (exec only), the interpreter name when it differs
 * from the filename (#! scripts, binfmt_misc; exec only), and the
 * executable's path from bpf_d_path (scan only). */
struct kwid_ev_exec {
	struct kwid_ev_hdr hdr;
	struct kwid_ev_task task;
	__u64 cgroup_v1[KWID_BPF_V1_MAX]; /* per v1 hierarchy id; 0 = unknown */
	struct kwid_ev_file file;
	__u16 filename_len;
	__u16 interp_len;
	__u16 path_len;
	__u16 reserved;
	char strings[];
};

struct kwid_ev_fork {
	struct kwid_ev_hdr hdr;
	struct kwid_ev_task task;   /* the child; exec_seq and v1 cgroups are inherited */
	__u32 creator_tgid;	    /* the process that called fork/clone (runs the same image) */
	__u32 reserved;
	__u64 creator_start_ns;
};

struct kwid_ev_exit {
	struct kwid_ev_hdr hdr;
	__u32 tgid;
	__s32 exit_code;
	__u64 start_ns;
	__u64 exec_seq;
};

struct kwid_ev_cgroup {
	struct kwid_ev_hdr hdr;
	__u32 tgid;
	__u32 dst_hierarchy;	 /* hierarchy of the destination cgroup (0 = v2) */
	__u64 start_ns;
	__u64 exec_seq;
	__u64 dst_cgroup_id;	 /* kernfs id of the destination cgroup */
	__u64 cgroup_id;	 /* the process's v2 cgroup after the move */
	__u64 cgroup_v1[KWID_BPF_V1_MAX];
};

#endif
