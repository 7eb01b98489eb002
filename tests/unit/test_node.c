/* test_node.c - the node part and the node attestor: the join of a
 * workload's exec-time digest with the verified IMA log (directly), and
 * the part itself on a real event loop against a swtpm whose PCR 10
 * holds the test's log: selectors appear, the attestor joins, a tampered
 * log withdraws everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "ima_build.h"
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/measure.h"
#include "kwid/node.h"
#include "swtpm_helper.h"

extern const struct kwid_attestor kwid_attestor_node;

static void measurement(struct kwid_measurement *m, const char *content, enum kwid_measure_state st)
{
	memset(m, 0, sizeof(*m));
	m->state = st;
	ib_sha("sha256", content, strlen(content), m->sha256);
	hex_encode(m->sha256, 32, m->sha256_hex);
}

static void test_join(void **state)
{
	struct ima_build b = {0};
	struct kwid_selector_set node = {0}, out = {0};
	struct ima_digest_set set;
	struct kwid_measurement m;
	struct ima_log *log = NULL;
	char err[IMA_ERR_MAX], want[128];
	uint8_t d[32];
	bool miss;

	ib_sha("sha256", "payload", 7, d);
	ib_add_ng(&b, 10, "ima-ng", "sha256", d, 32, "/usr/bin/payload", false, NULL, 0);
	assert_int_equal(ima_log_parse(b.buf, b.len, KWID_DIGEST_SHA1, 0, &log, err, sizeof(err)), 0);
	assert_int_equal(ima_digest_set_build(log, log->n, 1ull << 10, &set), 0);
	assert_int_equal(selset_add_str(&node, "tpm:pcr:sha256:7:00ff"), 0);

	measurement(&m, "payload", KWID_MEASURE_DONE);
	assert_int_equal(node_join(&node, &set, &m, &out, &miss), 0);
	selset_sort(&out);
	assert_false(miss);
	assert_true(selset_contains(&out, "tpm:pcr:sha256:7:00ff"));
	assert_true(selset_contains(&out, "ima:measured"));
	snprintf(want, sizeof(want), "ima:sha256:%s", m.sha256_hex);
	assert_true(selset_contains(&out, want));
	selset_clear(&out);

	/* Another binary: node selectors only, and a refresh is asked for. */
	measurement(&m, "other", KWID_MEASURE_DONE);
	assert_int_equal(node_join(&node, &set, &m, &out, &miss), 0);
	selset_sort(&out);
	assert_true(miss);
	assert_int_equal(out.n, 1);
	selset_clear(&out);

	/* Not measured yet, or measurement failed: no ima:* and no refresh. */
	measurement(&m, "payload", KWID_MEASURE_PENDING);
	assert_int_equal(node_join(&node, &set, &m, &out, &miss), 0);
	assert_false(miss);
	assert_int_equal(out.n, 1);
	selset_clear(&out);
	measurement(&m, "payload", KWID_MEASURE_FAILED);
	assert_int_equal(node_join(&node, &set, &m, &out, &miss), 0);
	assert_int_equal(out.n, 1);
	selset_clear(&out);

	/* No verified log: nothing about IMA at all. */
	measurement(&m, "payload", KWID_MEASURE_DONE);
	assert_int_equal(node_join(&node, NULL, &m, &out, &miss), 0);
	assert_false(miss);
	assert_int_equal(out.n, 1);
	selset_clear(&out);
	selset_clear(&node);
	ima_digest_set_clear(&set);
	ima_log_free(log);
	ib_free(&b);
}

/* ---- the part on a loop ---- */

struct fixture {
	struct swtpm tpm;
	char dir[64], logpath[128];
	struct kwid_agent agent;
	struct ima_build log;
	unsigned notified;
};

static void on_change(void *userdata, enum kwid_change kind, const void *arg)
{
	((struct fixture *)userdata)->notified++;
}

static void extend(struct fixture *f, size_t from, size_t to)
{
	TSS2_TCTI_CONTEXT *tcti = NULL;
	ESYS_CONTEXT *esys = NULL;

	assert_int_equal(Tss2_TctiLdr_Initialize(f->tpm.tcti, &tcti), TSS2_RC_SUCCESS);
	assert_int_equal(Esys_Initialize(&esys, tcti, NULL), TSS2_RC_SUCCESS);
	for (size_t i = from; i < to; i++) {
		TPML_DIGEST_VALUES v = {.count = 1};
		v.digests[0].hashAlg = TPM2_ALG_SHA256;
		memcpy(v.digests[0].digest.sha256, f->log.sha256[i], 32);
		assert_int_equal(Esys_PCR_Extend(esys, ESYS_TR_PCR0 + 10, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &v),
				 TSS2_RC_SUCCESS);
	}
	Esys_Finalize(&esys);
	Tss2_TctiLdr_Finalize(&tcti);
}

