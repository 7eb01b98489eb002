/* entries.c - the registration entries part of the agent: the set of
 * entries (durable ones from the store, read-only ones from the
 * directory), the rules that span entries (unique ids, no duplicates,
 * trust domain), matching through the selector index, expiry, and change
 * notifications. See kwid/entries.h. */
#include "kwid/entries.h"
#include "kwid/agent.h"
#include "kwid/entry_dir.h"
#include "kwid/entry_index.h"
#include "kwid/entry_store.h"
#include "kwid/log.h"
#include "kwid/spiffe_id.h"
#include "kwid/strmap.h"

#include <time.h>

#define ENTRIES_MAX_DEFAULT 1000000

struct kwid_entries {
	struct kwid_agent *agent;
	const char *trust_domain;
	uint64_t max_entries;
	struct entry_store *store;
	struct entry_dir *dir;
	struct strmap *by_id;	    /* id -> struct kwid_entry (owned) */
	struct strmap *by_identity; /* entry_identity_key() -> struct kwid_entry */
	struct entry_index *index;
	size_t nread_only;
	uint64_t next_revision;
	struct kwid_timer *expiry_timer;
	int64_t next_expiry; /* unix s the timer is armed for, 0: not armed */
	/* Entries removed during this loop iteration: callers may still hold
	 * pointers until control returns to the loop (see entries.h). */
	struct graveyard *grave;
};

/* A batch of removed entries, freed by a deferred call. It lives apart
 * from struct kwid_entries so that the deferred call stays safe when the
 * part is freed first (entries_free empties the batch and detaches it). */
struct graveyard {
	struct kwid_entries *owner; /* NULL once detached */
	struct kwid_entry **v;
	size_t n, cap;
};

int entries_admin_register(struct kwid_agent *a, struct kwid_entries *es);
int entries_why_register(struct kwid_agent *a);

static int64_t now_unix(void)
{
	return (int64_t)(now_real_ns() / 1000000000ull);
}

/* ---- deferred freeing ---- */

static void graveyard_empty(struct graveyard *g)
{
	for (size_t i = 0; i < g->n; i++)
		entry_free(g->v[i]);
	free(g->v);
	g->v = NULL;
	g->n = g->cap = 0;
}

static void graveyard_flush(void *userdata)
{
	struct graveyard *g = userdata;

	graveyard_empty(g);
	if (g->owner)
		g->owner->grave = NULL;
	free(g);
}

static void bury(struct kwid_entries *es, struct kwid_entry *e)
{
	struct graveyard *g = es->grave;

	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g || loop_defer(es->agent->loop, graveyard_flush, g) < 0) {
			/* Cannot defer: free now rather than leak. */
			free(g);
			entry_free(e);
			return;
		}
		g->owner = es;
		es->grave = g;
	}
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 16;
		struct kwid_entry **n = reallocarray_safe(g->v, ncap, sizeof(*n));
		if (!n) {
			entry_free(e);
			return;
		}
		g->v = n;
		g->cap = ncap;
	}
	g->v[g->n++] = e;
}

/* ---- expiry ---- */

static void expiry_arm(struct kwid_entries *es, int64_t at)
{
	int64_t now = now_unix();

	if (at == 0 || at <= now || (es->next_expiry && es->next_expiry <= at))
		return;
	es->next_expiry = at;
	/* A second late on purpose: at `at` itself the entry has expired
	 * (entry_expired() is <=), so subscribers see it gone. */
	loop_timer_arm(es->expiry_timer, (uint64_t)(at - now + 1) * 1000000000ull);
}

static void on_expiry(struct kwid_timer *t, void *userdata)
{
	struct kwid_entries *es = userdata;
	int64_t now = now_unix(), next = 0;
	size_t it = 0;
	void *v;

	log_info("entries: some entries expired, re-evaluating workloads");
	es->next_expiry = 0;
	while (strmap_next(es->by_id, &it, NULL, &v)) {
		struct kwid_entry *e = v;
		if (e->expires_at > now && (next == 0 || e->expires_at < next))
			next = e->expires_at;
	}
	expiry_arm(es, next);
	agent_notify(es->agent, KWID_CHANGE_ENTRIES, NULL);
}

/* ---- adding and removing ---- */

/* Check the rules that span entries; assign an id when there is none. */
static int check_new(struct kwid_entries *es, struct kwid_entry *e, const char *identity,
		     struct entry_error *err)
{
	struct kwid_entry *other;
	char td[SPIFFE_TD_MAX + 1];

