/* tracker.c - keeps the process table exact: picks the event source at
 * start (tp_btf, raw_tp, or a loud degraded mode on the proc connector or
 * /proc polling), seeds the table from a snapshot, drains events on the
 * loop, repairs the table after lost events, and binds socket peers to the
 * exec behind them (kwid/proc.h). */
#include "kwid/log.h"
#include "tracker_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/syscall.h>

#include "proc.h"

/* Records handled per wake-up before other loop work gets a turn. */
#define RING_BUDGET 4096
/* The BPF programs wake the agent only when a backlog builds up (a
 * wake-up costs a self-IPI per record otherwise); this timer drains the
 * rest. tracker_sync() drains at once, whatever the timer. */
#define RING_POLL_NS (20ull * 1000 * 1000)
/* Repairs after drops at most this often (a sync repairs at once). */
#define RESYNC_MIN_INTERVAL_NS (200ull * 1000 * 1000)

static const char *const mode_names[] = {
	[TRACKER_MODE_MANUAL] = "manual",
	[TRACKER_MODE_AUTO] = "auto",
	[TRACKER_MODE_TP_BTF] = "tp_btf",
	[TRACKER_MODE_RAW_TP] = "raw_tp",
	[TRACKER_MODE_PROC_CONNECTOR] = "proc_connector",
	[TRACKER_MODE_PROC_POLL] = "proc_poll",
};

const char *tracker_mode_to_string(enum tracker_mode m)
{
	return (size_t)m < ARRAY_SIZE(mode_names) ? mode_names[m] : "unknown";
}

