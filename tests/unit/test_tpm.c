/* test_tpm.c - the TPM client and the node evidence verifier against a
 * real swtpm (started by the test on a free loopback port): AK creation
 * and reuse, quote/verify round trips, every kind of forgery, IMA logs
 * extended into the swtpm's PCR 10, the EK certificate, and no leaked
 * transient objects or sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "ima_build.h"
#include "kwid/base64.h"
#include "kwid/node.h"
#include "swtpm_helper.h"

static struct swtpm swtpm;
static const struct kwid_pcr_selection default_sel = {.mask = {[KWID_DIGEST_SHA256] = 0x4ff}};
static const struct kwid_pcr_selection ima_sel = {
	.mask = {[KWID_DIGEST_SHA1] = 1u << 10, [KWID_DIGEST_SHA256] = 0x4ff}};

static int group_setup(void **state)
{
	setenv("TSS2_LOG", "all+none", 0);
	if (swtpm_start(&swtpm) < 0) {
		fprintf(stderr, "cannot start swtpm (is the swtpm package installed?)\n");
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	swtpm_stop(&swtpm);
	return 0;
}

static struct kwid_tpm *open_tpm(void)
{
	struct kwid_tpm *t = NULL;
	char err[TPM_ERR_MAX];

	if (tpm_open(swtpm.tcti, &t, err, sizeof(err)) < 0)
		fail_msg("tpm_open: %s", err);
	return t;
}

static void make_dir(char *dir)
{
	strcpy(dir, "/tmp/kwid-tpm-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void ensure_ak(const char *dir, enum tpm_ak_alg alg, struct tpm_ak *ak)
{
	struct kwid_tpm *t = open_tpm();
	char err[TPM_ERR_MAX];

	if (tpm_ak_ensure(t, dir, alg, ak, err, sizeof(err)) < 0)
		fail_msg("tpm_ak_ensure: %s", err);
	tpm_close(t);
}

static void assert_no_handles(void)
{
	struct kwid_tpm *t = open_tpm();
	unsigned transient = 99, sessions = 99;

	assert_int_equal(tpm_count_handles(t, &transient, &sessions), 0);
	assert_int_equal(transient, 0);
	assert_int_equal(sessions, 0);
	tpm_close(t);
}

/* Quote and build the evidence document, as the agent does. */
static json_object *make_evidence(const struct tpm_ak *ak, const struct kwid_pcr_selection *sel,
				  const uint8_t *nonce, size_t nlen, const struct ima_build *log)
{
	struct kwid_tpm *t = open_tpm();
	struct tpm_quote q;
	char err[TPM_ERR_MAX];
	struct node_evidence_input in = {.quote = &q, .ak = ak, .nonce = nonce, .nonce_len = nlen};

	if (tpm_quote(t, ak, nonce, nlen, sel, &q, err, sizeof(err)) < 0)
		fail_msg("tpm_quote: %s", err);
	tpm_close(t);
	assert_true(q.pcrs_consistent);
	if (log) {
		in.ima = log->buf;
		in.ima_len = log->len;
		in.ima_bank = log->sha256_log ? KWID_DIGEST_SHA256 : KWID_DIGEST_SHA1;
	}
	return node_evidence_build(&in);
}

static int verify(json_object *ev, EVP_PKEY *ak, const uint8_t *nonce, size_t nlen, const struct ima_policy *policy,
		  struct node_verify_result *res)
{
	struct node_verify_opts o = {.ak = ak, .nonce = nonce, .nonce_len = nlen, .policy = policy};

	return node_evidence_verify(ev, &o, res);
}

static void expect_failure(json_object *ev, EVP_PKEY *ak, const uint8_t *nonce, size_t nlen,
			   const struct ima_policy *policy, const char *needle)
{
	struct node_verify_result res;

	assert_int_equal(verify(ev, ak, nonce, nlen, policy, &res), -EBADMSG);
	assert_false(res.ok);
	if (!strstr(res.failure, needle))
		fail_msg("failure '%s' does not mention '%s'", res.failure, needle);
	node_verify_result_clear(&res);
}

/* Replace a base64 member (quote.attest or quote.signature) with the same
 * bytes, one of them flipped. */
static void flip_b64(json_object *ev, const char *outer, const char *key, size_t at)
{
	json_object *o = json_object_object_get(ev, outer), *v = json_object_object_get(o, key);
	uint8_t *buf;
	size_t len;
	char *b64;

	assert_int_equal(base64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), 1 << 20,
				       &buf, &len), 0);
	buf[at % len] ^= 0x01;
	b64 = base64_encode(buf, len);
	json_object_object_add(o, key, json_object_new_string(b64));
	free(b64);
	free(buf);
}

