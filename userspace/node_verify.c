/* node_verify.c - verifies a node evidence document against a pinned AK
 * and the verifier's nonce: signature, magic, type, nonce, PCR digest,
 * then the IMA log replay and the runtime policy. The first check that
 * fails ends verification and is named in res->failure.
 *
 * Nothing the JSON says is taken on its word: the selection, digest and
 * nonce are read from the signed attest structure; PCR values count when
 * they hash to the signed digest; the log counts up to the prefix that
 * reproduces the signed PCRs. */
#include "kwid/base64.h"
#include "kwid/errbuf.h"
#include "kwid/node.h"

/* Name the check that failed; the result stays !ok. */
#define vfail(res, ...) errbuf_set(-EBADMSG, (res)->failure, sizeof((res)->failure), __VA_ARGS__)


static const char *jstring(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int decode_b64(struct node_verify_result *res, json_object *o, const char *key, const char *what,
		      size_t max, uint8_t **out, size_t *len)
{
	json_object *v;
	int r;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return vfail(res, "evidence: %s is missing or not a string", what);
	r = base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), max, out, len);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return vfail(res, "evidence: %s is not base64 of at most %zu bytes", what, max);
	return 0;
}

/* Reported PCR values, strictly: known banks, indices "0".."23", hex of the
 * bank's size, and only PCRs the quote selects. */
static int parse_pcrs(struct node_verify_result *res, json_object *ev, const TPML_PCR_SELECTION *sel,
		      struct kwid_pcr_values *out)
{
	json_object *pcrs;
	struct kwid_pcr_values quoted = {0};

	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
		enum kwid_digest_alg b;
		if (digest_alg_from_tpm(sel->pcrSelections[i].hash, &b) < 0)
			continue; /* tpm_pcr_composite reports it */
		for (unsigned k = 0; k < 3 && k < sel->pcrSelections[i].sizeofSelect; k++)
			quoted.have.mask[b] |= (uint32_t)sel->pcrSelections[i].pcrSelect[k] << (8 * k);
	}
	if (!json_object_object_get_ex(ev, "pcrs", &pcrs) || !json_object_is_type(pcrs, json_type_object))
		return vfail(res, "evidence: 'pcrs' is missing or not an object");
	json_object_object_foreach(pcrs, bank, vals) {
		enum kwid_digest_alg b;
		if (digest_alg_from_name(bank, &b) < 0 || !json_object_is_type(vals, json_type_object))
			return vfail(res, "evidence: pcrs.%.32s is not a known bank of PCR values", bank);
		json_object_object_foreach(vals, idx, hex) {
			uint64_t i;
			const char *h = json_object_get_string(hex);
			size_t size = digest_info(b)->size;

			if (parse_u64(idx, 0, KWID_PCR_COUNT - 1, &i) < 0 || (idx[0] == '0' && idx[1]))
				return vfail(res, "evidence: pcrs.%s.%.8s is not a PCR index 0..%d", bank, idx,
					     KWID_PCR_COUNT - 1);
			if (!json_object_is_type(hex, json_type_string) || strlen(h) != 2 * size ||
			    hex_decode(h, out->v[b][i], size) != (ssize_t)size)
				return vfail(res, "evidence: pcrs.%s.%s is not %zu bytes of hex", bank, idx, size);
			if (!(quoted.have.mask[b] & (1u << i)))
				return vfail(res, "evidence: PCR %s:%s is reported but not covered by the quote", bank,
					     idx);
			out->have.mask[b] |= 1u << i;
		}
	}
	return 0;
}

/* ---- IMA ---- */

struct ima_check {
	const TPMS_ATTEST *attest;
	enum kwid_digest_alg sig_hash;
	struct kwid_pcr_values *values; /* authenticated or reported */
	struct ima_replay_pcr *pcrs;
	size_t npcrs;
};

