/* tracker.h - internals of process tracking shared by the tracker's files
 * and its unit tests: decoded kernel events, the table's mutation API,
 * images, the /proc reader and the ring-buffer consumer. Other parts read
 * the table through kwid/proc.h only. */
#ifndef KWID_TRACKER_H
#define KWID_TRACKER_H

#include <stdio.h>

#include "kwid/agent.h"
#include "kwid/measure.h"
#include "kwid/proc.h"

#define KWID_COMM_LEN 16

/* Exec sequence numbers invented in user space (the /proc based modes
 * cannot see task->self_exec_id) carry this bit, so they can never equal
 * a kernel value (which counts up from 0). */
#define KWID_EXEC_SEQ_SYNTHETIC (1ull << 63)

/* ---- decoded events (userspace/proc_event.c) ---- */

enum kwid_event_type {
	KWID_EVENT_EXEC = 1,
	KWID_EVENT_FORK = 2,
	KWID_EVENT_EXIT = 3,
	KWID_EVENT_CGROUP = 4,
	KWID_EVENT_SCAN = 5, /* one process of a snapshot (task iterator or /proc) */
};

/* One event from any source, in user-space encodings (dev as stat()
 * returns it). Strings are borrowed from the record they were decoded from. */
struct kwid_proc_event {
	enum kwid_event_type type;
	uint64_t ts;		/* CLOCK_BOOTTIME ns; 0 when unknown */
	pid_t tgid;
	pid_t ppid;
	uint64_t start_ns;
	uint64_t parent_start_ns;
	uint64_t exec_seq;
	bool has_exec_seq;	/* false: the source cannot see self_exec_id */
	bool start_coarse;	/* start_ns from /proc (clock ticks), not exact */
	struct kwid_creds creds;
	uint32_t mnt_ns, pid_ns, user_ns, cgroup_ns, net_ns;
	uint64_t cgroup_id;
	uint64_t cgroup_v1[KWID_MAX_CGROUP_V1]; /* 0: unknown (keep what the table has) */
	char comm[KWID_COMM_LEN];
	bool has_file;
	struct kwid_file_key file;
	const char *filename;	/* exec: filename argument; NULL if unknown */
	const char *interp;	/* exec: interpreter name when it differs (#! scripts) */
	const char *path;	/* scan: executable path (d_path or readlink) */
	bool path_deleted;	/* the path carried a " (deleted)" suffix */
	pid_t creator_tgid;	/* fork: the process that forked */
	uint64_t creator_start_ns;
	int exit_code;		/* exit */
	uint32_t dst_hierarchy; /* cgroup: where the process moved */
	uint64_t dst_cgroup_id;
};

/* Decode one record from the BPF programs (bpf/proc.h). Every length is
 * checked against len; strings must be NUL-terminated inside the record.
 * -EBADMSG for anything malformed. Strings in *ev point into data. */
int proc_event_decode(const void *data, size_t len, struct kwid_proc_event *ev);

/* Split a stream of iterator records; calls fn for each decoded record.
 * Returns the number of records or -EBADMSG. */
int proc_event_split(const void *data, size_t len,
		     int (*fn)(void *ud, const struct kwid_proc_event *ev), void *ud);

/* Strip a " (deleted)" suffix in place; returns true when it was there. */
bool path_strip_deleted(char *path);

/* ---- the table (userspace/proc_table.c) ---- */

int proc_table_new(struct kwid_proc_table **out);
void proc_table_free(struct kwid_proc_table *t);
DEFINE_CLEANUP_FUNC(struct kwid_proc_table, proc_table_free)

/* Interned, refcounted strings: equal strings share one copy. */
const char *proc_table_intern(struct kwid_proc_table *t, const char *s);
void proc_table_release_str(struct kwid_proc_table *t, const char *s);
size_t proc_table_string_count(struct kwid_proc_table *t);

/* Images are interned by (file key, filename, interp, path hint, mount
 * namespace): execs of the same file by the same name share one image. */
struct kwid_image_spec {
	struct kwid_file_key file;
	const char *filename;  /* interned or NULL */
	const char *interp;    /* interned or NULL */
	const char *path_hint; /* interned path the source gave (iterator), or NULL */
	uint32_t mnt_ns;
};

