/* bench_kubelet.c - cost of the kubelet client's work per fetch, done on
 * its worker thread: parsing a realistic PodList (managedFields, spec,
 * status; about 3 KB per pod) of 110 pods (the kubelet's default max-pods)
 * and of 4096 (attestors.kubelet.max_pods), against json-c parsing the same
 * bytes alone in the same run (the floor for any JSON-based reader); and
 * the look-up the attestor does per attestation. Memory: the peak resident
 * set one parse adds (VmHWM, reset through /proc/self/clear_refs).
 *
 * usage: bench_kubelet [ROUNDS]   (default 20)
 * Output: one line per case, then the ratios. */
#include "kwid/kubelet.h"
#include "kwid/log.h"

#include <fcntl.h>

static void die(const char *what)
{
	fprintf(stderr, "bench_kubelet: %s\n", what);
	exit(1);
}

static void uid_of(size_t i, char out[KWID_POD_UID_MAX + 1])
{
	snprintf(out, KWID_POD_UID_MAX + 1, "%08x-1d2f-4c3b-9a8e-%012x", (unsigned)(i * 2654435761u), (unsigned)i);
}

/* One pod, shaped like the kubelet's answer. */
static int append_pod(char *buf, size_t cap, size_t off, size_t i)
{
	char uid[KWID_POD_UID_MAX + 1];

	uid_of(i, uid);
	return snprintf(buf + off, cap - off,
		"%s{\"metadata\":{\"name\":\"web-%zu\",\"generateName\":\"web-\",\"namespace\":\"shop\",\"uid\":\"%s\","
		"\"resourceVersion\":\"48213\",\"creationTimestamp\":\"2024-05-01T10:00:00Z\","
		"\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c\",\"app.kubernetes.io/part-of\":\"shop\","
		"\"app.kubernetes.io/version\":\"1.%zu\"},"
		"\"annotations\":{\"kubernetes.io/config.seen\":\"2024-05-01T10:00:01.5Z\",\"kubernetes.io/config.source\":\"api\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9c\","
		"\"uid\":\"5b1e0c7a-1d2f-4c3b-9a8e-7f6d5c4b3a21\",\"controller\":true,\"blockOwnerDeletion\":true}],"
		"\"managedFields\":[{\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
		"\"time\":\"2024-05-01T10:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:generateName\":{},"
		"\"f:labels\":{\".\":{},\"f:app\":{},\"f:pod-template-hash\":{}},\"f:ownerReferences\":{\".\":{},"
		"\"k:{\\\"uid\\\":\\\"5b1e0c7a-1d2f-4c3b-9a8e-7f6d5c4b3a21\\\"}\":{}}},\"f:spec\":{\"f:containers\":{"
		"\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:env\":{\".\":{},\"k:{\\\"name\\\":\\\"MODE\\\"}\":{\".\":{},"
		"\"f:name\":{},\"f:value\":{}}},\"f:image\":{},\"f:imagePullPolicy\":{},\"f:name\":{},\"f:resources\":{},"
		"\"f:terminationMessagePath\":{}}},\"f:dnsPolicy\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{}}}},"
		"{\"manager\":\"kubelet\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":\"2024-05-01T10:00:03Z\","
		"\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\"f:conditions\":{\"k:{\\\"type\\\":\\\"Ready\\\"}\":"
		"{\".\":{},\"f:lastProbeTime\":{},\"f:lastTransitionTime\":{},\"f:status\":{},\"f:type\":{}}},"
		"\"f:containerStatuses\":{},\"f:hostIP\":{},\"f:phase\":{},\"f:podIP\":{},\"f:startTime\":{}}},"
		"\"subresource\":\"status\"}]},"
		"\"spec\":{\"volumes\":[{\"name\":\"kube-api-access-x2b9d\",\"projected\":{\"sources\":[{\"serviceAccountToken\":"
		"{\"expirationSeconds\":3607,\"path\":\"token\"}},{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":"
		"[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}}],\"defaultMode\":420}}],\"containers\":[{\"name\":\"app\","
		"\"image\":\"registry.example/shop/app:1.0\",\"env\":[{\"name\":\"MODE\",\"value\":\"prod\"}],\"resources\":{},"
		"\"volumeMounts\":[{\"name\":\"kube-api-access-x2b9d\",\"readOnly\":true,\"mountPath\":"
		"\"/var/run/secrets/kubernetes.io/serviceaccount\"}],\"terminationMessagePath\":\"/dev/termination-log\","
		"\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":\"Always\","
		"\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\",\"serviceAccountName\":\"web-sa\","
		"\"serviceAccount\":\"web-sa\",\"nodeName\":\"node-a\",\"securityContext\":{},\"schedulerName\":"
		"\"default-scheduler\",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
		"\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],\"priority\":0,\"enableServiceLinks\":true},"
		"\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,"
		"\"lastTransitionTime\":\"2024-05-01T10:00:03Z\"}],\"hostIP\":\"10.0.0.7\",\"podIP\":\"10.244.1.23\","
		"\"podIPs\":[{\"ip\":\"10.244.1.23\"}],\"startTime\":\"2024-05-01T10:00:01Z\",\"containerStatuses\":[{\"name\":"
		"\"app\",\"state\":{\"running\":{\"startedAt\":\"2024-05-01T10:00:02Z\"}},\"lastState\":{},\"ready\":true,"
		"\"restartCount\":0,\"image\":\"registry.example/shop/app:1.0\",\"imageID\":\"registry.example/shop/app@sha256:"
		"abababababababababababababababababababababababababababababababab\",\"containerID\":\"containerd://"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"started\":true}],\"qosClass\":\"BestEffort\"}}",
		i ? "," : "", i, uid, i % 7);
}

