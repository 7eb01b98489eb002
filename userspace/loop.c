/* loop.c - epoll event loop with heap timers, signalfd and deferred calls
 * (see kwid/loop.h). */
#include "kwid/loop.h"
#include "kwid/log.h"
#include "kwid/util.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

struct kwid_io {
	struct kwid_loop *loop;
	int fd;
	loop_io_fn fn;
	void *userdata;
	bool dead;
	struct kwid_io *next_dead;
};

struct kwid_timer {
	struct kwid_loop *loop;
	loop_timer_fn fn;
	void *userdata;
	uint64_t deadline; /* CLOCK_MONOTONIC ns */
	size_t heap_index;  /* SIZE_MAX when not armed */
};

struct deferred {
	loop_defer_fn fn;
	void *userdata;
};

struct signal_handler {
	int signo;
	loop_signal_fn fn;
	void *userdata;
};

struct kwid_loop {
	int epfd;
	int timerfd;
	int sigfd;
	sigset_t sigmask;
	struct kwid_io *timer_io, *signal_io;
	struct kwid_timer **heap;
	size_t heap_len, heap_cap;
	struct deferred *deferred;
	size_t deferred_len, deferred_cap;
	struct signal_handler signals[16];
	size_t nsignals;
	struct kwid_io *dead;
	bool exiting;
	int exit_code;
};

/* ---- timer heap ---- */

static void heap_swap(struct kwid_loop *l, size_t a, size_t b)
{
	struct kwid_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_index = a;
	l->heap[b]->heap_index = b;
}

static void heap_up(struct kwid_loop *l, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (l->heap[parent]->deadline <= l->heap[i]->deadline)
			break;
		heap_swap(l, i, parent);
		i = parent;
	}
}

static void heap_down(struct kwid_loop *l, size_t i)
{
	for (;;) {
		size_t left = 2 * i + 1, right = left + 1, min = i;
		if (left < l->heap_len && l->heap[left]->deadline < l->heap[min]->deadline)
			min = left;
		if (right < l->heap_len && l->heap[right]->deadline < l->heap[min]->deadline)
			min = right;
		if (min == i)
			return;
		heap_swap(l, i, min);
		i = min;
	}
}

static void heap_remove(struct kwid_loop *l, struct kwid_timer *t)
{
	size_t i = t->heap_index;

	if (i == SIZE_MAX)
		return;
	l->heap_len--;
	if (i != l->heap_len) {
		heap_swap(l, i, l->heap_len);
		heap_down(l, i);
		heap_up(l, i);
	}
	t->heap_index = SIZE_MAX;
}

static void timerfd_update(struct kwid_loop *l)
{
	struct itimerspec its = {0};

	if (l->heap_len > 0) {
		uint64_t d = l->heap[0]->deadline;
		its.it_value.tv_sec = (time_t)(d / 1000000000ull);
		its.it_value.tv_nsec = (long)(d % 1000000000ull);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(l->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_error_errno(-errno, "timerfd_settime failed");
}

int loop_timer_new(struct kwid_loop *l, loop_timer_fn fn, void *userdata, struct kwid_timer **out)
{
	struct kwid_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->fn = fn;
	t->userdata = userdata;
	t->heap_index = SIZE_MAX;
	*out = t;
	return 0;
}

int loop_timer_arm(struct kwid_timer *t, uint64_t delay_ns)
{
	struct kwid_loop *l = t->loop;

	heap_remove(l, t);
	if (l->heap_len == l->heap_cap) {
		size_t ncap = l->heap_cap ? l->heap_cap * 2 : 16;
		struct kwid_timer **nh = reallocarray_safe(l->heap, ncap, sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		l->heap = nh;
		l->heap_cap = ncap;
	}
	t->deadline = now_mono_ns() + delay_ns;
	t->heap_index = l->heap_len;
	l->heap[l->heap_len++] = t;
	heap_up(l, t->heap_index);
	if (l->heap[0] == t)
		timerfd_update(l);
	return 0;
}

void loop_timer_disarm(struct kwid_timer *t)
{
	bool was_first;

	if (!t || t->heap_index == SIZE_MAX)
		return;
	was_first = t->heap_index == 0;
	heap_remove(t->loop, t);
	if (was_first)
		timerfd_update(t->loop);
}

bool loop_timer_armed(const struct kwid_timer *t)
{
	return t && t->heap_index != SIZE_MAX;
}

void loop_timer_free(struct kwid_timer *t)
{
	if (!t)
		return;
	loop_timer_disarm(t);
	free(t);
}

static void on_timerfd(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_loop *l = userdata;
	uint64_t expirations;
	uint64_t now = now_mono_ns();

	(void)!read(fd, &expirations, sizeof(expirations));
	/* Fire every expired timer; callbacks may re-arm or free timers. */
	while (l->heap_len > 0 && l->heap[0]->deadline <= now) {
		struct kwid_timer *t = l->heap[0];
		heap_remove(l, t);
		t->fn(t, t->userdata);
	}
	timerfd_update(l);
}

/* ---- signals ---- */

static void on_signalfd(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_loop *l = userdata;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (size_t i = 0; i < l->nsignals; i++)
			if (l->signals[i].signo == (int)si.ssi_signo)
				l->signals[i].fn(l, (int)si.ssi_signo, l->signals[i].userdata);
	}
}

int loop_signal_add(struct kwid_loop *l, int signo, loop_signal_fn fn, void *userdata)
{
	if (l->nsignals == ARRAY_SIZE(l->signals))
		return -ENOSPC;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	if (signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC) < 0)
		return -errno;
	l->signals[l->nsignals++] = (struct signal_handler){signo, fn, userdata};
	return 0;
}

/* ---- io ---- */

int loop_io_add(struct kwid_loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
		struct kwid_io **out)
{
	struct kwid_io *io = calloc(1, sizeof(*io));
	struct epoll_event ev = {.events = events};

	if (!io)
		return -ENOMEM;
	io->loop = l;
	io->fd = fd;
	io->fn = fn;
	io->userdata = userdata;
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(io);
		return r;
	}
	if (out)
		*out = io;
	return 0;
}

