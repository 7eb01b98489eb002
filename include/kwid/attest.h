/* attest.h - workload attestation: kernel evidence in, selectors out.
 *
 * Each attestor (attestors/<name>.c) implements struct kwid_attestor: it
 * gets the evidence gathered once per attestation (struct kwid_attest_ctx)
 * and adds selectors. An attestor that fails adds nothing, returns -errno
 * and is reported (status counter, log line, the group's error); it never
 * adds a selector it is not sure of.
 *
 * attest_start() is the one entry point for consumers (Workload API,
 * kwidctl selectors/why): it waits for the binary's measurement if it is
 * still pending, runs every attestor, and finally confirms that the same
 * exec is still behind the caller. */
#ifndef KWID_ATTEST_H
#define KWID_ATTEST_H

#include <json-c/json.h>
#include <sys/types.h>

#include "kwid/proc.h"
#include "kwid/selectors.h"

struct kwid_agent;
struct kwid_attestors;
struct kwid_attest_op;
struct kwid_cgroup_membership;
struct kwid_runtime_cache;

/* Evidence read once per attestation and shared by every attestor. */
struct kwid_attest_ctx {
	struct kwid_agent *agent;
	const struct kwid_proc *proc;	  /* the exec being attested */
	struct kwid_creds creds;	  /* live, from /proc/<pid>/status */
	const gid_t *groups;		  /* live supplementary groups */
	size_t ngroups;
	const char *cgroup_text;	  /* /proc/<pid>/cgroup, as the kernel reports it to us */
	bool exe_unchanged;		  /* measurer_check_unchanged() == 0 */

	/* cgroup_text parsed once (kwid/cgroup_path.h); NULL when it was
	 * refused, and then cgroup_error/cgroup_why say why. */
	const struct kwid_cgroup_membership *cgroup;
	int cgroup_error;
	const char *cgroup_why;
	/* Ancestors from the process table, parent first, each checked
	 * against the child's recorded parent start time; bounded depth. */
	const struct kwid_proc *const *ancestors;
	size_t nancestors;
	/* Container runtimes' on-disk state, cached (kwid/runtime_state.h). */
	struct kwid_runtime_cache *runtimes;
	/* attest_note() writes here: the reason an attestor gives for failing
	 * or for leaving selectors out. */
	char *note;
	size_t note_size;
	/* attest_incomplete() sets it (see struct kwid_attest_group). */
	bool *incomplete;
};

/* Give the reason for a failure (or a partial result) of the running
 * attestor; shown by `kwidctl selectors` and logged. */
void attest_note(const struct kwid_attest_ctx *ctx, const char *fmt, ...) _printf_(2, 3);
/* The same, after what was noted already ("; " between). */
void attest_note_append(const struct kwid_attest_ctx *ctx, const char *fmt, ...) _printf_(2, 3);
/* The running attestor succeeds without selectors whose evidence is still
 * to come; a change notification follows when it arrives. */
void attest_incomplete(const struct kwid_attest_ctx *ctx);

struct kwid_attestor {
	const char *name; /* "unix", "container", "k8s", "systemd", "lineage", ... */
	int (*init)(struct kwid_agent *a, void **state);	/* optional */
	void (*fini)(void *state);				/* optional */
	int (*attest)(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out);
	void (*status)(void *state, json_object *out);		/* optional */
};

/* Every attestor the agent runs, NULL-terminated (attestors/registry.c). */
extern const struct kwid_attestor *const kwid_attestor_registry[];

struct kwid_attest_group {
	const char *attestor;
	struct kwid_selector_set selectors;
	int error;     /* 0, or -errno when the attestor failed */
	char *message; /* why it failed, or NULL */
	/* Succeeded without some selectors whose evidence is missing for now
	 * (the kubelet has not answered): the Workload API says UNAVAILABLE
	 * rather than PERMISSION_DENIED when that leaves no identity. */
	bool incomplete;
};

struct kwid_attestation {
	struct kwid_exec_id who;
	struct kwid_selector_set all; /* union of every group, sorted */
	struct kwid_attest_group *groups;
	size_t ngroups;
};

void attestation_free(struct kwid_attestation *att);
/* {"pid", "exec", "selectors": [...], "groups": [{"attestor", "selectors",
 * "error", "message"}]}: what `kwidctl selectors --json` prints. */
json_object *attestation_to_json(const struct kwid_attestation *att);

/* err: 0 and att (ownership passes to the callee), or -ESRCH (the process
 * is gone), -ESTALE (it exec'd something else meanwhile), other -errno.
 * A failing attestor does not fail the attestation: its group carries
 * the error and no selectors. */
typedef void (*attest_done_fn)(void *userdata, int err, struct kwid_attestation *att);

/* Attest exec `who`. pidfd (or -1) is the caller's pidfd, used for the
 * final confirmation; it must stay open until fn runs or the operation is
 * cancelled (with -1 the pipeline opens its own). fn runs later on the
 * loop, never inside this call, exactly once unless cancelled. A negative
 * return (-ESRCH: no such exec in the table; -ENOMEM) means fn will not
 * run. */
int attest_start(struct kwid_attestors *as, const struct kwid_exec_id *who, int pidfd,
		 attest_done_fn fn, void *userdata, struct kwid_attest_op **op);
/* After this, fn is never called. Safe anywhere on the loop thread,
 * including from a change notification delivered while this very
 * operation confirms its exec (the free is then deferred to its end). */
void attest_cancel(struct kwid_attest_op *op);

/* For admin commands that attest a pid (kwidctl selectors, why): pin the
 * process with a pidfd, bind it to the exec the table has for it and start
 * attesting that exec. On success *pidfd is the caller's to close once fn
 * ran. On failure fn will not run, req has been answered (not_found,
 * unavailable) and the -errno is returned. */
struct admin_request;
int attest_admin_start(struct kwid_agent *a, struct admin_request *req, pid_t pid, attest_done_fn fn,
		       void *userdata, int *pidfd);
/* Answer req for an attestation of pid that ended with err < 0. */
void attest_admin_reply_error(struct admin_request *req, pid_t pid, int err);

int attestors_new(struct kwid_agent *a, struct kwid_attestors **out);
void attestors_free(struct kwid_attestors *as);

#endif
