/* bundle.c - the trust domain's bundle in the shapes consumers want: X.509
 * roots as concatenated DER and PEM, the JWT keys as a JWK Set, and the
 * full SPIFFE bundle (x509-svid keys with x5c, jwt-svid keys with kid,
 * spiffe_sequence, spiffe_refresh_hint). The bundle digest tells when the
 * content changed, which is what moves spiffe_sequence. */
#include "authority_internal.h"
#include "kwid/base64.h"
#include "kwid/jwk.h"
#include "kwid/log.h"

#include <openssl/pem.h>

/* The X.509 authorities relying parties must trust, as (DER, X509) pairs. */
static size_t x509_roots(struct kwid_authority *au, size_t i, const uint8_t **der, size_t *len, X509 **x)
{
	if (au->upstream) {
		if (i >= au->up.nroots)
			return 0;
		*x = au->up.roots[i];
		*der = NULL; /* re-encoded by the caller */
		*len = 0;
		return 1;
	}
	if (i >= au->x509.n)
		return 0;
	*x = au->x509.v[i]->cert;
	*der = au->x509.v[i]->cert_der;
	*len = au->x509.v[i]->cert_len;
	return 1;
}

int authority_x509_bundle_der(struct kwid_authority *au, uint8_t **der, size_t *len)
{
	size_t total = 0;
	uint8_t *buf;

	if (au->upstream) {
		buf = malloc(MAX(au->up.roots_len, (size_t)1));
		if (!buf)
			return -ENOMEM;
		memcpy(buf, au->up.roots_der, au->up.roots_len);
		*der = buf;
		*len = au->up.roots_len;
		return 0;
	}
	for (size_t i = 0; i < au->x509.n; i++)
		total += au->x509.v[i]->cert_len;
	buf = malloc(MAX(total, (size_t)1));
	if (!buf)
		return -ENOMEM;
	total = 0;
	for (size_t i = 0; i < au->x509.n; i++) {
		memcpy(buf + total, au->x509.v[i]->cert_der, au->x509.v[i]->cert_len);
		total += au->x509.v[i]->cert_len;
	}
	*der = buf;
	*len = total;
	return 0;
}

int authority_x509_bundle_pem(struct kwid_authority *au, char **pem)
{
	BIO *bio = BIO_new(BIO_s_mem());
	const uint8_t *der;
	size_t len;
	X509 *x;
	char *data;
	long n;
	int r = 0;

	if (!bio)
		return -ENOMEM;
	for (size_t i = 0; x509_roots(au, i, &der, &len, &x); i++)
		if (!PEM_write_bio_X509(bio, x))
			r = -EIO;
	n = BIO_get_mem_data(bio, &data);
	if (r == 0) {
		*pem = strndup(data, (size_t)n);
		r = *pem ? 0 : -ENOMEM;
	}
	BIO_free(bio);
	return r;
}

static json_object *x509_jwk(X509 *x)
{
	unsigned char *der = NULL;
	json_object *j, *x5c;
	char *b64;
	int err, n;

	j = jwk_from_pkey(X509_get0_pubkey(x), &err);
	n = j ? i2d_X509(x, &der) : -1;
	b64 = n > 0 ? base64_encode(der, (size_t)n) : NULL;
	OPENSSL_free(der);
	if (!b64) {
		json_object_put(j);
		return NULL;
	}
	json_object_object_add(j, "use", json_object_new_string("x509-svid"));
	x5c = json_object_new_array();
	json_object_array_add(x5c, json_object_new_string(b64));
	json_object_object_add(j, "x5c", x5c);
	free(b64);
	return j;
}

static json_object *jwt_jwk(const struct au_key *k)
{
	int err;
	json_object *j = jwk_from_pkey(k->signer.key, &err);

	if (!j)
		return NULL;
	json_object_object_add(j, "kid", json_object_new_string(k->id));
	json_object_object_add(j, "use", json_object_new_string("jwt-svid"));
	return j;
}

static int add_jwt_keys(struct kwid_authority *au, json_object *keys)
{
	for (size_t i = 0; i < au->jwt.n; i++) {
		json_object *j = jwt_jwk(au->jwt.v[i]);
		if (!j)
			return -ENOMEM;
		json_object_array_add(keys, j);
	}
	return 0;
}

json_object *authority_bundle_jwks(struct kwid_authority *au)
{
	json_object *b = json_object_new_object(), *keys = json_object_new_array();
	const uint8_t *der;
	size_t len;
	X509 *x;

	json_object_object_add(b, "keys", keys);
	for (size_t i = 0; x509_roots(au, i, &der, &len, &x); i++) {
		json_object *j = x509_jwk(x);
		if (!j) {
			json_object_put(b);
			return NULL;
		}
		json_object_array_add(keys, j);
	}
	if (add_jwt_keys(au, keys) < 0) {
		json_object_put(b);
		return NULL;
	}
	json_object_object_add(b, "spiffe_sequence", json_object_new_int64((int64_t)au->sequence));
	json_object_object_add(b, "spiffe_refresh_hint", json_object_new_int64(au->set.refresh_hint));
	return b;
}

int authority_jwt_bundle_jwks(struct kwid_authority *au, char **json, size_t *len)
{
	json_object *b = json_object_new_object(), *keys = json_object_new_array();
	const char *text;
	size_t n;
	int r;

	json_object_object_add(b, "keys", keys);
	r = add_jwt_keys(au, keys);
	text = r == 0 ? json_object_to_json_string_length(b, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n)
		      : NULL;
	if (text) {
		*json = strndup(text, n);
		*len = n;
	}
	json_object_put(b);
	if (r < 0)
		return r;
	return text && *json ? 0 : -ENOMEM;
}

int au_bundle_digest(struct kwid_authority *au, uint8_t out[32])
{
	_cleanup_free_ uint8_t *der = NULL;
	EVP_MD_CTX *c;
	size_t len = 0;
	int r = authority_x509_bundle_der(au, &der, &len), ok;

	if (r < 0)
		return r;
	c = EVP_MD_CTX_new();
	ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, der, len);
	for (size_t i = 0; ok && i < au->jwt.n; i++)
		ok = EVP_DigestUpdate(c, au->jwt.v[i]->id, strlen(au->jwt.v[i]->id) + 1);
	ok = ok && EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	return ok ? 0 : -EIO;
}
