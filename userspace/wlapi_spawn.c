/* wlapi_spawn.c - the Workload API front process seen from the core:
 * fork, drop every privilege, exec kwid-wlapi-front (a fresh, small
 * image: nothing of the core's memory, keys included, survives),
 * watch it through a pidfd, and restart it with backoff when it dies. */
#include "kwid/log.h"
#include "kwid/sandbox.h"
#include "kwid/wlapi_core.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define BACKOFF_MIN_NS (100ull * 1000000)
#define BACKOFF_MAX_NS (30ull * 1000000000)
#define HEALTHY_RUN_NS (60ull * 1000000000) /* a front that ran this long restarts at once */

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_kill(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void child_fail(const char *msg)
{
	(void)!write(STDERR_FILENO, msg, strlen(msg));
	_exit(126);
}

/* In the child: only async-signal-safe calls until exec (the parent may
 * have threads). */
static _Noreturn void child_exec(struct kwid_wlapi *w, int ipc_child)
{
	static char arg0[] = WLAPI_FRONT_BINARY;
	char *argv[] = {arg0, NULL};
	char *envp[] = {NULL};
	sigset_t none;
	int lfd, ifd, efd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Move the three descriptors above the target slots, then into
	 * place; everything else is closed. */
	lfd = fcntl(w->listen_fd, F_DUPFD, 10);
	ifd = fcntl(ipc_child, F_DUPFD, 10);
	efd = fcntl(w->exe_fd, F_DUPFD_CLOEXEC, 10);
	if (lfd < 0 || ifd < 0 || efd < 0 || dup2(lfd, WLAPI_FRONT_LISTEN_FD) < 0 ||
	    dup2(ifd, WLAPI_FRONT_IPC_FD) < 0 || dup3(efd, 5, O_CLOEXEC) < 0)
		child_fail("kwid wlapi front: cannot arrange descriptors\n");
	if (close_range(6, ~0u, 0) < 0)
		child_fail("kwid wlapi front: close_range failed\n");
	if (sandbox_drop_privileges(w->set.front_uid, w->set.front_gid) < 0)
		child_fail("kwid wlapi front: cannot drop privileges (the core needs CAP_SETUID, CAP_SETGID "
			   "and CAP_SETPCAP to start the front)\n");
	execveat(5, "", argv, envp, AT_EMPTY_PATH);
	child_fail("kwid wlapi front: exec of " WLAPI_FRONT_BINARY " failed\n");
	_exit(127);
}

static void teardown_ipc(struct kwid_wlapi *w)
{
	loop_io_free(w->ipc_io);
	w->ipc_io = NULL;
	if (w->ipc_fd >= 0)
		close(w->ipc_fd);
	w->ipc_fd = -1;
	w->front_ready = false;
	wlapi_ipc_queue_clear(&w->out);
	wlapi_ipc_queue_init(&w->out, -1);
}

/* Keep the exited front's counters in the totals. */
static void accumulate_stats(struct kwid_wlapi *w)
{
	struct wlapi_front_stats *b = &w->front_stats_base, *f = &w->front_stats;

	b->conns_accepted += f->conns_accepted;
	b->conns_refused += f->conns_refused;
	b->protocol_errors += f->protocol_errors;
	b->first_request_timeouts += f->first_request_timeouts;
	for (int i = 0; i < GRPC_STATUS_COUNT; i++)
		b->front_rpcs[i] += f->front_rpcs[i];
	memset(f, 0, sizeof(*f));
}

static void describe_exit(const siginfo_t *si, char *buf, size_t len)
{
	if (si->si_code == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", si->si_status);
	else if (si->si_status == SIGSYS)
		snprintf(buf, len, "was killed by SIGSYS: a system call outside the seccomp allow-list");
	else
		snprintf(buf, len, "was killed by signal %d (%s)", si->si_status, strsignal(si->si_status));
}

static void on_restart_timer(struct kwid_timer *t, void *userdata)
{
	struct kwid_wlapi *w = userdata;
	int r;

	if (w->stopping || w->front_pidfd >= 0)
		return;
	w->front_restarts++;
	r = wlapi_front_start(w);
	if (r < 0) {
		log_error_errno(r, "wlapi: cannot restart the front; retrying in %llu ms",
				(unsigned long long)(w->backoff_ns / 1000000));
		loop_timer_arm(w->restart_timer, w->backoff_ns);
	}
}

static void on_front_exit(struct kwid_io *io, int fd, uint32_t revents, void *userdata)
{
	struct kwid_wlapi *w = userdata;
	siginfo_t si = {0};
	char why[128];
	uint64_t ran = now_mono_ns() - w->front_started_ns;

	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	describe_exit(&si, why, sizeof(why));
	loop_io_free(w->front_pidfd_io);
	w->front_pidfd_io = NULL;
	close(w->front_pidfd);
	w->front_pidfd = -1;
	w->front_pid = 0;
	teardown_ipc(w);
	wlapi_conns_drop_all(w);
	accumulate_stats(w);
	if (w->stopping)
		return;
	if (ran >= HEALTHY_RUN_NS || w->backoff_ns == 0)
		w->backoff_ns = BACKOFF_MIN_NS;
	else
		w->backoff_ns = MIN(w->backoff_ns * 2, BACKOFF_MAX_NS);
	log_error("wlapi: the front (pid %d) %s after %llu ms; restarting in %llu ms", (int)si.si_pid, why,
		  (unsigned long long)(ran / 1000000), (unsigned long long)(w->backoff_ns / 1000000));
	loop_timer_arm(w->restart_timer, w->backoff_ns);
}

static int send_config(struct kwid_wlapi *w, int sock)
{
	struct wlapi_ipc_queue q;
	int r;

	wlapi_ipc_queue_init(&q, sock);
	r = wlapi_ipc_queue_push(&q, WLAPI_C_CONFIG, 0, 0, &w->set.front, sizeof(w->set.front), -1, NULL);
	if (r == 0)
		r = wlapi_ipc_queue_flush(&q);
	wlapi_ipc_queue_clear(&q);
	return r;
}

/* Close the socket (the front exits on EOF), give it a second, then
 * SIGKILL; reap it either way. */
static void stop_process(struct kwid_wlapi *w)
{
	siginfo_t si;

	teardown_ipc(w);
	if (w->front_pidfd < 0)
		return;
	for (int i = 0; i < 100; i++) {
		si.si_pid = 0;
		if (waitid(P_PIDFD, (id_t)w->front_pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid != 0)
			goto reaped;
		usleep(10000);
	}
	pidfd_kill(w->front_pidfd, SIGKILL);
	waitid(P_PIDFD, (id_t)w->front_pidfd, &si, WEXITED);
reaped:
	loop_io_free(w->front_pidfd_io);
	w->front_pidfd_io = NULL;
	close(w->front_pidfd);
	w->front_pidfd = -1;
	w->front_pid = 0;
}

int wlapi_front_start(struct kwid_wlapi *w)
{
	int sv[2], r;
	pid_t pid;

	if (!w->restart_timer) {
		r = loop_timer_new(w->agent->loop, on_restart_timer, w, &w->restart_timer);
		if (r < 0)
			return r;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return log_error_errno(-errno, "wlapi: socketpair for the front failed");
	/* Queued before the front exists: the first thing it reads. */
	r = send_config(w, sv[0]);
	if (r < 0) {
		close(sv[0]);
		close(sv[1]);
		return log_error_errno(r, "wlapi: cannot send the front its configuration");
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		return log_error_errno(r, "wlapi: fork of the front failed");
	}
	if (pid == 0)
		child_exec(w, sv[1]);
	close(sv[1]);
	w->ipc_fd = sv[0];
	wlapi_ipc_queue_init(&w->out, w->ipc_fd);
	w->front_pid = pid;
	w->front_started_ns = now_mono_ns();
	w->front_pidfd = pidfd_open(pid);
	if (w->front_pidfd < 0) {
		r = log_error_errno(-errno, "wlapi: pidfd_open of the front (pid %d) failed", (int)pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		teardown_ipc(w);
		return r;
	}
	r = loop_io_add(w->agent->loop, w->front_pidfd, EPOLLIN, on_front_exit, w, &w->front_pidfd_io);
	if (r < 0)
		goto fail;
	r = loop_io_add(w->agent->loop, w->ipc_fd, EPOLLIN, wlapi_on_ipc, w, &w->ipc_io);
	if (r < 0)
		goto fail;
	w->ipc_events = EPOLLIN;
	log_debug("wlapi: started the front, pid %d, uid %u", (int)pid, (unsigned)w->set.front_uid);
	return 0;
fail:
	stop_process(w);
	return r;
}

void wlapi_front_kill(struct kwid_wlapi *w, const char *why)
{
	if (w->front_pidfd < 0)
		return;
	if (why)
		log_error("wlapi: stopping the front (pid %d): %s", (int)w->front_pid, why);
	pidfd_kill(w->front_pidfd, SIGKILL);
	/* Stop talking to it now; the connections are dropped and the front
	 * restarted when its exit is seen (on_front_exit), never from inside
	 * the caller's stack. */
	teardown_ipc(w);
}

void wlapi_front_stop(struct kwid_wlapi *w)
{
	loop_timer_free(w->restart_timer);
	w->restart_timer = NULL;
	stop_process(w);
}
