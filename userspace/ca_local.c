/* ca_local.c - X.509 signing keys: the local self-signed root CA of the
 * trust domain (EC P-256), and the wrapping of any CA certificate + key
 * (local or upstream) into an authority key. */
#include "authority_internal.h"
#include "kwid/log.h"
#include "kwid/x509_build.h"

#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include <time.h>

int64_t au_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

int au_x509_key_from(EVP_PKEY *pkey, X509 *cert, struct au_key **out)
{
	struct au_key *k = calloc(1, sizeof(*k));
	const ASN1_OCTET_STRING *ski;
	unsigned char *p;
	const char *why = NULL;
	unsigned mdlen = 0;
	int r, n;

	if (!k) {
		EVP_PKEY_free(pkey);
		X509_free(cert);
		return -ENOMEM;
	}
	k->kind = AU_X509;
	k->cert = cert;
	r = signer_init(&k->signer, pkey, &why);
	EVP_PKEY_free(pkey); /* the signer holds its own reference */
	if (r < 0) {
		log_error("authority: CA key unusable: %s", why ? why : "unsupported");
		goto fail;
	}
	r = -EINVAL;
	if (X509_check_private_key(cert, k->signer.key) != 1) {
		log_error("authority: the CA private key does not match its certificate");
		goto fail;
	}
	n = i2d_X509(cert, NULL);
	if (n <= 0 || !(k->cert_der = malloc((size_t)n)))
		goto fail;
	p = k->cert_der;
	k->cert_len = (size_t)i2d_X509(cert, &p);
	k->subject_der = NULL;
	n = i2d_X509_NAME(X509_get_subject_name(cert), &k->subject_der);
	if (n <= 0)
		goto fail;
	k->subject_len = (size_t)n;
	ski = X509_get0_subject_key_id(cert);
	if (ski && ASN1_STRING_length(ski) > 0 && ASN1_STRING_length(ski) <= (int)sizeof(k->key_id)) {
		k->key_id_len = (size_t)ASN1_STRING_length(ski);
		memcpy(k->key_id, ASN1_STRING_get0_data(ski), k->key_id_len);
	} else if (X509_pubkey_digest(cert, EVP_sha1(), k->key_id, &mdlen)) {
		k->key_id_len = mdlen; /* RFC 5280 method 1, as if the SKI were there */
	} else {
		goto fail;
	}
	hex_encode(k->key_id, MIN(k->key_id_len, (size_t)(AU_ID_MAX - 1) / 2), k->id);
	k->t.created = au_asn1_time(X509_get0_notBefore(cert));
	k->t.not_after = au_asn1_time(X509_get0_notAfter(cert));
	*out = k;
	return 0;
fail:
	au_key_free(k);
	return r;
}

static int new_p256(EVP_PKEY **pkey, uint8_t pub[P256_PUB_LEN])
{
	size_t len = 0;

	*pkey = EVP_EC_gen("P-256");
	if (!*pkey)
		return -EIO;
	if (!EVP_PKEY_get_octet_string_param(*pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, P256_PUB_LEN, &len) ||
	    len != P256_PUB_LEN) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
		return -EIO;
	}
	return 0;
}

int au_ca_local_create(struct kwid_authority *au, int64_t now, struct au_key **out)
{
	uint8_t pub[P256_PUB_LEN], spki[P256_SPKI_LEN];
	_cleanup_free_ uint8_t *name = NULL, *der = NULL;
	struct kwid_signer self = {0};
	struct cert_spec spec = {0};
	char cn[64], hex[2 * CERT_SKI_LEN + 1];
	const unsigned char *p;
	size_t name_len = 0, der_len = 0;
	EVP_PKEY *pkey = NULL;
	X509 *cert;
	int r;

	r = new_p256(&pkey, pub);
	if (r < 0)
		return r;
	p256_key_id(pub, spec.ski);
	p256_spki(pub, spki);
	hex_encode(spec.ski, CERT_SKI_LEN, hex);
	snprintf(cn, sizeof(cn), "kwid CA %.16s", hex);
	r = cert_name("kwid", cn, &name, &name_len);
	if (r == 0)
		r = cert_random_serial(spec.serial);
	if (r == 0)
		r = signer_init(&self, pkey, NULL);
	if (r < 0)
		goto out;
	spec.issuer = spec.subject = name;
	spec.issuer_len = spec.subject_len = name_len;
	spec.not_before = now - au->set.backdate;
	spec.not_after = now + au->set.ca_ttl;
	spec.spki = spki;
	spec.spki_len = sizeof(spki);
	spec.ca = true;
	spec.aki = spec.ski;
	spec.aki_len = CERT_SKI_LEN;
	spec.uri = au->td_id;
	r = cert_issue(&spec, &self, &der, &der_len);
	signer_clear(&self);
	if (r < 0)
		goto out;
	p = der;
	cert = d2i_X509(NULL, &p, (long)der_len);
	if (!cert) {
		r = -EIO;
		goto out;
	}
	r = au_x509_key_from(TAKE_PTR(pkey), cert, out);
	if (r == 0)
		(*out)->t.created = now;
out:
	EVP_PKEY_free(pkey);
	return r;
}
