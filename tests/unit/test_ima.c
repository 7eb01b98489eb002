/* test_ima.c - IMA log parser, replay, digest set and runtime policy, on
 * logs built in the kernel's binary format by tests/unit/ima_build.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>

#include "ima_build.h"
#include "kwid/ima.h"

static void digest_of(const char *s, uint8_t out[32])
{
	ib_sha("sha256", s, strlen(s), out);
}

/* Three ima-ng entries in PCR 10: boot_aggregate, /usr/bin/true, /usr/bin/ls. */
static void build_basic(struct ima_build *b)
{
	uint8_t d[32];

	digest_of("boot", d);
	ib_add_ng(b, 10, "ima-ng", "sha256", d, 32, "boot_aggregate", false, NULL, 0);
	digest_of("true", d);
	ib_add_ng(b, 10, "ima-ng", "sha256", d, 32, "/usr/bin/true", false, NULL, 0);
	digest_of("ls", d);
	ib_add_ng(b, 10, "ima-ng", "sha256", d, 32, "/usr/bin/ls", false, NULL, 0);
}

static struct ima_log *parse_ok(const struct ima_build *b, enum kwid_digest_alg bank, unsigned flags)
{
	struct ima_log *log = NULL;
	char err[IMA_ERR_MAX];
	int r = ima_log_parse(b->buf, b->len, bank, flags, &log, err, sizeof(err));

	if (r < 0)
		fail_msg("parse failed: %s", err);
	return log;
}

static void test_parse_ng(void **state)
{
	struct ima_build b = {0};
	struct ima_log *log;
	uint8_t d[32];

	build_basic(&b);
	log = parse_ok(&b, KWID_DIGEST_SHA1, 0);
	assert_int_equal(log->n, 3);
	assert_int_equal(log->entries[1].pcr, 10);
	assert_int_equal(log->entries[1].kind, IMA_TEMPLATE_NG);
	assert_string_equal(log->entries[1].path, "/usr/bin/true");
	assert_int_equal(log->entries[1].path_len, strlen("/usr/bin/true"));
	assert_string_equal(log->entries[1].file_algo, "sha256");
	assert_int_equal(log->entries[1].file_alg, KWID_DIGEST_SHA256);
	digest_of("true", d);
	assert_memory_equal(log->entries[1].file_digest, d, 32);
	assert_memory_equal(log->entries[1].template_digest, b.sha1[1], 20);
	assert_false(log->entries[1].violation);
	assert_int_equal(log->entries[2].offset, b.offsets[2]);
	ima_log_free(log);
	ib_free(&b);
}

static void test_parse_templates(void **state)
{
	struct ima_build b = {0};
	struct ima_log *log;
	uint8_t d20[20] = {1, 2, 3}, d[32] = {9}, sig[10] = {3, 2};
	uint8_t custom[12] = {4, 0, 0, 0, 'a', 'b', 'c', 'd', 0, 0, 0, 0};

	ib_add_old(&b, 10, d20, "/sbin/init");
	ib_add_ng(&b, 10, "ima-sig", "sha256", d, 32, "/bin/sh", false, sig, sizeof(sig));
	ib_add_ng(&b, 10, "ima-buf", "sha256", d, 32, "kexec-cmdline", false, NULL, 0);
	ib_record(&b, 11, "my-template", custom, sizeof(custom), custom, sizeof(custom), false, true);
	log = parse_ok(&b, KWID_DIGEST_SHA1, 0);
	assert_int_equal(log->n, 4);
	assert_int_equal(log->entries[0].kind, IMA_TEMPLATE_IMA);
	assert_string_equal(log->entries[0].path, "/sbin/init");
	assert_string_equal(log->entries[0].file_algo, "sha1");
	assert_memory_equal(log->entries[0].file_digest, d20, 20);
	assert_int_equal(log->entries[1].kind, IMA_TEMPLATE_NG);
	assert_string_equal(log->entries[1].path, "/bin/sh");
	assert_true(log->entries[2].is_buf);
	assert_int_equal(log->entries[3].kind, IMA_TEMPLATE_UNKNOWN);
	assert_null(log->entries[3].path);
	assert_int_equal(log->entries[3].pcr, 11);
	ima_log_free(log);
	ib_free(&b);
}

