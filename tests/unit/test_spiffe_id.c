/* test_spiffe_id.c - every SPIFFE ID and trust domain rule, valid and
 * invalid, including the exact rule each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/spiffe_id.h"
#include "kwid/util.h"

struct bad_case {
	const char *input;
	const char *rule; /* substring the reason must hold */
};

static void expect_valid_ids(const char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		if (spiffe_id_validate(ids[i], &why) != 0)
			fail_msg("'%s' refused: %s", ids[i], why);
	}
}

static void expect_invalid_ids(const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = NULL;
		if (spiffe_id_validate(cases[i].input, &why) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].input);
		assert_non_null(why);
		if (!strstr(why, cases[i].rule))
			fail_msg("'%s': reason '%s' does not name '%s'", cases[i].input, why, cases[i].rule);
	}
}

static void test_valid_ids(void **state)
{
	static const char *const ok[] = {
		"spiffe://example.org",
		"spiffe://example.org/workload",
		"spiffe://example.org/ns/prod/sa/web",
		"spiffe://a",
		"spiffe://1.2.3.4/x",			/* an IP-looking name is just characters */
		"spiffe://my_td-1.example.org/A-Z_a.z-0.9",
		"spiffe://example.org/UPPER/Case",	/* uppercase is fine in the path */
		"spiffe://example.org/...",		/* three dots is not a dot segment */
		"spiffe://example.org/.hidden",
		"spiffe://example.org/a..b",
		"spiffe://./x",				/* go-spiffe accepts these characters */
		"spiffe://-/x",
	};
	expect_valid_ids(ok, ARRAY_SIZE(ok));
}

static void test_scheme(void **state)
{
	static const struct bad_case bad[] = {
		{"", "empty"},
		{"example.org/x", "spiffe://"},
		{"SPIFFE://example.org/x", "spiffe://"},
		{"Spiffe://example.org/x", "spiffe://"},
		{"spiffe:/example.org/x", "spiffe://"},
		{"spiffe:example.org", "spiffe://"},
		{"https://example.org/x", "spiffe://"},
		{" spiffe://example.org/x", "spiffe://"},
	};
	expect_invalid_ids(bad, ARRAY_SIZE(bad));
	assert_int_equal(spiffe_id_validate(NULL, NULL), -EINVAL);
}

static void test_trust_domain_rules(void **state)
{
	static const struct bad_case bad[] = {
		{"spiffe://", "trust domain is missing"},
		{"spiffe:///path", "trust domain is missing"},
		{"spiffe://Example.org/x", "a-z 0-9 . - _"},
		{"spiffe://EXAMPLE.ORG", "a-z 0-9 . - _"},
		{"spiffe://example.org:8080/x", "port"},
		{"spiffe://example.org:/x", "port"},
		{"spiffe://user@example.org/x", "userinfo"},
		{"spiffe://user:pw@example.org/x", "port"}, /* first bad byte is ':' */
		{"spiffe://exa%6Dple.org/x", "percent-encoding"},
		{"spiffe://example.org?q=1", "query"},
		{"spiffe://example.org#frag", "fragment"},
		{"spiffe://exa mple.org/x", "a-z 0-9 . - _"},
		{"spiffe://exa+mple.org/x", "a-z 0-9 . - _"},
		{"spiffe://[::1]/x", "a-z 0-9 . - _"},
		{"spiffe://ex\xc3\xa4mple.org/x", "a-z 0-9 . - _"},
		{"spiffe://example.org\n/x", "a-z 0-9 . - _"},
	};
	expect_invalid_ids(bad, ARRAY_SIZE(bad));
}

static void test_path_rules(void **state)
{
	static const struct bad_case bad[] = {
		{"spiffe://example.org/", "end with /"},
		{"spiffe://example.org/a/", "end with /"},
		{"spiffe://example.org//a", "empty segment"},
		{"spiffe://example.org/a//b", "empty segment"},
		{"spiffe://example.org/.", ". or .."},
		{"spiffe://example.org/..", ". or .."},
		{"spiffe://example.org/a/./b", ". or .."},
		{"spiffe://example.org/a/../b", ". or .."},
		{"spiffe://example.org/a/..", ". or .."},
		{"spiffe://example.org/a%20b", "percent-encoding"},
		{"spiffe://example.org/a?x=1", "query"},
		{"spiffe://example.org/a#x", "fragment"},
		{"spiffe://example.org/a b", "a-z A-Z 0-9 . - _"},
		{"spiffe://example.org/a:b", "a-z A-Z 0-9 . - _"},
		{"spiffe://example.org/a@b", "a-z A-Z 0-9 . - _"},
		{"spiffe://example.org/caf\xc3\xa9", "a-z A-Z 0-9 . - _"},
		{"spiffe://example.org/a\\b", "a-z A-Z 0-9 . - _"},
		{"spiffe://example.org/a\tb", "a-z A-Z 0-9 . - _"},
	};
	expect_invalid_ids(bad, ARRAY_SIZE(bad));
}

