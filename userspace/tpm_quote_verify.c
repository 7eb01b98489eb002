/* tpm_quote_verify.c - the verifier's view of a TPM quote: unmarshal the
 * signed TPMS_ATTEST and the TPMT_SIGNATURE (tss2-mu, exact lengths),
 * recompute the PCR digest from reported values and check the signature
 * with OpenSSL. No TPM and no agent are involved: kwidctl links this for
 * `node verify`, and the agent checks its own quotes with it. */
#include "kwid/errbuf.h"
#include "kwid/tpm.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

int tpm_attest_parse(const uint8_t *buf, size_t len, TPMS_ATTEST *out, char *err, size_t errlen)
{
	size_t off = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(buf, len, &off, out);
	if (rc != TSS2_RC_SUCCESS)
		return errbuf_set(-EBADMSG, err, errlen, "quote: the attest structure does not unmarshal (%s)",
			    Tss2_RC_Decode(rc));
	if (off != len)
		return errbuf_set(-EBADMSG, err, errlen, "quote: %zu bytes trail the attest structure", len - off);
	return 0;
}

int tpm_signature_parse(const uint8_t *buf, size_t len, TPMT_SIGNATURE *out, char *err, size_t errlen)
{
	size_t off = 0;
	TSS2_RC rc;

	memset(out, 0, sizeof(*out));
	rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, len, &off, out);
	if (rc != TSS2_RC_SUCCESS)
		return errbuf_set(-EBADMSG, err, errlen, "quote: the signature does not unmarshal (%s)",
			    Tss2_RC_Decode(rc));
	if (off != len)
		return errbuf_set(-EBADMSG, err, errlen, "quote: %zu bytes trail the signature", len - off);
	return 0;
}

int tpm_pcr_composite(const TPML_PCR_SELECTION *sel, const struct kwid_pcr_values *vals,
		      enum kwid_digest_alg hash, uint8_t *out, char *err, size_t errlen)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_(EVP_MD_freep) EVP_MD *md = digest_fetch(hash);

	if (!ctx || !md || EVP_DigestInit_ex2(ctx, md, NULL) != 1)
		return -EIO;
	if (sel->count > TPM2_NUM_PCR_BANKS)
		return errbuf_set(-EINVAL, err, errlen, "quote: %u PCR banks selected", sel->count);
	for (uint32_t i = 0; i < sel->count; i++) {
		const TPMS_PCR_SELECTION *s = &sel->pcrSelections[i];
		enum kwid_digest_alg bank;
		size_t size;

		if (digest_alg_from_tpm(s->hash, &bank) < 0)
			return errbuf_set(-EINVAL, err, errlen, "quote: selects PCRs of unsupported bank 0x%04x", s->hash);
		size = digest_info(bank)->size;
		if (s->sizeofSelect > TPM2_PCR_SELECT_MAX)
			return errbuf_set(-EINVAL, err, errlen, "quote: PCR select of %u bytes", s->sizeofSelect);
		for (unsigned pcr = 0; pcr < 8u * s->sizeofSelect; pcr++) {
			if (!(s->pcrSelect[pcr / 8] & (1u << (pcr % 8))))
				continue;
			if (pcr >= KWID_PCR_COUNT)
				return errbuf_set(-EINVAL, err, errlen, "quote: selects %s PCR %u (kwid supports 0..%d)",
					    digest_info(bank)->name, pcr, KWID_PCR_COUNT - 1);
			if (!(vals->have.mask[bank] & (1u << pcr)))
				return errbuf_set(-ENOENT, err, errlen, "quote covers %s PCR %u but no value is reported",
					    digest_info(bank)->name, pcr);
			if (EVP_DigestUpdate(ctx, vals->v[bank][pcr], size) != 1)
				return -EIO;
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		return -EIO;
	return 0;
}

static int sig_hash(TPMI_ALG_HASH h, enum kwid_digest_alg *out, char *err, size_t errlen)
{
	if (digest_alg_from_tpm(h, out) < 0 || *out == KWID_DIGEST_SHA1)
		return errbuf_set(-EBADMSG, err, errlen, "quote: signature hash 0x%04x is not SHA-256/384/512", h);
	return 0;
}

/* ECDSA r and s as the DER ECDSA-Sig-Value OpenSSL verifies. */
static int ecdsa_der(const TPMS_SIGNATURE_ECC *ecc, uint8_t **der, int *derlen)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(ecc->signatureR.buffer, ecc->signatureR.size, NULL);
	BIGNUM *sv = BN_bin2bn(ecc->signatureS.buffer, ecc->signatureS.size, NULL);

	if (!s || !r || !sv || ECDSA_SIG_set0(s, r, sv) != 1) {
		ECDSA_SIG_free(s);
		BN_free(r);
		BN_free(sv);
		return -ENOMEM;
	}
	*der = NULL;
	*derlen = i2d_ECDSA_SIG(s, der);
	ECDSA_SIG_free(s);
	return *derlen > 0 ? 0 : -ENOMEM;
}

