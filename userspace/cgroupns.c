/* cgroupns.c - the agent's cgroup namespace. The kernel writes
 * /proc/<pid>/cgroup relative to the *reader's* cgroup namespace: an agent
 * started inside one (a container, `unshare -C`) sees every process outside
 * it as "/../..", which the cgroup path parser rightly refuses, so no
 * container or pod selector would come out. At start-up (root, no threads
 * yet) the agent joins the initial cgroup namespace through any process
 * that is in it. */
#include "kwid/cgroupns.h"
#include "kwid/log.h"
#include "kwid/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

/* The inode number of the initial cgroup namespace (PROC_CGROUP_INIT_INO,
 * include/linux/proc_ns.h; fixed since 4.6). */
#define CGROUP_NS_INIT_INO 0xEFFFFFFBu

static int ns_ino(const char *path, uint64_t *ino)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	*ino = (uint64_t)st.st_ino;
	return 0;
}

/* setns into the cgroup namespace of the first process found in the
 * initial one (kthreadd is, wherever the host pid namespace is visible). */
static int join_from_proc(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int r = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[64];
		uint64_t ino = 0;
		pid_t pid;
		int fd;

		if (parse_pid(de->d_name, &pid) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/cgroup", (int)pid);
		if (ns_ino(path, &ino) < 0 || ino != CGROUP_NS_INIT_INO)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		r = setns(fd, CLONE_NEWCGROUP) < 0 ? -errno : 0;
		close(fd);
		if (r == 0)
			break;
	}
	closedir(d);
	return r;
}

void cgroupns_ensure_initial(struct kwid_cgroupns *out)
{
	uint64_t ino = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = ns_ino("/proc/self/ns/cgroup", &ino);
	if (r < 0) {
		/* a kernel without cgroup namespaces: every reader sees the host */
		out->state = KWID_CGROUPNS_INITIAL;
		return;
	}
	out->own_ino = ino;
	if (ino == CGROUP_NS_INIT_INO) {
		out->state = KWID_CGROUPNS_INITIAL;
		return;
	}
	r = join_from_proc();
	if (r == 0 && ns_ino("/proc/self/ns/cgroup", &ino) == 0 && ino == CGROUP_NS_INIT_INO) {
		out->state = KWID_CGROUPNS_JOINED;
		log_info("the agent started in cgroup namespace %" PRIu64 ": joined the initial one, so every "
			 "process's cgroup is read as the host names it", out->own_ino);
		return;
	}
	out->state = KWID_CGROUPNS_OWN;
	out->error = r < 0 ? r : -EPERM;
	log_warn_errno(out->error, "the agent runs in its own cgroup namespace (%" PRIu64 ") and cannot join the "
		       "initial one: processes outside it have no container, pod or systemd selectors (their cgroup "
		       "paths read as \"/..\")", out->own_ino);
}

const char *cgroupns_state_to_string(enum kwid_cgroupns_state s)
{
	switch (s) {
	case KWID_CGROUPNS_INITIAL:
		return "initial";
	case KWID_CGROUPNS_JOINED:
		return "joined initial";
	case KWID_CGROUPNS_OWN:
		return "own (cgroup paths outside it refused)";
	}
	return "unknown";
}
