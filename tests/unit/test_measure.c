/* test_measure.c - the measurer on real files and real processes: digests
 * equal OpenSSL's, one measurement per file version, a file changed or
 * replaced after its key was taken is never hashed as if it were the
 * executed one, sources fall back when a process is gone, the LRU stays
 * bounded without evicting what is in use, waiters run on the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kwid/loop.h"
#include "kwid/tracker.h"

struct fixture {
	struct kwid_loop *loop;
	struct kwid_measurer *ms;
	char dir[64];
	pid_t other; /* what the finder answers */
};

static int setup_with(void **state, size_t cache, uint64_t max)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kwid_measurer_config mc = {.workers = 2, .cache_entries = cache, .max_bytes = max};

	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(measurer_new(f->loop, &mc, &f->ms), 0);
	strcpy(f->dir, "/tmp/kwid-measure.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_with(state, 64, 1 << 30); }
static int setup_small_cache(void **state) { return setup_with(state, 2, 1 << 30); }
static int setup_small_max(void **state) { return setup_with(state, 64, 100); }

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	measurer_free(f->ms);
	loop_free(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	(void)!system(cmd);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void key_of(const char *path, struct kwid_file_key *k)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	*k = (struct kwid_file_key){st.st_dev, st.st_ino, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
				    st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec, (uint64_t)st.st_size};
}

static void sha256_hex_of(const char *path, char out[65])
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	uint8_t md[32];
	unsigned mdlen;

	assert_int_equal(read_file(path, 64 << 20, &data, &len), 0);
	assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
	hex_encode(md, 32, out);
}

static void wait_done(struct fixture *f, const struct kwid_measurement *m)
{
	for (int i = 0; i < 500 && m->state == KWID_MEASURE_PENDING; i++)
		loop_run_once(f->loop, 20);
	assert_int_not_equal(m->state, KWID_MEASURE_PENDING);
}

static void test_hash_by_path_and_dedupe(void **state)
{
	struct fixture *f = *state;
	char path[128], want[65];
	struct kwid_file_key k;
	struct kwid_measurement *m, *m2;
	json_object *st = json_object_new_object();

	snprintf(path, sizeof(path), "%s/a", f->dir);
	write_file(path, "hello kwid\n", 11);
	key_of(path, &k);
	m = measurer_get(f->ms, &k, 0, path);
	assert_non_null(m);
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_DONE);
	sha256_hex_of(path, want);
	assert_string_equal(m->sha256_hex, want);
	/* the same file version is measured once */
	m2 = measurer_get(f->ms, &k, 0, path);
	assert_ptr_equal(m, m2);
	measurer_status(f->ms, st);
	assert_int_equal(json_object_get_int(json_object_object_get(st, "hashed")), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(st, "cache_hits")), 1);
	json_object_put(st);
	measurement_unref(m);
	measurement_unref(m2);
}

static void test_modified_after_key(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct kwid_file_key k;
	struct kwid_measurement *m;

	snprintf(path, sizeof(path), "%s/b", f->dir);
	write_file(path, "version 1\n", 10);
	key_of(path, &k);
	/* changed between exec (the key) and hashing */
	write_file(path, "version 2, longer\n", 18);
	m = measurer_get(f->ms, &k, 0, path);
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_FAILED);
	assert_int_equal(m->error, -ESTALE);
	measurement_unref(m);
}

static void test_replaced_after_key(void **state)
{
	struct fixture *f = *state;
	char path[128], tmp[128];
	struct kwid_file_key k;
	struct kwid_measurement *m;

	snprintf(path, sizeof(path), "%s/c", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/c.new", f->dir);
	write_file(path, "original\n", 9);
	key_of(path, &k);
	write_file(tmp, "original\n", 9); /* same bytes, another inode */
	assert_int_equal(rename(tmp, path), 0);
	m = measurer_get(f->ms, &k, 0, path);
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_FAILED);
	assert_int_equal(m->error, -ESTALE);
	measurement_unref(m);
}

