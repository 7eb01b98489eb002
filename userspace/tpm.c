/* tpm.c - the agent's TPM client over tpm2-tss ESAPI (see kwid/tpm.h):
 * connect through a TCTI, re-create the TCG default EK, create or load
 * the AK under it with a PolicySecret(endorsement) session, quote, read
 * PCRs and the EK certificate. Every transient object and session lives
 * in a struct tpm_obj whose cleanup flushes it, so no path leaks a slot. */
#include "kwid/errbuf.h"
#include "kwid/log.h"
#include "kwid/tpm.h"

#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#define EK_CERT_NV_RSA 0x01c00002
#define EK_CERT_NV_ECC 0x01c0000a
#define EK_CERT_MAX 4096
#define NV_CHUNK 512 /* below every TPM's TPM2_PT_NV_BUFFER_MAX */
#define QUOTE_ATTEMPTS 4

struct kwid_tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

/* A transient object or session, flushed when it goes out of scope. */
struct tpm_obj {
	ESYS_CONTEXT *esys;
	ESYS_TR tr;
};

static void tpm_obj_flush(struct tpm_obj *o)
{
	if (o->tr != ESYS_TR_NONE) {
		TSS2_RC rc = Esys_FlushContext(o->esys, o->tr);
		if (rc != TSS2_RC_SUCCESS)
			log_warn("tpm: flushing handle failed: %s", Tss2_RC_Decode(rc));
		o->tr = ESYS_TR_NONE;
	}
}
#define _cleanup_flush_ _cleanup_(tpm_obj_flush)
#define TPM_OBJ(t) {.esys = (t)->esys, .tr = ESYS_TR_NONE}

static void esys_freep(void *p)
{
	Esys_Free(*(void **)p);
}
#define _cleanup_esys_ _cleanup_(esys_freep)

#define TPM_FAIL(rc, err, errlen, what) errbuf_set(-EIO, err, errlen, "tpm: %s failed: %s", what, Tss2_RC_Decode(rc))

/* ---- connection ---- */

void tpm_close(struct kwid_tpm *t)
{
	if (!t)
		return;
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
}

int tpm_open(const char *tcti, struct kwid_tpm **out, char *err, size_t errlen)
{
	_cleanup_(tpm_closep) struct kwid_tpm *t = NULL;
	TSS2_RC rc;

	if (!tcti || !*tcti)
		return errbuf_set(-ENODEV, err, errlen, "no TPM configured (node.tcti is null)");
	if (startswith(tcti, "device:") || streq(tcti, "device")) {
		const char *path = streq(tcti, "device") ? "/dev/tpmrm0" : tcti + strlen("device:");
		if (access(path, R_OK | W_OK) < 0)
			return errbuf_set(-ENODEV, err, errlen, "no TPM at %s (%s)", tcti, strerror(errno));
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc != TSS2_RC_SUCCESS)
		return errbuf_set(-ENODEV, err, errlen, "no TPM at %s (the TCTI cannot connect: %s)", tcti,
			    Tss2_RC_Decode(rc));
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return TPM_FAIL(rc, err, errlen, "Esys_Initialize");
	*out = TAKE_PTR(t);
	return 0;
}

/* ---- templates ---- */

#define EK_ATTRS                                                                                   \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |        \
	 TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)
#define AK_ATTRS                                                                                   \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |        \
	 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)

/* PolicySecret(TPM_RH_ENDORSEMENT), the TCG EK Credential Profile's EK policy. */
static const TPM2B_DIGEST ek_policy = {
	.size = 32,
	.buffer = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
		   0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa},
};

static void ek_template(enum tpm_ak_alg alg, TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = EK_ATTRS;
	t->publicArea.authPolicy = ek_policy;
	if (alg == TPM_AK_ECC) { /* template L-2: NIST P-256 */
		TPMS_ECC_PARMS *p = &t->publicArea.parameters.eccDetail;
		t->publicArea.type = TPM2_ALG_ECC;
		p->symmetric = (TPMT_SYM_DEF_OBJECT){TPM2_ALG_AES, {.aes = 128}, {.aes = TPM2_ALG_CFB}};
		p->scheme.scheme = TPM2_ALG_NULL;
		p->curveID = TPM2_ECC_NIST_P256;
		p->kdf.scheme = TPM2_ALG_NULL;
		t->publicArea.unique.ecc.x.size = 32;
		t->publicArea.unique.ecc.y.size = 32;
	} else { /* template L-1: RSA 2048 */
		TPMS_RSA_PARMS *p = &t->publicArea.parameters.rsaDetail;
		t->publicArea.type = TPM2_ALG_RSA;
		p->symmetric = (TPMT_SYM_DEF_OBJECT){TPM2_ALG_AES, {.aes = 128}, {.aes = TPM2_ALG_CFB}};
		p->scheme.scheme = TPM2_ALG_NULL;
		p->keyBits = 2048;
		t->publicArea.unique.rsa.size = 256;
	}
}

