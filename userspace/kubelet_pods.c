/* kubelet_pods.c - the kubelet's pod list (a v1 PodList, as GET /pods
 * answers) turned into what the k8s attestor needs per pod UID: namespace,
 * name, service account, labels. Input is untrusted bytes: bounded, every
 * field type-checked, malformed pods or labels left out and counted,
 * fuzzed by tests/fuzz/fuzz_kubelet_pods.c. See kwid/kubelet.h.
 *
 * The list is walked with json_scan and only one pod at a time becomes a
 * json-c tree: a whole answer as json-c objects takes about 16 times its
 * size (over 100 MiB for a few MiB of pods, bench/bench_kubelet.sh). */
#include "kwid/json_scan.h"
#include "kwid/kubelet.h"

#include <json-c/json.h>

/* managedFields nest one level per field path segment: deeper than a
 * runtime's state files. */
#define PODS_JSON_DEPTH 64

static int fail(const char **why, int r, const char *msg)
{
	if (why)
		*why = msg;
	return r;
}

static void pod_clear(struct kwid_kubelet_pod *p)
{
	free(p->ns);
	free(p->name);
	free(p->service_account);
	for (size_t i = 0; i < p->nlabels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].value);
	}
	free(p->labels);
	memset(p, 0, sizeof(*p));
}

void kubelet_pods_clear(struct kwid_kubelet_pods *p)
{
	for (size_t i = 0; i < p->n; i++)
		pod_clear(&p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* The JSON string at v, or NULL when v is not a string or holds a NUL. */
static const char *json_str(json_object *v)
{
	const char *s;

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A DNS-1123 subdomain, what Kubernetes allows for namespaces, pod and
 * service account names: 1..253 of [a-z0-9.-], alphanumeric at both ends. */
static bool dns_subdomain_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > KWID_KUBELET_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && ((c != '-' && c != '.') || i == 0 || i == len - 1))
			return false;
	}
	return true;
}

/* A name field: absent or null leaves *out NULL; anything malformed too,
 * counted. */
static int take_name(json_object *v, char **out, struct kwid_kubelet_parse_stats *st)
{
	const char *s;

	*out = NULL;
	if (!v || json_object_is_type(v, json_type_null))
		return 0;
	s = json_str(v);
	if (!s || !dns_subdomain_ok(s)) {
		st->names_refused++;
		return 0;
	}
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kwid_kv *)a)->key, ((const struct kwid_kv *)b)->key);
}

/* A label whose key holds ':' would make "k8s:pod-label:<key>:<value>"
 * ambiguous (Kubernetes never allows one); other bytes are percent-encoded
 * by the attestor. */
static bool label_ok(const char *key, const char *value)
{
	return key && value && *key && !strchr(key, ':') && strlen(key) < KWID_SELECTOR_MAX &&
	       strlen(value) < KWID_SELECTOR_MAX;
}

static int take_labels(json_object *labels, struct kwid_kubelet_pod *p, struct kwid_kubelet_parse_stats *st)
{
	size_t cap;

	if (!labels || json_object_is_type(labels, json_type_null))
		return 0;
	if (!json_object_is_type(labels, json_type_object)) {
		st->labels_refused++;
		return 0;
	}
	cap = MIN((size_t)json_object_object_length(labels), (size_t)KWID_KUBELET_LABELS_MAX);
	if (cap == 0)
		return 0;
	p->labels = calloc_array(cap, sizeof(*p->labels));
	if (!p->labels)
		return -ENOMEM;
	json_object_object_foreach(labels, key, val)
	{
		const char *value = json_str(val);
		struct kwid_kv *kv;

		if (p->nlabels == cap || !label_ok(key, value)) {
			st->labels_refused++;
			continue;
		}
		kv = &p->labels[p->nlabels];
		kv->key = strdup(key);
		kv->value = strdup(value);
		if (!kv->key || !kv->value) {
			free(kv->key);
			free(kv->value);
			return -ENOMEM;
		}
		p->nlabels++;
	}
	/* json-c keeps one value per key: the keys are unique. */
	qsort(p->labels, p->nlabels, sizeof(*p->labels), label_cmp);
	return 0;
}

