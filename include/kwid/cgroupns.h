/* cgroupns.h - make sure the agent reads cgroups as the host names them
 * (see userspace/cgroupns.c). */
#ifndef KWID_CGROUPNS_H
#define KWID_CGROUPNS_H

#include <inttypes.h>
#include <stdint.h>

enum kwid_cgroupns_state {
	KWID_CGROUPNS_INITIAL, /* started in the initial cgroup namespace */
	KWID_CGROUPNS_JOINED,  /* started in another one, joined the initial one */
	KWID_CGROUPNS_OWN,     /* stuck in its own: paths outside it are refused */
};

struct kwid_cgroupns {
	enum kwid_cgroupns_state state;
	uint64_t own_ino; /* the namespace the agent started in */
	int error;	  /* why joining failed (OWN) */
};

/* Join the initial cgroup namespace if the caller is not in it. Call
 * before any thread exists (setns is per thread). Logs what it did. */
void cgroupns_ensure_initial(struct kwid_cgroupns *out);
const char *cgroupns_state_to_string(enum kwid_cgroupns_state s);

#endif
