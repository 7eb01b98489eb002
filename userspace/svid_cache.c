/* svid_cache.c - the current X.509-SVID of every registration entry in use
 * (see kwid/authority.h): minted on first use, renewed at half-life with
 * jitter so that renewals of entries minted together spread out, dropped
 * when nobody fetched it since its last renewal or when its entry changed. */
#include "kwid/agent.h"
#include "kwid/authority.h"
#include "kwid/entries.h"
#include "kwid/log.h"
#include "kwid/strmap.h"

#include <openssl/rand.h>

#define RETRY_NS (5ull * 1000000000ull)

struct svid_slot {
	struct kwid_svid_cache *cache;
	char *entry_id;
	uint64_t revision;
	/* what the SVID is minted from (the entry's values when it was cached) */
	char *spiffe_id, *hint;
	char **dns;
	size_t ndns;
	uint32_t ttl;
	int64_t expires_at;
	struct kwid_x509_svid *svid;
	uint64_t generation; /* authority_x509_generation() at mint */
	struct kwid_timer *timer;
	bool used; /* fetched since the last renewal */
};

struct kwid_svid_cache {
	struct kwid_agent *agent;
	struct kwid_authority *au;
	struct strmap *slots; /* entry id -> struct svid_slot */
	uint64_t renewals, evictions;
};

static void slot_free(struct svid_slot *s)
{
	if (!s)
		return;
	loop_timer_free(s->timer);
	x509_svid_unref(s->svid);
	for (size_t i = 0; i < s->ndns; i++)
		free(s->dns[i]);
	free(s->dns);
	free(s->spiffe_id);
	free(s->hint);
	free(s->entry_id);
	free(s);
}

static void slot_remove(struct kwid_svid_cache *c, struct svid_slot *s)
{
	strmap_remove(c->slots, s->entry_id);
	slot_free(s);
}

/* Copy what minting needs from the entry: the entry pointer is only valid
 * until control returns to the loop. */
static int slot_set_entry(struct svid_slot *s, const struct kwid_entry *e)
{
	char *id = strdup(e->spiffe_id), *hint = e->hint ? strdup(e->hint) : NULL;
	char **dns = calloc_array(e->ndns, sizeof(char *));
	bool ok = id && dns && (!e->hint || hint);

	for (size_t i = 0; ok && i < e->ndns; i++)
		ok = (dns[i] = strdup(e->dns_names[i])) != NULL;
	if (!ok) {
		for (size_t i = 0; dns && i < e->ndns; i++)
			free(dns[i]);
		free(dns);
		free(id);
		free(hint);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->ndns; i++)
		free(s->dns[i]);
	free(s->dns);
	free(s->spiffe_id);
	free(s->hint);
	s->spiffe_id = id;
	s->hint = hint;
	s->dns = dns;
	s->ndns = e->ndns;
	s->ttl = e->x509_svid_ttl;
	s->expires_at = e->expires_at;
	s->revision = e->revision;
	return 0;
}

/* Renew after half the lifetime, minus up to a tenth of it at random. */
static void arm_renewal(struct svid_slot *s)
{
	uint64_t now = now_real_ns(), end = (uint64_t)s->svid->not_after * 1000000000ull;
	uint64_t life = end > now ? end - now : 0, jitter = 0;

	if (life >= 10) {
		uint64_t rnd = 0;
		RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
		jitter = rnd % (life / 10);
	}
	loop_timer_arm(s->timer, life / 2 - jitter);
}

static int slot_mint(struct kwid_svid_cache *c, struct svid_slot *s)
{
	struct x509_svid_request req = {
		.spiffe_id = s->spiffe_id,
		.dns = (const char *const *)s->dns,
		.ndns = s->ndns,
		.ttl_s = s->ttl,
		.expires_max = s->expires_at,
		.entry_id = s->entry_id,
		.hint = s->hint,
	};
	struct kwid_x509_svid *svid = NULL;
	int r = authority_mint_x509(c->au, &req, &svid);

	if (r < 0)
		return r;
	x509_svid_unref(s->svid);
	s->svid = svid;
	s->generation = authority_x509_generation(c->au);
	s->used = false;
	arm_renewal(s);
	return 0;
}

static void renew(struct kwid_svid_cache *c, struct svid_slot *s)
{
	int r = slot_mint(c, s);

	if (r < 0) {
		log_error_errno(r, "svid: cannot renew the X.509-SVID of entry %s (%s); retrying", s->entry_id,
				s->spiffe_id);
		loop_timer_arm(s->timer, RETRY_NS);
		return;
	}
	c->renewals++;
	log_debug("svid: renewed the X.509-SVID of entry %s, valid until %" PRId64, s->entry_id, s->svid->not_after);
	agent_notify(c->agent, KWID_CHANGE_SVID_ROTATED, s->entry_id);
}

