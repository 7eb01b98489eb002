/* sandbox.h - confinement of the Workload API front, the process that
 * parses untrusted bytes from the public socket (OpenSSH's privilege
 * separation is the model): no privileges, no capabilities, no way to
 * regain them, and a seccomp allow-list of the few system calls an event
 * loop over already-open sockets needs. */
#ifndef KWID_SANDBOX_H
#define KWID_SANDBOX_H

#include <sys/types.h>

/* In a freshly forked child, before exec: clear the capability bounding
 * and ambient sets, drop supplementary groups, switch real/effective/
 * saved ids to uid/gid (which must not be 0), set PR_SET_NO_NEW_PRIVS, and
 * check that no capability is left and uid 0 cannot be regained.
 * Needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP (for any capability still
 * in the bounding set). */
int sandbox_drop_privileges(uid_t uid, gid_t gid);

/* After start-up of the front: non-dumpable (no ptrace or /proc/<pid>/mem
 * by other processes of the same uid), then the seccomp allow-list; any
 * other system call kills the process (SIGSYS). */
int sandbox_enter_front(void);

#endif