static void test_ak_created_saved_and_reused(void **state)
{
	struct tpm_ak a, b;
	char dir[64], path[128];
	struct stat st;

	make_dir(dir);
	strcat(dir, "/tpm");
	ensure_ak(dir, TPM_AK_ECC, &a);
	snprintf(path, sizeof(path), "%s/ak-ecc.priv", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(a.pub.publicArea.objectAttributes & TPMA_OBJECT_RESTRICTED);
	assert_true(a.pub.publicArea.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT);
	assert_true(a.pub.publicArea.objectAttributes & TPMA_OBJECT_FIXEDTPM);
	ensure_ak(dir, TPM_AK_ECC, &b); /* loaded, not re-created */
	assert_int_equal(a.name_len, 34);
	assert_memory_equal(a.name, b.name, a.name_len);
	assert_int_equal(EVP_PKEY_eq(a.pkey, b.pkey), 1);
	tpm_ak_clear(&a);
	tpm_ak_clear(&b);
	assert_no_handles();
	dir[strlen(dir) - 4] = '\0';
	remove_dir(dir);
}

static void test_corrupt_ak_is_reported(void **state)
{
	struct kwid_tpm *t;
	struct tpm_ak a;
	char dir[64], path[128], err[TPM_ERR_MAX];

	make_dir(dir);
	ensure_ak(dir, TPM_AK_ECC, &a);
	tpm_ak_clear(&a);
	snprintf(path, sizeof(path), "%s/ak-ecc.pub", dir);
	assert_int_equal(truncate(path, 10), 0);
	t = open_tpm();
	assert_int_equal(tpm_ak_ensure(t, dir, TPM_AK_ECC, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "corrupt"));
	tpm_close(t);
	remove_dir(dir);
}

static void round_trip(enum tpm_ak_alg alg)
{
	struct tpm_ak ak, other;
	struct node_verify_result res;
	char dir[64], dir2[64];
	uint8_t nonce[32], wrong[32];
	json_object *ev;

	make_dir(dir);
	make_dir(dir2);
	ensure_ak(dir, alg, &ak);
	ensure_ak(dir2, alg, &other);
	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(i * 7 + alg);
	memcpy(wrong, nonce, sizeof(wrong));
	wrong[31] ^= 1;

	ev = make_evidence(&ak, &default_sel, nonce, sizeof(nonce), NULL);
	assert_int_equal(verify(ev, ak.pkey, nonce, sizeof(nonce), NULL, &res), 0);
	assert_true(res.ok);
	assert_int_equal(res.pcrs.have.mask[KWID_DIGEST_SHA256], 0x4ff);
	assert_false(res.ima_present);
	node_verify_result_clear(&res);

	expect_failure(ev, ak.pkey, wrong, sizeof(wrong), NULL, "nonce");
	expect_failure(ev, ak.pkey, nonce, 16, NULL, "nonce");
	expect_failure(ev, other.pkey, nonce, sizeof(nonce), NULL, "does not verify with the AK");
	json_object_put(ev);

	for (size_t at = 0; at < 200; at += 37) {
		ev = make_evidence(&ak, &default_sel, nonce, sizeof(nonce), NULL);
		flip_b64(ev, "quote", "attest", at);
		expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "does not verify with the AK");
		json_object_put(ev);
		ev = make_evidence(&ak, &default_sel, nonce, sizeof(nonce), NULL);
		flip_b64(ev, "quote", "signature", at + 6); /* past sigAlg and hash */
		expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "signature");
		json_object_put(ev);
	}
	tpm_ak_clear(&ak);
	tpm_ak_clear(&other);
	remove_dir(dir);
	remove_dir(dir2);
	assert_no_handles();
}

static void test_round_trip_ecc(void **state)
{
	round_trip(TPM_AK_ECC);
}

static void test_round_trip_rsa(void **state)
{
	round_trip(TPM_AK_RSA);
}

