/* test_proc_table.c - the process table and the rules that keep it exact:
 * fork shares the parent's image, exec replaces it, exit removes, a reused
 * pid never inherits the old entry, stale events are ignored, and a repair
 * removes what its snapshot did not see. Events are synthetic (manual
 * mode); measurements are real (the measurer runs on real files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "kwid/loop.h"
#include "kwid/tracker.h"

#define BASE_PID 3000000 /* above pid_max's default: no real process */

struct fixture {
	struct kwid_loop *loop;
	struct kwid_measurer *ms;
	struct kwid_tracker *tr;
	struct kwid_proc_table *t;
	enum kwid_change kinds[64];
	struct kwid_exec_id ids[64];
	size_t n;
};

static void on_change(void *ud, enum kwid_change kind, const void *arg)
{
	struct fixture *f = ud;

	if (f->n < 64) {
		f->kinds[f->n] = kind;
		if (arg)
			f->ids[f->n] = *(const struct kwid_exec_id *)arg;
		f->n++;
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kwid_measurer_config mc = {.workers = 1, .cache_entries = 64, .max_bytes = 1 << 30};
	struct tracker_config tc = {.mode = TRACKER_MODE_MANUAL};

	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(measurer_new(f->loop, &mc, &f->ms), 0);
	assert_int_equal(tracker_new(f->loop, f->ms, &tc, on_change, f, &f->tr), 0);
	f->t = tracker_table(f->tr);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	measurer_drain(f->ms, 5000);
	tracker_free(f->tr);
	measurer_free(f->ms);
	loop_free(f->loop);
	free(f);
	return 0;
}

static struct kwid_proc_event ev_exec(pid_t tgid, uint64_t start, uint64_t seq, uint64_t ino, uint64_t ts)
{
	struct kwid_proc_event ev = {
		.type = KWID_EVENT_EXEC, .ts = ts, .tgid = tgid, .ppid = 1, .start_ns = start,
		.exec_seq = seq, .has_exec_seq = true, .has_file = true,
		.file = {.dev = 1, .ino = ino, .size = 10, .mtime_ns = 1, .ctime_ns = 1},
		.filename = "/bin/fake",
	};
	strcpy(ev.comm, "fake");
	return ev;
}

static struct kwid_proc_event ev_fork(pid_t tgid, uint64_t start, pid_t creator, uint64_t creator_start,
				      uint64_t seq, uint64_t ts)
{
	struct kwid_proc_event ev = {
		.type = KWID_EVENT_FORK, .ts = ts, .tgid = tgid, .ppid = creator, .start_ns = start,
		.exec_seq = seq, .has_exec_seq = true, .creator_tgid = creator, .creator_start_ns = creator_start,
	};
	return ev;
}

static struct kwid_proc_event ev_exit(pid_t tgid, uint64_t start, uint64_t ts)
{
	return (struct kwid_proc_event){.type = KWID_EVENT_EXIT, .ts = ts, .tgid = tgid, .start_ns = start,
					.has_exec_seq = true};
}

static void test_intern(void **state)
{
	struct fixture *f = *state;
	const char *a = proc_table_intern(f->t, "/usr/bin/x"), *b = proc_table_intern(f->t, "/usr/bin/x");
	size_t n = proc_table_string_count(f->t);

	assert_ptr_equal(a, b);
	assert_string_equal(a, "/usr/bin/x");
	proc_table_release_str(f->t, a);
	assert_int_equal(proc_table_string_count(f->t), n);
	proc_table_release_str(f->t, b);
	assert_int_equal(proc_table_string_count(f->t), n - 1);
	assert_null(proc_table_intern(f->t, NULL));
}

static void test_fork_exec_exit(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event e = ev_exec(BASE_PID, 100, 5, 1000, 10);
	const struct kwid_proc *parent, *child;
	struct kwid_exec_id id;

	tracker_apply(f->tr, &e);
	parent = proc_table_lookup(f->t, BASE_PID);
	assert_non_null(parent);
	assert_int_equal(parent->origin, KWID_ORIGIN_EXEC);
	assert_int_equal(parent->id.exec_seq, 5);
	assert_string_equal(parent->image->filename, "/bin/fake");
	assert_non_null(parent->image->measurement);

	e = ev_fork(BASE_PID + 1, 200, BASE_PID, 100, 5, 11);
	tracker_apply(f->tr, &e);
	child = proc_table_lookup(f->t, BASE_PID + 1);
	assert_non_null(child);
	assert_int_equal(child->origin, KWID_ORIGIN_FORK);
	/* one image shared between parent and child */
	assert_ptr_equal(child->image, parent->image);
	assert_int_equal(parent->image->refs, 2);

	/* the child execs another file: new image, parent's untouched */
	e = ev_exec(BASE_PID + 1, 200, 6, 2000, 12);
	tracker_apply(f->tr, &e);
	child = proc_table_lookup(f->t, BASE_PID + 1);
	assert_int_equal(child->id.exec_seq, 6);
	assert_int_equal(child->image->file.ino, 2000);
	assert_int_equal(parent->image->refs, 1);
	id = child->id;
	assert_ptr_equal(proc_table_lookup_exec(f->t, &id), child);
	id.exec_seq = 5;
	assert_null(proc_table_lookup_exec(f->t, &id));

	e = ev_exit(BASE_PID + 1, 200, 13);
	tracker_apply(f->tr, &e);
	assert_null(proc_table_lookup(f->t, BASE_PID + 1));
	assert_int_equal(f->kinds[f->n - 1], KWID_CHANGE_PROC_EXIT);
	assert_int_equal(f->ids[f->n - 1].exec_seq, 6);
	e = ev_exit(BASE_PID, 100, 14);
	tracker_apply(f->tr, &e);
	assert_int_equal(proc_table_count(f->t), 0);
	assert_int_equal(proc_table_image_count(f->t), 0);
}

static void test_execs_share_image(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event a = ev_exec(BASE_PID, 100, 1, 3000, 10), b = ev_exec(BASE_PID + 1, 101, 1, 3000, 11);

	tracker_apply(f->tr, &a);
	tracker_apply(f->tr, &b);
	assert_ptr_equal(proc_table_lookup(f->t, BASE_PID)->image, proc_table_lookup(f->t, BASE_PID + 1)->image);
	assert_int_equal(proc_table_image_count(f->t), 1);
	/* another name for the same file is another image, same measurement */
	b = ev_exec(BASE_PID + 2, 102, 1, 3000, 12);
	b.filename = "fake";
	tracker_apply(f->tr, &b);
	assert_int_equal(proc_table_image_count(f->t), 2);
	assert_ptr_equal(proc_table_lookup(f->t, BASE_PID)->image->measurement,
			 proc_table_lookup(f->t, BASE_PID + 2)->image->measurement);
}

static void test_pid_reuse(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event old = ev_exec(BASE_PID, 100, 5, 1000, 10), fresh = ev_exec(BASE_PID, 900, 2, 2000, 20);
	struct kwid_proc_event stale_exit = ev_exit(BASE_PID, 100, 30);

	tracker_apply(f->tr, &old);
	f->n = 0;
	/* the exit of the old process was lost; a new one gets the pid */
	tracker_apply(f->tr, &fresh);
	assert_int_equal(proc_table_lookup(f->t, BASE_PID)->id.start_ns, 900);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->kinds[0], KWID_CHANGE_PROC_EXIT);
	assert_int_equal(f->ids[0].start_ns, 100);
	assert_int_equal(f->kinds[1], KWID_CHANGE_PROC_EXEC);
	/* a late exit of the old process must not remove the new one */
	tracker_apply(f->tr, &stale_exit);
	assert_non_null(proc_table_lookup(f->t, BASE_PID));
	/* nor a late fork event of the old process (older start time) */
	old = ev_fork(BASE_PID, 100, 1, 0, 5, 31);
	tracker_apply(f->tr, &old);
	assert_int_equal(proc_table_lookup(f->t, BASE_PID)->id.start_ns, 900);
}

