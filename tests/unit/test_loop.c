/* test_loop.c - event loop: timers fire in deadline order, re-arm and
 * disarm work, deferred calls run after the iteration, io callbacks may
 * free their own handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/loop.h"
#include "kwid/util.h"

static char order[16];
static size_t norder;

static void on_timer(struct kwid_timer *t, void *ud)
{
	order[norder++] = *(char *)ud;
}

static void test_timer_order(void **state)
{
	struct kwid_loop *l;
	struct kwid_timer *a, *b, *c;
	char ca = 'a', cb = 'b', cc = 'c';
	uint64_t start;

	norder = 0;
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(loop_timer_new(l, on_timer, &ca, &a), 0);
	assert_int_equal(loop_timer_new(l, on_timer, &cb, &b), 0);
	assert_int_equal(loop_timer_new(l, on_timer, &cc, &c), 0);
	loop_timer_arm(a, 30000000);
	loop_timer_arm(b, 10000000);
	loop_timer_arm(c, 20000000);
	loop_timer_disarm(c);
	assert_false(loop_timer_armed(c));
	loop_timer_arm(a, 5000000); /* re-arm moves a before b */
	start = now_mono_ns();
	while (norder < 2 && now_mono_ns() - start < 2000000000ull)
		loop_run_once(l, 100);
	assert_int_equal(norder, 2);
	assert_memory_equal(order, "ab", 2);
	loop_timer_free(a);
	loop_timer_free(b);
	loop_timer_free(c);
	loop_free(l);
}

static int deferred_runs;
static void on_defer(void *ud) { deferred_runs++; }

static void on_pipe(struct kwid_io *io, int fd, uint32_t ev, void *ud)
{
	char buf[8];

	(void)!read(fd, buf, sizeof(buf));
	loop_defer(ud, on_defer, NULL);
	loop_io_free(io); /* freeing oneself inside the callback is allowed */
}

static void test_io_and_defer(void **state)
{
	struct kwid_loop *l;
	int p[2];

	deferred_runs = 0;
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(loop_io_add(l, p[0], EPOLLIN, on_pipe, l, NULL), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(deferred_runs, 1);
	/* the handle is gone: more data wakes nobody */
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_int_equal(loop_run_once(l, 50), 0);
	close(p[0]);
	close(p[1]);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_io_and_defer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