static void test_reported_pcrs_are_checked(void **state)
{
	struct tpm_ak ak;
	char dir[64];
	uint8_t nonce[16] = {1, 2, 3};
	json_object *ev, *pcrs, *bank;

	make_dir(dir);
	ensure_ak(dir, TPM_AK_ECC, &ak);

	ev = make_evidence(&ak, &default_sel, nonce, sizeof(nonce), NULL);
	bank = json_object_object_get(json_object_object_get(ev, "pcrs"), "sha256");
	json_object_object_add(bank, "7", json_object_new_string(
		"00000000000000000000000000000000000000000000000000000000000000aa"));
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "PCR digest mismatch");
	json_object_object_del(bank, "7");
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "sha256 PCR 7 but no value");
	json_object_put(ev);

	ev = make_evidence(&ak, &default_sel, nonce, sizeof(nonce), NULL);
	pcrs = json_object_object_get(ev, "pcrs");
	bank = json_object_new_object();
	json_object_object_add(bank, "0", json_object_new_string("0000000000000000000000000000000000000000"));
	json_object_object_add(pcrs, "sha1", bank);
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "not covered by the quote");
	json_object_put(ev);

	ev = make_evidence(&ak, &default_sel, nonce, sizeof(nonce), NULL);
	json_object_object_add(ev, "kwid_node_evidence", json_object_new_int(2));
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "version 1");
	json_object_put(ev);
	tpm_ak_clear(&ak);
	remove_dir(dir);
}

/* Extend the template hashes of entries [from, to) into PCR 10 of the
 * swtpm's SHA-1 and SHA-256 banks, as the kernel does. */
static void extend_log(const struct ima_build *b, size_t from, size_t to)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;

	assert_int_equal(Tss2_TctiLdr_Initialize(swtpm.tcti, &tcti), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_Initialize(&esys, tcti, NULL), TSS2_RC_SUCCESS);
	for (size_t i = from; i < to; i++) {
		TPML_DIGEST_VALUES v = {.count = 2};
		v.digests[0].hashAlg = TPM2_ALG_SHA1;
		memcpy(v.digests[0].digest.sha1, b->sha1[i], 20);
		v.digests[1].hashAlg = TPM2_ALG_SHA256;
		memcpy(v.digests[1].digest.sha256, b->sha256[i], 32);
		assert_int_equal(Esys_PCR_Extend(esys, ESYS_TR_PCR0 + b->pcr[i], ESYS_TR_PASSWORD, ESYS_TR_NONE,
						 ESYS_TR_NONE, &v),
				 TSS2_RC_SUCCESS);
	}
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
}

static void reset_pcr10(void)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;

	/* PCR 10 is not resettable; restart the swtpm instead. */
	swtpm_stop(&swtpm);
	assert_int_equal(swtpm_start(&swtpm), 0);
	assert_int_equal(Tss2_TctiLdr_Initialize(swtpm.tcti, &tcti), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_Initialize(&esys, tcti, NULL), TSS2_RC_SUCCESS);
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
}

static void add_entry(struct ima_build *b, const char *path, bool violation)
{
	uint8_t d[32];

	ib_sha("sha256", path, strlen(path), d);
	ib_add_ng(b, 10, "ima-ng", "sha256", d, 32, path, violation, NULL, 0);
}

static void test_ima_log_round_trip(void **state)
{
	struct ima_build b = {0};
	struct tpm_ak ak;
	struct node_verify_result res;
	char dir[64];
	uint8_t nonce[20] = {9, 9, 9}, d[32];
	json_object *ev;

	reset_pcr10();
	make_dir(dir);
	ensure_ak(dir, TPM_AK_ECC, &ak);
	add_entry(&b, "boot_aggregate", false);
	add_entry(&b, "/usr/bin/true", false);
	add_entry(&b, "/var/log/racy", true);
	add_entry(&b, "/usr/bin/ls", false);
	add_entry(&b, "/usr/bin/cat", false);
	extend_log(&b, 0, b.n);

	/* Whole log. */
	ev = make_evidence(&ak, &ima_sel, nonce, sizeof(nonce), &b);
	assert_int_equal(verify(ev, ak.pkey, nonce, sizeof(nonce), NULL, &res), 0);
	assert_int_equal(res.ima_matched, b.n);
	assert_int_equal(res.ima_pcr_mask, 1ull << 10);
	assert_false(res.pcrs_from_log);
	node_verify_result_clear(&res);

	/* Two entries appended after the quote: accepted, and said so. */
	add_entry(&b, "/usr/bin/late", false);
	add_entry(&b, "/usr/bin/later", false);
	json_object_put(ev);
	ev = make_evidence(&ak, &ima_sel, nonce, sizeof(nonce), &b);
	assert_int_equal(verify(ev, ak.pkey, nonce, sizeof(nonce), NULL, &res), 0);
	assert_int_equal(res.ima_matched, 5);
	assert_int_equal(res.ima->n, 7);
	ib_sha("sha256", "/usr/bin/late", 13, d);
	{
		struct ima_digest_set s;
		assert_int_equal(ima_digest_set_build(res.ima, res.ima_matched, res.ima_pcr_mask, &s), 0);
		assert_false(ima_digest_set_contains(&s, d));
		ib_sha("sha256", "/usr/bin/ls", 11, d);
		assert_true(ima_digest_set_contains(&s, d));
		ima_digest_set_clear(&s);
	}
	node_verify_result_clear(&res);
	json_object_put(ev);

	/* Extend the late ones too: now they verify. */
	extend_log(&b, 5, 7);
	ev = make_evidence(&ak, &ima_sel, nonce, sizeof(nonce), &b);
	assert_int_equal(verify(ev, ak.pkey, nonce, sizeof(nonce), NULL, &res), 0);
	assert_int_equal(res.ima_matched, 7);
	node_verify_result_clear(&res);
	json_object_put(ev);
	tpm_ak_clear(&ak);
	ib_free(&b);
	remove_dir(dir);
	assert_no_handles();
}

