/* test_kubelet.c - the kubelet client's parsers: the PodList the kubelet
 * answers (realistic documents, missing fields, malformed and oversize
 * input, hostile labels and names, duplicate UIDs), the change diff, the
 * HTTP/1.1 response framing, the URL and the configuration checks. The
 * TLS fetch itself runs against a real TLS server in
 * tests/integration/25_kubelet.bats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/config.h"
#include "kwid/http_response.h"
#include "kwid/json_scan.h"
#include "kwid/kubelet.h"

#define UID_A "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define UID_B "f0e1d2c3-b4a5-4968-8776-655443322110"
#define UID_STATIC "6d5b9f3c2a1e4d7b8c9a0f1e2d3c4b5a" /* a static pod: config hash */

/* One pod as the kubelet writes it, with the fields the parser skips. */
#define POD(uid, ns, name, extra_meta, extra_spec)                                                            \
	"{\"metadata\":{\"name\":\"" name "\",\"generateName\":\"web-\",\"namespace\":\"" ns "\",\"uid\":\"" uid \
	"\",\"resourceVersion\":\"48213\",\"creationTimestamp\":\"2024-05-01T10:00:00Z\"," extra_meta             \
	"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web\",\"uid\":"    \
	"\"5b1e0c7a-1d2f-4c3b-9a8e-7f6d5c4b3a21\",\"controller\":true}],\"managedFields\":[{\"manager\":"        \
	"\"kube-controller-manager\",\"operation\":\"Update\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"         \
	"{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"app\\\"}\":{\".\":{},\"f:image\":{}}}}}}]},"     \
	"\"spec\":{\"volumes\":[{\"name\":\"kube-api-access-x2b9d\",\"projected\":{\"sources\":[{"               \
	"\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}}]}}],\"containers\":[{"        \
	"\"name\":\"app\",\"image\":\"registry.example/shop/app:1.0\"}],\"restartPolicy\":\"Always\","          \
	"\"nodeName\":\"node-a\"" extra_spec "},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.23\","   \
	"\"containerStatuses\":[{\"name\":\"app\",\"ready\":true,\"restartCount\":0,\"containerID\":"            \
	"\"containerd://0123\"}]}}"

#define LIST(...) "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[" __VA_ARGS__ "]}"

static int parse(const char *json, size_t max_pods, struct kwid_kubelet_pods *out)
{
	const char *why = NULL;
	int r = kubelet_pods_parse(json, strlen(json), max_pods, out, &why);

	if (r < 0)
		assert_non_null(why);
	return r;
}

static const char *label(const struct kwid_kubelet_pod *p, const char *key)
{
	for (size_t i = 0; i < p->nlabels; i++)
		if (streq(p->labels[i].key, key))
			return p->labels[i].value;
	return NULL;
}

static void test_pods_realistic(void **state)
{
	const char *json = LIST(POD(UID_B, "shop", "web-7d4b9c-xk2lp",
				    "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c\",\"app.kubernetes.io/part-of\":\"shop\"},",
				    ",\"serviceAccountName\":\"web-sa\",\"serviceAccount\":\"web-sa\"") ","
				POD(UID_A, "kube-system", "coredns-1", "", ",\"serviceAccountName\":\"coredns\"") ","
				POD(UID_STATIC, "kube-system", "etcd-node-a", "\"labels\":{\"component\":\"etcd\",\"tier\":\"\"},", ""));
	struct kwid_kubelet_pods pods;
	const struct kwid_kubelet_pod *p;

	assert_int_equal(parse(json, 100, &pods), 0);
	assert_int_equal(pods.n, 3);
	/* sorted by UID */
	assert_string_equal(pods.v[0].uid, UID_A);
	assert_string_equal(pods.v[1].uid, UID_STATIC);
	assert_string_equal(pods.v[2].uid, UID_B);

	p = kubelet_pods_find(&pods, UID_B);
	assert_non_null(p);
	assert_string_equal(p->ns, "shop");
	assert_string_equal(p->name, "web-7d4b9c-xk2lp");
	assert_string_equal(p->service_account, "web-sa");
	assert_int_equal(p->nlabels, 3);
	assert_string_equal(p->labels[0].key, "app"); /* sorted by key */
	assert_string_equal(p->labels[1].key, "app.kubernetes.io/part-of");
	assert_string_equal(label(p, "pod-template-hash"), "7d4b9c");

	p = kubelet_pods_find(&pods, UID_A);
	assert_non_null(p);
	assert_string_equal(p->service_account, "coredns");
	assert_int_equal(p->nlabels, 0);

	p = kubelet_pods_find(&pods, UID_STATIC);
	assert_non_null(p);
	assert_null(p->service_account);
	assert_string_equal(label(p, "tier"), "");

	assert_null(kubelet_pods_find(&pods, "00000000-0000-0000-0000-000000000000"));
	assert_null(kubelet_pods_find(&pods, "not-a-uid-and-far-too-long-to-be-one-at-all"));
	assert_int_equal(pods.stats.pods_refused + pods.stats.labels_refused + pods.stats.names_refused, 0);
	kubelet_pods_clear(&pods);
}

