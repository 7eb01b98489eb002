/* test_tracker_live.c - the tracker on the real kernel (root), once per
 * tracking mode: peer binding with pidfds (tracker_identify_peer /
 * tracker_confirm_exec) across exec and exit, processes that predate the
 * tracker with the start times that mode promises, and (BPF modes) a
 * repair after a deliberately overflowed ring buffer that must leave no
 * stale entry behind. A mode the probe finds unavailable is skipped with
 * the probe's reason; a mode the probe offers must work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/syscall.h>
#include <limits.h>
#include <sys/wait.h>

#include "kwid/loop.h"
#include "kwid/tracker.h"

struct fixture {
	struct kwid_loop *loop;
	struct kwid_measurer *ms;
	struct kwid_tracker *tr;
	enum tracker_mode mode;
	char skip_why[300]; /* set when the mode is not offered here */
};

/* What the kernel offers, probed once for all tests. */
static struct tracker_probe probe;
static bool probed;

static int probe_once(void)
{
	struct proc_cgroup_layout *layout = NULL;

	if (probed)
		return 0;
	assert_int_equal(proc_cgroup_layout_load(&layout), 0);
	tracker_probe_run(&probe, layout);
	proc_cgroup_layout_free(layout);
	probed = true;
	return 0;
}

static int setup_mode(void **state, enum tracker_mode mode, size_t ring)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kwid_measurer_config mc = {.workers = 1, .cache_entries = 64, .max_bytes = 1 << 30};
	struct tracker_config tc = {.mode = mode, .ringbuf_bytes = ring, .poll_interval_ms = 500};
	int r;

	*state = f;
	f->mode = mode;
	if (geteuid() != 0) {
		snprintf(f->skip_why, sizeof(f->skip_why), "needs root");
		return 0;
	}
	probe_once();
	r = tracker_probe_mode_result(&probe, mode);
	if (r < 0) {
		snprintf(f->skip_why, sizeof(f->skip_why), "mode %s not offered by this kernel: %s",
			 tracker_mode_to_string(mode), strerror(-r));
		return 0;
	}
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(measurer_new(f->loop, &mc, &f->ms), 0);
	/* The probe said yes: a failure now is a bug, not a skip. */
	assert_int_equal(tracker_new(f->loop, f->ms, &tc, NULL, NULL, &f->tr), 0);
	assert_int_equal(tracker_mode(f->tr), mode);
	return 0;
}

#define MODE_SETUP(name, mode, ring) \
	static int setup_##name(void **state) { return setup_mode(state, mode, ring); }
MODE_SETUP(tp_btf, TRACKER_MODE_TP_BTF, 1 << 20)
MODE_SETUP(raw_tp, TRACKER_MODE_RAW_TP, 1 << 20)
MODE_SETUP(proc_connector, TRACKER_MODE_PROC_CONNECTOR, 0)
MODE_SETUP(proc_poll, TRACKER_MODE_PROC_POLL, 0)
MODE_SETUP(tp_btf_tiny, TRACKER_MODE_TP_BTF, 64 * 1024)
MODE_SETUP(raw_tp_tiny, TRACKER_MODE_RAW_TP, 64 * 1024)

static int teardown(void **state)
{
	struct fixture *f = *state;

	tracker_free(f->tr);
	measurer_free(f->ms);
	loop_free(f->loop);
	free(f);
	return 0;
}

#define NEED_TRACKER(f)                                                                   \
	do {                                                                              \
		if (!(f)->tr) {                                                           \
			fprintf(stderr, "skipped (%s): %s\n", tracker_mode_to_string((f)->mode), \
				(f)->skip_why);                                           \
			skip();                                                           \
		}                                                                         \
	} while (0)

static bool mode_is_bpf(enum tracker_mode m)
{
	return m == TRACKER_MODE_TP_BTF || m == TRACKER_MODE_RAW_TP;
}

/* The tracker's status as JSON (caller puts it). */
static json_object *status_of(struct kwid_tracker *tr)
{
	json_object *st = json_object_new_object();

	tracker_status(tr, st);
	return st;
}

