/* proc.h - the live process table: every process on the host, keyed by
 * the kernel's view of who it is and what it executed.
 *
 * A workload is an exec, not a PID: struct kwid_exec_id names one exec of
 * one process, so a reused pid or a later exec is never confused with it.
 * The table is fed by the tracker (kernel events through BPF, /proc at
 * start and for repairs); everything downstream reads it through this
 * header and never writes to it. All functions run on the event loop
 * thread. */
#ifndef KWID_PROC_H
#define KWID_PROC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct kwid_agent;
struct kwid_config;
struct kwid_proc_table;
struct kwid_tracker;
struct kwid_measurement;

struct kwid_exec_id {
	pid_t tgid;
	uint64_t start_ns; /* task start time, CLOCK_BOOTTIME ns (task->start_boottime) */
	uint64_t exec_seq; /* task->self_exec_id: the kernel bumps it on every exec */
};

static inline bool exec_id_equal(const struct kwid_exec_id *a, const struct kwid_exec_id *b)
{
	return a->tgid == b->tgid && a->start_ns == b->start_ns && a->exec_seq == b->exec_seq;
}

/* One version of a file, as the kernel saw it at exec. */
struct kwid_file_key {
	uint64_t dev; /* userspace dev_t encoding (what stat() returns) */
	uint64_t ino;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint64_t size;
};

/* Credentials (kernel view at exec, or later from /proc when refreshed). */
struct kwid_creds {
	uint32_t uid, euid, suid, fsuid;
	uint32_t gid, egid, sgid, fsgid;
};

#define KWID_MAX_CGROUP_V1 16

/* What a process executed. Shared (refcounted) between a process and the
 * children it forks before they exec; immutable once published except for
 * the measurement, which the measurer fills in. */
struct kwid_image {
	unsigned refs;
	struct kwid_file_key file;	  /* the file the kernel executed (interpreter for scripts) */
	const char *path;		  /* absolute path of that file; NULL if unknown */
	const char *filename;		  /* filename argument of execve (may be relative) */
	const char *script_path;	  /* for #! scripts: the script named on exec; else NULL */
	struct kwid_measurement *measurement; /* of `file`; owned by the measurer, never NULL */
	struct kwid_measurement *script_measurement; /* of the script, or NULL */
};

enum kwid_proc_origin {
	KWID_ORIGIN_EXEC,  /* seen exec'ing live */
	KWID_ORIGIN_FORK,  /* seen forking live; runs its parent's image */
	KWID_ORIGIN_SCAN,  /* found running at start or by a repair */
};

struct kwid_proc {
	struct kwid_exec_id id;
	pid_t ppid;		   /* parent tgid (real_parent) */
	uint64_t parent_start_ns;  /* parent's start time, to tell a reused parent pid */
	char comm[16];
	struct kwid_creds creds;   /* at the last exec (see attestors for live ids) */
	uint64_t cgroup_id;	   /* cgroup v2 id (kernfs id), 0 if none */
	uint64_t cgroup_v1_ids[KWID_MAX_CGROUP_V1]; /* per v1 hierarchy id (index), 0 if none */
	uint32_t mnt_ns, pid_ns, user_ns, cgroup_ns, net_ns; /* namespace inode numbers */
	uint64_t exec_time_ns;	   /* CLOCK_BOOTTIME of the exec; 0 if unknown (scan) */
	enum kwid_proc_origin origin;
	struct kwid_image *image;  /* never NULL */
};

/* ---- reading the table (event-loop thread only) ---- */

/* The current process with this tgid, or NULL. */
const struct kwid_proc *proc_table_lookup(struct kwid_proc_table *t, pid_t tgid);
/* The process only if it still runs exactly this exec, else NULL. */
const struct kwid_proc *proc_table_lookup_exec(struct kwid_proc_table *t, const struct kwid_exec_id *id);
size_t proc_table_count(struct kwid_proc_table *t);
/* Call fn for every process; fn must not modify the table. */
void proc_table_foreach(struct kwid_proc_table *t, void (*fn)(const struct kwid_proc *p, void *ud), void *ud);

/* All recorded evidence for one process as JSON (kwidctl inspect). */
json_object *proc_to_json(struct kwid_agent *a, const struct kwid_proc *p);

/* ---- the tracker: keeps the table exact ---- */

/* Process every kernel event emitted before this call (drains the ring
 * buffer, repairs from /proc if events were lost). After it returns, an
 * exec or exit that completed before the call is reflected in the table. */
int tracker_sync(struct kwid_tracker *tr);

/* Bind a connected socket peer to the exec behind it: sync, then look up
 * pid and check that pidfd still refers to a live process with that pid.
 * -ESRCH when the peer is gone, -ENOENT when the table has no entry. */
int tracker_identify_peer(struct kwid_tracker *tr, int pidfd, pid_t pid, struct kwid_exec_id *out);

/* After attestation: 0 when the exec `id` is still what runs behind
 * pidfd (sync first), -ESRCH when the process is gone, -ESTALE when it
 * exec'd another image since. */
int tracker_confirm_exec(struct kwid_tracker *tr, int pidfd, const struct kwid_exec_id *id);

/* ---- added by the tracker ---- */

/* One line of `kwidctl ps` (tgid, ppid, ids, comm, path, sha256, ...). */
json_object *proc_to_ps_json(const struct kwid_proc *p);
const char *proc_origin_to_string(enum kwid_proc_origin o);

/* Agent wiring (userspace/tracking.c): reads "tracking.*", starts the
 * measurer and the tracker, sets a->measurer, a->tracker and a->procs,
 * registers the admin commands "ps" and "inspect" and the status section
 * "tracking", and forwards table changes with agent_notify(). */
int tracking_start(struct kwid_agent *a);
void tracking_stop(struct kwid_agent *a);
/* kwid-agent --probe: try every mechanism and print what was found and
 * which mode would be used (as JSON with `json`). Returns 0 unless the
 * probe itself failed. */
int tracking_probe(const struct kwid_config *cfg, bool json, FILE *f);

#endif