/* Evidence whose IMA log was altered after the quote. */
static json_object *evidence_with_log(const struct tpm_ak *ak, const uint8_t *nonce, size_t nlen,
				      const uint8_t *log, size_t len)
{
	struct ima_build fake = {.buf = (uint8_t *)log, .len = len};

	return make_evidence(ak, &ima_sel, nonce, nlen, &fake);
}

static void test_ima_log_tampering(void **state)
{
	struct ima_build b = {0};
	struct tpm_ak ak;
	char dir[64];
	uint8_t nonce[20] = {4, 4}, *t;
	size_t r1, r2;
	json_object *ev;

	reset_pcr10();
	make_dir(dir);
	ensure_ak(dir, TPM_AK_ECC, &ak);
	add_entry(&b, "boot_aggregate", false);
	add_entry(&b, "/usr/bin/true", false);
	add_entry(&b, "/usr/bin/ls", false);
	extend_log(&b, 0, b.n);
	r1 = b.offsets[1];
	r2 = b.offsets[2];
	t = malloc(b.len);

	/* edited entry */
	memcpy(t, b.buf, b.len);
	t[r2 - 2] = 'X';
	ev = evidence_with_log(&ak, nonce, sizeof(nonce), t, b.len);
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "entry 1 (/usr/bin/truX)");
	json_object_put(ev);

	/* removed entry */
	memcpy(t, b.buf, r1);
	memcpy(t + r1, b.buf + r2, b.len - r2);
	ev = evidence_with_log(&ak, nonce, sizeof(nonce), t, b.len - (r2 - r1));
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "does not reproduce the quoted sha1 PCR 10");
	json_object_put(ev);

	/* reordered pair */
	memcpy(t, b.buf, r1);
	memcpy(t + r1, b.buf + r2, b.len - r2);
	memcpy(t + r1 + (b.len - r2), b.buf + r1, r2 - r1);
	ev = evidence_with_log(&ak, nonce, sizeof(nonce), t, b.len);
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "does not reproduce the quoted");
	json_object_put(ev);

	/* garbage */
	memset(t, 0xee, b.len);
	ev = evidence_with_log(&ak, nonce, sizeof(nonce), t, b.len);
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), NULL, "IMA log: entry 0");
	json_object_put(ev);
	free(t);
	tpm_ak_clear(&ak);
	ib_free(&b);
	remove_dir(dir);
}

static void test_ima_policy_and_pcr_race(void **state)
{
	struct ima_build b = {0};
	struct tpm_ak ak;
	struct ima_policy *policy = NULL;
	struct node_verify_result res;
	char dir[64], err[256], *text, h[3][65];
	uint8_t nonce[20] = {7}, d[32];
	const char *paths[3] = {"boot_aggregate", "/usr/bin/true", "/usr/bin/evil"};
	json_object *ev, *bank;

	reset_pcr10();
	make_dir(dir);
	ensure_ak(dir, TPM_AK_ECC, &ak);
	for (int i = 0; i < 3; i++) {
		add_entry(&b, paths[i], false);
		ib_sha("sha256", paths[i], strlen(paths[i]), d);
		hex_encode(d, 32, h[i]);
	}
	extend_log(&b, 0, b.n);
	assert_true(asprintf(&text, "{\"digests\": {\"%s\": [\"%s\"], \"%s\": [\"%s\"], \"%s\": [\"%s\"]}}", paths[0],
			     h[0], paths[1], h[1], paths[2], h[0]) > 0);
	assert_int_equal(ima_policy_parse(text, &policy, err, sizeof(err)), 0);
	ev = make_evidence(&ak, &ima_sel, nonce, sizeof(nonce), &b);
	expect_failure(ev, ak.pkey, nonce, sizeof(nonce), policy,
		       "entry 2 (/usr/bin/evil): digest not allowed for this path");

	/* The agent read PCR 10 after another extend than the quote saw:
	 * the verifier finds the quoted state in the log instead. */
	bank = json_object_object_get(json_object_object_get(ev, "pcrs"), "sha256");
	assert_int_equal(hex_decode(json_object_get_string(json_object_object_get(bank, "10")), d, 32), 32);
	json_object_object_add(bank, "10", json_object_new_string(
		"1111111111111111111111111111111111111111111111111111111111111111"));
	assert_int_equal(verify(ev, ak.pkey, nonce, sizeof(nonce), NULL, &res), 0);
	assert_true(res.pcrs_from_log);
	assert_int_equal(res.ima_matched, 3);
	assert_memory_equal(res.pcrs.v[KWID_DIGEST_SHA256][10], d, 32); /* the quoted value, from the log */
	node_verify_result_clear(&res);
	json_object_put(ev);
	ima_policy_free(policy);
	free(text);
	tpm_ak_clear(&ak);
	ib_free(&b);
	remove_dir(dir);
}

