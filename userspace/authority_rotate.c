/* authority_rotate.c - the rotation of the authority's signing keys: the
 * keyset schedule (kwid/keyset.h) applied to the X.509 CA and the JWT keys,
 * each step recorded in state.json before it counts (undone when the write
 * fails), the timer for the next step, and how long a key must stay in the
 * bundle for what it signed. */
#include "authority_internal.h"
#include "kwid/agent.h"
#include "kwid/log.h"

struct au_snapshot {
	struct au_keys x509, jwt;
	struct key_times tx[AU_MAX_KEYS], tj[AU_MAX_KEYS];
	uint64_t sequence;
	uint8_t digest[32];
};

static void snapshot_take(struct kwid_authority *au, struct au_snapshot *s)
{
	s->x509 = au->x509;
	s->jwt = au->jwt;
	for (size_t i = 0; i < au->x509.n; i++)
		s->tx[i] = au->x509.v[i]->t;
	for (size_t i = 0; i < au->jwt.n; i++)
		s->tj[i] = au->jwt.v[i]->t;
	s->sequence = au->sequence;
	memcpy(s->digest, au->bundle_digest, sizeof(s->digest));
}

static bool keys_contain(const struct au_keys *ks, const struct au_key *k)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i] == k)
			return true;
	return false;
}

/* Free (and unlink) the keys of `from` that `keep` no longer holds. */
static void drop_missing(struct kwid_authority *au, const struct au_keys *from, const struct au_keys *keep)
{
	for (size_t i = 0; i < from->n; i++) {
		if (keys_contain(keep, from->v[i]))
			continue;
		au_store_remove_key(au, from->v[i]);
		au_key_free(from->v[i]);
	}
}

static void snapshot_restore(struct kwid_authority *au, const struct au_snapshot *s)
{
	drop_missing(au, &au->x509, &s->x509);
	drop_missing(au, &au->jwt, &s->jwt);
	au->x509 = s->x509;
	au->jwt = s->jwt;
	for (size_t i = 0; i < au->x509.n; i++)
		au->x509.v[i]->t = s->tx[i];
	for (size_t i = 0; i < au->jwt.n; i++)
		au->jwt.v[i]->t = s->tj[i];
	au->sequence = s->sequence;
	memcpy(au->bundle_digest, s->digest, sizeof(s->digest));
}

static struct keyset_policy policy_of(const struct kwid_authority *au, enum au_kind kind)
{
	if (kind == AU_X509)
		return (struct keyset_policy){au->set.ca_ttl, au->set.rotate_pct, au->set.propagation, au->upstream};
	return (struct keyset_policy){au->set.jwt_key_ttl, au->set.rotate_pct, au->set.propagation, false};
}

static int create_key(struct kwid_authority *au, enum au_kind kind, int64_t now, struct au_key **out)
{
	struct au_keys *ks = kind == AU_X509 ? &au->x509 : &au->jwt;
	int r;

	if (ks->n == AU_MAX_KEYS)
		return log_error_errno(-ENOSPC, "authority: %u %ss in the bundle already; not adding another",
				       AU_MAX_KEYS, au_kind_name(kind));
	r = kind == AU_X509 ? au_ca_local_create(au, now, out) : au_jwt_key_create(au, now, out);
	if (r < 0)
		return log_error_errno(r, "authority: cannot create a new %s", au_kind_name(kind));
	r = au_store_write_key(au, *out);
	if (r < 0) {
		au_key_free(*out);
		return log_error_errno(r, "authority: cannot write the new %s to %s", au_kind_name(kind), au->dir);
	}
	ks->v[ks->n++] = *out;
	return 0;
}

static int apply_step(struct kwid_authority *au, enum au_kind kind, const struct keyset_step *st, int64_t now)
{
	struct au_keys *ks = kind == AU_X509 ? &au->x509 : &au->jwt;
	struct au_key *active = au_active(ks), *k;
	int r;

	switch (st->action) {
	case KEYSET_CREATE_ACTIVE:
		r = create_key(au, kind, now, &k);
		if (r < 0)
			return r;
		k->t.state = KEY_ACTIVE;
		k->t.activate_at = now;
		if (active)
			active->t.state = KEY_RETIRED;
		log_info("authority: %s %s created and active (%s)", au_kind_name(kind), k->id, st->why);
		return 0;
	case KEYSET_CREATE_NEXT:
		r = create_key(au, kind, now, &k);
		if (r < 0)
			return r;
		k->t.state = KEY_NEXT;
		k->t.activate_at = now + au->set.propagation;
		log_info("authority: %s %s published; it signs from %" PRId64 " (%s)", au_kind_name(kind), k->id,
			 k->t.activate_at, st->why);
		return 0;
	case KEYSET_ACTIVATE:
		k = ks->v[st->index];
		if (active)
			active->t.state = KEY_RETIRED;
		k->t.state = KEY_ACTIVE;
		k->t.activate_at = now;
		au->stats.rotations++;
		log_info("authority: %s %s now signs; %s retired (%s)", au_kind_name(kind), k->id,
			 active ? active->id : "none", st->why);
		return 0;
	case KEYSET_REMOVE:
		k = ks->v[st->index];
		memmove(&ks->v[st->index], &ks->v[st->index + 1], (ks->n - st->index - 1) * sizeof(ks->v[0]));
		ks->n--;
		log_info("authority: %s %s removed from the bundle (%s)", au_kind_name(kind), k->id, st->why);
		return 0;
	case KEYSET_NONE:
		break;
	}
	return 0;
}

