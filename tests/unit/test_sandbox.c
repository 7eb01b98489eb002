/* test_sandbox.c - the Workload API front's confinement on the real
 * kernel, in forked children: the privilege drop leaves no capability and
 * no way back to uid 0; the seccomp allow-list kills a process that opens
 * a file, creates a socket or forks, and lets the event loop's calls
 * through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kwid/loop.h"
#include "kwid/sandbox.h"
#include "kwid/util.h"

/* Run fn in a child; return its wait status. */
static int in_child(int (*fn)(void))
{
	int st = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int drop_and_check(void)
{
	if (sandbox_drop_privileges(65534, 65534) < 0)
		return 10;
	if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534)
		return 11;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 12;
	if (prctl(PR_CAPBSET_READ, 0 /* CAP_CHOWN */, 0, 0, 0) != 0)
		return 13;
	if (setuid(0) == 0)
		return 14;
	return 0;
}

static void test_drop_privileges(void **state)
{
	int st;

	if (geteuid() != 0)
		skip();
	st = in_child(drop_and_check);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* uid 0 is never a target. */
	assert_int_equal(sandbox_drop_privileges(0, 65534), -EINVAL);
}

static int loop_then_exit(void)
{
	struct kwid_loop *l;
	int sv[2];
	char c = 'x';

	/* What the front does before and after the filter. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || loop_new(&l) < 0)
		return 20;
	if (sandbox_enter_front() < 0)
		return 21;
	if (write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1)
		return 22;
	if (loop_run_once(l, 0) < 0)
		return 23;
	free(malloc(1 << 20)); /* mmap'd by glibc */
	close(sv[0]);
	return 0;
}

static int open_a_file(void)
{
	if (sandbox_enter_front() < 0)
		return 30;
	open("/etc/hostname", O_RDONLY);
	return 31; /* not reached */
}

static int make_a_socket(void)
{
	if (sandbox_enter_front() < 0)
		return 40;
	socket(AF_UNIX, SOCK_STREAM, 0);
	return 41;
}

static int fork_a_child(void)
{
	if (sandbox_enter_front() < 0)
		return 50;
	fork();
	return 51;
}

static void test_seccomp(void **state)
{
	int st = in_child(loop_then_exit);

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_child(open_a_file);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_child(make_a_socket);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_child(fork_a_child);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_privileges),
		cmocka_unit_test(test_seccomp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