static void test_pods_empty_and_missing(void **state)
{
	struct kwid_kubelet_pods pods;

	/* Go writes an empty list as null; an absent list is empty too. */
	assert_int_equal(parse("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":null}", 10, &pods), 0);
	assert_int_equal(pods.n, 0);
	assert_int_equal(parse("{\"kind\":\"PodList\"}", 10, &pods), 0);
	assert_int_equal(pods.n, 0);
	assert_int_equal(parse("{}", 10, &pods), 0);
	assert_int_equal(pods.n, 0);

	/* No uid, a uid of another type, no metadata: left out, counted. */
	assert_int_equal(parse(LIST("{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"uid\":7}},{\"spec\":{}},"
				    "{\"metadata\":{\"uid\":\"" UID_A "\"}}"), 10, &pods), 0);
	assert_int_equal(pods.n, 1);
	assert_int_equal(pods.stats.pods_refused, 3);
	/* Only the UID known: no names, no service account, no labels. */
	assert_null(pods.v[0].ns);
	assert_null(pods.v[0].name);
	assert_null(pods.v[0].service_account);
	assert_int_equal(pods.v[0].nlabels, 0);
	kubelet_pods_clear(&pods);

	/* null fields are absent fields */
	assert_int_equal(parse(LIST("{\"metadata\":{\"uid\":\"" UID_A "\",\"labels\":null,\"namespace\":null},"
				    "\"spec\":{\"serviceAccountName\":null}}"), 10, &pods), 0);
	assert_int_equal(pods.n, 1);
	assert_int_equal(pods.stats.names_refused + pods.stats.labels_refused, 0);
	kubelet_pods_clear(&pods);
}

static void test_pods_malformed(void **state)
{
	struct kwid_kubelet_pods pods;
	char deep[300];
	size_t o = 0;

	assert_int_equal(parse("", 10, &pods), -EINVAL);
	assert_int_equal(parse("not json", 10, &pods), -EINVAL);
	assert_int_equal(parse(LIST() " trailing", 10, &pods), -EINVAL);
	assert_int_equal(parse(LIST() LIST(), 10, &pods), -EINVAL);
	assert_int_equal(parse("[]", 10, &pods), -EINVAL);
	assert_int_equal(parse("{\"kind\":\"Pod\",\"items\":[]}", 10, &pods), -EINVAL);
	assert_int_equal(parse("{\"items\":[],\"kind\":\"PodLists\"}", 10, &pods), -EINVAL);
	/* two lists: which one is the kubelet's cannot be told */
	assert_int_equal(parse("{\"items\":[],\"items\":[{\"metadata\":{\"uid\":\"" UID_A "\"}}]}", 10, &pods), -EINVAL);
	assert_int_equal(parse("{\"kind\":\"PodList\",\"items\":{}}", 10, &pods), -EINVAL);
	assert_int_equal(parse("{\"kind\":\"PodList\",\"items\":\"x\"}", 10, &pods), -EINVAL);
	assert_int_equal(parse(LIST("\"a pod\""), 10, &pods), -EINVAL);
	assert_int_equal(parse(LIST("{\"metadata\":{\"uid\":\"" UID_A "\"}},null"), 10, &pods), -EINVAL);
	assert_int_equal(parse("{\"kind\":\"PodList\",\"items\":[{\"metadata\":{\"uid\":\"" UID_A "\"}}", 10, &pods), -EINVAL);
	/* NUL inside the document */
	assert_int_equal(kubelet_pods_parse("{}\0{}", 5, 10, &pods, &(const char *){NULL}), -EINVAL);
	/* nesting deeper than the parser's bound */
	o += (size_t)snprintf(deep, sizeof(deep), "{\"items\":[{\"metadata\":{\"x\":");
	while (o < 200)
		deep[o++] = '[';
	deep[o] = '\0';
	assert_int_equal(parse(deep, 10, &pods), -EINVAL);
	assert_int_equal(pods.n, 0);
	assert_null(pods.v);
}

static void test_pods_oversize(void **state)
{
	const char *three = LIST("{\"metadata\":{\"uid\":\"" UID_A "\"}},{\"metadata\":{\"uid\":\"" UID_B "\"}},"
				 "{\"metadata\":{\"uid\":\"" UID_STATIC "\"}}");
	struct kwid_kubelet_pods pods;
	size_t n = 300, o = 0;
	char *many;

	assert_int_equal(parse(three, 3, &pods), 0);
	assert_int_equal(pods.n, 3);
	kubelet_pods_clear(&pods);
	assert_int_equal(parse(three, 2, &pods), -E2BIG);
	assert_int_equal(pods.n, 0);

	/* More labels than a pod keeps: the first KWID_KUBELET_LABELS_MAX. */
	many = malloc(n * 32 + 256);
	assert_non_null(many);
	o += (size_t)sprintf(many, "{\"items\":[{\"metadata\":{\"uid\":\"" UID_A "\",\"labels\":{");
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(many + o, "%s\"k%03zu\":\"v\"", i ? "," : "", i);
	sprintf(many + o, "}}}]}");
	assert_int_equal(parse(many, 10, &pods), 0);
	assert_int_equal(pods.v[0].nlabels, KWID_KUBELET_LABELS_MAX);
	assert_int_equal(pods.stats.labels_refused, n - KWID_KUBELET_LABELS_MAX);
	assert_string_equal(pods.v[0].labels[0].key, "k000");
	kubelet_pods_clear(&pods);
	free(many);
}

static void test_pods_hostile(void **state)
{
	const char *json = LIST(
		"{\"metadata\":{\"uid\":\"" UID_A "\",\"namespace\":\"Shop\",\"name\":\"../../etc\","
		"\"labels\":{\"a:b\":\"c\",\"\":\"empty key\",\"num\":1,\"obj\":{},\"nul\":\"x\\u0000y\","
		"\"spaced key\":\"a b\",\"pct\":\"100%\",\"utf8\":\"caf\\u00e9\",\"ok\":\"v:w\"}},"
		"\"spec\":{\"serviceAccountName\":\"admin\\nx\"}},"
		/* uids the cgroup path could never name */
		"{\"metadata\":{\"uid\":\"0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D\"}},"
		"{\"metadata\":{\"uid\":\"0a1b2c3d_4e5f_4a6b_8c7d_9e0f1a2b3c4d\"}},"
		"{\"metadata\":{\"uid\":\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4\"}},"
		"{\"metadata\":{\"uid\":\"" UID_B "\\u0000\"}},"
		"{\"metadata\":{\"uid\":\"" UID_B "\",\"labels\":[\"app\"],\"name\":\""
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}");
	struct kwid_kubelet_pods pods;
	const struct kwid_kubelet_pod *p;

	assert_int_equal(parse(json, 100, &pods), 0);
	assert_int_equal(pods.n, 2);
	assert_int_equal(pods.stats.pods_refused, 4);

	p = kubelet_pods_find(&pods, UID_A);
	assert_non_null(p);
	/* Malformed names are no names: never a selector, never compared. */
	assert_null(p->ns);
	assert_null(p->name);
	assert_null(p->service_account);
	/* ':' in a key would make the selector ambiguous; NUL, non-strings,
	 * empty keys go too. Other bytes stay; the attestor encodes them. */
	assert_null(label(p, "a:b"));
	assert_null(label(p, ""));
	assert_null(label(p, "num"));
	assert_null(label(p, "obj"));
	assert_null(label(p, "nul"));
	assert_string_equal(label(p, "spaced key"), "a b");
	assert_string_equal(label(p, "pct"), "100%");
	assert_string_equal(label(p, "utf8"), "caf\xc3\xa9");
	assert_string_equal(label(p, "ok"), "v:w");
	assert_int_equal(pods.stats.labels_refused, 5 + 1 /* the labels array of UID_B */);

	p = kubelet_pods_find(&pods, UID_B);
	assert_non_null(p);
	assert_null(p->name); /* 254 bytes: longer than a name may be */
	assert_int_equal(p->nlabels, 0);
	assert_int_equal(pods.stats.names_refused, 4);
	kubelet_pods_clear(&pods);
}

static void test_pods_duplicate_uids(void **state)
{
	struct kwid_kubelet_pods pods;

	/* The same pod twice: kept once. */
	assert_int_equal(parse(LIST(POD(UID_A, "shop", "web-1", "", ",\"serviceAccountName\":\"web\"") ","
				    POD(UID_A, "shop", "web-1", "", ",\"serviceAccountName\":\"web\"")),
			       10, &pods), 0);
	assert_int_equal(pods.n, 1);
	assert_int_equal(pods.stats.uids_conflicting, 0);
	kubelet_pods_clear(&pods);

	/* One UID, two service accounts: which is the pod's cannot be told,
	 * so neither is believed; the other pods stay. */
	assert_int_equal(parse(LIST(POD(UID_A, "shop", "web-1", "", ",\"serviceAccountName\":\"web\"") ","
				    POD(UID_B, "shop", "db-1", "", ",\"serviceAccountName\":\"db\"") ","
				    POD(UID_A, "shop", "web-1", "", ",\"serviceAccountName\":\"admin\"") ","
				    POD(UID_A, "shop", "web-1", "", ",\"serviceAccountName\":\"web\"")),
			       10, &pods), 0);
	assert_int_equal(pods.n, 1);
	assert_string_equal(pods.v[0].uid, UID_B);
	assert_null(kubelet_pods_find(&pods, UID_A));
	assert_int_equal(pods.stats.uids_conflicting, 1);
	kubelet_pods_clear(&pods);

	/* Differing only in labels is a conflict too. */
	assert_int_equal(parse(LIST(POD(UID_A, "shop", "web-1", "\"labels\":{\"app\":\"web\"},", "") ","
				    POD(UID_A, "shop", "web-1", "\"labels\":{\"app\":\"admin\"},", "")),
			       10, &pods), 0);
	assert_int_equal(pods.n, 0);
	kubelet_pods_clear(&pods);
}

static void test_pods_diff(void **state)
{
	struct kwid_kubelet_pods a, b;
	struct kwid_selector_set d;

	assert_int_equal(parse(LIST(POD(UID_A, "shop", "web-1", "\"labels\":{\"app\":\"web\"},", "") ","
				    POD(UID_B, "shop", "db-1", "", ",\"serviceAccountName\":\"db\"")), 10, &a), 0);
	assert_int_equal(parse(LIST(POD(UID_A, "shop", "web-1", "\"labels\":{\"app\":\"web2\"},", "") ","
				    POD(UID_B, "shop", "db-1", "", ",\"serviceAccountName\":\"db\"") ","
				    POD(UID_STATIC, "kube-system", "etcd", "", "")), 10, &b), 0);
	selset_init(&d);
	assert_int_equal(kubelet_pods_diff(&a, &b, &d), 0);
	assert_int_equal(d.n, 2);
	assert_true(selset_contains(&d, "k8s:pod-uid:" UID_A));
	assert_true(selset_contains(&d, "k8s:pod-uid:" UID_STATIC));
	selset_clear(&d);
	assert_int_equal(kubelet_pods_diff(&a, &a, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(kubelet_pods_diff(&b, NULL, &d), 0); /* the answer expired */
	assert_int_equal(d.n, 3);
	selset_clear(&d);
	assert_int_equal(kubelet_pods_diff(NULL, &a, &d), 0); /* the first answer */
	assert_int_equal(d.n, 2);
	selset_clear(&d);
	kubelet_pods_clear(&a);
	kubelet_pods_clear(&b);
}

/* ---- the JSON walker under the pod list parser ---- */

static int scan(const char *text, int depth)
{
	struct json_scan s = {text, text + strlen(text)};
	int r = json_scan_value(&s, depth);

	json_scan_ws(&s);
	return r == 0 && s.p != s.end ? -EINVAL : r; /* the whole text, one value */
}

static void test_json_scan(void **state)
{
	static const char *const good[] = {
		"0", "-0", "12", "-1.5e+10", "1E3", "0.25", "true", "false", "null", "\"\"",
		"\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\"", "\"caf\xc3\xa9\"", "[]", "{}",
		" [ 1 , \"x\" , { \"k\" : [ null ] } ] ", "{\"a\":{\"b\":{\"c\":[]}}}",
	};
	static const char *const bad[] = {
		"", " ", "01", "-", "1.", "1e", "+1", ".5", "0x10", "tru", "nul", "True", "\"", "\"abc",
		"\"\\x\"", "\"\\u12G4\"", "\"\\u12\"", "\"a\nb\"", "\"a\tb\"", "[", "[1,]", "[,1]", "[1 2]",
		"{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{1:1}", "{\"a\" 1}", "]", "}", "1 2",
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (scan(good[i], 8) != 0)
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (scan(bad[i], 8) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	/* a NUL inside a string is a control character */
	struct json_scan s = {"\"a\0b\"", "\"a\0b\"" + 5};
	assert_int_equal(json_scan_value(&s, 8), -EINVAL);
	/* nesting: exactly the bound passes, one more level does not */
	assert_int_equal(scan("[[[]]]", 3), 0);
	assert_int_equal(scan("[[[[]]]]", 3), -EINVAL);
	assert_int_equal(scan("{\"a\":{\"b\":{}}}", 3), 0);
	assert_int_equal(scan("{\"a\":{\"b\":{\"c\":1}}}", 3), 0);
	assert_int_equal(scan("{\"a\":{\"b\":{\"c\":{}}}}", 3), -EINVAL);
}

/* ---- HTTP ---- */

static int http(const char *text, bool eof, size_t max, struct http_response *r, char **copy)
{
	const char *why = NULL;
	int ret;

	*copy = strdup(text);
	assert_non_null(*copy);
	ret = http_response_parse(*copy, strlen(text), eof, max, r, &why);
	if (ret == -EBADMSG)
		assert_non_null(why);
	return ret;
}

static void test_http_framing(void **state)
{
	struct http_response r;
	char *b;

	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", false, 100, &r, &b), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.reason, "OK");
	assert_true(r.framed);
	assert_int_equal(r.body_len, 2);
	assert_memory_equal(r.body, "{}", 2);
	free(b);
	/* Incomplete: read more, never a partial body. */
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", false, 100, &r, &b), -EAGAIN);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", true, 100, &r, &b), -EBADMSG);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Le", false, 100, &r, &b), -EAGAIN);
	free(b);
	/* chunked, with an extension and a trailer */
	assert_int_equal(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			      "3;x=y\r\n{\"a\r\nA\r\n\":[1,2,3]}\r\n0\r\nX-Trailer: 1\r\n\r\n", false, 100, &r, &b), 0);
	assert_int_equal(r.body_len, 13);
	assert_memory_equal(r.body, "{\"a\":[1,2,3]}", 13);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", false, 100, &r, &b), -EAGAIN);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", true, 100, &r, &b), -EBADMSG);
	free(b);
	/* Delimited by the end of the connection: only once it ended. */
	assert_int_equal(http("HTTP/1.0 200 OK\r\n\r\n{\"items\":[]}", false, 100, &r, &b), -EAGAIN);
	free(b);
	assert_int_equal(http("HTTP/1.0 200 OK\r\n\r\n{\"items\":[]}", true, 100, &r, &b), 0);
	assert_false(r.framed);
	assert_int_equal(r.body_len, 12);
	free(b);
	/* The status of a refusal comes through. */
	assert_int_equal(http("HTTP/1.1 401 Unauthorized\r\nContent-Length: 13\r\n\r\nUnauthorized\n", false, 100, &r, &b), 0);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.reason, "Unauthorized");
	free(b);
}

