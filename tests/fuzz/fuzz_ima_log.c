/* fuzz_ima_log.c - libFuzzer harness for the IMA log parser, the replay and
 * the policy check. The first byte picks the layout (template digest bank,
 * byte order); the rest is the log. */
#include <stddef.h>
#include <stdint.h>

#include "kwid/ima.h"

static struct ima_policy *policy;

static bool never(void *ud, const struct ima_replay_pcr *pcrs, size_t n, size_t count)
{
	return false;
}

static bool at_count(void *ud, const struct ima_replay_pcr *pcrs, size_t n, size_t count)
{
	return count == *(const size_t *)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum kwid_digest_alg banks[] = {KWID_DIGEST_SHA1, KWID_DIGEST_SHA256, KWID_DIGEST_SHA384,
						     KWID_DIGEST_SHA512};
	struct ima_replay_pcr pcrs[3] = {{.bank = KWID_DIGEST_SHA1, .pcr = 10},
					 {.bank = KWID_DIGEST_SHA256, .pcr = 10},
					 {.bank = KWID_DIGEST_SHA256, .pcr = 11}};
	struct ima_replay_result res;
	struct ima_policy_report rep;
	struct ima_digest_set set;
	struct ima_log *log = NULL;
	char err[IMA_ERR_MAX], path[64];
	size_t half;

	if (!policy && ima_policy_parse("{\"digests\": {\"/usr/bin/true\": [\"" /* sha256("") */
					"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"]},"
					" \"excludes\": [\"/tmp/.*\", \"boot_aggregate\"]}",
					&policy, err, sizeof(err)) < 0)
		__builtin_trap();
	if (size < 1)
		return 0;
	if (ima_log_parse(data + 1, size - 1, banks[data[0] & 3], (data[0] & 4) ? IMA_LOG_BIG_ENDIAN : 0, &log, err,
			  sizeof(err)) < 0)
		return 0;
	for (size_t i = 0; i < log->n; i++)
		ima_path_escape(&log->entries[i], path, sizeof(path));
	half = log->n / 2;
	ima_replay(log, (data[0] & 8) ? IMA_EXTEND_PADDED_SHA1 : IMA_EXTEND_TEMPLATE, pcrs, 3,
		   (data[0] & 16) ? never : at_count, &half, &res);
	if (ima_digest_set_build(log, log->n, 1ull << 10, &set) == 0) {
		uint8_t probe[32] = {0};
		ima_digest_set_contains(&set, probe);
		ima_digest_set_clear(&set);
	}
	if (ima_policy_check(policy, log, log->n, (data[0] & 32) ? ~0ull : 1ull << 10, &rep) == 0)
		ima_policy_report_clear(&rep);
	ima_log_free(log);
	return 0;
}
