/* agent.c - change notifications and status sections of the agent object
 * (see kwid/agent.h). */
#include "kwid/agent.h"
#include "kwid/util.h"

int agent_subscribe(struct kwid_agent *a, unsigned mask, kwid_change_fn fn, void *userdata)
{
	if (a->nsubs == a->subs_cap) {
		size_t ncap = a->subs_cap ? a->subs_cap * 2 : 8;
		struct kwid_subscriber *n = reallocarray_safe(a->subs, ncap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		a->subs = n;
		a->subs_cap = ncap;
	}
	a->subs[a->nsubs++] = (struct kwid_subscriber){mask, fn, userdata};
	return 0;
}

void agent_unsubscribe(struct kwid_agent *a, kwid_change_fn fn, void *userdata)
{
	for (size_t i = 0; i < a->nsubs; i++) {
		if (a->subs[i].fn == fn && a->subs[i].userdata == userdata) {
			memmove(&a->subs[i], &a->subs[i + 1], (a->nsubs - i - 1) * sizeof(*a->subs));
			a->nsubs--;
			return;
		}
	}
}

void agent_notify(struct kwid_agent *a, enum kwid_change kind, const void *arg)
{
	/* Index loop: a subscriber may unsubscribe itself while being called. */
	for (size_t i = 0; i < a->nsubs; i++) {
		struct kwid_subscriber s = a->subs[i];
		if (s.mask & kind)
			s.fn(s.userdata, kind, arg);
	}
}

int agent_status_register(struct kwid_agent *a, const char *name, kwid_status_fn fn, void *userdata)
{
	if (a->nstatus == a->status_cap) {
		size_t ncap = a->status_cap ? a->status_cap * 2 : 8;
		struct kwid_status_section *n = reallocarray_safe(a->status, ncap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		a->status = n;
		a->status_cap = ncap;
	}
	a->status[a->nstatus++] = (struct kwid_status_section){name, fn, userdata};
	return 0;
}

json_object *agent_status(struct kwid_agent *a)
{
	json_object *root = json_object_new_object(), *agent = json_object_new_object();

	json_object_object_add(agent, "version", json_object_new_string(KWID_VERSION));
	json_object_object_add(agent, "pid", json_object_new_int(getpid()));
	json_object_object_add(agent, "uptime_s",
			       json_object_new_int64((int64_t)((now_real_ns() - a->started_real_ns) /
							       1000000000ull)));
	json_object_object_add(agent, "trust_domain", json_object_new_string(a->cfg->trust_domain));
	json_object_object_add(agent, "config", json_object_new_string(a->cfg->source));
	json_object_object_add(agent, "state_dir", json_object_new_string(a->cfg->state_dir));
	json_object_object_add(agent, "socket", json_object_new_string(a->cfg->socket_path));
	json_object_object_add(agent, "admin_socket", json_object_new_string(a->cfg->admin_socket_path));
	json_object_object_add(root, "agent", agent);
	for (size_t i = 0; i < a->nstatus; i++) {
		json_object *sec = json_object_new_object();
		a->status[i].fn(a->status[i].userdata, sec);
		json_object_object_add(root, a->status[i].name, sec);
	}
	return root;
}

void agent_free_subscriptions(struct kwid_agent *a)
{
	free(a->subs);
	a->subs = NULL;
	a->nsubs = a->subs_cap = 0;
	free(a->status);
	a->status = NULL;
	a->nstatus = a->status_cap = 0;
}
