/* privs.h - least privilege after start-up.
 *
 * kwid-agent starts as root with full capabilities: it loads BPF programs,
 * binds sockets and opens what needs root. While starting, each part
 * declares the capabilities it still needs in the steady state, and why
 * (privs_need). Once every part has started, privs_apply() keeps exactly
 * that union: effective = permitted = the union, inheritable and ambient
 * empty, the bounding set reduced to it, securebits locked so uid 0 gains
 * nothing on exec, no_new_privs set, and a seccomp filter that refuses
 * the syscalls the agent never makes after start-up (module loading,
 * mounts, namespaces, ptrace, kexec, ...). */
#ifndef KWID_PRIVS_H
#define KWID_PRIVS_H

#include <json-c/json.h>
#include <sys/capability.h>

/* Record that the steady state needs `cap` (why: shown by kwidctl status). */
void privs_need(cap_value_t cap, const char *why);
/* Drop everything else; returns 0 or -errno (the agent refuses to run on
 * with more privilege than declared). */
int privs_apply(void);
/* Status section: kept capabilities with reasons, seccomp state. */
void privs_status(void *userdata, json_object *out);
/* Forget the declarations (tests). */
void privs_reset(void);

#endif
