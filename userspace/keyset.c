/* keyset.c - the rotation schedule of signing keys (see kwid/keyset.h). */
#include "kwid/keyset.h"
#include "kwid/util.h"

const char *key_state_name(enum key_state s)
{
	switch (s) {
	case KEY_NEXT:
		return "next";
	case KEY_ACTIVE:
		return "active";
	case KEY_RETIRED:
		return "retired";
	}
	return "?";
}

static void set(struct keyset_step *step, enum keyset_action a, size_t index, const char *why)
{
	*step = (struct keyset_step){a, index, why};
}

/* A retired key may go once nothing it signed is still valid. */
static int64_t remove_at(const struct key_times *k)
{
	return k->signed_until < k->not_after ? k->signed_until : k->not_after;
}

void keyset_plan(const struct key_times *const *keys, size_t n, const struct keyset_policy *p, int64_t now,
		 struct keyset_step *step, int64_t *next_at)
{
	ssize_t active = -1, next = -1;
	int64_t soon = INT64_MAX;

	for (size_t i = 0; i < n; i++) {
		if (keys[i]->state == KEY_ACTIVE && active < 0)
			active = (ssize_t)i;
		else if (keys[i]->state == KEY_NEXT && next < 0)
			next = (ssize_t)i;
	}
	*next_at = INT64_MAX;
	if (p->fixed) {
		set(step, KEYSET_NONE, 0, NULL);
		return;
	}
	/* An expired active key signs nothing more: hand over at once. */
	if (active >= 0 && now >= keys[active]->not_after) {
		if (next >= 0)
			set(step, KEYSET_ACTIVATE, (size_t)next, "the active key expired before its successor's propagation delay ended");
		else
			set(step, KEYSET_CREATE_ACTIVE, 0, "the active key expired without a successor (agent stopped for long?)");
		return;
	}
	if (active < 0) {
		if (next >= 0)
			set(step, KEYSET_ACTIVATE, (size_t)next, "no active key: the published successor takes over early");
		else
			set(step, KEYSET_CREATE_ACTIVE, 0, "no signing key yet");
		return;
	}
	if (next >= 0 && now >= keys[next]->activate_at) {
		set(step, KEYSET_ACTIVATE, (size_t)next, "propagation delay over");
		return;
	}
	if (next < 0 && now >= keyset_prepare_at(keys[active], p)) {
		set(step, KEYSET_CREATE_NEXT, 0, "active key reached its rotation point");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (keys[i]->state != KEY_RETIRED)
			continue;
		if (now >= remove_at(keys[i])) {
			set(step, KEYSET_REMOVE, i, "everything it signed has expired");
			return;
		}
		soon = MIN(soon, remove_at(keys[i]));
	}
	soon = MIN(soon, keys[active]->not_after);
	if (next >= 0)
		soon = MIN(soon, keys[next]->activate_at);
	else
		soon = MIN(soon, keyset_prepare_at(keys[active], p));
	set(step, KEYSET_NONE, 0, NULL);
	*next_at = soon;
}