/* Commit one step: new sequence if the bundle changed, then the state file.
 * On failure the step is undone. */
static int commit_step(struct kwid_authority *au, const struct au_snapshot *before)
{
	uint8_t digest[32];
	int r = au_bundle_digest(au, digest);

	if (r == 0 && memcmp(digest, au->bundle_digest, sizeof(digest)) != 0) {
		memcpy(au->bundle_digest, digest, sizeof(digest));
		au->sequence++;
	}
	if (r == 0)
		r = au_store_save(au);
	if (r < 0) {
		au->stats.save_failures++;
		log_error_errno(r, "authority: cannot record the rotation step in %s; undone, retrying in %d s",
				au->dir, AU_RETRY_S);
		snapshot_restore(au, before);
		return r;
	}
	drop_missing(au, &before->x509, &au->x509);
	drop_missing(au, &before->jwt, &au->jwt);
	return 0;
}

/* Run every step due now for one kind; returns the next deadline. */
static int64_t schedule_kind(struct kwid_authority *au, enum au_kind kind, int64_t now, int *err)
{
	struct keyset_policy p = policy_of(au, kind);
	struct au_keys *ks = kind == AU_X509 ? &au->x509 : &au->jwt;
	int64_t next_at = INT64_MAX;

	for (unsigned guard = 0; guard < 4 * AU_MAX_KEYS; guard++) {
		const struct key_times *times[AU_MAX_KEYS];
		struct au_snapshot snap;
		struct keyset_step st;
		int r;

		for (size_t i = 0; i < ks->n; i++)
			times[i] = &ks->v[i]->t;
		keyset_plan(times, ks->n, &p, now, &st, &next_at);
		if (st.action == KEYSET_NONE)
			return next_at;
		snapshot_take(au, &snap);
		r = apply_step(au, kind, &st, now);
		if (r == 0)
			r = commit_step(au, &snap);
		else
			snapshot_restore(au, &snap);
		if (r < 0) {
			*err = r;
			return now + AU_RETRY_S;
		}
	}
	return now + 1;
}

static void arm_timer(struct kwid_authority *au, int64_t next_at)
{
	uint64_t now_ns = now_real_ns(), at_ns, delay;

	if (!au->timer)
		return;
	next_at = MIN(next_at, au_now() + AU_TIMER_MAX_S);
	at_ns = next_at > 0 ? (uint64_t)next_at * 1000000000ull : 0;
	delay = at_ns > now_ns ? at_ns - now_ns : 0;
	loop_timer_arm(au->timer, delay + 1000000ull); /* land just after the second turns */
}

/* Bring both key sets up to date with the clock. */
int au_run_schedule(struct kwid_authority *au)
{
	uint64_t seq = au->sequence;
	int64_t now = au_now(), next_at;
	int err = 0;

	next_at = schedule_kind(au, AU_X509, now, &err);
	next_at = MIN(next_at, schedule_kind(au, AU_JWT, now, &err));
	arm_timer(au, next_at);
	if (au->sequence != seq && au->agent)
		agent_notify(au->agent, KWID_CHANGE_BUNDLE, NULL);
	return err;
}

void au_on_timer(struct kwid_timer *t, void *userdata)
{
	au_run_schedule(userdata);
}

void au_note_signed(struct kwid_authority *au, struct au_key *k, int64_t exp)
{
	int64_t bump = k->kind == AU_X509 ? au->set.x509_svid_ttl : au->set.jwt_svid_ttl;
	int r;

	if (exp > k->t.signed_until)
		k->t.signed_until = exp;
	if (exp <= k->signed_until_saved)
		return;
	/* Persist a bound ahead of time so that this is written at most about
	 * once per credential lifetime, never per credential. */
	k->signed_until_saved = MIN(k->t.not_after, exp + bump);
	r = au_store_save(au);
	if (r < 0) {
		au->stats.save_failures++;
		log_warn_errno(r, "authority: cannot persist how long %s %s must stay in the bundle", au_kind_name(k->kind),
			       k->id);
	}
}
