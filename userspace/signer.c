/* signer.c - private keys prepared for repeated signing (see kwid/signer.h)
 * and the ECDSA signature format conversion JOSE needs. */
#include "kwid/signer.h"
#include "kwid/util.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

/* AlgorithmIdentifier DER of the signature algorithms kwid issues. */
static const uint8_t ALG_ECDSA_SHA256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
					   0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t ALG_ECDSA_SHA384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
					   0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t ALG_ECDSA_SHA512[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
					   0xce, 0x3d, 0x04, 0x03, 0x04};
static const uint8_t ALG_RSA_SHA256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
					 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};

void signer_clear(struct kwid_signer *s)
{
	EVP_MD_free(s->md);
	EVP_PKEY_CTX_free(s->ctx);
	EVP_PKEY_free(s->key);
	*s = (struct kwid_signer){0};
}

static int pick_ec(struct kwid_signer *s, const char **why)
{
	char group[64];

	if (!EVP_PKEY_get_utf8_string_param(s->key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)) {
		*why = "EC key without a named curve";
		return -EOPNOTSUPP;
	}
	if (streq(group, "prime256v1") || streq(group, "P-256")) {
		s->md = EVP_MD_fetch(NULL, "SHA256", NULL); /* fetched once, not per signature */
		s->coord_len = 32;
		s->sigalg_der = ALG_ECDSA_SHA256;
		s->sigalg_len = sizeof(ALG_ECDSA_SHA256);
	} else if (streq(group, "secp384r1") || streq(group, "P-384")) {
		s->md = EVP_MD_fetch(NULL, "SHA384", NULL); /* fetched once, not per signature */
		s->coord_len = 48;
		s->sigalg_der = ALG_ECDSA_SHA384;
		s->sigalg_len = sizeof(ALG_ECDSA_SHA384);
	} else if (streq(group, "secp521r1") || streq(group, "P-521")) {
		s->md = EVP_MD_fetch(NULL, "SHA512", NULL); /* fetched once, not per signature */
		s->coord_len = 66;
		s->sigalg_der = ALG_ECDSA_SHA512;
		s->sigalg_len = sizeof(ALG_ECDSA_SHA512);
	} else {
		*why = "EC curve is not P-256, P-384 or P-521";
		return -EOPNOTSUPP;
	}
	s->kind = SIGNER_EC;
	return 0;
}

int signer_init(struct kwid_signer *s, EVP_PKEY *key, const char **why)
{
	const char *dummy;
	int r;

	if (!why)
		why = &dummy;
	*s = (struct kwid_signer){0};
	if (!EVP_PKEY_up_ref(key))
		return -ENOMEM;
	s->key = key;
	if (EVP_PKEY_is_a(key, "EC")) {
		r = pick_ec(s, why);
	} else if (EVP_PKEY_is_a(key, "RSA")) {
		if (EVP_PKEY_get_bits(key) < 2048) {
			*why = "RSA key shorter than 2048 bits";
			r = -EOPNOTSUPP;
		} else {
			s->kind = SIGNER_RSA;
			s->md = EVP_MD_fetch(NULL, "SHA256", NULL); /* fetched once, not per signature */
			s->sigalg_der = ALG_RSA_SHA256;
			s->sigalg_len = sizeof(ALG_RSA_SHA256);
			r = 0;
		}
	} else {
		*why = "key is neither EC nor RSA";
		r = -EOPNOTSUPP;
	}
	if (r == 0 && !s->md)
		r = -ENOMEM;
	if (r < 0)
		goto fail;
	s->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (!s->ctx || EVP_PKEY_sign_init(s->ctx) <= 0 || EVP_PKEY_CTX_set_signature_md(s->ctx, s->md) <= 0 ||
	    (s->kind == SIGNER_RSA && EVP_PKEY_CTX_set_rsa_padding(s->ctx, RSA_PKCS1_PADDING) <= 0)) {
		*why = "OpenSSL cannot prepare the key for signing";
		r = -EIO;
		goto fail;
	}
	return 0;
fail:
	signer_clear(s);
	return r;
}

int signer_sign(struct kwid_signer *s, const void *data, size_t len, uint8_t *sig, size_t *siglen)
{
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	size_t cap = *siglen;

	if (!EVP_Digest(data, len, digest, &dlen, s->md, NULL))
		return -EIO;
	if (EVP_PKEY_sign(s->ctx, sig, &cap, digest, dlen) <= 0)
		return -EIO;
	*siglen = cap;
	return 0;
}

int ecdsa_der_to_raw(const uint8_t *der, size_t len, unsigned coord_len, uint8_t *raw)
{
	const uint8_t *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int ret = -EINVAL;

	if (!sig)
		return -EINVAL;
	ECDSA_SIG_get0(sig, &r, &s);
	if (p == der + len && BN_bn2binpad(r, raw, (int)coord_len) == (int)coord_len &&
	    BN_bn2binpad(s, raw + coord_len, (int)coord_len) == (int)coord_len)
		ret = 0;
	ECDSA_SIG_free(sig);
	return ret;
}

int ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t **der, size_t *derlen)
{
	ECDSA_SIG *sig;
	BIGNUM *r, *s;
	unsigned char *out = NULL;
	int n;

	if (len == 0 || len % 2)
		return -EINVAL;
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(raw, (int)(len / 2), NULL);
	s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
	if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
		ECDSA_SIG_free(sig);
		BN_free(r);
		BN_free(s);
		return -ENOMEM;
	}
	n = i2d_ECDSA_SIG(sig, &out);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return -EINVAL;
	*der = out;
	*derlen = (size_t)n;
	return 0;
}
