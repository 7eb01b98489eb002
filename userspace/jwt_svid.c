/* jwt_svid.c - JWT-SVIDs from the authority: minting with the active JWT
 * key (never outliving it) and validation against every JWT key in the
 * bundle (see kwid/jwt.h for the rules). */
#include "authority_internal.h"
#include "kwid/jwt.h"
#include "kwid/spiffe_id.h"

static int check_audiences(const char *const *aud, size_t naud)
{
	if (naud == 0 || naud > JWT_MAX_AUDIENCES)
		return -EINVAL;
	for (size_t i = 0; i < naud; i++)
		if (!aud[i] || !*aud[i] || strlen(aud[i]) > JWT_MAX_AUDIENCE_LEN)
			return -EINVAL;
	return 0;
}

int authority_mint_jwt(struct kwid_authority *au, const char *spiffe_id, const char *const *aud, size_t naud,
		       uint32_t ttl_s, char **token)
{
	struct au_key *k = au_active(&au->jwt);
	int64_t now = au_now(), exp;
	int r;

	if (!spiffe_id || !spiffe_id_is_workload_in(spiffe_id, au->td) || check_audiences(aud, naud) < 0)
		return -EINVAL;
	if (!k)
		return -EKEYEXPIRED;
	exp = MIN(now + (int64_t)(ttl_s ? ttl_s : au->set.jwt_svid_ttl), k->t.not_after);
	if (exp <= now)
		return -EKEYEXPIRED;
	r = jwt_encode(&k->signer, k->header_b64, spiffe_id, aud, naud, now, exp, token);
	if (r < 0)
		return r;
	au->stats.jwt_minted++;
	au_note_signed(au, k, exp);
	return 0;
}

static EVP_PKEY *lookup_kid(void *userdata, const char *kid)
{
	struct kwid_authority *au = userdata;

	for (size_t i = 0; i < au->jwt.n; i++)
		if (streq(au->jwt.v[i]->id, kid))
			return au->jwt.v[i]->signer.key;
	return NULL;
}

int authority_validate_jwt(struct kwid_authority *au, const char *token, const char *audience, char **spiffe_id,
			   json_object **claims, const char **reason)
{
	int r = jwt_validate(token, audience, au_now(), au->td, lookup_kid, au, spiffe_id, claims, reason);

	if (r < 0)
		au->stats.jwt_refused++;
	else
		au->stats.jwt_validated++;
	return r;
}