static const char *feature(json_object *st, const char *name)
{
	return json_object_get_string(json_object_object_get(json_object_object_get(st, "features"), name));
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* A child that waits for a byte on `pipe`, then execs /bin/sleep. */
static pid_t spawn_waiting_child(int p[2])
{
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(0);
	}
	close(p[0]);
	return pid;
}

static void wait_exe(pid_t pid, const char *want)
{
	char exe[64], target[256];

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 500; i++) {
		ssize_t n = readlink(exe, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (endswith(target, want))
				return;
		}
		usleep(10000);
	}
	fail_msg("pid %d never ran %s", (int)pid, want);
}

/* This test process predates the tracker: it is in the table from the
 * start-up snapshot, with the start time the mode promises. With the task
 * iterator (BPF modes where it loads) that is the kernel's boot-clock
 * start_boottime, exactly; from /proc it is clock ticks, and the entry
 * says so (start_coarse). Either way it must agree with /proc to the
 * tick, and the path must be the verified one. */
static void test_self_predates_tracker(void **state)
{
	struct fixture *f = *state;
	const struct kwid_proc *p;
	struct kwid_file_key file;
	uint64_t ticks_ns;
	bool has_file, exact;
	json_object *st;
	char self[PATH_MAX];
	ssize_t n;

	NEED_TRACKER(f);
	st = status_of(f->tr);
	exact = streq(feature(st, "snapshot_start_times"), "exact");
	/* the iterator is part of every BPF mode the probe offers */
	assert_int_equal(exact, mode_is_bpf(f->mode) && probe.iter == 0);
	assert_string_equal(feature(st, "task_iterator"), !mode_is_bpf(f->mode) ? "not tried"
							  : probe.iter == 0		   ? "yes"
											   : "no");
	json_object_put(st);

	p = proc_table_lookup(tracker_table(f->tr), getpid());
	assert_non_null(p);
	assert_int_equal(p->origin, KWID_ORIGIN_SCAN);
	assert_int_equal(proc_entry_start_coarse(p), !exact);
	assert_int_equal(proc_scan_quick(getpid(), &ticks_ns, &file, &has_file), 0);
	if (exact)
		assert_int_equal(p->id.start_ns / proc_tick_ns(), ticks_ns / proc_tick_ns());
	else
		assert_int_equal(p->id.start_ns, ticks_ns);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	assert_non_null(p->image->path);
	assert_string_equal(p->image->path, self);
}

/* Binding a peer, an exec in place, an exit. Event modes see the fork and
 * the exec as such; /proc polling finds processes (origin scan). The
 * kernel's exec sequence goes up by one per exec; without BPF a synthetic
 * sequence (bit 63 set, never equal to a kernel value) must still change. */
static void test_identify_and_confirm(void **state)
{
	struct fixture *f = *state;
	struct kwid_exec_id id, id2;
	int p[2], pidfd, other_fd;
	bool poll;
	pid_t child;

	NEED_TRACKER(f);
	poll = f->mode == TRACKER_MODE_PROC_POLL;
	child = spawn_waiting_child(p);
	pidfd = pidfd_open(child);
	assert_true(pidfd >= 0);
	assert_int_equal(tracker_identify_peer(f->tr, pidfd, child, &id), 0);
	assert_int_equal(id.tgid, child);
	assert_int_equal(proc_table_lookup(tracker_table(f->tr), child)->origin,
			 poll ? KWID_ORIGIN_SCAN : KWID_ORIGIN_FORK);
	assert_int_equal(tracker_confirm_exec(f->tr, pidfd, &id), 0);
	/* a pidfd of another process does not vouch for this pid */
	other_fd = pidfd_open(getpid());
	assert_int_equal(tracker_identify_peer(f->tr, other_fd, child, &id2), -ESRCH);
	close(other_fd);

	/* exec: same pid, new exec id; the old one is stale */
	assert_int_equal(write(p[1], "x", 1), 1);
	wait_exe(child, "/sleep");
	assert_int_equal(tracker_confirm_exec(f->tr, pidfd, &id), -ESTALE);
	assert_int_equal(tracker_identify_peer(f->tr, pidfd, child, &id2), 0);
	assert_int_equal(id2.start_ns, id.start_ns);
	if (mode_is_bpf(f->mode)) {
		assert_int_equal(id2.exec_seq, id.exec_seq + 1);
	} else {
		assert_true(id2.exec_seq & (1ull << 63));
		assert_true(id2.exec_seq != id.exec_seq);
	}
	assert_int_equal(proc_table_lookup(tracker_table(f->tr), child)->origin,
			 poll ? KWID_ORIGIN_SCAN : KWID_ORIGIN_EXEC);

	/* exit: gone for both calls, and out of the table */
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(tracker_confirm_exec(f->tr, pidfd, &id2), -ESRCH);
	assert_int_equal(tracker_identify_peer(f->tr, pidfd, child, &id2), -ESRCH);
	assert_int_equal(tracker_sync(f->tr), 0);
	assert_null(proc_table_lookup(tracker_table(f->tr), child));
	close(pidfd);
	close(p[1]);
}

