/* test_entries.c - registration entries: validation of every field, the
 * rules across entries (trust domain, ids, duplicates, limits), matching
 * through the index (subset semantics, order, many entries sharing
 * selectors, deletion, expiry), near misses, read-only replacement and
 * change notifications. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "kwid/entries.h"
#include "entries_fixture.h"

static int64_t now_s(void)
{
	return (int64_t)(now_real_ns() / 1000000000ull);
}

/* ---- validation ---- */

struct bad {
	const char *json;
	const char *field;
	const char *rule; /* substring */
};

#define E(extra) "{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"unix:uid:0\"]" extra "}"

static void test_validation_rejects(void **state)
{
	static const struct bad cases[] = {
		{"[]", "entry", "JSON object"},
		{"{\"selectors\": [\"a:b\"]}", "spiffe_id", "required"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\"}", "selectors", "at least one"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": []}", "selectors", "at least one"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": \"a:b\"}", "selectors", "array"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [1]}", "selectors", "array"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"unix\"]}", "selectors", "type:value"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"Unix:uid:0\"]}", "selectors", "a-z"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"unix:uid: 0\"]}", "selectors", "whitespace"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"a:b\", \"a:b\"]}", "selectors", "twice"},
		{"{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"a:b\\u0000c\"]}", "selectors", "NUL"},
		{"{\"spiffe_id\": \"spiffe://Example.org/w\", \"selectors\": [\"a:b\"]}", "spiffe_id", "a-z 0-9 . - _"},
		{"{\"spiffe_id\": \"spiffe://example.org\", \"selectors\": [\"a:b\"]}", "spiffe_id", "needs a path"},
		{"{\"spiffe_id\": \"spiffe://example.org/a/\", \"selectors\": [\"a:b\"]}", "spiffe_id", "end with /"},
		{"{\"spiffe_id\": \"spiffe://example.org:80/a\", \"selectors\": [\"a:b\"]}", "spiffe_id", "port"},
		{"{\"spiffe_id\": 5, \"selectors\": [\"a:b\"]}", "spiffe_id", "string"},
		{"{\"spiffe_id\": \"spiffe://example.org/a\\u0000b\", \"selectors\": [\"a:b\"]}", "spiffe_id", "NUL"},
		{E(", \"id\": \"\""), "id", "empty"},
		{E(", \"id\": \"-abc\""), "id", "start with a letter or digit"},
		{E(", \"id\": \"a/b\""), "id", "a-z A-Z 0-9 . - _"},
		{E(", \"id\": \"a b\""), "id", "a-z A-Z 0-9 . - _"},
		{E(", \"id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""), "id", "longer than 64"},
		{E(", \"x509_svid_ttl\": 5"), "x509_svid_ttl", "between 10 and 2592000"},
		{E(", \"x509_svid_ttl\": 2592001"), "x509_svid_ttl", "between"},
		{E(", \"x509_svid_ttl\": -1"), "x509_svid_ttl", "between"},
		{E(", \"x509_svid_ttl\": \"60\""), "x509_svid_ttl", "integer"},
		{E(", \"jwt_svid_ttl\": 86401"), "jwt_svid_ttl", "between 10 and 86400"},
		{E(", \"jwt_svid_ttl\": 1.5"), "jwt_svid_ttl", "integer"},
		{E(", \"dns_names\": \"a.com\""), "dns_names", "array"},
		{E(", \"dns_names\": [\"A.com\"]"), "dns_names", "lowercase"},
		{E(", \"dns_names\": [\"-a.com\"]"), "dns_names", "start or end with -"},
		{E(", \"dns_names\": [\"a-.com\"]"), "dns_names", "start or end with -"},
		{E(", \"dns_names\": [\"a..com\"]"), "dns_names", "empty label"},
		{E(", \"dns_names\": [\"a.com.\"]"), "dns_names", "empty label"},
		{E(", \"dns_names\": [\"a_b.com\"]"), "dns_names", "a-z 0-9 -"},
		{E(", \"dns_names\": [\"*\"]"), "dns_names", "needs a domain"},
		{E(", \"dns_names\": [\"a.*.com\"]"), "dns_names", "whole first label"},
		{E(", \"dns_names\": [\"*a.com\"]"), "dns_names", "whole first label"},
		{E(", \"dns_names\": [\"\"]"), "dns_names", "empty"},
		{E(", \"dns_names\": [\"a.com\", \"a.com\"]"), "dns_names", "twice"},
		{E(", \"dns_names\": [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\"]"), "dns_names", "63"},
		{E(", \"hint\": \"\""), "hint", "empty"},
		{E(", \"hint\": \"a\\nb\""), "hint", "printable"},
		{E(", \"hint\": 3"), "hint", "string"},
		{E(", \"expires_at\": -1"), "expires_at", "between"},
		{E(", \"expires_at\": 253402300800"), "expires_at", "between"},
		{E(", \"expires_at\": \"soon\""), "expires_at", "integer"},
		{E(", \"created_at_ns\": 5"), "created_at_ns", "unknown field"},
		{E(", \"selector\": [\"a:b\"]"), "selector", "unknown field"},
		{E(", \"revision\": 1"), "revision", "unknown field"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_object *o = json_tokener_parse(cases[i].json);
		struct kwid_entry *e = NULL;
		struct entry_error err;

		if (!o)
			fail_msg("case %zu: test JSON does not parse", i);
		memset(&err, 0, sizeof(err));
		if (entry_from_json(o, 0, &e, &err) != -EINVAL)
			fail_msg("accepted: %s", cases[i].json);
		assert_null(e);
		if (!streq(err.field, cases[i].field) || !strstr(err.rule, cases[i].rule))
			fail_msg("%s: got field '%s' rule '%s', want '%s' / '%s'", cases[i].json, err.field,
				 err.rule, cases[i].field, cases[i].rule);
		json_object_put(o);
	}
}

static void test_validation_limits(void **state)
{
	json_object *o = json_tokener_parse(E("")), *sels = json_object_new_array(), *dns = json_object_new_array();
	struct kwid_entry *e = NULL;
	struct entry_error err;
	char buf[64], hint[ENTRY_HINT_MAX + 2], name[300];

	for (int i = 0; i <= ENTRY_MAX_SELECTORS; i++) {
		snprintf(buf, sizeof(buf), "t:v%d", i);
		json_object_array_add(sels, json_object_new_string(buf));
	}
	json_object_object_add(o, "selectors", sels);
	assert_int_equal(entry_from_json(o, 0, &e, &err), -EINVAL);
	assert_string_equal(err.field, "selectors");
	assert_non_null(strstr(err.rule, "at most 64"));
	json_object_array_del_idx(sels, 0, 1);
	assert_int_equal(entry_from_json(o, 0, &e, &err), 0);
	assert_int_equal(e->selectors.n, ENTRY_MAX_SELECTORS);
	entry_free(e);

	for (int i = 0; i <= ENTRY_MAX_DNS_NAMES; i++) {
		snprintf(buf, sizeof(buf), "h%d.example.org", i);
		json_object_array_add(dns, json_object_new_string(buf));
	}
	json_object_object_add(o, "dns_names", dns);
	assert_int_equal(entry_from_json(o, 0, &e, &err), -EINVAL);
	assert_non_null(strstr(err.rule, "at most 32"));
	json_object_object_del(o, "dns_names");

	/* 253 bytes of DNS name is fine, 254 is not. */
	memset(name, 0, sizeof(name));
	for (int i = 0; i < 4; i++)
		memset(name + i * 64, 'a', 63), name[i * 64 + 63] = '.';
	name[253] = '\0';
	assert_int_equal(strlen(name), 253);
	assert_int_equal(entry_dns_name_validate(name, (const char **)&e), 0);
	name[253] = 'a';
	{
		const char *why;
		assert_int_equal(entry_dns_name_validate(name, &why), -EINVAL);
		assert_non_null(strstr(why, "253"));
	}
	e = NULL;

	memset(hint, 'h', sizeof(hint));
	hint[ENTRY_HINT_MAX] = '\0';
	json_object_object_add(o, "hint", json_object_new_string(hint));
	assert_int_equal(entry_from_json(o, 0, &e, &err), 0);
	entry_free(e);
	hint[ENTRY_HINT_MAX] = 'h';
	hint[ENTRY_HINT_MAX + 1] = '\0';
	json_object_object_add(o, "hint", json_object_new_string(hint));
	assert_int_equal(entry_from_json(o, 0, &e, &err), -EINVAL);
	assert_non_null(strstr(err.rule, "1024"));
	json_object_put(o);
}

static void test_validation_accepts(void **state)
{
	json_object *o = json_tokener_parse(
		"{\"id\": \"web-1.A_b\", \"spiffe_id\": \"spiffe://example.org/ns/prod/web\","
		" \"selectors\": [\"unix:uid:1000\", \"docker:label:app:web\"], \"x509_svid_ttl\": 3600,"
		" \"jwt_svid_ttl\": 300, \"dns_names\": [\"web.example.org\", \"*.web.example.org\"],"
		" \"hint\": \"internal\", \"expires_at\": 4102444800, \"created_at_ns\": 17}");
	struct kwid_entry *e = NULL, *back = NULL;
	struct entry_error err;
	json_object *j;

	assert_int_equal(entry_from_json(o, 0, &e, &err), -EINVAL); /* created_at_ns not allowed */
	assert_int_equal(entry_from_json(o, ENTRY_JSON_ALLOW_CREATED, &e, &err), 0);
	assert_string_equal(e->id, "web-1.A_b");
	assert_int_equal(e->selectors.n, 2);
	assert_string_equal(e->selectors.v[0], "docker:label:app:web"); /* sorted */
	assert_int_equal(e->x509_svid_ttl, 3600);
	assert_int_equal(e->jwt_svid_ttl, 300);
	assert_int_equal(e->ndns, 2);
	assert_string_equal(e->dns_names[1], "*.web.example.org"); /* order kept */
	assert_string_equal(e->hint, "internal");
	assert_int_equal(e->expires_at, 4102444800LL);
	assert_int_equal(e->created_ns, 17);

	/* Round trip through the store form. */
	j = entry_to_json(e, false, 0);
	assert_int_equal(entry_from_json(j, ENTRY_JSON_NEED_ID | ENTRY_JSON_ALLOW_CREATED, &back, &err), 0);
	assert_true(entry_equal(e, back));
	back->x509_svid_ttl = 60;
	assert_false(entry_equal(e, back));
	json_object_put(j);
	entry_free(back);

	/* Store form needs an id. */
	json_object_object_del(o, "id");
	assert_int_equal(entry_from_json(o, ENTRY_JSON_NEED_ID | ENTRY_JSON_ALLOW_CREATED, &back, &err), -EINVAL);
	assert_string_equal(err.field, "id");
	json_object_put(o);
	entry_free(e);
}

static const char *upper_field(const char *field)
{
	return streq(field, "hint") ? "--hint" : NULL;
}

static void test_error_format(void **state)
{
	struct entry_error err = {.field = "hint", .value = "x", .rule = "bad"};
	json_object *o = json_tokener_parse(E(", \"hint\": \"a\\\"b\\u0001\""));
	struct kwid_entry *e = NULL;
	char buf[256];

	entry_error_format(&err, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "invalid hint \"x\": bad");
	entry_error_format(&err, upper_field, buf, sizeof(buf));
	assert_string_equal(buf, "invalid --hint \"x\": bad");
	err.value[0] = '\0';
	entry_error_format(&err, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "invalid hint: bad");
	/* Quotes and control bytes of an untrusted value are escaped. */
	assert_int_equal(entry_from_json(o, 0, &e, &err), -EINVAL);
	assert_string_equal(err.value, "a\\x22b\\x01");
	json_object_put(o);
}

static void test_random_ids(void **state)
{
	struct kwid_entry *e = entry_new();
	char first[40];
	const char *why;

	assert_int_equal(entry_assign_random_id(e), 0);
	assert_int_equal(strlen(e->id), 36);
	assert_int_equal(e->id[14], '4'); /* version 4 */
	assert_non_null(strchr("89ab", e->id[19]));
	assert_int_equal(entry_id_validate(e->id, &why), 0);
	strcpy(first, e->id);
	assert_int_equal(entry_assign_random_id(e), 0);
	assert_string_not_equal(first, e->id);
	entry_free(e);
}

/* ---- rules across entries ---- */

static int add(struct fixture *f, const char *json, struct entry_error *err)
{
	struct kwid_entry *e = entry_json(json);
	int r = entries_add(f->es, e, false, err);

	if (r < 0)
		entry_free(e);
	return r;
}

static void test_cross_entry_rules(void **state)
{
	struct fixture f;
	struct entry_error err;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(add(&f, "{\"id\": \"a\", \"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"x:1\", \"y:2\"]}", &err), 0);
	/* Same SPIFFE ID and selector set, given in another order. */
	assert_int_equal(add(&f, "{\"spiffe_id\": \"spiffe://example.org/w\", \"selectors\": [\"y:2\", \"x:1\"]}", &err), -EINVAL);
	assert_string_equal(err.field, "selectors");
	assert_non_null(strstr(err.rule, "entry a already"));
	/* Same selectors, another SPIFFE ID: fine (a workload may hold several). */
	assert_int_equal(add(&f, "{\"spiffe_id\": \"spiffe://example.org/v\", \"selectors\": [\"y:2\", \"x:1\"]}", &err), 0);
	/* Same id. */
	assert_int_equal(add(&f, "{\"id\": \"a\", \"spiffe_id\": \"spiffe://example.org/z\", \"selectors\": [\"x:1\"]}", &err), -EINVAL);
	assert_string_equal(err.field, "id");
	/* Another trust domain. */
	assert_int_equal(add(&f, "{\"spiffe_id\": \"spiffe://example.com/w\", \"selectors\": [\"x:1\"]}", &err), -EINVAL);
	assert_string_equal(err.field, "spiffe_id");
	assert_non_null(strstr(err.rule, "example.com is not the agent's (example.org)"));
	assert_int_equal(add(&f, "{\"spiffe_id\": \"spiffe://example.org.evil/w\", \"selectors\": [\"x:1\"]}", &err), -EINVAL);
	assert_int_equal(entries_count(f.es), 2);
	fixture_fini(&f);
}

static void test_max_entries(void **state)
{
	struct fixture f;
	struct entry_error err;
	json_object *lim = json_object_new_object();

	fixture_init(&f, false);
	json_object_object_add(lim, "dir", NULL);
	json_object_object_add(lim, "max_entries", json_object_new_int(2));
	json_object_object_add(f.agent.cfg->root, "entries", lim);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(add(&f, "{\"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"x:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"x:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"spiffe_id\": \"spiffe://example.org/c\", \"selectors\": [\"x:1\"]}", &err), -EINVAL);
	assert_non_null(strstr(err.rule, "max_entries"));
	fixture_fini(&f);
}

/* ---- matching ---- */

static void expect_match(struct kwid_entries *es, const char *const *sels, const char *const *ids)
{
	struct kwid_selector_set w;
	const struct kwid_entry **m = NULL;
	size_t n = 0, want = 0;

	workload(&w, sels);
	assert_int_equal(entries_match(es, &w, &m, &n), 0);
	while (ids[want])
		want++;
	if (n != want)
		fail_msg("%zu matches, want %zu (first: %s)", n, want, n ? m[0]->id : "-");
	for (size_t i = 0; i < n; i++)
		assert_string_equal(m[i]->id, ids[i]);
	free(m);
	selset_clear(&w);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

static void test_match_subset(void **state)
{
	struct fixture f;
	struct entry_error err;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(add(&f, "{\"id\": \"a\", \"created_at_ns\": 1, \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"ab\", \"created_at_ns\": 2, \"spiffe_id\": \"spiffe://example.org/ab\", \"selectors\": [\"u:1\", \"g:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"abc\", \"created_at_ns\": 3, \"spiffe_id\": \"spiffe://example.org/abc\", \"selectors\": [\"u:1\", \"g:1\", \"p:/bin/x\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"d\", \"created_at_ns\": 4, \"spiffe_id\": \"spiffe://example.org/d\", \"selectors\": [\"d:1\"]}", &err), 0);

	expect_match(f.es, L("u:1", "g:1"), L("a", "ab"));
	expect_match(f.es, L("u:1", "g:1", "p:/bin/x", "z:9"), L("a", "ab", "abc"));
	expect_match(f.es, L("g:1", "p:/bin/x"), NONE); /* superset needed: u:1 missing */
	expect_match(f.es, L("u:2"), NONE);
	expect_match(f.es, L("d:1", "u:1"), L("a", "d"));
	expect_match(f.es, NONE, NONE);
	/* Values are compared exactly: a prefix is not a match. */
	expect_match(f.es, L("u:10", "g:1"), NONE);
	fixture_fini(&f);
}

static void test_match_order(void **state)
{
	struct fixture f;
	struct entry_error err;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	/* Oldest first; equal creation times by id. */
	assert_int_equal(add(&f, "{\"id\": \"z\", \"created_at_ns\": 5, \"spiffe_id\": \"spiffe://example.org/1\", \"selectors\": [\"u:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"b\", \"created_at_ns\": 9, \"spiffe_id\": \"spiffe://example.org/2\", \"selectors\": [\"u:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"a\", \"created_at_ns\": 9, \"spiffe_id\": \"spiffe://example.org/3\", \"selectors\": [\"g:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"y\", \"created_at_ns\": 1, \"spiffe_id\": \"spiffe://example.org/4\", \"selectors\": [\"g:1\", \"u:1\"]}", &err), 0);
	expect_match(f.es, L("u:1", "g:1"), L("y", "z", "a", "b"));
	/* Entries created without a time get "now": after all of these. */
	assert_int_equal(add(&f, "{\"id\": \"0\", \"spiffe_id\": \"spiffe://example.org/5\", \"selectors\": [\"u:1\"]}", &err), 0);
	expect_match(f.es, L("u:1", "g:1"), L("y", "z", "a", "b", "0"));
	fixture_fini(&f);
}

/* 20000 entries share unix:uid:0 and differ by a hash: a workload must get
 * exactly its own, and the index must not file them all under uid:0. */
static void test_match_many_sharing(void **state)
{
	struct fixture f;
	struct entry_error err;
	char json[256], sel[96];
	json_object *st, *sec, *v;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	for (int i = 0; i < 20000; i++) {
		snprintf(json, sizeof(json),
			 "{\"id\": \"e%05d\", \"created_at_ns\": %d, \"spiffe_id\": \"spiffe://example.org/w%d\", "
			 "\"selectors\": [\"unix:uid:0\", \"unix:sha256:%064d\"]}", i, i, i, i);
		assert_int_equal(add(&f, json, &err), 0);
	}
	/* And 50 entries on uid:0 alone: every uid-0 workload gets them. */
	for (int i = 0; i < 50; i++) {
		snprintf(json, sizeof(json),
			 "{\"id\": \"u%02d\", \"created_at_ns\": %d, \"spiffe_id\": \"spiffe://example.org/root%d\", "
			 "\"selectors\": [\"unix:uid:0\"]}", i, 100000 + i, i);
		assert_int_equal(add(&f, json, &err), 0);
	}
	snprintf(sel, sizeof(sel), "unix:sha256:%064d", 12345);
	{
		struct kwid_selector_set w;
		const struct kwid_entry **m = NULL;
		size_t n = 0;
		workload(&w, L("unix:uid:0", "unix:gid:0", sel));
		assert_int_equal(entries_match(f.es, &w, &m, &n), 0);
		assert_int_equal(n, 51);
		assert_string_equal(m[0]->id, "e12345");
		assert_string_equal(m[1]->id, "u00");
		free(m);
		selset_clear(&w);
	}
	/* The largest bucket is the 50 single-selector entries (plus at most
	 * the first hash entry), not 20050. */
	st = agent_status(&f.agent);
	assert_true(json_object_object_get_ex(st, "entries", &sec));
	assert_true(json_object_object_get_ex(sec, "largest_bucket", &v));
	assert_true(json_object_get_int(v) <= 51);
	json_object_put(st);
	fixture_fini(&f);
}

static void test_delete(void **state)
{
	struct fixture f;
	struct entry_error err;
	char path[256];
	struct stat s;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	{
		struct kwid_entry *e = entry_json("{\"id\": \"k\", \"spiffe_id\": \"spiffe://example.org/k\", \"selectors\": [\"u:1\"]}");
		assert_int_equal(entries_create(f.es, e, &err), 0);
	}
	assert_int_equal(f.notified, 1);
	snprintf(path, sizeof(path), "%s/entries/k.json", f.state);
	assert_int_equal(stat(path, &s), 0);
	assert_int_equal(s.st_mode & 0777, 0600);
	expect_match(f.es, L("u:1"), L("k"));
	assert_int_equal(entries_delete(f.es, "k"), 0);
	assert_int_equal(f.notified, 2);
	assert_int_equal(stat(path, &s), -1);
	expect_match(f.es, L("u:1"), NONE);
	assert_null(entries_get(f.es, "k"));
	assert_int_equal(entries_delete(f.es, "k"), -ENOENT);
	/* The same entry can be created again after a delete. */
	{
		struct kwid_entry *e = entry_json("{\"id\": \"k\", \"spiffe_id\": \"spiffe://example.org/k\", \"selectors\": [\"u:1\"]}");
		assert_int_equal(entries_create(f.es, e, &err), 0);
	}
	expect_match(f.es, L("u:1"), L("k"));
	fixture_fini(&f);
}

static void test_expiry(void **state)
{
	struct fixture f;
	struct entry_error err;
	char json[256];
	struct kwid_selector_set w;
	struct entry_near_miss *nm = NULL;
	size_t n = 0;
	uint64_t deadline;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	snprintf(json, sizeof(json), "{\"id\": \"old\", \"expires_at\": %lld, \"spiffe_id\": \"spiffe://example.org/o\", \"selectors\": [\"u:1\"]}",
		 (long long)now_s() - 1);
	assert_int_equal(add(&f, json, &err), 0);
	snprintf(json, sizeof(json), "{\"id\": \"soon\", \"expires_at\": %lld, \"spiffe_id\": \"spiffe://example.org/s\", \"selectors\": [\"u:1\"]}",
		 (long long)now_s() + 1);
	assert_int_equal(add(&f, json, &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"never\", \"spiffe_id\": \"spiffe://example.org/n\", \"selectors\": [\"u:1\"]}", &err), 0);
	expect_match(f.es, L("u:1"), L("soon", "never"));

	/* The expiry timer tells subscribers, and the entry stops matching. */
	f.notified = 0;
	deadline = now_mono_ns() + 5000000000ull;
	while (f.notified == 0 && now_mono_ns() < deadline)
		loop_run_once(f.agent.loop, 100);
	assert_int_equal(f.notified, 1);
	expect_match(f.es, L("u:1"), L("never"));

	/* `why` shows the expired ones: nothing missing, but expired. */
	workload(&w, L("u:1"));
	assert_int_equal(entries_near_misses(f.es, &w, 10, &nm, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(nm[0].nmissing, 0);
	assert_true(entry_expired(nm[0].entry, now_s()));
	entry_near_misses_free(nm, n);
	selset_clear(&w);
	fixture_fini(&f);
}

static void test_near_misses(void **state)
{
	struct fixture f;
	struct entry_error err;
	struct kwid_selector_set w;
	struct entry_near_miss *nm = NULL;
	size_t n = 0;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(add(&f, "{\"id\": \"two\", \"created_at_ns\": 1, \"spiffe_id\": \"spiffe://example.org/2\", \"selectors\": [\"u:1\", \"x:1\", \"y:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"one\", \"created_at_ns\": 2, \"spiffe_id\": \"spiffe://example.org/1\", \"selectors\": [\"u:1\", \"g:2\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"hit\", \"created_at_ns\": 3, \"spiffe_id\": \"spiffe://example.org/h\", \"selectors\": [\"u:1\", \"g:1\"]}", &err), 0);
	assert_int_equal(add(&f, "{\"id\": \"far\", \"created_at_ns\": 4, \"spiffe_id\": \"spiffe://example.org/f\", \"selectors\": [\"q:1\"]}", &err), 0);
	workload(&w, L("u:1", "g:1"));
	assert_int_equal(entries_near_misses(f.es, &w, 10, &nm, &n), 0);
	assert_int_equal(n, 2); /* "hit" matches, "far" shares nothing */
	assert_string_equal(nm[0].entry->id, "one");
	assert_int_equal(nm[0].nmissing, 1);
	assert_string_equal(nm[0].missing[0], "g:2");
	assert_string_equal(nm[1].entry->id, "two");
	assert_int_equal(nm[1].nmissing, 2);
	assert_string_equal(nm[1].missing[0], "x:1");
	assert_string_equal(nm[1].missing[1], "y:1");
	entry_near_misses_free(nm, n);
	assert_int_equal(entries_near_misses(f.es, &w, 1, &nm, &n), 0);
	assert_int_equal(n, 1);
	entry_near_misses_free(nm, n);
	selset_clear(&w);
	fixture_fini(&f);
}

static void test_unsorted_workload(void **state)
{
	struct fixture f;
	struct kwid_selector_set w;
	const struct kwid_entry **m = NULL;
	size_t n;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	selset_init(&w);
	assert_int_equal(selset_add_str(&w, "z:1"), 0);
	assert_int_equal(selset_add_str(&w, "a:1"), 0);
	assert_int_equal(entries_match(f.es, &w, &m, &n), -EINVAL);
	selset_clear(&w);
	fixture_fini(&f);
}

/* ---- read-only entries ---- */

static void test_replace_read_only(void **state)
{
	struct fixture f;
	struct entry_error err;
	struct kwid_entry *v[3];
	const struct kwid_entry *e;
	char *errors = NULL;
	uint64_t rev_a, rev_b;

	fixture_init(&f, false);
	assert_int_equal(fixture_start(&f), 0);
	assert_int_equal(add(&f, "{\"id\": \"s\", \"spiffe_id\": \"spiffe://example.org/s\", \"selectors\": [\"s:1\"]}", &err), 0);

	v[0] = entry_json("{\"id\": \"ra\", \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}");
	v[1] = entry_json("{\"id\": \"rb\", \"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"u:2\"]}");
	assert_int_equal(entries_replace_read_only(f.es, v, 2, &errors), 0);
	assert_null(errors);
	assert_int_equal(f.notified, 1);
	rev_a = entries_get(f.es, "ra")->revision;
	rev_b = entries_get(f.es, "rb")->revision;
	assert_true(entries_get(f.es, "ra")->read_only);
	assert_int_equal(entries_delete(f.es, "ra"), -EROFS);

	/* Same content again: nothing changes, no notification. */
	v[0] = entry_json("{\"id\": \"ra\", \"spiffe_id\": \"spiffe://example.org/a\", \"selectors\": [\"u:1\"]}");
	v[1] = entry_json("{\"id\": \"rb\", \"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"u:2\"]}");
	assert_int_equal(entries_replace_read_only(f.es, v, 2, &errors), 0);
	assert_int_equal(f.notified, 1);
	assert_int_equal(entries_get(f.es, "ra")->revision, rev_a);

	/* rb changes, ra goes away, rc conflicts with the stored entry. */
	v[0] = entry_json("{\"id\": \"rb\", \"spiffe_id\": \"spiffe://example.org/b\", \"selectors\": [\"u:3\"]}");
	v[1] = entry_json("{\"id\": \"rc\", \"spiffe_id\": \"spiffe://example.org/s\", \"selectors\": [\"s:1\"]}");
	v[1]->source = strdup("/etc/kwid/entries.d/x.json");
	v[2] = entry_json("{\"id\": \"s\", \"spiffe_id\": \"spiffe://example.org/t\", \"selectors\": [\"s:1\"]}");
	assert_int_equal(entries_replace_read_only(f.es, v, 3, &errors), 2);
	assert_non_null(errors);
	assert_non_null(strstr(errors, "/etc/kwid/entries.d/x.json: invalid selectors"));
	assert_non_null(strstr(errors, "invalid id \"s\""));
	free(errors);
	assert_int_equal(f.notified, 2);
	assert_null(entries_get(f.es, "ra"));
	e = entries_get(f.es, "rb");
	assert_non_null(e);
	assert_int_not_equal(e->revision, rev_b);
	assert_string_equal(e->selectors.v[0], "u:3");
	expect_match(f.es, L("u:1", "u:2", "u:3"), L("rb"));
	assert_int_equal(entries_count(f.es), 2);

	/* Empty directory: read-only entries gone, the stored one stays. */
	assert_int_equal(entries_replace_read_only(f.es, v, 0, &errors), 0);
	assert_int_equal(entries_count(f.es), 1);
	assert_non_null(entries_get(f.es, "s"));
	fixture_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation_rejects),
		cmocka_unit_test(test_validation_limits),
		cmocka_unit_test(test_validation_accepts),
		cmocka_unit_test(test_error_format),
		cmocka_unit_test(test_random_ids),
		cmocka_unit_test(test_cross_entry_rules),
		cmocka_unit_test(test_max_entries),
		cmocka_unit_test(test_match_subset),
		cmocka_unit_test(test_match_order),
		cmocka_unit_test(test_match_many_sharing),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_near_misses),
		cmocka_unit_test(test_unsorted_workload),
		cmocka_unit_test(test_replace_read_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