	if (!spiffe_id_is_workload_in(e->spiffe_id, es->trust_domain)) {
		if (spiffe_id_trust_domain(e->spiffe_id, td, sizeof(td)) == 0 && !streq(td, es->trust_domain))
			return entry_error_set(err, "spiffe_id", e->spiffe_id,
				    "trust domain %s is not the agent's (%s)", td, es->trust_domain);
		return entry_error_set(err, "spiffe_id", e->spiffe_id, "not a workload SPIFFE ID of %s",
			    es->trust_domain);
	}
	if (strmap_size(es->by_id) >= es->max_entries)
		return entry_error_set(err, "entry", NULL, "the agent already holds %llu entries (entries.max_entries)",
			    (unsigned long long)es->max_entries);
	other = strmap_get(es->by_identity, identity);
	if (other)
		return entry_error_set(err, "selectors", NULL,
			    "entry %s already maps exactly these selectors to %s (duplicate)", other->id,
			    e->spiffe_id);
	if (!e->id) {
		/* 122 random bits: a collision means a broken RNG, but
		 * retrying costs nothing. */
		for (int i = 0; i < 4 && (!e->id || strmap_get(es->by_id, e->id)); i++) {
			int r = entry_assign_random_id(e);
			if (r < 0)
				return r;
		}
	}
	other = strmap_get(es->by_id, e->id);
	if (other)
		return entry_error_set(err, "id", e->id, "an entry with this id exists already%s",
			    other->read_only ? " (read-only, from the entries directory)" : "");
	return 0;
}

static int insert(struct kwid_entries *es, struct kwid_entry *e, const char *identity)
{
	int r = strmap_put(es->by_id, e->id, e);

	if (r < 0)
		return r;
	r = strmap_put(es->by_identity, identity, e);
	if (r < 0)
		goto fail_id;
	r = entry_index_add(es->index, e);
	if (r < 0)
		goto fail_identity;
	if (e->read_only)
		es->nread_only++;
	expiry_arm(es, e->expires_at);
	return 0;
fail_identity:
	strmap_remove(es->by_identity, identity);
fail_id:
	strmap_remove(es->by_id, e->id);
	return r;
}

int entries_add(struct kwid_entries *es, struct kwid_entry *e, bool persist, struct entry_error *err)
{
	_cleanup_free_ char *identity = entry_identity_key(e);
	int r;

	if (!identity)
		return -ENOMEM;
	r = check_new(es, e, identity, err);
	if (r < 0)
		return r;
	if (e->created_ns == 0 && !e->read_only)
		e->created_ns = (int64_t)now_real_ns();
	e->revision = ++es->next_revision;
	if (persist) {
		r = entry_store_put(es->store, e);
		if (r < 0)
			return r;
	}
	r = insert(es, e, identity);
	if (r < 0 && persist)
		entry_store_delete(es->store, e->id);
	return r;
}

int entries_create(struct kwid_entries *es, struct kwid_entry *e, struct entry_error *err)
{
	int r = entries_add(es, e, true, err);

	if (r < 0)
		return r;
	log_info("entries: created %s: %s", e->id, e->spiffe_id);
	agent_notify(es->agent, KWID_CHANGE_ENTRIES, NULL);
	return 0;
}

/* Take e out of every structure and bury it. */
static void remove_entry(struct kwid_entries *es, struct kwid_entry *e)
{
	_cleanup_free_ char *identity = entry_identity_key(e);

	entry_index_remove(es->index, e);
	if (identity)
		strmap_remove(es->by_identity, identity);
	strmap_remove(es->by_id, e->id);
	if (e->read_only)
		es->nread_only--;
	bury(es, e);
}

int entries_delete(struct kwid_entries *es, const char *id)
{
	struct kwid_entry *e = strmap_get(es->by_id, id);
	int r;

	if (!e)
		return -ENOENT;
	if (e->read_only)
		return -EROFS;
	r = entry_store_delete(es->store, id);
	if (r < 0)
		return r;
	log_info("entries: deleted %s (%s)", e->id, e->spiffe_id);
	remove_entry(es, e);
	agent_notify(es->agent, KWID_CHANGE_ENTRIES, NULL);
	return 0;
}

/* ---- read-only entries ---- */

/* Drop the read-only entries `v` does not hold unchanged; mark the ones
 * kept by clearing their slot in v. Returns whether anything changed. */
static bool drop_changed_read_only(struct kwid_entries *es, struct kwid_entry **v, size_t n)
{
	_cleanup_(strmap_freep) struct strmap *incoming = NULL;
	_cleanup_free_ struct kwid_entry **old = calloc_array(es->nread_only, sizeof(*old));
	size_t nold = 0, it = 0;
	bool changed = false;
	void *p;

	if (!old || strmap_new(&incoming) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i]->id)
			strmap_put(incoming, v[i]->id, &v[i]); /* a duplicate id fails later */
	while (strmap_next(es->by_id, &it, NULL, &p))
		if (((struct kwid_entry *)p)->read_only && nold < es->nread_only)
			old[nold++] = p;
	for (size_t i = 0; i < nold; i++) {
		struct kwid_entry **slot = strmap_get(incoming, old[i]->id);
		if (slot && *slot && entry_equal(*slot, old[i])) {
			/* Unchanged: keep the old object and its revision. */
			char *src = old[i]->source;
			old[i]->source = (*slot)->source;
			(*slot)->source = src;
			entry_free(*slot);
			*slot = NULL;
			continue;
		}
		remove_entry(es, old[i]);
		changed = true;
	}
	return changed;
}