/* A new reference to an existing image with this spec, or NULL. */
struct kwid_image *proc_image_find(struct kwid_proc_table *t, const struct kwid_image_spec *spec);
/* Create and intern an image. Takes the references on path, script_path,
 * m and sm (interned strings / measurements); returns a new reference. */
struct kwid_image *proc_image_create(struct kwid_proc_table *t, const struct kwid_image_spec *spec,
				     const char *path, const char *script_path,
				     struct kwid_measurement *m, struct kwid_measurement *sm);
struct kwid_image *proc_image_ref(struct kwid_image *img);
void proc_image_unref(struct kwid_proc_table *t, struct kwid_image *img);
size_t proc_table_image_count(struct kwid_proc_table *t);

/* Mutable access for the tracker. `p` is copied; the entry takes the
 * reference on p->image. An existing entry with the same tgid is replaced. */
struct kwid_proc *proc_table_put(struct kwid_proc_table *t, const struct kwid_proc *p, uint64_t updated_ns);
struct kwid_proc *proc_table_get(struct kwid_proc_table *t, pid_t tgid);
/* Swap the image of an entry (takes the reference on img). */
void proc_table_set_image(struct kwid_proc_table *t, struct kwid_proc *p, struct kwid_image *img);
void proc_table_touch(struct kwid_proc *p, uint64_t updated_ns, uint32_t mark);
int proc_table_remove(struct kwid_proc_table *t, pid_t tgid);

/* Resync support: entries carry the generation mark of the last snapshot
 * that saw them and the time of their last update. */
uint32_t proc_table_next_mark(struct kwid_proc_table *t);
uint32_t proc_entry_mark(const struct kwid_proc *p);
uint64_t proc_entry_updated(const struct kwid_proc *p);
bool proc_entry_start_coarse(const struct kwid_proc *p);
void proc_entry_set_start_coarse(struct kwid_proc *p, bool coarse);
/* Collect the tgids of entries whose mark differs from `mark` and whose
 * last update is older than `before_ns` (malloc'd array, count in *n). */
int proc_table_collect_stale(struct kwid_proc_table *t, uint32_t mark, uint64_t before_ns, pid_t **out, size_t *n);

/* Same process? Exact start times must be equal; when either side comes
 * from /proc (clock ticks) they must fall in the same tick. */
bool proc_start_matches(uint64_t a_ns, bool a_coarse, uint64_t b_ns, bool b_coarse);
uint64_t proc_tick_ns(void);

/* ---- /proc reader (userspace/proc_scan.c) ---- */

/* Buffers a /proc read fills; strings in the event point here. */
struct proc_scan_buf {
	char path[4096];
};

struct proc_cgroup_layout; /* hierarchy id -> mount point, v2 mount */

/* Read one process from /proc into a KWID_EVENT_SCAN event (start time
 * coarse, no exec seq). Cgroup ids need `layout` (may be NULL: none).
 * -ESRCH when the pid is gone, -ENOENT for kernel threads and zombies. */
int proc_scan_pid(pid_t pid, const struct proc_cgroup_layout *layout, struct kwid_proc_event *ev,
		  struct proc_scan_buf *buf);
/* Only what tells a process apart cheaply: start time (from stat) and the
 * executable's file key. */
int proc_scan_quick(pid_t pid, uint64_t *start_ns, struct kwid_file_key *file, bool *has_file);

/* Parse the contents of /proc/<pid>/stat: comm (may hold anything,
 * including spaces and parentheses), state, ppid, flags, starttime. */
struct proc_stat_info {
	char comm[KWID_COMM_LEN];
	char state;
	pid_t ppid;
	unsigned long flags;
	uint64_t starttime_ticks;
};
int proc_parse_stat(const char *text, size_t len, struct proc_stat_info *out);
/* Uid:/Gid: lines of /proc/<pid>/status. */
int proc_parse_status_ids(const char *text, struct kwid_creds *out);

int proc_cgroup_layout_load(struct proc_cgroup_layout **out);
void proc_cgroup_layout_free(struct proc_cgroup_layout *l);
/* Hierarchy ids (index) of v1 hierarchies with their controller names, for
 * the BPF programs' subsystem table and for status. */
