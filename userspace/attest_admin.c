/* attest_admin.c - the admin command behind `kwidctl selectors PID`: bind
 * the pid to the exec the process table has for it (through a pidfd, so a
 * reused pid is noticed), attest it and answer with every attestor's
 * group, failures included. */
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/log.h"

#include <limits.h>
#include <sys/syscall.h>

struct selectors_req {
	struct admin_request *req;
	pid_t pid;
	int pidfd;
};

static json_object *selset_to_json(const struct kwid_selector_set *s)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(a, json_object_new_string(s->v[i]));
	return a;
}

static json_object *exec_to_json(const struct kwid_exec_id *id)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "tgid", json_object_new_int(id->tgid));
	json_object_object_add(o, "start_ns", json_object_new_int64((int64_t)id->start_ns));
	json_object_object_add(o, "exec_seq", json_object_new_int64((int64_t)id->exec_seq));
	return o;
}

json_object *attestation_to_json(const struct kwid_attestation *att)
{
	json_object *o = json_object_new_object(), *groups = json_object_new_array();

	json_object_object_add(o, "pid", json_object_new_int(att->who.tgid));
	json_object_object_add(o, "exec", exec_to_json(&att->who));
	json_object_object_add(o, "selectors", selset_to_json(&att->all));
	for (size_t i = 0; i < att->ngroups; i++) {
		const struct kwid_attest_group *g = &att->groups[i];
		json_object *jg = json_object_new_object();

		json_object_object_add(jg, "attestor", json_object_new_string(g->attestor));
		json_object_object_add(jg, "selectors", selset_to_json(&g->selectors));
		json_object_object_add(jg, "error", g->error ? json_object_new_string(strerror(-g->error)) : NULL);
		json_object_object_add(jg, "message", g->message ? json_object_new_string(g->message) : NULL);
		if (g->incomplete)
			json_object_object_add(jg, "incomplete", json_object_new_boolean(true));
		json_object_array_add(groups, jg);
	}
	json_object_object_add(o, "groups", groups);
	return o;
}

void attest_admin_reply_error(struct admin_request *req, pid_t pid, int err)
{
	if (err == -ESRCH)
		admin_reply_error(req, "not_found", "process %d exited while it was being attested", (int)pid);
	else if (err == -ESTALE)
		admin_reply_error(req, "unavailable",
				  "process %d executed another program while it was being attested; run again", (int)pid);
	else
		admin_reply_error(req, "unavailable", "cannot attest process %d: %s", (int)pid, strerror(-err));
}

int attest_admin_start(struct kwid_agent *a, struct admin_request *req, pid_t pid, attest_done_fn fn,
		       void *userdata, int *pidfd)
{
	struct kwid_exec_id id;
	int fd, r;

	if (!a->attestors || !a->tracker) {
		admin_reply_error(req, "unavailable", "this agent runs without process tracking or attestation");
		return -ENODEV;
	}
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		r = -errno;
		if (r == -ESRCH)
			admin_reply_error(req, "not_found", "no process with pid %d", (int)pid);
		else
			admin_reply_error(req, "unavailable", "pid %d: cannot open a pidfd: %s", (int)pid, strerror(-r));
		return r;
	}
	r = tracker_identify_peer(a->tracker, fd, pid, &id);
	if (r == 0)
		r = attest_start(a->attestors, &id, fd, fn, userdata, NULL);
	if (r < 0) {
		close(fd);
		if (r == -ENOENT)
			admin_reply_error(req, "not_found", "process %d is not in the process table", (int)pid);
		else
			attest_admin_reply_error(req, pid, r);
		return r;
	}
	*pidfd = fd;
	return 0;
}

static void on_attested(void *userdata, int err, struct kwid_attestation *att)
{
	struct selectors_req *sr = userdata;

	if (err == 0)
		admin_reply_ok(sr->req, attestation_to_json(att));
	else
		attest_admin_reply_error(sr->req, sr->pid, err);
	attestation_free(att);
	close(sr->pidfd);
	free(sr);
}

static int cmd_selectors(struct admin_request *req, json_object *args, void *userdata)
{
	struct selectors_req *sr;
	int64_t pid;

	if (admin_arg_int(req, args, "pid", true, 1, INT_MAX, &pid) < 0)
		return 0;
	sr = calloc(1, sizeof(*sr));
	if (!sr)
		return -ENOMEM;
	sr->req = req;
	sr->pid = (pid_t)pid;
	if (attest_admin_start(userdata, req, sr->pid, on_attested, sr, &sr->pidfd) < 0)
		free(sr);
	return 0;
}

/* Commands find the attestors through a->attestors when they run. */
int attest_admin_register(struct kwid_agent *a)
{
	const struct admin_command cmds[] = {
		{"selectors", cmd_selectors, a},
	};

	return admin_register(a->admin, cmds, ARRAY_SIZE(cmds));
}