int entries_replace_read_only(struct kwid_entries *es, struct kwid_entry **v, size_t n, char **errors)
{
	bool changed = drop_changed_read_only(es, v, n);
	int dropped = 0;

	*errors = NULL;
	for (size_t i = 0; i < n; i++) {
		struct entry_error err;
		char msg[600];
		int r;

		if (!v[i])
			continue;
		v[i]->read_only = true;
		r = entries_add(es, v[i], false, &err);
		if (r == 0) {
			changed = true;
			continue;
		}
		if (r == -EINVAL)
			entry_error_format(&err, NULL, msg, sizeof(msg));
		else
			snprintf(msg, sizeof(msg), "%s", strerror(-r));
		errmsg_append(errors, "%s: %s", v[i]->source ? v[i]->source : "?", msg);
		entry_free(v[i]);
		dropped++;
	}
	if (changed)
		agent_notify(es->agent, KWID_CHANGE_ENTRIES, NULL);
	return dropped;
}

/* ---- queries ---- */

const struct kwid_entry *entries_get(struct kwid_entries *es, const char *id)
{
	return id ? strmap_get(es->by_id, id) : NULL;
}

size_t entries_count(struct kwid_entries *es)
{
	return strmap_size(es->by_id);
}

int entries_match(struct kwid_entries *es, const struct kwid_selector_set *workload,
		  const struct kwid_entry ***out, size_t *n)
{
	const struct kwid_entry **v = NULL;
	size_t nv = 0, cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (!workload->sorted)
		return -EINVAL;
	r = entry_index_match(es->index, workload, now_unix(), &v, &nv, &cap);
	if (r < 0) {
		free(v);
		return r;
	}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), entry_cmp_order);
	*out = v;
	*n = nv;
	return 0;
}

int entries_list(struct kwid_entries *es, const struct kwid_entry ***out, size_t *n)
{
	size_t it = 0, k = 0, total = strmap_size(es->by_id);
	const struct kwid_entry **v = calloc_array(total, sizeof(*v));
	void *p;

	if (!v)
		return -ENOMEM;
	while (strmap_next(es->by_id, &it, NULL, &p) && k < total)
		v[k++] = p;
	qsort(v, k, sizeof(*v), entry_cmp_order);
	*out = v;
	*n = k;
	return 0;
}

struct near_candidate {
	const struct kwid_entry *entry;
	size_t nmissing;
};

static int near_cmp(const void *a, const void *b)
{
	const struct near_candidate *x = a, *y = b;

	if (x->nmissing != y->nmissing)
		return x->nmissing < y->nmissing ? -1 : 1;
	return entry_cmp_order(&x->entry, &y->entry);
}

static int collect_near(struct kwid_entries *es, const struct kwid_selector_set *workload,
			struct near_candidate **out, size_t *n)
{
	struct near_candidate *v = NULL;
	size_t nv = 0, cap = 0, it = 0;
	int64_t now = now_unix();
	void *p;

	while (strmap_next(es->by_id, &it, NULL, &p)) {
		const struct kwid_entry *e = p;
		size_t hits = 0;
		for (size_t i = 0; i < e->selectors.n; i++)
			hits += selset_contains(workload, e->selectors.v[i]);
		if (hits == 0 || (hits == e->selectors.n && !entry_expired(e, now)))
			continue;
		if (nv == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct near_candidate *nn = reallocarray_safe(v, ncap, sizeof(*nn));
			if (!nn) {
				free(v);
				return -ENOMEM;
			}
			v = nn;
			cap = ncap;
		}
		v[nv++] = (struct near_candidate){e, e->selectors.n - hits};
	}
	*out = v;
	*n = nv;
	return 0;
}