static void ak_template(enum tpm_ak_alg alg, TPM2B_PUBLIC *t)
{
	memset(t, 0, sizeof(*t));
	t->publicArea.nameAlg = TPM2_ALG_SHA256;
	t->publicArea.objectAttributes = AK_ATTRS;
	if (alg == TPM_AK_ECC) {
		TPMS_ECC_PARMS *p = &t->publicArea.parameters.eccDetail;
		t->publicArea.type = TPM2_ALG_ECC;
		p->symmetric.algorithm = TPM2_ALG_NULL;
		p->scheme.scheme = TPM2_ALG_ECDSA;
		p->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		p->curveID = TPM2_ECC_NIST_P256;
		p->kdf.scheme = TPM2_ALG_NULL;
	} else {
		TPMS_RSA_PARMS *p = &t->publicArea.parameters.rsaDetail;
		t->publicArea.type = TPM2_ALG_RSA;
		p->symmetric.algorithm = TPM2_ALG_NULL;
		p->scheme.scheme = TPM2_ALG_RSASSA;
		p->scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		p->keyBits = 2048;
	}
}

/* ---- EK and the policy session that authorizes its use ---- */

static int ek_create(struct kwid_tpm *t, enum tpm_ak_alg alg, struct tpm_obj *ek, TPM2B_PUBLIC **pub,
		     char *err, size_t errlen)
{
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION creation_pcrs = {0};
	TPM2B_PUBLIC tmpl;
	TSS2_RC rc;

	ek_template(alg, &tmpl);
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
				&sens, &tmpl, &outside, &creation_pcrs, &ek->tr, pub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		ek->tr = ESYS_TR_NONE;
		return TPM_FAIL(rc, err, errlen, "creating the EK (CreatePrimary in the endorsement hierarchy)");
	}
	return 0;
}

static int ek_session(struct kwid_tpm *t, struct tpm_obj *s, char *err, size_t errlen)
{
	TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
	TSS2_RC rc;

	rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &s->tr);
	if (rc != TSS2_RC_SUCCESS) {
		s->tr = ESYS_TR_NONE;
		return TPM_FAIL(rc, err, errlen, "StartAuthSession");
	}
	rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, s->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			       ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return TPM_FAIL(rc, err, errlen, "PolicySecret(endorsement)");
	return 0;
}

/* ---- AK ---- */

void tpm_ak_clear(struct tpm_ak *ak)
{
	EVP_PKEY_free(ak->pkey);
	memset(ak, 0, sizeof(*ak));
}

/* name = nameAlg || H(TPMT_PUBLIC) */
static int public_name(const TPM2B_PUBLIC *pub, uint8_t *name, size_t *len)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	size_t off = 0;

	if (pub->publicArea.nameAlg != TPM2_ALG_SHA256 ||
	    Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return -EINVAL;
	name[0] = TPM2_ALG_SHA256 >> 8;
	name[1] = TPM2_ALG_SHA256 & 0xff;
	*len = 34;
	return digest_buf(KWID_DIGEST_SHA256, NULL, NULL, buf, off, name + 2);
}

static int ak_finish(struct tpm_ak *ak, enum tpm_ak_alg alg)
{
	int r;

	ak->alg = alg;
	r = public_name(&ak->pub, ak->name, &ak->name_len);
	if (r < 0)
		return r;
	return tpm_public_to_pkey(&ak->pub.publicArea, &ak->pkey);
}