static void test_parse_big_endian_and_sha256_log(void **state)
{
	struct ima_build b = {.big_endian = true}, c = {.sha256_log = true};
	struct ima_log *log = NULL;
	char err[IMA_ERR_MAX];

	build_basic(&b);
	log = parse_ok(&b, KWID_DIGEST_SHA1, IMA_LOG_BIG_ENDIAN);
	assert_int_equal(log->n, 3);
	assert_string_equal(log->entries[2].path, "/usr/bin/ls");
	ima_log_free(log);
	/* Read as little-endian, the first PCR index is 10 << 24. */
	assert_int_equal(ima_log_parse(b.buf, b.len, KWID_DIGEST_SHA1, 0, &log, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "PCR index"));

	build_basic(&c);
	log = parse_ok(&c, KWID_DIGEST_SHA256, 0);
	assert_int_equal(log->n, 3);
	assert_memory_equal(log->entries[0].template_digest, c.sha256[0], 32);
	ima_log_free(log);
	ib_free(&b);
	ib_free(&c);
}

/* Every cut inside a record is an error; a cut at a record boundary is a
 * shorter, valid log. */
static void test_parse_truncations(void **state)
{
	struct ima_build b = {0};
	uint8_t d20[20] = {7};

	build_basic(&b);
	ib_add_old(&b, 10, d20, "/old");
	for (size_t cut = 0; cut < b.len; cut++) {
		struct ima_log *log = NULL;
		char err[IMA_ERR_MAX];
		bool boundary = false;
		int r = ima_log_parse(b.buf, cut, KWID_DIGEST_SHA1, 0, &log, err, sizeof(err));

		for (size_t i = 0; i < b.n; i++)
			boundary |= b.offsets[i] == cut;
		if (boundary) {
			assert_int_equal(r, 0);
		} else {
			assert_int_equal(r, -EINVAL);
			assert_non_null(strstr(err, "entry "));
		}
		ima_log_free(log);
	}
	ib_free(&b);
}

static void expect_parse_error(struct ima_build *b, const char *needle)
{
	struct ima_log *log = NULL;
	char err[IMA_ERR_MAX];

	assert_int_equal(ima_log_parse(b->buf, b->len, KWID_DIGEST_SHA1, 0, &log, err, sizeof(err)), -EINVAL);
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
	assert_null(log);
}

static void test_parse_rejects(void **state)
{
	struct ima_build b = {0};
	uint8_t d[32] = {1}, *p;
	size_t name_off, data_off;

	build_basic(&b);
	name_off = b.offsets[1] + 4 + 20;     /* template name length of entry 1 */
	data_off = name_off + 4 + 6;	      /* template data length */
	p = b.buf + name_off;
	ib_le32(p, 300, false);
	expect_parse_error(&b, "template name length 300");
	ib_le32(p, 6, false);
	ib_le32(b.buf + data_off, 0x7fffffff, false);
	expect_parse_error(&b, "exceeds");
	ib_le32(b.buf + data_off, 5000, false);
	expect_parse_error(&b, "overruns the log");
	ib_free(&b);

	/* n-ng without its NUL, and with an embedded NUL */
	memset(&b, 0, sizeof(b));
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/a/b", false, NULL, 0);
	b.buf[b.len - 1] = 'x';
	expect_parse_error(&b, "NUL-terminated");
	b.buf[b.len - 1] = '\0';
	b.buf[b.len - 3] = '\0';
	expect_parse_error(&b, "NUL-terminated");
	ib_free(&b);

	/* a sha256 digest of the wrong size */
	memset(&b, 0, sizeof(b));
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 20, "/x", false, NULL, 0);
	expect_parse_error(&b, "sha256 digest of 20 bytes");
	ib_free(&b);

	/* d-ng without the algorithm prefix */
	memset(&b, 0, sizeof(b));
	ib_add_ng(&b, 10, "ima-ng", "", d, 32, "/x", false, NULL, 0);
	expect_parse_error(&b, "algorithm");
	ib_free(&b);

	/* a PCR index beyond the limit */
	memset(&b, 0, sizeof(b));
	ib_add_ng(&b, 64, "ima-ng", "sha256", d, 32, "/x", false, NULL, 0);
	expect_parse_error(&b, "PCR index 64");
	ib_free(&b);
}