static pid_t spawn_copy_of_sleep(struct fixture *f, char *path, size_t len)
{
	char cmd[256];
	pid_t pid;

	snprintf(path, len, "%s/sleepcopy", f->dir);
	snprintf(cmd, sizeof(cmd), "cp /bin/sleep %s", path);
	assert_int_equal(system(cmd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(path, path, "30", (char *)NULL);
		_exit(127);
	}
	/* wait until the exec is done */
	for (int i = 0; i < 200; i++) {
		char exe[64], target[256];
		ssize_t n;
		snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
		n = readlink(exe, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			if (streq(target, path))
				break;
		}
		usleep(10000);
	}
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_proc_exe_and_check(void **state)
{
	struct fixture *f = *state;
	char path[128], want[65];
	struct kwid_file_key k;
	struct kwid_measurement *m;
	pid_t pid = spawn_copy_of_sleep(f, path, sizeof(path));
	struct kwid_image img = {.file = {0}, .path = path};
	struct kwid_proc p = {.id = {.tgid = pid}, .image = &img};

	key_of(path, &k);
	img.file = k;
	m = measurer_get(f->ms, &k, pid, NULL); /* no path: only /proc/<pid>/exe */
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_DONE);
	sha256_hex_of(path, want);
	assert_string_equal(m->sha256_hex, want);
	assert_int_equal(measurer_check_unchanged(&p), 0);
	assert_int_equal(measurer_check_path(&img), 0);
	/* metadata change after exec: flagged, measurement untouched */
	assert_int_equal(chmod(path, 0700), 0);
	assert_int_equal(measurer_check_unchanged(&p), -ESTALE);
	assert_int_equal(m->state, KWID_MEASURE_DONE);
	assert_string_equal(m->sha256_hex, want);
	reap(pid);
	assert_int_equal(measurer_check_unchanged(&p), -ESRCH);
	measurement_unref(m);
}

static pid_t finder(void *ud, const struct kwid_file_key *key, pid_t exclude)
{
	return ((struct fixture *)ud)->other;
}

static void test_fallback_sources(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct kwid_file_key k;
	struct kwid_measurement *m;
	pid_t pid = spawn_copy_of_sleep(f, path, sizeof(path)), dead;

	key_of(path, &k);
	/* a process that is gone, another live one with the same file */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	f->other = pid;
	measurer_set_finder(f->ms, finder, f);
	m = measurer_get(f->ms, &k, dead, NULL);
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_DONE);
	measurement_unref(m);
	reap(pid);

	/* nobody runs it any more, and there is no path: FAILED, -ESRCH */
	write_file(path, "x", 1);
	key_of(path, &k);
	f->other = 0;
	m = measurer_get(f->ms, &k, dead, NULL);
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_FAILED);
	assert_int_equal(m->error, -ESRCH);
	measurement_unref(m);
	/* ... and the recorded path, with the key checked, is the last resort */
	m = measurer_get(f->ms, &k, dead, path);
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_DONE);
	measurement_unref(m);
}

static void test_too_large(void **state)
{
	struct fixture *f = *state;
	char path[128], big[200];
	struct kwid_file_key k;
	struct kwid_measurement *m;

	memset(big, 'x', sizeof(big));
	snprintf(path, sizeof(path), "%s/big", f->dir);
	write_file(path, big, sizeof(big));
	key_of(path, &k);
	m = measurer_get(f->ms, &k, 0, path);
	wait_done(f, m);
	assert_int_equal(m->state, KWID_MEASURE_FAILED);
	assert_int_equal(m->error, -EFBIG);
	measurement_unref(m);
}

static void test_lru_bounded_and_pinned(void **state)
{
	struct fixture *f = *state;
	struct kwid_measurement *m[6];
	json_object *st;
	char path[128];

	for (int i = 0; i < 6; i++) {
		struct kwid_file_key k;
		snprintf(path, sizeof(path), "%s/f%d", f->dir, i);
		write_file(path, path, strlen(path));
		key_of(path, &k);
		m[i] = measurer_get(f->ms, &k, 0, path);
		wait_done(f, m[i]);
	}
	/* release all but the first: only 2 unreferenced ones may stay */
	for (int i = 1; i < 6; i++)
		measurement_unref(m[i]);
	st = json_object_new_object();
	measurer_status(f->ms, st);
	assert_int_equal(json_object_get_int(json_object_object_get(st, "cache_unreferenced")), 2);
	assert_int_equal(json_object_get_int(json_object_object_get(st, "cache_entries")), 3);
	assert_int_equal(json_object_get_int(json_object_object_get(st, "evicted")), 3);
	json_object_put(st);
	/* the pinned one is still valid and DONE */
	assert_int_equal(m[0]->state, KWID_MEASURE_DONE);
	measurement_unref(m[0]);
}

static int fired;
static void on_done(void *ud, const struct kwid_measurement *m)
{
	fired++;
	assert_int_not_equal(m->state, KWID_MEASURE_PENDING);
}

static void test_waiters(void **state)
{
	struct fixture *f = *state;
	struct kwid_measure_waiter *w;
	struct kwid_file_key k;
	struct kwid_measurement *m;
	char path[128];

	snprintf(path, sizeof(path), "%s/w", f->dir);
	write_file(path, "w", 1);
	key_of(path, &k);
	fired = 0;
	m = measurer_get(f->ms, &k, 0, path);
	assert_int_equal(measurer_wait(f->ms, m, on_done, NULL, NULL), 0);
	assert_int_equal(measurer_wait(f->ms, m, on_done, NULL, &w), 0);
	measurer_cancel(w);
	wait_done(f, m);
	assert_int_equal(fired, 1);
	/* already done: called later on the loop, never inside measurer_wait */
	assert_int_equal(measurer_wait(f->ms, m, on_done, NULL, NULL), 0);
	assert_int_equal(fired, 1);
	loop_run_once(f->loop, 100);
	assert_int_equal(fired, 2);
	measurement_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hash_by_path_and_dedupe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modified_after_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_after_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proc_exe_and_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup_small_max, teardown),
		cmocka_unit_test_setup_teardown(test_lru_bounded_and_pinned, setup_small_cache, teardown),
		cmocka_unit_test_setup_teardown(test_waiters, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