const char *proc_cgroup_layout_name(const struct proc_cgroup_layout *l, unsigned hier);
const char *proc_cgroup_layout_v2_mount(const struct proc_cgroup_layout *l);
/* First controller name of hierarchy `hier` ("cpu", "blkio"), NULL if named. */
const char *proc_cgroup_layout_controller(const struct proc_cgroup_layout *l, unsigned hier);

bool file_key_equal(const struct kwid_file_key *a, const struct kwid_file_key *b);
struct stat;
void file_key_from_stat(const struct stat *st, struct kwid_file_key *k);

/* ---- BPF ring buffer consumer (userspace/ringbuf.c) ---- */

struct kwid_ringbuf;
/* pos: the record's position in the ring (reservation order). */
typedef int (*ringbuf_record_fn)(void *ud, const void *data, size_t len, uint64_t pos);

int ringbuf_open(int map_fd, struct kwid_ringbuf **out);
void ringbuf_free(struct kwid_ringbuf *rb);
/* Producer position now: every record reserved before this call lies
 * below it. */
uint64_t ringbuf_producer_pos(struct kwid_ringbuf *rb);
uint64_t ringbuf_consumer_pos(struct kwid_ringbuf *rb);
/* Consume committed records in order, at most `budget` (0: no limit), and
 * stop at `until` (0: the current end). A record still being written stops
 * consumption unless `wait_busy`, which spins briefly for it. Returns the
 * number of records consumed or a negative errno (fn's error). */
int ringbuf_consume(struct kwid_ringbuf *rb, ringbuf_record_fn fn, void *ud, size_t budget,
		    uint64_t until, bool wait_busy);
size_t ringbuf_size(struct kwid_ringbuf *rb);

/* ---- BPF backend (userspace/tracker_bpf.c) ---- */

enum tracker_mode {
	TRACKER_MODE_MANUAL,	     /* no source: the caller feeds events (tests) */
	TRACKER_MODE_AUTO,
	TRACKER_MODE_TP_BTF,	     /* BTF-typed tracepoints, direct loads */
	TRACKER_MODE_RAW_TP,	     /* raw tracepoints, probe reads */
	TRACKER_MODE_PROC_CONNECTOR, /* degraded: netlink proc connector + /proc */
	TRACKER_MODE_PROC_POLL,	     /* degraded: /proc polling */
};

const char *tracker_mode_to_string(enum tracker_mode m);
int tracker_mode_from_string(const char *s, enum tracker_mode *out);

struct tracker_bpf;  /* live programs and their ring buffer */
struct tracker_iter; /* the task iterator */

/* Per v1 hierarchy id, the index of a cgroup subsystem bound to it (from
 * the kernel's BTF enum cgroup_subsys_id), KWID_BPF_NO_SUBSYS (0xff) when
 * none (named hierarchies, unused ids). */
int tracker_v1_subsys_map(const struct proc_cgroup_layout *l, uint8_t out[KWID_MAX_CGROUP_V1]);

/* Load and attach the live programs (TP_BTF or RAW_TP). On failure *why
 * says what the kernel refused. */
int tracker_bpf_open(enum tracker_mode mode, size_t ringbuf_bytes, const uint8_t v1_subsys[KWID_MAX_CGROUP_V1],
		     struct tracker_bpf **out, char *why, size_t whylen);
void tracker_bpf_free(struct tracker_bpf *b);
struct kwid_ringbuf *tracker_bpf_ring(struct tracker_bpf *b);
int tracker_bpf_ring_fd(struct tracker_bpf *b);
uint64_t tracker_bpf_drops(struct tracker_bpf *b);
/* run_cnt / run_time_ns of each program (kernel.bpf_stats_enabled=1). */
void tracker_bpf_prog_stats(struct tracker_bpf *b, json_object *out);

/* Load and attach the task iterator: the program that reads the
 * executable's path with bpf_d_path where the verifier accepts it, else
 * the one without (*why then says why, and the call still succeeds). */
int tracker_iter_open(const uint8_t v1_subsys[KWID_MAX_CGROUP_V1], struct tracker_iter **out, char *why,
		      size_t whylen);
/* Whether the records carry the path from bpf_d_path. */
bool tracker_iter_has_path(const struct tracker_iter *it);
void tracker_iter_free(struct tracker_iter *it);
/* Run the iterator once: the raw record stream (malloc'd) in *buf. */
int tracker_iter_read(struct tracker_iter *it, char **buf, size_t *len);