static int ak_create(struct kwid_tpm *t, enum tpm_ak_alg alg, ESYS_TR ek, struct tpm_ak *ak, char *err,
		     size_t errlen)
{
	struct tpm_obj s _cleanup_flush_ = TPM_OBJ(t);
	_cleanup_esys_ TPM2B_PUBLIC *pub = NULL;
	_cleanup_esys_ TPM2B_PRIVATE *priv = NULL;
	TPM2B_SENSITIVE_CREATE sens = {0};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION creation_pcrs = {0};
	TPM2B_PUBLIC tmpl;
	TSS2_RC rc;
	int r;

	r = ek_session(t, &s, err, errlen);
	if (r < 0)
		return r;
	ak_template(alg, &tmpl);
	rc = Esys_Create(t->esys, ek, s.tr, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcrs,
			 &priv, &pub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS)
		return TPM_FAIL(rc, err, errlen, "creating the AK under the EK");
	memset(ak, 0, sizeof(*ak));
	ak->pub = *pub;
	ak->priv = *priv;
	return ak_finish(ak, alg);
}

/* Load the AK under a fresh EK; on success *h holds it (flushed by the
 * caller's cleanup). The EK is flushed before returning. */
static int ak_load(struct kwid_tpm *t, const struct tpm_ak *ak, struct tpm_obj *h, TSS2_RC *rc_out, char *err,
		   size_t errlen)
{
	struct tpm_obj ek _cleanup_flush_ = TPM_OBJ(t);
	struct tpm_obj s _cleanup_flush_ = TPM_OBJ(t);
	TSS2_RC rc;
	int r;

	*rc_out = TSS2_RC_SUCCESS;
	r = ek_create(t, ak->alg, &ek, NULL, err, errlen);
	if (r < 0)
		return r;
	r = ek_session(t, &s, err, errlen);
	if (r < 0)
		return r;
	rc = Esys_Load(t->esys, ek.tr, s.tr, ESYS_TR_NONE, ESYS_TR_NONE, &ak->priv, &ak->pub, &h->tr);
	if (rc != TSS2_RC_SUCCESS) {
		h->tr = ESYS_TR_NONE;
		*rc_out = rc;
		return TPM_FAIL(rc, err, errlen, "loading the AK under the EK");
	}
	return 0;
}

static const char *ak_file(enum tpm_ak_alg alg, bool priv)
{
	if (alg == TPM_AK_ECC)
		return priv ? "ak-ecc.priv" : "ak-ecc.pub";
	return priv ? "ak-rsa.priv" : "ak-rsa.pub";
}

static int ak_save(const char *dir, const struct tpm_ak *ak)
{
	uint8_t pub[sizeof(TPM2B_PUBLIC)], priv[sizeof(TPM2B_PRIVATE)];
	size_t publen = 0, privlen = 0;
	int r;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&ak->pub, pub, sizeof(pub), &publen) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&ak->priv, priv, sizeof(priv), &privlen) != TSS2_RC_SUCCESS)
		return -EINVAL;
	r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	r = write_file_atomic(dir, ak_file(ak->alg, true), priv, privlen, 0600);
	if (r < 0)
		return r;
	return write_file_atomic(dir, ak_file(ak->alg, false), pub, publen, 0600);
}

/* -ENOENT when no AK is saved; -EINVAL when the files are corrupt. */
static int ak_read(const char *dir, enum tpm_ak_alg alg, struct tpm_ak *ak)
{
	_cleanup_free_ char *pub = NULL, *priv = NULL, *ppath = NULL, *kpath = NULL;
	size_t publen, privlen, off1 = 0, off2 = 0;
	int r;

	if (asprintf(&ppath, "%s/%s", dir, ak_file(alg, false)) < 0 ||
	    asprintf(&kpath, "%s/%s", dir, ak_file(alg, true)) < 0)
		return -ENOMEM;
	r = read_file(ppath, sizeof(TPM2B_PUBLIC), &pub, &publen);
	if (r < 0)
		return r;
	r = read_file(kpath, sizeof(TPM2B_PRIVATE), &priv, &privlen);
	if (r < 0)
		return r;
	memset(ak, 0, sizeof(*ak));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal((uint8_t *)pub, publen, &off1, &ak->pub) != TSS2_RC_SUCCESS ||
	    off1 != publen ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal((uint8_t *)priv, privlen, &off2, &ak->priv) != TSS2_RC_SUCCESS ||
	    off2 != privlen)
		return -EINVAL;
	if ((ak->pub.publicArea.objectAttributes & AK_ATTRS) != AK_ATTRS)
		return -EINVAL;
	return ak_finish(ak, alg);
}