static void test_bank_from_path(void **state)
{
	enum kwid_digest_alg a;

	assert_int_equal(ima_log_bank_from_path("/sys/kernel/security/ima/binary_runtime_measurements", &a), 0);
	assert_int_equal(a, KWID_DIGEST_SHA1);
	assert_int_equal(ima_log_bank_from_path("/x/binary_runtime_measurements_sha256", &a), 0);
	assert_int_equal(a, KWID_DIGEST_SHA256);
	assert_int_equal(ima_log_bank_from_path("/x/binary_runtime_measurements_sha1", &a), 0);
	assert_int_equal(a, KWID_DIGEST_SHA1);
	assert_int_equal(ima_log_bank_from_path("/x/binary_runtime_measurements_tpm_alg_27", &a), -EINVAL);
	assert_int_equal(ima_log_bank_from_path("/tmp/log.bin", &a), 0);
	assert_int_equal(a, KWID_DIGEST_SHA1);
}

/* ---- replay ---- */

struct targets {
	struct ima_replay_pcr want[2];
	size_t n;
};

static bool match_targets(void *ud, const struct ima_replay_pcr *pcrs, size_t n, size_t count)
{
	const struct targets *t = ud;

	for (size_t i = 0; i < n; i++)
		if (memcmp(pcrs[i].value, t->want[i].value, digest_info(pcrs[i].bank)->size))
			return false;
	return true;
}

/* Replay log against the builder's expectation for its first `quoted`
 * entries, in the SHA-1 and SHA-256 banks of PCR 10. */
static int replay_against(const struct ima_log *log, const struct ima_build *expect, size_t quoted,
			  enum ima_extend_mode mode, struct ima_replay_result *res)
{
	struct targets t = {.n = 2};
	struct ima_replay_pcr pcrs[2] = {{.bank = KWID_DIGEST_SHA1, .pcr = 10}, {.bank = KWID_DIGEST_SHA256, .pcr = 10}};

	t.want[0] = pcrs[0];
	t.want[1] = pcrs[1];
	ib_expect(expect, quoted, 10, false, t.want[0].value);
	ib_expect(expect, quoted, 10, true, t.want[1].value);
	return ima_replay(log, mode, pcrs, 2, match_targets, &t, res);
}

static void test_replay_matches(void **state)
{
	struct ima_build b = {0};
	struct ima_replay_result res;
	struct ima_log *log;
	uint8_t d20[20] = {5};

	build_basic(&b);
	ib_add_old(&b, 10, d20, "/legacy");
	log = parse_ok(&b, KWID_DIGEST_SHA1, 0);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), 0);
	assert_int_equal(res.matched, b.n);
	/* The log grew after the quote: the prefix matches and says how far. */
	assert_int_equal(replay_against(log, &b, 2, IMA_EXTEND_TEMPLATE, &res), 0);
	assert_int_equal(res.matched, 2);
	assert_int_equal(replay_against(log, &b, 0, IMA_EXTEND_TEMPLATE, &res), 0);
	assert_int_equal(res.matched, 0);
	ima_log_free(log);
	ib_free(&b);
}

static void test_replay_sha256_log_and_violation(void **state)
{
	struct ima_build b = {.sha256_log = true};
	struct ima_replay_result res;
	struct ima_log *log;
	uint8_t d[32] = {0};

	build_basic(&b);
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/var/log/racy", true, NULL, 0);
	digest_of("after", d);
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/usr/bin/after", false, NULL, 0);
	log = parse_ok(&b, KWID_DIGEST_SHA256, 0);
	assert_true(log->entries[3].violation);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), 0);
	assert_int_equal(res.matched, b.n);
	ima_log_free(log);
	ib_free(&b);
}

static void test_replay_padded_sha1(void **state)
{
	struct ima_build b = {0};
	struct ima_replay_result res;
	struct ima_log *log;

	build_basic(&b);
	/* An old kernel extended the SHA-256 bank with the padded SHA-1. */
	for (size_t i = 0; i < b.n; i++) {
		memset(b.sha256[i], 0, 32);
		memcpy(b.sha256[i], b.sha1[i], 20);
	}
	log = parse_ok(&b, KWID_DIGEST_SHA1, 0);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), -ENOENT);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_PADDED_SHA1, &res), 0);
	assert_int_equal(res.matched, b.n);
	ima_log_free(log);
	ib_free(&b);
}

