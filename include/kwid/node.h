/* node.h - node evidence: what the host is (a TPM quote over its PCRs) and
 * what ran on it (the IMA log), in one JSON document (docs/NODE.md), its
 * verification, and the agent part that quotes on a schedule and turns
 * its own verified evidence into node selectors.
 *
 * The verifier trusts nothing in the document that the signed TPMS_ATTEST
 * does not vouch for: the PCR selection, digest and nonce come from the
 * attest structure; reported PCR values count only when they hash to the
 * quoted digest; IMA entries count only up to the prefix that reproduces
 * the quoted PCRs. */
#ifndef KWID_NODE_H
#define KWID_NODE_H

#include <json-c/json.h>

#include "kwid/ima.h"
#include "kwid/selectors.h"
#include "kwid/tpm.h"

#define NODE_EVIDENCE_VERSION 1
#define NODE_EVIDENCE_MAX_BYTES (96u << 20) /* a 64 MiB log in base64, and the rest */
#define NODE_NONCE_MIN 8
#define NODE_FAILURE_MAX 512

struct kwid_agent;
struct kwid_node;

/* ---- the evidence document ---- */

struct node_evidence_input {
	const struct tpm_quote *quote;
	const struct tpm_ak *ak;
	const uint8_t *nonce;
	size_t nonce_len;
	const char *ek_pem;	 /* may be NULL */
	const uint8_t *ek_cert;	 /* DER, may be NULL */
	size_t ek_cert_len;
	const uint8_t *ima;	 /* the raw log, NULL when there is none */
	size_t ima_len;
	const char *ima_path;
	enum kwid_digest_alg ima_bank;
};

json_object *node_evidence_build(const struct node_evidence_input *in);
/* {"sha256": {"0": "<hex>", ...}, ...}: the evidence's "pcrs" member. */
json_object *pcr_values_to_json(const struct kwid_pcr_values *v);

struct node_verify_opts {
	EVP_PKEY *ak; /* the pinned AK public key */
	const uint8_t *nonce;
	size_t nonce_len;
	const struct ima_policy *policy; /* may be NULL */
};

struct node_verify_result {
	bool ok;
	char failure[NODE_FAILURE_MAX]; /* what failed, when !ok */
	TPMS_CLOCK_INFO clock;
	uint64_t firmware_version;
	struct kwid_pcr_values pcrs; /* authenticated values (valid when ok) */
	bool pcrs_from_log;	     /* the read raced an extend: IMA PCRs came from the replay */
	bool ima_present;
	struct ima_log *ima;	     /* owned; parsed log */
	size_t ima_matched;	     /* entries vouched for by the quote */
	uint64_t ima_pcr_mask;	     /* PCR indices the log was checked against */
	enum ima_extend_mode ima_mode;
	bool policy_checked;
	struct ima_policy_report policy;
};

/* 0 when every check holds; -EBADMSG when one fails (res->failure names
 * it); other -errno on internal errors. res is always initialized. */
int node_evidence_verify(json_object *ev, const struct node_verify_opts *o, struct node_verify_result *res);
void node_verify_result_clear(struct node_verify_result *res);
json_object *node_verify_result_to_json(const struct node_verify_result *res);

/* "tpm:pcr:<bank>:<index>:<hex>" for every authenticated PCR except those
 * in skip_mask (the PCRs the IMA log extends, which change all the time
 * and are represented by ima:* selectors instead). */
int node_pcr_selectors(const struct kwid_pcr_values *pcrs, uint64_t skip_mask, struct kwid_selector_set *out);

/* ---- the agent part ---- */

int node_new(struct kwid_agent *a, struct kwid_node **out);
void node_free(struct kwid_node *n);

/* Node-level selectors from the last verified quote (empty when there is
 * no verified evidence). Valid until control returns to the loop. */
const struct kwid_selector_set *node_selectors(struct kwid_node *n);
/* SHA-256 file digests of the verified part of the IMA log, or NULL when
 * the last verified evidence had no IMA log. Same lifetime. */
const struct ima_digest_set *node_ima_digests(struct kwid_node *n);
/* Ask for a fresh quote soon (rate-limited): a digest was not found. */
void node_request_refresh(struct kwid_node *n);

/* ---- the node attestor's join (attestors/node.c) ---- */

struct kwid_measurement;

/* Add the node selectors, and ima:measured plus ima:sha256:<hex> when the
 * exec-time measurement m is done and its digest is in ima (may be NULL).
 * *miss is set when a verified log lacks the digest. */
int node_join(const struct kwid_selector_set *node_sel, const struct ima_digest_set *ima,
	      const struct kwid_measurement *m, struct kwid_selector_set *out, bool *miss);

#endif