static int dead;
static void count_dead(const struct kwid_proc *p, void *ud)
{
	if (kill(p->id.tgid, 0) < 0 && errno == ESRCH) {
		fprintf(stderr, "dead process %d (%s) in the table\n", (int)p->id.tgid, p->comm);
		dead++;
	}
}

/* Overflow a 64 KiB ring on purpose while the loop does not drain it:
 * exits of processes that had entries are lost with it. The repair at the
 * next sync must drop every one of them. */
static void test_repair_after_drops(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_table *t;
	pid_t sleepers[10];
	json_object *st;
	int64_t drops;

	NEED_TRACKER(f);
	t = tracker_table(f->tr);
	for (int i = 0; i < 10; i++) {
		sleepers[i] = fork();
		if (sleepers[i] == 0) {
			pause();
			_exit(0);
		}
	}
	assert_int_equal(tracker_sync(f->tr), 0);
	for (int i = 0; i < 10; i++)
		assert_non_null(proc_table_lookup(t, sleepers[i]));
	/* ~3000 records of 40-300 bytes into 64 KiB, nobody reading */
	for (int i = 0; i < 1500; i++) {
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		waitpid(c, NULL, 0);
	}
	for (int i = 0; i < 10; i++) {
		kill(sleepers[i], SIGKILL);
		waitpid(sleepers[i], NULL, 0);
	}
	assert_int_equal(tracker_sync(f->tr), 0);
	st = json_object_new_object();
	tracker_status(f->tr, st);
	drops = json_object_get_int64(json_object_object_get(st, "drops"));
	assert_true(drops > 0);
	assert_true(json_object_get_int64(json_object_object_get(json_object_object_get(st, "resyncs"), "count")) >= 2);
	json_object_put(st);
	for (int i = 0; i < 10; i++)
		assert_null(proc_table_lookup(t, sleepers[i]));
	assert_non_null(proc_table_lookup(t, getpid()));
	/* and nothing in the table is dead */
	dead = 0;
	proc_table_foreach(t, count_dead, NULL);
	assert_int_equal(dead, 0);
}

#define IN_MODE(test, mode) {#mode ": " #test, test, setup_##mode, teardown, NULL}

int main(void)
{
	const struct CMUnitTest tests[] = {
		IN_MODE(test_self_predates_tracker, tp_btf),
		IN_MODE(test_self_predates_tracker, raw_tp),
		IN_MODE(test_self_predates_tracker, proc_connector),
		IN_MODE(test_self_predates_tracker, proc_poll),
		IN_MODE(test_identify_and_confirm, tp_btf),
		IN_MODE(test_identify_and_confirm, raw_tp),
		IN_MODE(test_identify_and_confirm, proc_connector),
		IN_MODE(test_identify_and_confirm, proc_poll),
		/* only BPF modes have a ring buffer to overflow */
		IN_MODE(test_repair_after_drops, tp_btf_tiny),
		IN_MODE(test_repair_after_drops, raw_tp_tiny),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
