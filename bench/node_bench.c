/* node_bench.c - helper of bench_node.sh (built by it against libkwid):
 *   node_bench extend TCTI FILE   extend "10:sha1=..,sha256=.." lines into a TPM
 *   node_bench replay LOG POLICY  parse, replay (SHA-256 PCR 10) and policy-check
 *                                 an IMA log in-process; print the phase times */
#include <stdio.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "kwid/ima.h"

static int extend(const char *tcti_conf, const char *file)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;
	char line[256], sha1[41], sha256[65];
	unsigned pcr, n = 0;
	FILE *f = fopen(file, "r");

	if (!f || Tss2_TctiLdr_Initialize(tcti_conf, &tcti) || Esys_Initialize(&esys, tcti, NULL))
		return 1;
	while (fgets(line, sizeof(line), f)) {
		TPML_DIGEST_VALUES v = {.count = 2};
		if (sscanf(line, "%u:sha1=%40[0-9a-f],sha256=%64[0-9a-f]", &pcr, sha1, sha256) != 3)
			continue;
		v.digests[0].hashAlg = TPM2_ALG_SHA1;
		hex_decode(sha1, v.digests[0].digest.sha1, 20);
		v.digests[1].hashAlg = TPM2_ALG_SHA256;
		hex_decode(sha256, v.digests[1].digest.sha256, 32);
		if (Esys_PCR_Extend(esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &v))
			return 1;
		n++;
	}
	fclose(f);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
	fprintf(stderr, "extended %u entries\n", n);
	return 0;
}

static bool at_end(void *ud, const struct ima_replay_pcr *pcrs, size_t n, size_t count)
{
	return count == *(const size_t *)ud;
}

static double ms_since(uint64_t t0)
{
	return (double)(now_mono_ns() - t0) / 1e6;
}

static int replay(const char *logpath, const char *policypath)
{
	struct ima_replay_pcr pcr = {.bank = KWID_DIGEST_SHA256, .pcr = 10};
	struct ima_replay_result res;
	struct ima_policy_report rep;
	struct ima_policy *policy = NULL;
	struct ima_log *log = NULL;
	char *data, err[256];
	size_t len;
	uint64_t t0;
	double t_parse, t_replay, t_policy, t_load;

	if (read_file(logpath, IMA_LOG_MAX_BYTES, &data, &len) < 0)
		return 1;
	t0 = now_mono_ns();
	if (ima_policy_load(policypath, &policy, err, sizeof(err)) < 0)
		return fprintf(stderr, "%s\n", err), 1;
	t_load = ms_since(t0);
	t0 = now_mono_ns();
	if (ima_log_parse((uint8_t *)data, len, KWID_DIGEST_SHA1, 0, &log, err, sizeof(err)) < 0)
		return fprintf(stderr, "%s\n", err), 1;
	t_parse = ms_since(t0);
	t0 = now_mono_ns();
	if (ima_replay(log, IMA_EXTEND_TEMPLATE, &pcr, 1, at_end, &log->n, &res) < 0)
		return fprintf(stderr, "%s\n", res.error), 1;
	t_replay = ms_since(t0);
	t0 = now_mono_ns();
	if (ima_policy_check(policy, log, res.matched, 1ull << 10, &rep) < 0)
		return 1;
	t_policy = ms_since(t0);
	printf("entries=%zu bytes=%zu policy_load_ms=%.1f parse_ms=%.1f replay_ms=%.1f policy_ms=%.1f "
	       "failed=%zu excluded=%zu\n",
	       log->n, len, t_load, t_parse, t_replay, t_policy, rep.failed, rep.excluded);
	ima_policy_report_clear(&rep);
	ima_policy_free(policy);
	ima_log_free(log);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && streq(argv[1], "extend"))
		return extend(argv[2], argv[3]);
	if (argc == 4 && streq(argv[1], "replay"))
		return replay(argv[2], argv[3]);
	fprintf(stderr, "usage: node_bench extend TCTI FILE | replay LOG POLICY\n");
	return 2;
}