static void test_ek_certificate(void **state)
{
	struct kwid_tpm *t;
	char *pem = NULL, err[TPM_ERR_MAX], cmd[512], file[] = "/tmp/kwid-ekcert-XXXXXX";
	uint8_t *cert = NULL, blob[1500];
	size_t len = 0;
	int fd;

	t = open_tpm();
	assert_int_equal(tpm_ek_read(t, TPM_AK_ECC, &pem, &cert, &len, err, sizeof(err)), 0);
	assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
	assert_null(cert); /* an unprovisioned swtpm has none */
	free(pem);
	tpm_close(t);

	/* Provision one (1500 bytes: read in several NV chunks). */
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 31);
	fd = mkstemp(file);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, blob, sizeof(blob)), (ssize_t)sizeof(blob));
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "TPM2TOOLS_TCTI='%s' tpm2_nvdefine -Q -C o -s %zu -a 'ownerread|ownerwrite|authread|authwrite' "
		 "0x01c0000a && TPM2TOOLS_TCTI='%s' tpm2_nvwrite -Q -C o -i %s 0x01c0000a",
		 swtpm.tcti, sizeof(blob), swtpm.tcti, file);
	assert_int_equal(system(cmd), 0);
	unlink(file);
	t = open_tpm();
	assert_int_equal(tpm_ek_read(t, TPM_AK_ECC, &pem, &cert, &len, err, sizeof(err)), 0);
	assert_int_equal(len, sizeof(blob));
	assert_memory_equal(cert, blob, sizeof(blob));
	free(pem);
	free(cert);
	tpm_close(t);
	assert_no_handles();
}

/* The agent quotes for months: nothing may stay loaded. */
static void test_no_leaked_handles(void **state)
{
	struct tpm_ak ak;
	char dir[64];
	uint8_t nonce[8] = {1};

	make_dir(dir);
	ensure_ak(dir, TPM_AK_ECC, &ak);
	for (int i = 0; i < 20; i++) {
		json_object *ev;
		nonce[1] = (uint8_t)i;
		ev = make_evidence(&ak, &default_sel, nonce, sizeof(nonce), NULL);
		json_object_put(ev);
	}
	assert_no_handles();
	tpm_ak_clear(&ak);
	remove_dir(dir);
}

static void test_no_tpm(void **state)
{
	struct kwid_tpm *t = NULL;
	char err[TPM_ERR_MAX];

	assert_int_equal(tpm_open("device:/dev/kwid-no-such-tpm", &t, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "no TPM at device:/dev/kwid-no-such-tpm"));
	assert_int_equal(tpm_open("swtpm:host=127.0.0.1,port=1", &t, err, sizeof(err)), -ENODEV);
	assert_int_equal(tpm_open(NULL, &t, err, sizeof(err)), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_tpm),
		cmocka_unit_test(test_ak_created_saved_and_reused),
		cmocka_unit_test(test_corrupt_ak_is_reported),
		cmocka_unit_test(test_round_trip_ecc),
		cmocka_unit_test(test_round_trip_rsa),
		cmocka_unit_test(test_reported_pcrs_are_checked),
		cmocka_unit_test(test_ima_log_round_trip),
		cmocka_unit_test(test_ima_log_tampering),
		cmocka_unit_test(test_ima_policy_and_pcr_race),
		cmocka_unit_test(test_ek_certificate),
		cmocka_unit_test(test_no_leaked_handles),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
