/* test_keyset.c - the signing-key rotation schedule on a simulated clock:
 * a successor is published before it signs, signs only after the
 * propagation delay, and the old key stays until the last credential it
 * signed has expired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/keyset.h"
#include "kwid/util.h"

#define MAXK 8

struct sim {
	struct key_times k[64];
	int id[64];
	size_t n;
	int next_id;
	struct keyset_policy p;
	int64_t now;
	int64_t cred_ttl;
};

/* Apply every step due now, as the authority does. */
static int64_t run(struct sim *s)
{
	const struct key_times *v[64];
	struct keyset_step st;
	int64_t next_at;

	for (int guard = 0; guard < 32; guard++) {
		for (size_t i = 0; i < s->n; i++)
			v[i] = &s->k[i];
		keyset_plan(v, s->n, &s->p, s->now, &st, &next_at);
		switch (st.action) {
		case KEYSET_NONE:
			return next_at;
		case KEYSET_CREATE_ACTIVE:
		case KEYSET_CREATE_NEXT:
			for (size_t i = 0; i < s->n; i++)
				if (st.action == KEYSET_CREATE_ACTIVE && s->k[i].state == KEY_ACTIVE)
					s->k[i].state = KEY_RETIRED;
			s->k[s->n] = (struct key_times){
				.state = st.action == KEYSET_CREATE_ACTIVE ? KEY_ACTIVE : KEY_NEXT,
				.created = s->now,
				.activate_at = st.action == KEYSET_CREATE_ACTIVE ? s->now : s->now + s->p.propagation,
				.not_after = s->now + s->p.ttl,
			};
			s->id[s->n++] = ++s->next_id;
			break;
		case KEYSET_ACTIVATE:
			for (size_t i = 0; i < s->n; i++)
				if (s->k[i].state == KEY_ACTIVE)
					s->k[i].state = KEY_RETIRED;
			s->k[st.index].state = KEY_ACTIVE;
			s->k[st.index].activate_at = s->now;
			break;
		case KEYSET_REMOVE:
			memmove(&s->k[st.index], &s->k[st.index + 1], (s->n - st.index - 1) * sizeof(s->k[0]));
			memmove(&s->id[st.index], &s->id[st.index + 1], (s->n - st.index - 1) * sizeof(s->id[0]));
			s->n--;
			break;
		}
	}
	fail_msg("schedule did not settle");
	return 0;
}

static struct key_times *active(struct sim *s, int *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->k[i].state == KEY_ACTIVE) {
			if (id)
				*id = s->id[i];
			return &s->k[i];
		}
	return NULL;
}

static bool published(struct sim *s, int id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->id[i] == id)
			return true;
	return false;
}

/* Sign every second for a long time; record for each key when it was
 * first published, first signed, and the latest expiry it signed. */
static void test_rotation_invariants(void **state)
{
	struct sim s = {.p = {.ttl = 100, .rotate_pct = 50, .propagation = 10}, .cred_ttl = 20};
	int64_t first_pub[64] = {0}, first_sign[64] = {0}, last_exp[64] = {0};
	int rotations = 0, last_active = 0;

	for (s.now = 1000; s.now < 3000; s.now++) {
		int64_t next = run(&s);
		int id = 0;
		struct key_times *a = active(&s, &id);

		assert_true(next > s.now);
		assert_non_null(a);
		assert_true(s.n <= 3);
		for (size_t i = 0; i < s.n; i++)
			if (!first_pub[s.id[i]])
				first_pub[s.id[i]] = s.now;
		/* sign a credential, clamped to the key's life */
		int64_t exp = MIN(s.now + s.cred_ttl, a->not_after);
		assert_true(exp > s.now);
		if (exp > a->signed_until)
			a->signed_until = exp;
		if (!first_sign[id])
			first_sign[id] = s.now;
		last_exp[id] = MAX(last_exp[id], exp);
		if (id != last_active) {
			rotations++;
			last_active = id;
		}
		/* every key whose credentials are still valid is in the bundle */
		for (int k = 1; k <= s.next_id; k++)
			if (last_exp[k] > s.now)
				assert_true(published(&s, k));
	}
	assert_true(rotations >= 35); /* about one per 50 s */
	for (int k = 2; k < s.next_id; k++) {
		/* published a full propagation delay before signing */
		assert_true(first_sign[k] - first_pub[k] >= s.p.propagation);
	}
}

static void test_first_key_and_expiry(void **state)
{
	struct sim s = {.p = {.ttl = 100, .rotate_pct = 50, .propagation = 10}};
	int id;

	s.now = 500;
	assert_int_equal(run(&s), 550); /* next step: the successor at 50 % */
	assert_int_equal(s.n, 1);
	assert_non_null(active(&s, &id));
	assert_int_equal(id, 1);
	/* the agent was stopped for longer than the key's life */
	s.now = 5000;
	run(&s);
	assert_non_null(active(&s, &id));
	assert_int_equal(id, 2);
	assert_true(active(&s, NULL)->not_after > s.now);
	/* key 1 signed nothing: it goes at once */
	assert_false(published(&s, 1));
}

static void test_retired_waits_for_credentials(void **state)
{
	struct sim s = {.p = {.ttl = 100, .rotate_pct = 50, .propagation = 10}};
	int id;

	s.now = 0;
	run(&s);
	active(&s, NULL)->signed_until = 75; /* a credential valid until 75 */
	s.now = 50;
	assert_int_equal(run(&s), 60); /* successor published, activates at 60 */
	assert_int_equal(s.n, 2);
	s.now = 60;
	assert_int_equal(run(&s), 75); /* next: removal of key 1 at 75 */
	active(&s, &id);
	assert_int_equal(id, 2);
	assert_true(published(&s, 1));
	s.now = 74;
	run(&s);
	assert_true(published(&s, 1));
	s.now = 75;
	run(&s);
	assert_false(published(&s, 1));
}

static void test_fixed_keys(void **state)
{
	struct key_times k = {.state = KEY_ACTIVE, .created = 0, .not_after = 10};
	const struct key_times *v[] = {&k};
	struct keyset_policy p = {.ttl = 10, .rotate_pct = 50, .propagation = 1, .fixed = true};
	struct keyset_step st;
	int64_t next;

	keyset_plan(v, 1, &p, 100, &st, &next);
	assert_int_equal(st.action, KEYSET_NONE);
	assert_int_equal(next, INT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation_invariants),
		cmocka_unit_test(test_first_key_and_expiry),
		cmocka_unit_test(test_retired_waits_for_credentials),
		cmocka_unit_test(test_fixed_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
