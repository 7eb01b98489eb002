/* test_tracker_live.c - the tracker on the real kernel (root, BPF): peer
 * binding with pidfds (tracker_identify_peer / tracker_confirm_exec)
 * across exec and exit, processes that predate the tracker, and a repair
 * after a deliberately overflowed ring buffer that must leave no stale
 * entry behind. Skipped when not root or when BPF cannot be loaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kwid/loop.h"
#include "kwid/tracker.h"

struct fixture {
	struct kwid_loop *loop;
	struct kwid_measurer *ms;
	struct kwid_tracker *tr;
};

static int setup_ring(void **state, size_t ring)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kwid_measurer_config mc = {.workers = 1, .cache_entries = 64, .max_bytes = 1 << 30};
	struct tracker_config tc = {.mode = TRACKER_MODE_TP_BTF, .ringbuf_bytes = ring, .poll_interval_ms = 500};

	*state = f;
	if (geteuid() != 0)
		return 0;
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(measurer_new(f->loop, &mc, &f->ms), 0);
	if (tracker_new(f->loop, f->ms, &tc, NULL, NULL, &f->tr) < 0)
		f->tr = NULL;
	return 0;
}

static int setup(void **state) { return setup_ring(state, 1 << 20); }
static int setup_tiny_ring(void **state) { return setup_ring(state, 64 * 1024); }

static int teardown(void **state)
{
	struct fixture *f = *state;

	tracker_free(f->tr);
	measurer_free(f->ms);
	loop_free(f->loop);
	free(f);
	return 0;
}

#define NEED_TRACKER(f)                                                             \
	do {                                                                        \
		if (!(f)->tr) {                                                     \
			fprintf(stderr, "skipped: needs root and loadable BPF\n"); \
			skip();                                                     \
		}                                                                   \
	} while (0)

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

static void test_self_predates_tracker(void **state)
{
	struct fixture *f = *state;
	const struct kwid_proc *p;

	NEED_TRACKER(f);
	p = proc_table_lookup(tracker_table(f->tr), getpid());
	assert_non_null(p);
	assert_int_equal(p->origin, KWID_ORIGIN_SCAN);
	assert_false(proc_entry_start_coarse(p)); /* the iterator's exact start time */
	assert_non_null(p->image->path);
}

static void test_identify_and_confirm(void **state)
{
	struct fixture *f = *state;
	struct kwid_exec_id id, id2;
	int p[2], pidfd, other_fd;
	pid_t child;

	NEED_TRACKER(f);
	child = spawn_waiting_child(p);
	pidfd = pidfd_open(child);
	assert_true(pidfd >= 0);
	assert_int_equal(tracker_identify_peer(f->tr, pidfd, child, &id), 0);
	assert_int_equal(id.tgid, child);
	assert_int_equal(proc_table_lookup(tracker_table(f->tr), child)->origin, KWID_ORIGIN_FORK);
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
	assert_int_equal(id2.exec_seq, id.exec_seq + 1);
	assert_int_equal(proc_table_lookup(tracker_table(f->tr), child)->origin, KWID_ORIGIN_EXEC);

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_self_predates_tracker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identify_and_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repair_after_drops, setup_tiny_ring, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