int tracker_mode_from_string(const char *s, enum tracker_mode *out)
{
	for (size_t i = TRACKER_MODE_AUTO; i < ARRAY_SIZE(mode_names); i++) {
		if (streq(s, mode_names[i])) {
			*out = (enum tracker_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool mode_is_bpf(enum tracker_mode m)
{
	return m == TRACKER_MODE_TP_BTF || m == TRACKER_MODE_RAW_TP;
}

struct kwid_proc_table *tracker_table(struct kwid_tracker *tr) { return tr->table; }
enum tracker_mode tracker_mode(struct kwid_tracker *tr) { return tr->mode; }

/* ---- snapshots ---- */

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int on_iter_record(void *ud, const struct kwid_proc_event *ev)
{
	struct kwid_tracker *tr = ud;
	struct kwid_proc_event e = *ev;

	e.ts += (uint64_t)tr->mono_to_boot;
	tracker_snapshot_add(tr, &e);
	return 0;
}

static void update_clock_offset(struct kwid_tracker *tr)
{
	tr->mono_to_boot = (int64_t)(now_boot_ns() - now_mono_ns());
}

static int snapshot_from_iter(struct kwid_tracker *tr)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = tracker_iter_read(tr->iter, &buf, &len);

	if (r < 0)
		return r;
	r = proc_event_split(buf, len, on_iter_record, tr);
	return r < 0 ? r : 0;
}

/* Walk /proc. With only_unseen, skip every process this snapshot already
 * reported: the walk then fills what the task iterator did not show (seen
 * here: pid 1 of a sandbox whose init lives outside the iterator's view). */
static int snapshot_from_proc(struct kwid_tracker *tr, bool only_unseen)
{
	_cleanup_(closedirp) DIR *d = opendir("/proc");
	struct proc_scan_buf *buf;
	struct dirent *de;

	if (!d)
		return -errno;
	buf = malloc(sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	while ((de = readdir(d))) {
		struct kwid_proc_event ev;
		struct kwid_file_key file;
		uint64_t start;
		bool has_file;
		pid_t pid;

		if (parse_pid(de->d_name, &pid) < 0)
			continue;
		if (only_unseen) {
			const struct kwid_proc *p = proc_table_lookup(tr->table, pid);
			if (p && proc_entry_mark(p) == tr->snapshot_mark)
				continue;
		}
		if (proc_scan_quick(pid, &start, &file, &has_file) < 0)
			continue;
		if (tracker_snapshot_quick(tr, pid, start, &file, has_file))
			continue;
		if (proc_scan_pid(pid, tr->layout, &ev, buf) < 0)
			continue;
		if (only_unseen) {
			tr->stats.iter_gaps++;
			log_debug("pid %d was not reported by the task iterator: added from /proc", (int)pid);
		}
		tracker_snapshot_add(tr, &ev);
	}
	free(buf);
	return 0;
}

int tracker_resync(struct kwid_tracker *tr, const char *why)
{
	uint64_t start = now_mono_ns();
	size_t before = proc_table_count(tr->table);
	/* Ring records reserved before this point describe changes the
	 * snapshot will show: they are superseded (exits excepted). */
	uint64_t p0 = tr->bpf ? ringbuf_producer_pos(tracker_bpf_ring(tr->bpf)) : 0;
	int r;

	update_clock_offset(tr);
	tracker_snapshot_begin(tr, now_boot_ns());
	r = tr->iter ? snapshot_from_iter(tr) : -ENOENT;
	if (r == 0) {
		r = snapshot_from_proc(tr, true);
	} else {
		if (tr->iter)
			log_warn_errno(r, "task iterator failed, repairing from /proc instead");
		r = snapshot_from_proc(tr, false);
	}
	if (r < 0) {
		/* Without a snapshot nothing may be removed: keep what we have. */
		return log_error_errno(r, "cannot take a process snapshot (%s)", why);
	}
	tracker_snapshot_end(tr);
	tr->ring_floor = p0;
	tr->resync_wanted = false;
	tr->last_resync_mono = now_mono_ns();
	tr->stats.resyncs++;
	tr->stats.resync_us_last = (tr->last_resync_mono - start) / 1000;
	log_debug("process table repaired (%s): %zu -> %zu processes in %" PRIu64 " us", why, before,
		  proc_table_count(tr->table), tr->stats.resync_us_last);
	if (tr->notify)
		tr->notify(tr->notify_ud, KWID_CHANGE_RESYNC, NULL);
	return 0;
}

/* ---- BPF source ---- */

static int on_ring_record(void *ud, const void *data, size_t len, uint64_t pos)
{
	struct kwid_tracker *tr = ud;
	struct kwid_proc_event ev;

	if (proc_event_decode(data, len, &ev) < 0) {
		tr->stats.malformed++;
		return 0;
	}
	if (pos < tr->ring_floor && ev.type != KWID_EVENT_EXIT) {
		tr->stats.stale_ignored++;
		return 0;
	}
	ev.ts += (uint64_t)tr->mono_to_boot;
	tracker_apply(tr, &ev);
	return 0;
}

static void drain_ring(struct kwid_tracker *tr, size_t budget)
{
	update_clock_offset(tr);
	ringbuf_consume(tracker_bpf_ring(tr->bpf), on_ring_record, tr, budget, 0, false);
}

/* Did the kernel lose records since we last looked? */
static bool check_drops(struct kwid_tracker *tr)
{
	uint64_t d = tracker_bpf_drops(tr->bpf);

	if (d == tr->drops_seen)
		return false;
	log_warn("ring buffer full: %" PRIu64 " events lost, repairing the process table from a snapshot",
		 d - tr->drops_seen);
	tr->drops_seen = d;
	tr->resync_wanted = true;
	return true;
}

static void on_resync_timer(struct kwid_timer *t, void *userdata)
{
	struct kwid_tracker *tr = userdata;

	if (tr->resync_wanted)
		tracker_resync(tr, "events lost");
}

static void maybe_resync(struct kwid_tracker *tr)
{
	uint64_t since = now_mono_ns() - tr->last_resync_mono;

	if (!tr->resync_wanted)
		return;
	if (since >= RESYNC_MIN_INTERVAL_NS)
		tracker_resync(tr, "events lost");
	else if (!loop_timer_armed(tr->resync_timer))
		loop_timer_arm(tr->resync_timer, RESYNC_MIN_INTERVAL_NS - since);
}

static void on_ring(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_tracker *tr = userdata;

	drain_ring(tr, RING_BUDGET);
	check_drops(tr);
	maybe_resync(tr);
}

static int start_bpf(struct kwid_tracker *tr, enum tracker_mode mode)
{
	char *why = mode == TRACKER_MODE_TP_BTF ? tr->why_tp_btf : tr->why_raw_tp;
	int *result = mode == TRACKER_MODE_TP_BTF ? &tr->tp_btf_result : &tr->raw_tp_result;
	int r;

	r = tracker_bpf_open(mode, tr->cfg.ringbuf_bytes, tr->v1_subsys, &tr->bpf, why, sizeof(tr->why_tp_btf));
	*result = r;
	if (r < 0)
		return r;
	r = loop_io_add(tr->loop, tracker_bpf_ring_fd(tr->bpf), EPOLLIN, on_ring, tr, &tr->ring_io);
	if (r < 0) {
		tracker_bpf_free(tr->bpf);
		tr->bpf = NULL;
		return r;
	}
	tr->drops_seen = tracker_bpf_drops(tr->bpf);
	/* The iterator gives exact start times and exec seqs; without it,
	 * snapshots come from /proc (coarse start times, invented seqs). */
	tr->iter_result = tracker_iter_open(tr->v1_subsys, &tr->iter, tr->why_iter, sizeof(tr->why_iter));
	if (tr->iter_result < 0)
		log_warn("task iterator unavailable (%s): snapshots will come from /proc", tr->why_iter);
	else if (!tracker_iter_has_path(tr->iter))
		log_info("task iterator without bpf_d_path (%s): executable paths from /proc/<pid>/exe", tr->why_iter);
	return 0;
}

/* ---- proc connector source (degraded) ---- */

static int on_cn_event(void *ud, const struct cn_event *cn)
{
	struct kwid_tracker *tr = ud;
	struct proc_scan_buf buf;
	struct kwid_proc_event ev;

	switch (cn->kind) {
	case CN_FORK:
		if (cn->pid != cn->tgid)
			return 0; /* a thread */
		if (proc_scan_pid(cn->tgid, tr->layout, &ev, &buf) < 0)
			return 0; /* gone already: its exit follows */
		ev.type = KWID_EVENT_FORK;
		ev.creator_tgid = cn->parent_tgid;
		ev.path = NULL;
		break;
	case CN_EXEC:
		if (proc_scan_pid(cn->tgid, tr->layout, &ev, &buf) < 0)
			return 0;
		ev.type = KWID_EVENT_EXEC;
		break;
	case CN_EXIT: {
		struct kwid_proc *p = proc_table_get(tr->table, cn->tgid);
		struct kwid_file_key file;
		uint64_t start;
		bool has_file;
		/* Exits come per thread: the process is dead when /proc no
		 * longer shows it alive. */
		if (p && proc_scan_quick(cn->tgid, &start, &file, &has_file) < 0)
			tracker_remove(tr, p);
		return 0;
	}
	}
	tracker_apply(tr, &ev);
	return 0;
}

static void cn_drain(struct kwid_tracker *tr)
{
	int r = tracker_cn_drain(tr->cn_fd, on_cn_event, tr);

	if (r == -ENOBUFS) {
		tr->stats.cn_overflows++;
		tr->resync_wanted = true;
		log_warn("proc connector overflowed: repairing the process table from /proc");
	}
}

static void on_cn(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_tracker *tr = userdata;

	cn_drain(tr);
	maybe_resync(tr);
}

static int start_cn(struct kwid_tracker *tr)
{
	int r = tracker_cn_open(&tr->cn_fd);

	tr->cn_result = r;
	if (r < 0)
		return r;
	r = loop_io_add(tr->loop, tr->cn_fd, EPOLLIN, on_cn, tr, &tr->cn_io);
	if (r < 0) {
		close(tr->cn_fd);
		tr->cn_fd = -1;
	}
	return r;
}

/* ---- /proc polling source (degraded) ---- */

static void on_poll(struct kwid_timer *t, void *userdata)
{
	struct kwid_tracker *tr = userdata;

	if (tr->mode == TRACKER_MODE_PROC_POLL) {
		tracker_resync(tr, "poll");
		loop_timer_arm(t, tr->cfg.poll_interval_ms * 1000000ull);
		return;
	}
	/* BPF: whatever stayed below the wake-up threshold */
	drain_ring(tr, 0);
	check_drops(tr);
	maybe_resync(tr);
	loop_timer_arm(t, RING_POLL_NS);
}

/* ---- choosing a mode ---- */

static void warn_degraded(struct kwid_tracker *tr)
{
	log_warn("*** DEGRADED: process tracking runs without BPF, in mode %s ***", tracker_mode_to_string(tr->mode));
	log_warn("*** exec sequence numbers are invented in user space, start times are in clock ticks,"
		 " and a process that lives less than %s may be missed ***",
		 tr->mode == TRACKER_MODE_PROC_POLL ? "the poll interval" : "a /proc read");
	if (tr->tp_btf_result < 0)
		log_warn("tp_btf unavailable: %s", tr->why_tp_btf);
	if (tr->raw_tp_result < 0)
		log_warn("raw_tp unavailable: %s", tr->why_raw_tp);
}

static int start_mode(struct kwid_tracker *tr, enum tracker_mode mode)
{
	switch (mode) {
	case TRACKER_MODE_TP_BTF:
	case TRACKER_MODE_RAW_TP:
		return start_bpf(tr, mode);
	case TRACKER_MODE_PROC_CONNECTOR:
		return start_cn(tr);
	case TRACKER_MODE_PROC_POLL:
	case TRACKER_MODE_MANUAL:
		return 0;
	case TRACKER_MODE_AUTO:
		break;
	}
	return -EINVAL;
}

static int choose_mode(struct kwid_tracker *tr)
{
	static const enum tracker_mode order[] = {TRACKER_MODE_TP_BTF, TRACKER_MODE_RAW_TP,
						  TRACKER_MODE_PROC_CONNECTOR, TRACKER_MODE_PROC_POLL};
	int r;

	if (tr->cfg.mode != TRACKER_MODE_AUTO) {
		r = start_mode(tr, tr->cfg.mode);
		if (r < 0) {
			const char *why = tr->cfg.mode == TRACKER_MODE_TP_BTF ? tr->why_tp_btf
					  : tr->cfg.mode == TRACKER_MODE_RAW_TP ? tr->why_raw_tp : strerror(-r);
			return log_error_errno(r, "tracking.mode is %s, which this kernel refuses: %s",
					       tracker_mode_to_string(tr->cfg.mode), why);
		}
		tr->mode = tr->cfg.mode;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		r = start_mode(tr, order[i]);
		if (r == 0) {
			tr->mode = order[i];
			return 0;
		}
		log_warn_errno(r, "process tracking with %s is not available", tracker_mode_to_string(order[i]));
	}
	return r;
}

int tracker_new(struct kwid_loop *loop, struct kwid_measurer *ms, const struct tracker_config *cfg,
		tracker_notify_fn notify, void *userdata, struct kwid_tracker **out)
{
	struct kwid_tracker *tr = calloc(1, sizeof(*tr));
	int r;

	if (!tr)
		return -ENOMEM;
	tr->loop = loop;
	tr->ms = ms;
	tr->cfg = *cfg;
	tr->notify = notify;
	tr->notify_ud = userdata;
	tr->cn_fd = -1;
	r = proc_table_new(&tr->table);
	if (r < 0)
		goto fail;
	measurer_set_finder(ms, tracker_find_pid_with_file, tr);
	r = proc_cgroup_layout_load(&tr->layout);
	if (r < 0)
		goto fail;
	if (tracker_v1_subsys_map(tr->layout, tr->v1_subsys) < 0)
		memset(tr->v1_subsys, KWID_BPF_NO_SUBSYS, sizeof(tr->v1_subsys));
	if ((r = loop_timer_new(loop, on_resync_timer, tr, &tr->resync_timer)) < 0 ||
	    (r = loop_timer_new(loop, on_poll, tr, &tr->poll_timer)) < 0)
		goto fail;
	r = choose_mode(tr);
	if (r < 0)
		goto fail;
	if (!mode_is_bpf(tr->mode) && tr->mode != TRACKER_MODE_MANUAL)
		warn_degraded(tr);
	if (tr->mode != TRACKER_MODE_MANUAL) {
		/* Seed the table: the programs are attached, so whatever
		 * happens from now on is either in the snapshot or in the ring. */
		r = tracker_resync(tr, "start");
		if (r < 0)
			goto fail;
	}
	if (tr->mode == TRACKER_MODE_PROC_POLL)
		loop_timer_arm(tr->poll_timer, tr->cfg.poll_interval_ms * 1000000ull);
	else if (mode_is_bpf(tr->mode))
		loop_timer_arm(tr->poll_timer, RING_POLL_NS);
	log_info("process tracking: mode %s%s, %zu processes, ring buffer %zu KiB", tracker_mode_to_string(tr->mode),
		 mode_is_bpf(tr->mode) ? (tr->iter ? " + task iterator" : " + /proc snapshots")
		 : tr->mode == TRACKER_MODE_MANUAL ? "" : " (DEGRADED)",
		 proc_table_count(tr->table), mode_is_bpf(tr->mode) ? tr->cfg.ringbuf_bytes / 1024 : 0);
	/* Parsing vmlinux BTF for CO-RE left megabytes of freed heap: give
	 * them back. */
	malloc_trim(0);
	*out = tr;
	return 0;
fail:
	tracker_free(tr);
	return r;
}

void tracker_free(struct kwid_tracker *tr)
{
	if (!tr)
		return;
	loop_io_free(tr->ring_io);
	loop_io_free(tr->cn_io);
	loop_timer_free(tr->poll_timer);
	loop_timer_free(tr->resync_timer);
	if (tr->cn_fd >= 0)
		close(tr->cn_fd);
	tracker_iter_free(tr->iter);
	tracker_bpf_free(tr->bpf);
	if (tr->ms)
		measurer_set_finder(tr->ms, NULL, NULL);
	proc_table_free(tr->table);
	proc_cgroup_layout_free(tr->layout);
	free(tr);
}

/* ---- sync and peer binding ---- */

int tracker_sync(struct kwid_tracker *tr)
{
	int r = 0;

	switch (tr->mode) {
	case TRACKER_MODE_TP_BTF:
	case TRACKER_MODE_RAW_TP: {
		struct kwid_ringbuf *rb = tracker_bpf_ring(tr->bpf);
		/* Every record reserved before now, including ones another
		 * CPU is still writing. */
		update_clock_offset(tr);
		r = ringbuf_consume(rb, on_ring_record, tr, 0, ringbuf_producer_pos(rb), true);
		check_drops(tr);
		break;
	}
	case TRACKER_MODE_PROC_CONNECTOR:
		cn_drain(tr);
		break;
	case TRACKER_MODE_PROC_POLL:
		tr->resync_wanted = true;
		break;
	default:
		break;
	}
	if (tr->resync_wanted)
		r = tracker_resync(tr, "sync");
	return r < 0 ? r : 0;
}

static int pidfd_alive(int pidfd)
{
	/* EPERM means the process exists but may not be signalled by us: the
	 * agent keeps no CAP_KILL after privs_apply(), so every process of
	 * another uid answers so. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno != EPERM)
		return -errno;
	return 0;
}

/* The pid a pidfd refers to, from /proc/self/fdinfo ("Pid:", -1 once the
 * process is gone). */
static int pidfd_pid(int pidfd, pid_t *out)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	const char *p;
	long v;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read_full(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	p = strstr(buf, "\nPid:");
	if (!p)
		return -EBADF; /* not a pidfd */
	v = strtol(p + 5, NULL, 10);
	if (v <= 0)
		return -ESRCH;
	*out = (pid_t)v;
	return 0;
}

static int check_pidfd(int pidfd, pid_t pid)
{
	pid_t actual;
	int r;

	if (pidfd < 0)
		return 0;
	r = pidfd_alive(pidfd);
	if (r < 0)
		return r == -ESRCH ? -ESRCH : r;
	r = pidfd_pid(pidfd, &actual);
	if (r < 0)
		return r;
	return actual == pid ? 0 : -ESRCH;
}

int tracker_identify_peer(struct kwid_tracker *tr, int pidfd, pid_t pid, struct kwid_exec_id *out)
{
	const struct kwid_proc *p;
	struct kwid_file_key file;
	uint64_t start;
	bool has_file;
	int r;

	r = tracker_sync(tr);
	if (r < 0)
		log_warn_errno(r, "sync before identifying pid %d failed", (int)pid);
	r = check_pidfd(pidfd, pid);
	if (r < 0)
		return r;
	p = proc_table_lookup(tr->table, pid);
	if (!p)
		return -ENOENT;
	/* Defence in depth: /proc must show the same start time (to the
	 * tick), and the pidfd must still be alive after that read, so the
	 * read was of the same process. */
	if (proc_scan_quick(pid, &start, &file, &has_file) < 0 ||
	    !proc_start_matches(p->id.start_ns, proc_entry_start_coarse(p), start, true))
		return -ESRCH;
	r = check_pidfd(pidfd, pid);
	if (r < 0)
		return r;
	*out = p->id;
	return 0;
}

int tracker_confirm_exec(struct kwid_tracker *tr, int pidfd, const struct kwid_exec_id *id)
{
	const struct kwid_proc *p;
	int r;

	r = tracker_sync(tr);
	if (r < 0)
		log_warn_errno(r, "sync before confirming pid %d failed", (int)id->tgid);
	r = check_pidfd(pidfd, id->tgid);
	if (r < 0)
		return r;
	p = proc_table_lookup(tr->table, id->tgid);
	if (!p)
		return pidfd >= 0 ? -ESTALE : -ESRCH;
	if (exec_id_equal(&p->id, id))
		return 0;
	return p->id.start_ns == id->start_ns ? -ESTALE : -ESRCH;
}

/* ---- status ---- */

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static const char *result_string(int r, bool tried)
{
	if (!tried)
		return "not tried";
	return r == 0 ? "yes" : "no";
}

void tracker_status(struct kwid_tracker *tr, json_object *out)
{
	json_object *ev = json_object_new_object(), *feat = json_object_new_object(),
		    *rs = json_object_new_object();
	bool bpf = mode_is_bpf(tr->mode);

	json_object_object_add(out, "mode", json_object_new_string(tracker_mode_to_string(tr->mode)));
	json_object_object_add(out, "configured_mode", json_object_new_string(tracker_mode_to_string(tr->cfg.mode)));
	json_object_object_add(out, "degraded", json_object_new_boolean(!bpf && tr->mode != TRACKER_MODE_MANUAL));
	json_object_object_add(feat, "tp_btf", json_object_new_string(result_string(tr->tp_btf_result,
			       tr->tp_btf_result || tr->mode == TRACKER_MODE_TP_BTF)));
	json_object_object_add(feat, "raw_tp", json_object_new_string(result_string(tr->raw_tp_result,
			       tr->raw_tp_result || tr->mode == TRACKER_MODE_RAW_TP)));
	json_object_object_add(feat, "task_iterator", json_object_new_string(result_string(tr->iter_result, bpf)));
	json_object_object_add(feat, "proc_connector", json_object_new_string(result_string(tr->cn_result,
			       tr->cn_result || tr->mode == TRACKER_MODE_PROC_CONNECTOR)));
	json_object_object_add(feat, "snapshots", json_object_new_string(tr->iter ? "task iterator" : "/proc"));
	/* What a snapshot gives: exact start times (boot clock ns, the
	 * kernel's exec sequence) only from the iterator. */
	json_object_object_add(feat, "snapshot_start_times", json_object_new_string(tr->iter ? "exact" : "coarse"));
	json_object_object_add(feat, "snapshot_paths", json_object_new_string(
			       tr->iter && tracker_iter_has_path(tr->iter) ? "bpf_d_path" : "/proc/<pid>/exe"));
	json_object_object_add(out, "features", feat);

	add_u64(out, "processes", proc_table_count(tr->table));
	add_u64(out, "images", proc_table_image_count(tr->table));
	add_u64(out, "interned_strings", proc_table_string_count(tr->table));
	add_u64(ev, "exec", tr->stats.exec);
	add_u64(ev, "fork", tr->stats.fork);
	add_u64(ev, "exit", tr->stats.exit);
	add_u64(ev, "cgroup", tr->stats.cgroup);
	add_u64(ev, "snapshot_records", tr->stats.scan);
	add_u64(ev, "stale_ignored", tr->stats.stale_ignored);
	add_u64(ev, "malformed", tr->stats.malformed);
	add_u64(ev, "fork_unknown_creator", tr->stats.fork_unknown_creator);
	json_object_object_add(out, "events", ev);
	if (bpf) {
		json_object *progs = json_object_new_object();
		add_u64(out, "ringbuf_kib", tr->cfg.ringbuf_bytes / 1024);
		add_u64(out, "drops", tracker_bpf_drops(tr->bpf));
		tracker_bpf_prog_stats(tr->bpf, progs);
		json_object_object_add(out, "bpf_programs", progs);
	} else if (tr->mode == TRACKER_MODE_PROC_CONNECTOR) {
		add_u64(out, "drops", tr->stats.cn_overflows);
	}
	add_u64(rs, "count", tr->stats.resyncs);
	add_u64(rs, "removed", tr->stats.resync_removed);
	add_u64(rs, "replaced", tr->stats.resync_replaced);
	add_u64(rs, "iterator_gaps_filled", tr->stats.iter_gaps);
	add_u64(rs, "last_us", tr->stats.resync_us_last);
	json_object_object_add(out, "resyncs", rs);
}
