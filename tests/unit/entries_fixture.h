/* entries_fixture.h - a real (config, event loop, state directory) agent
 * for the entries unit tests, without sockets. Header-only: included by
 * test_entries.c and test_entry_store.c. */
#ifndef KWID_TEST_ENTRIES_FIXTURE_H
#define KWID_TEST_ENTRIES_FIXTURE_H

#include "kwid/agent.h"
#include "kwid/entries.h"
#include "kwid/log.h"

struct fixture {
	struct kwid_agent agent;
	struct kwid_entries *es;
	char dir[64];	  /* temp dir holding state/ and ro/ */
	char state[96];
	char ro[96];
	unsigned notified; /* KWID_CHANGE_ENTRIES seen */
};

static void fixture_on_change(void *userdata, enum kwid_change kind, const void *arg)
{
	struct fixture *f = userdata;

	if (kind == KWID_CHANGE_ENTRIES)
		f->notified++;
}

/* Agent with trust domain example.org and, when with_dir, entries.dir set
 * to f->ro (created, mode 0755). Does not start the entries part. */
static void fixture_init(struct fixture *f, bool with_dir)
{
	json_object *ov = json_object_new_object(), *entries;
	char *err = NULL;

	memset(f, 0, sizeof(*f));
	log_set_level(LOG_LVL_WARN);
	strcpy(f->dir, "/tmp/kwid-entries-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->ro, sizeof(f->ro), "%s/ro", f->dir);
	assert_int_equal(mkdir(f->ro, 0755), 0);
	json_object_object_add(ov, "state_dir", json_object_new_string(f->state));
	if (with_dir) {
		entries = json_object_new_object();
		json_object_object_add(entries, "dir", json_object_new_string(f->ro));
		json_object_object_add(ov, "entries", entries);
	}
	if (config_load(NULL, ov, &f->agent.cfg, &err) < 0)
		fail_msg("config: %s", err);
	json_object_put(ov);
	assert_int_equal(loop_new(&f->agent.loop), 0);
	assert_int_equal(agent_subscribe(&f->agent, KWID_CHANGE_ENTRIES, fixture_on_change, f), 0);
}

static int fixture_start(struct fixture *f)
{
	int r = entries_new(&f->agent, &f->es);

	if (r == 0)
		f->agent.entries = f->es;
	return r;
}

static void fixture_stop(struct fixture *f)
{
	entries_free(f->es);
	f->es = f->agent.entries = NULL;
	loop_run_once(f->agent.loop, 0); /* deferred frees */
}

static void fixture_fini(struct fixture *f)
{
	char cmd[128];

	fixture_stop(f);
	agent_free_subscriptions(&f->agent);
	loop_free(f->agent.loop);
	config_free(f->agent.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
}

/* Build an entry from JSON text; fails the test on a parse error. */
static _unused_ struct kwid_entry *entry_json(const char *text)
{
	json_object *o = json_tokener_parse(text);
	struct kwid_entry *e = NULL;
	struct entry_error err;

	assert_non_null(o);
	if (entry_from_json(o, ENTRY_JSON_ALLOW_CREATED, &e, &err) < 0)
		fail_msg("entry_json(%s): %s %s %s", text, err.field, err.value, err.rule);
	json_object_put(o);
	return e;
}

/* A sorted workload selector set from a NULL-terminated list. */
static _unused_ void workload(struct kwid_selector_set *s, const char *const *sels)
{
	selset_init(s);
	for (; *sels; sels++)
		assert_int_equal(selset_add_str(s, *sels), 0);
	selset_sort(s);
}

#endif