static bool rc_is_integrity(TSS2_RC rc)
{
	/* Format-one error (parameter/handle/session number set) "integrity"
	 * or "binding": the blob was not made under this EK. */
	return (rc & TPM2_RC_FMT1) &&
	       ((rc & 0x3f) == (TPM2_RC_INTEGRITY & 0x3f) || (rc & 0x3f) == (TPM2_RC_BINDING & 0x3f));
}

static int ak_create_and_save(struct kwid_tpm *t, const char *dir, enum tpm_ak_alg alg, struct tpm_ak *ak,
			      char *err, size_t errlen)
{
	struct tpm_obj ek _cleanup_flush_ = TPM_OBJ(t);
	int r;

	r = ek_create(t, alg, &ek, NULL, err, errlen);
	if (r < 0)
		return r;
	r = ak_create(t, alg, ek.tr, ak, err, errlen);
	if (r < 0)
		return r;
	r = ak_save(dir, ak);
	if (r < 0)
		return errbuf_set(r, err, errlen, "tpm: cannot save the AK in %s: %s", dir, strerror(-r));
	log_info("tpm: created attestation key in %s", dir);
	return 0;
}

int tpm_ak_ensure(struct kwid_tpm *t, const char *dir, enum tpm_ak_alg alg, struct tpm_ak *ak, char *err,
		  size_t errlen)
{
	TSS2_RC rc;
	int r;

	memset(ak, 0, sizeof(*ak));
	r = ak_read(dir, alg, ak);
	if (r == -ENOENT)
		return ak_create_and_save(t, dir, alg, ak, err, errlen);
	if (r < 0) {
		tpm_ak_clear(ak);
		return errbuf_set(r, err, errlen, "tpm: the AK saved in %s is unreadable or corrupt (%s); move it away to "
			    "create a new one", dir, strerror(-r));
	}
	{
		struct tpm_obj h _cleanup_flush_ = TPM_OBJ(t);
		r = ak_load(t, ak, &h, &rc, err, errlen);
	}
	if (r < 0 && rc_is_integrity(rc)) {
		log_warn("tpm: the AK saved in %s does not belong to this TPM's EK (%s); creating a new one - "
			 "verifiers must pin the new AK", dir, Tss2_RC_Decode(rc));
		tpm_ak_clear(ak);
		return ak_create_and_save(t, dir, alg, ak, err, errlen);
	}
	if (r < 0)
		tpm_ak_clear(ak);
	return r;
}

/* ---- PCRs and quotes ---- */

static bool tpml_empty(const TPML_PCR_SELECTION *s)
{
	for (uint32_t i = 0; i < s->count; i++)
		for (unsigned k = 0; k < s->pcrSelections[i].sizeofSelect; k++)
			if (s->pcrSelections[i].pcrSelect[k])
				return false;
	return true;
}

/* Take the values PCR_Read returned; clear them from want. */
static int take_values(const TPML_PCR_SELECTION *got, const TPML_DIGEST *vals, TPML_PCR_SELECTION *want,
		       struct kwid_pcr_values *out)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < got->count; i++) {
		const TPMS_PCR_SELECTION *s = &got->pcrSelections[i];
		enum kwid_digest_alg bank;

		if (digest_alg_from_tpm(s->hash, &bank) < 0)
			return -EINVAL;
		for (unsigned pcr = 0; pcr < 8u * MIN(s->sizeofSelect, 3); pcr++) {
			if (!(s->pcrSelect[pcr / 8] & (1u << (pcr % 8))))
				continue;
			if (k >= vals->count || vals->digests[k].size != digest_info(bank)->size)
				return -EINVAL;
			memcpy(out->v[bank][pcr], vals->digests[k].buffer, vals->digests[k].size);
			k++;
			out->have.mask[bank] |= 1u << pcr;
			for (uint32_t w = 0; w < want->count; w++)
				if (want->pcrSelections[w].hash == s->hash)
					want->pcrSelections[w].pcrSelect[pcr / 8] &= (uint8_t)~(1u << (pcr % 8));
		}
	}
	return k > 0 ? 0 : -ENODATA;
}

