/* jwt_key.c - the JWT signing keys: EC P-256, named by their RFC 7638
 * thumbprint, each with its JOSE header encoded once. */
#include "authority_internal.h"
#include "kwid/jwk.h"
#include "kwid/jwt.h"
#include "kwid/log.h"

int au_jwt_key_from(EVP_PKEY *pkey, struct au_key **out)
{
	struct au_key *k = calloc(1, sizeof(*k));
	const char *why = NULL;
	int r;

	if (!k) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	k->kind = AU_JWT;
	r = signer_init(&k->signer, pkey, &why);
	EVP_PKEY_free(pkey);
	if (r == 0 && (k->signer.kind != SIGNER_EC || k->signer.coord_len != 32)) {
		why = "JWT keys must be EC P-256";
		r = -EOPNOTSUPP;
	}
	if (r < 0) {
		log_error("authority: JWT key unusable: %s", why ? why : "unsupported");
		goto fail;
	}
	r = jwk_thumbprint(k->signer.key, k->id);
	if (r < 0)
		goto fail;
	k->header_b64 = jwt_header_b64(k->id);
	if (!k->header_b64) {
		r = -ENOMEM;
		goto fail;
	}
	*out = k;
	return 0;
fail:
	au_key_free(k);
	return r;
}

int au_jwt_key_create(struct kwid_authority *au, int64_t now, struct au_key **out)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	int r;

	if (!pkey)
		return -EIO;
	r = au_jwt_key_from(pkey, out);
	if (r < 0)
		return r;
	(*out)->t.created = now;
	(*out)->t.not_after = now + au->set.jwt_key_ttl;
	return 0;
}
