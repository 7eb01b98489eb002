/* x509_svid.c - minting X.509-SVIDs: a fresh P-256 key from the pool, a
 * leaf following the SPIFFE rules (kwid/x509_build.h) signed by the active
 * CA, the chain leaf first with any upstream intermediates, and the key as
 * PKCS#8. The SVID never outlives its CA (or the upstream chain). */
#include "authority_internal.h"
#include "kwid/log.h"
#include "kwid/spiffe_id.h"
#include "kwid/x509_build.h"

#include <openssl/crypto.h>

void x509_svid_unref(struct kwid_x509_svid *s)
{
	if (!s || --s->refs > 0)
		return;
	if (s->key_pkcs8_der)
		OPENSSL_cleanse(s->key_pkcs8_der, s->key_len);
	free(s->key_pkcs8_der);
	free(s->chain_der);
	free(s->spiffe_id);
	free(s->entry_id);
	free(s->hint);
	free(s);
}

static int svid_new(const struct x509_svid_request *req, const uint8_t *leaf, size_t leaf_len,
		    const uint8_t *chain, size_t chain_len, const struct kwid_keypair *kp, struct kwid_x509_svid **out)
{
	struct kwid_x509_svid *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->refs = 1;
	s->spiffe_id = strdup(req->spiffe_id);
	s->entry_id = req->entry_id ? strdup(req->entry_id) : NULL;
	s->hint = req->hint ? strdup(req->hint) : NULL;
	s->chain_der = malloc(leaf_len + chain_len);
	s->key_pkcs8_der = malloc(P256_PKCS8_LEN);
	if (!s->spiffe_id || (req->entry_id && !s->entry_id) || (req->hint && !s->hint) || !s->chain_der ||
	    !s->key_pkcs8_der) {
		x509_svid_unref(s);
		return -ENOMEM;
	}
	memcpy(s->chain_der, leaf, leaf_len);
	if (chain_len)
		memcpy(s->chain_der + leaf_len, chain, chain_len);
	s->chain_len = leaf_len + chain_len;
	keypair_to_pkcs8(kp, s->key_pkcs8_der);
	s->key_len = P256_PKCS8_LEN;
	*out = s;
	return 0;
}

/* The validity window: back-dated, and ending before the signer's own
 * (notBefore may precede the issuer's: RFC 5280 does not nest them). */
static int validity(struct kwid_authority *au, const struct au_key *ca, const struct x509_svid_request *req,
		    int64_t *nb, int64_t *na)
{
	int64_t now = au_now();
	uint32_t ttl = req->ttl_s ? req->ttl_s : au->set.x509_svid_ttl;

	*nb = now - au->set.backdate;
	*na = MIN(now + (int64_t)ttl, ca->t.not_after);
	if (au->upstream)
		*na = MIN(*na, au->up.chain_not_after);
	if (req->expires_max > 0)
		*na = MIN(*na, req->expires_max);
	return *na > now ? 0 : -EKEYEXPIRED;
}

int authority_mint_x509(struct kwid_authority *au, const struct x509_svid_request *req,
			struct kwid_x509_svid **out)
{
	struct au_key *ca = au_active(&au->x509);
	uint8_t spki[P256_SPKI_LEN];
	struct kwid_keypair kp;
	struct cert_spec spec = {0};
	_cleanup_free_ uint8_t *leaf = NULL;
	size_t leaf_len = 0;
	int r;

	if (!req->spiffe_id || !spiffe_id_is_workload_in(req->spiffe_id, au->td) || req->ndns > CERT_MAX_DNS)
		return -EINVAL;
	if (req->hint && strlen(req->hint) > 1024)
		return -EINVAL;
	if (!ca)
		return -EKEYEXPIRED;
	r = validity(au, ca, req, &spec.not_before, &spec.not_after);
	if (r < 0)
		return r;
	r = keypool_take(au->pool, &kp);
	if (r < 0)
		return r;
	p256_spki(kp.pub, spki);
	p256_key_id(kp.pub, spec.ski);
	r = cert_random_serial(spec.serial);
	if (r < 0)
		goto out;
	spec.issuer = ca->subject_der;
	spec.issuer_len = ca->subject_len;
	spec.spki = spki;
	spec.spki_len = sizeof(spki);
	spec.aki = ca->key_id;
	spec.aki_len = ca->key_id_len;
	spec.uri = req->spiffe_id;
	spec.dns = req->dns;
	spec.ndns = req->ndns;
	r = cert_issue(&spec, &ca->signer, &leaf, &leaf_len);
	if (r < 0)
		goto out;
	r = svid_new(req, leaf, leaf_len, au->upstream ? au->up.chain_der : NULL, au->upstream ? au->up.chain_len : 0,
		     &kp, out);
	if (r < 0)
		goto out;
	(*out)->not_before = spec.not_before;
	(*out)->not_after = spec.not_after;
	au->stats.x509_minted++;
	if (!au->upstream)
		au_note_signed(au, ca, spec.not_after);
out:
	keypair_wipe(&kp);
	return r;
}