static int pcr_read(struct kwid_tpm *t, const struct kwid_pcr_selection *sel, struct kwid_pcr_values *out,
		    char *err, size_t errlen)
{
	TPML_PCR_SELECTION want;
	char spec[256];

	memset(out, 0, sizeof(*out));
	pcr_selection_to_tpml(sel, &want);
	while (!tpml_empty(&want)) {
		_cleanup_esys_ TPML_PCR_SELECTION *got = NULL;
		_cleanup_esys_ TPML_DIGEST *vals = NULL;
		uint32_t counter;
		TSS2_RC rc;
		int r;

		rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &want, &counter, &got, &vals);
		if (rc != TSS2_RC_SUCCESS)
			return TPM_FAIL(rc, err, errlen, "PCR_Read");
		r = take_values(got, vals, &want, out);
		if (r < 0) {
			pcr_selection_format(sel, spec, sizeof(spec));
			return errbuf_set(-EINVAL, err, errlen,
				    "tpm: PCR_Read returned nothing for part of %s: is that bank allocated?", spec);
		}
	}
	return 0;
}

static int quote_once(struct kwid_tpm *t, ESYS_TR ak, const TPM2B_DATA *qual, const TPML_PCR_SELECTION *tpml,
		      struct tpm_quote *q, char *err, size_t errlen)
{
	_cleanup_esys_ TPM2B_ATTEST *attest = NULL;
	_cleanup_esys_ TPMT_SIGNATURE *sig = NULL;
	TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
	size_t off = 0;
	TSS2_RC rc;

	rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, qual, &scheme, tpml, &attest,
			&sig);
	if (rc != TSS2_RC_SUCCESS)
		return TPM_FAIL(rc, err, errlen, "Quote");
	if (attest->size > sizeof(q->attest) ||
	    Tss2_MU_TPMT_SIGNATURE_Marshal(sig, q->sig, sizeof(q->sig), &off) != TSS2_RC_SUCCESS)
		return errbuf_set(-EINVAL, err, errlen, "tpm: the quote does not fit");
	memcpy(q->attest, attest->attestationData, attest->size);
	q->attest_len = attest->size;
	q->sig_len = off;
	return 0;
}

/* Do the values read after the quote hash to its PCR digest? */
static bool quote_consistent(const struct tpm_quote *q)
{
	TPMS_ATTEST a;
	TPMT_SIGNATURE s;
	enum kwid_digest_alg h;
	uint8_t d[KWID_DIGEST_MAX];

	if (tpm_attest_parse(q->attest, q->attest_len, &a, NULL, 0) < 0 ||
	    tpm_signature_parse(q->sig, q->sig_len, &s, NULL, 0) < 0 ||
	    digest_alg_from_tpm(s.signature.any.hashAlg, &h) < 0 ||
	    tpm_pcr_composite(&a.attested.quote.pcrSelect, &q->pcrs, h, d, NULL, 0) < 0)
		return false;
	return a.attested.quote.pcrDigest.size == digest_info(h)->size &&
	       memcmp(a.attested.quote.pcrDigest.buffer, d, digest_info(h)->size) == 0;
}

int tpm_quote(struct kwid_tpm *t, const struct tpm_ak *ak, const uint8_t *nonce, size_t nonce_len,
	      const struct kwid_pcr_selection *sel, struct tpm_quote *q, char *err, size_t errlen)
{
	struct tpm_obj h _cleanup_flush_ = TPM_OBJ(t);
	TPML_PCR_SELECTION tpml;
	TPM2B_DATA qual = {0};
	TSS2_RC rc;
	int r;

	memset(q, 0, sizeof(*q));
	if (nonce_len > sizeof(qual.buffer))
		return errbuf_set(-EINVAL, err, errlen, "tpm: nonce of %zu bytes exceeds %zu", nonce_len, sizeof(qual.buffer));
	qual.size = (uint16_t)nonce_len;
	memcpy(qual.buffer, nonce, nonce_len);
	pcr_selection_to_tpml(sel, &tpml);
	r = ak_load(t, ak, &h, &rc, err, errlen);
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < QUOTE_ATTEMPTS; attempt++) {
		r = quote_once(t, h.tr, &qual, &tpml, q, err, errlen);
		if (r < 0)
			return r;
		r = pcr_read(t, sel, &q->pcrs, err, errlen);
		if (r < 0)
			return r;
		q->pcrs_consistent = quote_consistent(q);
		if (q->pcrs_consistent)
			break;
	}
	return 0;
}

/* ---- EK ---- */