static void test_http_refusals(void **state)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x01\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nmore",
		"HTTP/1.1 204 No Content\r\n\r\nbody",
	};
	struct http_response r;
	char *b;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = http(bad[i], true, 100, &r, &b);
		if (ret != -EBADMSG)
			fail_msg("accepted (%d): %s", ret, bad[i]);
		free(b);
	}
	/* Sizes beyond the bound are refused before anything is read. */
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", false, 100, &r, &b), -EFBIG);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", false, 100, &r, &b), -EBADMSG);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", false, 100, &r, &b), -EFBIG);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n60\r\n", false, 100, &r, &b), -EAGAIN);
	free(b);
	assert_int_equal(http("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", false, 100, &r, &b), -EFBIG);
	free(b);
}

static void test_http_header_bound(void **state)
{
	size_t n = HTTP_HEAD_MAX + 100;
	char *big = malloc(n + 1);
	struct http_response r;
	const char *why = NULL;

	assert_non_null(big);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', n - 20);
	big[n] = '\0';
	assert_int_equal(http_response_parse(big, n, false, 100, &r, &why), -EBADMSG);
	free(big);
}

/* ---- URL and configuration ---- */

static void test_url(void **state)
{
	struct kwid_kubelet_target t = {0};
	const char *why = NULL;

	assert_int_equal(kubelet_url_parse("https://127.0.0.1:10250", &t, &why), 0);
	assert_string_equal(t.host, "127.0.0.1");
	assert_string_equal(t.port, "10250");
	assert_string_equal(t.path, "/pods");
	assert_string_equal(t.host_header, "127.0.0.1:10250");
	assert_true(t.host_is_ip);
	kubelet_target_clear(&t);

	assert_int_equal(kubelet_url_parse("https://[fd00::7]/pods", &t, &why), 0);
	assert_string_equal(t.host, "fd00::7");
	assert_string_equal(t.port, "10250");
	assert_string_equal(t.host_header, "[fd00::7]:10250");
	assert_true(t.host_is_ip);
	kubelet_target_clear(&t);

	assert_int_equal(kubelet_url_parse("https://node-a.cluster.example:443/api/pods?x=1", &t, &why), 0);
	assert_string_equal(t.host, "node-a.cluster.example");
	assert_string_equal(t.port, "443");
	assert_string_equal(t.path, "/api/pods?x=1");
	assert_false(t.host_is_ip);
	kubelet_target_clear(&t);

	static const char *const bad[] = {
		"http://127.0.0.1:10255/pods", "127.0.0.1:10250", "https://", "https://:10250", "https://user@node:10250",
		"https://node:0", "https://node:65536", "https://node:x", "https://no de", "https://node/p ods",
		"https://node/#frag", "https://[1.2.3.4]:10250", "https://[::1", "https://[::1]x", "https://node?x",
		"https://n\xc3\xa9ud", "https://node_a",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		if (kubelet_url_parse(bad[i], &t, &why) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(why);
		kubelet_target_clear(&t);
	}
}

static int config_with(const char *kubelet_json, struct kwid_kubelet_config *cfg, struct kwid_config **c)
{
	char text[1024];
	json_object *o;
	char *err = NULL;
	int r;

	snprintf(text, sizeof(text), "{\"attestors\": {\"kubelet\": %s}}", kubelet_json);
	o = json_tokener_parse(text);
	assert_non_null(o);
	r = config_load(NULL, o, c, &err);
	json_object_put(o);
	if (r < 0) {
		free(err);
		return r;
	}
	return kubelet_config_read(*c, cfg);
}

static void test_config(void **state)
{
	struct kwid_kubelet_config cfg;
	struct kwid_config *c = NULL;

	/* The default: off. */
	assert_int_equal(config_with("{}", &cfg, &c), 0);
	assert_null(cfg.url);
	assert_int_equal(cfg.refresh_s, 30);
	config_free(c);
	assert_int_equal(config_with("{\"url\": \"https://10.0.0.7:10250\", \"ca_file\": \"/etc/kubernetes/pki/ca.crt\"}",
				     &cfg, &c), 0);
	assert_string_equal(cfg.url, "https://10.0.0.7:10250");
	config_free(c);
	/* No CA, and verification not explicitly skipped: refused. */
	assert_int_equal(config_with("{\"url\": \"https://10.0.0.7:10250\"}", &cfg, &c), -EINVAL);
	config_free(c);
	assert_int_equal(config_with("{\"url\": \"https://10.0.0.7:10250\", \"skip_verify\": true}", &cfg, &c), 0);
	assert_true(cfg.skip_verify);
	config_free(c);
	assert_int_equal(config_with("{\"url\": \"http://10.0.0.7:10255\", \"skip_verify\": true}", &cfg, &c), -EINVAL);
	config_free(c);
	assert_int_equal(config_with("{\"url\": \"https://n\", \"ca_file\": \"/ca\", \"refresh_s\": 60, \"max_age_s\": 30}",
				     &cfg, &c), -EINVAL);
	config_free(c);
	assert_int_equal(config_with("{\"url\": \"https://n\", \"ca_file\": \"/ca\", \"refresh_s\": 0}", &cfg, &c), -ERANGE);
	config_free(c);
	c = NULL;
	assert_true(config_with("{\"url\": 5}", &cfg, &c) < 0); /* wrong type: the loader refuses */
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pods_realistic), cmocka_unit_test(test_pods_empty_and_missing),
		cmocka_unit_test(test_pods_malformed), cmocka_unit_test(test_pods_oversize),
		cmocka_unit_test(test_pods_hostile),   cmocka_unit_test(test_pods_duplicate_uids),
		cmocka_unit_test(test_pods_diff),      cmocka_unit_test(test_json_scan),
		cmocka_unit_test(test_http_framing),
		cmocka_unit_test(test_http_refusals),  cmocka_unit_test(test_http_header_bound),
		cmocka_unit_test(test_url),	       cmocka_unit_test(test_config),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
