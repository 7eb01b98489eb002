/* tracker_int.h - the tracker's state, shared by its implementation files
 * (tracker.c: sources and life cycle; tracker_apply.c: events into the
 * table; tracker_image.c: what a process runs). Nobody else includes it. */
#ifndef KWID_TRACKER_INT_H
#define KWID_TRACKER_INT_H

#include <inttypes.h>

#include "kwid/agent.h"
#include "kwid/loop.h"
#include "kwid/tracker.h"

struct kwid_tracker {
	struct kwid_loop *loop;
	struct kwid_proc_table *table;
	struct kwid_measurer *ms;
	struct proc_cgroup_layout *layout;
	uint8_t v1_subsys[KWID_MAX_CGROUP_V1];
	struct tracker_config cfg;
	enum tracker_mode mode;
	tracker_notify_fn notify;
	void *notify_ud;

	/* what start-up found (status, --probe) */
	int tp_btf_result, raw_tp_result, iter_result, cn_result;
	char why_tp_btf[256], why_raw_tp[256], why_iter[256];

	/* sources */
	struct tracker_bpf *bpf;
	struct tracker_iter *iter;
	struct kwid_io *ring_io;
	int cn_fd;
	struct kwid_io *cn_io;
	struct kwid_timer *poll_timer;	 /* proc_poll: rescans; BPF: drains the ring */
	struct kwid_timer *resync_timer;

	/* repair state */
	uint64_t drops_seen;
	bool resync_wanted;
	uint64_t resync_floor; /* fork/exec/cgroup events older than this are superseded */
	uint64_t ring_floor;   /* ... and ring records reserved before this position */
	int64_t mono_to_boot;  /* CLOCK_BOOTTIME - CLOCK_MONOTONIC, for BPF timestamps */
	uint32_t snapshot_mark;
	uint64_t snapshot_t0;
	uint64_t last_resync_mono;
	uint64_t synth_seq;

	struct {
		uint64_t exec, fork, exit, cgroup, scan;
		uint64_t stale_ignored, malformed, fork_unknown_creator;
		uint64_t resyncs, resync_removed, resync_replaced, resync_us_last;
		uint64_t iter_gaps; /* processes the task iterator did not report, added from /proc */
		uint64_t cn_overflows;
	} stats;
};

/* tracker_apply.c */
void tracker_remove(struct kwid_tracker *tr, struct kwid_proc *p);
uint64_t tracker_synthetic_seq(struct kwid_tracker *tr);
bool tracker_snapshot_quick(struct kwid_tracker *tr, pid_t pid, uint64_t start_ns, const struct kwid_file_key *file,
			    bool has_file);

/* tracker_image.c: a new reference to the image the event describes
 * (found interned, or built: path resolved and verified, measurement
 * started). Never NULL unless out of memory. */
struct kwid_image *tracker_image_for_event(struct kwid_tracker *tr, const struct kwid_proc_event *ev);
/* For a process whose creator is unknown: read it from /proc. */
struct kwid_image *tracker_image_from_proc(struct kwid_tracker *tr, pid_t tgid, uint32_t mnt_ns);
/* Another live process running file version `key` (measurer fallback). */
pid_t tracker_find_pid_with_file(void *userdata, const struct kwid_file_key *key, pid_t exclude);

#endif
