/* k8s.c - the Kubernetes attestor: pod UID (and the container) from the
 * kernel's cgroup membership, namespace, pod name, container name and
 * image from the CRI annotations the runtime wrote to disk when it created
 * the container, so a pod is attested the moment it starts. Facts only the
 * kubelet knows (service account, pod labels) are not produced: see
 * docs/ATTESTORS.md. */
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/attestor_util.h"
#include "kwid/cgroup_path.h"
#include "kwid/log.h"
#include "kwid/runtime_state.h"

struct k8s_state {
	char *node_name; /* attestors.k8s_node_name */
	uint64_t pods, without_state, mismatches;
};

static int add_state(struct k8s_state *st, const struct kwid_attest_ctx *ctx, const struct kwid_cgroup_path_info *info,
		     const struct kwid_container_state *s, struct kwid_selector_set *out)
{
	static const struct {
		const char *key;
		size_t off;
	} facts[] = {
		{"ns", offsetof(struct kwid_container_state, k8s_namespace)},
		{"pod-name", offsetof(struct kwid_container_state, k8s_pod_name)},
		{"container-name", offsetof(struct kwid_container_state, k8s_container_name)},
		{"container-image", offsetof(struct kwid_container_state, k8s_image)},
	};

	/* The runtime's record must be about the pod the kernel placed the
	 * process in. */
	if (s->k8s_pod_uid && !streq(s->k8s_pod_uid, info->pod_uid)) {
		st->mismatches++;
		attest_note(ctx, "runtime state of container %s names pod %s, the cgroup pod %s", info->container_id,
			    s->k8s_pod_uid, info->pod_uid);
		return -EBADMSG;
	}
	for (size_t i = 0; i < ARRAY_SIZE(facts); i++) {
		const char *v = *(char *const *)((const char *)s + facts[i].off);
		int r;

		if (!v)
			continue;
		r = sel_add(out, "k8s", facts[i].key, v);
		if (r < 0 && r != -ENAMETOOLONG)
			return r;
	}
	return 0;
}

static int k8s_attest(void *state, const struct kwid_attest_ctx *ctx, struct kwid_selector_set *out)
{
	struct k8s_state *st = state;
	const struct kwid_cgroup_path_info *info;
	const struct kwid_container_state *s = NULL;
	char why[512];
	int r;

	r = attest_cgroup_facts(ctx, true, &info);
	if (r < 0)
		return r;
	if (!info->pod_uid[0] || info->conmon)
		return 0;
	st->pods++;
	if ((r = selset_addf(out, "k8s:pod-uid:%s", info->pod_uid)) < 0)
		return r;
	if (st->node_name && (r = sel_add(out, "k8s", "node-name", st->node_name)) < 0)
		return r;
	if (!info->container_id[0])
		return 0;
	r = runtime_cache_lookup(ctx->runtimes, info->runtime, info->container_id, &s, why, sizeof(why));
	if (r == -ENOENT) {
		st->without_state++;
		attest_note(ctx, "no CRI state for container %s: only pod-uid", info->container_id);
		return 0;
	}
	if (r < 0) {
		attest_note(ctx, "runtime state of container %s refused: %s", info->container_id, why);
		return r;
	}
	return add_state(st, ctx, info, s, out);
}

static int k8s_init(struct kwid_agent *a, void **state)
{
	struct k8s_state *st = calloc(1, sizeof(*st));
	const char *node = NULL;

	if (!st)
		return -ENOMEM;
	if (a && a->cfg && config_get(a->cfg, "attestors.k8s_node_name"))
		(void)config_get_string(a->cfg, "attestors.k8s_node_name", &node);
	if (node && *node && !(st->node_name = strdup(node))) {
		free(st);
		return -ENOMEM;
	}
	*state = st;
	return 0;
}

static void k8s_fini(void *state)
{
	struct k8s_state *st = state;

	if (st)
		free(st->node_name);
	free(st);
}

static void k8s_status(void *state, json_object *out)
{
	struct k8s_state *st = state;

	json_object_object_add(out, "pods_seen", json_object_new_int64((int64_t)st->pods));
	json_object_object_add(out, "without_state", json_object_new_int64((int64_t)st->without_state));
	json_object_object_add(out, "pod_uid_mismatches", json_object_new_int64((int64_t)st->mismatches));
}

const struct kwid_attestor kwid_attestor_k8s = {
	.name = "k8s",
	.init = k8s_init,
	.fini = k8s_fini,
	.attest = k8s_attest,
	.status = k8s_status,
};
