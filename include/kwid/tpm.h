/* tpm.h - the host's TPM 2.0: PCR selections and values, the attestation
 * key (AK), quotes, the endorsement key (EK) - and the verifier side of a
 * quote, which needs no TPM (kwidctl node verify runs it anywhere).
 *
 * TPM access goes through tpm2-tss ESAPI over a TCTI chosen by string
 * ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321"). A connection
 * is opened per operation and every transient object and session is
 * flushed before the call returns, on every path: without a resource
 * manager a TPM has only a handful of object slots, and the agent runs
 * for months.
 *
 * The AK is a restricted signing key (ECC P-256/ECDSA-SHA256 by default,
 * or RSA-2048/RSASSA-SHA256) created under the TCG default EK (template
 * L-2 for ECC, L-1 for RSA) in the endorsement hierarchy, so that a
 * verifier can bind it to the EK with credential activation. It is kept
 * as a saved blob (TPM2B_PUBLIC and TPM2B_PRIVATE, the private part
 * wrapped by the EK, useless off this TPM) in <state_dir>/tpm/, mode
 * 0600, and loaded under a freshly re-created EK for each quote. No
 * persistent handle is taken: those are a few shared NV slots that other
 * software allocates at the same conventional addresses, and EvictControl
 * needs owner authorization. Hierarchy authorizations must be empty. */
#ifndef KWID_TPM_H
#define KWID_TPM_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "kwid/digest.h"
#include "kwid/util.h"

#define KWID_PCR_COUNT 24
#define TPM_ERR_MAX 256
#define TPM_NONCE_MAX 64 /* sizeof(TPMU_HA): a TPM may accept less (its largest digest) */
#define TPM_DEFAULT_TCTI "device:/dev/tpmrm0"

/* ---- PCR selections and values ---- */

struct kwid_pcr_selection {
	uint32_t mask[KWID_DIGEST__COUNT]; /* bit i: PCR i of that bank */
};

/* "sha256:0,1,2,7,10" or several banks joined by '+':
 * "sha1:10+sha256:0-7,10". -EINVAL (and err) on anything else. */
int pcr_selection_parse(const char *spec, struct kwid_pcr_selection *out, char *err, size_t errlen);
/* The canonical spelling of a selection (banks in table order). */
void pcr_selection_format(const struct kwid_pcr_selection *s, char *out, size_t outlen);
bool pcr_selection_empty(const struct kwid_pcr_selection *s);
/* As a TPML_PCR_SELECTION (banks in table order). */
void pcr_selection_to_tpml(const struct kwid_pcr_selection *s, TPML_PCR_SELECTION *out);

struct kwid_pcr_values {
	struct kwid_pcr_selection have;
	uint8_t v[KWID_DIGEST__COUNT][KWID_PCR_COUNT][KWID_DIGEST_MAX];
};

/* ---- verifier side: no TPM needed (tpm_quote_verify.c) ---- */

/* Unmarshal a TPMS_ATTEST that must fill buf exactly. */
int tpm_attest_parse(const uint8_t *buf, size_t len, TPMS_ATTEST *out, char *err, size_t errlen);
int tpm_signature_parse(const uint8_t *buf, size_t len, TPMT_SIGNATURE *out, char *err, size_t errlen);
/* The quote's PCR digest: hash over the values of sel, in its order. -ENOENT
 * (and err) when vals lacks one of them, -EINVAL for a bank or index kwid
 * does not support. */
int tpm_pcr_composite(const TPML_PCR_SELECTION *sel, const struct kwid_pcr_values *vals,
		      enum kwid_digest_alg hash, uint8_t *out, char *err, size_t errlen);
/* Verify sig over attest with key. -EBADMSG (and err) when it does not hold. */
int tpm_signature_verify(EVP_PKEY *key, const TPMT_SIGNATURE *sig, const uint8_t *attest, size_t attest_len,
			 char *err, size_t errlen);
/* OpenSSL public key of a TPMT_PUBLIC (ECC P-256/384 or RSA). */
int tpm_public_to_pkey(const TPMT_PUBLIC *pub, EVP_PKEY **out);
/* PEM text ("-----BEGIN PUBLIC KEY-----...") of a key, malloc'd. */
char *pkey_to_pem(EVP_PKEY *key);
int pkey_from_pem(const char *pem, size_t len, EVP_PKEY **out);

/* ---- the TPM itself (tpm.c) ---- */

enum tpm_ak_alg {
	TPM_AK_ECC,
	TPM_AK_RSA,
};

struct kwid_tpm;

/* The AK as kept on disk and in memory. */
struct tpm_ak {
	enum tpm_ak_alg alg;
	TPM2B_PUBLIC pub;
	TPM2B_PRIVATE priv;
	uint8_t name[sizeof(TPMU_NAME)];
	size_t name_len;
	EVP_PKEY *pkey;
};

/* Connect. -ENODEV (err: "no TPM at device:/dev/tpmrm0 (...)") when the
 * device is missing, other -errno when the TCTI cannot be set up. */
int tpm_open(const char *tcti, struct kwid_tpm **out, char *err, size_t errlen);
void tpm_close(struct kwid_tpm *t);
DEFINE_CLEANUP_FUNC(struct kwid_tpm, tpm_close)

/* Load the AK saved in dir, or create and save one (the directory is
 * created with mode 0700, the files 0600). A saved AK that this TPM no
 * longer accepts (its EK changed) is replaced, with a warning. */
int tpm_ak_ensure(struct kwid_tpm *t, const char *dir, enum tpm_ak_alg alg, struct tpm_ak *ak, char *err,
		  size_t errlen);
void tpm_ak_clear(struct tpm_ak *ak);

struct tpm_quote {
	uint8_t attest[sizeof(TPMS_ATTEST)];
	size_t attest_len;
	uint8_t sig[sizeof(TPMT_SIGNATURE)];
	size_t sig_len;
	struct kwid_pcr_values pcrs; /* read right after the quote */
	bool pcrs_consistent;	     /* they hash to the quote's digest */
};

/* Quote sel with the nonce as qualifying data and read the PCRs. When a PCR
 * changed between quote and read (IMA extends at any time), quote again, a
 * few times; pcrs_consistent says whether the last attempt agreed. */
int tpm_quote(struct kwid_tpm *t, const struct tpm_ak *ak, const uint8_t *nonce, size_t nonce_len,
	      const struct kwid_pcr_selection *sel, struct tpm_quote *q, char *err, size_t errlen);

/* EK public key (re-created from the template matching alg; PEM) and the
 * EK certificate from its NV index (DER), when provisioned (*cert NULL if
 * not). */
int tpm_ek_read(struct kwid_tpm *t, enum tpm_ak_alg alg, char **pub_pem, uint8_t **cert, size_t *cert_len,
		char *err, size_t errlen);

/* Transient objects and sessions loaded in the TPM (for tests: after any
 * operation both must be zero). */
int tpm_count_handles(struct kwid_tpm *t, unsigned *transient, unsigned *sessions);

#endif
