/* cgroup.c - the cgroup attestor: the process's cgroup path as the kernel
 * reports it to the agent (the unified hierarchy's, else name=systemd's,
 * else a v1 controller's), as cgroup:path:<path>. */
#include "kwid/attest.h"
#include "kwid/attestor_util.h"
#include "kwid/cgroup_path.h"

static int cgroup_attest(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out)
{
	const struct kwid_cgroup_path_info *info;
	int r = attest_cgroup_facts(ctx, false, &info);

	if (r < 0)
		return r;
	r = sel_add(out, "cgroup", "path", ctx->cgroup->path);
	if (r == -ENAMETOOLONG) {
		attest_note(ctx, "cgroup path too long for a selector");
		return 0;
	}
	return r;
}

const struct kwid_attestor kwid_attestor_cgroup = {
	.name = "cgroup",
	.attest = cgroup_attest,
};