static char *podlist(size_t n, size_t *len)
{
	size_t cap = 64 + n * 6144, off;
	char *buf = malloc(cap);

	if (!buf)
		die("out of memory");
	off = (size_t)snprintf(buf, cap, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[");
	for (size_t i = 0; i < n; i++)
		off += (size_t)append_pod(buf, cap, off, i);
	off += (size_t)snprintf(buf + off, cap - off, "]}");
	*len = off;
	return buf;
}

/* A field of /proc/self/status in KiB: "VmRSS:", or "VmHWM:" (the peak
 * since the last reset_peak()). */
static long status_kib(const char *field)
{
	_cleanup_free_ char *st = NULL;
	const char *p;

	if (read_file("/proc/self/status", 65536, &st, NULL) < 0 || !(p = strstr(st, field)))
		return -1;
	return atol(p + strlen(field));
}

static void reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "5", 1);
		close(fd);
	}
}

/* --peak ours|jsonc N: in this fresh process, the memory (MiB) one parse
 * of N pods adds to what is resident before (the document included). */
static int peak_main(const char *what, size_t n)
{
	size_t len;
	_cleanup_free_ char *doc = podlist(n, &len);
	long before = status_kib("VmRSS:");
	const char *why = NULL;

	reset_peak();
	if (streq(what, "ours")) {
		struct kwid_kubelet_pods pods;
		if (kubelet_pods_parse(doc, len, 1 << 20, &pods, &why) < 0)
			die("parse failed");
		kubelet_pods_clear(&pods);
	} else {
		json_object *o = NULL;
		if (json_parse_bounded(doc, len, 64, &o) < 0)
			die("json-c refused the document");
		json_object_put(o);
	}
	printf("%.2f\n", (double)(status_kib("VmHWM:") - before) / 1024.0);
	return 0;
}

static double parse_peak_mib(size_t n, bool ours)
{
	char cmd[128], out[64] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "/proc/%d/exe --peak %s %zu", (int)getpid(), ours ? "ours" : "jsonc", n);
	f = popen(cmd, "r");
	if (!f || !fgets(out, sizeof(out), f))
		die("the measuring process failed");
	pclose(f);
	return atof(out);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static void bench_size(size_t n, int rounds)
{
	size_t len;
	_cleanup_free_ char *doc = podlist(n, &len);
	uint64_t base[64], ours[64];
	const char *why = NULL;
	double mem_ours, mem_base;

	if (rounds > 64)
		rounds = 64;
	mem_ours = parse_peak_mib(n, true);
	mem_base = parse_peak_mib(n, false);
	for (int i = 0; i < rounds; i++) {
		/* interleaved, so that machine noise hits both alike */
		json_object *o = NULL;
		struct kwid_kubelet_pods pods;
		uint64_t t0 = now_mono_ns();

		if (json_parse_bounded(doc, len, 64, &o) < 0)
			die("json-c refused the document");
		json_object_put(o);
		base[i] = now_mono_ns() - t0;
		t0 = now_mono_ns();
		if (kubelet_pods_parse(doc, len, 1 << 20, &pods, &why) < 0 || pods.n != n)
			die(why ? why : "parse failed");
		ours[i] = now_mono_ns() - t0;
		kubelet_pods_clear(&pods);
	}
	uint64_t b = median(base, (size_t)rounds), o = median(ours, (size_t)rounds);
	printf("podlist %5zu pods %8zu bytes: json-c tree %8.2f ms %6.1f MiB; kubelet_pods_parse %8.2f ms %6.1f MiB; "
	       "ratio time %.2f memory %.3f\n",
	       n, len, b / 1e6, mem_base, o / 1e6, mem_ours, (double)o / (double)b, mem_ours / mem_base);
}

static void bench_lookup(size_t n)
{
	size_t len, lookups = 1000000;
	_cleanup_free_ char *doc = podlist(n, &len);
	struct kwid_kubelet_pods pods;
	const char *why = NULL;
	char uid[KWID_POD_UID_MAX + 1];
	uint64_t t0, found = 0;

	if (kubelet_pods_parse(doc, len, 1 << 20, &pods, &why) < 0)
		die(why);
	t0 = now_mono_ns();
	for (size_t i = 0; i < lookups; i++) {
		uid_of(i % (n + n / 10), uid); /* 10% misses */
		found += kubelet_pods_find(&pods, uid) != NULL;
	}
	printf("lookup in %zu pods (incl. formatting the uid): %.0f ns each, %llu found\n", n,
	       (double)(now_mono_ns() - t0) / (double)lookups, (unsigned long long)found);
	kubelet_pods_clear(&pods);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20;

	log_set_level(LOG_LVL_ERROR);
	if (argc == 4 && streq(argv[1], "--peak"))
		return peak_main(argv[2], (size_t)atol(argv[3]));
	if (rounds < 1)
		rounds = 1;
	bench_size(110, rounds);
	bench_size(4096, rounds > 10 ? 10 : rounds);
	bench_lookup(110);
	bench_lookup(4096);
	return 0;
}