/* One item of the list. 1 when it is kept in *p, 0 when left out (no
 * usable UID), -errno on failure. */
static int parse_pod(json_object *item, struct kwid_kubelet_pod *p, struct kwid_kubelet_parse_stats *st)
{
	json_object *meta = member(item, "metadata");
	const char *uid = json_str(member(meta, "uid"));
	int r;

	if (!uid || pod_uid_parse(uid, strlen(uid), '-', p->uid) < 0) {
		st->pods_refused++;
		return 0;
	}
	if ((r = take_name(member(meta, "namespace"), &p->ns, st)) < 0 ||
	    (r = take_name(member(meta, "name"), &p->name, st)) < 0 ||
	    (r = take_name(member(member(item, "spec"), "serviceAccountName"), &p->service_account, st)) < 0)
		return r;
	r = take_labels(member(meta, "labels"), p, st);
	return r < 0 ? r : 1;
}

static int pod_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kwid_kubelet_pod *)a)->uid, ((const struct kwid_kubelet_pod *)b)->uid);
}

static bool pod_equal(const struct kwid_kubelet_pod *a, const struct kwid_kubelet_pod *b)
{
	if (!streq(a->uid, b->uid) || !streq_ptr(a->ns, b->ns) || !streq_ptr(a->name, b->name) ||
	    !streq_ptr(a->service_account, b->service_account) || a->nlabels != b->nlabels)
		return false;
	for (size_t i = 0; i < a->nlabels; i++)
		if (!streq(a->labels[i].key, b->labels[i].key) || !streq(a->labels[i].value, b->labels[i].value))
			return false;
	return true;
}

/* Sort by UID; a UID listed twice stays once when the copies agree and
 * goes when they do not: which one is the pod cannot be told. */
static void dedup(struct kwid_kubelet_pods *pods)
{
	size_t out = 0;

	if (pods->n == 0)
		return;
	qsort(pods->v, pods->n, sizeof(*pods->v), pod_cmp);
	for (size_t i = 0; i < pods->n;) {
		size_t j = i + 1;
		bool agree = true;

		while (j < pods->n && streq(pods->v[j].uid, pods->v[i].uid)) {
			agree &= pod_equal(&pods->v[i], &pods->v[j]);
			j++;
		}
		if (!agree)
			pods->stats.uids_conflicting++;
		for (size_t k = i + (agree ? 1 : 0); k < j; k++)
			pod_clear(&pods->v[k]);
		if (agree)
			pods->v[out++] = pods->v[i];
		i = j;
	}
	pods->n = out;
}

/* One element of items[], the text [item, item + len): parsed alone, so
 * that only one pod's tree is held at a time. */
static int parse_item(const char *item, size_t len, struct kwid_kubelet_pods *out, size_t *cap, size_t max_pods,
		      const char **why)
{
	json_object *obj = NULL;
	int r;

	if (out->n == max_pods)
		return fail(why, -E2BIG, "the pod list holds more pods than max_pods");
	if (*item != '{')
		return fail(why, -EINVAL, "an item of the pod list is not an object");
	if (out->n == *cap) {
		size_t ncap = MIN(MAX(*cap * 2, (size_t)16), max_pods);
		struct kwid_kubelet_pod *v = reallocarray_safe(out->v, ncap, sizeof(*v));
		if (!v)
			return fail(why, -ENOMEM, "out of memory");
		memset(v + *cap, 0, (ncap - *cap) * sizeof(*v));
		out->v = v;
		*cap = ncap;
	}
	r = json_parse_bounded(item, len, PODS_JSON_DEPTH - 2, &obj);
	if (r < 0)
		return fail(why, r == -ENOMEM ? -ENOMEM : -EINVAL, "an item of the pod list is not valid JSON");
	r = parse_pod(obj, &out->v[out->n], &out->stats);
	json_object_put(obj);
	if (r < 0) {
		pod_clear(&out->v[out->n]);
		return fail(why, r, "out of memory");
	}
	out->n += (size_t)r;
	return 0;
}

