/* entries_why.c - the "why" admin command (kwidctl why PID): attest the
 * process exactly as the Workload API would, then show the entries that
 * match (the first is its default identity) and the near misses, each
 * with the selectors the process lacks. The answer is the JSON of
 * `kwidctl selectors` plus "matches" and "near_misses". */
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/entries.h"
#include "kwid/log.h"
#include "kwid/proc.h"


#define WHY_MAX_NEAR_MISSES 10

int entries_why_register(struct kwid_agent *a);

struct why_request {
	struct admin_request *req;
	struct kwid_agent *agent;
	struct kwid_entries *es;
	pid_t pid;
	int pidfd;
};

static int64_t now_unix(void)
{
	return (int64_t)(now_real_ns() / 1000000000ull);
}

static json_object *string_array(char *const *v, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static int matches_to_json(struct kwid_entries *es, const struct kwid_selector_set *all, json_object **out)
{
	_cleanup_free_ const struct kwid_entry **m = NULL;
	int64_t now = now_unix();
	size_t n = 0;
	int r = entries_match(es, all, &m, &n);

	if (r < 0)
		return r;
	*out = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(*out, entry_to_json(m[i], true, now));
	return 0;
}

static int near_misses_to_json(struct kwid_entries *es, const struct kwid_selector_set *all, json_object **out)
{
	struct entry_near_miss *v = NULL;
	int64_t now = now_unix();
	size_t n = 0;
	int r = entries_near_misses(es, all, WHY_MAX_NEAR_MISSES, &v, &n);

	if (r < 0)
		return r;
	*out = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "entry", entry_to_json(v[i].entry, true, now));
		json_object_object_add(o, "missing", string_array((char *const *)v[i].missing, v[i].nmissing));
		json_object_array_add(*out, o);
	}
	entry_near_misses_free(v, n);
	return 0;
}

static void why_free(struct why_request *w)
{
	if (w->pidfd >= 0)
		close(w->pidfd);
	free(w);
}

static void on_attested(void *userdata, int err, struct kwid_attestation *att)
{
	struct why_request *w = userdata;
	json_object *res, *matches = NULL, *near = NULL;
	int r;

	if (err < 0) {
		attest_admin_reply_error(w->req, w->pid, err);
		goto out;
	}
	r = matches_to_json(w->es, &att->all, &matches);
	if (r == 0)
		r = near_misses_to_json(w->es, &att->all, &near);
	if (r < 0) {
		json_object_put(matches);
		admin_reply_error(w->req, "internal", "cannot match process %d: %s", (int)w->pid, strerror(-r));
		goto out;
	}
	/* What `kwidctl selectors` shows, plus the entries. */
	res = attestation_to_json(att);
	json_object_object_add(res, "matches", matches);
	json_object_object_add(res, "near_misses", near);
	admin_reply_ok(w->req, res);
out:
	if (att)
		attestation_free(att);
	why_free(w);
}

/* Attest the process; the answer follows from on_attested(). */
static int cmd_why(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_agent *a = userdata;
	struct why_request *w;
	int64_t pid;

	if (admin_arg_int(req, args, "pid", true, 1, INT32_MAX, &pid) < 0)
		return 0;
	if (!a->entries) {
		admin_reply_error(req, "unavailable", "this agent runs without registration entries");
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct why_request){req, a, a->entries, (pid_t)pid, -1};
	if (attest_admin_start(a, req, w->pid, on_attested, w, &w->pidfd) < 0)
		why_free(w);
	return 0;
}

int entries_why_register(struct kwid_agent *a)
{
	const struct admin_command cmd = {"why", cmd_why, a};

	return admin_register(a->admin, &cmd, 1);
}
