/* privs.c - capability drop, securebits, no_new_privs and the core's
 * seccomp deny-list, applied once start-up is over (see kwid/privs.h). */
#include "kwid/privs.h"
#include "kwid/log.h"
#include "kwid/util.h"

#include <dirent.h>
#include <linux/securebits.h>
#include <seccomp.h>
#include <sys/prctl.h>

#define MAX_NEEDS 32

struct need {
	cap_value_t cap;
	const char *why;
};

static struct need needs[MAX_NEEDS];
static size_t nneeds;
static bool applied;
static bool seccomp_on;

void privs_need(cap_value_t cap, const char *why)
{
	if (nneeds == MAX_NEEDS) {
		log_error("privs: more than %d capability declarations", MAX_NEEDS);
		return;
	}
	needs[nneeds++] = (struct need){cap, why};
}

void privs_reset(void)
{
	nneeds = 0;
	applied = false;
	seccomp_on = false;
}

static bool needed(cap_value_t cap)
{
	for (size_t i = 0; i < nneeds; i++)
		if (needs[i].cap == cap)
			return true;
	return false;
}

static int drop_capabilities(void)
{
	cap_t caps = cap_init(); /* all flags clear */
	cap_value_t keep[MAX_NEEDS];
	int nkeep = 0, r = 0;

	if (!caps)
		return -errno;
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
		if (needed(c))
			keep[nkeep++] = c;
	if (nkeep > 0 && (cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) < 0 ||
			  cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) < 0)) {
		r = -errno;
		goto out;
	}
	/* Bounding set first (needs CAP_SETPCAP, which we still hold). */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		if (needed(c) || !CAP_IS_SUPPORTED(c))
			continue;
		if (cap_drop_bound(c) < 0 && errno != EINVAL) {
			r = log_error_errno(-errno, "privs: cannot drop capability %d from the bounding set", c);
			goto out;
		}
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		r = log_error_errno(-errno, "privs: cannot clear ambient capabilities");
		goto out;
	}
	/* uid 0 must not regain capabilities through exec or setuid. */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED) < 0) {
		r = log_error_errno(-errno, "privs: cannot lock securebits");
		goto out;
	}
	if (cap_set_proc(caps) < 0)
		r = log_error_errno(-errno, "privs: cannot set the process capabilities");
out:
	cap_free(caps);
	return r;
}

/* Syscalls the agent never makes after start-up; an attacker who gained
 * code execution in the agent would want them. Refused with EPERM (not
 * killed): a library probing an optional feature then gets a clean error. */
static const char *const denied_syscalls[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "kexec_load", "kexec_file_load",
	"init_module", "finit_module", "delete_module", "mount", "umount2", "pivot_root",
	"move_mount", "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
	"swapon", "swapoff", "reboot", "setns", "unshare", "open_by_handle_at", "iopl", "ioperm",
	"acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "add_key",
	"request_key", "keyctl", "userfaultfd", "personality", "quotactl", "chroot", "mknod",
	"mknodat", "sethostname", "setdomainname", "syslog", "vhangup", "lookup_dcookie",
	"perf_event_open", "fanotify_init", "uselib", "nfsservctl", "create_module",
};

static int install_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(denied_syscalls); i++) {
		int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0) {
			log_error_errno(r, "privs: seccomp rule for %s", denied_syscalls[i]);
			goto out;
		}
	}
	r = seccomp_load(ctx);
	if (r < 0)
		log_error_errno(r, "privs: cannot load the seccomp filter");
out:
	seccomp_release(ctx);
	return r;
}

/* Capabilities, no_new_privs and seccomp filters belong to a thread, not
 * to the process: a thread started before the drop would keep everything.
 * Parts start their threads after privs_apply() (e.g. from loop_defer);
 * this check makes a violation fatal instead of silent. */
static int check_single_thread(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	if (!d)
		return log_error_errno(-errno, "privs: cannot list /proc/self/task");
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	if (n != 1)
		return log_error_errno(-EBUSY, "privs: %d threads exist before the privilege drop; "
					       "threads must start after it or they keep every capability", n);
	return 0;
}

int privs_apply(void)
{
	int r;

	r = check_single_thread();
	if (r < 0)
		return r;
	r = drop_capabilities();
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return log_error_errno(-errno, "privs: cannot set no_new_privs");
	r = install_seccomp();
	if (r < 0)
		return r;
	seccomp_on = true;
	applied = true;
	for (size_t i = 0; i < nneeds; i++) {
		char *name = cap_to_name(needs[i].cap);
		log_info("privileges: keeping %s (%s)", name ? name : "?", needs[i].why);
		cap_free(name);
	}
	if (nneeds == 0)
		log_info("privileges: no capabilities kept");
	return 0;
}

void privs_status(void *userdata, json_object *out)
{
	json_object *kept = json_object_new_array();

	for (size_t i = 0; i < nneeds; i++) {
		char *name = cap_to_name(needs[i].cap);
		char buf[256];
		snprintf(buf, sizeof(buf), "%s (%s)", name ? name : "?", needs[i].why);
		cap_free(name);
		json_object_array_add(kept, json_object_new_string(buf));
	}
	json_object_object_add(out, "dropped", json_object_new_boolean(applied));
	json_object_object_add(out, "capabilities", kept);
	json_object_object_add(out, "no_new_privs", json_object_new_boolean(applied));
	json_object_object_add(out, "seccomp", json_object_new_string(seccomp_on ? "deny-list" : "off"));
}
