/* sandbox.c - privilege drop and seccomp allow-list for the Workload API
 * front (see kwid/sandbox.h). */
#include "kwid/sandbox.h"
#include "kwid/log.h"
#include "kwid/util.h"

#include <linux/capability.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <fcntl.h>

static int caps_all_clear(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {0};

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	for (size_t i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return -EPERM;
	return 0;
}

static int clear_caps(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {0};

	return (int)syscall(SYS_capset, &hdr, data);
}

int sandbox_drop_privileges(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (uid == 0 || gid == 0)
		return -EINVAL;
	/* The bounding set limits what any later exec could ever gain. */
	for (unsigned long cap = 0; cap <= 63; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (in < 0 && errno == EINVAL)
			break; /* past the last capability this kernel knows */
		if (in == 0)
			continue; /* already gone (the core dropped it) */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the last capability this kernel knows */
			return -errno;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	/* KEEPCAPS off (it may be locked off already by the core's securebits). */
	if (prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	/* Raw system calls: this runs in a child forked from a threaded
	 * process, where glibc's wrappers would try to signal threads that
	 * exist only in the parent. */
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		return -errno;
	if (syscall(SYS_setresgid, gid, gid, gid) < 0)
		return -errno;
	/* Leaving uid 0 for a non-zero uid clears the permitted and effective
	 * capability sets (no KEEPCAPS). */
	if (syscall(SYS_setresuid, uid, uid, uid) < 0)
		return -errno;
	/* The core may have locked SECBIT_NO_SETUID_FIXUP (kwid/privs.h), in
	 * which case the uid change above kept its capabilities: clear them
	 * explicitly. */
	if (clear_caps() < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Trust, but verify. */
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return -EPERM;
	if (getgroups(0, NULL) != 0)
		return -EPERM;
	if (caps_all_clear() < 0)
		return -EPERM;
	if (syscall(SYS_setresuid, 0, 0, 0) == 0 || prctl(PR_CAPBSET_READ, CAP_SETUID, 0, 0, 0) != 0)
		return -EPERM;
	return 0;
}

/* Allow a system call; log which one failed to be added. */
static int allow(scmp_filter_ctx ctx, int nr, unsigned nargs, const struct scmp_arg_cmp *args)
{
	int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, nargs, args);

	if (r < 0)
		return log_error_errno(r, "sandbox: cannot allow system call %d", nr);
	return 0;
}

int sandbox_enter_front(void)
{
	/* What an epoll loop over sockets it already holds needs: I/O on
	 * those sockets (accept4 for new connections, getsockopt for
	 * SO_PEERCRED, sendmsg/recvmsg for the core's socket), timers,
	 * memory, and exit. Nothing opens files, creates sockets, forks,
	 * execs, maps executable memory or signals other processes. */
	static const int plain[] = {
		SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
		SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
		SCMP_SYS(accept4), SCMP_SYS(close), SCMP_SYS(shutdown),
		SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
		SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime),
		SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
		SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
		SCMP_SYS(futex), SCMP_SYS(getpid), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(restart_syscall), SCMP_SYS(exit), SCMP_SYS(exit_group),
		SCMP_SYS(getrandom), /* json-c seeds its hash tables, OpenSSL its DRBG */
	};
	scmp_filter_ctx ctx;
	int r;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return log_error_errno(-errno, "sandbox: cannot make the front non-dumpable");
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return log_error_errno(-ENOMEM, "sandbox: seccomp_init failed");
	for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
		r = allow(ctx, plain[i], 0, NULL);
		if (r < 0)
			goto out;
	}
	/* Memory, never executable. */
	r = allow(ctx, SCMP_SYS(mmap), 1, (struct scmp_arg_cmp[]){SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
	if (r == 0)
		r = allow(ctx, SCMP_SYS(mprotect), 1,
			  (struct scmp_arg_cmp[]){SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
	/* Peer credentials only. */
	if (r == 0)
		r = allow(ctx, SCMP_SYS(getsockopt), 2,
			  (struct scmp_arg_cmp[]){SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
						  SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED)});
	/* Duplicating a connection's descriptor to hand it to the core. */
	if (r == 0)
		r = allow(ctx, SCMP_SYS(fcntl), 1, (struct scmp_arg_cmp[]){SCMP_A1(SCMP_CMP_EQ, F_DUPFD_CLOEXEC)});
	if (r < 0)
		goto out;
	r = seccomp_load(ctx);
	if (r < 0)
		log_error_errno(r, "sandbox: cannot load the seccomp filter");
out:
	seccomp_release(ctx);
	return r;
}
