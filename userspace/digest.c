/* digest.c - the hash algorithm table shared by the TPM client, the IMA
 * replay and the quote verifier (see kwid/digest.h). */
#include "kwid/digest.h"
#include "kwid/util.h"

#include <tss2/tss2_tpm2_types.h>

static const struct kwid_digest_info table[KWID_DIGEST__COUNT] = {
	[KWID_DIGEST_SHA1] = {"sha1", TPM2_ALG_SHA1, 20, "SHA1"},
	[KWID_DIGEST_SHA256] = {"sha256", TPM2_ALG_SHA256, 32, "SHA256"},
	[KWID_DIGEST_SHA384] = {"sha384", TPM2_ALG_SHA384, 48, "SHA384"},
	[KWID_DIGEST_SHA512] = {"sha512", TPM2_ALG_SHA512, 64, "SHA512"},
};

const struct kwid_digest_info *digest_info(enum kwid_digest_alg alg)
{
	return (unsigned)alg < KWID_DIGEST__COUNT ? &table[alg] : NULL;
}

int digest_alg_from_name(const char *name, enum kwid_digest_alg *out)
{
	for (size_t i = 0; i < KWID_DIGEST__COUNT; i++) {
		if (streq(table[i].name, name)) {
			*out = (enum kwid_digest_alg)i;
			return 0;
		}
	}
	return -EINVAL;
}

int digest_alg_from_tpm(uint16_t tpm_alg, enum kwid_digest_alg *out)
{
	for (size_t i = 0; i < KWID_DIGEST__COUNT; i++) {
		if (table[i].tpm_alg == tpm_alg) {
			*out = (enum kwid_digest_alg)i;
			return 0;
		}
	}
	return -EINVAL;
}

EVP_MD *digest_fetch(enum kwid_digest_alg alg)
{
	const struct kwid_digest_info *d = digest_info(alg);

	return d ? EVP_MD_fetch(NULL, d->ossl, NULL) : NULL;
}

int digest_buf(enum kwid_digest_alg alg, const EVP_MD *md, EVP_MD_CTX *ctx, const void *data,
	       size_t len, uint8_t *out)
{
	EVP_MD *fetched = NULL;
	EVP_MD_CTX *own = NULL;
	int r = -EIO;

	if (!md)
		md = fetched = digest_fetch(alg);
	if (!ctx)
		ctx = own = EVP_MD_CTX_new();
	if (md && ctx && EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, NULL) == 1)
		r = 0;
	EVP_MD_CTX_free(own);
	EVP_MD_free(fetched);
	return r;
}

int digest_extend(enum kwid_digest_alg alg, const EVP_MD *md, EVP_MD_CTX *ctx, uint8_t *pcr,
		  const uint8_t *digest)
{
	uint8_t buf[2 * KWID_DIGEST_MAX];
	size_t n = table[alg].size;

	memcpy(buf, pcr, n);
	memcpy(buf + n, digest, n);
	return digest_buf(alg, md, ctx, buf, 2 * n, pcr);
}
