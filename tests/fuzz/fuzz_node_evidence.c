/* fuzz_node_evidence.c - libFuzzer harness for the node evidence verifier
 * (JSON, base64, TPMS_ATTEST and TPMT_SIGNATURE unmarshalling, PCR
 * composite, IMA replay, policy). To reach past the signature with real
 * seeds, it verifies against the AK and nonce the document itself names -
 * which a real verifier never does. Input that is not JSON goes straight
 * to the attest and signature parsers. */
#include <stddef.h>
#include <stdint.h>

#include "kwid/node.h"

static void raw(const uint8_t *data, size_t size)
{
	TPMS_ATTEST a;
	TPMT_SIGNATURE s;
	struct kwid_pcr_values v = {0};
	uint8_t d[KWID_DIGEST_MAX];

	if (tpm_attest_parse(data, size, &a, NULL, 0) == 0) {
		memset(&v.have, 0xff, sizeof(v.have));
		tpm_pcr_composite(&a.attested.quote.pcrSelect, &v, KWID_DIGEST_SHA256, d, NULL, 0);
	}
	tpm_signature_parse(data, size, &s, NULL, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("TSS2_LOG", "all+none", 0); /* tss2-mu logs every malformed input */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ima_policy *policy;
	struct node_verify_result res;
	struct node_verify_opts o = {0};
	json_tokener *tok;
	json_object *ev, *ak, *pem, *nonce;
	uint8_t nbuf[TPM_NONCE_MAX];
	char err[128];
	ssize_t n;

	if (!policy && ima_policy_parse("{\"digests\": {}, \"excludes\": [\"/usr/.*\"]}", &policy, err, sizeof(err)) < 0)
		__builtin_trap();
	if (size == 0 || data[0] != '{') {
		raw(data, size);
		return 0;
	}
	tok = json_tokener_new();
	ev = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!ev)
		return 0;
	if (json_object_object_get_ex(ev, "ak", &ak) && json_object_object_get_ex(ak, "public_pem", &pem) &&
	    json_object_is_type(pem, json_type_string))
		pkey_from_pem(json_object_get_string(pem), (size_t)json_object_get_string_len(pem), &o.ak);
	if (json_object_object_get_ex(ev, "nonce", &nonce) && json_object_is_type(nonce, json_type_string) &&
	    (n = hex_decode(json_object_get_string(nonce), nbuf, sizeof(nbuf))) > 0) {
		o.nonce = nbuf;
		o.nonce_len = (size_t)n;
	}
	if (o.ak) {
		o.policy = (size & 1) ? policy : NULL;
		node_evidence_verify(ev, &o, &res);
		json_object_put(node_verify_result_to_json(&res));
		node_verify_result_clear(&res);
		EVP_PKEY_free(o.ak);
	}
	json_object_put(ev);
	return 0;
}
