/* test_selectors.c - selector validation and set operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "kwid/selectors.h"

static void test_validate(void **state)
{
	static const char *const good[] = {
		"unix:uid:1000", "docker:label:app:web", "k8s:pod-uid:1234-abcd", "unix:path:/usr/bin/x",
		"tpm:pcr:sha256:10:00ff", "a:b",
	};
	static const char *const bad[] = {
		"", "unix", ":x", "unix:", "Unix:uid:1", "un ix:uid:1", "unix:uid: 1", "unix:uid:1\n",
		"unix:path:/a\tb", "t\x01:x", "waytoolongtypeeeeeeeeeeeeeeeeeeeee:x",
	};
	const char *why;
	char big[KWID_SELECTOR_MAX + 2];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(selector_validate(good[i], &why), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		if (selector_validate(bad[i], &why) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(why);
	}
	memset(big, 'a', sizeof(big));
	big[0] = 'x';
	big[1] = ':';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(selector_validate(big, &why), -EINVAL);
	big[KWID_SELECTOR_MAX] = '\0';
	assert_int_equal(selector_validate(big, &why), 0);
}

static void test_set(void **state)
{
	struct kwid_selector_set s, sub;

	selset_init(&s);
	assert_int_equal(selset_add(&s, "unix", "uid:0"), 0);
	assert_int_equal(selset_add_str(&s, "docker:image_id:nginx:1"), 0);
	assert_int_equal(selset_addf(&s, "unix:gid:%d", 0), 0);
	assert_int_equal(selset_add(&s, "unix", "uid:0"), 0);
	assert_int_equal(selset_add(&s, "bad type", "x"), -EINVAL);
	selset_sort(&s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0], "docker:image_id:nginx:1");
	assert_true(selset_contains(&s, "unix:gid:0"));
	assert_false(selset_contains(&s, "unix:gid:1"));

	selset_init(&sub);
	assert_int_equal(selset_add_str(&sub, "unix:uid:0"), 0);
	assert_true(selset_is_subset(&sub, &s));
	assert_int_equal(selset_add_str(&sub, "unix:uid:1"), 0);
	assert_false(selset_is_subset(&sub, &s));
	selset_clear(&sub);
	selset_clear(&s);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
