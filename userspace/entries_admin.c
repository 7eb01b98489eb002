/* entries_admin.c - the admin commands for registration entries:
 * entry.create, entry.list, entry.show, entry.delete (kwidctl entry ...).
 * A create is answered only after the entry is durably stored. */
#include "kwid/admin.h"
#include "kwid/agent.h"
#include "kwid/entries.h"
#include "kwid/log.h"

int entries_admin_register(struct kwid_agent *a, struct kwid_entries *es);

static int64_t now_unix(void)
{
	return (int64_t)(now_real_ns() / 1000000000ull);
}

static void reply_entry_error(struct admin_request *req, const struct entry_error *err)
{
	char msg[600];

	entry_error_format(err, NULL, msg, sizeof(msg));
	admin_reply_error(req, "invalid", "%s", msg);
}

static int cmd_create(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_entries *es = userdata;
	_cleanup_(entry_freep) struct kwid_entry *e = NULL;
	struct entry_error err;
	int r;

	r = entry_from_json(args, 0, &e, &err);
	if (r == -EINVAL) {
		reply_entry_error(req, &err);
		return 0;
	}
	if (r < 0)
		return r;
	if (e->expires_at != 0 && e->expires_at <= now_unix()) {
		admin_reply_error(req, "invalid", "invalid expires_at \"%lld\": is in the past",
				  (long long)e->expires_at);
		return 0;
	}
	r = entries_create(es, e, &err);
	if (r == -EINVAL) {
		reply_entry_error(req, &err);
		return 0;
	}
	if (r < 0) {
		admin_reply_error(req, "internal", "cannot store the entry: %s", strerror(-r));
		return 0;
	}
	admin_reply_ok(req, entry_to_json(TAKE_PTR(e), true, now_unix()));
	return 0;
}

/* Optional filters of entry.list: exact SPIFFE ID, one selector held. */
static bool list_wanted(const struct kwid_entry *e, const char *spiffe_id, const char *selector)
{
	if (spiffe_id && !streq(e->spiffe_id, spiffe_id))
		return false;
	return !selector || selset_contains(&e->selectors, selector);
}

static int cmd_list(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_entries *es = userdata;
	_cleanup_free_ const struct kwid_entry **v = NULL;
	const char *spiffe_id, *selector;
	json_object *res, *arr;
	int64_t now = now_unix();
	size_t n;
	int r;

	if (admin_arg_string(req, args, "spiffe_id", false, &spiffe_id) < 0 ||
	    admin_arg_string(req, args, "selector", false, &selector) < 0)
		return 0;
	r = entries_list(es, &v, &n);
	if (r < 0)
		return r;
	res = json_object_new_object();
	arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		if (list_wanted(v[i], spiffe_id, selector))
			json_object_array_add(arr, entry_to_json(v[i], true, now));
	json_object_object_add(res, "count", json_object_new_int64((int64_t)json_object_array_length(arr)));
	json_object_object_add(res, "entries", arr);
	admin_reply_ok(req, res);
	return 0;
}

static int cmd_show(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_entries *es = userdata;
	const struct kwid_entry *e;
	const char *id;

	if (admin_arg_string(req, args, "id", true, &id) < 0)
		return 0;
	e = entries_get(es, id);
	if (!e) {
		admin_reply_error(req, "not_found", "no entry with id \"%.*s\"", ENTRY_ID_MAX, id);
		return 0;
	}
	admin_reply_ok(req, entry_to_json(e, true, now_unix()));
	return 0;
}

static int cmd_delete(struct admin_request *req, json_object *args, void *userdata)
{
	struct kwid_entries *es = userdata;
	const struct kwid_entry *e;
	json_object *res;
	const char *id;
	int r;

	if (admin_arg_string(req, args, "id", true, &id) < 0)
		return 0;
	e = entries_get(es, id);
	r = entries_delete(es, id);
	if (r == -ENOENT) {
		admin_reply_error(req, "not_found", "no entry with id \"%.*s\"", ENTRY_ID_MAX, id);
		return 0;
	}
	if (r == -EROFS) {
		admin_reply_error(req, "invalid", "entry %s is read-only: it comes from %s; edit that file instead",
				  e->id, e->source ? e->source : "the entries directory");
		return 0;
	}
	if (r < 0) {
		admin_reply_error(req, "internal", "cannot delete entry %s: %s", id, strerror(-r));
		return 0;
	}
	res = json_object_new_object();
	json_object_object_add(res, "id", json_object_new_string(id));
	json_object_object_add(res, "deleted", json_object_new_boolean(1));
	admin_reply_ok(req, res);
	return 0;
}

int entries_admin_register(struct kwid_agent *a, struct kwid_entries *es)
{
	const struct admin_command cmds[] = {
		{"entry.create", cmd_create, es},
		{"entry.list", cmd_list, es},
		{"entry.show", cmd_show, es},
		{"entry.delete", cmd_delete, es},
	};

	return admin_register(a->admin, cmds, ARRAY_SIZE(cmds));
}