static void test_stale_exec_ignored(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event newer = ev_exec(BASE_PID, 100, 7, 1000, 10), older = ev_exec(BASE_PID, 100, 6, 2000, 20);

	tracker_apply(f->tr, &newer);
	tracker_apply(f->tr, &older);
	assert_int_equal(proc_table_lookup(f->t, BASE_PID)->id.exec_seq, 7);
	assert_int_equal(proc_table_lookup(f->t, BASE_PID)->image->file.ino, 1000);
}

static void test_fork_from_unknown_creator(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event e = ev_fork(BASE_PID + 5, 300, BASE_PID + 4, 250, 3, 10);

	tracker_apply(f->tr, &e);
	/* still tracked, with an image that says nothing is known */
	assert_non_null(proc_table_lookup(f->t, BASE_PID + 5));
	assert_null(proc_table_lookup(f->t, BASE_PID + 5)->image->path);
	assert_non_null(proc_table_lookup(f->t, BASE_PID + 5)->image->measurement);
}

static void test_cgroups_inherit_and_move(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event e = ev_exec(BASE_PID, 100, 1, 1000, 10);
	struct kwid_proc_event mv = {.type = KWID_EVENT_CGROUP, .ts = 12, .tgid = BASE_PID + 1, .start_ns = 200,
				     .cgroup_id = 500, .dst_hierarchy = 9, .dst_cgroup_id = 901};
	const struct kwid_proc *c;

	e.cgroup_id = 40;
	e.cgroup_v1[4] = 41;
	tracker_apply(f->tr, &e);
	proc_table_get(f->t, BASE_PID)->cgroup_v1_ids[9] = 900; /* a named hierarchy (iterator-only) */
	e = ev_fork(BASE_PID + 1, 200, BASE_PID, 100, 1, 11);
	e.cgroup_id = 40;
	e.cgroup_v1[4] = 41;
	tracker_apply(f->tr, &e);
	c = proc_table_lookup(f->t, BASE_PID + 1);
	assert_int_equal(c->cgroup_v1_ids[9], 900);
	assert_int_equal(c->cgroup_v1_ids[4], 41);
	tracker_apply(f->tr, &mv);
	assert_int_equal(c->cgroup_id, 500);
	assert_int_equal(c->cgroup_v1_ids[9], 901);
	assert_int_equal(c->cgroup_v1_ids[4], 41);
	assert_int_equal(f->kinds[f->n - 1], KWID_CHANGE_PROC_CGROUP);
}

