/* fuzz_kubelet_pods.c - libFuzzer harness for the parser of the kubelet's
 * pod list (GET /pods, a v1 PodList) and the diff of two answers. Checks
 * what the attestor relies on: UIDs canonical, sorted and unique, labels
 * sorted and unique without ':' in a key, names well-formed. */
#include <assert.h>

#include "kwid/kubelet.h"

static void check(const struct kwid_kubelet_pods *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct kwid_kubelet_pod *pod = &p->v[i];
		char canon[KWID_POD_UID_MAX + 1];

		assert(pod_uid_parse(pod->uid, strlen(pod->uid), '-', canon) == 0 && streq(canon, pod->uid));
		assert(i == 0 || strcmp(p->v[i - 1].uid, pod->uid) < 0);
		assert(kubelet_pods_find(p, pod->uid) == pod);
		if (pod->service_account)
			assert(*pod->service_account && strlen(pod->service_account) <= KWID_KUBELET_NAME_MAX);
		assert(pod->nlabels <= KWID_KUBELET_LABELS_MAX);
		for (size_t j = 0; j < pod->nlabels; j++) {
			assert(*pod->labels[j].key && !strchr(pod->labels[j].key, ':'));
			assert(j == 0 || strcmp(pod->labels[j - 1].key, pod->labels[j].key) < 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwid_kubelet_pods pods, none = {0};
	struct kwid_selector_set d;
	const char *why = NULL;
	int r;

	if (size > (4u << 20))
		return 0;
	r = kubelet_pods_parse((const char *)data, size, 64, &pods, &why);
	if (r < 0) {
		assert(why && (r == -EINVAL || r == -E2BIG || r == -ENOMEM));
		assert(pods.n == 0 && !pods.v);
		return 0;
	}
	check(&pods);
	selset_init(&d);
	assert(kubelet_pods_diff(&pods, &pods, &d) == 0 && d.n == 0);
	assert(kubelet_pods_diff(&none, &pods, &d) == 0 && d.n == pods.n);
	selset_clear(&d);
	kubelet_pods_clear(&pods);
	return 0;
}