static void on_renewal(struct kwid_timer *t, void *userdata)
{
	struct svid_slot *s = userdata;
	struct kwid_svid_cache *c = s->cache;

	if (!s->used) {
		log_debug("svid: entry %s unused since its last renewal; dropping its SVID", s->entry_id);
		c->evictions++;
		slot_remove(c, s);
		return;
	}
	renew(c, s);
}

static int slot_new(struct kwid_svid_cache *c, const struct kwid_entry *e, struct svid_slot **out)
{
	struct svid_slot *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->cache = c;
	s->entry_id = strdup(e->id);
	r = s->entry_id ? slot_set_entry(s, e) : -ENOMEM;
	if (r == 0)
		r = loop_timer_new(c->agent->loop, on_renewal, s, &s->timer);
	if (r == 0)
		r = slot_mint(c, s);
	if (r == 0)
		r = strmap_put(c->slots, s->entry_id, s);
	if (r < 0) {
		slot_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int svid_cache_x509(struct kwid_svid_cache *c, const struct kwid_entry *e, struct kwid_x509_svid **out)
{
	struct svid_slot *s = strmap_get(c->slots, e->id);
	int r;

	if (!s) {
		r = slot_new(c, e, &s);
		if (r < 0)
			return r;
	} else if (s->revision != e->revision || s->generation != authority_x509_generation(c->au) ||
		   s->svid->not_after <= (int64_t)(now_real_ns() / 1000000000ull)) {
		r = slot_set_entry(s, e);
		if (r == 0)
			r = slot_mint(c, s);
		if (r < 0)
			return r;
	}
	s->used = true;
	s->svid->refs++;
	*out = s->svid;
	return 0;
}

/* Entries changed: drop the SVIDs of entries that are gone or different. */
static void on_entries(struct kwid_svid_cache *c)
{
	struct svid_slot *drop[64];
	size_t it, n;
	const char *key;
	void *val;

	if (!c->agent->entries)
		return;
	do {
		n = 0;
		it = 0;
		while (n < ARRAY_SIZE(drop) && strmap_next(c->slots, &it, &key, &val)) {
			struct svid_slot *s = val;
			const struct kwid_entry *e = entries_get(c->agent->entries, s->entry_id);
			if (!e || e->revision != s->revision)
				drop[n++] = s;
		}
		for (size_t i = 0; i < n; i++)
			slot_remove(c, drop[i]);
	} while (n == ARRAY_SIZE(drop));
}

/* The X.509 signing chain was replaced (upstream reload): SVIDs minted
 * before may not chain to the new bundle, renew them all now. */
static void on_bundle(struct kwid_svid_cache *c)
{
	uint64_t gen = authority_x509_generation(c->au);
	size_t it = 0;
	const char *key;
	void *val;

	while (strmap_next(c->slots, &it, &key, &val)) {
		struct svid_slot *s = val;
		if (s->generation != gen)
			loop_timer_arm(s->timer, 0); /* renewed from the loop, not inside this iteration */
	}
}

static void on_change(void *userdata, enum kwid_change kind, const void *arg)
{
	if (kind == KWID_CHANGE_ENTRIES)
		on_entries(userdata);
	else if (kind == KWID_CHANGE_BUNDLE)
		on_bundle(userdata);
}

size_t svid_cache_count(const struct kwid_svid_cache *c)
{
	return strmap_size(c->slots);
}

uint64_t svid_cache_renewals(const struct kwid_svid_cache *c)
{
	return c->renewals;
}

int svid_cache_new(struct kwid_agent *a, struct kwid_authority *au, struct kwid_svid_cache **out)
{
	struct kwid_svid_cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->agent = a;
	c->au = au;
	r = strmap_new(&c->slots);
	if (r == 0)
		r = agent_subscribe(a, KWID_CHANGE_ENTRIES | KWID_CHANGE_BUNDLE, on_change, c);
	if (r < 0) {
		svid_cache_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void svid_cache_free(struct kwid_svid_cache *c)
{
	size_t it = 0;
	const char *key;
	void *val;

	if (!c)
		return;
	agent_unsubscribe(c->agent, on_change, c);
	while (c->slots && strmap_next(c->slots, &it, &key, &val))
		slot_free(val);
	strmap_free(c->slots);
	free(c);
}
