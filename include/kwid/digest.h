/* digest.h - the hash algorithms of TPM PCR banks and IMA logs: names,
 * sizes, TPM algorithm ids and OpenSSL digests, in one table so that the
 * TPM code, the IMA replay and the verifier agree on them. */
#ifndef KWID_DIGEST_H
#define KWID_DIGEST_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "kwid/util.h"

enum kwid_digest_alg {
	KWID_DIGEST_SHA1,
	KWID_DIGEST_SHA256,
	KWID_DIGEST_SHA384,
	KWID_DIGEST_SHA512,
	KWID_DIGEST__COUNT,
};

#define KWID_DIGEST_MAX 64 /* bytes of the largest digest (SHA-512) */

struct kwid_digest_info {
	const char *name;   /* "sha256": as IMA, tpm2-tools and selectors spell it */
	uint16_t tpm_alg;   /* TPM2_ALG_SHA256 */
	size_t size;	    /* bytes */
	const char *ossl;   /* OpenSSL fetch name */
};

const struct kwid_digest_info *digest_info(enum kwid_digest_alg alg);
/* -EINVAL when the name or id is not one of the table's. */
int digest_alg_from_name(const char *name, enum kwid_digest_alg *out);
int digest_alg_from_tpm(uint16_t tpm_alg, enum kwid_digest_alg *out);

/* Fetch the OpenSSL implementation (caller frees with EVP_MD_free). Fetch
 * once and reuse: implicit fetches on every init cost more than hashing
 * a small buffer. */
EVP_MD *digest_fetch(enum kwid_digest_alg alg);

/* One-shot digest of data into out (digest_info(alg)->size bytes).
 * md may be NULL (then it is fetched for this call); ctx may be NULL. */
int digest_buf(enum kwid_digest_alg alg, const EVP_MD *md, EVP_MD_CTX *ctx, const void *data,
	       size_t len, uint8_t *out);

/* PCR extend: pcr = H(pcr || digest), both digest_info(alg)->size bytes. */
int digest_extend(enum kwid_digest_alg alg, const EVP_MD *md, EVP_MD_CTX *ctx, uint8_t *pcr,
		  const uint8_t *digest);

DEFINE_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
DEFINE_CLEANUP_FUNC(EVP_MD, EVP_MD_free)
DEFINE_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)

#endif
