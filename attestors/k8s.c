/* k8s.c - the Kubernetes attestor: pod UID (and the container) from the
 * kernel's cgroup membership, namespace, pod name, container name and
 * image from the CRI annotations the runtime wrote to disk when it created
 * the container, so a pod is attested the moment it starts. The service
 * account and the pod labels, which only the kubelet knows, come from the
 * kubelet client's cache (kwid/kubelet.h) for the pod UID the cgroup path
 * names; while the kubelet has not answered they are left out and the
 * group says so (see docs/ATTESTORS.md). */
#include "kwid/agent.h"
#include "kwid/attest.h"
#include "kwid/attestor_util.h"
#include "kwid/cgroup_path.h"
#include "kwid/kubelet.h"
#include "kwid/log.h"
#include "kwid/runtime_state.h"

struct k8s_state {
	char *node_name; /* attestors.k8s_node_name */
	struct kwid_kubelet *kubelet; /* NULL: attestors.kubelet.url is null */
	uint64_t pods, without_state, mismatches;
	/* what the kubelet's cache answered */
	uint64_t kubelet_found, kubelet_pending, kubelet_not_listed, kubelet_failed, kubelet_mismatches;
	uint64_t skipped_selectors; /* too long for a selector */
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

/* The kubelet's facts must be about the pod the runtime's record names. */
static bool kubelet_agrees(const struct kwid_kubelet_pod *pod, const struct kwid_container_state *s)
{
	return !s || ((!s->k8s_namespace || !pod->ns || streq(s->k8s_namespace, pod->ns)) &&
		      (!s->k8s_pod_name || !pod->name || streq(s->k8s_pod_name, pod->name)));
}

static int add_soft(struct k8s_state *st, int r)
{
	if (r == -ENAMETOOLONG || r == -EINVAL) {
		st->skipped_selectors++;
		return 0;
	}
	return r;
}

/* k8s:sa and k8s:pod-label from the kubelet, for the pod UID of the
 * kernel's cgroup path; nothing the pod says about itself is read. */
static int add_kubelet_facts(struct k8s_state *st, const struct kwid_attest_ctx *ctx,
			     const struct kwid_cgroup_path_info *info, const struct kwid_container_state *s,
			     struct kwid_selector_set *out)
{
	const struct kwid_kubelet_pod *pod;
	const char *why;
	int r;

	switch (kubelet_lookup(st->kubelet, info->pod_uid, ctx->proc->id.start_ns, &pod, &why)) {
	case KWID_KUBELET_PENDING:
		st->kubelet_pending++;
		attest_incomplete(ctx);
		attest_note_append(ctx, "no k8s:sa or k8s:pod-label yet: %s", why);
		return 0;
	case KWID_KUBELET_FAILED:
		st->kubelet_failed++;
		attest_incomplete(ctx);
		attest_note_append(ctx, "no k8s:sa or k8s:pod-label: kubelet: %s", why);
		return 0;
	case KWID_KUBELET_NOT_LISTED:
		st->kubelet_not_listed++;
		attest_note_append(ctx, "no k8s:sa or k8s:pod-label: %s", why);
		return 0;
	case KWID_KUBELET_FOUND:
		break;
	}
	if (!kubelet_agrees(pod, s)) {
		st->kubelet_mismatches++;
		attest_note(ctx, "the kubelet names pod %s %s/%s, its runtime state %s/%s", info->pod_uid,
			    pod->ns ? pod->ns : "?", pod->name ? pod->name : "?", s->k8s_namespace ? s->k8s_namespace : "?",
			    s->k8s_pod_name ? s->k8s_pod_name : "?");
		return -EBADMSG;
	}
	st->kubelet_found++;
	if (pod->service_account && (r = add_soft(st, sel_add(out, "k8s", "sa", pod->service_account))) < 0)
		return r;
	for (size_t i = 0; i < pod->nlabels; i++) {
		r = add_soft(st, sel_add_label(out, "k8s:pod-label", pod->labels[i].key, pod->labels[i].value));
		if (r < 0)
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
	if (info->container_id[0]) {
		r = runtime_cache_lookup(ctx->runtimes, info->runtime, info->container_id, &s, why, sizeof(why));
		if (r == -ENOENT) {
			st->without_state++;
			attest_note(ctx, "no CRI state for container %s: no ns, pod-name, container-name or "
					 "container-image", info->container_id);
			s = NULL;
		} else if (r < 0) {
			attest_note(ctx, "runtime state of container %s refused: %s", info->container_id, why);
			return r;
		} else if ((r = add_state(st, ctx, info, s, out)) < 0) {
			return r;
		}
	}
	return st->kubelet ? add_kubelet_facts(st, ctx, info, s, out) : 0;
}

/* The kubelet client, when attestors.kubelet.url is set. A configuration
 * error stops the agent: running without the selectors it was asked to
 * produce would be a silent downgrade. */
static int kubelet_start(struct kwid_agent *a, struct k8s_state *st)
{
	struct kwid_kubelet_config cfg;
	int r = kubelet_config_read(a->cfg, &cfg);

	if (r < 0 || !cfg.url)
		return r;
	return kubelet_new(a, &cfg, &st->kubelet);
}

static int k8s_init(struct kwid_agent *a, void **state)
{
	struct k8s_state *st = calloc(1, sizeof(*st));
	const char *node = NULL;
	int r;

	if (!st)
		return -ENOMEM;
	if (a && a->cfg && config_get(a->cfg, "attestors.k8s_node_name"))
		(void)config_get_string(a->cfg, "attestors.k8s_node_name", &node);
	if (node && *node && !(st->node_name = strdup(node))) {
		free(st);
		return -ENOMEM;
	}
	r = a && a->loop ? kubelet_start(a, st) : 0;
	if (r < 0) {
		free(st->node_name);
		free(st);
		return r;
	}
	*state = st;
	return 0;
}

static void k8s_fini(void *state)
{
	struct k8s_state *st = state;

	if (st) {
		kubelet_free(st->kubelet);
		free(st->node_name);
	}
	free(st);
}

static void k8s_status(void *state, json_object *out)
{
	struct k8s_state *st = state;

	json_object_object_add(out, "pods_seen", json_object_new_int64((int64_t)st->pods));
	json_object_object_add(out, "without_state", json_object_new_int64((int64_t)st->without_state));
	json_object *kubelet = json_object_new_object();

	json_object_object_add(out, "pod_uid_mismatches", json_object_new_int64((int64_t)st->mismatches));
	json_object_object_add(out, "kubelet_found", json_object_new_int64((int64_t)st->kubelet_found));
	json_object_object_add(out, "kubelet_pending", json_object_new_int64((int64_t)st->kubelet_pending));
	json_object_object_add(out, "kubelet_not_listed", json_object_new_int64((int64_t)st->kubelet_not_listed));
	json_object_object_add(out, "kubelet_failed", json_object_new_int64((int64_t)st->kubelet_failed));
	json_object_object_add(out, "kubelet_mismatches", json_object_new_int64((int64_t)st->kubelet_mismatches));
	json_object_object_add(out, "skipped_selectors", json_object_new_int64((int64_t)st->skipped_selectors));
	kubelet_status(st->kubelet, kubelet);
	json_object_object_add(out, "kubelet", kubelet);
}

const struct kwid_attestor kwid_attestor_k8s = {
	.name = "k8s",
	.init = k8s_init,
	.fini = k8s_fini,
	.attest = k8s_attest,
	.status = k8s_status,
};