/* Match against authenticated values. */
static bool match_values(void *ud, const struct ima_replay_pcr *pcrs, size_t n, size_t count)
{
	const struct ima_check *c = ud;

	for (size_t i = 0; i < n; i++)
		if (memcmp(pcrs[i].value, c->values->v[pcrs[i].bank][pcrs[i].pcr], digest_info(pcrs[i].bank)->size))
			return false;
	return true;
}

/* Match the quoted digest with the replayed values in place of the
 * reported ones (the PCR read raced an IMA extend). The reported values
 * of the replayed PCRs are overwritten: they were wrong anyway. */
static bool match_composite(void *ud, const struct ima_replay_pcr *pcrs, size_t n, size_t count)
{
	const struct ima_check *c = ud;
	uint8_t d[KWID_DIGEST_MAX];
	const TPM2B_DIGEST *want = &c->attest->attested.quote.pcrDigest;

	for (size_t i = 0; i < n; i++)
		memcpy(c->values->v[pcrs[i].bank][pcrs[i].pcr], pcrs[i].value, digest_info(pcrs[i].bank)->size);
	if (tpm_pcr_composite(&c->attest->attested.quote.pcrSelect, c->values, c->sig_hash, d, NULL, 0) < 0)
		return false;
	return want->size == digest_info(c->sig_hash)->size && memcmp(want->buffer, d, want->size) == 0;
}

/* The (bank, PCR) pairs to replay: quoted PCRs the log extends, and PCR 10. */
static size_t replay_targets(const struct ima_log *log, const struct kwid_pcr_selection *quoted,
			     struct ima_replay_pcr *out, uint64_t *mask)
{
	uint64_t used = 1ull << IMA_PCR;
	size_t n = 0;

	for (size_t i = 0; i < log->n; i++)
		used |= 1ull << log->entries[i].pcr;
	*mask = 0;
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++)
		for (unsigned p = 0; p < KWID_PCR_COUNT; p++)
			if ((quoted->mask[b] & (1u << p)) && (used & (1ull << p))) {
				out[n++] = (struct ima_replay_pcr){.bank = (enum kwid_digest_alg)b, .pcr = p};
				*mask |= 1ull << p;
			}
	return n;
}

static int describe_mismatch(struct node_verify_result *res, const struct ima_check *c)
{
	for (size_t i = 0; i < c->npcrs; i++) {
		const struct ima_replay_pcr *p = &c->pcrs[i];
		size_t size = digest_info(p->bank)->size;
		char got[2 * KWID_DIGEST_MAX + 1], want[2 * KWID_DIGEST_MAX + 1];

		if (!memcmp(p->value, c->values->v[p->bank][p->pcr], size))
			continue;
		hex_encode(p->value, size, got);
		hex_encode(c->values->v[p->bank][p->pcr], size, want);
		return vfail(res, "IMA log does not reproduce the quoted %s PCR %u: replaying all %zu entries gives %s, "
			     "the quote has %s", digest_info(p->bank)->name, p->pcr, res->ima->n, got, want);
	}
	return vfail(res, "IMA log does not reproduce the quoted PCRs");
}

