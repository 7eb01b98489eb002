/* signer.h - a private key prepared once for many signatures: the
 * authority's X.509 CA (local or upstream intermediate) and JWT keys.
 *
 * EVP_PKEY_sign() over a digest with a context initialised once is the
 * cheapest path through OpenSSL 3 (it is what `openssl speed` measures).
 * Supported keys: EC P-256 (ES256 / ecdsa-with-SHA256), P-384, P-521 and
 * RSA >= 2048 bits (sha256WithRSAEncryption), the kinds an upstream CA
 * may hand us. Not thread-safe: one signer per thread. */
#ifndef KWID_SIGNER_H
#define KWID_SIGNER_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define SIGNER_MAX_SIG 1024 /* RSA-8192 at most */

enum signer_kind { SIGNER_EC, SIGNER_RSA };

struct kwid_signer {
	EVP_PKEY *key; /* own reference */
	EVP_PKEY_CTX *ctx;
	EVP_MD *md; /* own reference */
	enum signer_kind kind;
	unsigned coord_len;	    /* EC: bytes per coordinate (32 for P-256) */
	const uint8_t *sigalg_der;  /* X.509 AlgorithmIdentifier of the signatures */
	size_t sigalg_len;
};

/* Take a reference to key and prepare it; -EOPNOTSUPP for other key kinds,
 * with *why naming the rule. */
int signer_init(struct kwid_signer *s, EVP_PKEY *key, const char **why);
void signer_clear(struct kwid_signer *s);

/* Hash data with the signer's digest and sign. EC signatures come out as
 * DER ECDSA-Sig-Value (what X.509 wants), RSA as PKCS#1 v1.5. */
int signer_sign(struct kwid_signer *s, const void *data, size_t len, uint8_t *sig, size_t *siglen);

/* ECDSA DER signature <-> JOSE raw r||s of 2*coord_len bytes. */
int ecdsa_der_to_raw(const uint8_t *der, size_t len, unsigned coord_len, uint8_t *raw);
int ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t **der, size_t *derlen);

#endif