static void write_log(struct fixture *f)
{
	FILE *fp = fopen(f->logpath, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(f->log.buf, 1, f->log.len, fp), f->log.len);
	fclose(fp);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	json_object *ov = json_object_new_object(), *node = json_object_new_object();
	char *err = NULL;
	uint8_t d[32];

	setenv("TSS2_LOG", "all+none", 0);
	if (!f || swtpm_start(&f->tpm) < 0)
		return -1;
	strcpy(f->dir, "/tmp/kwid-node-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->logpath, sizeof(f->logpath), "%s/binary_runtime_measurements_sha256", f->dir);
	f->log.sha256_log = true;
	ib_sha("sha256", "boot", 4, d);
	ib_add_ng(&f->log, 10, "ima-ng", "sha256", d, 32, "boot_aggregate", false, NULL, 0);
	ib_sha("sha256", "payload", 7, d);
	ib_add_ng(&f->log, 10, "ima-ng", "sha256", d, 32, "/usr/bin/payload", false, NULL, 0);
	write_log(f);
	extend(f, 0, f->log.n);

	json_object_object_add(node, "tcti", json_object_new_string(f->tpm.tcti));
	json_object_object_add(node, "ima_log", json_object_new_string(f->logpath));
	json_object_object_add(node, "quote_interval_s", json_object_new_int(1));
	json_object_object_add(ov, "node", node);
	json_object_object_add(ov, "state_dir", json_object_new_string(f->dir));
	if (config_load(NULL, ov, &f->agent.cfg, &err) < 0 || loop_new(&f->agent.loop) < 0)
		return -1;
	json_object_put(ov);
	agent_subscribe(&f->agent, KWID_CHANGE_NODE_EVIDENCE, on_change, f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	node_free(f->agent.node);
	agent_free_subscriptions(&f->agent);
	loop_free(f->agent.loop);
	config_free(f->agent.cfg);
	swtpm_stop(&f->tpm);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	ib_free(&f->log);
	free(f);
	return 0;
}

/* Run the loop until the node selectors are (non-)empty, up to 10 s. */
static bool run_until(struct fixture *f, bool have)
{
	for (int i = 0; i < 200; i++) {
		if ((node_selectors(f->agent.node)->n > 0) == have)
			return true;
		loop_run_once(f->agent.loop, 50);
	}
	return false;
}

static void attest(struct fixture *f, const char *content, struct kwid_selector_set *out)
{
	struct kwid_measurement m;
	struct kwid_image img = {.measurement = &m};
	struct kwid_proc p = {.image = &img};
	struct kwid_attest_ctx ctx = {.agent = &f->agent, .proc = &p};
	void *st = NULL;

	measurement(&m, content, KWID_MEASURE_DONE);
	assert_int_equal(kwid_attestor_node.init(&f->agent, &st), 0);
	assert_int_equal(kwid_attestor_node.attest(st, &ctx, out), 0);
	selset_sort(out);
}

static void test_part_against_swtpm(void **state)
{
	struct fixture *f = *state;
	struct kwid_selector_set sel = {0};
	const struct kwid_selector_set *ns;
	bool pcr7 = false, pcr10 = false;

	assert_int_equal(node_new(&f->agent, &f->agent.node), 0);
	assert_true(run_until(f, true));
	assert_true(f->notified >= 1);
	ns = node_selectors(f->agent.node);
	for (size_t i = 0; i < ns->n; i++) {
		pcr7 |= startswith(ns->v[i], "tpm:pcr:sha256:7:");
		pcr10 |= startswith(ns->v[i], "tpm:pcr:sha256:10:");
	}
	assert_true(pcr7);
	assert_false(pcr10); /* PCR 10 is what the IMA log extends: ima:* instead */
	assert_int_equal(ns->n, 8);

	attest(f, "payload", &sel);
	assert_true(selset_contains(&sel, "ima:measured"));
	assert_true(selset_contains(&sel, "tpm:pcr:sha256:7:0000000000000000000000000000000000000000000000000000000000000000"));
	selset_clear(&sel);
	attest(f, "not in the log", &sel);
	assert_false(selset_contains(&sel, "ima:measured"));
	assert_int_equal(sel.n, 8);
	selset_clear(&sel);

	/* Someone edits the log on disk: the next quote no longer verifies and
	 * every node selector is withdrawn. */
	f->log.buf[f->log.len - 3] ^= 1;
	write_log(f);
	assert_true(run_until(f, false));
	assert_null(node_ima_digests(f->agent.node));
	attest(f, "payload", &sel);
	assert_int_equal(sel.n, 0);
	selset_clear(&sel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join),
		cmocka_unit_test_setup_teardown(test_part_against_swtpm, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