static int replay_log(struct node_verify_result *res, struct ima_check *c, bool authenticated)
{
	struct ima_replay_result rr;
	bool sha1_log = res->ima->bank == KWID_DIGEST_SHA1, other_bank = false;
	int r;

	for (size_t i = 0; i < c->npcrs; i++)
		other_bank |= c->pcrs[i].bank != KWID_DIGEST_SHA1;
	res->ima_mode = IMA_EXTEND_TEMPLATE;
	r = ima_replay(res->ima, IMA_EXTEND_TEMPLATE, c->pcrs, c->npcrs, authenticated ? match_values : match_composite,
		       c, &rr);
	if (r == -ENOENT && sha1_log && other_bank) {
		/* Kernels before 5.8 extended other banks with the padded SHA-1. */
		struct ima_replay_result r2;
		struct ima_replay_pcr saved[KWID_DIGEST__COUNT * KWID_PCR_COUNT];
		memcpy(saved, c->pcrs, c->npcrs * sizeof(*saved));
		r = ima_replay(res->ima, IMA_EXTEND_PADDED_SHA1, c->pcrs, c->npcrs,
			       authenticated ? match_values : match_composite, c, &r2);
		if (r == 0) {
			res->ima_mode = IMA_EXTEND_PADDED_SHA1;
			rr = r2;
		} else {
			memcpy(c->pcrs, saved, c->npcrs * sizeof(*saved));
		}
	}
	if (r == -EBADMSG)
		return vfail(res, "IMA log: %s", rr.error);
	if (r == -ENOENT && authenticated)
		return describe_mismatch(res, c);
	if (r == -ENOENT)
		return vfail(res, "PCR digest mismatch: neither the reported PCR values nor any prefix of the IMA log "
			     "reproduce the quoted PCR digest");
	if (r < 0)
		return r;
	res->ima_matched = rr.matched;
	res->pcrs_from_log = !authenticated; /* c->values holds the matching prefix's values */
	return 0;
}