int tpm_signature_verify(EVP_PKEY *key, const TPMT_SIGNATURE *sig, const uint8_t *attest, size_t attest_len,
			 char *err, size_t errlen)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_(EVP_MD_freep) EVP_MD *md = NULL;
	_cleanup_free_ uint8_t *der = NULL;
	const uint8_t *s;
	size_t slen;
	EVP_PKEY_CTX *pctx = NULL;
	enum kwid_digest_alg h;
	bool ec = EVP_PKEY_is_a(key, "EC");
	int r, derlen;

	if (!ctx)
		return -ENOMEM;
	switch (sig->sigAlg) {
	case TPM2_ALG_ECDSA:
		if (!ec)
			return errbuf_set(-EBADMSG, err, errlen, "quote: ECDSA signature but the AK is not an EC key");
		r = sig_hash(sig->signature.ecdsa.hash, &h, err, errlen);
		if (r < 0)
			return r;
		r = ecdsa_der(&sig->signature.ecdsa, &der, &derlen);
		if (r < 0)
			return r;
		s = der;
		slen = (size_t)derlen;
		break;
	case TPM2_ALG_RSASSA:
	case TPM2_ALG_RSAPSS:
		if (!EVP_PKEY_is_a(key, "RSA"))
			return errbuf_set(-EBADMSG, err, errlen, "quote: RSA signature but the AK is not an RSA key");
		r = sig_hash(sig->signature.rsassa.hash, &h, err, errlen);
		if (r < 0)
			return r;
		s = sig->signature.rsassa.sig.buffer;
		slen = sig->signature.rsassa.sig.size;
		break;
	default:
		return errbuf_set(-EBADMSG, err, errlen, "quote: unsupported signature algorithm 0x%04x", sig->sigAlg);
	}
	md = digest_fetch(h);
	if (!md || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) != 1)
		return errbuf_set(-EIO, err, errlen, "quote: cannot set up signature verification");
	if (sig->sigAlg == TPM2_ALG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1))
		return -EIO;
	if (EVP_DigestVerify(ctx, s, slen, attest, attest_len) != 1)
		return errbuf_set(-EBADMSG, err, errlen, "quote: the signature does not verify with the AK public key");
	return 0;
}

static int ec_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **out)
{
	const TPMS_ECC_POINT *pt = &pub->unique.ecc;
	const char *group;
	size_t csize;
	uint8_t point[1 + 2 * 66];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = -EINVAL;

	switch (pub->parameters.eccDetail.curveID) {
	case TPM2_ECC_NIST_P256:
		group = "prime256v1";
		csize = 32;
		break;
	case TPM2_ECC_NIST_P384:
		group = "secp384r1";
		csize = 48;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (pt->x.size > csize || pt->y.size > csize)
		return -EINVAL;
	memset(point, 0, sizeof(point));
	point[0] = 0x04; /* uncompressed; coordinates left-padded */
	memcpy(point + 1 + csize - pt->x.size, pt->x.buffer, pt->x.size);
	memcpy(point + 1 + 2 * csize - pt->y.size, pt->y.buffer, pt->y.size);
	bld = OSSL_PARAM_BLD_new();
	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * csize) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) && (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) &&
	    EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

static int rsa_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **out)
{
	uint32_t exp = pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent : 65537;
	BIGNUM *n = BN_bin2bn(pub->unique.rsa.buffer, pub->unique.rsa.size, NULL), *e = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = -EINVAL;

	if (n && e && bld && BN_set_word(e, exp) == 1 && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 && (params = OSSL_PARAM_BLD_to_param(bld)) &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return r;
}

int tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **out)
{
	*out = NULL;
	if (pub->type == TPM2_ALG_ECC)
		return ec_to_pkey(pub, out);
	if (pub->type == TPM2_ALG_RSA)
		return rsa_to_pkey(pub, out);
	return -EOPNOTSUPP;
}

char *pkey_to_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (!bio)
		return NULL;
	if (PEM_write_bio_PUBKEY(bio, key) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)n + 1))) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}

int pkey_from_pem(const char *pem, size_t len, EVP_PKEY **out)
{
	BIO *bio;

	if (len > INT32_MAX)
		return -EFBIG;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return -ENOMEM;
	*out = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return *out ? 0 : -EINVAL;
}