/* ---- the tracker (userspace/tracker.c) ---- */

struct tracker_config {
	enum tracker_mode mode;
	size_t ringbuf_bytes;
	uint64_t poll_interval_ms;
};

typedef void (*tracker_notify_fn)(void *userdata, enum kwid_change kind, const void *arg);

/* Start tracking with the configured mode (auto: the best that works,
 * loudly degraded when BPF is unavailable) and seed the table from a
 * snapshot. A forced mode that fails is an error. */
int tracker_new(struct kwid_loop *loop, struct kwid_measurer *ms, const struct tracker_config *cfg,
		tracker_notify_fn notify, void *userdata, struct kwid_tracker **out);
void tracker_free(struct kwid_tracker *tr);
struct kwid_proc_table *tracker_table(struct kwid_tracker *tr);
enum tracker_mode tracker_mode(struct kwid_tracker *tr);
void tracker_status(struct kwid_tracker *tr, json_object *out);

/* Apply one event (what the sources do; public for tests). */
void tracker_apply(struct kwid_tracker *tr, const struct kwid_proc_event *ev);
/* A repair: T0 = now, snapshot (iterator, else /proc), drop what the
 * snapshot no longer shows, ignore fork/exec/cgroup events older than T0. */
int tracker_resync(struct kwid_tracker *tr, const char *why);
/* The same from caller-supplied snapshot records (tests). */
void tracker_snapshot_begin(struct kwid_tracker *tr, uint64_t t0);
void tracker_snapshot_add(struct kwid_tracker *tr, const struct kwid_proc_event *ev);
void tracker_snapshot_end(struct kwid_tracker *tr);

/* ---- what the kernel offers (userspace/tracker_probe.c) ---- */

struct tracker_probe {
	char kernel[256];
	bool btf;		/* /sys/kernel/btf/vmlinux readable */
	bool ringbuf;		/* BPF_MAP_TYPE_RINGBUF */
	int tp_btf;		/* 0 or -errno: live programs on tp_btf load and attach */
	int raw_tp;		/* same on raw tracepoints */
	int iter;		/* task iterator loads and attaches (0 or -errno) */
	bool iter_path;		/* ... the variant with bpf_d_path */
	int proc_connector;	/* 0 or -errno: netlink proc connector subscription */
	bool proc;		/* /proc mounted and readable */
	int bpf_stats;		/* kernel.bpf_stats_enabled, -1 unknown */
	char why_tp_btf[256], why_raw_tp[256], why_iter[256];
};

/* Try every mechanism (loads and attaches, then tears down). Root only. */
void tracker_probe_run(struct tracker_probe *p, const struct proc_cgroup_layout *layout);
void tracker_probe_print(const struct tracker_probe *p, const struct proc_cgroup_layout *layout,
			 enum tracker_mode configured, enum tracker_mode chosen, FILE *f);
/* The probe as JSON: features, per mode {available, why}, cgroup mounts. */
void tracker_probe_to_json(const struct tracker_probe *p, const struct proc_cgroup_layout *layout, json_object *out);
/* 0 when the probe found `mode` usable, else -errno. */
int tracker_probe_mode_result(const struct tracker_probe *p, enum tracker_mode mode);
/* The mode auto would choose from a probe. */
enum tracker_mode tracker_probe_best(const struct tracker_probe *p);

/* ---- proc connector (userspace/tracker_cn.c) ---- */

struct tracker_cn;
/* Parse one netlink datagram from the proc connector; calls fn for each
 * fork (pid, tgid, parent tgid), exec, exit. Bounded, -EBADMSG on junk. */
enum cn_event_kind { CN_FORK, CN_EXEC, CN_EXIT };
struct cn_event {
	enum cn_event_kind kind;
	pid_t pid, tgid;
	pid_t parent_tgid; /* fork */
	int exit_code;	   /* exit */
};
int cn_parse(const void *buf, size_t len, int (*fn)(void *ud, const struct cn_event *ev), void *ud);
int tracker_cn_open(int *fd_out);
/* Read everything queued; -ENOBUFS when the kernel dropped messages. */
int tracker_cn_drain(int fd, int (*fn)(void *ud, const struct cn_event *ev), void *ud);

#endif