/* items: null (Go's empty list) or an array of pods. */
static int parse_items(struct json_scan *s, size_t max_pods, struct kwid_kubelet_pods *out, const char **why)
{
	size_t cap = 0;
	int more;

	json_scan_ws(s);
	if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0)
		return json_scan_value(s, 1) < 0 ? fail(why, -EINVAL, "not valid JSON") : 0;
	if (s->p == s->end || *s->p != '[')
		return fail(why, -EINVAL, "items of the pod list is not an array");
	more = json_scan_open(s, '[');
	while (more > 0) {
		const char *item = s->p;
		int r;

		if (json_scan_value(s, PODS_JSON_DEPTH - 2) < 0)
			return fail(why, -EINVAL, "not valid JSON");
		r = parse_item(item, (size_t)(s->p - item), out, &cap, max_pods, why);
		if (r < 0)
			return r;
		more = json_scan_next(s, ']');
	}
	return more < 0 ? fail(why, -EINVAL, "not valid JSON") : 0;
}

static bool key_is(const char *key, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(key, want, len) == 0;
}

/* The top level: an object whose "kind", when a string, says PodList and
 * whose "items" (once) lists the pods; other members are skipped. Keys
 * are compared as written: the kubelet never escapes them. */
static int parse_list(struct json_scan *s, size_t max_pods, struct kwid_kubelet_pods *out, const char **why)
{
	bool seen_items = false;
	int more;

	json_scan_ws(s);
	more = json_scan_open(s, '{');
	if (more < 0)
		return fail(why, -EINVAL, "not a PodList");
	while (more > 0) {
		const char *key, *value;
		size_t len;
		int r;

		if (json_scan_key(s, &key, &len) < 0)
			return fail(why, -EINVAL, "not valid JSON");
		json_scan_ws(s);
		value = s->p;
		if (key_is(key, len, "items")) {
			if (seen_items)
				return fail(why, -EINVAL, "items appears twice in the pod list");
			seen_items = true;
			r = parse_items(s, max_pods, out, why);
			if (r < 0)
				return r;
		} else if (json_scan_value(s, PODS_JSON_DEPTH - 1) < 0) {
			return fail(why, -EINVAL, "not valid JSON");
		} else if (key_is(key, len, "kind") && *value == '"' &&
			   !((size_t)(s->p - value) == 9 && memcmp(value, "\"PodList\"", 9) == 0)) {
			return fail(why, -EINVAL, "not a PodList");
		}
		more = json_scan_next(s, '}');
	}
	json_scan_ws(s);
	if (more < 0 || s->p != s->end)
		return fail(why, -EINVAL, "not valid JSON");
	return 0;
}

int kubelet_pods_parse(const char *json, size_t len, size_t max_pods, struct kwid_kubelet_pods *out,
		       const char **why)
{
	struct json_scan s = {json, json + len};
	int r;

	memset(out, 0, sizeof(*out));
	r = parse_list(&s, max_pods, out, why);
	if (r < 0) {
		kubelet_pods_clear(out);
		return r;
	}
	dedup(out);
	return 0;
}

const struct kwid_kubelet_pod *kubelet_pods_find(const struct kwid_kubelet_pods *p, const char *uid)
{
	struct kwid_kubelet_pod key;

	if (!p || !p->n || strscpy(key.uid, uid, sizeof(key.uid)) < 0)
		return NULL;
	return bsearch(&key, p->v, p->n, sizeof(*p->v), pod_cmp);
}

int kubelet_pods_diff(const struct kwid_kubelet_pods *a, const struct kwid_kubelet_pods *b,
		      struct kwid_selector_set *out)
{
	size_t na = a ? a->n : 0, nb = b ? b->n : 0, i = 0, j = 0;

	while (i < na || j < nb) {
		const struct kwid_kubelet_pod *pa = i < na ? &a->v[i] : NULL, *pb = j < nb ? &b->v[j] : NULL;
		int c = !pa ? 1 : !pb ? -1 : strcmp(pa->uid, pb->uid);
		const char *changed = NULL;
		int r;

		if (c < 0) {
			changed = pa->uid;
			i++;
		} else if (c > 0) {
			changed = pb->uid;
			j++;
		} else {
			if (!pod_equal(pa, pb))
				changed = pa->uid;
			i++;
			j++;
		}
		if (changed && (r = selset_addf(out, "k8s:pod-uid:%s", changed)) < 0)
			return r;
	}
	selset_sort(out);
	return 0;
}
