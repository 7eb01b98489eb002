/* lineage.c - the lineage attestor: who started this process. The parent
 * and every ancestor up to a bounded depth come from the process table
 * (kernel-recorded execs, each checked against its child's recorded parent
 * start time so a reused pid is never taken for the parent): their
 * executables' paths and, when measured, SHA-256. */
#include "kwid/agent.h" /* declares struct kwid_measurer, which measure.h uses */
#include "kwid/attest.h"
#include "kwid/attestor_util.h"
#include "kwid/measure.h"

static int add_one(struct kwid_selector_set *out, const struct kwid_proc *p, const char *path_key,
		   const char *sha_key)
{
	const struct kwid_measurement *m = p->image->measurement;
	int r = 0;

	if (p->image->path) {
		r = sel_add(out, "lineage", path_key, p->image->path);
		if (r == -ENAMETOOLONG)
			r = 0;
	}
	if (r == 0 && m && m->state == KWID_MEASURE_DONE)
		r = selset_addf(out, "lineage:%s:%s", sha_key, m->sha256_hex);
	return r;
}

static int lineage_attest(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out)
{
	int r;

	for (size_t i = 0; i < ctx->nancestors; i++) {
		const struct kwid_proc *p = ctx->ancestors[i];

		if (i == 0 && (r = add_one(out, p, "parent_path", "parent_sha256")) < 0)
			return r;
		if ((r = add_one(out, p, "ancestor_path", "ancestor_sha256")) < 0)
			return r;
	}
	return 0;
}

const struct kwid_attestor kwid_attestor_lineage = {
	.name = "lineage",
	.attest = lineage_attest,
};