static void test_replay_detects_tampering(void **state)
{
	struct ima_build b = {0}, t;
	struct ima_replay_result res;
	struct ima_log *log;
	size_t rec1, rec2;

	build_basic(&b);
	rec1 = b.offsets[1];
	rec2 = b.offsets[2];

	/* An edited path: the logged template digest no longer fits. */
	t = b;
	t.buf = malloc(b.len);
	memcpy(t.buf, b.buf, b.len);
	t.buf[b.offsets[2] - 3] ^= 0x20; /* a letter of "/usr/bin/true" */
	log = parse_ok(&t, KWID_DIGEST_SHA1, 0);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), -EBADMSG);
	assert_int_equal(res.bad_entry, 1);
	assert_non_null(strstr(res.error, "/usr/bin/trUe"));
	ima_log_free(log);

	/* ... and with the template digest recomputed to hide it: the PCRs
	 * disagree. */
	ib_sha("sha1", t.buf + rec1 + 4 + 20 + 4 + 6 + 4, rec2 - (rec1 + 4 + 20 + 4 + 6 + 4), t.buf + rec1 + 4);
	log = parse_ok(&t, KWID_DIGEST_SHA1, 0);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), -ENOENT);
	ima_log_free(log);

	/* A removed entry. */
	memcpy(t.buf, b.buf, b.len);
	memmove(t.buf + rec1, t.buf + rec2, b.len - rec2);
	t.len = b.len - (rec2 - rec1);
	log = parse_ok(&t, KWID_DIGEST_SHA1, 0);
	assert_int_equal(log->n, 2);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), -ENOENT);
	ima_log_free(log);

	/* A swapped pair (entries 1 and 2, the last two). */
	memcpy(t.buf, b.buf, rec1);
	memcpy(t.buf + rec1, b.buf + rec2, b.len - rec2);
	memcpy(t.buf + rec1 + (b.len - rec2), b.buf + rec1, rec2 - rec1);
	t.len = b.len;
	log = parse_ok(&t, KWID_DIGEST_SHA1, 0);
	assert_string_equal(log->entries[1].path, "/usr/bin/ls");
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), -ENOENT);
	ima_log_free(log);

	/* A truncated log (the last entry dropped) never matches a quote that
	 * covered it. */
	t.len = b.offsets[2];
	memcpy(t.buf, b.buf, b.len);
	log = parse_ok(&t, KWID_DIGEST_SHA1, 0);
	assert_int_equal(replay_against(log, &b, b.n, IMA_EXTEND_TEMPLATE, &res), -ENOENT);
	ima_log_free(log);
	free(t.buf);
	ib_free(&b);
}

static void test_digest_set(void **state)
{
	struct ima_build b = {0};
	struct ima_digest_set s;
	struct ima_log *log;
	uint8_t d[32], v[32];

	build_basic(&b);
	digest_of("violated", v);
	ib_add_ng(&b, 10, "ima-ng", "sha256", v, 32, "/tmp/v", true, NULL, 0);
	digest_of("verity", d);
	ib_add_ng(&b, 10, "ima-ngv2", "verity:sha256", d, 32, "/verity", false, NULL, 0);
	digest_of("other pcr", d);
	ib_add_ng(&b, 11, "ima-ng", "sha256", d, 32, "/pcr11", false, NULL, 0);
	log = parse_ok(&b, KWID_DIGEST_SHA1, 0);
	assert_string_equal(log->entries[4].digest_type, "verity");
	assert_int_equal(ima_digest_set_build(log, 2, 1ull << 10, &s), 0);
	digest_of("true", d);
	assert_true(ima_digest_set_contains(&s, d));
	digest_of("ls", d); /* entry 2: after the verified prefix */
	assert_false(ima_digest_set_contains(&s, d));
	ima_digest_set_clear(&s);
	assert_int_equal(ima_digest_set_build(log, log->n, 1ull << 10, &s), 0);
	assert_true(ima_digest_set_contains(&s, d));
	assert_false(ima_digest_set_contains(&s, v)); /* violation */
	digest_of("verity", d);
	assert_false(ima_digest_set_contains(&s, d)); /* fs-verity digest, not a file hash */
	digest_of("other pcr", d);
	assert_false(ima_digest_set_contains(&s, d)); /* PCR 11 was not verified */
	assert_int_equal(s.n, 3);
	ima_digest_set_clear(&s);
	ima_log_free(log);
	ib_free(&b);
}

/* ---- policy ---- */

