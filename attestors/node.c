/* attestors/node.c - the "node" attestor: what the host is and what ran
 * on it, joined to the workload. Every workload on this host gets the
 * tpm:pcr:<bank>:<index>:<hex> selectors of the agent's last verified
 * quote; a workload whose exec-time SHA-256 appears in the verified part
 * of the IMA log also gets ima:measured and ima:sha256:<hex>. Nothing is
 * added without verified evidence. */
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/measure.h"
#include "kwid/node.h"

int node_join(const struct kwid_selector_set *node_sel, const struct ima_digest_set *ima,
	      const struct kwid_measurement *m, struct kwid_selector_set *out, bool *miss)
{
	int r;

	*miss = false;
	r = selset_merge(out, node_sel);
	if (r < 0 || !ima || !m || m->state != KWID_MEASURE_DONE)
		return r;
	if (!ima_digest_set_contains(ima, m->sha256)) {
		*miss = true;
		return 0;
	}
	r = selset_add(out, "ima", "measured");
	if (r < 0)
		return r;
	return selset_addf(out, "ima:sha256:%s", m->sha256_hex);
}

static int node_attestor_init(struct kwid_agent *a, void **state)
{
	*state = a;
	return 0;
}

static int node_attest(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out)
{
	struct kwid_agent *a = state;
	const struct kwid_measurement *m = ctx->proc->image ? ctx->proc->image->measurement : NULL;
	bool miss;
	int r;

	if (!a->node)
		return 0;
	r = node_join(node_selectors(a->node), node_ima_digests(a->node), m, out, &miss);
	if (r >= 0 && miss)
		node_request_refresh(a->node);
	return r;
}

const struct kwid_attestor kwid_attestor_node = {
	.name = "node",
	.init = node_attestor_init,
	.attest = node_attest,
};
