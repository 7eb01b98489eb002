/* keyset.h - the rotation schedule of one kind of signing key (the X.509
 * CA or the JWT key), as a pure function of the keys and the clock so that
 * it can be tested without waiting.
 *
 * A key is created as NEXT: published in the bundle, signing nothing. After
 * the propagation delay it becomes ACTIVE (the only key that signs) and the
 * previous active key becomes RETIRED. A retired key stays in the bundle
 * until the last credential it signed has expired (signed_until), then it
 * is removed. The next key is created once the active key has lived
 * rotate_pct percent of its lifetime. Credentials never outlive their
 * signing key (the authority clamps them), so signed_until <= not_after.
 *
 * Times are unix seconds. */
#ifndef KWID_KEYSET_H
#define KWID_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum key_state { KEY_NEXT, KEY_ACTIVE, KEY_RETIRED };

struct key_times {
	enum key_state state;
	int64_t created;      /* published in the bundle */
	int64_t activate_at;  /* NEXT: when it may start signing */
	int64_t not_after;    /* the key signs nothing that outlives this */
	int64_t signed_until; /* latest expiry of anything it signed (0: nothing) */
};

struct keyset_policy {
	int64_t ttl;	       /* lifetime of a new key */
	unsigned rotate_pct;   /* create the next key at this share of the active key's life */
	int64_t propagation;   /* NEXT -> ACTIVE delay */
	bool fixed;	       /* keys come from outside (upstream CA): never create or remove */
};

enum keyset_action {
	KEYSET_NONE,
	KEYSET_CREATE_ACTIVE, /* no usable active key: create one that signs at once */
	KEYSET_CREATE_NEXT,   /* publish the successor */
	KEYSET_ACTIVATE,      /* keys[index] becomes ACTIVE, the active one RETIRED */
	KEYSET_REMOVE,	      /* keys[index] leaves the bundle */
};

struct keyset_step {
	enum keyset_action action;
	size_t index;
	const char *why; /* for the log */
};

/* The one thing to do now (apply it and call again until KEYSET_NONE),
 * and with KEYSET_NONE in *next_at the time of the next step (INT64_MAX:
 * none). */
void keyset_plan(const struct key_times *const *keys, size_t n, const struct keyset_policy *p, int64_t now,
		 struct keyset_step *step, int64_t *next_at);

/* When a new key created now would become active / the active one would
 * be replaced: helpers the authority and its tests share. */
static inline int64_t keyset_prepare_at(const struct key_times *active, const struct keyset_policy *p)
{
	return active->created + (active->not_after - active->created) * (int64_t)p->rotate_pct / 100;
}

const char *key_state_name(enum key_state s);

#endif