static char *policy_text(void)
{
	uint8_t d[32];
	char hb[65], ht[65], hl[65], *out;

	digest_of("boot", d);
	hex_encode(d, 32, hb);
	digest_of("true", d);
	hex_encode(d, 32, ht);
	digest_of("ls", d);
	hex_encode(d, 32, hl);
	hl[0] = hl[0] == 'a' ? 'b' : 'a'; /* not the digest in the log */
	for (char *c = hb; *c; c++) /* upper-case hex is accepted */
		*c = (char)toupper((unsigned char)*c);
	if (asprintf(&out,
		     "{\"meta\": {\"version\": 1}, \"release\": 0,"
		     " \"digests\": {\"boot_aggregate\": [\"%s\"], \"/usr/bin/true\": [\"%s\"], \"/usr/bin/ls\": [\"%s\"]},"
		     " \"excludes\": [\"/tmp/.*\", \"/var/log\"], \"ima-buf\": {}, \"keyrings\": {}}",
		     hb, ht, hl) < 0)
		return NULL;
	return out;
}

static void test_policy(void **state)
{
	struct ima_build b = {0};
	struct ima_policy *p = NULL;
	struct ima_policy_report rep;
	struct ima_log *log;
	char err[256], *text = policy_text();
	uint8_t d[32] = {0};

	build_basic(&b);
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/tmp/scratch", false, NULL, 0);
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/var/log/syslog", true, NULL, 0);
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/etc/racy", true, NULL, 0);
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/opt/unknown", false, NULL, 0);
	log = parse_ok(&b, KWID_DIGEST_SHA1, 0);
	assert_int_equal(ima_policy_parse(text, &p, err, sizeof(err)), 0);

	/* The first two entries pass. */
	assert_int_equal(ima_policy_check(p, log, 2, 1ull << 10, &rep), 0);
	assert_int_equal(rep.failed, 0);
	assert_int_equal(rep.checked, 2);
	ima_policy_report_clear(&rep);

	assert_int_equal(ima_policy_check(p, log, log->n, 1ull << 10, &rep), 0);
	assert_int_equal(rep.checked, 7);
	assert_int_equal(rep.excluded, 2);
	assert_int_equal(rep.failed, 3);
	assert_int_equal(rep.failures[0].entry, 2);
	assert_string_equal(rep.failures[0].path, "/usr/bin/ls");
	assert_string_equal(rep.failures[0].reason, "digest not allowed for this path");
	assert_string_equal(rep.failures[1].path, "/etc/racy");
	assert_non_null(strstr(rep.failures[1].reason, "violation"));
	assert_string_equal(rep.failures[2].path, "/opt/unknown");
	assert_string_equal(rep.failures[2].reason, "path not in policy");
	ima_policy_report_clear(&rep);

	/* Entries in a PCR the quote did not cover fail. */
	assert_int_equal(ima_policy_check(p, log, 2, 1ull << 11, &rep), 0);
	assert_int_equal(rep.failed, 2);
	assert_non_null(strstr(rep.failures[0].reason, "not covered by the quote"));
	ima_policy_report_clear(&rep);
	ima_policy_free(p);
	free(text);
	ima_log_free(log);
	ib_free(&b);
}

static void test_policy_rejects(void **state)
{
	static const struct {
		const char *text, *needle;
	} bad[] = {
		{"[]", "JSON object"},
		{"{", "not JSON"},
		{"{\"excludes\": []}", "no 'digests'"},
		{"{\"digests\": {\"/a\": \"abc\"}}", "array"},
		{"{\"digests\": {\"/a\": [\"abc\"]}}", "hex"},
		{"{\"digests\": {}, \"excludes\": [\"(\"]}", "excludes[0]"},
		{"{\"digests\": {}, \"excludes\": [5]}", "excludes[0]"},
		{"{\"digests\": {}, \"ima-buf\": []}", "ima-buf"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ima_policy *p = NULL;
		char err[256] = "";
		assert_int_equal(ima_policy_parse(bad[i].text, &p, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].needle))
			fail_msg("policy %s: error '%s' lacks '%s'", bad[i].text, err, bad[i].needle);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ng),
		cmocka_unit_test(test_parse_templates),
		cmocka_unit_test(test_parse_big_endian_and_sha256_log),
		cmocka_unit_test(test_parse_truncations),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_bank_from_path),
		cmocka_unit_test(test_replay_matches),
		cmocka_unit_test(test_replay_sha256_log_and_violation),
		cmocka_unit_test(test_replay_padded_sha1),
		cmocka_unit_test(test_replay_detects_tampering),
		cmocka_unit_test(test_digest_set),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