static void test_snapshot_repair(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event gone = ev_exec(BASE_PID, 100, 1, 1000, 10), kept = ev_exec(BASE_PID + 1, 101, 1, 1000, 11);
	struct kwid_proc_event late = ev_exec(BASE_PID + 2, 102, 1, 1000, 60);
	struct kwid_proc_event snap;

	tracker_apply(f->tr, &gone);
	tracker_apply(f->tr, &kept);
	tracker_apply(f->tr, &late); /* updated after T0: not the snapshot's to judge */
	tracker_snapshot_begin(f->tr, 50);
	snap = ev_exec(BASE_PID + 1, 101, 1, 1000, 50);
	snap.type = KWID_EVENT_SCAN;
	snap.creds.uid = 77; /* refreshed from the snapshot */
	tracker_snapshot_add(f->tr, &snap);
	snap = ev_exec(BASE_PID + 3, 103, 4, 1000, 50); /* missed entirely: added */
	snap.type = KWID_EVENT_SCAN;
	tracker_snapshot_add(f->tr, &snap);
	tracker_snapshot_end(f->tr);

	assert_null(proc_table_lookup(f->t, BASE_PID)); /* stale entry gone */
	assert_int_equal(proc_table_lookup(f->t, BASE_PID + 1)->creds.uid, 77);
	assert_int_equal(proc_table_lookup(f->t, BASE_PID + 1)->origin, KWID_ORIGIN_EXEC);
	assert_non_null(proc_table_lookup(f->t, BASE_PID + 2));
	assert_int_equal(proc_table_lookup(f->t, BASE_PID + 3)->origin, KWID_ORIGIN_SCAN);

	/* events older than T0 that arrive now are superseded ... */
	gone = ev_exec(BASE_PID, 100, 1, 1000, 40);
	tracker_apply(f->tr, &gone);
	assert_null(proc_table_lookup(f->t, BASE_PID));
	gone = ev_fork(BASE_PID + 4, 104, BASE_PID + 1, 101, 1, 49);
	tracker_apply(f->tr, &gone);
	assert_null(proc_table_lookup(f->t, BASE_PID + 4));
	/* ... but exits always apply */
	gone = ev_exit(BASE_PID + 3, 103, 45);
	tracker_apply(f->tr, &gone);
	assert_null(proc_table_lookup(f->t, BASE_PID + 3));
}