int entries_near_misses(struct kwid_entries *es, const struct kwid_selector_set *workload, size_t max,
			struct entry_near_miss **out, size_t *n)
{
	_cleanup_free_ struct near_candidate *cand = NULL;
	struct entry_near_miss *v;
	size_t ncand = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (!workload->sorted)
		return -EINVAL;
	r = collect_near(es, workload, &cand, &ncand);
	if (r < 0)
		return r;
	qsort(cand, ncand, sizeof(*cand), near_cmp);
	ncand = MIN(ncand, max);
	v = calloc_array(ncand, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < ncand; i++) {
		const struct kwid_entry *e = cand[i].entry;
		v[i].entry = e;
		v[i].missing = calloc_array(cand[i].nmissing, sizeof(char *));
		if (!v[i].missing) {
			entry_near_misses_free(v, i);
			return -ENOMEM;
		}
		for (size_t k = 0; k < e->selectors.n; k++)
			if (!selset_contains(workload, e->selectors.v[k]))
				v[i].missing[v[i].nmissing++] = e->selectors.v[k];
	}
	*out = v;
	*n = ncand;
	return 0;
}

void entry_near_misses_free(struct entry_near_miss *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].missing);
	free(v);
}

/* ---- life cycle ---- */

static void status(void *userdata, json_object *out)
{
	struct kwid_entries *es = userdata;

	json_object_object_add(out, "count", json_object_new_int64((int64_t)entries_count(es)));
	json_object_object_add(out, "read_only", json_object_new_int64((int64_t)es->nread_only));
	json_object_object_add(out, "max_entries", json_object_new_int64((int64_t)es->max_entries));
	json_object_object_add(out, "store", json_object_new_string(entry_store_path(es->store)));
	json_object_object_add(out, "next_expiry", json_object_new_int64(es->next_expiry));
	if (es->dir)
		entry_dir_status(es->dir, out);
	else
		json_object_object_add(out, "dir", NULL);
	entry_index_status(es->index, out);
}

static int load_stored(void *userdata, struct kwid_entry *e, char **why)
{
	struct kwid_entries *es = userdata;
	struct entry_error err;
	int r = entries_add(es, e, false, &err);

	if (r < 0) {
		char msg[600];
		if (r == -EINVAL) {
			entry_error_format(&err, NULL, msg, sizeof(msg));
			*why = strdup(msg);
		}
		entry_free(e);
	}
	return r;
}

static int open_store(struct kwid_entries *es)
{
	_cleanup_free_ char *errmsg = NULL;
	int r = entry_store_open(es->agent->cfg->state_dir, &es->store);

	if (r < 0)
		return r;
	r = entry_store_load(es->store, load_stored, es, &errmsg);
	if (r < 0) {
		log_error("entries: cannot load the entry store: %s", errmsg ? errmsg : strerror(-r));
		log_error("entries: not starting with part of the entries missing: repair that file or move it out of %s",
			  entry_store_path(es->store));
		return r;
	}
	log_info("entries: %zu entries loaded from %s", entries_count(es), entry_store_path(es->store));
	return 0;
}

static int read_config(struct kwid_entries *es, const char **dir)
{
	int r = config_get_u64(es->agent->cfg, "entries.max_entries", 1, 100000000, &es->max_entries);

	if (r < 0)
		return r;
	return config_get_string(es->agent->cfg, "entries.dir", dir);
}

int entries_new(struct kwid_agent *a, struct kwid_entries **out)
{
	struct kwid_entries *es = calloc(1, sizeof(*es));
	const char *dir = NULL;
	int r;

	if (!es)
		return -ENOMEM;
	es->agent = a;
	es->trust_domain = a->cfg->trust_domain;
	es->max_entries = ENTRIES_MAX_DEFAULT;
	r = read_config(es, &dir);
	if (r == 0)
		r = strmap_new(&es->by_id);
	if (r == 0)
		r = strmap_new(&es->by_identity);
	if (r == 0)
		r = entry_index_new(&es->index);
	if (r == 0)
		r = loop_timer_new(a->loop, on_expiry, es, &es->expiry_timer);
	if (r == 0)
		r = open_store(es);
	if (r == 0 && dir)
		r = entry_dir_new(a, es, dir, &es->dir);
	if (r == 0)
		r = agent_status_register(a, "entries", status, es);
	if (r == 0 && a->admin)
		r = entries_admin_register(a, es);
	if (r == 0 && a->admin)
		r = entries_why_register(a);
	if (r < 0) {
		entries_free(es);
		return r;
	}
	*out = es;
	return 0;
}

void entries_free(struct kwid_entries *es)
{
	size_t it = 0;
	void *p;

	if (!es)
		return;
	entry_dir_free(es->dir);
	if (es->expiry_timer)
		loop_timer_free(es->expiry_timer);
	entry_index_free(es->index);
	strmap_free(es->by_identity);
	if (es->by_id) {
		while (strmap_next(es->by_id, &it, NULL, &p))
			entry_free(p);
		strmap_free(es->by_id);
	}
	if (es->grave) {
		graveyard_empty(es->grave);
		es->grave->owner = NULL; /* the deferred call frees it */
	}
	entry_store_free(es->store);
	free(es);
}
