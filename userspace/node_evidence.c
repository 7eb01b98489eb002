/* node_evidence.c - builds the node evidence document (docs/NODE.md) from
 * a quote, the AK, the EK and the raw IMA log: hex for digests and the
 * nonce, base64 for binary blobs, PEM for keys. */
#include "kwid/base64.h"
#include "kwid/node.h"

#include <tss2/tss2_mu.h>

static json_object *hex_string(const uint8_t *p, size_t n)
{
	_cleanup_free_ char *hex = malloc(2 * n + 1);

	if (!hex)
		return NULL;
	hex_encode(p, n, hex);
	return json_object_new_string(hex);
}

static json_object *b64_string(const uint8_t *p, size_t n)
{
	_cleanup_free_ char *s = base64_encode(p, n);

	return s ? json_object_new_string(s) : NULL;
}

json_object *pcr_values_to_json(const struct kwid_pcr_values *v)
{
	json_object *o = json_object_new_object();

	for (size_t b = 0; b < KWID_DIGEST__COUNT; b++) {
		json_object *bank;
		if (!v->have.mask[b])
			continue;
		bank = json_object_new_object();
		for (unsigned i = 0; i < KWID_PCR_COUNT; i++) {
			char key[4];
			if (!(v->have.mask[b] & (1u << i)))
				continue;
			snprintf(key, sizeof(key), "%u", i);
			json_object_object_add(bank, key, hex_string(v->v[b][i], digest_info(b)->size));
		}
		json_object_object_add(o, digest_info(b)->name, bank);
	}
	return o;
}

static json_object *ak_to_json(const struct tpm_ak *ak)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *pem = pkey_to_pem(ak->pkey);
	uint8_t pub[sizeof(TPM2B_PUBLIC)];
	size_t off = 0;

	json_object_object_add(o, "alg", json_object_new_string(ak->alg == TPM_AK_ECC ? "ecc" : "rsa"));
	json_object_object_add(o, "public_pem", pem ? json_object_new_string(pem) : NULL);
	json_object_object_add(o, "name", hex_string(ak->name, ak->name_len));
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&ak->pub, pub, sizeof(pub), &off) == TSS2_RC_SUCCESS)
		json_object_object_add(o, "public_area", b64_string(pub, off));
	return o;
}

static json_object *ima_to_json(const struct node_evidence_input *in)
{
	json_object *o;

	if (!in->ima)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "path", in->ima_path ? json_object_new_string(in->ima_path) : NULL);
	json_object_object_add(o, "template_hash", json_object_new_string(digest_info(in->ima_bank)->name));
	json_object_object_add(o, "byte_order", json_object_new_string("little"));
	json_object_object_add(o, "data", b64_string(in->ima, in->ima_len));
	return o;
}

json_object *node_evidence_build(const struct node_evidence_input *in)
{
	json_object *ev = json_object_new_object(), *quote = json_object_new_object(),
		    *ek = json_object_new_object();

	json_object_object_add(ev, "kwid_node_evidence", json_object_new_int(NODE_EVIDENCE_VERSION));
	json_object_object_add(ev, "nonce", hex_string(in->nonce, in->nonce_len));
	json_object_object_add(ev, "produced_at", json_object_new_int64((int64_t)(now_real_ns() / 1000000000ull)));
	json_object_object_add(quote, "attest", b64_string(in->quote->attest, in->quote->attest_len));
	json_object_object_add(quote, "signature", b64_string(in->quote->sig, in->quote->sig_len));
	json_object_object_add(ev, "quote", quote);
	json_object_object_add(ev, "pcrs", pcr_values_to_json(&in->quote->pcrs));
	json_object_object_add(ev, "ak", ak_to_json(in->ak));
	json_object_object_add(ek, "public_pem", in->ek_pem ? json_object_new_string(in->ek_pem) : NULL);
	json_object_object_add(ek, "certificate", in->ek_cert ? b64_string(in->ek_cert, in->ek_cert_len) : NULL);
	json_object_object_add(ev, "ek", ek);
	json_object_object_add(ev, "ima_log", ima_to_json(in));
	return ev;
}