static void test_coarse_start_matching(void **state)
{
	struct fixture *f = *state;
	uint64_t tick = proc_tick_ns(), exact = 1234 * tick + 5678;
	struct kwid_proc_event snap = ev_exec(BASE_PID, 1234 * tick, 1, 1000, 50), x;

	snap.type = KWID_EVENT_SCAN;
	snap.has_exec_seq = false;
	snap.start_coarse = true;
	tracker_snapshot_begin(f->tr, 50);
	tracker_snapshot_add(f->tr, &snap);
	tracker_snapshot_end(f->tr);
	assert_true(proc_entry_start_coarse(proc_table_lookup(f->t, BASE_PID)));
	/* a /proc-derived exec seq is marked as invented */
	assert_true(proc_table_lookup(f->t, BASE_PID)->id.exec_seq & KWID_EXEC_SEQ_SYNTHETIC);
	/* an exit one tick later is another process */
	x = ev_exit(BASE_PID, exact + tick, 60);
	tracker_apply(f->tr, &x);
	assert_non_null(proc_table_lookup(f->t, BASE_PID));
	/* the exact start within the same tick is this one */
	x = ev_exit(BASE_PID, exact, 61);
	tracker_apply(f->tr, &x);
	assert_null(proc_table_lookup(f->t, BASE_PID));
	assert_true(proc_start_matches(5, false, 5, false));
	assert_false(proc_start_matches(5, false, 6, false));
}

static void test_real_measurement(void **state)
{
	struct fixture *f = *state;
	struct kwid_proc_event e = ev_exec(getpid(), 100, 1, 0, 10);
	const struct kwid_proc *p;
	struct stat st;

	assert_int_equal(stat("/proc/self/exe", &st), 0);
	e.file = (struct kwid_file_key){st.st_dev, st.st_ino, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
					st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec, (uint64_t)st.st_size};
	e.filename = NULL;
	tracker_apply(f->tr, &e);
	p = proc_table_lookup(f->t, getpid());
	assert_non_null(p->image->path); /* resolved through /proc/self/exe */
	assert_int_equal(measurer_drain(f->ms, 10000), 0);
	assert_int_equal(p->image->measurement->state, KWID_MEASURE_DONE);
	assert_int_equal(strlen(p->image->measurement->sha256_hex), 64);
	assert_int_equal(measurer_check_unchanged(p), 0);
	assert_int_equal(measurer_check_path(p->image), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intern, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_exec_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_execs_share_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_exec_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_from_unknown_creator, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroups_inherit_and_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_repair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_coarse_start_matching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_real_measurement, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
