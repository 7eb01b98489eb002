/* test_privs.c - the privilege drop refuses to run with a second thread
 * alive (it would keep every capability) and, single-threaded, leaves the
 * process with exactly the declared capabilities. Each case runs in a
 * forked child so the test process keeps its own privileges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>

#include "kwid/privs.h"
#include "kwid/util.h"

static void *sleeper(void *arg)
{
	pause();
	return NULL;
}

static int run_in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int drop_with_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, sleeper, NULL) != 0)
		return 10;
	privs_reset();
	privs_need(CAP_SYS_PTRACE, "test");
	return privs_apply() == -EBUSY ? 0 : 1;
}

static int drop_single(void)
{
	cap_t caps;
	cap_flag_value_t v;

	privs_reset();
	privs_need(CAP_SYS_PTRACE, "test");
	if (privs_apply() < 0)
		return 1;
	caps = cap_get_proc();
	if (cap_get_flag(caps, CAP_SYS_PTRACE, CAP_EFFECTIVE, &v) < 0 || v != CAP_SET)
		return 2;
	if (cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &v) < 0 || v != CAP_CLEAR)
		return 3;
	if (cap_get_bound(CAP_SYS_ADMIN) != 0)
		return 4;
	cap_free(caps);
	return 0;
}

static void test_refuses_with_threads(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run_in_child(drop_with_thread), 0);
}

static void test_keeps_exactly_declared(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run_in_child(drop_single), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_with_threads),
		cmocka_unit_test(test_keeps_exactly_declared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