static int nv_read_all(struct kwid_tpm *t, ESYS_TR nv, uint16_t size, TPMA_NV attrs, uint8_t *out, char *err,
		       size_t errlen)
{
	ESYS_TR auth = (attrs & TPMA_NV_AUTHREAD) ? nv : ESYS_TR_RH_OWNER;

	for (uint16_t off = 0; off < size;) {
		_cleanup_esys_ TPM2B_MAX_NV_BUFFER *data = NULL;
		uint16_t n = (uint16_t)MIN(NV_CHUNK, size - off);
		TSS2_RC rc = Esys_NV_Read(t->esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n, off, &data);

		if (rc != TSS2_RC_SUCCESS)
			return TPM_FAIL(rc, err, errlen, "NV_Read of the EK certificate");
		if (data->size != n)
			return errbuf_set(-EIO, err, errlen, "tpm: short NV read of the EK certificate");
		memcpy(out + off, data->buffer, n);
		off += n;
	}
	return 0;
}

/* The certificate at the TCG NV index, or *cert = NULL when there is none. */
static int ek_cert_read(struct kwid_tpm *t, enum tpm_ak_alg alg, uint8_t **cert, size_t *cert_len, char *err,
			size_t errlen)
{
	_cleanup_esys_ TPM2B_NV_PUBLIC *nvpub = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	ESYS_TR nv = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	*cert = NULL;
	*cert_len = 0;
	rc = Esys_TR_FromTPMPublic(t->esys, alg == TPM_AK_ECC ? EK_CERT_NV_ECC : EK_CERT_NV_RSA, ESYS_TR_NONE,
				   ESYS_TR_NONE, ESYS_TR_NONE, &nv);
	if (rc != TSS2_RC_SUCCESS)
		return 0; /* not provisioned */
	rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvpub, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(t->esys, &nv);
		return TPM_FAIL(rc, err, errlen, "NV_ReadPublic of the EK certificate index");
	}
	if (nvpub->nvPublic.dataSize == 0 || nvpub->nvPublic.dataSize > EK_CERT_MAX) {
		Esys_TR_Close(t->esys, &nv);
		return errbuf_set(-EINVAL, err, errlen, "tpm: EK certificate of %u bytes", nvpub->nvPublic.dataSize);
	}
	buf = malloc(nvpub->nvPublic.dataSize);
	r = buf ? nv_read_all(t, nv, nvpub->nvPublic.dataSize, nvpub->nvPublic.attributes, buf, err, errlen)
		: -ENOMEM;
	Esys_TR_Close(t->esys, &nv);
	if (r < 0)
		return r;
	*cert_len = nvpub->nvPublic.dataSize;
	*cert = TAKE_PTR(buf);
	return 0;
}

int tpm_ek_read(struct kwid_tpm *t, enum tpm_ak_alg alg, char **pub_pem, uint8_t **cert, size_t *cert_len,
		char *err, size_t errlen)
{
	struct tpm_obj ek _cleanup_flush_ = TPM_OBJ(t);
	_cleanup_esys_ TPM2B_PUBLIC *pub = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	int r;

	*pub_pem = NULL;
	r = ek_create(t, alg, &ek, &pub, err, errlen);
	if (r < 0)
		return r;
	r = tpm_public_to_pkey(&pub->publicArea, &key);
	if (r < 0)
		return errbuf_set(r, err, errlen, "tpm: the EK public key cannot be converted");
	*pub_pem = pkey_to_pem(key);
	if (!*pub_pem)
		return -ENOMEM;
	r = ek_cert_read(t, alg, cert, cert_len, err, errlen);
	if (r < 0) {
		free(*pub_pem);
		*pub_pem = NULL;
	}
	return r;
}

static int count_handles(struct kwid_tpm *t, TPM2_HANDLE first, unsigned *out)
{
	_cleanup_esys_ TPMS_CAPABILITY_DATA *data = NULL;
	TPMI_YES_NO more;
	TSS2_RC rc;

	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, first,
				TPM2_MAX_CAP_HANDLES, &more, &data);
	if (rc != TSS2_RC_SUCCESS)
		return -EIO;
	*out = data->data.handles.count;
	return 0;
}

int tpm_count_handles(struct kwid_tpm *t, unsigned *transient, unsigned *sessions)
{
	int r = count_handles(t, TPM2_TRANSIENT_FIRST, transient);

	if (r < 0)
		return r;
	return count_handles(t, TPM2_LOADED_SESSION_FIRST, sessions);
}
