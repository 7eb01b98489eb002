/* authority_status.c - the "authority" section of `kwidctl status`: mode,
 * CA, key schedule, bundle sequence, SVID cache and signing counters. */
#include "authority_internal.h"
#include "kwid/agent.h"

#include <time.h>

static json_object *time_json(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_object_new_int64(t);
	return json_object_new_string(buf);
}

static json_object *keys_json(const struct au_keys *ks)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < ks->n; i++) {
		const struct au_key *k = ks->v[i];
		json_object *o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(k->id));
		json_object_object_add(o, "state", json_object_new_string(key_state_name(k->t.state)));
		json_object_object_add(o, "activate_at", time_json(k->t.activate_at));
		json_object_object_add(o, "not_after", time_json(k->t.not_after));
		if (k->t.signed_until)
			json_object_object_add(o, "signed_until", time_json(k->t.signed_until));
		json_object_array_add(a, o);
	}
	return a;
}

static const char *id_in_state(const struct au_keys *ks, enum key_state st)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i]->t.state == st)
			return ks->v[i]->id;
	return NULL;
}

void au_status(void *userdata, json_object *out)
{
	struct kwid_authority *au = userdata;
	struct au_key *ca = au_active(&au->x509);
	struct kwid_svid_cache *cache = au->agent ? au->agent->svids : NULL;
	const char *next_ca = id_in_state(&au->x509, KEY_NEXT), *next_jwt = id_in_state(&au->jwt, KEY_NEXT);
	struct keypool_stats ps;
	json_object *pool = json_object_new_object();
	char subject[512] = "";

	if (ca)
		X509_NAME_oneline(X509_get_subject_name(ca->cert), subject, sizeof(subject));
	json_object_object_add(out, "mode", json_object_new_string(au->upstream ? "upstream" : "local"));
	json_object_object_add(out, "ca_subject", json_object_new_string(subject));
	json_object_object_add(out, "ca_not_after", ca ? time_json(ca->t.not_after) : NULL);
	json_object_object_add(out, "active_ca", ca ? json_object_new_string(ca->id) : NULL);
	json_object_object_add(out, "next_ca", next_ca ? json_object_new_string(next_ca) : NULL);
	json_object_object_add(out, "active_jwt_kid", json_object_new_string(id_in_state(&au->jwt, KEY_ACTIVE) ?: ""));
	json_object_object_add(out, "next_jwt_kid", next_jwt ? json_object_new_string(next_jwt) : NULL);
	json_object_object_add(out, "bundle_sequence", json_object_new_int64((int64_t)au->sequence));
	json_object_object_add(out, "x509_authorities", au->upstream ? json_object_new_array() : keys_json(&au->x509));
	json_object_object_add(out, "jwt_keys", keys_json(&au->jwt));
	json_object_object_add(out, "svids_cached", json_object_new_int64(cache ? (int64_t)svid_cache_count(cache) : 0));
	json_object_object_add(out, "svid_renewals",
			       json_object_new_int64(cache ? (int64_t)svid_cache_renewals(cache) : 0));
	json_object_object_add(out, "x509_svids_minted", json_object_new_int64((int64_t)au->stats.x509_minted));
	json_object_object_add(out, "jwt_svids_minted", json_object_new_int64((int64_t)au->stats.jwt_minted));
	json_object_object_add(out, "jwt_svids_validated", json_object_new_int64((int64_t)au->stats.jwt_validated));
	json_object_object_add(out, "jwt_svids_refused", json_object_new_int64((int64_t)au->stats.jwt_refused));
	json_object_object_add(out, "rotations", json_object_new_int64((int64_t)au->stats.rotations));
	json_object_object_add(out, "state_save_failures", json_object_new_int64((int64_t)au->stats.save_failures));
	keypool_stats(au->pool, &ps);
	json_object_object_add(pool, "size", json_object_new_int64((int64_t)ps.size));
	json_object_object_add(pool, "available", json_object_new_int64((int64_t)ps.available));
	json_object_object_add(pool, "taken_ready", json_object_new_int64((int64_t)ps.taken_ready));
	json_object_object_add(pool, "taken_inline", json_object_new_int64((int64_t)ps.taken_inline));
	json_object_object_add(out, "keypool", pool);
}