/* Trust domain exactly 255 bytes is fine, 256 is not; the whole ID may be
 * 2048 bytes, not 2049. */
static void test_lengths(void **state)
{
	char id[SPIFFE_ID_MAX + 16], td[SPIFFE_TD_MAX + 2];
	const char *why;
	size_t len;

	memset(td, 'a', SPIFFE_TD_MAX);
	td[SPIFFE_TD_MAX] = '\0';
	assert_int_equal(spiffe_trust_domain_validate(td, &why), 0);
	snprintf(id, sizeof(id), "spiffe://%s/x", td);
	assert_int_equal(spiffe_id_validate(id, &why), 0);

	td[SPIFFE_TD_MAX] = 'a';
	td[SPIFFE_TD_MAX + 1] = '\0';
	assert_int_equal(spiffe_trust_domain_validate(td, &why), -EINVAL);
	assert_non_null(strstr(why, "255"));
	snprintf(id, sizeof(id), "spiffe://%s/x", td);
	assert_int_equal(spiffe_id_validate(id, &why), -EINVAL);
	assert_non_null(strstr(why, "255"));

	/* spiffe://example.org/aaaa...: exactly 2048 bytes. */
	strcpy(id, "spiffe://example.org/");
	len = strlen(id);
	memset(id + len, 'a', SPIFFE_ID_MAX - len);
	id[SPIFFE_ID_MAX] = '\0';
	assert_int_equal(strlen(id), SPIFFE_ID_MAX);
	assert_int_equal(spiffe_id_validate(id, &why), 0);
	id[SPIFFE_ID_MAX] = 'a';
	id[SPIFFE_ID_MAX + 1] = '\0';
	assert_int_equal(spiffe_id_validate(id, &why), -EINVAL);
	assert_non_null(strstr(why, "2048"));
}

static void test_trust_domain_names(void **state)
{
	static const char *const ok[] = {"example.org", "a", "my-td_1.example", "1.2.3.4", "x.y.z"};
	static const struct bad_case bad[] = {
		{"", "missing"},
		{"Example.org", "a-z 0-9 . - _"},
		{"example.org:443", "port"},
		{"u@example.org", "userinfo"},
		{"exa%41mple.org", "percent-encoding"},
		{"spiffe://example.org", "port"}, /* a name, not an ID */
		{"example.org/path", "a-z 0-9 . - _"},
		{"example org", "a-z 0-9 . - _"},
	};
	const char *why;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		assert_int_equal(spiffe_trust_domain_validate(ok[i], &why), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		if (spiffe_trust_domain_validate(bad[i].input, &why) != -EINVAL)
			fail_msg("trust domain '%s' accepted", bad[i].input);
		if (!strstr(why, bad[i].rule))
			fail_msg("'%s': reason '%s' does not name '%s'", bad[i].input, why, bad[i].rule);
	}
	assert_int_equal(spiffe_trust_domain_validate(NULL, &why), -EINVAL);
}

static void test_accessors(void **state)
{
	char td[SPIFFE_TD_MAX + 1], small[4];

	assert_int_equal(spiffe_id_trust_domain("spiffe://example.org/a/b", td, sizeof(td)), 0);
	assert_string_equal(td, "example.org");
	assert_int_equal(spiffe_id_trust_domain("spiffe://example.org", td, sizeof(td)), 0);
	assert_string_equal(td, "example.org");
	assert_int_equal(spiffe_id_trust_domain("spiffe://example.org", small, sizeof(small)), -ENAMETOOLONG);
	assert_int_equal(spiffe_id_trust_domain("spiffe://Example.org/a", td, sizeof(td)), -EINVAL);

	assert_string_equal(spiffe_id_path("spiffe://example.org/a/b"), "/a/b");
	assert_string_equal(spiffe_id_path("spiffe://example.org"), "");

	assert_true(spiffe_id_is_workload_in("spiffe://example.org/web", "example.org"));
	assert_false(spiffe_id_is_workload_in("spiffe://example.org", "example.org")); /* no path */
	assert_false(spiffe_id_is_workload_in("spiffe://example.org/web", "example.com"));
	assert_false(spiffe_id_is_workload_in("spiffe://example.org.evil/web", "example.org"));
	assert_false(spiffe_id_is_workload_in("spiffe://example.org/web/", "example.org"));
	assert_false(spiffe_id_is_workload_in("spiffe://example.org/web", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_ids),	   cmocka_unit_test(test_scheme),
		cmocka_unit_test(test_trust_domain_rules), cmocka_unit_test(test_path_rules),
		cmocka_unit_test(test_lengths),		   cmocka_unit_test(test_trust_domain_names),
		cmocka_unit_test(test_accessors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