static int parse_ima(struct node_verify_result *res, json_object *ima)
{
	_cleanup_free_ uint8_t *data = NULL;
	const char *bank = jstring(ima, "template_hash"), *order = jstring(ima, "byte_order");
	enum kwid_digest_alg alg;
	char err[IMA_ERR_MAX];
	size_t len;
	int r;

	if (!bank || digest_alg_from_name(bank, &alg) < 0)
		return vfail(res, "evidence: ima_log.template_hash must be sha1, sha256, sha384 or sha512");
	if (order && !streq(order, "little") && !streq(order, "big"))
		return vfail(res, "evidence: ima_log.byte_order must be 'little' or 'big'");
	r = decode_b64(res, ima, "data", "ima_log.data", IMA_LOG_MAX_BYTES, &data, &len);
	if (r < 0)
		return r;
	r = ima_log_parse(data, len, alg, streq(order, "big") ? IMA_LOG_BIG_ENDIAN : 0, &res->ima, err, sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return vfail(res, "IMA log: %s", err);
	res->ima_present = true;
	return 0;
}

static int check_policy(struct node_verify_result *res, const struct ima_policy *policy)
{
	int r;

	if (!res->ima_present)
		return vfail(res, "a runtime policy was given but the evidence has no IMA log");
	r = ima_policy_check(policy, res->ima, res->ima_matched, res->ima_pcr_mask, &res->policy);
	if (r < 0)
		return r;
	res->policy_checked = true;
	if (res->policy.failed) {
		const struct ima_policy_failure *f = &res->policy.failures[0];
		return vfail(res, "IMA policy: %zu of %zu entries fail; first: entry %zu (%s): %s", res->policy.failed,
			     res->policy.checked, f->entry, f->path, f->reason);
	}
	return 0;
}

/* ---- the quote ---- */

static int check_quote(struct node_verify_result *res, json_object *ev, const struct node_verify_opts *o,
		       TPMS_ATTEST *attest, enum kwid_digest_alg *sig_hash)
{
	_cleanup_free_ uint8_t *abuf = NULL, *sbuf = NULL;
	json_object *quote, *v;
	TPMT_SIGNATURE sig;
	size_t alen, slen;
	int r;

	if (!json_object_object_get_ex(ev, "kwid_node_evidence", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int(v) != NODE_EVIDENCE_VERSION)
		return vfail(res, "evidence: not a kwid node evidence document of version %d", NODE_EVIDENCE_VERSION);
	if (!json_object_object_get_ex(ev, "quote", &quote) || !json_object_is_type(quote, json_type_object))
		return vfail(res, "evidence: 'quote' is missing");
	r = decode_b64(res, quote, "attest", "quote.attest", sizeof(TPMS_ATTEST), &abuf, &alen);
	if (r < 0)
		return r;
	r = decode_b64(res, quote, "signature", "quote.signature", sizeof(TPMT_SIGNATURE), &sbuf, &slen);
	if (r < 0)
		return r;
	if (tpm_signature_parse(sbuf, slen, &sig, res->failure, sizeof(res->failure)) < 0 ||
	    tpm_signature_verify(o->ak, &sig, abuf, alen, res->failure, sizeof(res->failure)) < 0 ||
	    tpm_attest_parse(abuf, alen, attest, res->failure, sizeof(res->failure)) < 0)
		return -EBADMSG;
	*sig_hash = KWID_DIGEST_SHA256;
	digest_alg_from_tpm(sig.signature.any.hashAlg, sig_hash);
	if (attest->magic != TPM2_GENERATED_VALUE)
		return vfail(res, "quote: magic is 0x%08x, not TPM_GENERATED_VALUE", attest->magic);
	if (attest->type != TPM2_ST_ATTEST_QUOTE)
		return vfail(res, "quote: type is 0x%04x, not TPM_ST_ATTEST_QUOTE", attest->type);
	if (attest->extraData.size != o->nonce_len || memcmp(attest->extraData.buffer, o->nonce, o->nonce_len))
		return vfail(res, "quote: the nonce (qualifying data) is not the expected one: stale or replayed");
	res->clock = attest->clockInfo;
	res->firmware_version = attest->firmwareVersion;
	return 0;
}

int node_evidence_verify(json_object *ev, const struct node_verify_opts *o, struct node_verify_result *res)
{
	TPMS_ATTEST attest;
	enum kwid_digest_alg sig_hash;
	uint8_t d[KWID_DIGEST_MAX];
	struct ima_replay_pcr pcrs[KWID_DIGEST__COUNT * KWID_PCR_COUNT];
	struct ima_check c = {.attest = &attest, .values = &res->pcrs, .pcrs = pcrs};
	json_object *ima = NULL;
	bool authenticated;
	int r;

	memset(res, 0, sizeof(*res));
	if (!o->ak)
		return vfail(res, "no AK public key to verify against");
	if (!json_object_is_type(ev, json_type_object))
		return vfail(res, "evidence: not a JSON object");
	r = check_quote(res, ev, o, &attest, &sig_hash);
	if (r < 0)
		return r;
	c.sig_hash = sig_hash;
	r = parse_pcrs(res, ev, &attest.attested.quote.pcrSelect, &res->pcrs);
	if (r < 0)
		return r;
	r = tpm_pcr_composite(&attest.attested.quote.pcrSelect, &res->pcrs, sig_hash, d, res->failure,
			      sizeof(res->failure));
	if (r < 0)
		return -EBADMSG;
	authenticated = attest.attested.quote.pcrDigest.size == digest_info(sig_hash)->size &&
			memcmp(attest.attested.quote.pcrDigest.buffer, d, digest_info(sig_hash)->size) == 0;
	if (json_object_object_get_ex(ev, "ima_log", &ima) && !json_object_is_type(ima, json_type_null)) {
		if (!json_object_is_type(ima, json_type_object))
			return vfail(res, "evidence: ima_log must be an object or null");
		r = parse_ima(res, ima);
		if (r < 0)
			return r;
	}
	if (!authenticated && !res->ima_present)
		return vfail(res, "PCR digest mismatch: the reported PCR values do not hash to the quoted digest");
	if (res->ima_present) {
		c.npcrs = replay_targets(res->ima, &res->pcrs.have, pcrs, &res->ima_pcr_mask);
		if (c.npcrs == 0)
			return vfail(res, "the quote covers no PCR that the IMA log extends (quote PCR %d to verify it)",
				     IMA_PCR);
		r = replay_log(res, &c, authenticated);
		if (r < 0)
			return r;
	}
	if (o->policy) {
		r = check_policy(res, o->policy);
		if (r < 0)
			return r;
	}
	res->ok = true;
	return 0;
}

void node_verify_result_clear(struct node_verify_result *res)
{
	ima_log_free(res->ima);
	ima_policy_report_clear(&res->policy);
	memset(res, 0, sizeof(*res));
}

int node_pcr_selectors(const struct kwid_pcr_values *pcrs, uint64_t skip_mask, struct kwid_selector_set *out)
{
	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++) {
		for (unsigned i = 0; i < KWID_PCR_COUNT; i++) {
			char hex[2 * KWID_DIGEST_MAX + 1];
			int r;

			if (!(pcrs->have.mask[b] & (1u << i)) || (skip_mask & (1ull << i)))
				continue;
			hex_encode(pcrs->v[b][i], digest_info(b)->size, hex);
			r = selset_addf(out, "tpm:pcr:%s:%u:%s", digest_info(b)->name, i, hex);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static json_object *policy_json(const struct ima_policy_report *p)
{
	json_object *o = json_object_new_object(), *list = json_object_new_array();

	json_object_object_add(o, "checked", json_object_new_int64((int64_t)p->checked));
	json_object_object_add(o, "excluded", json_object_new_int64((int64_t)p->excluded));
	json_object_object_add(o, "failed", json_object_new_int64((int64_t)p->failed));
	for (size_t i = 0; i < p->nfailures; i++) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "entry", json_object_new_int64((int64_t)p->failures[i].entry));
		json_object_object_add(f, "path", json_object_new_string(p->failures[i].path));
		json_object_object_add(f, "reason", json_object_new_string(p->failures[i].reason));
		json_object_array_add(list, f);
	}
	json_object_object_add(o, "failures", list);
	return o;
}

json_object *node_verify_result_to_json(const struct node_verify_result *res)
{
	json_object *o = json_object_new_object(), *q = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(res->ok));
	json_object_object_add(o, "failure", res->ok ? NULL : json_object_new_string(res->failure));
	json_object_object_add(q, "clock", json_object_new_int64((int64_t)res->clock.clock));
	json_object_object_add(q, "reset_count", json_object_new_int64(res->clock.resetCount));
	json_object_object_add(q, "restart_count", json_object_new_int64(res->clock.restartCount));
	json_object_object_add(q, "safe", json_object_new_boolean(res->clock.safe));
	json_object_object_add(q, "firmware_version", json_object_new_int64((int64_t)res->firmware_version));
	json_object_object_add(o, "quote", q);
	json_object_object_add(o, "pcrs", res->ok ? pcr_values_to_json(&res->pcrs) : NULL);
	json_object_object_add(o, "pcrs_from_ima_log", json_object_new_boolean(res->pcrs_from_log));
	if (res->ima_present) {
		json_object *ima = json_object_new_object(), *pl = json_object_new_array();
		json_object_object_add(ima, "entries", json_object_new_int64((int64_t)res->ima->n));
		json_object_object_add(ima, "verified", json_object_new_int64((int64_t)res->ima_matched));
		json_object_object_add(ima, "after_quote", json_object_new_int64((int64_t)(res->ima->n - res->ima_matched)));
		for (unsigned i = 0; i < KWID_PCR_COUNT; i++)
			if (res->ima_pcr_mask & (1ull << i))
				json_object_array_add(pl, json_object_new_int((int)i));
		json_object_object_add(ima, "pcrs", pl);
		json_object_object_add(ima, "extend_mode", json_object_new_string(
			res->ima_mode == IMA_EXTEND_TEMPLATE ? "template-hash" : "padded-sha1"));
		json_object_object_add(o, "ima", ima);
	} else {
		json_object_object_add(o, "ima", NULL);
	}
	json_object_object_add(o, "policy", res->policy_checked ? policy_json(&res->policy) : NULL);
	return o;
}
