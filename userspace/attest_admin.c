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
		json_object_array_add(groups, jg);
	}
	json_object_object_add(o, "groups", groups);
	return o;
}

static void on_attested(void *userdata, int err, struct kwid_attestation *att)
{
	struct selectors_req *sr = userdata;
	pid_t pid = 0;

	if (err == 0) {
		admin_reply_ok(sr->req, attestation_to_json(att));
	} else {
		pid = admin_request_peer_pid(sr->req);
		if (err == -ESRCH)
			admin_reply_error(sr->req, "not_found", "the process exited during attestation");
		else if (err == -ESTALE)
			admin_reply_error(sr->req, "unavailable", "the process executed another program during attestation; try again");
		else
			admin_reply_error(sr->req, "internal", "attestation failed: %s", strerror(-err));
		log_debug("admin selectors (from pid %d) failed: %s", (int)pid, strerror(-err));
	}
	attestation_free(att);
	close(sr->pidfd);
	free(sr);
}

static int cmd_selectors(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_agent *a = userdata;
	struct selectors_req *sr;
	struct kwid_exec_id id;
	int64_t pid;
	int pidfd, r;

	if (admin_arg_int(req, args, "pid", true, 1, INT_MAX, &pid) < 0)
		return 0;
	if (!a->attestors || !a->tracker) {
		admin_reply_error(req, "unavailable", "attestation is not running");
		return 0;
	}
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0) {
		admin_reply_error(req, "not_found", "no process with pid %lld", (long long)pid);
		return 0;
	}
	r = tracker_identify_peer(a->tracker, pidfd, (pid_t)pid, &id);
	if (r < 0) {
		close(pidfd);
		if (r == -ENOENT || r == -ESRCH)
			admin_reply_error(req, "not_found", "pid %lld: %s", (long long)pid,
					  r == -ENOENT ? "not in the process table" : "no such process");
		else
			admin_reply_error(req, "internal", "pid %lld: cannot bind it to its exec: %s", (long long)pid,
					  strerror(-r));
		return 0;
	}
	sr = calloc(1, sizeof(*sr));
	if (!sr) {
		close(pidfd);
		return -ENOMEM;
	}
	sr->req = req;
	sr->pidfd = pidfd;
	r = attest_start(a->attestors, &id, pidfd, on_attested, sr, NULL);
	if (r < 0) {
		close(pidfd);
		free(sr);
		if (r == -ESRCH) {
			admin_reply_error(req, "not_found", "pid %lld exited", (long long)pid);
			return 0;
		}
		return r;
	}
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