int loop_io_set_events(struct kwid_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};

	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	return 0;
}

void loop_io_free(struct kwid_io *io)
{
	if (!io || io->dead)
		return;
	epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	io->next_dead = io->loop->dead;
	io->loop->dead = io;
}

static void reap_dead(struct kwid_loop *l)
{
	while (l->dead) {
		struct kwid_io *io = l->dead;
		l->dead = io->next_dead;
		free(io);
	}
}

/* ---- deferred calls ---- */

int loop_defer(struct kwid_loop *l, loop_defer_fn fn, void *userdata)
{
	if (l->deferred_len == l->deferred_cap) {
		size_t ncap = l->deferred_cap ? l->deferred_cap * 2 : 16;
		struct deferred *nd = reallocarray_safe(l->deferred, ncap, sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		l->deferred = nd;
		l->deferred_cap = ncap;
	}
	l->deferred[l->deferred_len++] = (struct deferred){fn, userdata};
	return 0;
}

void loop_defer_cancel(struct kwid_loop *l, loop_defer_fn fn, void *userdata)
{
	/* Cancelled slots are turned into no-ops rather than removed, so a
	 * cancel from inside run_deferred() keeps its indices valid. */
	for (size_t i = 0; i < l->deferred_len; i++)
		if (l->deferred[i].fn == fn && l->deferred[i].userdata == userdata)
			l->deferred[i].fn = NULL;
}

static void run_deferred(struct kwid_loop *l)
{
	/* Calls queued while running go to the next round, so a callback that
	 * re-queues itself cannot starve the loop. */
	size_t n = l->deferred_len;

	for (size_t i = 0; i < n; i++)
		if (l->deferred[i].fn)
			l->deferred[i].fn(l->deferred[i].userdata);
	if (n == 0)
		return;
	memmove(l->deferred, l->deferred + n, (l->deferred_len - n) * sizeof(*l->deferred));
	l->deferred_len -= n;
}

/* ---- lifecycle ---- */

int loop_new(struct kwid_loop **out)
{
	struct kwid_loop *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->timerfd = l->sigfd = -1;
	sigemptyset(&l->sigmask);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto fail_errno;
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (l->timerfd < 0)
		goto fail_errno;
	l->sigfd = signalfd(-1, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		goto fail_errno;
	r = loop_io_add(l, l->timerfd, EPOLLIN, on_timerfd, l, &l->timer_io);
	if (r < 0)
		goto fail;
	r = loop_io_add(l, l->sigfd, EPOLLIN, on_signalfd, l, &l->signal_io);
	if (r < 0)
		goto fail;
	*out = l;
	return 0;
fail_errno:
	r = -errno;
fail:
	loop_free(l);
	return r;
}

void loop_free(struct kwid_loop *l)
{
	if (!l)
		return;
	loop_io_free(l->timer_io);
	loop_io_free(l->signal_io);
	reap_dead(l);
	for (size_t i = 0; i < l->heap_len; i++)
		l->heap[i]->heap_index = SIZE_MAX;
	free(l->heap);
	free(l->deferred);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->timerfd >= 0)
		close(l->timerfd);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->nsignals)
		sigprocmask(SIG_UNBLOCK, &l->sigmask, NULL);
	free(l);
}

int loop_run_once(struct kwid_loop *l, int timeout_ms)
{
	struct epoll_event events[64];
	int n;

	if (l->deferred_len > 0)
		timeout_ms = 0;
	n = epoll_wait(l->epfd, events, ARRAY_SIZE(events), timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct kwid_io *io = events[i].data.ptr;
		if (!io->dead)
			io->fn(io, io->fd, events[i].events, io->userdata);
	}
	run_deferred(l);
	reap_dead(l);
	return n;
}

int loop_run(struct kwid_loop *l)
{
	while (!l->exiting) {
		int r = loop_run_once(l, -1);
		if (r < 0)
			return log_error_errno(r, "epoll_wait failed");
	}
	return l->exit_code;
}

void loop_exit(struct kwid_loop *l, int code)
{
	l->exiting = true;
	l->exit_code = code;
}
